"""The plain records every reader yields and every writer takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence


@dataclass(frozen=True)
class Sentence:
    """One sentence: its words, their tags (``[]`` for raw input) and where it came from."""

    words: list[str]
    tags: list[str]
    path: str = "<memory>"
    line: int = 0  # 1-based line of the first word; 0 when not read from a file
    # CoNLL-U comments ("sent_id", "text", "newdoc id", ...); CoNLL: {"docstart": "1"} opens a document
    metadata: dict[str, str] = field(default_factory=dict)


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
    # lines read leniently, by kind: a byte-order mark dropped, whitespace-only lines, CoNLL-U comments inside a sentence
    repaired_lines: dict[str, int] = field(default_factory=dict)


def opens_document(sentence: Sentence) -> bool:
    """Whether the sentence starts a document (CoNLL -DOCSTART-, CoNLL-U ``# newdoc``)."""
    return any(key == "docstart" or key.startswith("newdoc") for key in sentence.metadata)


def document_ids(sentences: Sequence[Sentence]) -> list[int]:
    """The document of each sentence, numbered from 0; a file that marks none is one document."""
    ids, current = [], 0
    for index, sentence in enumerate(sentences):
        if index and (opens_document(sentence) or sentence.path != sentences[index - 1].path):
            current += 1
        ids.append(current)
    return ids
