"""The output formats, in one table: each format's name, suffix, writer, faithful writer and flags. What each
input format is written as by default, ``make_writer`` and the command line's choices are read from it."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from tagger.corpus.formats import INPUT_FORMATS
from tagger.errors import ConfigError
from tagger.outputs.conll import ConllWriter, FaithfulConllWriter
from tagger.outputs.conllu import CONLLU_FIELDS, ConlluWriter, FaithfulConlluWriter
from tagger.outputs.docbin import DocBinWriter
from tagger.outputs.doccano import DoccanoWriter
from tagger.outputs.html import HtmlWriter
from tagger.outputs.jsonl import FaithfulJsonlWriter, JsonlWriter
from tagger.outputs.labelstudio import LabelStudioWriter
from tagger.outputs.tagged import WriterOptions
from tagger.outputs.writer import Writer
from tagger.schemes import SCHEMES, TASKS


@dataclass(frozen=True)
class OutputFormat:
    name: str
    description: str  # for help texts
    suffix: str  # of an output file
    writer: Callable[[Path | None, WriterOptions], Writer]  # (the input file, when it can be read again; options)
    # written faithfully (the input's own lines kept) when the input is in the same format and can be read again
    faithful: Callable[[Path, WriterOptions], Writer] | None = None
    whole_file: bool = False  # one input per output file: it cannot be concatenated into a stream
    scores: bool = False  # it records probabilities: a run computes them whatever `probabilities` says


FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat(
            "conll", "CoNLL columns", ".conll", lambda path, options: ConllWriter(options), FaithfulConllWriter
        ),
        OutputFormat("conllu", "CoNLL-U", ".conllu", lambda path, options: ConlluWriter(options), FaithfulConlluWriter),
        OutputFormat("jsonl", "JSON lines", ".jsonl", lambda path, options: JsonlWriter(options), FaithfulJsonlWriter),
        OutputFormat("spacy", "spaCy DocBin", ".spacy", lambda path, options: DocBinWriter(options), whole_file=True),
        OutputFormat("html", "a page to read, by displaCy", ".html", HtmlWriter, whole_file=True),
        OutputFormat(
            "labelstudio",
            "Label Studio tasks with predictions, to import",
            ".json",
            lambda path, options: LabelStudioWriter(options),
            whole_file=True,
            scores=True,
        ),
        OutputFormat(
            "doccano",
            "doccano JSONL of predicted spans, to import",
            ".jsonl",
            lambda path, options: DoccanoWriter(options),
        ),
    )
}
OUTPUT_FORMATS = tuple(FORMATS)
# What ``tagger select`` writes its chosen sentences as (``tagger.selection``), the first by default: the formats of
# a sentence per record or per block, which carry an item's rank and uncertainty beside the predictions
SELECTION_FORMATS = ("jsonl", "labelstudio", "doccano", "conll")
RAW_TEXT_OUTPUT = "conll"  # raw text has no format of its own to be written in


def default_output_format(input_format: str) -> str:
    """The input's own format (so the output can be faithful to it); CoNLL columns for raw text."""
    _check("input format", input_format, INPUT_FORMATS)
    return input_format if input_format in FORMATS else RAW_TEXT_OUTPUT


def output_suffix(output_format: str) -> str:
    _check("output format", output_format, OUTPUT_FORMATS)
    return FORMATS[output_format].suffix


def make_writer(output_format: str, input_path: Path | None, options: WriterOptions) -> Writer:
    """The writer of ``output_format`` for one input file; faithful to the input's lines when the input is
    in the same text format and can be read again (``input_path`` given)."""
    check_options(output_format, options)
    chosen = FORMATS[output_format]
    path = Path(input_path) if input_path is not None else None
    if chosen.faithful is not None and options.input_format == output_format and path is not None:
        return chosen.faithful(path, options)
    return chosen.writer(path, options)


def check_options(output_format: str, options: WriterOptions) -> None:
    _check("output format", output_format, OUTPUT_FORMATS)
    _check("input format", options.input_format, INPUT_FORMATS)
    _check("task", options.task, TASKS)
    _check("CoNLL-U field", options.conllu_field, CONLLU_FIELDS)
    if options.task == "spans":
        _check("scheme", options.scheme, SCHEMES)


def _check(what: str, value: str, valid: Collection[str]) -> None:
    if value not in valid:
        raise ConfigError(f"{what} {value!r}: expected one of {', '.join(valid)}")
