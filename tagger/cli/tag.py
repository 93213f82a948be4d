"""`tagger tag`: tag raw text or pre-tokenised files, writing CoNLL columns or JSON lines."""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator, TextIO

from tagger.annotate import Tagger
from tagger.config import CorpusConfig
from tagger.corpus import detect_format, read_sentences
from tagger.errors import ConfigError, CorpusFormatError
from tagger.outputs import format_conll, format_jsonl
from tagger.tokenize import read_text_blocks

INPUT_FORMATS = ("auto", "text", "conll", "conllu", "jsonl")
OUTPUT_FORMATS = ("conll", "jsonl")
CHUNK_SENTENCES = 2000  # sentences tagged together; bounds memory on large inputs
CHUNK_BLOCKS = 200  # raw-text paragraphs tokenised and tagged together


def run_tag(model_dir: Path, inputs: list[str], output: str, output_format: str, input_format: str,
            encoding: str, lang: str, device: str, batch_size: int, overwrite: bool) -> None:
    if input_format not in INPUT_FORMATS:
        raise ConfigError(f"--input-format {input_format!r}: expected one of {', '.join(INPUT_FORMATS)}")
    if output_format not in OUTPUT_FORMATS:
        raise ConfigError(f"--format {output_format!r}: expected one of {', '.join(OUTPUT_FORMATS)}")
    check_output(output, inputs, overwrite)
    tagger = Tagger.load(model_dir, device=device)
    if output == "-":
        write_all(tagger, inputs, sys.stdout, output_format, input_format, encoding, lang, batch_size)
        return
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            write_all(tagger, inputs, stream, output_format, input_format, encoding, lang, batch_size)
        os.replace(temp_name, target)
    finally:
        Path(temp_name).unlink(missing_ok=True)


def check_output(output: str, inputs: list[str], overwrite: bool) -> None:
    if output == "-":
        return
    target = Path(output).resolve()
    if any(name != "-" and Path(name).resolve() == target for name in inputs):
        raise ConfigError(f"--output {output} is also an input; refusing to overwrite an input file")
    if target.exists() and not overwrite:
        raise ConfigError(f"--output {output} exists; pass --overwrite to replace it")


def write_all(tagger: Tagger, inputs: list[str], stream: TextIO, output_format: str, input_format: str,
              encoding: str, lang: str, batch_size: int) -> None:
    for name in inputs:
        if name == "-":
            with tempfile.TemporaryDirectory(prefix="tagger-stdin-") as folder:
                # The readers work on paths (format sniffing, line numbers); stdin goes through a file.
                path = Path(folder) / "stdin"
                path.write_bytes(sys.stdin.buffer.read())
                chosen = "text" if input_format == "auto" else input_format
                write_file(tagger, path, stream, output_format, chosen, encoding, lang, batch_size)
            continue
        if not Path(name).is_file():
            raise CorpusFormatError(name, 0, "no such file", "an existing text, CoNLL, CoNLL-U or JSONL file")
        chosen = detect_format(Path(name)) if input_format == "auto" else input_format
        write_file(tagger, Path(name), stream, output_format, chosen, encoding, lang, batch_size)


def write_file(tagger: Tagger, path: Path, stream: TextIO, output_format: str, file_format: str,
               encoding: str, lang: str, batch_size: int) -> None:
    if file_format == "text":
        chunks = tag_text_file(tagger, path, encoding, lang, output_format, batch_size)
    else:
        chunks = tag_tokenised_file(tagger, path, file_format, encoding, output_format, batch_size)
    for chunk in chunks:
        stream.write(chunk)
    stream.flush()


def chunked(items: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def tag_tokenised_file(tagger: Tagger, path: Path, file_format: str, encoding: str, output_format: str,
                       batch_size: int) -> Iterator[str]:
    config = CorpusConfig(format=file_format, encoding=encoding)
    sentences = (s.words for s in read_sentences(path, config, tags_required=False))
    for chunk in chunked(sentences, CHUNK_SENTENCES):
        yield format_chunk(tagger, chunk, output_format, batch_size)


def format_chunk(tagger: Tagger, sentences: list[list[str]], output_format: str, batch_size: int) -> str:
    out = io.StringIO()
    formatter = format_conll if output_format == "conll" else format_jsonl
    for words, tagged in zip(sentences, tagger.tag(sentences, scores=True, batch_size=batch_size)):
        tags, scores = [t for t, _ in tagged], [p for _, p in tagged]
        out.write(formatter(words, tags, scores))
    return out.getvalue()


def tag_text_file(tagger: Tagger, path: Path, encoding: str, lang: str, output_format: str,
                  batch_size: int) -> Iterator[str]:
    for blocks in chunked(read_text_blocks(path, encoding), CHUNK_BLOCKS):
        yield format_text_blocks(tagger, blocks, lang, output_format, batch_size)


def format_text_blocks(tagger: Tagger, blocks: list[tuple[int, str]], lang: str, output_format: str,
                       batch_size: int) -> str:
    out = io.StringIO()
    documents = tagger.tag_texts([text for _, text in blocks], lang=lang, batch_size=batch_size)
    for (offset, _), document in zip(blocks, documents):
        for sentence in document:
            if output_format == "conll":
                out.write(format_conll(sentence.words, sentence.tags, sentence.scores))
                continue
            entities = [dict(e, start=e["start"] + offset, end=e["end"] + offset) for e in sentence.entities()]
            out.write(format_jsonl(sentence.words, sentence.tags, sentence.scores, entities))
    return out.getvalue()
