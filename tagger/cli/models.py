"""`tagger models`: the models that ship inside the package (tagger.shipped), with what they tag and their test
scores, as a table or JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from tagger.cli.tables import number, path, print_table, text
from tagger.evaluation import percent
from tagger.model_info import read_model_info
from tagger.shipped import shipped_models


def run_models(json_output: bool) -> None:
    rows: list[dict[str, Any]] = []  # JSON records
    for model in shipped_models():
        info = read_model_info(model.path)
        test = info.metrics.get("test") or {}
        conlleval = test.get("conlleval")
        score = conlleval["micro"]["f1"] if conlleval else test.get("token_accuracy")
        measure = "entity F1" if info.task == "spans" else "token accuracy"
        what = ", ".join(info.entity_types) if info.entity_types else f"{len(info.labels)} labels"
        rows.append({**model.to_dict(), "task": info.task, "tags": what, "test": score, "measure": measure})
    if json_output:
        print(json.dumps(rows, indent=2))
        return
    console = Console()
    table = Table(title="models shipped with tagger (use the name where a model directory is asked for)")
    text(table, "name")
    text(table, "tags")
    number(table, "test score")
    number(table, "MB")
    path(table, "folder (model card: README.md)")
    for row in rows:
        score = f"{percent(row['test'])} {row['measure']}" if row["test"] is not None else "—"
        table.add_row(row["name"], row["tags"], score, f"{row['size'] / 1e6:.1f}", row["path"])
    print_table(console, table)
    if not rows:
        console.print("no model ships with this installation", highlight=False)
