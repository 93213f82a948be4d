"""Pure checks and conversions of a corpus's tag sequences, shared by file and hub readers.

Span tag sets (NER, chunks) are validated tag by tag, converted to IOB2 (the library's internal
scheme) and repaired with the conlleval reading of ``schemes.repair_tags``; POS tag sets pass
through untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

from tagger.errors import SchemeError
from tagger.schemes import Task, convert_tags, detect_scheme, find_violations, is_span_tag, repair_tags, split_tag

INTERNAL_SCHEME = "IOB2"


class TagProblem(Exception):
    """A tag that cannot be read; callers turn it into an error naming the file and line."""

    def __init__(self, sentence_index: int, word_index: int, message: str):
        super().__init__(message)
        self.sentence_index, self.word_index, self.message = sentence_index, word_index, message


def is_span_intended(tag_seqs: Sequence[Sequence[str]], declared: str) -> bool:
    """Whether the tags are meant as spans: a span scheme was declared, or any tag is ``O`` or
    ``B-X``-like. Deliberately looser than ``schemes.is_span_tagset`` so that one bare ``PER`` among
    ``B-PER`` tags is reported as an error instead of turning the whole corpus into POS tags."""
    if declared != "auto":
        return declared != "none"
    tag_set = {tag for tags in tag_seqs for tag in tags}
    return any(is_span_tag(tag) for tag in tag_set)


def check_span_tags(tag_seqs: Sequence[Sequence[str]]) -> None:
    """Raise TagProblem at the first tag that is not ``O`` or ``[BIES]-TYPE``."""
    valid: set[str] = set()  # corpora repeat a few dozen tags; check each once
    for sentence_index, tags in enumerate(tag_seqs):
        for word_index, tag in enumerate(tags):
            if tag in valid:
                continue
            try:
                split_tag(tag)
            except SchemeError as error:
                raise TagProblem(sentence_index, word_index, str(error)) from None
            valid.add(tag)


def normalize_tags(
    tag_seqs: Sequence[list[str]], declared: str, strict: bool = False
) -> tuple[list[list[str]], str, int]:
    """Span tags -> ``(IOB2 tag sequences, scheme of the input, number of repaired words)``.

    ``declared`` is the configured scheme (``auto`` detects it). Invalid sequences are first
    repaired within the input scheme (counted), then converted to IOB2; with ``strict`` they
    are refused instead.
    """
    if not is_span_intended(tag_seqs, declared):
        return [list(tags) for tags in tag_seqs], "none", 0
    check_span_tags(tag_seqs)
    scheme = detect_scheme(tag_seqs) if declared == "auto" else declared
    if strict:
        check_sequences(tag_seqs, scheme)
    converted, repaired = [], 0
    for sentence_index, tags in enumerate(tag_seqs):
        try:
            # convert_tags reads invalid sequences the way repair_tags does, and also refuses
            # prefixes the scheme lacks (E-/S- declared as IOB), so it does the repair too.
            iob2 = convert_tags(tags, scheme, INTERNAL_SCHEME)
        except SchemeError as error:
            raise TagProblem(sentence_index, max(error.index, 0), str(error)) from None
        repaired += _count_repairs(tags, iob2, scheme)
        converted.append(iob2)
    return converted, scheme, repaired


def check_sequences(tag_seqs: Sequence[Sequence[str]], scheme: str) -> None:
    """Raise TagProblem at the first word that breaks ``scheme`` (strict reading: nothing is repaired)."""
    for sentence_index, tags in enumerate(tag_seqs):
        violations = find_violations(tags, scheme)
        if violations:
            word_index, message = violations[0]
            raise TagProblem(sentence_index, word_index, f"{message} (strict {scheme})")


def _count_repairs(tags: Sequence[str], iob2: list[str], scheme: str) -> int:
    if scheme == INTERNAL_SCHEME:
        return sum(old != new for old, new in zip(tags, iob2))
    return repair_tags(tags, scheme)[1]


# The 17 Universal POS tags (UD v2); spaCy's ``token.pos_`` accepts these (and its own SPACE).
UNIVERSAL_POS = frozenset(
    {
        "ADJ",
        "ADP",
        "ADV",
        "AUX",
        "CCONJ",
        "DET",
        "INTJ",
        "NOUN",
        "NUM",
        "PART",
        "PRON",
        "PROPN",
        "PUNCT",
        "SCONJ",
        "SYM",
        "VERB",
        "X",
    }
)


def not_universal_pos(labels: Sequence[str]) -> list[str]:
    """The labels ``token.pos_`` cannot hold (all but the Universal POS tags and spaCy's SPACE), sorted."""
    return sorted(set(labels) - UNIVERSAL_POS - {"SPACE"})


def spacy_attribute(labels: Sequence[str], task: Task) -> str:
    """Where spaCy keeps tags like these: ``ents`` for spans, ``pos`` when every label is a Universal
    POS tag, ``tag`` for any other tag set (PTB, XPOS, chunk labels without a scheme)."""
    if task == "spans":
        return "ents"
    return "tag" if not_universal_pos(labels) else "pos"
