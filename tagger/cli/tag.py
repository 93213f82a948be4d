"""`tagger tag`: renders a batch run (``tagger.batch.annotate``): a progress bar, a summary table, the failures."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tagger.batch import BatchOptions, FileResult, FileTask, Listener, annotate
from tagger.cli.messages import command_line_message
from tagger.cli.tables import number, print_table, text


def run_tag(
    console: Console,
    model_dir: Path,
    inputs: list[str],
    out_dir: Path | None,
    output: str,
    options: BatchOptions,
    quiet: bool,
) -> int:
    """Tag, print a summary, and return the exit code: 0 when every file succeeded, 1 when any failed."""
    with ProgressDisplay(console, quiet or out_dir is None) as listener:
        results = annotate(model_dir, inputs, out_dir, output, options, listener)
    if out_dir is None:
        return 0  # into one stream: a bad file stops the run with its error
    if not quiet:
        print_table(console, summary_table(results))
    for result in results:
        if result.status == "failed":
            console.print(
                f"[bold red]failed:[/] {escape(command_line_message(result.message))}", highlight=False, soft_wrap=True
            )
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
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[files]}"),
            TextColumn("{task.fields[words]:,} words"),
            TextColumn("{task.fields[speed]}"),
            TimeRemainingColumn(),
            console=console,
            disable=quiet,
        )
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
        self.progress.update(
            self.task, advance=self.sizes.get(result.input, 0), files=f"{self.done}/{self.total} files"
        )


def summary_table(results: list[FileResult]) -> Table:
    table = Table(title="tagger tag")
    text(table, "")
    for column in ("files", "words"):
        number(table, column)
    for status in ("done", "skipped", "failed"):
        chosen = [r for r in results if r.status == status]
        table.add_row(status, f"{len(chosen):,}", f"{sum(r.words for r in chosen):,}")
    return table
