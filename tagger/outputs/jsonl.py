"""JSON Lines out: one object per sentence with words, predicted tags, probabilities and entities.

Faithful output (JSONL in) keeps each input record's other keys, in their order, and sets ``tags`` (the
input's own tags, if any, are replaced by the predictions), ``probabilities`` and ``entities``; the
word key (``words`` or ``tokens``) stays as the input named it. Blank lines are dropped; a record with
no words, which the reader skips, is kept with empty predictions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tagger.corpus import Sentence
from tagger.outputs.tagged import TaggedSentence, WriterOptions
from tagger.outputs.writer import FaithfulWriter, TextWriter

PREDICTION_KEYS = ("tags", "probabilities", "entities")  # what a run writes; stale ones from an earlier run go


def format_jsonl(
    words: Sequence[str],
    tags: Sequence[str],
    scores: Sequence[float] | None = None,
    entities: list[dict[str, Any]] | None = None,
) -> str:
    record: dict[str, Any] = {"words": list(words), "tags": list(tags)}
    if scores is not None:
        record["probabilities"] = [round(p, 4) for p in scores]
    if entities is not None:
        record["entities"] = entities
    return format_record(record)


def format_record(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def prediction_fields(tagged: TaggedSentence, options: WriterOptions) -> dict[str, Any]:
    """``tags``, then ``probabilities`` when asked, then ``entities`` for span tags."""
    fields: dict[str, Any] = {"tags": list(tagged.tags)}
    if options.probabilities:
        fields["probabilities"] = [round(p, 4) for p in tagged.scores]
    if options.task == "spans":
        fields["entities"] = tagged.entities(options.scheme)
    return fields


class JsonlWriter(TextWriter):
    def __init__(self, options: WriterOptions):
        self.options = options

    def format_sentence(self, tagged: TaggedSentence) -> str:
        return format_record({"words": list(tagged.words), **prediction_fields(tagged, self.options)})


class FaithfulJsonlWriter(FaithfulWriter):
    """The input JSONL file's records, in order, each with the predictions for its words."""

    def tag_sentence(self, tagged: TaggedSentence) -> str:
        return self.format_line(self.source.take(), tagged)

    def format_line(self, line: str, tagged: TaggedSentence) -> str:
        record = json.loads(line)  # the reader parsed this very line: a JSON object with a word list
        if record.get("words", record.get("tokens")) != tagged.words:
            # Sentences out of step with the file would put every prediction on the wrong words.
            raise ValueError(f"{self.source.path}:{self.source.line_no}: the record's words are not the sentence's")
        fields = prediction_fields(tagged, self.options)
        for key in PREDICTION_KEYS:
            if key not in fields:
                record.pop(key, None)
        record.update(fields)  # a key the input already had keeps its place
        return format_record(record)

    def pass_through(self, line: str) -> str:
        """A line the reader yielded no sentence for: blank (dropped), or a record with no words."""
        if not line.strip():
            return ""
        empty = Sentence([], [], self.source.path, self.source.line_no)
        return self.format_line(line, TaggedSentence(empty, [], []))
