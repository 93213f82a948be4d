"""What every writer takes: a tagged sentence, the options of a run, and what can be derived from them
(the sentence's text, the spacing between its words, its entities)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from tagger.corpus import Sentence
from tagger.schemes import tags_to_spans

Offsets = list[tuple[int, int]]


@dataclass(frozen=True)
class TaggedSentence:
    """A sentence as read, with the model's predictions."""

    sentence: Sentence  # words, (gold) tags or [], path, line of the first word, metadata
    tags: list[str]  # predicted, already in the scheme asked for
    scores: list[float]  # probability of each predicted tag; empty when probabilities were not asked for
    offsets: Offsets | None = None  # raw text only: each word's character span in the input file

    @property
    def words(self) -> list[str]:
        return self.sentence.words

    def rows(self) -> Iterator[tuple[str, str, float | None]]:
        """(word, tag, probability) per word; the probability is None when it was not computed."""
        return zip(self.words, self.tags, self.scores or [None] * len(self.tags))


@dataclass(frozen=True)
class WriterOptions:
    input_format: str  # conll | conllu | jsonl | spacy | text
    task: str  # "spans" (NER, tags in `scheme`) or "labels" (POS etc.)
    scheme: str = "IOB2"
    probabilities: bool = False  # also write each tag's probability
    conllu_field: str = "misc"  # CoNLL-U output: put the prediction in "upos", "xpos" or "misc"
    encoding: str = "utf-8"  # of the input file
    shared_output: bool = False  # the outputs of other inputs go to the same stream (stdout or one -o file)


def spaces_after(offsets: Offsets) -> list[bool]:
    """Whether whitespace follows each word in the input; the last word is taken as followed by none."""
    return [end < next_start for (_, end), (next_start, _) in zip(offsets, offsets[1:])] + [False] * bool(offsets)


def word_spacing(tagged: TaggedSentence) -> list[bool]:
    """Whether a space follows each word in ``sentence_text``: as in the input for raw text, else between all words."""
    if tagged.offsets is not None:
        return spaces_after(tagged.offsets)
    return [True] * (len(tagged.words) - 1) + [False] * bool(tagged.words)


def sentence_text(tagged: TaggedSentence) -> str:
    """The sentence as one line: words joined by a space, or for raw text by a space only where the input
    had whitespace (a line break or a run of spaces reads as one space, so the text stays one line)."""
    return "".join(word + " " * space for word, space in zip(tagged.words, word_spacing(tagged)))


def word_starts(tagged: TaggedSentence) -> list[int]:
    """Where each word starts in ``sentence_text``."""
    starts, position = [], 0
    for word, space in zip(tagged.words, word_spacing(tagged)):
        starts.append(position)
        position += len(word) + space
    return starts


def entity_spans(tagged: TaggedSentence, scheme: str) -> list[tuple[str, int, int]]:
    """``(label, first word, end word exclusive)`` of each predicted entity."""
    return tags_to_spans(tagged.tags, scheme)


def text_span(tagged: TaggedSentence, starts: list[int], start: int, end: int) -> tuple[int, int]:
    """Where words ``start`` to ``end`` (exclusive) lie in ``sentence_text``, given its ``word_starts``."""
    return starts[start], starts[end - 1] + len(tagged.words[end - 1])


def entity_records(tagged: TaggedSentence, scheme: str) -> list[dict[str, Any]]:
    """Entities as ``TaggedText.entities()`` gives them, plus their text: ``start``/``end`` are character
    offsets into the input file (raw text only), ``start_word``/``end_word`` word indices."""
    text, starts = sentence_text(tagged), word_starts(tagged)
    records = []
    for label, start, end in entity_spans(tagged, scheme):
        record: dict[str, Any] = {"label": label}
        if tagged.offsets is not None:
            record.update(start=tagged.offsets[start][0], end=tagged.offsets[end - 1][1])
        first, last = text_span(tagged, starts, start, end)
        record.update(start_word=start, end_word=end, text=text[first:last])
        records.append(record)
    return records


def check_lengths(tagged: Sequence[TaggedSentence]) -> None:
    """One prediction per word, always: a mismatch is a bug in the caller, caught before a file is half-written."""
    for item in tagged:
        counts = {len(item.words), len(item.tags)} | ({len(item.scores)} if item.scores else set())
        if item.offsets is not None:
            counts.add(len(item.offsets))
        if len(counts) != 1:
            offsets = f", {len(item.offsets)} offsets" if item.offsets is not None else ""
            raise ValueError(f"{item.sentence.path}:{item.sentence.line}: {len(item.words)} words but "
                             f"{len(item.tags)} tags, {len(item.scores)} scores{offsets}")
