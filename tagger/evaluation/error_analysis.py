"""Where a tagger goes wrong: entity error types, a confusion matrix and the sentences with most errors.

Pure functions on lists of gold and predicted tags (IOB2 for span tasks); ``tagger.evaluation.report``
renders what they find. Entities are ``(type, start, end_exclusive)`` word spans read the way the
conlleval-compatible scorer reads them (``schemes.tags_to_spans``), so the error counts here are the
scorer's own false positives and false negatives, split by cause.

How each wrong entity counts: the scorer's false negatives are the gold entities not predicted with the
same span and type, its false positives the predicted entities not in gold with the same span and type.
Each of them gets exactly one error type, from what it overlaps on the other side:

* wrong type: an entity of another type has exactly its span;
* wrong boundary: it overlaps an entity of its own type (with other boundaries);
* wrong boundary and type: it overlaps only entities of other types, none with its span;
* missed (gold) / spurious (predicted): it overlaps nothing.

A gold entity so counted is one false negative of its type, a predicted one a false positive, so the
false negatives summed over the error types are the scorer's false negatives, and likewise the false
positives. A correctly predicted entity never overlaps a wrong one (the entities on one side never
overlap each other), so nothing correct is counted. For the reader, overlapping wrong entities of one
type are grouped into one ``EntityError``: a predicted ``Smith`` for a gold ``John Smith`` is one wrong
boundary worth one false positive and one false negative, a wrong type likewise; a gold entity split in
two predictions is one wrong boundary worth two false positives and one false negative.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tagger.schemes import Task, tags_to_spans

Span = tuple[str, int, int]  # (type, first word, end word exclusive)

WRONG_BOUNDARY = "wrong boundary"
WRONG_TYPE = "wrong type"
WRONG_BOUNDARY_AND_TYPE = "wrong boundary and type"
MISSED = "missed"
SPURIOUS = "spurious"
ERROR_TYPES = (WRONG_BOUNDARY, WRONG_TYPE, WRONG_BOUNDARY_AND_TYPE, MISSED, SPURIOUS)
# What each error type means, as the report states it
ERROR_DEFINITIONS = {
    WRONG_BOUNDARY: "A gold or predicted entity that overlaps an entity of the same type on the other side, "
    "with other boundaries.",
    WRONG_TYPE: "A gold or predicted entity whose exact span the other side gives another type.",
    WRONG_BOUNDARY_AND_TYPE: "A gold or predicted entity that overlaps only entities of other types on the other "
    "side, none with the same span.",
    MISSED: "A gold entity that overlaps no predicted entity.",
    SPURIOUS: "A predicted entity that overlaps no gold entity.",
}
NO_ENTITY = "O"  # the confusion matrix's row and column for "no entity with this span"


@dataclass(frozen=True)
class EntityError:
    """Wrong entities of one error type that overlap one another in one sentence: the gold ones are false
    negatives, the predicted ones false positives."""

    error_type: str
    sentence: int  # index into the evaluated sentences
    gold: tuple[Span, ...]
    predicted: tuple[Span, ...]

    @property
    def false_positives(self) -> int:
        return len(self.predicted)

    @property
    def false_negatives(self) -> int:
        return len(self.gold)

    @property
    def start(self) -> int:
        return min(start for _, start, _ in self.gold + self.predicted)

    @property
    def end(self) -> int:
        return max(end for _, _, end in self.gold + self.predicted)


@dataclass(frozen=True)
class ErrorTypeCount:
    errors: int  # EntityErrors of this type
    false_positives: int
    false_negatives: int


@dataclass(frozen=True)
class Confusion:
    """Counts of (gold, predicted) pairs: tags of words, or entity types of spans with ``O`` for none."""

    labels: list[str]  # rows and columns, in order
    counts: dict[tuple[str, str], int]

    def count(self, gold: str, predicted: str) -> int:
        return self.counts.get((gold, predicted), 0)

    def gold_total(self, gold: str) -> int:
        return sum(self.count(gold, predicted) for predicted in self.labels)


@dataclass(frozen=True)
class TagAccuracy:
    tag: str
    support: int  # gold words with this tag
    correct: int  # of them, tagged right

    @property
    def accuracy(self) -> float:
        return self.correct / self.support if self.support else 0.0


@dataclass(frozen=True)
class ErrorAnalysis:
    task: Task
    confusion: Confusion
    errors: list[EntityError]  # empty for label tasks
    errors_per_sentence: list[int]  # spans: false positives + false negatives; labels: wrongly tagged words
    worst: list[int]  # sentences with the most errors, most first


def analyse_errors(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], task: Task, worst: int = 20
) -> ErrorAnalysis:
    """Everything the report shows beyond the scores, for ``task`` "spans" (IOB2 tags) or "labels"."""
    if task == "spans":
        errors = [e for index, pair in enumerate(zip(gold, predicted)) for e in sentence_errors(index, *pair)]
        per_sentence = [0] * len(gold)
        for error in errors:
            per_sentence[error.sentence] += error.false_positives + error.false_negatives
        return ErrorAnalysis(
            task, entity_confusion(gold, predicted), errors, per_sentence, worst_sentences(per_sentence, worst)
        )
    per_sentence = [sum(g != p for g, p in zip(gold_tags, pred_tags)) for gold_tags, pred_tags in zip(gold, predicted)]
    return ErrorAnalysis(task, tag_confusion(gold, predicted), [], per_sentence, worst_sentences(per_sentence, worst))


def sentence_errors(sentence: int, gold_tags: Sequence[str], pred_tags: Sequence[str]) -> list[EntityError]:
    """The wrong entities of one sentence, typed and grouped as the module docstring says, in word order."""
    gold, predicted = set(tags_to_spans(gold_tags)), set(tags_to_spans(pred_tags))
    wrong_gold, wrong_predicted = gold - predicted, predicted - gold
    typed = [(error_type(span, wrong_predicted, MISSED), span, True) for span in wrong_gold]
    typed += [(error_type(span, wrong_gold, SPURIOUS), span, False) for span in wrong_predicted]
    errors = []
    for kind in ERROR_TYPES:
        for group in overlapping_groups([(span, is_gold) for k, span, is_gold in typed if k == kind]):
            gold_spans = tuple(span for span, is_gold in group if is_gold)
            pred_spans = tuple(span for span, is_gold in group if not is_gold)
            errors.append(EntityError(kind, sentence, gold_spans, pred_spans))
    return sorted(errors, key=lambda error: (error.start, ERROR_TYPES.index(error.error_type)))


def error_type(span: Span, other_side: set[Span], alone: str) -> str:
    """The error type of a wrong entity, given the wrong entities on the other side (gold or predicted);
    ``alone`` (missed or spurious) when it overlaps none of them."""
    kind, start, end = span
    overlapping = [other for other in other_side if other[1] < end and start < other[2]]
    if any((other[1], other[2]) == (start, end) for other in overlapping):
        return WRONG_TYPE
    if any(other[0] == kind for other in overlapping):
        return WRONG_BOUNDARY
    return WRONG_BOUNDARY_AND_TYPE if overlapping else alone


def overlapping_groups(spans: list[tuple[Span, bool]]) -> list[list[tuple[Span, bool]]]:
    """Spans (each with whether it is gold) grouped by overlap, chains included, in word order: the
    connected parts of a set of intervals, found by one sweep over them sorted by start."""
    groups: list[list[tuple[Span, bool]]] = []
    group_end = -1
    for item in sorted(spans, key=lambda item: (item[0][1], item[0][2], not item[1])):
        if groups and item[0][1] < group_end:
            groups[-1].append(item)
        else:
            groups.append([item])
        group_end = max(group_end, item[0][2])
    return groups


def count_error_types(errors: Sequence[EntityError]) -> dict[str, ErrorTypeCount]:
    """Errors, false positives and false negatives of each error type, every type present."""
    counts = {}
    for kind in ERROR_TYPES:
        chosen = [error for error in errors if error.error_type == kind]
        counts[kind] = ErrorTypeCount(
            len(chosen), sum(e.false_positives for e in chosen), sum(e.false_negatives for e in chosen)
        )
    return counts


def entity_confusion(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> Confusion:
    """Gold entity type x predicted entity type of the same span; ``O`` stands for no entity with that span
    (a gold entity whose span nobody predicted, or a predicted one whose span is not in gold)."""
    counts: Counter[tuple[str, str]] = Counter()
    for gold_tags, pred_tags in zip(gold, predicted):
        gold_types = {(start, end): kind for kind, start, end in tags_to_spans(gold_tags)}
        pred_types = {(start, end): kind for kind, start, end in tags_to_spans(pred_tags)}
        for span, kind in gold_types.items():
            counts[kind, pred_types.get(span, NO_ENTITY)] += 1
        for span, kind in pred_types.items():
            if span not in gold_types:
                counts[NO_ENTITY, kind] += 1
    types = sorted({kind for pair in counts for kind in pair} - {NO_ENTITY})
    return Confusion(types + [NO_ENTITY], dict(counts))


def tag_confusion(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> Confusion:
    """Gold tag x predicted tag, word by word."""
    counts = Counter(pair for gold_tags, pred_tags in zip(gold, predicted) for pair in zip(gold_tags, pred_tags))
    return Confusion(sorted({tag for pair in counts for tag in pair}), dict(counts))


def tag_accuracies(confusion: Confusion) -> list[TagAccuracy]:
    """Per gold tag of a word confusion matrix: how many words have it, and how many of them were tagged right."""
    return [
        TagAccuracy(tag, confusion.gold_total(tag), confusion.count(tag, tag))
        for tag in confusion.labels
        if confusion.gold_total(tag)
    ]


def worst_sentences(errors_per_sentence: Sequence[int], limit: int = 20) -> list[int]:
    """Indices of the ``limit`` sentences with most errors, most first, earlier first among equals; never
    a sentence without errors."""
    ranked = sorted((i for i, count in enumerate(errors_per_sentence) if count), key=lambda i: -errors_per_sentence[i])
    return ranked[:limit]
