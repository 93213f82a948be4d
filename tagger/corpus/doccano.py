"""doccano's JSONL export of a sequence-labeling project, read and written: one document per line
(``corpus.spans``).

A record's text is ``text``; its spans are ``label`` as ``[[start, end, "TYPE"], ...]`` (also read under
``labels``, doccano's older name), or, from a project with relations, ``entities`` as
``[{"start_offset": 0, "end_offset": 5, "label": "TYPE"}, ...]``. A record with neither key is skipped and
counted; an empty list is a document without entities. doccano counts offsets in UTF-16 code units, as its
browser front end does (a character beyond U+FFFF, such as most emoji, counts two); they are converted to
characters, and written back the same way. (A project set to count grapheme clusters as one character exports
offsets that neither count gives: it is not read correctly.)

A record may also give its words and sentences (``tokens``, ``sents``, in characters: ``corpus.spans``); doccano
keeps a record's other keys as its metadata and exports them beside ``text``.

Written (``tagger convert --to doccano``): one record per sentence, ``text`` its words joined by spaces, ``label``
its entities, and those words and its one sentence as ``tokens`` and ``sents`` (so that it reads back as the same
words).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from tagger.config import CorpusConfig
from tagger.corpus.sentence import Sentence
from tagger.corpus.spans import (
    Alignment,
    CharSpan,
    SpanRecord,
    check_label,
    offset,
    read_record_lines,
    sentence_spans,
    with_given_words,
)
from tagger.corpus.writing import unencodable

EXPECTED = 'one JSON object per line like {"text": "Paris is big", "label": [[0, 5, "LOC"]]}'
NO_ANNOTATION = "record without spans (label or entities) skipped"
SPAN_KEYS = ("label", "labels", "entities")


def is_doccano(first: Any) -> bool:
    """Whether the first JSON value of a file is a doccano record: ``text`` with ``label(s)`` or ``entities``."""
    return isinstance(first, dict) and isinstance(first.get("text"), str) and any(k in first for k in SPAN_KEYS)


def read_doccano(
    path: str | Path,
    config: CorpusConfig = CorpusConfig(),
    *,
    tags_required: bool = True,
    repairs: Counter[str] | None = None,
) -> Iterator[Sentence]:
    """Yield the sentences of each record with spans (of every record when ``tags_required`` is False, untagged),
    the first marking the document (``newdoc id``: the record's id, where it has one); ``repairs`` as for
    ``read_lines``."""
    name = str(path)
    to_record = lambda value, line_no: line_record(value, name, line_no, tags_required)
    records = read_record_lines(name, config.encoding, repairs, to_record, EXPECTED, NO_ANNOTATION)
    return Alignment(name, config.snap_spans, repairs).sentences(records)


def line_record(value: Any, path: str, line_no: int, tags_required: bool) -> SpanRecord | None:
    text = value.get("text") if isinstance(value, dict) else None
    if not isinstance(text, str):
        found = f"keys {sorted(value)}" if isinstance(value, dict) else f"a JSON {type(value).__name__}"
        raise SpanRecord("", None, path, line_no).problem(found, EXPECTED)
    record_id = value.get("id")
    known = isinstance(record_id, (int, str)) and not isinstance(record_id, bool) and not unencodable(str(record_id))
    mark = {"newdoc id": str(record_id)} if known else {"newdoc": str(line_no)}
    record = with_given_words(value, SpanRecord(text, None, path, line_no, metadata=mark))
    if not tags_required:
        return record
    key = next((k for k in SPAN_KEYS if k in value), None)
    if key is None:
        return None
    items = value[key]
    if not isinstance(items, list):
        raise record.problem(f'"{key}": {json.dumps(items)[:60]}', f'"{key}" as a list of spans')
    read = entity_span if key == "entities" else triple_span
    spans = [read(item, record) for item in items]
    return replace(record, spans=to_characters(spans, record))


def triple_span(item: Any, record: SpanRecord) -> CharSpan:
    if isinstance(item, list) and len(item) == 3 and offset(item[0]) is not None and offset(item[1]) is not None:
        return CharSpan(item[0], item[1], check_label(item[2], record))
    hint = "a text-classification export holds category names" if isinstance(item, str) else ""
    found = f"span {json.dumps(item, ensure_ascii=False)[:60]}"
    raise record.problem(found, 'spans as [start, end, "TYPE"] with integer offsets', hint)


def entity_span(item: Any, record: SpanRecord) -> CharSpan:
    fields = item if isinstance(item, dict) else {}
    start, end = offset(fields.get("start_offset")), offset(fields.get("end_offset"))
    if start is None or end is None or "label" not in fields:
        found = f"entity {json.dumps(item, ensure_ascii=False)[:80]}"
        raise record.problem(found, 'entities like {"start_offset": 0, "end_offset": 5, "label": "TYPE"}')
    return CharSpan(start, end, check_label(fields["label"], record))


def to_characters(spans: list[CharSpan], record: SpanRecord) -> list[CharSpan]:
    """Offsets in UTF-16 code units as characters; one inside a character of two units is refused."""
    units = character_of_unit(record.text)
    if units is None:
        return spans
    converted = []
    for span in spans:
        start, end = units.get(span.start), units.get(span.end)
        if start is None or end is None:
            inside = span.start if start is None else span.end
            raise record.problem(
                f"span [{span.start}, {span.end}) ({span.label}): offset {inside} is not between characters "
                f"of the text counted in UTF-16 code units ({max(units)} of them)",
                "offsets as doccano counts them (UTF-16 code units)",
            )
        converted.append(CharSpan(start, end, span.label))
    return converted


def character_of_unit(text: str) -> dict[int, int] | None:
    """UTF-16 code unit index -> character index at each character boundary; None when the two counts agree
    (every character below U+10000)."""
    if all(ord(char) < 0x10000 for char in text):
        return None
    mapping, unit = {}, 0
    for index, char in enumerate(text):
        mapping[unit] = index
        unit += 2 if ord(char) >= 0x10000 else 1
    mapping[unit] = len(text)
    return mapping


def utf16_offset(text: str, index: int) -> int:
    """Where character ``index`` of ``text`` starts, counted in UTF-16 code units."""
    return index + sum(1 for char in text[:index] if ord(char) >= 0x10000)


def write_doccano(sentences: Iterable[Sentence], stream: TextIO) -> None:
    """One record per sentence: ``text`` and ``label`` (UTF-16 offsets); an untagged sentence has no ``label``."""
    for sentence in sentences:
        text, spans, words = sentence_spans(sentence, "doccano JSONL")
        record: dict[str, Any] = {"text": text}
        if sentence.tags:
            record["label"] = doccano_spans(text, spans)
        record.update(words)
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")


def doccano_spans(text: str, spans: Iterable[tuple[int, int, str]]) -> list[list[Any]]:
    return [[utf16_offset(text, start), utf16_offset(text, end), label] for start, end, label in spans]
