"""Library messages as the command line says them: a setting the library names (`encoding=latin-1`, see
``tagger.errors.setting``) becomes the option that sets it (``--encoding latin-1``)."""

from __future__ import annotations

import re

# Python and configuration names -> the option of the command line that sets them
OPTIONS = {
    "encoding": "--encoding",
    "corpus.encoding": "--encoding",
    "corpus.tag_column": "--tag-column",
    "device": "--device",
    "quantize": "--quantize",
    "overwrite": "--overwrite",
    "resume": "--resume",
    "keep": "--keep",
    "out_dir": "--out",
    "output": "--output",
    "output_format": "--output-format",
    "input_format": "--input-format",
    "scheme": "--scheme",
    "conllu_field": "--conllu-field",
    "engine": "--engine",
    "workers": "--workers",
    "batch_size": "--batch-size",
    "spacy_model": "--spacy-model",
    "lang": "--lang",
    "seeds": "--seeds",
    "report_dir": "--report",
    "predictions_path": "--predictions",
    "examples": "--examples",
    "source_format": "--from",
    "target_format": "--to",
    "attr": "--attr",
    "target": "OUTPUT",
    "source": "INPUT",
    "word_column": "--word-column",
    "tag_column_name": "--tag-column-name",
    "inputs": "INPUTS",
    "train": "--train",
    "dev": "--dev",
    "test": "--test",
    "dataset": "--dataset",
    "train.epochs": "--epochs",
    "train.seed": "--seed",
    "train.device": "--device",
    "cache": "--cache",
    "count": "-n",
    "strategy": "--strategy",
    "aggregate": "--aggregate",
    "by": "--by",
    "max_similarity": "--max-similarity",
}
MENTION = re.compile(r"`([A-Za-z_][\w.]*)(?:=([^`]*))?`")


def command_line_message(message: str) -> str:
    """``message`` with each setting it names written as the option that sets it; a configuration key without
    an option of its own as ``--set section.key=value``."""
    return MENTION.sub(as_option, message)


def as_option(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    option = OPTIONS.get(name)
    if option is None and "." in name:  # a configuration key: --set section.key=value
        return f"--set {name}" + (f"={value}" if value is not None else "")
    if option is None:
        return match.group(0)  # not a setting of the command line: as the library wrote it
    if value is None or (value == "True" and option.startswith("--")):
        return option
    return f"{option} {value}"
