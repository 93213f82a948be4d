"""The `tagger` command line: each command parses options and calls one library function.

Our own errors (TaggerError) become one line on stderr and exit code 2; heavy imports happen inside
the commands so `tagger --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from tagger.errors import TaggerError

app = typer.Typer(help="BiLSTM sequence labeling: train, evaluate and tag (NER, POS, chunking).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console(stderr=True)

DeviceOption = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda.")
TagColumnOption = typer.Option(None, "--tag-column", help="CoNLL column of the tags (0-based; -1 = last).")
EncodingOption = typer.Option(None, "--encoding", help="Encoding of the corpus files (default utf-8).")
QuantizeOption = typer.Option("none", "--quantize", help="none (fp32, as trained); int8: dynamic quantisation of the "
                              "recurrent and linear layers (CPU); bf16: bfloat16 weights and activations (CPUs "
                              "with AVX-512 BF16 or AMX, GPUs). See BENCHMARKS.md for their speed and F1.")
SetOption = typer.Option([], "--set", help="Config override section.key=value, e.g. model.hidden=256 (repeatable).")


@app.command()
def train(
    out: Path = typer.Option(..., "--out", help="Model directory to write (best model; last epoch in OUT/last)."),
    train_path: Optional[Path] = typer.Option(None, "--train", help="Training corpus (CoNLL, CoNLL-U, JSONL, "
                                              ".spacy; .gz ok)."),
    dev_path: Optional[Path] = typer.Option(None, "--dev", help="Development corpus, for early stopping."),
    test_path: Optional[Path] = typer.Option(None, "--test", help="Test corpus, scored once with the best model."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Instead of files: a Hugging Face dataset name, "
                                          "a folder of data files, or a save_to_disk folder (train/validation/test)."),
    dataset_config: Optional[str] = typer.Option(None, "--dataset-config", help="The dataset's configuration name."),
    word_column: str = typer.Option("tokens", "--word-column", help="The dataset's column of words."),
    tag_column_name: str = typer.Option("ner_tags", "--tag-column-name", help="The dataset's column of tags."),
    config_file: Optional[Path] = typer.Option(None, "--config", help="TOML config; see docs/config.md."),
    preset: str = typer.Option("default", "--preset", help="Starting settings: default, fast or accurate."),
    seeds: int = typer.Option(1, "--seeds", help="Train this many seeds; report mean ± sd, keep the best on dev."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Maximum number of epochs."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed."),
    tag_column: Optional[int] = TagColumnOption,
    encoding: Optional[str] = EncodingOption,
    device: Optional[str] = typer.Option(None, "--device", help="auto (CUDA when present), cpu or cuda."),
    overrides: List[str] = SetOption,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a model already in --out."),
    resume: bool = typer.Option(False, "--resume", help="Go on from the checkpoint in --out (written after every "
                                "epoch) exactly where the run stopped; start afresh when there is none."),
    distributed: int = typer.Option(1, "--distributed", help="Train in N data-parallel processes on this machine "
                                    "(torchrun; gloo on CPU, NCCL on GPUs). For several machines run torchrun "
                                    "yourself: see docs/distributed.md."),
) -> None:
    """Train a tagger and keep the model with the best dev score."""
    from tagger.cli.train import relaunch_distributed, run_train
    from tagger.config import load_config
    from tagger.training import DataSource

    if distributed > 1 and "WORLD_SIZE" not in os.environ:
        raise typer.Exit(relaunch_distributed(distributed, sys.argv[1:]))
    settings = list(overrides)
    settings += [f"train.{k}={v}" for k, v in (("epochs", epochs), ("seed", seed), ("device", device)) if v is not None]
    settings += corpus_overrides(tag_column, encoding)
    with reported_errors():
        source = DataSource(train_path, dev_path, test_path, dataset, dataset_config, word_column, tag_column_name)
        run_train(console, source, out, load_config(config_file, settings, preset), seeds, overwrite, resume)


@app.command()
def evaluate(
    model: Path = typer.Argument(..., help="Model directory."),
    data: Path = typer.Argument(..., help="Gold corpus to score against."),
    json_output: bool = typer.Option(False, "--json", help="Print the scores as JSON on stdout."),
    predictions: Optional[Path] = typer.Option(None, "--predictions", help="Write 'word gold pred' lines (conlleval)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write DIR/index.html: scores, confusion matrix, "
                                          "entity error types with examples, sentences with most errors."),
    overrides: List[str] = typer.Option([], "--set", help="Corpus reading override, e.g. corpus.encoding=latin-1."),
    tag_column: Optional[int] = TagColumnOption,
    encoding: Optional[str] = EncodingOption,
    device: str = DeviceOption,
    batch_size: int = typer.Option(256, "--batch-size", help="Sentences per batch."),
    quantize: str = QuantizeOption,
) -> None:
    """Score a model on a labelled corpus: per-type P/R/F1 (conlleval and strict IOB2) and token accuracy."""
    from tagger.cli.evaluate import run_evaluate

    with reported_errors():
        settings = list(overrides) + corpus_overrides(tag_column, encoding)
        run_evaluate(model, data, json_output, predictions, settings, device, batch_size, quantize, report)


@app.command()
def tag(
    model: Path = typer.Argument(..., help="Model directory."),
    inputs: List[str] = typer.Argument(..., help="Files, folders (searched recursively) or glob patterns, or - for stdin."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the outputs, mirroring the input tree; running "
                                       "the same command again skips finished files and redoes missing or stale ones."),
    output: str = typer.Option("-", "-o", "--output", help="Without --out: one output file, or - for stdout."),
    output_format: str = typer.Option("auto", "--output-format", "--format", help="auto (the input's format; conll for "
                                      "raw text), conll, conllu, jsonl, spacy (DocBin) or html."),
    input_format: str = typer.Option("auto", "--input-format", help="auto (per file), text, conll, conllu, jsonl, spacy."),
    probabilities: bool = typer.Option(False, "--probabilities", help="Also write each tag's probability."),
    conllu_field: str = typer.Option("misc", "--conllu-field", help="CoNLL-U output: the prediction goes into upos, "
                                     "xpos or misc (Tag=...)."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Encoding of the input files."),
    lang: str = typer.Option("en", "--lang", help="spaCy language used to split raw text (spacy.blank + sentencizer)."),
    spacy_model: Optional[str] = typer.Option(None, "--spacy-model", help="An installed spaCy pipeline to split raw "
                                              "text instead, e.g. en_core_web_sm."),
    scheme: str = typer.Option("IOB2", "--scheme", help="Output scheme for span tags: IOB2, BIOES or IOB1."),
    device: str = DeviceOption,
    batch_size: int = typer.Option(256, "--batch-size", help="Sentences per batch."),
    workers: int = typer.Option(0, "--workers", help="Worker processes, each with its share of the CPU cores; "
                                "0: one per core (at most 8), 1 on a GPU."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo finished outputs; replace files not written by us."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary table (errors still print)."),
    quantize: str = QuantizeOption,
    engine: str = typer.Option("local", "--engine", help="local: processes on this machine; ray: actors on a Ray "
                               "cluster (pip install 'tagger\\[ray]'; inputs and --out on a shared file system)."),
    address: Optional[str] = typer.Option(None, "--address", help="With --engine ray: the cluster's address "
                                          "(e.g. ray://head:10001 or auto); none starts a local Ray instance."),
) -> None:
    """Tag raw text (.txt) and pre-tokenised files (CoNLL, CoNLL-U, JSONL, .spacy), one file or whole folders.

    Exit code 0 when every file succeeded, 1 when any failed (each failure is listed with path:line), 2 on a
    usage error.
    """
    from tagger.batch import BatchOptions
    from tagger.cli.tag import run_tag

    with reported_errors():
        options = BatchOptions(input_format, output_format, scheme, probabilities, conllu_field, encoding, lang,
                               spacy_model, batch_size, device, workers, overwrite, quantize, engine, address)
        code = run_tag(console, model, inputs, out, output, options, quiet)
    raise typer.Exit(code)


@app.command()
def convert(
    input_path: Path = typer.Argument(..., metavar="INPUT", help="Corpus to read: CoNLL, CoNLL-U, JSONL (.gz ok) "
                                      "a spaCy DocBin (.spacy) or a Hugging Face dataset folder (save_to_disk)."),
    output_path: Path = typer.Argument(..., metavar="OUTPUT", help="File to write (UTF-8; .gz compresses text), or "
                                       "a folder for --to hf."),
    source_format: str = typer.Option("auto", "--from", help="auto, conll, conllu, jsonl, spacy or hf."),
    target_format: str = typer.Option("auto", "--to", help="auto (from OUTPUT's extension), conll, conllu, jsonl, "
                                      "spacy or hf (a Hugging Face dataset saved to disk)."),
    attr: str = typer.Option("auto", "--attr", help="Where .spacy output keeps the tags: ents, tag (token.tag_), "
                             "pos (token.pos_), or auto from the tags."),
    scheme: str = typer.Option("IOB2", "--scheme", help="Scheme of span tags written to CoNLL, CoNLL-U, JSONL or hf: "
                               "IOB2, IOB1 or BIOES."),
    tag_column: Optional[int] = TagColumnOption,
    encoding: Optional[str] = EncodingOption,
    overrides: List[str] = typer.Option([], "--set", help="Corpus reading override, e.g. corpus.tag_field=xpos."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUTPUT."),
) -> None:
    """Convert a corpus between CoNLL, CoNLL-U, JSONL, spaCy DocBin and Hugging Face datasets on disk, or between
    span schemes."""
    from tagger.cli.convert import ConvertOptions, run_convert

    with reported_errors():
        options = ConvertOptions(source_format, target_format, attr, scheme, overwrite)
        run_convert(console, input_path, output_path, options, list(overrides) + corpus_overrides(tag_column, encoding))


@app.command()
def benchmark(
    model: Path = typer.Argument(..., help="Model directory."),
    data: Path = typer.Argument(..., help="Corpus to tag (CoNLL, CoNLL-U, JSONL, .spacy); its words are also "
                                "joined into raw text, one text per document."),
    runs: int = typer.Option(5, "--runs", help="Timed passes after one warm-up; the median is reported."),
    batch_size: int = typer.Option(256, "--batch-size", help="Sentences per batch."),
    device: str = DeviceOption,
    quantize: str = QuantizeOption,
    startup: bool = typer.Option(True, "--startup/--no-startup", help="Also time tagger tag to its first output."),
    json_output: bool = typer.Option(False, "--json", help="Print the figures as JSON on stdout."),
    tag_column: Optional[int] = TagColumnOption,
    encoding: Optional[str] = EncodingOption,
    overrides: List[str] = typer.Option([], "--set", help="Corpus reading override, e.g. corpus.format=conll."),
) -> None:
    """Tagging speed (words/s, pre-tokenised and raw text), peak memory and startup time of a model."""
    from tagger.cli.benchmark import run_benchmark

    with reported_errors():
        settings = list(overrides) + corpus_overrides(tag_column, encoding)
        run_benchmark(console, model, data, runs, batch_size, device, quantize, settings, startup, json_output)


@app.command()
def data(
    paths: Optional[List[Path]] = typer.Argument(None, help="Corpus files reported each on its own (CoNLL, CoNLL-U, "
                                                 "JSONL, .spacy; .gz ok)."),
    train_path: Optional[Path] = typer.Option(None, "--train", help="Training corpus: the vocabulary and sentences "
                                              "dev and test are compared with."),
    dev_path: Optional[Path] = typer.Option(None, "--dev", help="Development corpus."),
    test_path: Optional[Path] = typer.Option(None, "--test", help="Test corpus."),
    json_output: bool = typer.Option(False, "--json", help="Print every figure as JSON on stdout."),
    examples: int = typer.Option(5, "--examples", help="Examples shown per finding (violations, duplicates, ...)."),
    tag_column: Optional[int] = TagColumnOption,
    encoding: Optional[str] = EncodingOption,
    overrides: List[str] = typer.Option([], "--set", help="Corpus reading override, e.g. corpus.tag_field=xpos."),
) -> None:
    """Corpus diagnostics before training: sizes, tag and entity counts, scheme violations, OOV words,
    sentence lengths, duplicates and train/dev/test overlap."""
    from tagger.cli.data import run_data

    with reported_errors():
        inputs = [(role, path) for role, path in (("train", train_path), ("dev", dev_path), ("test", test_path)) if path]
        settings = list(overrides) + corpus_overrides(tag_column, encoding)
        run_data(inputs + [(None, path) for path in paths or []], json_output, examples, settings)


@app.command()
def info(
    model: Path = typer.Argument(..., help="Model directory."),
    json_output: bool = typer.Option(False, "--json", help="Print everything as JSON on stdout."),
    card: bool = typer.Option(True, "--card/--no-card", help="Also print the model card (README.md)."),
) -> None:
    """A trained model: scores, labels, vocabulary size, parameter count, configuration and model card."""
    from tagger.cli.info import run_info

    with reported_errors():
        run_info(model, json_output, card)


def corpus_overrides(tag_column: int | None, encoding: str | None) -> list[str]:
    """The shorthand corpus options as the ``--set`` overrides they stand for."""
    settings = [f"corpus.tag_column={tag_column}"] if tag_column is not None else []
    return settings + ([f"corpus.encoding={encoding}"] if encoding else [])


@contextmanager
def reported_errors():
    """A user error becomes one line on stderr and exit code 2; anything else is a bug and keeps its traceback."""
    try:
        yield
    except TaggerError as error:
        console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print("interrupted")
        raise typer.Exit(130) from None


# oneDNN caches a compiled kernel, with its scratch memory, for every tensor shape it meets (1,024 by default), and
# length-bucketed batches meet many: `tagger tag` grew by ~100 MB per million words of varied sentences. 256 kernels
# keep memory bounded (599 MB peak on 4.1M words of raw text) at full speed (79,000 words/s; a cache of 0: 56,000
# words/s, 463 MB). Set before torch creates its first kernel; a value in the environment wins.
ONEDNN_CACHE = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "256")


def main() -> None:
    os.environ.setdefault(*ONEDNN_CACHE)
    app()
