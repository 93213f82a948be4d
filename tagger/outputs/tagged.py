"""The one record of a tagged sentence, which ``Tagger.tag_sentences`` and ``Tagger.tag_texts`` return, every
writer takes, the spaCy component reads (and a server would send): the sentence as read, the predicted tags,
their probabilities when asked for, and for raw text each word's place in the text; its entities, text and
spacing are derived from them. Beside it, the options of a run of writers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from tagger.corpus import Sentence
from tagger.schemes import NO_SCHEME, Task, tags_to_spans

Offsets = list[tuple[int, int]]


@dataclass(frozen=True)
class TaggedSentence:
    """A sentence as read, with the model's predictions."""

    sentence: Sentence  # words, (gold) tags or [], path, line of the first word, metadata
    tags: list[str]  # predicted, in ``scheme``
    scores: list[float]  # probability of each predicted tag; empty when probabilities were not asked for
    offsets: Offsets | None = None  # raw text only: each word's character span in the text it was read from
    scheme: str = "IOB2"  # of the span tags in ``tags``; "none" for word labels (POS), which have no entities

    @property
    def words(self) -> list[str]:
        return self.sentence.words

    def rows(self) -> Iterator[tuple[str, str, float | None]]:
        """(word, tag, probability) per word; the probability is None when it was not computed."""
        scores: Sequence[float | None] = self.scores or [None] * len(self.tags)
        return zip(self.words, self.tags, scores)

    def spans(self, scheme: str | None = None) -> list[tuple[str, int, int]]:
        """``(label, first word, end word exclusive)`` of each predicted entity; none for word labels."""
        scheme = scheme or self.scheme
        return [] if scheme == NO_SCHEME else tags_to_spans(self.tags, scheme)

    def span_score(self, start: int, end: int) -> float | None:
        """An entity's probability: the mean of its words' tag probabilities (None when they were not computed)."""
        return fmean(self.scores[start:end]) if self.scores else None

    def spacing(self) -> list[bool]:
        """Whether a space follows each word in ``text()``: as in the input for raw text, else between all words."""
        if self.offsets is not None:
            return spaces_after(self.offsets)
        return [True] * (len(self.words) - 1) + [False] * bool(self.words)

    def text(self) -> str:
        """The sentence as one line: words joined by a space, or for raw text by a space only where the input
        had whitespace (a line break or a run of spaces reads as one space, so the text stays one line)."""
        return "".join(word + " " * space for word, space in zip(self.words, self.spacing()))

    def word_starts(self) -> list[int]:
        """Where each word starts in ``text()``."""
        starts, position = [], 0
        for word, space in zip(self.words, self.spacing()):
            starts.append(position)
            position += len(word) + space
        return starts

    def text_span(self, starts: list[int], start: int, end: int) -> tuple[int, int]:
        """Where words ``start`` to ``end`` (exclusive) lie in ``text()``, given its ``word_starts()``."""
        return starts[start], starts[end - 1] + len(self.words[end - 1])

    def entities(self, scheme: str | None = None) -> list[dict[str, Any]]:
        """Each predicted entity: ``label``; ``start``/``end``, character offsets into the text the sentence was read
        from (raw text only); ``start_word``/``end_word``, word indices; and its ``text``."""
        text, starts = self.text(), self.word_starts()
        records = []
        for label, start, end in self.spans(scheme):
            record: dict[str, Any] = {"label": label}
            if self.offsets is not None:
                record.update(start=self.offsets[start][0], end=self.offsets[end - 1][1])
            first, last = self.text_span(starts, start, end)
            record.update(start_word=start, end_word=end, text=text[first:last])
            records.append(record)
        return records


@dataclass(frozen=True)
class WriterOptions:
    input_format: str  # a corpus format or text (tagger.corpus.INPUT_FORMATS)
    task: Task  # "spans" (NER, tags in `scheme`) or "labels" (POS etc.)
    scheme: str = "IOB2"
    probabilities: bool = False  # also write each tag's probability
    conllu_field: str = "misc"  # CoNLL-U output: put the prediction in "upos", "xpos" or "misc"
    encoding: str = "utf-8"  # of the input file
    shared_output: bool = False  # the outputs of other inputs go to the same stream (stdout or one -o file)
    model_version: str = ""  # names the model where an output records it (Label Studio's predictions)


def spaces_after(offsets: Offsets) -> list[bool]:
    """Whether whitespace follows each word in the input; the last word is taken as followed by none."""
    return [end < next_start for (_, end), (next_start, _) in zip(offsets, offsets[1:])] + [False] * bool(offsets)


def check_lengths(tagged: Sequence[TaggedSentence]) -> None:
    """One prediction per word, always: a mismatch is a bug in the caller, caught before a file is half-written."""
    for item in tagged:
        counts = {len(item.words), len(item.tags)} | ({len(item.scores)} if item.scores else set())
        if item.offsets is not None:
            counts.add(len(item.offsets))
        if len(counts) != 1:
            offsets = f", {len(item.offsets)} offsets" if item.offsets is not None else ""
            raise ValueError(
                f"{item.sentence.path}:{item.sentence.line}: {len(item.words)} words but "
                f"{len(item.tags)} tags, {len(item.scores)} scores{offsets}"
            )
