"""Evaluation: ``scoring`` (the only seqeval caller: entity P/R/F1, conlleval-compatible and strict IOB2, and
token accuracy), ``error_analysis`` (where a tagger goes wrong, as pure functions) and ``report`` (the HTML page of
both for a person to read). ``percent`` is the one way a score, or an undefined one, is shown."""

from tagger.evaluation.error_analysis import ErrorAnalysis, analyse_errors
from tagger.evaluation.report import ReportInput, render_report, write_evaluation_report, write_report
from tagger.evaluation.scoring import EntityReport, Evaluation, TypeScore, evaluate_tags, percent, token_accuracy

__all__ = [
    "EntityReport",
    "ErrorAnalysis",
    "Evaluation",
    "ReportInput",
    "TypeScore",
    "analyse_errors",
    "evaluate_tags",
    "percent",
    "render_report",
    "token_accuracy",
    "write_evaluation_report",
    "write_report",
]
