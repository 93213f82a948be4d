"""What the command line does, done from Python without it: conversion, tagging into one stream, batch option
checks, and the registries the command line's choices come from."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tagger.batch import BatchOptions, annotate, tag_to_stream
from tagger.corpus import CORPUS_FORMATS, INPUT_FORMATS, ConvertOptions, convert_corpus, read_corpus
from tagger.errors import ConfigError
from tagger.outputs import OUTPUT_FORMATS

ROOT = Path(__file__).resolve().parent.parent
CONLL03 = ROOT / "tests" / "fixtures" / "conll2003_style.conll"


def test_convert_tag_to_stream_and_option_checks_need_no_cli_module(trained_model, ner_files, tmp_path):
    """Every step through the library, in a fresh process that never imports a tagger.cli module."""
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from tagger.batch import BatchOptions, tag_to_stream
        from tagger.corpus import ConvertOptions, convert_corpus, read_corpus
        from tagger.errors import ConfigError

        done = convert_corpus({str(CONLL03)!r}, {str(tmp_path / "ner.jsonl")!r}, ConvertOptions(scheme="BIOES"))
        assert done.target_format == "jsonl" and done.report.sentences == len(read_corpus(done.target)[0])
        tag_to_stream({str(trained_model)!r}, [{str(ner_files[1])!r}], {str(tmp_path / "tagged.conll")!r},
                      BatchOptions(device="cpu", workers=1))
        try:
            BatchOptions(engine="foo")
        except ConfigError as error:
            assert "engine" in str(error)
        else:
            raise AssertionError("engine='foo' was accepted")
        print(sorted(name for name in sys.modules if name.startswith("tagger.cli")))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    rows = [line.split() for line in (tmp_path / "tagged.conll").read_text(encoding="utf-8").splitlines() if line]
    assert rows[:2] == [["John", "B-PER", "B-PER"], ["Smith", "I-PER", "I-PER"]]  # the input's lines, tag appended


def test_convert_corpus_writes_the_scheme_and_refuses_bad_options(tmp_path):
    done = convert_corpus(CONLL03, tmp_path / "ner.conll.gz", ConvertOptions(scheme="BIOES"))
    sentences, report = read_corpus(done.target)
    assert done.target_format == "conll" and report.scheme == "BIOES" and report.sentences == done.report.sentences
    for bad in ({"target_format": "xml"}, {"attr": "deps"}, {"scheme": "IOB3"}):
        with pytest.raises(ConfigError, match="expected one of"):
            ConvertOptions(**bad)
    with pytest.raises(ConfigError, match="`overwrite=True`"):
        convert_corpus(CONLL03, done.target)


@pytest.mark.parametrize(
    "bad, setting",
    [
        ({"engine": "foo"}, "engine"),
        ({"input_format": "pdf"}, "input_format"),
        ({"output_format": "xml"}, "output_format"),
        ({"quantize": "fp16"}, "quantize"),
        ({"conllu_field": "feats"}, "conllu_field"),
        ({"workers": -1}, "workers"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_batch_options_refuse_a_bad_value_when_made(bad, setting):
    with pytest.raises(ConfigError, match=f"`{setting}"):
        BatchOptions(**bad)


def test_annotate_refuses_what_needs_an_output_folder(trained_model, ner_files, tmp_path):
    with pytest.raises(ConfigError, match="`engine=ray` writes an output folder"):
        annotate(trained_model, [str(ner_files[1])], options=BatchOptions(engine="ray"))
    with pytest.raises(ConfigError, match="exclude each other"):
        annotate(trained_model, [str(ner_files[1])], tmp_path / "out", tmp_path / "one.conll")
    with pytest.raises(ConfigError, match="hold one input each"):
        tag_to_stream(
            trained_model,
            [str(ner_files[0]), str(ner_files[1])],
            tmp_path / "two.html",
            BatchOptions(output_format="html", device="cpu"),
        )


def test_the_format_tables_are_the_only_lists_of_formats():
    annotation_tools = ["labelstudio", "doccano", "prodigy"]
    assert list(CORPUS_FORMATS) == ["conll", "conllu", "jsonl", "spacy", "hf", *annotation_tools]
    assert list(INPUT_FORMATS) == ["text", "conll", "conllu", "jsonl", "spacy", *annotation_tools]
    assert list(OUTPUT_FORMATS) == ["conll", "conllu", "jsonl", "spacy", "html", "labelstudio", "doccano"]
    for path in (ROOT / "tagger" / "cli").glob("*.py"):  # the command line's choices and help come from the tables
        source = path.read_text(encoding="utf-8")
        assert not [name for name in (*CORPUS_FORMATS, *OUTPUT_FORMATS) if f'"{name}"' in source], path
    from typer.testing import CliRunner

    from tagger.cli import app

    for command, names in (
        (["tag", "--help"], [*INPUT_FORMATS, *OUTPUT_FORMATS]),
        (["convert", "--help"], CORPUS_FORMATS),
    ):
        shown = " ".join(CliRunner().invoke(app, command, env={"COLUMNS": "300"}).stdout.split())
        assert all(f"{name} (" in shown for name in names), (command, shown)
