"""spaCy's and Prodigy's JSON Lines of character spans, read and written: one document per line
(``corpus.spans``).

A record's text is ``text``; its spans are ``spans``, ``[{"start": 0, "end": 5, "label": "TYPE"}, ...]`` (other
keys, such as ``token_start``, are passed over). Where a record gives ``tokens``
(``[{"text": "Paris", "start": 0, "end": 5}, ...]``, as Prodigy saves them) and ``sents``, they are its words and
sentences (``corpus.spans``); else the tokenizer of ``tagger tag`` splits the text. A record Prodigy saved with an
``answer`` other than ``accept`` (``reject``, ``ignore``), or without ``spans``, is skipped and counted.

Written (``tagger convert --to prodigy``): one record per sentence, with its words as ``tokens`` and its one
sentence as ``sents``, so that it reads back as the same words, and ``"answer": "accept"``.
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

EXPECTED = 'one JSON object per line like {"text": "Paris is big", "spans": [{"start": 0, "end": 5, "label": "LOC"}]}'
NO_ANNOTATION = "record without spans, or not accepted, skipped"
ACCEPTED = "accept"


def is_prodigy(first: Any) -> bool:
    """Whether the first JSON value of a file is a spaCy/Prodigy record: ``text`` with ``spans``, or with
    ``tokens`` as objects (a JSONL corpus's ``tokens`` are strings)."""
    if not isinstance(first, dict) or not isinstance(first.get("text"), str):
        return False
    tokens = first.get("tokens")
    return "spans" in first or (isinstance(tokens, list) and bool(tokens) and isinstance(tokens[0], dict))


def read_prodigy(
    path: str | Path,
    config: CorpusConfig = CorpusConfig(),
    *,
    tags_required: bool = True,
    repairs: Counter[str] | None = None,
) -> Iterator[Sentence]:
    """Yield the sentences of each accepted record with spans (of every record when ``tags_required`` is False,
    untagged), the first marking the document; ``repairs`` as for ``read_lines``."""
    name = str(path)
    to_record = lambda value, line_no: line_record(value, name, line_no, tags_required)
    records = read_record_lines(name, config.encoding, repairs, to_record, EXPECTED, NO_ANNOTATION)
    return Alignment(name, config.snap_spans, repairs).sentences(records)


def line_record(value: Any, path: str, line_no: int, tags_required: bool) -> SpanRecord | None:
    text = value.get("text") if isinstance(value, dict) else None
    if not isinstance(text, str):
        found = f"keys {sorted(value)}" if isinstance(value, dict) else f"a JSON {type(value).__name__}"
        raise SpanRecord("", None, path, line_no).problem(found, EXPECTED)
    record = with_given_words(value, SpanRecord(text, None, path, line_no, metadata={"newdoc": str(line_no)}))
    if not tags_required:
        return record
    if value.get("answer", ACCEPTED) != ACCEPTED or "spans" not in value:
        return None
    spans = value["spans"]
    if not isinstance(spans, list):
        raise record.problem(f'"spans": {json.dumps(spans)[:60]}', '"spans" as a list of spans')
    return replace(record, spans=[read_span(span, record) for span in spans])


def read_span(item: Any, record: SpanRecord) -> CharSpan:
    fields = item if isinstance(item, dict) else {}
    start, end = offset(fields.get("start")), offset(fields.get("end"))
    if start is None or end is None or "label" not in fields:
        found = f"span {json.dumps(item, ensure_ascii=False)[:80]}"
        raise record.problem(found, 'spans like {"start": 0, "end": 5, "label": "TYPE"}')
    return CharSpan(start, end, check_label(fields["label"], record))


def write_prodigy(sentences: Iterable[Sentence], stream: TextIO) -> None:
    """One record per sentence: ``text``, ``tokens`` and ``spans``; an untagged sentence has no ``spans``."""
    for sentence in sentences:
        text, spans, words = sentence_spans(sentence, "spaCy/Prodigy JSONL")
        record: dict[str, Any] = {"text": text, **words}
        if sentence.tags:
            starts = [token["start"] for token in words["tokens"]]
            record["spans"] = [
                {
                    "start": start,
                    "end": end,
                    "token_start": starts.index(start),
                    "token_end": ends_at(starts, end),
                    "label": label,
                }
                for start, end, label in spans
            ]
            record["answer"] = ACCEPTED
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")


def ends_at(starts: list[int], end: int) -> int:
    """The index of the last token ending at ``end`` (Prodigy's ``token_end`` is inclusive)."""
    return sum(1 for start in starts if start < end) - 1
