"""`tagger export`: prints what ``tagger.export.export_model`` wrote, as a table or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from tagger.cli.tables import number, path, print_table


def print_export(console: Console, result, json_output: bool) -> None:  # result: tagger.export.ExportResult
    if json_output:
        print(json.dumps({**asdict(result), "out_dir": str(result.out_dir)}, indent=2))
        return
    console.print(f"exported to {result.out_dir}: ONNX opset {result.opset}, {result.precision}")
    table = Table()
    path(table, "file")
    number(table, "bytes")
    for name, size in result.files.items():
        table.add_row(name, f"{size:,}")
    print_table(console, table)
    console.print(f"inputs: {', '.join(result.inputs)} -> emissions")
    console.print(
        f"checked beside PyTorch on {result.check_sentences} sentences ({result.check_words} words): largest "
        f"emission difference {result.max_difference:.1e}, tags alike for {100 * result.tags_agreement:.2f}% of words"
    )
    console.print(f"tag with it (no PyTorch needed): tagger tag {result.out_dir} FILE")
