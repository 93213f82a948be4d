"""Label Studio tasks with predictions out: a JSON array to import as pre-annotations, one task per paragraph of
raw text or per sentence of pre-tokenised input (``outputs.tasks``), each on a line of its own.

Each task is ``{"data": {"text": ...}, "predictions": [...]}`` (``data`` also holds the task's other fields, such as
``tagger select``'s ``uncertainty``, which the Data Manager shows as columns, and its words and sentences as
``tokens`` and ``sents``), its one prediction holding a
``labels`` result per predicted entity (``from_name`` ``label``, ``to_name`` ``text``: the names of Label Studio's
named-entity template, which a project's labeling config must share) with the entity's probability, the mean of its
words' tag probabilities, in ``value.score``. The prediction's ``score`` is the lowest tag probability in the task, so that
sorting tasks by it in Label Studio's Data Manager brings the ones the model is least sure of first, and its
``model_version`` names the model (``model_version``). Probabilities are always computed for this output.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tagger.corpus.labelstudio import span_result
from tagger.outputs.tasks import Task, TaskWriter


class LabelStudioWriter(TaskWriter):
    tool = "Label Studio"

    def begin(self) -> str:
        return "["

    def format_task(self, task: Task, number: int) -> str:
        results = [
            span_result(f"{number}-{index}", task.text, entity.start, entity.end, entity.label, entity.score)
            for index, entity in enumerate(task.entities, 1)
        ]
        prediction: dict[str, Any] = {"model_version": self.options.model_version} if self.options.model_version else {}
        if task.lowest is not None:
            prediction["score"] = round(task.lowest, 4)
        prediction["result"] = results
        record = {"data": {"text": task.text, **task.fields, **task.words}, "predictions": [prediction]}
        return ("\n" if number == 1 else ",\n") + json.dumps(record, ensure_ascii=False)

    def end(self) -> str:
        return super().end() + "\n]\n"


def model_version(config: dict[str, Any], metrics: dict[str, Any]) -> str:
    """How Label Studio tells this model's predictions from another's: the tagger version that trained it, its
    training file's name and a digest of its words and tags, a digest of its configuration, and its seed."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode("utf-8")).hexdigest()[:8]
    data = metrics.get("data") or [{}]
    train = data[0] if isinstance(data, list) and isinstance(data[0], dict) else {}
    parts = [f"bilstm-tagger {metrics['tagger_version']}" if "tagger_version" in metrics else "bilstm-tagger"]
    if train.get("path"):
        parts.append(f"{Path(str(train['path'])).name} {str(train.get('sha256', ''))[:8]}".strip())
    parts.append(f"config {digest}")
    if "seed" in metrics:
        parts.append(f"seed {metrics['seed']}")
    return ", ".join(parts)
