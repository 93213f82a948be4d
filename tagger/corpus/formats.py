"""The corpus formats, in one table: each format's name, reader, writer, file extensions and flags. Format
detection, ``read_corpus``, ``tagger convert``, the batch engine's inputs and the command line's choices and
help are all read from it.

Label Studio's JSON export, doccano's JSONL and spaCy/Prodigy JSONL hold character spans over texts, aligned to
words as ``corpus.spans`` says. They share extensions with JSON lines (``.json``, ``.jsonl``): among the formats with
a ``recognise`` function, a file's first JSON value decides (``json_format``).

Raw text (``text``) is not a corpus format (it has no tags and no reader here): it is what ``tagger tag``
also reads, split into sentences by spaCy (``tokenize``), and the only other name an input format may have.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

from tagger.atomic import open_atomic
from tagger.corpus.conll import read_conll, write_conll
from tagger.corpus.conllu import read_conllu, write_conllu
from tagger.corpus.docbin import read_docbin, write_docbin
from tagger.corpus.doccano import is_doccano, read_doccano, write_doccano
from tagger.corpus.jsonl import read_jsonl, write_jsonl
from tagger.corpus.labelstudio import is_labelstudio, read_labelstudio, write_labelstudio
from tagger.corpus.prodigy import is_prodigy, read_prodigy, write_prodigy
from tagger.corpus.saved_dataset import read_saved_dataset, write_saved_dataset
from tagger.corpus.sentence import Sentence
from tagger.errors import ConfigError

Reader = Callable[..., Iterator[Sentence]]
# (sentences, target, attr): attr is where a DocBin keeps the tags (ents, tag, pos or auto); text formats ignore it
FileWriter = Callable[[list[Sentence], Path, str], None]
RAW_TEXT = "text"  # raw text: an input of tagger tag, never a corpus
RAW_TEXT_SUFFIX = ".txt"


@dataclass(frozen=True)
class CorpusFormat:
    name: str
    description: str  # for help texts: what the name stands for
    read: Reader  # (path, config, *, tags_required, repairs) -> sentences
    write: FileWriter
    suffixes: tuple[str, ...] = ()  # extensions (``.gz`` stripped first) that name the format
    text: bool = True  # a text file: UTF-8 when written, gzip-compressed when named .gz
    spans_as_tags: bool = True  # span tags are written as tags in a scheme (a DocBin holds doc.ents instead)
    folder: bool = False  # a folder, not a file: never an input of tagger tag
    # A JSON format: whether a file's first JSON value (a record, or an array of them) is one of this format's
    recognise: Callable[[Any], bool] | None = None


def text_file_writer(write_text: Callable[[Iterable[Sentence], TextIO], None]) -> FileWriter:
    """A text format's writer as a file writer: UTF-8, gzip-compressed when the name ends in .gz, and the target
    replaced only once complete."""

    def write(sentences: list[Sentence], target: Path, attr: str = "auto") -> None:
        with open_atomic(target, "wb") as raw, text_stream(raw, target.name.endswith(".gz")) as stream:
            write_text(sentences, stream)

    return write


@contextmanager
def text_stream(raw: IO[bytes], compress: bool) -> Iterator[TextIO]:
    binary = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if compress else raw
    stream = io.TextIOWrapper(binary, encoding="utf-8", newline="\n")
    yield stream
    stream.flush()
    stream.detach()  # leave the file open: open_atomic syncs it before the rename
    if compress:
        binary.close()  # writes the gzip trailer; a GzipFile given a file object does not close it


CORPUS_FORMATS: dict[str, CorpusFormat] = {
    f.name: f
    for f in (
        CorpusFormat(
            "conll",
            "CoNLL columns",
            read_conll,
            text_file_writer(write_conll),
            (".conll", ".conll03", ".iob", ".bio", ".tsv"),
        ),
        CorpusFormat("conllu", "CoNLL-U", read_conllu, text_file_writer(write_conllu), (".conllu",)),
        CorpusFormat(
            "jsonl",
            "JSON lines",
            read_jsonl,
            text_file_writer(write_jsonl),
            (".jsonl", ".json", ".ndjson"),
            recognise=lambda first: isinstance(first, dict) and ("words" in first or is_word_list(first.get("tokens"))),
        ),
        # binary: known by its extension only, never sniffed
        CorpusFormat(
            "spacy",
            "spaCy DocBin",
            read_docbin,
            lambda s, target, attr: write_docbin(s, target, attr),
            (".spacy",),
            text=False,
            spans_as_tags=False,
        ),
        CorpusFormat(
            "hf",
            "a Hugging Face dataset saved to disk",
            read_saved_dataset,
            lambda s, target, attr: write_saved_dataset(s, target),
            text=False,
            folder=True,
        ),
        CorpusFormat(
            "labelstudio",
            "Label Studio's JSON export",
            read_labelstudio,
            text_file_writer(write_labelstudio),
            spans_as_tags=False,
            recognise=is_labelstudio,
        ),
        CorpusFormat(
            "doccano",
            "doccano's JSONL",
            read_doccano,
            text_file_writer(write_doccano),
            spans_as_tags=False,
            recognise=is_doccano,
        ),
        CorpusFormat(
            "prodigy",
            "spaCy/Prodigy JSONL of spans",
            read_prodigy,
            text_file_writer(write_prodigy),
            spans_as_tags=False,
            recognise=is_prodigy,
        ),
    )
}
SUFFIX_FORMATS = {suffix: f.name for f in CORPUS_FORMATS.values() for suffix in f.suffixes}
# What tagger tag reads, name -> description: raw text, and every corpus format held in a file
INPUT_FORMATS = {RAW_TEXT: "raw text", **{f.name: f.description for f in CORPUS_FORMATS.values() if not f.folder}}


# An array of objects, or an empty one: Label Studio's export (a CoNLL file's first word may be "[")
JSON_ARRAY = re.compile(r"\[\s*(\{|\]|$)")


def is_word_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def json_format(sample: str) -> str | None:
    """The JSON format (one with a ``recognise`` function) that recognises the first JSON value of ``sample``,
    the first characters of a file; an array cut short by the sample's end is taken as an array."""
    head = sample.lstrip()
    try:
        first: Any = json.JSONDecoder().raw_decode(head)[0]
    except (ValueError, RecursionError):
        first = [] if JSON_ARRAY.match(head) else None
    return next((f.name for f in CORPUS_FORMATS.values() if f.recognise and f.recognise(first)), None)


def corpus_format(name: str) -> CorpusFormat:
    if name not in CORPUS_FORMATS:
        raise ConfigError(f"unknown corpus format '{name}' (valid: auto, {', '.join(CORPUS_FORMATS)})")
    return CORPUS_FORMATS[name]


def suffix_format(path: str | Path) -> str | None:
    """The corpus format named by the extension (``.gz`` stripped first), or None."""
    return SUFFIX_FORMATS.get(suffix(path))


def suffix(path: str | Path) -> str:
    name = str(path)
    return Path(name[:-3] if name.endswith(".gz") else name).suffix.lower()
