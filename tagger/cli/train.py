"""`tagger train`: renders the events of training.run_training with rich."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tagger.cli.messages import command_line_message
from tagger.cli.tables import number, print_table, text
from tagger.corpus import CorpusReport
from tagger.evaluation import percent
from tagger.training import (
    EpochRecord,
    SeedsResult,
    StepInfo,
    TrainingResult,
    TrainingStart,
    describe,
    reports_progress,
)


def print_training(console: Console, events: Iterable[Any]) -> None:
    """Run the training ``events`` to the end, rendering them (in the one process that reports)."""
    if not reports_progress():  # a data-parallel rank other than the first: rank 0 reports
        for _ in events:
            pass
        return
    progress = Progress(
        TextColumn("epoch {task.fields[epoch]}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TextColumn("{task.fields[wps]:,.0f} words/s"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task_id, words, started = None, 0, 0.0
    with progress:
        for event in events:
            if isinstance(event, TrainingStart):
                print_start(console, event)
            elif isinstance(event, StepInfo):
                if event.step == 1:
                    task_id = progress.add_task("train", total=event.steps, epoch=event.epoch, loss=event.loss, wps=0.0)
                    words, started = 0, progress.get_time()
                words += event.words
                elapsed = max(progress.get_time() - started, 1e-6)
                if task_id is not None:  # an epoch's bar starts at its first step
                    progress.update(task_id, advance=1, loss=event.loss, wps=words / elapsed)
            elif isinstance(event, EpochRecord):
                if task_id is not None:
                    progress.remove_task(task_id)
                console.print(epoch_line(event), highlight=False)
            elif isinstance(event, TrainingResult):
                print_result(console, event)
            elif isinstance(event, SeedsResult):
                console.print(
                    f"{describe(event.summary)}; best dev: seed {event.best_seed}, copied to {event.out_dir}",
                    highlight=False,
                )
                if event.kept:
                    console.print(command_line_message(event.kept), highlight=False, soft_wrap=True)


def print_start(console: Console, start: TrainingStart) -> None:
    for report in start.reports:
        if report.held_out:
            console.print(held_out_line(report), highlight=False)
            continue
        repaired = f", {report.repaired} tags repaired" if report.repaired else ""
        skipped = f", {report.skipped_empty} empty sentences skipped" if report.skipped_empty else ""
        lines = "".join(
            f", {kind}: {count:,}"
            + (f" (first {report.first_repaired[kind]})" if kind in report.first_repaired else "")
            for kind, count in sorted(report.repaired_lines.items())
        )
        console.print(
            f"{report.path}: {report.sentences:,} sentences, {report.words:,} words, "
            f"scheme {report.scheme}{repaired}{skipped}{lines}",
            highlight=False,
        )
    if start.vectors:
        console.print(start.vectors, highlight=False)
    console.print(
        f"task {start.task}: {len(start.labels)} labels, {start.vocab_words:,} words in vocabulary, "
        f"{start.parameters:,} parameters, device {start.device}",
        highlight=False,
    )
    if start.dev_trained_on:
        console.print(
            "train.with_dev: the dev corpus is training data too; every epoch's model is kept in turn, "
            "and the dev column scores data the model trains on",
            highlight=False,
        )
    if start.resumed_after:
        console.print(f"resumed from the checkpoint of epoch {start.resumed_after}", highlight=False)
    console.print(
        f"{'epoch':>5} {'loss':>8} {'lr':>8} {'dev':>7} {'best':>7} {'time':>7} {'words/s':>9}", highlight=False
    )


def held_out_line(report: CorpusReport) -> str:
    """The one line that says a dev split was held out of the training file, and how."""
    split = report.held_out
    held = f"{len(split['indices']):,} of the {split['units']:,} {split['unit']}s of {report.path}"
    return (
        f"no dev set given: {held} held out as dev ({report.sentences:,} sentences, {report.words:,} words), "
        "the same for every --seed; the split is recorded in metrics.json"
    )


def epoch_line(record: EpochRecord) -> str:
    mark = " *" if record.improved else ""
    return (
        f"{record.epoch:>5} {record.loss:>8.4f} {record.lr:>8.5f} {100 * record.dev_score:>7.2f} "
        f"{100 * record.best_score:>7.2f} {record.seconds:>6.0f}s {record.words_per_second:>9,.0f}{mark}"
    )


def print_result(console: Console, result: TrainingResult) -> None:
    with_dev = bool(result.metrics.get("dev_trained_on"))
    kept = f"epoch {result.best_epoch}, the last (dev trained on)" if with_dev else f"best epoch {result.best_epoch}"
    table = Table(title=f"{kept}, {result.seconds / 60:.1f} min → {result.out_dir}")
    text(table, "split")
    for column in ("headline", "strict IOB2 F1", "token accuracy"):
        number(table, column)
    for split, evaluation in (("dev", result.dev), ("test", result.test)):
        if evaluation is None:
            continue
        if (reports := evaluation.entity_reports) is not None:
            headline = f"F1 {reports[0].micro.percents()[2]} (conlleval)"
            strict = reports[1].micro.percents()[2]
        else:
            headline, strict = f"accuracy {percent(evaluation.token_accuracy)}", "—"
        shown = "dev (trained on)" if split == "dev" and with_dev else split
        table.add_row(shown, headline, strict, percent(evaluation.token_accuracy))
    print_table(console, table)
    if result.going_on:
        console.print(command_line_message(result.going_on), highlight=False)
    if result.carried:
        console.print(command_line_message(result.carried), highlight=False)
    if result.kept:
        console.print(command_line_message(result.kept), highlight=False, soft_wrap=True)


def relaunch_distributed(processes: int, argv: list[str]) -> int:
    """``tagger train ... --distributed N``: the same command in N processes started by torchrun on this machine."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={processes}",
        "-m",
        "tagger",
        *without_distributed_option(argv),
    ]
    return subprocess.run(command).returncode


def without_distributed_option(argv: list[str]) -> list[str]:
    kept, skip = [], False
    for argument in argv:
        if skip:
            skip = False
        elif argument == "--distributed":
            skip = True
        elif not argument.startswith("--distributed="):
            kept.append(argument)
    return kept
