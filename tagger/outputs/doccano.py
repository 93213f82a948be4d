"""doccano JSONL with predicted spans out: one record per paragraph of raw text or per sentence of pre-tokenised
input (``outputs.tasks``), ``{"text": ..., "label": [[start, end, "TYPE"], ...]}`` with offsets in UTF-16 code units
as doccano counts them, to import into a sequence-labeling project. doccano has no place for probabilities; a task's
other fields (``tagger select``'s ``uncertainty``) and its words and sentences (``tokens``, ``sents``) are written
beside ``text``, where doccano keeps them as metadata."""

from __future__ import annotations

import json

from tagger.corpus.doccano import doccano_spans
from tagger.outputs.tasks import Task, TaskWriter


class DoccanoWriter(TaskWriter):
    tool = "doccano"

    def format_task(self, task: Task, number: int) -> str:
        spans = doccano_spans(task.text, [(entity.start, entity.end, entity.label) for entity in task.entities])
        record = {"text": task.text, "label": spans, **task.fields, **task.words}
        return json.dumps(record, ensure_ascii=False) + "\n"
