"""Label Studio's JSON export, read and written: a JSON array of tasks, each a document (``corpus.spans``).

A task's text is ``data.text``; its spans are the ``labels`` results (``value.start``, ``value.end``, in characters,
and ``value.labels``, one label) of its latest annotation that was not cancelled (``was_cancelled``): the latest
by ``updated_at`` (else ``created_at``) where every annotation has one, else the last in the list. Other results
(choices, relations, text areas) are passed over; spans of other kinds (``hypertextlabels``, image regions) are
refused. A task without such an annotation is skipped and counted; one whose annotation has no spans is all ``O``.
Label Studio before 1.0 named annotations ``completions``, which are read the same way. ``value.text``, where a
result gives it, must be the text at its offsets.

A task's ``data`` may also give its words and sentences (``tokens``, ``sents``: ``corpus.spans``); Label Studio keeps
them through an export, as it keeps every field of a task's data.

Written (``tagger convert --to labelstudio``): one task per sentence, its words joined by spaces, with those words
and its one sentence as ``data.tokens`` and ``data.sents`` (so that it reads back as the same words), its entities
as an annotation's ``labels`` results (``from_name`` ``label``, ``to_name`` ``text``, as Label Studio's
named-entity template names them), each task on a line of its own.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from tagger.config import CorpusConfig
from tagger.corpus.lines import count_repair, read_lines
from tagger.corpus.sentence import Sentence
from tagger.corpus.spans import (
    Alignment,
    CharSpan,
    SpanRecord,
    check_label,
    offset,
    sentence_spans,
    with_given_words,
)
from tagger.corpus.writing import unencodable
from tagger.errors import CorpusFormatError

EXPECTED = 'a JSON array of Label Studio tasks, each like {"data": {"text": "..."}, "annotations": [...]}'
NO_ANNOTATION = "task without an annotation skipped"
SPAN_RESULT = "labels"  # the result type of Label Studio's Labels tag on a Text object
FROM_NAME, TO_NAME = "label", "text"  # the names of Label Studio's named-entity template, as written here


def is_labelstudio(first: Any) -> bool:
    """Whether the first JSON value of a file is Label Studio's: an array (of tasks), or one task object."""
    return isinstance(first, list) or (
        isinstance(first, dict) and "data" in first and any(k in first for k in ("annotations", "completions"))
    )


def read_labelstudio(
    path: str | Path,
    config: CorpusConfig = CorpusConfig(),
    *,
    tags_required: bool = True,
    repairs: Counter[str] | None = None,
) -> Iterator[Sentence]:
    """Yield the sentences of each annotated task (of every task when ``tags_required`` is False, untagged),
    the first marking the document (``newdoc id``: the task's id); ``repairs`` as for ``read_lines``."""
    name = str(path)
    tasks = read_tasks(name, config.encoding, repairs)
    records = (
        record
        for index, line_no, task in tasks
        if (record := task_record(task, index, name, line_no, tags_required, repairs)) is not None
    )
    return Alignment(name, config.snap_spans, repairs).sentences(records)


def read_tasks(path: str, encoding: str, repairs: Counter[str] | None) -> Iterator[tuple[int, int, Any]]:
    """``(index, line, task)`` of each task of the file's array (or of its one task object), the line being where
    the task starts, so that a message can name it."""
    lines = [text for _, text in read_lines(path, encoding, repairs)]
    text = "\n".join(lines)
    line_starts = [0]
    for line in lines[:-1]:
        line_starts.append(line_starts[-1] + len(line) + 1)
    decoder = json.JSONDecoder()
    position = skip_space(text, 0)
    if position == len(text):
        return
    if text[position] != "[":  # one task object, as Label Studio also imports
        task, end = decode(decoder, text, position, path)
        if skip_space(text, end) < len(text):
            raise CorpusFormatError(path, bisect_right(line_starts, end), "more after the task object", EXPECTED)
        yield 0, 1, task
        return
    position, index = skip_space(text, position + 1), 0
    while position < len(text) and text[position] != "]":
        task, end = decode(decoder, text, position, path)
        yield index, bisect_right(line_starts, position), task
        index, position = index + 1, skip_space(text, end)
        if position < len(text) and text[position] == ",":
            position = skip_space(text, position + 1)
        elif position < len(text) and text[position] != "]":
            line_no = bisect_right(line_starts, position)
            raise CorpusFormatError(path, line_no, f"{text[position]!r} after task {index}", "',' or ']'")
    if position >= len(text):
        raise CorpusFormatError(path, len(lines), "the end of the file inside the array", "']' closing it")


def skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def decode(decoder: json.JSONDecoder, text: str, position: int, path: str) -> tuple[Any, int]:
    try:
        return decoder.raw_decode(text, position)
    except json.JSONDecodeError as error:
        raise CorpusFormatError(
            path, error.lineno, f"invalid JSON ({error.msg} at column {error.colno})", EXPECTED
        ) from None
    except (RecursionError, ValueError) as error:  # nested too deeply; an integer of over 4,300 digits
        raise CorpusFormatError(
            path, text.count("\n", 0, position) + 1, f"JSON Python cannot read ({error})", EXPECTED
        ) from None


def task_record(
    task: Any, index: int, path: str, line_no: int, tags_required: bool, repairs: Counter[str] | None
) -> SpanRecord | None:
    """The task as a record of text and spans; None for a task skipped (no annotation) when tags are required."""
    task_id = task.get("id") if isinstance(task, dict) else None
    task_id = task_id if isinstance(task_id, (int, str)) and not isinstance(task_id, bool) else None
    name = f"task {index + 1}" + (f" (id {task_id})" if task_id is not None else "")
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        found = (
            f"{name}: a JSON {type(task).__name__}" if not isinstance(task, dict) else f"{name}: keys {sorted(task)}"
        )
        raise CorpusFormatError(path, line_no, found, EXPECTED, "read Label Studio's JSON export, not JSON-MIN or CSV")
    text = task["data"].get("text")
    mark = (
        {"newdoc id": str(task_id)} if task_id is not None and not unencodable(str(task_id)) else {"newdoc": str(index)}
    )
    record = SpanRecord(text if isinstance(text, str) else "", None, path, line_no, name, metadata=mark)
    if not isinstance(text, str):
        raise record.problem(
            f"data keys {sorted(task['data'])}",
            'the text as "data": {"text": "..."}',
            "a labeling config that names it otherwise ($document) needs the key renamed to text",
        )
    record = with_given_words(task["data"], record)
    if not tags_required:
        return record
    annotation = latest_annotation(task, record)
    if annotation is None:
        count_repair(repairs, NO_ANNOTATION, path, line_no)
        return None
    return replace(record, spans=result_spans(annotation, record))


def latest_annotation(task: dict[str, Any], record: SpanRecord) -> dict[str, Any] | None:
    annotations = task.get("annotations", task.get("completions", []))
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        raise record.problem(f'"annotations": {json.dumps(annotations)[:60]}', '"annotations" as a list of objects')
    kept = [a for a in annotations if not a.get("was_cancelled")]
    if not kept:
        return None
    times = [annotation_time(a) for a in kept]
    if any(time is None for time in times):
        return kept[-1]
    return max(zip(times, range(len(kept)), kept))[2]


def annotation_time(annotation: dict[str, Any]) -> datetime | None:
    """When the annotation was last saved: ``updated_at``, else ``created_at``; an ISO 8601 string (seconds since
    1970 in Label Studio before 1.0); a time without a zone is taken as UTC."""
    value = annotation.get("updated_at", annotation.get("created_at"))
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if not isinstance(value, str):
            return None
        time = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):  # not a time, or one out of datetime's range
        return None
    return time if time.tzinfo else time.replace(tzinfo=UTC)


def result_spans(annotation: dict[str, Any], record: SpanRecord) -> list[CharSpan]:
    results = annotation.get("result", [])
    if not isinstance(results, list):
        raise record.problem(f'"result": {json.dumps(results)[:60]}', '"result" as a list of results')
    spans = []
    for result in results:
        kind = result.get("type") if isinstance(result, dict) else None
        if kind == SPAN_RESULT:
            spans.append(result_span(result, record))
        elif isinstance(kind, str) and kind.endswith("labels"):
            raise record.problem(
                f"a {kind!r} result",
                f"{SPAN_RESULT!r} results: spans of plain text (Label Studio's Labels on a Text object)",
            )
    return spans


def result_span(result: dict[str, Any], record: SpanRecord) -> CharSpan:
    value = result.get("value")
    value = value if isinstance(value, dict) else {}
    start, end, labels = offset(value.get("start")), offset(value.get("end")), value.get("labels")
    if start is None or end is None or not isinstance(labels, list) or len(labels) != 1:
        raise record.problem(
            f"a result whose value is {json.dumps(value, ensure_ascii=False)[:80]}",
            'a value like {"start": 0, "end": 5, "labels": ["PER"]}: integer offsets and one label',
        )
    span = CharSpan(start, end, check_label(labels[0], record))
    quoted = value.get("text")
    if isinstance(quoted, str) and 0 <= start < end <= len(record.text) and record.text[start:end] != quoted:
        raise record.problem(
            f"span [{start}, {end}) names the text {quoted!r}, but the task's text there is {record.text[start:end]!r}",
            "offsets into data.text, in characters",
            "the task's text changed after it was annotated, or the export counts characters otherwise",
        )
    return span


def write_labelstudio(sentences: Iterable[Sentence], stream: TextIO) -> None:
    """One task per sentence, each on its own line of the JSON array; an untagged sentence has no annotation."""
    stream.write("[")
    for index, sentence in enumerate(sentences):
        text, spans, words = sentence_spans(sentence, "Label Studio JSON")
        task: dict[str, Any] = {"data": {"text": text, **words}}
        if sentence.tags:
            results = [
                span_result(f"{index + 1}-{n + 1}", text, start, end, label)
                for n, (start, end, label) in enumerate(spans)
            ]
            task["annotations"] = [{"result": results}]
        stream.write(("\n" if index == 0 else ",\n") + json.dumps(task, ensure_ascii=False))
    stream.write("\n]\n")


def span_result(
    result_id: str, text: str, start: int, end: int, label: str, score: float | None = None
) -> dict[str, Any]:
    """A ``labels`` result as Label Studio's named-entity template makes one; ``score`` for a prediction."""
    value: dict[str, Any] = {"start": start, "end": end, "text": text[start:end], "labels": [label]}
    if score is not None:
        value["score"] = round(score, 4)
    return {"id": result_id, "from_name": FROM_NAME, "to_name": TO_NAME, "type": SPAN_RESULT, "value": value}
