"""The model card: README.md in the model directory, for a person deciding whether to use the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tagger.atomic import write_atomic
from tagger.config import Config
from tagger.evaluation import percent
from tagger.plots import PLOT_FILE
from tagger.vocab import Vocab


def scores_table(metrics: dict[str, Any]) -> list[str]:
    rows = ["| split | headline | strict IOB2 F1 | token accuracy |", "| --- | --- | --- | --- |"]
    for split in ("dev", "test"):
        evaluation = metrics.get(split)
        if not evaluation:
            continue
        shown = "dev (trained on)" if split == "dev" and metrics.get("dev_trained_on") else split
        conll = evaluation.get("conlleval")
        strict = evaluation.get("strict")
        headline = f"F1 {percent(conll['micro']['f1'])} (conlleval)" if conll else "—"
        strict_f1 = percent(strict["micro"]["f1"]) if strict else "—"
        rows.append(f"| {shown} | {headline} | {strict_f1} | {percent(evaluation['token_accuracy'])} |")
    return rows


def per_type_table(evaluation: dict[str, Any]) -> list[str]:
    """Test scores per entity type (conlleval-compatible), for a span model."""
    report = evaluation.get("conlleval") if evaluation else None
    if not report:
        return []
    rows = ["| type | precision | recall | F1 | gold entities |", "| --- | --- | --- | --- | --- |"]
    for name, score in sorted(report["per_type"].items()):
        rows.append(
            f"| {name} | {percent(score['precision'])} | {percent(score['recall'])} | "
            f"{percent(score['f1'])} | {score['support']:,} |"
        )
    return ["", "Test scores per type (conlleval-compatible):", "", *rows]


def training_section(directory: Path, metrics: dict[str, Any]) -> list[str]:
    minutes = metrics.get("train_seconds", 0) / 60
    if metrics.get("dev_trained_on"):
        kept = (
            f"Epoch {metrics.get('best_epoch')} of {metrics.get('epochs_run')}, the last, trained on the training and "
            "dev data (`train.with_dev`: no early stopping; the dev score is no estimate of accuracy)"
        )
    else:
        kept = (
            f"Best epoch {metrics.get('best_epoch')} of {metrics.get('epochs_run')} (early stopping on the dev score)"
        )
    lines = [
        f"{kept}, {minutes:.1f} minutes on {metrics.get('device', '?')}, seed {metrics.get('seed', '?')}. "
        "One record per epoch is in `train_log.jsonl`."
    ]
    if (directory / PLOT_FILE).is_file():
        lines += ["", f"![training loss, dev score and learning rate by epoch]({PLOT_FILE})"]
    return lines


def write_card(directory: Path, config: Config, vocab: Vocab, metrics: dict[str, Any]) -> None:
    task = "named entities / spans (IOB2 output)" if vocab.task == "spans" else "word labels (e.g. POS)"
    data_rows = [
        f"| {d['path']} | {d['sentences']:,} | {d['words']:,} | {d['scheme']} | `{d['sha256'][:16]}` |"
        for d in metrics.get("data", [])
    ]
    lines = [
        f"# tagger model: {task}",
        "",
        f"BiLSTM tagger ({config.model.layers} × {config.model.cell.upper()} {config.model.hidden}"
        f"{' bidirectional' if config.model.bidirectional else ''}, char encoder {config.model.char_encoder}, "
        f"{config.model.head} head), trained with tagger {metrics.get('tagger_version', '?')}.",
        "",
        "## Scores",
        "",
        *scores_table(metrics),
        *per_type_table(metrics.get("test") or {}),
        "",
        "## Training",
        "",
        *training_section(directory, metrics),
        "",
        "## Labels",
        "",
        ", ".join(f"`{label}`" for label in vocab.labels) + f" (internal scheme: {vocab.scheme})",
        "",
        "## Data",
        "",
        "The files the model was trained and scored on; the fingerprint (SHA-256 of the words and tags as read)",
        "tells whether the data at hand is the same, whatever its file format, compression or encoding.",
        "",
        "| file | sentences | words | scheme in file | sha256 |",
        "| --- | --- | --- | --- | --- |",
        *data_rows,
        "",
        "## Use",
        "",
        "```bash",
        "tagger tag path/to/this/directory news.txt            # raw text -> word and tag columns",
        "tagger info path/to/this/directory                    # this card, scores and settings in the terminal",
        "```",
        "",
        "```python",
        "from tagger import Tagger",
        "",  # as ruff formats Python in Markdown, which checks the shipped models' cards
        'tagger = Tagger.load("path/to/this/directory")',
        'print(tagger.tag([["EU", "rejects", "German", "call"]]))',
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
