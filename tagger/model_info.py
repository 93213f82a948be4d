"""What `tagger info` shows of a trained model directory: its card, scores, labels, sizes and configuration.

The directory is read and fully validated by ``serialization``, so a bad one fails here with the same
one-line error as loading it for tagging would.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tagger.schemes import NO_SCHEME, Task, split_tag
from tagger.serialization import load_model_files, read_model_files


@dataclass(frozen=True)
class ModelInfo:
    path: str
    format_version: int
    tagger_version: str  # the version that trained the model
    weights_sha256: str
    task: Task
    scheme: str  # scheme of the labels inside the model (output is IOB2): IOB2 | BIOES | none
    labels: list[str]
    entity_types: list[str]  # empty for a model of plain labels (POS)
    vocabulary_words: int  # including <pad> and <unk>
    vocabulary_chars: int
    parameters: int
    metrics: dict[str, Any]  # metrics.json as written by training; {} when the directory has none
    config: dict[str, Any]
    card: str | None  # README.md, None when the directory has none

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_model_info(directory: str | Path) -> ModelInfo:
    files = read_model_files(directory)
    loaded = load_model_files(files, directory)
    header = json.loads(files["config.json"].decode("utf-8"))  # already validated by load_model_files
    vocab, model = loaded.vocab, loaded.model
    card = files.get("README.md")
    return ModelInfo(
        path=str(directory),
        format_version=header["format_version"],
        tagger_version=header.get("tagger_version", "?"),
        weights_sha256=header.get("weights_sha256", ""),
        task=vocab.task,
        scheme=vocab.scheme,
        labels=list(vocab.labels),
        entity_types=entity_types(vocab.labels, vocab.scheme),
        vocabulary_words=len(vocab.words),
        vocabulary_chars=len(vocab.chars),
        parameters=sum(p.numel() for p in model.parameters()),
        metrics=loaded.metrics,
        config=loaded.config.to_dict(),
        card=card.decode("utf-8", errors="replace") if card is not None else None,
    )


def entity_types(labels: list[str] | tuple[str, ...], scheme: str) -> list[str]:
    if scheme == NO_SCHEME:
        return []
    return sorted({split_tag(label)[1] for label in labels if label != "O"})
