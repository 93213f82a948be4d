"""The plain records every reader yields and every writer takes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sentence:
    """One sentence: its words, their tags (``[]`` for raw input) and where it came from."""

    words: list[str]
    tags: list[str]
    path: str = "<memory>"
    line: int = 0  # 1-based line of the first word; 0 when not read from a file
    # CoNLL-U comments ("sent_id", "text", "newdoc id", ...); CoNLL: {"docstart": "1"} opens a document
    metadata: dict[str, str] = field(default_factory=dict)
    # Lines after the first word that the reader skipped (a word of only invisible characters), so that a word's
    # own line can still be found; empty for nearly every sentence.
    skipped_lines: tuple[int, ...] = ()


def word_line(sentence: Sentence, index: int) -> int:
    """The line of word ``index`` in a format of one word per line and nothing between (CoNLL columns)."""
    line = sentence.line + index
    for skipped in sentence.skipped_lines:  # in file order
        if skipped <= line:
            line += 1
    return line


@dataclass(frozen=True)
class CorpusReport:
    """What ``read_corpus`` found and did, for ``tagger data`` and training logs."""

    path: str
    format: str
    sentences: int
    words: int
    documents: int  # documents marked by -DOCSTART- / "# newdoc"; 1 when the file marks none
    scheme: str  # scheme of the file (declared or detected): IOB1 | IOB2 | BIOES | none
    repaired: int  # words whose tag was repaired to a valid sequence
    skipped_empty: int  # zero-word sentences skipped
    # lines read leniently, by kind: a byte-order mark dropped, whitespace-only lines, CoNLL-U comments inside a
    # sentence, invisible characters (a line of them, one starting a word, a word of nothing else)
    repaired_lines: dict[str, int] = field(default_factory=dict)
    first_repaired: dict[str, str] = field(default_factory=dict)  # kind -> "path:line" where it was first met
    # A dev split held out of the training file rather than read from one: which part, by what rule (the
    # record metrics.json keeps: unit, units, indices, share, seed); empty for a file as read.
    held_out: dict[str, Any] = field(default_factory=dict)


def opens_document(sentence: Sentence) -> bool:
    """Whether the sentence starts a document (CoNLL -DOCSTART-, CoNLL-U ``# newdoc``)."""
    return bool(document_mark(sentence))


def document_mark(sentence: Sentence) -> dict[str, str]:
    """The metadata that makes the sentence open a document (``docstart``, ``newdoc``, ``newdoc id``)."""
    return {key: value for key, value in sentence.metadata.items() if key == "docstart" or key.startswith("newdoc")}


def drop_empty(sentences: Iterable[Sentence]) -> Iterator[Sentence]:
    """The sentences that have words. A zero-word sentence that opens a document hands its mark on to the
    next sentence (as the CoNLL and DocBin readers do), else dropping it would join its document to the
    one before; a document without words disappears."""
    mark: dict[str, str] = {}
    for sentence in sentences:
        if not sentence.words:
            mark = document_mark(sentence) or mark
            continue
        if mark and not opens_document(sentence):
            sentence = dataclasses.replace(sentence, metadata={**mark, **sentence.metadata})
        mark = {}
        yield sentence


def document_ids(sentences: Sequence[Sentence]) -> list[int]:
    """The document of each sentence, numbered from 0; a file that marks none is one document."""
    ids, current = [], 0
    for index, sentence in enumerate(sentences):
        if index and (opens_document(sentence) or sentence.path != sentences[index - 1].path):
            current += 1
        ids.append(current)
    return ids
