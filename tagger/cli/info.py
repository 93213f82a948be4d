"""`tagger info`: a trained model directory or an export in the terminal (tagger.model_info reads it), or as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.rule import Rule
from rich.table import Table

from tagger.cli.tables import number, path, print_table, text
from tagger.evaluation import percent
from tagger.model_info import ModelInfo, read_model_info


def run_info(model_dir: Path, json_output: bool, show_card: bool = True) -> None:
    info = read_model_info(model_dir)
    if json_output:
        print(json.dumps(info.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_info(Console(), info, show_card)


def print_info(console: Console, info: ModelInfo, show_card: bool = True) -> None:
    print_table(console, overview_table(info))
    scores = scores_table(info.metrics)
    if scores.row_count:
        print_table(console, scores)
    console.print(
        f"labels ({len(info.labels)}, scheme {info.scheme}): {escape(' '.join(info.labels))}", highlight=False
    )
    print_table(console, config_table(info.config))
    if show_card:
        console.print(Rule("model card (README.md)"))
        console.print(Markdown(info.card) if info.card else "no model card (README.md) in this directory")


def overview_table(info: ModelInfo) -> Table:
    metrics = info.metrics
    rows = [
        ("task", "named entities / spans" if info.task == "spans" else "word labels (e.g. POS)"),
        ("entity types", ", ".join(info.entity_types) or "—"),
        ("labels", f"{len(info.labels):,}"),
        ("vocabulary", f"{info.vocabulary_words:,} words, {info.vocabulary_chars:,} characters"),
        ("parameters", "?" if info.parameters is None else f"{info.parameters:,}"),
        ("preset", f"{info.preset} (its model settings)" if info.preset else "— (settings of its own)"),
        ("best epoch", f"{metrics.get('best_epoch', '?')} of {metrics.get('epochs_run', '?')}"),
        ("training time", minutes(metrics.get("train_seconds"))),
        ("device, seed", f"{metrics.get('device', '?')}, {metrics.get('seed', '?')}"),
    ]
    if info.export is None:
        rows.append(("trained with", f"tagger {info.tagger_version} (model format {info.format_version})"))
        rows.append(("runtime", runtime_line(info.carried)))
    else:
        rows += export_rows(info)
    rows.append(("weights sha256", info.weights_sha256))
    table = Table(title=escape(info.path), show_header=False)
    table.add_column("what", style="bold", no_wrap=True)
    text(table, "value")
    for name, value in rows:
        table.add_row(name, escape(str(value)))
    return table


def runtime_line(carried: dict[str, Any] | None) -> str:
    """Where a model directory runs by default: its own export on onnxruntime, checked on dev, or PyTorch."""
    if carried is None:
        return "pytorch"
    precision = carried.get("onnx", {}).get("precision", "?")
    checked = carried.get("checked_on_dev") or {}
    if checked.get("sentences"):
        found = (
            f"dev {percent(checked.get('pytorch_fp32_score'))} → {percent(checked.get('score'))}, "
            f"{percent(checked.get('tags_equal'))}% of tags as PyTorch fp32"
        )
    else:
        found = "not checked on dev"
    return f"onnxruntime {precision}, its own export ({found}), where installed; else pytorch"


def export_rows(info: ModelInfo) -> list[tuple[str, str]]:
    """What an export adds: its runtime and precision, its network, what made it and from which model."""
    export = info.export or {}
    onnx = export.get("onnx", {})
    quantized = ", ".join(onnx.get("quantized_ops", [])) or "none"
    made_with = ", ".join(f"{name} {version}" for name, version in export.get("exported_with", {}).items())
    return [
        ("runtime", f"{info.runtime} (exported model, format {info.format_version}: no PyTorch needed)"),
        ("precision", f"{info.precision} (quantised ops: {quantized})"),
        (
            "network",
            f"{onnx.get('file', '?')}, opset {onnx.get('opset', '?')}, inputs {', '.join(onnx.get('inputs', []))}",
        ),
        ("exported with", f"tagger {export.get('tagger_version', '?')}" + (f" ({made_with})" if made_with else "")),
        ("trained with", f"tagger {info.tagger_version}"),
        ("exported from", str(export.get("source", {}).get("model_dir", "?"))),
    ]


def minutes(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds / 60:.1f} min ({seconds:,.0f} s)"


def scores_table(metrics: dict[str, Any]) -> Table:
    """dev and test as metrics.json holds them: the entity F1s for span models, token accuracy always."""
    table = Table(title="scores (metrics.json)")
    text(table, "split")
    for column in ("entity F1 (conlleval)", "strict IOB2 F1", "token accuracy", "sentences", "words"):
        number(table, column)
    for split in ("dev", "test"):
        evaluation = metrics.get(split)
        if evaluation:
            table.add_row(
                split,
                micro_f1(evaluation.get("conlleval")),
                micro_f1(evaluation.get("strict")),
                percent(evaluation.get("token_accuracy")),
                f"{evaluation.get('sentences', 0):,}",
                f"{evaluation.get('words', 0):,}",
            )
    return table


def micro_f1(report: dict[str, Any] | None) -> str:
    return percent(report["micro"]["f1"]) if report else "—"  # no entity report: a model of labels


def config_table(config: dict[str, Any]) -> Table:
    table = Table(title="configuration (config.json)")
    table.add_column("setting", no_wrap=True)
    path(table, "value")
    for section, settings in config.items():
        for key, value in settings.items():
            table.add_row(f"{section}.{key}", escape(json.dumps(value, ensure_ascii=False)))
    return table
