"""Scores for predicted tags: entity P/R/F1 (via seqeval) and token accuracy.

This is the only module that imports seqeval. Span tasks get two entity
reports side by side, each labelled with its mode:

* ``"conlleval"`` (the headline): seqeval's default mode, which reads
  invalid sequences like conlleval.pl (an ``I-PER`` after ``O`` starts an
  entity). Numbers match ``scripts/tools/conlleval.py``.
* ``"strict IOB2"``: seqeval ``mode="strict", scheme=IOB2``; an entity counts
  only if it is well formed IOB2, so invalid predictions are punished.

Undefined scores (precision with nothing predicted, recall with nothing in
gold, F1 with neither) are 0.0 on the dataclasses, as conlleval prints them,
and ``None`` in ``to_dict()`` so JSON readers can tell "undefined" from
"zero"; ``percent`` shows them as ``undefined`` wherever a person reads a score
(the terminal, the HTML report, the model card).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tagger.errors import SchemeError, ScoringError
from tagger.schemes import TASKS, Task, is_span_tag, is_span_tagset, split_tag

UNDEFINED = "undefined"
CONLLEVAL_MODE = "conlleval"
STRICT_MODE = "strict IOB2"
SCHEME = "IOB2"  # the library's internal scheme, the one gold and predictions must use
TASK_CHOICES = ("auto", *TASKS)


@dataclass(frozen=True)
class TypeScore:
    """Scores for one entity type (or an average).

    ``support`` counts gold entities; ``predicted`` and ``correct`` count
    predicted and correctly predicted entities, and say when a score is
    undefined.
    """

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int = 0
    correct: int = 0

    def percents(self) -> tuple[str, str, str]:
        """Precision, recall and F1 as a person reads them (``percent``): an undefined one says so."""
        scores = self.to_dict()
        return percent(scores["precision"]), percent(scores["recall"]), percent(scores["f1"])

    def to_dict(self) -> dict:
        return {
            "precision": self.precision if self.predicted else None,
            "recall": self.recall if self.support else None,
            "f1": self.f1 if self.predicted or self.support else None,
            "support": self.support,
            "predicted": self.predicted,
            "correct": self.correct,
        }


@dataclass(frozen=True)
class EntityReport:
    mode: str
    per_type: dict[str, TypeScore]
    micro: TypeScore
    macro: TypeScore
    true_positives: int
    false_positives: int
    false_negatives: int

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "scheme": SCHEME,
            "micro": self.micro.to_dict(),
            "macro": self.macro.to_dict(),
            "per_type": {name: score.to_dict() for name, score in self.per_type.items()},
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
        }


@dataclass(frozen=True)
class Evaluation:
    task: Task
    token_accuracy: float
    conlleval: EntityReport | None
    strict: EntityReport | None
    sentences: int
    words: int

    @property
    def score(self) -> float:
        """The one figure a model is judged by (early stopping, seeds, a carried export's check): conlleval entity
        F1 for span tags, token accuracy for labels."""
        return self.conlleval.micro.f1 if self.conlleval is not None else self.token_accuracy

    @property
    def entity_reports(self) -> tuple[EntityReport, EntityReport] | None:
        """(conlleval, strict) for span tags; None for labels, which token accuracy alone scores."""
        if self.conlleval is None or self.strict is None:
            return None
        return self.conlleval, self.strict

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "scheme": SCHEME if self.task == "spans" else None,
            "sentences": self.sentences,
            "words": self.words,
            "token_accuracy": self.token_accuracy,
            "conlleval": self.conlleval.to_dict() if self.conlleval else None,
            "strict": self.strict.to_dict() if self.strict else None,
        }


def percent(value: float | None) -> str:
    """A score as a percentage with two decimals, or ``undefined`` for None (nothing predicted, nothing to
    find): the one way every table, page and card shows a score."""
    return UNDEFINED if value is None else f"{100 * value:.2f}"


def evaluate_tags(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], task: Task | Literal["auto"] = "auto"
) -> Evaluation:
    """Score predicted tags against gold tags, sentence by sentence.

    ``task`` is ``"spans"`` (IOB2 entities: both entity reports and token
    accuracy), ``"labels"`` (POS-like: token accuracy only) or ``"auto"``
    (spans when every gold tag is ``O`` or ``[BIES]-TYPE``, or any is ``[BIES]-TYPE``). Raises
    ScoringError when the inputs cannot be compared.
    """
    gold_tags, pred_tags = [list(seq) for seq in gold], [list(seq) for seq in pred]
    _check_lengths(gold_tags, pred_tags)
    resolved = _resolve_task(task, gold_tags)
    accuracy = token_accuracy(gold_tags, pred_tags)
    words = sum(len(seq) for seq in gold_tags)
    if resolved == "labels":
        return Evaluation(resolved, accuracy, None, None, len(gold_tags), words)
    _check_span_tags(gold_tags, "gold")
    _check_span_tags(pred_tags, "predictions")
    conlleval = _entity_report(gold_tags, pred_tags, CONLLEVAL_MODE)
    strict = _entity_report(gold_tags, pred_tags, STRICT_MODE)
    return Evaluation(resolved, accuracy, conlleval, strict, len(gold_tags), words)


def token_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Fraction of words whose predicted tag equals the gold tag."""
    _check_lengths(gold, pred)
    words = sum(len(seq) for seq in gold)
    if words == 0:
        raise ScoringError("nothing to score: the gold data has no words")
    correct = sum(g == p for gold_seq, pred_seq in zip(gold, pred) for g, p in zip(gold_seq, pred_seq))
    return correct / words


def _check_lengths(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    if len(gold) != len(pred):
        raise ScoringError(f"gold has {len(gold)} sentences, predictions have {len(pred)}")
    for index, (gold_seq, pred_seq) in enumerate(zip(gold, pred)):
        if len(gold_seq) != len(pred_seq):
            raise ScoringError(f"sentence {index}: gold has {len(gold_seq)} words, predictions have {len(pred_seq)}")


def _resolve_task(task: Task | Literal["auto"], gold: Sequence[Sequence[str]]) -> Task:
    if task not in TASK_CHOICES:
        raise ScoringError(f"unknown task {task!r}; expected one of {', '.join(TASK_CHOICES)}")
    if task != "auto":
        return task
    # One prefixed span tag makes it spans, so that a bare "PER" among them is refused rather than scored as a label.
    tags = {tag for seq in gold for tag in seq}
    prefixed = any(tag != "O" and is_span_tag(tag) for tag in tags)
    return "spans" if prefixed or is_span_tagset(tags) else "labels"


def _check_span_tags(seqs: Sequence[Sequence[str]], side: str) -> None:
    # seqeval would read a bare "PER" as type "ER" without a word; refuse instead.
    for sentence, seq in enumerate(seqs):
        for word, tag in enumerate(seq):
            try:
                prefix, _ = split_tag(tag)
            except SchemeError as error:
                raise ScoringError(f"{side}, sentence {sentence}, word {word}: {error}") from None
            if prefix in "ES":
                raise ScoringError(
                    f"{side}, sentence {sentence}, word {word}: {tag!r} is not an IOB2 tag; "
                    "convert BIOES tags to IOB2 before scoring"
                )


def _entity_report(gold: list[list[str]], pred: list[list[str]], mode: str) -> EntityReport:
    gold_entities, pred_entities = _entities_by_type(gold, mode), _entities_by_type(pred, mode)
    types = sorted(set(gold_entities) | set(pred_entities))
    counts = {
        name: (
            len(gold_entities.get(name, set())),
            len(pred_entities.get(name, set())),
            len(gold_entities.get(name, set()) & pred_entities.get(name, set())),
        )
        for name in types
    }
    true_positives = sum(correct for _, _, correct in counts.values())
    gold_total = sum(support for support, _, _ in counts.values())
    pred_total = sum(predicted for _, predicted, _ in counts.values())
    report = _seqeval_report(gold, pred, mode) if types else {}
    per_type = {name: _type_score(report[name], *counts[name]) for name in types}
    zero = {"precision": 0.0, "recall": 0.0, "f1-score": 0.0}
    micro = _type_score(report.get("micro avg", zero), gold_total, pred_total, true_positives)
    macro = _type_score(report.get("macro avg", zero), gold_total, pred_total, true_positives)
    return EntityReport(
        mode, per_type, micro, macro, true_positives, pred_total - true_positives, gold_total - true_positives
    )


def _entities_by_type(seqs: list[list[str]], mode: str) -> dict[str, set]:
    """Entities as seqeval finds them in ``mode``, grouped by type, for the counts."""
    # seqeval is imported where it is used: it imports scikit-learn (1.4 s), which tagging never needs.
    from seqeval.metrics.sequence_labeling import get_entities
    from seqeval.scheme import IOB2, Entities

    grouped: dict[str, set] = {}
    if mode == CONLLEVAL_MODE:
        for type_, start, end in get_entities(seqs):
            grouped.setdefault(type_, set()).add((start, end))
    else:
        for sentence in Entities(seqs, IOB2).entities:
            for entity in sentence:
                grouped.setdefault(entity.tag, set()).add(entity.to_tuple())
    return grouped


def _seqeval_report(gold: list[list[str]], pred: list[list[str]], mode: str) -> dict:
    from seqeval.metrics import classification_report
    from seqeval.metrics.v1 import UndefinedMetricWarning
    from seqeval.scheme import IOB2

    options = {"mode": "strict", "scheme": IOB2} if mode == STRICT_MODE else {}
    with warnings.catch_warnings():
        # Undefined scores are reported through the counts; seqeval's warnings would only leak.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return classification_report(gold, pred, output_dict=True, zero_division=0, **options)


def _type_score(scores: dict, support: int, predicted: int, correct: int) -> TypeScore:
    return TypeScore(
        precision=float(scores["precision"]),
        recall=float(scores["recall"]),
        f1=float(scores["f1-score"]),
        support=support,
        predicted=predicted,
        correct=correct,
    )
