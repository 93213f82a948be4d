"""Tagging schemes for spans: IOB1, IOB2 and BIOES.

Everything here is a pure function on lists of tag strings. A span tag is
``O`` or a prefix (``B``, ``I``, ``E``, ``S``) and a type joined by a
hyphen: ``B-PER``. The prefix ends at the first hyphen, so a type may hold
hyphens of its own (``B-creative-work`` is type ``creative-work``), as
conlleval and seqeval read it. Spans are ``(type, start, end_exclusive)``
word offsets.

Invalid sequences are read the way conlleval reads them (the "lenient"
reading, also seqeval's default mode), so that converting, repairing and
scoring all agree on where the entities are:

* a chunk starts at ``B-``/``S-``, at an ``I-``/``E-`` after ``O``, ``E-`` or
  ``S-``, and wherever the type changes;
* a chunk ends after ``E-``/``S-``, before ``B-``/``S-``/``O``, and wherever
  the type changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal, get_args

from tagger.errors import SchemeError

SCHEMES = ("IOB1", "IOB2", "BIOES")
NO_SCHEME = "none"  # what detect_scheme says for POS-like tag sets
# What a model's tags are: "spans" (entities, chunks: tags in a scheme) or "labels" (one label a word, e.g. POS)
Task = Literal["spans", "labels"]
TASKS: tuple[Task, ...] = get_args(Task)

# A type: no whitespace, and a hyphen only inside it (``B--`` and ``B-PER-`` are typos, not types).
_TYPE = r"[^\s-](?:\S*[^\s-])?"
_SPAN_TAG = re.compile(rf"([BIES])-({_TYPE})")
_EXPECTED = "expected O or B-/I-/E-/S- followed by a type, e.g. B-PER"
_PREFIXES = {"IOB1": "BI", "IOB2": "BI", "BIOES": "BIES"}


def split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "")``.

    Raises SchemeError for anything else, because seqeval would silently
    read a bare ``PER`` as prefix ``P`` and type ``ER``.
    """
    if tag == "O":
        return "O", ""
    match = _SPAN_TAG.fullmatch(tag)
    if match:
        return match.group(1), match.group(2)
    raise SchemeError(f"malformed tag {tag!r}: {_EXPECTED}{_malformed_hint(tag)}")


def _malformed_hint(tag: str) -> str:
    if tag.upper() == "O" or _SPAN_TAG.fullmatch(tag.upper()):
        return f" (tags are case-sensitive: did you mean {tag.upper()!r}?)"
    if re.fullmatch(r"[BIES]-", tag):
        return " (the type is missing)"
    if re.fullmatch(r"[BIES]-\S+", tag):
        return " (a type cannot start or end with '-')"
    return ""


def is_span_tagset(tags: Iterable[str]) -> bool:
    """True when every tag is ``O`` or ``[BIES]-TYPE`` (NER, chunking).

    False for POS-like tag sets (``NOUN``, ``PRP$``, ``-LRB-``, ``_``).
    Never raises.
    """
    return all(map(is_span_tag, tags))


def is_span_tag(tag: str) -> bool:
    """True for ``O`` and ``[BIES]-TYPE``: the tags ``split_tag`` reads. Never raises."""
    return tag == "O" or _SPAN_TAG.fullmatch(tag) is not None


def detect_scheme(tag_seqs: Iterable[Sequence[str]]) -> str:
    """Guess the scheme of a corpus from its tag sequences.

    ``"none"`` for non-span tag sets (POS); ``"BIOES"`` if any ``E-``/``S-``
    tag; ``"IOB1"`` if any ``I-X`` begins a chunk (at sentence start, after
    ``O`` or after another type), which IOB2 forbids; else ``"IOB2"``
    (including all-``O`` data).
    """
    seqs = [list(seq) for seq in tag_seqs]
    if not is_span_tagset(tag for seq in seqs for tag in seq):
        return NO_SCHEME
    parsed = [[split_tag(tag) for tag in seq] for seq in seqs]
    if any(prefix in "ES" for seq in parsed for prefix, _ in seq):
        return "BIOES"
    if any(_has_iob1_signature(seq) for seq in parsed):
        return "IOB1"
    return "IOB2"


def _has_iob1_signature(parsed: Sequence[tuple[str, str]]) -> bool:
    previous_type = ""
    for prefix, type_ in parsed:
        if prefix == "I" and type_ != previous_type:
            return True
        previous_type = type_
    return False


def _check_scheme(scheme: str, allow_none: bool = False) -> None:
    valid = SCHEMES + (NO_SCHEME,) if allow_none else SCHEMES
    if scheme not in valid:
        raise SchemeError(f"unknown tagging scheme {scheme!r}; expected one of {', '.join(valid)}")


def _parse(tags: Sequence[str]) -> list[tuple[str, str]]:
    parsed = []
    for index, tag in enumerate(tags):
        try:
            parsed.append(split_tag(tag))
        except SchemeError as error:
            raise SchemeError(f"word {index}: {error}", index) from None
    return parsed


def tags_to_spans(tags: Sequence[str], scheme: str = "IOB2") -> list[tuple[str, int, int]]:
    """Entity spans ``(type, start, end_exclusive)`` in order.

    Invalid sequences get the lenient conlleval reading described in the
    module docstring; the same reading serves every scheme, since it agrees
    with each scheme's own reading on valid input.
    """
    _check_scheme(scheme)
    spans: list[tuple[str, int, int]] = []
    start, previous = -1, ("O", "")
    for index, current in enumerate(_parse(tags)):
        if start >= 0 and _ends_chunk(previous, current):
            spans.append((previous[1], start, index))
            start = -1
        if _starts_chunk(previous, current):
            start = index
        previous = current
    if start >= 0:
        spans.append((previous[1], start, len(tags)))
    return spans


def _ends_chunk(previous: tuple[str, str], current: tuple[str, str]) -> bool:
    """conlleval's endOfChunk: does the chunk holding ``previous`` stop before ``current``?"""
    (prev_prefix, prev_type), (prefix, type_) = previous, current
    if prev_prefix == "O":
        return False
    return prev_prefix in "ES" or prefix in "BSO" or prev_type != type_


def _starts_chunk(previous: tuple[str, str], current: tuple[str, str]) -> bool:
    """conlleval's startOfChunk: does a new chunk begin at ``current``?"""
    (prev_prefix, prev_type), (prefix, type_) = previous, current
    if prefix == "O":
        return False
    return prefix in "BS" or prev_prefix in "OES" or prev_type != type_


def spans_to_tags(spans: Iterable[tuple[str, int, int]], length: int, scheme: str = "IOB2") -> list[str]:
    """Tags for ``length`` words with the given non-overlapping spans.

    IOB1 writes ``B-`` only on the first word of an entity that directly
    follows another entity of the same type.
    """
    _check_scheme(scheme)
    tags = ["O"] * length
    previous_end, previous_type = -1, ""
    for type_, start, end in sorted(spans, key=lambda span: span[1]):
        _check_span(type_, start, end, length, previous_end)
        tags[start:end] = _span_tags(type_, end - start, scheme, previous_end == start and previous_type == type_)
        previous_end, previous_type = end, type_
    return tags


def _check_span(type_: str, start: int, end: int, length: int, previous_end: int) -> None:
    if not re.fullmatch(_TYPE, type_):
        raise SchemeError(
            f"span type {type_!r} must be non-empty, without spaces, and not start or end with '-'", start
        )
    if not 0 <= start < end <= length:
        raise SchemeError(f"span {type_} [{start}, {end}) does not fit in a sentence of {length} words", start)
    if start < previous_end:
        raise SchemeError(f"span {type_} [{start}, {end}) overlaps the span before it", start)


def _span_tags(type_: str, size: int, scheme: str, touches_same_type: bool) -> list[str]:
    if scheme == "BIOES":
        if size == 1:
            return [f"S-{type_}"]
        return [f"B-{type_}"] + [f"I-{type_}"] * (size - 2) + [f"E-{type_}"]
    first = "B" if scheme == "IOB2" or touches_same_type else "I"
    return [f"{first}-{type_}"] + [f"I-{type_}"] * (size - 1)


def convert_tags(tags: Sequence[str], source: str, target: str) -> list[str]:
    """Rewrite ``tags`` from scheme ``source`` to scheme ``target``.

    Entities are read leniently (an IOB1 ``I-X`` after ``O`` or another type
    starts an entity, i.e. becomes ``B-X`` in IOB2), so the output is always
    valid in ``target``; valid ``target`` input comes back unchanged. A
    prefix the source scheme does not have (``E-``/``S-`` in IOB) is an error,
    since it means the scheme was declared wrongly. ``"none"`` converts only
    to itself.
    """
    _check_scheme(source, allow_none=True)
    _check_scheme(target, allow_none=True)
    if NO_SCHEME in (source, target):
        if source != target:
            raise SchemeError(f"cannot convert tags between schemes {source!r} and {target!r}")
        return list(tags)
    for index, (prefix, _) in enumerate(_parse(tags)):
        if prefix != "O" and prefix not in _PREFIXES[source]:
            raise SchemeError(f"word {index}: {tags[index]!r} is not an {source} tag; is the scheme BIOES?", index)
    return spans_to_tags(tags_to_spans(tags, source), len(tags), target)


def per_tag_conversion(labels: Sequence[str], source: str, target: str) -> list[str] | None:
    """Each label's tag in ``target`` when converting a *valid* ``source`` sequence needs no context
    (the same scheme, or BIOES to IOB2: S- -> B-, E- -> I-); None when it does (to or from IOB1, to BIOES)."""
    if source == target:
        return list(labels)
    if (source, target) != ("BIOES", "IOB2"):
        return None
    return [{"S": "B", "E": "I"}.get(tag[0], tag[0]) + tag[1:] if tag != "O" else tag for tag in labels]


def repair_tags(tags: Sequence[str], scheme: str) -> tuple[list[str], int]:
    """A valid sequence in ``scheme`` and the number of words changed.

    The rule is the conlleval reading: find the entities leniently, then
    write them back in ``scheme``. In IOB2, an ``I-X`` that cannot continue
    (after ``O`` or another type) becomes ``B-X``; ``B-PER I-LOC`` becomes
    ``B-PER B-LOC``. In BIOES, an unclosed ``B-X I-X O`` becomes
    ``B-X E-X O`` and a lone ``I-X`` becomes ``S-X``. In IOB1, ``B-X`` that
    does not follow an ``X`` becomes ``I-X``. Scheme ``"none"`` changes
    nothing. Malformed tags raise SchemeError: there is no safe guess.
    """
    _check_scheme(scheme, allow_none=True)
    if scheme == NO_SCHEME:
        return list(tags), 0
    repaired = spans_to_tags(tags_to_spans(tags, scheme), len(tags), scheme)
    changed = sum(old != new for old, new in zip(tags, repaired))
    return repaired, changed


def find_violations(tags: Sequence[str], scheme: str) -> list[tuple[int, str]]:
    """``(word index, description)`` for each place ``tags`` breaks ``scheme``.

    Malformed tags are reported as violations (and read as ``O``) rather
    than raised, so one pass lists every problem. Scheme ``"none"`` has none.
    """
    _check_scheme(scheme, allow_none=True)
    if scheme == NO_SCHEME:
        return []
    violations = []
    previous = ("O", "")
    for index, tag in enumerate(tags):
        try:
            current = split_tag(tag)
        except SchemeError as error:
            violations.append((index, str(error)))
            current = ("O", "")
        problem = _transition_problem(previous, current, scheme, tag)
        if problem:
            violations.append((index, problem))
        previous = current
    if scheme == "BIOES" and previous[0] in "BI":
        violations.append((len(tags) - 1, f"sentence ends inside a {previous[1]} entity without E-{previous[1]}"))
    return violations


def _transition_problem(previous: tuple[str, str], current: tuple[str, str], scheme: str, tag: str) -> str:
    (prev_prefix, prev_type), (prefix, type_) = previous, current
    where = _describe_previous(previous)
    if prefix != "O" and prefix not in _PREFIXES[scheme]:
        return f"{tag} is not an {scheme} tag"
    if scheme == "IOB2" and prefix == "I" and (prev_prefix not in "BI" or prev_type != type_):
        return f"{tag} {where}; IOB2 starts every entity with B-{type_}"
    if scheme == "IOB1" and prefix == "B" and (prev_prefix not in "BI" or prev_type != type_):
        return f"{tag} {where}; IOB1 uses B-{type_} only between adjacent {type_} entities"
    if scheme == "BIOES":
        return _bioes_problem(previous, current, tag, where)
    return ""


def _bioes_problem(previous: tuple[str, str], current: tuple[str, str], tag: str, where: str) -> str:
    (prev_prefix, prev_type), (prefix, type_) = previous, current
    inside = prev_prefix in "BI"
    if prefix in "IE" and not (inside and prev_type == type_):
        return f"{tag} {where}; a BIOES entity starts with B-{type_} or is S-{type_}"
    if prefix in "BSO" and inside:
        return f"{tag} {where}; the {prev_type} entity is not closed with E-{prev_type}"
    return ""


def _describe_previous(previous: tuple[str, str]) -> str:
    # The index is reported separately; this phrase says what came before.
    prev_prefix, prev_type = previous
    return "after O or at sentence start" if prev_prefix == "O" else f"after {prev_prefix}-{prev_type}"


def allowed_transitions(labels: Sequence[str], scheme: str) -> tuple[list[bool], list[list[bool]], list[bool]]:
    """Masks for constrained decoding over ``labels``.

    Returns ``(allowed_start, allowed, allowed_end)``: label ``j`` may begin
    a sentence, label ``j`` may follow label ``i`` (``allowed[i][j]``), label
    ``i`` may end a sentence. Special labels such as ``<pad>`` are never
    allowed. Schemes: IOB1, IOB2, BIOES, or ``"none"`` (no constraints).
    A label outside the scheme's prefixes raises SchemeError.
    """
    _check_scheme(scheme, allow_none=True)
    special = [_is_special(label) for label in labels]
    if scheme == NO_SCHEME:
        usable = [not flag for flag in special]
        return list(usable), [[a and b for b in usable] for a in usable], list(usable)
    parsed = [None if flag else _parse_label(label, scheme) for label, flag in zip(labels, special)]
    start_state = ("O", "")
    start = [p is not None and not _transition_problem(start_state, p, scheme, "") for p in parsed]
    allowed = [
        [a is not None and b is not None and not _transition_problem(a, b, scheme, "") for b in parsed] for a in parsed
    ]
    end = [p is not None and (scheme != "BIOES" or p[0] in "OES") for p in parsed]
    return start, allowed, end


def _is_special(label: str) -> bool:
    return label.startswith("<") and label.endswith(">")


def _parse_label(label: str, scheme: str) -> tuple[str, str]:
    prefix, type_ = split_tag(label)
    if prefix != "O" and prefix not in _PREFIXES[scheme]:
        raise SchemeError(f"label {label!r} is not an {scheme} tag; the label set does not match the scheme")
    return prefix, type_
