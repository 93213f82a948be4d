"""The model card: README.md in the model directory, for a person deciding whether to use the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tagger.config import Config
from tagger.atomic import write_atomic
from tagger.vocab import Vocab


def format_score(value: float | None) -> str:
    return "undefined" if value is None else f"{100 * value:.2f}"


def scores_table(metrics: dict[str, Any]) -> list[str]:
    rows = ["| split | headline | strict IOB2 F1 | token accuracy |", "| --- | --- | --- | --- |"]
    for split in ("dev", "test"):
        evaluation = metrics.get(split)
        if not evaluation:
            continue
        conll = evaluation.get("conlleval")
        strict = evaluation.get("strict")
        headline = f"F1 {format_score(conll['micro']['f1'])} (conlleval)" if conll else "—"
        strict_f1 = format_score(strict["micro"]["f1"]) if strict else "—"
        rows.append(f"| {split} | {headline} | {strict_f1} | {format_score(evaluation['token_accuracy'])} |")
    return rows


def write_card(directory: Path, config: Config, vocab: Vocab, metrics: dict[str, Any]) -> None:
    task = "named entities / spans (IOB2 output)" if vocab.task == "spans" else "word labels (e.g. POS)"
    data_rows = [f"| {d['path']} | {d['sentences']:,} | {d['words']:,} | {d['scheme']} | `{d['sha256'][:16]}` |"
                 for d in metrics.get("data", [])]
    lines = [
        f"# tagger model: {task}",
        "",
        f"BiLSTM tagger ({config.model.layers} × {config.model.cell.upper()} {config.model.hidden}"
        f"{' bidirectional' if config.model.bidirectional else ''}, char encoder {config.model.char_encoder}, "
        f"{config.model.head} head), trained with tagger {metrics.get('tagger_version', '?')} "
        f"in {metrics.get('train_seconds', 0) / 60:.1f} minutes on {metrics.get('device', '?')}; "
        f"best epoch {metrics.get('best_epoch')} of {metrics.get('epochs_run')}.",
        "",
        "## Scores",
        "",
        *scores_table(metrics),
        "",
        "## Labels",
        "",
        ", ".join(f"`{label}`" for label in vocab.labels) + f" (internal scheme: {vocab.scheme})",
        "",
        "## Data",
        "",
        "| file | sentences | words | scheme in file | sha256 |",
        "| --- | --- | --- | --- | --- |",
        *data_rows,
        "",
        "## Use",
        "",
        "```python",
        "from tagger import Tagger",
        "tagger = Tagger.load(\"path/to/this/directory\")",
        "print(tagger.tag([[\"EU\", \"rejects\", \"German\", \"call\"]]))",
        "```",
        "",
        "## Configuration",
        "",
        "```json",
        json.dumps(config.to_dict(), indent=2),
        "```",
        "",
    ]
    write_atomic(directory / "README.md", "\n".join(lines).encode("utf-8"))
