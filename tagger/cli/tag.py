"""`tagger tag`: files, folders and globs into a mirrored output folder (resumable), or into one stream."""

from __future__ import annotations

import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tagger.atomic import AtomicFile, file_in_the_way
from tagger.batch import (BatchOptions, FileResult, FileTask, InputFile, Listener, annotate_folder, find_inputs,
                          tag_files)
from tagger.errors import ConfigError, CorpusFormatError
from tagger.model import QUANTIZE_MODES
from tagger.outputs import OUTPUT_FORMATS, default_output_format
from tagger.schemes import SCHEMES

INPUT_FORMATS = ("auto", "text", "conll", "conllu", "jsonl", "spacy")
ENGINES = ("local", "ray")
CONLLU_FIELDS = ("upos", "xpos", "misc")
SINGLE_DOCUMENT_FORMATS = ("spacy", "html")  # one file each: they cannot be concatenated into a stream
STDIN = "stdin"  # what messages call standard input (it is read from a temporary copy)


def check_options(options: BatchOptions) -> None:
    for option, value, valid in (("--input-format", options.input_format, INPUT_FORMATS),
                                 ("--output-format", options.output_format, ("auto", *OUTPUT_FORMATS)),
                                 ("--scheme", options.scheme, SCHEMES), ("--conllu-field", options.conllu_field, CONLLU_FIELDS),
                                 ("--quantize", options.quantize, QUANTIZE_MODES), ("--engine", options.engine, ENGINES)):
        if value not in valid:
            raise ConfigError(f"{option} {value!r}: expected one of {', '.join(valid)}")
    if options.workers < 0 or options.batch_size < 1:
        raise ConfigError("--workers must be 0 (one per core) or more, --batch-size at least 1")


def run_tag(console: Console, model_dir: Path, inputs: list[str], out_dir: Path | None, output: str,
            options: BatchOptions, quiet: bool) -> int:
    """Tag, print a summary, and return the exit code: 0 when every file succeeded, 1 when any failed."""
    check_options(options)
    if out_dir is None:
        if options.engine != "local":
            raise ConfigError(f"--engine {options.engine} writes an output folder: add --out DIR")
        tag_to_stream(model_dir, inputs, output, options)
        return 0
    if output != "-":
        raise ConfigError("--out (a folder of outputs) and --output (one file) exclude each other; choose one")
    if "-" in inputs:
        raise ConfigError("stdin (-) can be tagged to stdout or --output FILE, not into an --out folder")
    with ProgressDisplay(console, quiet) as listener:
        results = annotate_folder(model_dir, inputs, out_dir, options, listener)
    if not quiet:
        console.print(summary_table(results))
    for result in results:
        if result.status == "failed":
            console.print(f"[bold red]failed:[/] {escape(result.message)}", highlight=False, soft_wrap=True)
    return 1 if any(r.status == "failed" for r in results) else 0


def size_or_zero(path: Path) -> int:
    """An input's size for the progress bar; one that vanished since it was found fails later, with its name."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


class ProgressDisplay:
    """A rich progress bar (files, words, words/s, ETA by input bytes) fed by the batch run's Listener."""

    def __init__(self, console: Console, quiet: bool):
        self.console, self.quiet = console, quiet
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[files]}"),
                                 TextColumn("{task.fields[words]:,} words"), TextColumn("{task.fields[speed]}"),
                                 TimeRemainingColumn(), console=console, disable=quiet)
        self.sizes: dict[str, int] = {}
        self.words = self.done = self.total = 0
        self.task = self.progress.add_task("tagging", total=None, files="", words=0, speed="")

    def __enter__(self) -> Listener:
        self.progress.start()
        return Listener(self.planned, self.tagged, self.finished)

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def planned(self, tasks: list[FileTask]) -> None:
        self.sizes = {str(t.input.path): size_or_zero(t.input.path) for t in tasks}
        self.total = len(tasks)
        self.progress.update(self.task, total=max(sum(self.sizes.values()), 1), files=f"0/{self.total} files")

    def tagged(self, words: int) -> None:
        self.words += words
        elapsed = self.progress.tasks[0].elapsed or 0
        speed = f"{self.words / elapsed:,.0f} words/s" if elapsed else ""
        self.progress.update(self.task, words=self.words, speed=speed)

    def finished(self, result: FileResult) -> None:
        self.done += 1
        self.progress.update(self.task, advance=self.sizes.get(result.input, 0), files=f"{self.done}/{self.total} files")


def summary_table(results: list[FileResult]) -> Table:
    table = Table(title="tagger tag")
    for column in ("", "files", "words"):
        table.add_column(column, justify="right" if column else "left")
    for status in ("done", "skipped", "failed"):
        chosen = [r for r in results if r.status == status]
        table.add_row(status, f"{len(chosen):,}", f"{sum(r.words for r in chosen):,}")
    return table


def tag_to_stream(model_dir: Path, inputs: list[str], output: str, options: BatchOptions) -> None:
    """Everything into stdout or one file (written atomically); a bad file stops the run with its error."""
    from tagger.annotate import Tagger

    with ExitStack() as stack:
        check_output(output, inputs, options.overwrite)
        files: list[InputFile] = []
        stdin_copies: set[str] = set()  # the temporary files standard input was saved to: "stdin" in messages
        for name in inputs:
            files += [stdin_file(stack, options)] if name == "-" else find_inputs([name], options.input_format)
            if name == "-":
                stdin_copies.add(str(files[-1].path))
        tasks = [FileTask(file, None, chosen_format(file.format, options)) for file in files]
        if len(tasks) > 1 and any(t.output_format in SINGLE_DOCUMENT_FORMATS for t in tasks):
            raise ConfigError("spacy and html outputs hold one input each: use --out FOLDER for several inputs")
        tagger = Tagger.load(model_dir, device=options.device, quantize=options.quantize)
        target = None if output == "-" else AtomicFile(Path(output))
        stream: IO[bytes] = sys.stdout.buffer if target is None else target.stream
        try:
            for _ in tag_files(tagger, tasks, options, stream, stop_on_error=True):
                stream.flush()
        except BaseException as error:
            if target is not None:
                target.abort()
            if isinstance(error, CorpusFormatError) and error.path in stdin_copies:
                raise CorpusFormatError(STDIN, error.line_no, error.found, error.expected, error.hint) from None
            raise
        if target is not None:
            target.commit()


def chosen_format(input_format: str, options: BatchOptions) -> str:
    return default_output_format(input_format) if options.output_format == "auto" else options.output_format


def stdin_file(stack: ExitStack, options: BatchOptions) -> InputFile:
    """Standard input saved to a temporary file (the readers work on paths); raw text unless told otherwise.
    Nothing on it is refused here, before the model loads and before any output begins."""
    data = sys.stdin.buffer.read()
    if not data.strip():
        raise CorpusFormatError(STDIN, 0, "nothing to tag (standard input is empty or only whitespace)",
                                "text or a corpus piped in", "or name the files to tag instead of -")
    path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tagger-stdin-"))) / STDIN
    path.write_bytes(data)
    return InputFile(path, Path(STDIN), "text" if options.input_format == "auto" else options.input_format)


def check_output(output: str, inputs: list[str], overwrite: bool) -> None:
    """Before any work: ``-o`` names a file that can be written and is not an input."""
    if output == "-":
        return
    path = Path(output)
    target = path.resolve()
    if any(name != "-" and Path(name).resolve() == target for name in inputs):
        raise ConfigError(f"--output {output} is also an input; refusing to overwrite an input file")
    if path.is_dir():
        raise ConfigError(f"--output {output} is a folder; --output names one file (--out {output} tags into "
                          "the folder)")
    blocker = file_in_the_way(path.parent)
    if blocker is not None:
        raise ConfigError(f"--output {output}: {blocker} is a file, not a folder; choose another --output")
    if target.exists() and not overwrite:
        raise ConfigError(f"--output {output} exists; pass --overwrite to replace it")
