"""Tagged sentences as the tasks annotation tools import (``labelstudio``, ``doccano``): each task's text and the
character spans of its predicted entities.

A task is a paragraph of raw text (a document, as ``tokenize`` reads raw text) or one sentence of pre-tokenised
input. Raw text keeps each word in its place: the task's text runs from the paragraph's first word to its last,
and whatever lies between two words (spaces, line breaks, a character the tokenizer drops) becomes as many spaces,
so an entity's offsets are those the JSONL output gives, less where the paragraph's first word starts. A sentence of
pre-tokenised input is its words joined by spaces (``TaggedSentence.text``). Either way the task also gives its
words and sentences (``tokens``, ``sents``), which the tools keep with it, so that the words a corrected export
trains on are the words that were tagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tagger.corpus import opens_document
from tagger.corpus.spans import given_words_fields
from tagger.errors import ConfigError, setting
from tagger.outputs.tagged import TaggedSentence, WriterOptions, check_lengths
from tagger.outputs.writer import TextWriter


@dataclass(frozen=True)
class Entity:
    start: int  # character offsets in the task's text, end exclusive
    end: int
    label: str
    score: float | None  # the mean probability of its words' tags; None when probabilities were not computed


@dataclass(frozen=True)
class Task:
    text: str
    entities: list[Entity]
    lowest: float | None  # the lowest probability of any word's tag in the task (None without probabilities)
    # fields written beside the text, which the tools keep with the task (``tagger select``'s rank and uncertainty)
    fields: dict[str, Any] = field(default_factory=dict)
    # the task's words and sentences as ``tokens`` and ``sents`` (``corpus.spans``), so that a corrected export
    # trains on the words that were tagged
    words: dict[str, Any] = field(default_factory=dict)


class TaskWriter(TextWriter):
    """Sentences grouped into tasks, each written by ``format_task`` once complete: a paragraph of raw text may go
    on in the next chunk."""

    tool = ""  # the tool, for messages

    def __init__(self, options: WriterOptions):
        if options.task != "spans":
            raise ConfigError(
                f"{setting('output_format')} for {self.tool} writes entities, but this model tags a label per word "
                "(such as POS); choose another output format"
            )
        self.options = options
        self.document: list[TaggedSentence] = []
        self.tasks = 0

    def write(self, tagged: Sequence[TaggedSentence]) -> str:
        check_lengths(tagged)
        pieces = []
        for item in tagged:
            if self.document and (item.offsets is None or opens_document(item.sentence)):
                pieces.append(self.finish_task())
            self.document.append(item)
        return "".join(pieces)

    def finish_task(self) -> str:
        task = build_task(self.document)
        self.document = []
        self.tasks += 1
        return self.format_task(task, self.tasks)

    def format_task(self, task: Task, number: int) -> str:
        raise NotImplementedError

    def end(self) -> str:
        return self.finish_task() if self.document else ""


def build_task(items: list[TaggedSentence], fields: dict[str, Any] | None = None) -> Task:
    """The task of one sentence of pre-tokenised input, or of the sentences of a paragraph of raw text.

    Sentences of pre-tokenised input that make one task (a document ``tagger select`` chose) are joined by a space.
    """
    scores = [score for item in items for score in item.scores]
    lowest = min(scores) if scores and all(item.scores or not item.words for item in items) else None
    words = [word for item in items for word in item.words]
    lengths = [len(item.words) for item in items]
    if items[0].offsets is None:
        texts, entities, word_starts, base = [], [], [], 0
        for item in items:
            starts = item.word_starts()
            for label, s, e in item.spans():
                start, end = item.text_span(starts, s, e)
                entities.append(Entity(base + start, base + end, label, item.span_score(s, e)))
            word_starts += [base + start for start in starts]
            texts.append(item.text())
            base += len(texts[-1]) + 1
        return Task(" ".join(texts), entities, lowest, fields or {}, given_words_fields(words, word_starts, lengths))
    offsets = [span for item in items for span in item.offsets or []]
    base, position, pieces = offsets[0][0], offsets[0][0], []
    for item in items:
        for word, (start, end) in zip(item.words, item.offsets or []):
            pieces += [" " * (start - position), word]
            position = end
    entities = []
    for item in items:
        spans = item.offsets or []
        for label, first, end in item.spans():
            entities.append(
                Entity(spans[first][0] - base, spans[end - 1][1] - base, label, item.span_score(first, end))
            )
    word_starts = [start - base for start, _ in offsets]
    return Task("".join(pieces), entities, lowest, fields or {}, given_words_fields(words, word_starts, lengths))
