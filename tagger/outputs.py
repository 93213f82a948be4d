"""Formatting tagged sentences for output files: CoNLL columns and JSON lines."""

from __future__ import annotations

import json
from typing import Any, Sequence


def format_conll(words: Sequence[str], tags: Sequence[str], scores: Sequence[float] | None = None) -> str:
    """``word<TAB>tag[<TAB>probability]`` lines and a blank line; tabs, so words may hold spaces."""
    lines = []
    for i, (word, tag) in enumerate(zip(words, tags)):
        lines.append(f"{word}\t{tag}\t{scores[i]:.4f}" if scores is not None else f"{word}\t{tag}")
    return "\n".join(lines) + "\n\n"


def format_jsonl(words: Sequence[str], tags: Sequence[str], scores: Sequence[float] | None = None,
                 entities: list[dict[str, Any]] | None = None) -> str:
    record: dict[str, Any] = {"words": list(words), "tags": list(tags)}
    if scores is not None:
        record["probabilities"] = [round(p, 4) for p in scores]
    if entities is not None:
        record["entities"] = entities
    return json.dumps(record, ensure_ascii=False) + "\n"


def format_predictions(words: Sequence[str], gold: Sequence[str], predicted: Sequence[str]) -> str:
    """``word gold predicted`` lines as conlleval reads them (spaces inside words become underscores)."""
    rows = [f"{w.replace(' ', '_') or '_'} {g} {p}" for w, g, p in zip(words, gold, predicted)]
    return "\n".join(rows) + "\n\n"
