"""`tagger convert`: rewrite a corpus in another format (CoNLL, CoNLL-U, JSONL, spaCy DocBin) or span scheme."""

from __future__ import annotations

import dataclasses
import gzip
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from rich.console import Console

from tagger.config import Config, CorpusConfig, overrides_to_dict
from tagger.corpus import Sentence, read_corpus, write_conll, write_conllu, write_docbin, write_jsonl
from tagger.corpus.docbin import ATTRIBUTES
from tagger.corpus.reading import suffix_format
from tagger.corpus.saved_dataset import write_saved_dataset
from tagger.errors import ConfigError
from tagger.schemes import SCHEMES, convert_tags
from tagger.atomic import open_atomic

TEXT_WRITERS = {"conll": write_conll, "conllu": write_conllu, "jsonl": write_jsonl}
FORMATS = (*TEXT_WRITERS, "spacy", "hf")


@dataclass(frozen=True)
class ConvertOptions:
    source_format: str = "auto"
    target_format: str = "auto"
    attr: str = "auto"  # where .spacy output keeps the tags
    scheme: str = "IOB2"  # scheme of span tags in text output
    overwrite: bool = False

    def check(self) -> None:
        for option, value, valid in (("--from", self.source_format, ("auto", *FORMATS)),
                                     ("--to", self.target_format, ("auto", *FORMATS)),
                                     ("--attr", self.attr, ATTRIBUTES), ("--scheme", self.scheme, SCHEMES)):
            if value not in valid:
                raise ConfigError(f"{option} {value!r}: expected one of {', '.join(valid)}")


def run_convert(console: Console, source: Path, target: Path, options: ConvertOptions, overrides: list[str]) -> None:
    options.check()
    check_target(source, target, options.overwrite)
    target_format = choose_target_format(target, options.target_format)
    sentences, report = read_corpus(source, reading_config(options.source_format, overrides))
    if target_format == "spacy":
        write_docbin(sentences, target, options.attr)
    elif target_format == "hf":
        write_saved_dataset(with_scheme(sentences, report.scheme, options.scheme), target)
    else:
        write_text(with_scheme(sentences, report.scheme, options.scheme), target, target_format)
    console.print(f"wrote {target}: {report.sentences:,} sentences, {report.documents:,} documents, "
                  f"{report.words:,} words ({report.format} → {target_format})", highlight=False)


def with_scheme(sentences: list[Sentence], scheme_read: str, scheme: str) -> list[Sentence]:
    """Span tags (which read_corpus gives in IOB2) in the scheme asked for; other tags as they are."""
    if scheme_read == "none":
        return sentences
    return [dataclasses.replace(s, tags=convert_tags(s.tags, "IOB2", scheme)) for s in sentences]


def check_target(source: Path, target: Path, overwrite: bool) -> None:
    if target.resolve() == source.resolve():
        raise ConfigError(f"OUTPUT {target} is the input; refusing to overwrite an input file")
    if target.exists() and not overwrite:
        raise ConfigError(f"OUTPUT {target} exists; pass --overwrite to replace it")


def choose_target_format(target: Path, requested: str) -> str:
    chosen = suffix_format(target) if requested == "auto" else requested
    if chosen is None:
        raise ConfigError(f"cannot tell the format of OUTPUT {target} from its extension; "
                          f"pass --to with one of {', '.join(FORMATS)}")
    if chosen == "spacy" and target.name.endswith(".gz"):
        raise ConfigError(f"OUTPUT {target}: a DocBin is compressed already; name it .spacy without .gz")
    return chosen


def reading_config(source_format: str, overrides: list[str]) -> CorpusConfig:
    """--from as corpus.format, with the user's corpus.* overrides on top."""
    settings = overrides_to_dict([f"corpus.format={source_format}", *overrides])
    other = sorted(set(settings) - {"corpus"})
    if other:
        raise ConfigError(f"--set {other[0]}.*: convert only reads data; expected a corpus.* setting")
    return Config.from_dict(settings, "--set").corpus


def write_text(sentences: list[Sentence], target: Path, target_format: str) -> None:
    """UTF-8 text, gzip-compressed when OUTPUT ends in .gz, replacing OUTPUT only once complete."""
    with open_atomic(target, "wb") as raw, text_stream(raw, target.name.endswith(".gz")) as stream:
        TEXT_WRITERS[target_format](sentences, stream)


@contextmanager
def text_stream(raw: BinaryIO, compress: bool) -> Iterator[TextIO]:
    binary = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if compress else raw
    stream = io.TextIOWrapper(binary, encoding="utf-8", newline="\n")
    yield stream
    stream.flush()
    stream.detach()  # leave the file open: open_atomic syncs it before the rename
    if compress:
        binary.close()  # writes the gzip trailer; a GzipFile given a file object does not close it
