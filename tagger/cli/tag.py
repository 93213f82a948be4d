"""`tagger tag`: tag raw text or pre-tokenised files, writing CoNLL columns or JSON lines."""

from __future__ import annotations

import io
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, TextIO

from tagger.annotate import Tagger
from tagger.config import CorpusConfig
from tagger.batching import MAX_CONTEXT_SENTENCES
from tagger.corpus import Sentence, detect_format, document_ids, opens_document, read_sentences
from tagger.errors import ConfigError, CorpusFormatError
from tagger.outputs import format_conll, format_jsonl
from tagger.schemes import SCHEMES
from tagger.atomic import open_atomic
from tagger.tokenize import read_text_blocks

INPUT_FORMATS = ("auto", "text", "conll", "conllu", "jsonl", "spacy")
OUTPUT_FORMATS = ("conll", "jsonl")
CHUNK_SENTENCES = 2000  # sentences tagged together; bounds memory on large inputs
CHUNK_BLOCKS = 200  # raw-text paragraphs tokenised and tagged together


@dataclass(frozen=True)
class TagOptions:
    output_format: str = "conll"
    input_format: str = "auto"
    encoding: str = "utf-8"
    lang: str = "en"
    spacy_model: str | None = None
    scheme: str = "IOB2"
    batch_size: int = 256

    def check(self) -> None:
        for option, value, valid in (("--input-format", self.input_format, INPUT_FORMATS),
                                     ("--format", self.output_format, OUTPUT_FORMATS), ("--scheme", self.scheme, SCHEMES)):
            if value not in valid:
                raise ConfigError(f"{option} {value!r}: expected one of {', '.join(valid)}")


def run_tag(model_dir: Path, inputs: list[str], output: str, options: TagOptions, device: str, overwrite: bool) -> None:
    options.check()
    check_output(output, inputs, overwrite)
    tagger = Tagger.load(model_dir, device=device)
    if output == "-":
        write_all(tagger, inputs, sys.stdout, options)
        return
    with open_atomic(Path(output), "w", encoding="utf-8", newline="\n") as stream:
        write_all(tagger, inputs, stream, options)


def check_output(output: str, inputs: list[str], overwrite: bool) -> None:
    if output == "-":
        return
    target = Path(output).resolve()
    if any(name != "-" and Path(name).resolve() == target for name in inputs):
        raise ConfigError(f"--output {output} is also an input; refusing to overwrite an input file")
    if target.exists() and not overwrite:
        raise ConfigError(f"--output {output} exists; pass --overwrite to replace it")


def write_all(tagger: Tagger, inputs: list[str], stream: TextIO, options: TagOptions) -> None:
    for name in inputs:
        if name == "-":
            with tempfile.TemporaryDirectory(prefix="tagger-stdin-") as folder:
                # The readers work on paths (format sniffing, line numbers); stdin goes through a file.
                path = Path(folder) / "stdin"
                path.write_bytes(sys.stdin.buffer.read())
                write_file(tagger, path, "text" if options.input_format == "auto" else options.input_format,
                           stream, options)
            continue
        if not Path(name).is_file():
            raise CorpusFormatError(name, 0, "no such file", "an existing text, CoNLL, CoNLL-U, JSONL or .spacy file")
        chosen = detect_format(Path(name)) if options.input_format == "auto" else options.input_format
        write_file(tagger, Path(name), chosen, stream, options)


def write_file(tagger: Tagger, path: Path, file_format: str, stream: TextIO, options: TagOptions) -> None:
    if file_format == "text":
        chunks = tag_text_file(tagger, path, options)
    else:
        chunks = tag_tokenised_file(tagger, path, file_format, options)
    for chunk in chunks:
        stream.write(chunk)
    stream.flush()


def chunked(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def document_chunks(sentences: Iterable[Sentence], size: int) -> Iterator[list[Sentence]]:
    """Chunks of at least ``size`` sentences that end where a document ends, so document context stays whole;
    a document that runs on is cut after ``size`` + MAX_CONTEXT_SENTENCES sentences."""
    chunk: list[Sentence] = []
    for sentence in sentences:
        if len(chunk) >= size and (opens_document(sentence) or len(chunk) >= size + MAX_CONTEXT_SENTENCES):
            yield chunk
            chunk = []
        chunk.append(sentence)
    if chunk:
        yield chunk


def tag_tokenised_file(tagger: Tagger, path: Path, file_format: str, options: TagOptions) -> Iterator[str]:
    config = CorpusConfig(format=file_format, encoding=options.encoding)
    formatter = format_conll if options.output_format == "conll" else format_jsonl
    for chunk in document_chunks(read_sentences(path, config, tags_required=False), CHUNK_SENTENCES):
        out = io.StringIO()
        tagged = tagger.tag([s.words for s in chunk], scores=True, scheme=options.scheme,
                            batch_size=options.batch_size, documents=document_ids(chunk))
        for sentence, pairs in zip(chunk, tagged):
            out.write(formatter(sentence.words, [t for t, _ in pairs], [p for _, p in pairs]))
        yield out.getvalue()


def tag_text_file(tagger: Tagger, path: Path, options: TagOptions) -> Iterator[str]:
    for blocks in chunked(read_text_blocks(path, options.encoding), CHUNK_BLOCKS):
        out = io.StringIO()
        documents = tagger.tag_texts([text for _, text in blocks], options.lang, options.spacy_model,
                                     options.scheme, options.batch_size)
        for (offset, _), document in zip(blocks, documents):
            for sentence in document:
                if options.output_format == "conll":
                    out.write(format_conll(sentence.words, sentence.tags, sentence.scores))
                    continue
                entities = [dict(e, start=e["start"] + offset, end=e["end"] + offset) for e in sentence.entities()]
                out.write(format_jsonl(sentence.words, sentence.tags, sentence.scores, entities))
        yield out.getvalue()
