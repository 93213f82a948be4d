"""`tagger select`: prints what ``selection.select_pool`` chose, as a table on stderr or as JSON on stdout."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from tagger.cli.tables import number, path, print_table, text
from tagger.selection import STDOUT, SelectionReport, selection_json

SHOWN = 10  # the most uncertain items shown in the table; the output file holds them all


def print_selection(console: Console, report: SelectionReport, json_output: bool) -> None:
    if json_output:
        print(json.dumps(selection_json(report), ensure_ascii=False, indent=2))
        return
    selection, options = report.selection, report.options
    unit = f"{options.by}s"
    table = Table(title=f"the {unit} the model is least sure of ({options.strategy}, {options.aggregate} per item)")
    number(table, "rank")
    number(table, "uncertainty")
    path(table, "source")
    text(table, "text", preview=True)
    for selected in selection.chosen[:SHOWN]:
        preview = " ".join(tagged.text() for tagged in selected.tagged)
        table.add_row(str(selected.rank), f"{selected.uncertainty:.4f}", selected.source, preview)
    print_table(console, table)
    where = "stdout" if report.output == STDOUT else report.output
    short = f" (asked for {options.count})" if len(selection.chosen) < options.count else ""
    sentences = f" ({selection.sentences:,} sentences)" if options.by == "document" else ""
    console.print(
        f"chose {len(selection.chosen):,}{short} of {selection.items:,} {unit}{sentences}; "
        f"{selection.duplicates:,} near-duplicates skipped "
        f"(similarity >= {options.max_similarity}); wrote {options.output_format} to {where}",
        highlight=False,
        soft_wrap=True,
    )
