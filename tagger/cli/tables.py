"""Rich tables that stay readable in a narrow terminal or a pipe (80 columns): numbers and paths are never cut.

Columns are added with ``number()`` (right-aligned, kept whole), ``path()`` (folded over lines when the table
is narrow) or ``text()`` (wrapped at spaces; a preview may end with an ellipsis instead), and the table is
printed with ``print_table``: headers, paths and words wrap to make room, and when even that is not enough
the table is printed wider than the console rather than cut.
"""

from __future__ import annotations

from rich.console import Console, JustifyMethod
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

UNLIMITED = 100_000  # a width to measure a table's narrowest rendering in
FOLDED_PATH = 16  # the narrowest a column of paths is measured at: narrower, it would take many lines


def header(name: str) -> Text:
    """A column header that wraps at spaces (folding a word longer than its column) rather than being cut,
    even above a column of numbers, which never wraps."""
    title = Text.from_markup(name, overflow="fold")
    title.no_wrap = False
    return title


def number(table: Table, name: str) -> None:
    """A column of numbers (counts, scores, shares): right-aligned, never cut or wrapped."""
    table.add_column(header(name), justify="right", no_wrap=True)


def path(table: Table, name: str, justify: JustifyMethod = "left") -> None:
    """A column of paths (``path:line``): folded over several lines when the table is narrow, never cut."""
    table.add_column(header(name), justify=justify, overflow="fold")


def text(table: Table, name: str, preview: bool = False) -> None:
    """A column of names or words, wrapped at spaces; a ``preview`` of a sentence may end with an ellipsis."""
    table.add_column(header(name), overflow="ellipsis" if preview else "fold")


def fit_numbers(table: Table, wrap_headers: bool) -> Table:
    """Every number column at least as wide as its widest cell (and, with ``wrap_headers``, no wider than that
    or its header's longest word), so that narrowing the table wraps headers, paths and words, never a number."""
    for column in table.columns:
        if column.no_wrap:
            column.min_width = max([0, *(cell_width(cell) for cell in column.cells)])
            words = [len(word) for word in str(column.header).split()]
            column.max_width = max([column.min_width, *words]) if wrap_headers else None
    return table


def cell_width(cell: object) -> int:
    if isinstance(cell, str):
        return Text.from_markup(cell).cell_len
    return cell.cell_len if isinstance(cell, Text) else 0


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` within the console's width when its numbers (and a word of every other column) fit,
    else as wide as they need: a terminal then wraps the long lines, a file or a pipe gets them whole."""
    fit_numbers(table, wrap_headers=False)
    if Measurement.get(console, console.options.update_width(UNLIMITED), table).maximum <= console.width:
        console.print(table)  # it fits as it is
        return
    fit_numbers(table, wrap_headers=True)
    needed = narrowest(console, table)
    if needed <= console.width:
        console.print(table)
        return
    width = console.width
    console.width = needed
    try:
        console.print(table)
    finally:
        console.width = width


def narrowest(console: Console, table: Table) -> int:
    """The table's narrowest width that cuts no number, folds no path below ``FOLDED_PATH`` and wraps words only
    at spaces."""
    folded = [c for c in table.columns if c.overflow == "fold" and not c.no_wrap and c.max_width is None]
    for column in folded:
        column.max_width = max(FOLDED_PATH, column.min_width or 0)
    try:
        return Measurement.get(console, console.options.update_width(UNLIMITED), table).minimum
    finally:
        for column in folded:
            column.max_width = None
