"""`tagger evaluate`: prints what ``tagger.evaluation.model.evaluate_model`` scored, as tables or JSON."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from tagger.cli.tables import number, print_table, text
from tagger.evaluation import EntityReport, Evaluation, percent
from tagger.evaluation.model import ModelEvaluation


def print_model_evaluation(messages: Console, done: ModelEvaluation, source: str, json_output: bool) -> None:
    """The scores on stdout (a table, or JSON); where the report went on ``messages`` (stderr)."""
    if done.report is not None:
        messages.print(f"report: {done.report}", highlight=False)
    if json_output:
        print(json.dumps(done.evaluation.to_dict(), indent=2))
    else:
        print_evaluation(Console(), done.evaluation, source)


def print_evaluation(console: Console, evaluation: Evaluation, source: str) -> None:
    if (reports := evaluation.entity_reports) is not None:
        conlleval, strict = reports
        print_table(console, entity_table(conlleval, strict, source))
        console.print(
            f"entity F1 {conlleval.micro.percents()[2]} (conlleval-compatible, IOB2); "
            f"strict IOB2 F1 {strict.micro.percents()[2]}; "
            f"token accuracy {percent(evaluation.token_accuracy)} "
            f"({evaluation.sentences:,} sentences, {evaluation.words:,} words)",
            highlight=False,
        )
    else:
        console.print(
            f"token accuracy {percent(evaluation.token_accuracy)} on {source} "
            f"({evaluation.sentences:,} sentences, {evaluation.words:,} words)",
            highlight=False,
        )


def entity_table(report: EntityReport, strict: EntityReport, source: str) -> Table:
    table = Table(title=f"{source}: entities, mode {report.mode} (strict IOB2 F1 beside)")
    text(table, "type")
    for column in ("precision", "recall", "F1", "strict F1", "support"):
        number(table, column)
    for name, score in sorted(report.per_type.items()):
        strict_score = strict.per_type.get(name)
        table.add_row(
            name, *score.percents(), strict_score.percents()[2] if strict_score else "—", f"{score.support:,}"
        )
    for name, score, strict_score in (("micro", report.micro, strict.micro), ("macro", report.macro, strict.macro)):
        precision, recall, f1 = score.percents()
        table.add_row(
            f"[bold]{name}", precision, recall, f"[bold]{f1}", strict_score.percents()[2], f"{score.support:,}"
        )
    return table
