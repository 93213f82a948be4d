"""The output formats, what each input format is written as by default, and the writer for a pair."""

from __future__ import annotations

from pathlib import Path

from tagger.errors import ConfigError
from tagger.outputs.conll import ConllWriter, FaithfulConllWriter
from tagger.outputs.conllu import CONLLU_FIELDS, ConlluWriter, FaithfulConlluWriter
from tagger.outputs.docbin import DocBinWriter
from tagger.outputs.html import HtmlWriter
from tagger.outputs.jsonl import FaithfulJsonlWriter, JsonlWriter
from tagger.outputs.tagged import WriterOptions
from tagger.outputs.writer import Writer
from tagger.schemes import SCHEMES

OUTPUT_FORMATS = ("conll", "conllu", "jsonl", "spacy", "html")
INPUT_FORMATS = ("conll", "conllu", "jsonl", "spacy", "text")
TASKS = ("spans", "labels")
DEFAULT_OUTPUT = {"conll": "conll", "conllu": "conllu", "jsonl": "jsonl", "spacy": "spacy", "text": "conll"}
SUFFIXES = {"conll": ".conll", "conllu": ".conllu", "jsonl": ".jsonl", "spacy": ".spacy", "html": ".html"}
# Written faithfully (the input's own lines kept) when the input is in the same format
FAITHFUL = {"conll": FaithfulConllWriter, "conllu": FaithfulConlluWriter, "jsonl": FaithfulJsonlWriter}


def default_output_format(input_format: str) -> str:
    """The input's own format (so the output can be faithful to it); CoNLL columns for raw text."""
    _check("input format", input_format, INPUT_FORMATS)
    return DEFAULT_OUTPUT[input_format]


def output_suffix(output_format: str) -> str:
    _check("output format", output_format, OUTPUT_FORMATS)
    return SUFFIXES[output_format]


def make_writer(output_format: str, input_path: Path | None, options: WriterOptions) -> Writer:
    """The writer of ``output_format`` for one input file; faithful to the input's lines when the input is
    in the same text format and can be read again (``input_path`` given)."""
    check_options(output_format, options)
    if output_format in FAITHFUL and options.input_format == output_format and input_path is not None:
        return FAITHFUL[output_format](Path(input_path), options)
    if output_format == "conll":
        return ConllWriter(options)
    if output_format == "conllu":
        return ConlluWriter(options)
    if output_format == "jsonl":
        return JsonlWriter(options)
    if output_format == "spacy":
        return DocBinWriter(options)
    return HtmlWriter(Path(input_path) if input_path is not None else None, options)


def check_options(output_format: str, options: WriterOptions) -> None:
    _check("output format", output_format, OUTPUT_FORMATS)
    _check("input format", options.input_format, INPUT_FORMATS)
    _check("task", options.task, TASKS)
    _check("CoNLL-U field", options.conllu_field, CONLLU_FIELDS)
    if options.task == "spans":
        _check("scheme", options.scheme, SCHEMES)


def _check(what: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ConfigError(f"{what} {value!r}: expected one of {', '.join(valid)}")
