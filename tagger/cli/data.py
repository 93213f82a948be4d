"""`tagger data`: corpus diagnostics before training, as rich tables or JSON (``tagger.data_report`` computes them)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tagger.cli.tables import number, path, print_table, text
from tagger.data_report import DataReport, MissingLabel, SplitReport


def print_data(report: DataReport, json_output: bool) -> None:
    if json_output:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_data_report(Console(), report)


def print_data_report(console: Console, report: DataReport) -> None:
    splits = report.splits
    print_table(console, overview_table(splits))
    repaired = repaired_table(splits)
    if repaired.row_count:
        print_table(console, repaired)
    with_entities = {s.name: s.entities for s in splits if s.entities is not None}
    if with_entities:
        print_table(
            console, distribution_table("entities per type (read in each file's own scheme)", "type", with_entities)
        )
    print_table(console, distribution_table("tags as written", "tag", {s.name: s.tags for s in splits}))
    print_violations(console, splits)
    print_table(console, length_table(splits))
    print_table(console, longest_table(splits))
    print_duplicates(console, splits)
    print_comparisons(console, report)


def overview_table(splits: list[SplitReport]) -> Table:
    """One column per split (as the other tables), so that many figures fit a narrow terminal."""
    table = Table(title="corpus")
    text(table, "")
    for s in splits:
        path(table, escape(s.name), justify="right")
    rows = [
        ("file", lambda s: escape(s.path)),
        ("format", lambda s: s.format),
        ("sentences", lambda s: f"{s.sentences:,}"),
        ("documents", lambda s: f"{s.documents:,}"),
        ("words", lambda s: f"{s.words:,}"),
        ("scheme", lambda s: s.scheme.scheme),
        ("violations", lambda s: f"{s.scheme.violations:,}"),
        ("entities", lambda s: f"{sum(s.entities.values()):,}" if s.entities is not None else "—"),
        ("tags", lambda s: f"{len(s.tags):,}"),
    ]
    for name, value in rows:
        table.add_row(f"[bold]{name}", *(value(s) for s in splits))
    for column, s in zip(table.columns[1:], splits):  # a number stays whole; only the path above it folds
        column.min_width = max(len(value(s)) for name, value in rows if name != "file")
    return table


def repaired_table(splits: list[SplitReport]) -> Table:
    """What each file has that is read leniently (and counted the same way in the training log)."""
    table = Table(title="lines read leniently (as training reads them)")
    path(table, "split")
    text(table, "what")
    number(table, "count")
    path(table, "first at")
    for s in splits:
        for r in s.repaired_lines:
            table.add_row(escape(s.name), escape(r.kind), f"{r.count:,}", place(r.path, r.line))
    return table


def distribution_table(title: str, label_name: str, counts_by_split: dict[str, dict[str, int]]) -> Table:
    """One row per label, one column per split: count and share of the split."""
    table = Table(title=title)
    text(table, label_name)
    for name in counts_by_split:
        number(table, escape(name))
    totals = {name: sum(counts.values()) for name, counts in counts_by_split.items()}
    overall: dict[str, int] = {}
    for counts in counts_by_split.values():
        for label, count in counts.items():
            overall[label] = overall.get(label, 0) + count
    for label in sorted(overall, key=lambda label: (-overall[label], label)):
        table.add_row(
            escape(label), *(share(counts.get(label, 0), totals[name]) for name, counts in counts_by_split.items())
        )
    table.add_row("[bold]total", *(f"[bold]{total:,}" for total in totals.values()))
    return table


def share(count: int, total: int) -> str:
    return f"{count:,} ({100 * count / total:.1f}%)" if total else f"{count:,}"


def print_violations(console: Console, splits: list[SplitReport]) -> None:
    for s in splits:
        if s.scheme.scheme == "none":
            continue
        found = s.scheme
        counts = (
            f"{found.violations:,} violations of {found.scheme} in {found.sentences_with_violations:,} sentences"
            if found.violations
            else f"no violations of {found.scheme}"
        )
        others = ", ".join(f"{count:,} as {scheme}" for scheme, count in found.in_other_schemes.items())
        console.print(f"{escape(s.name)}: {counts}" + (f" ({others})" if others else ""), highlight=False)
        if found.examples:
            table = Table(title=f"{escape(s.name)}: first violations of {found.scheme}")
            path(table, "place")
            for column in ("word", "tag", "problem"):
                text(table, column)
            for v in found.examples:
                table.add_row(place(v.path, v.line), escape(v.word), escape(v.tag), escape(v.message))
            print_table(console, table)


def length_table(splits: list[SplitReport]) -> Table:
    table = Table(title="sentence length (words)")
    text(table, "words")
    for s in splits:
        number(table, escape(s.name))
    for label in splits[0].lengths.histogram:
        table.add_row(label, *(share(s.lengths.histogram[label], s.sentences) for s in splits))
    for name, value in (
        ("mean", lambda s: f"{s.lengths.mean:.1f}"),
        ("median", lambda s: f"{s.lengths.median:g}"),
        ("shortest", lambda s: f"{s.lengths.shortest:,}"),
        ("longest", lambda s: f"{s.lengths.longest:,}"),
    ):
        table.add_row(f"[bold]{name}", *(value(s) for s in splits))
    return table


def longest_table(splits: list[SplitReport]) -> Table:
    table = Table(title="longest sentences")
    path(table, "split")
    path(table, "place")
    number(table, "words")
    text(table, "beginning", preview=True)
    for s in splits:
        for long in s.lengths.longest_sentences:
            table.add_row(escape(s.name), place(long.path, long.line), f"{long.words:,}", escape(long.preview))
    return table


def print_duplicates(console: Console, splits: list[SplitReport]) -> None:
    table = Table(title="sentences repeated within a split")
    path(table, "split")
    for column in ("repeats", "distinct sentences", "tagged differently"):
        number(table, column)
    for s in splits:
        d = s.duplicates
        table.add_row(escape(s.name), share(d.sentences, s.sentences), f"{d.distinct:,}", f"{d.conflicting:,}")
    print_table(console, table)
    examples = Table(title="most repeated sentences")
    path(examples, "split")
    number(examples, "times")
    path(examples, "first at")
    number(examples, "taggings")
    text(examples, "sentence", preview=True)
    for s in splits:
        for r in s.duplicates.examples:
            examples.add_row(escape(s.name), f"{r.count:,}", place(r.path, r.line), str(r.taggings), escape(r.preview))
    if examples.row_count:
        print_table(console, examples)


def print_comparisons(console: Console, report: DataReport) -> None:
    if report.oov:
        print_table(console, oov_table(report))
    if report.overlap:
        print_table(console, overlap_table(report))
        print_table(console, shared_table(report))
    for title, missing in (
        ("tags missing from a split", report.missing_tags),
        ("entity types missing from a split", report.missing_entity_types),
    ):
        if missing:
            print_table(console, missing_table(title, missing))
    named = [s.name for s in report.splits if s.role]
    if len(named) > 1 and not (report.missing_tags or report.missing_entity_types):
        console.print(f"{', '.join(named)} have the same tags", highlight=False)


def oov_table(report: DataReport) -> Table:
    table = Table(title="words out of the training vocabulary (as written: case and digits kept)")
    path(table, "split")
    for column in ("OOV tokens", "token rate", "OOV types", "type rate"):
        number(table, column)
    text(table, "most frequent OOV words")
    for o in report.oov:
        words = ", ".join(f"{escape(word)} ({count:,})" for word, count in o.most_frequent)
        table.add_row(
            o.split,
            f"{o.oov_tokens:,} of {o.tokens:,}",
            f"{100 * o.token_rate:.2f}%",
            f"{o.oov_types:,} of {o.types:,}",
            f"{100 * o.type_rate:.2f}%",
            words,
        )
    return table


def overlap_table(report: DataReport) -> Table:
    table = Table(title="sentences shared with train (word for word)")
    path(table, "split")
    for column in ("sentences", "shared with train", "distinct shared"):
        number(table, column)
    for o in report.overlap:
        table.add_row(o.split, f"{o.sentences:,}", share(o.shared, o.sentences), f"{o.distinct:,}")
    return table


def shared_table(report: DataReport) -> Table:
    table = Table(title="longest sentences shared with train")
    path(table, "split")
    number(table, "words")
    path(table, "place")
    path(table, "in train")
    text(table, "sentence", preview=True)
    for o in report.overlap:
        for e in o.examples:
            table.add_row(
                o.split, f"{e.words:,}", place(e.path, e.line), place(e.train_path, e.train_line), escape(e.preview)
            )
    return table


def missing_table(title: str, missing: list[MissingLabel]) -> Table:
    table = Table(title=title)
    for column in ("label", "present in", "missing from"):
        text(table, column)
    for m in missing:
        table.add_row(escape(m.label), escape(", ".join(m.present_in)), escape(", ".join(m.missing_from)))
    return table


def place(path: str, line: int) -> str:
    return escape(f"{path}:{line}" if line else path)
