"""`tagger evaluate`: score a model on gold data and print the report."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tagger.annotate import Tagger
from tagger.config import Config, CorpusConfig, parse_override
from tagger.errors import ConfigError
from tagger.corpus import Sentence, read_corpus
from tagger.error_analysis import analyse_errors
from tagger.outputs import format_predictions
from tagger.outputs.report import ReportInput, render_report, write_report
from tagger.scoring import EntityReport, Evaluation
from tagger.atomic import write_atomic


def run_evaluate(model_dir: Path, data: Path, json_output: bool, predictions_path: Path | None,
                 overrides: list[str], device: str, batch_size: int, quantize: str = "none",
                 report_dir: Path | None = None) -> None:
    tagger = Tagger.load(model_dir, device=device, quantize=quantize)
    corpus_config = reading_config(tagger.config, overrides)
    sentences, _ = read_corpus(data, corpus_config)
    evaluation, predictions = tagger.evaluate(sentences, batch_size=batch_size)
    if predictions_path is not None:
        text = "".join(format_predictions(s.words, s.tags, p) for s, p in zip(sentences, predictions))
        write_atomic(predictions_path, text.encode("utf-8"))
    if report_dir is not None:
        index = write_evaluation_report(report_dir, f"{model_dir} on {data}", sentences, predictions, evaluation)
        Console(stderr=True).print(f"report: {index}", highlight=False)
    if json_output:
        print(json.dumps(evaluation.to_dict(), indent=2))
    else:
        print_evaluation(Console(), evaluation, str(data))


def write_evaluation_report(report_dir: Path, title: str, sentences: list[Sentence], predictions: list[list[str]],
                            evaluation: Evaluation) -> Path:
    analysis = analyse_errors([s.tags for s in sentences], predictions, evaluation.task)
    page = render_report(ReportInput(title, sentences, predictions, evaluation, analysis))
    return write_report(report_dir, page)


def reading_config(model_config: Config, overrides: list[str]) -> CorpusConfig:
    """How the model's training data was read, with the user's corpus.* overrides on top."""
    settings = dict(model_config.to_dict()["corpus"])
    for text in overrides:
        section, key, value = parse_override(text)
        if section != "corpus":
            raise ConfigError(f"--set {text}: evaluation reads data only; expected a corpus.* setting")
        settings[key] = value
    return Config.from_dict({"corpus": settings}, "--set").corpus


def print_evaluation(console: Console, evaluation: Evaluation, source: str) -> None:
    if evaluation.task == "spans":
        console.print(entity_table(evaluation.conlleval, evaluation.strict, source))
        console.print(f"entity F1 {pct(evaluation.conlleval.micro.f1)} (conlleval-compatible, IOB2); "
                      f"strict IOB2 F1 {pct(evaluation.strict.micro.f1)}; "
                      f"token accuracy {pct(evaluation.token_accuracy)} "
                      f"({evaluation.sentences:,} sentences, {evaluation.words:,} words)", highlight=False)
    else:
        console.print(f"token accuracy {pct(evaluation.token_accuracy)} on {source} "
                      f"({evaluation.sentences:,} sentences, {evaluation.words:,} words)", highlight=False)


def entity_table(report: EntityReport, strict: EntityReport, source: str) -> Table:
    table = Table(title=f"{source}: entities, mode {report.mode} (strict IOB2 F1 beside)")
    for column in ("type", "precision", "recall", "F1", "strict F1", "support"):
        table.add_column(column, justify="right")
    for name, score in sorted(report.per_type.items()):
        strict_score = strict.per_type.get(name)
        table.add_row(name, pct(score.precision), pct(score.recall), pct(score.f1),
                      pct(strict_score.f1) if strict_score else "—", f"{score.support:,}")
    for name, score, strict_score in (("micro", report.micro, strict.micro), ("macro", report.macro, strict.macro)):
        table.add_row(f"[bold]{name}", pct(score.precision), pct(score.recall), f"[bold]{pct(score.f1)}",
                      pct(strict_score.f1), f"{score.support:,}")
    return table


def pct(value: float | None) -> str:
    return "undefined" if value is None else f"{100 * value:.2f}"
