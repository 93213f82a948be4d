"""`tagger data`: corpus diagnostics before training, as rich tables or JSON (tagger.data_report computes them)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tagger.config import Config, CorpusConfig, overrides_to_dict
from tagger.data_report import (DataReport, MissingLabel, SplitReport, build_data_report, read_split)
from tagger.errors import ConfigError


def run_data(inputs: list[tuple[str | None, Path]], json_output: bool, examples: int, overrides: list[str]) -> None:
    """``inputs``: (role, path) pairs, role train/dev/test or None for a file reported on its own."""
    if not inputs:
        raise ConfigError("no corpus given; pass corpus files as PATH..., or with --train, --dev, --test")
    if examples < 0:
        raise ConfigError(f"--examples {examples}: expected 0 or more")
    config = reading_config(overrides)
    splits = [read_split(path, role, config) for role, path in inputs]
    report = build_data_report(splits, config.scheme, examples)
    if json_output:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_data_report(Console(), report)


def reading_config(overrides: list[str]) -> CorpusConfig:
    settings = overrides_to_dict(overrides)
    other = sorted(set(settings) - {"corpus"})
    if other:
        raise ConfigError(f"--set {other[0]}.*: tagger data only reads corpora; expected a corpus.* setting")
    return Config.from_dict(settings, "--set").corpus


def print_data_report(console: Console, report: DataReport) -> None:
    splits = report.splits
    console.print(overview_table(splits))
    with_entities = {s.name: s.entities for s in splits if s.entities is not None}
    if with_entities:
        console.print(distribution_table("entities per type (read in each file's own scheme)", "type", with_entities))
    console.print(distribution_table("tags as written", "tag", {s.name: s.tags for s in splits}))
    print_violations(console, splits)
    console.print(length_table(splits))
    console.print(longest_table(splits))
    print_duplicates(console, splits)
    print_comparisons(console, report)


def overview_table(splits: list[SplitReport]) -> Table:
    table = Table(title="corpus")
    for column in ("split", "file", "format", "sentences", "documents", "words", "scheme", "violations",
                   "entities", "tags"):
        table.add_column(column, justify="left" if column in ("split", "file", "format", "scheme") else "right")
    for s in splits:
        entities = f"{sum(s.entities.values()):,}" if s.entities is not None else "—"
        table.add_row(escape(s.role or "—"), escape(s.path), s.format, f"{s.sentences:,}", f"{s.documents:,}",
                      f"{s.words:,}", s.scheme.scheme, f"{s.scheme.violations:,}", entities, f"{len(s.tags):,}")
    return table


def distribution_table(title: str, label_name: str, counts_by_split: dict[str, dict[str, int]]) -> Table:
    """One row per label, one column per split: count and share of the split."""
    table = Table(title=title)
    table.add_column(label_name)
    for name in counts_by_split:
        table.add_column(escape(name), justify="right")
    totals = {name: sum(counts.values()) for name, counts in counts_by_split.items()}
    overall: dict[str, int] = {}
    for counts in counts_by_split.values():
        for label, count in counts.items():
            overall[label] = overall.get(label, 0) + count
    for label in sorted(overall, key=lambda label: (-overall[label], label)):
        table.add_row(escape(label), *(share(counts.get(label, 0), totals[name])
                                       for name, counts in counts_by_split.items()))
    table.add_row("[bold]total", *(f"[bold]{total:,}" for total in totals.values()))
    return table


def share(count: int, total: int) -> str:
    return f"{count:,} ({100 * count / total:.1f}%)" if total else f"{count:,}"


def print_violations(console: Console, splits: list[SplitReport]) -> None:
    for s in splits:
        if s.scheme.scheme == "none":
            continue
        found = s.scheme
        counts = (f"{found.violations:,} violations of {found.scheme} in {found.sentences_with_violations:,} sentences"
                  if found.violations else f"no violations of {found.scheme}")
        others = ", ".join(f"{count:,} as {scheme}" for scheme, count in found.in_other_schemes.items())
        console.print(f"{escape(s.name)}: {counts}" + (f" ({others})" if others else ""), highlight=False)
        if found.examples:
            table = Table(title=f"{escape(s.name)}: first violations of {found.scheme}")
            for column in ("place", "word", "tag", "problem"):
                table.add_column(column, overflow="fold" if column == "place" else "ellipsis")
            for v in found.examples:
                table.add_row(place(v.path, v.line), escape(v.word), escape(v.tag), escape(v.message))
            console.print(table)


def length_table(splits: list[SplitReport]) -> Table:
    table = Table(title="sentence length (words)")
    table.add_column("words")
    for s in splits:
        table.add_column(escape(s.name), justify="right")
    for label in splits[0].lengths.histogram:
        table.add_row(label, *(share(s.lengths.histogram[label], s.sentences) for s in splits))
    for name, value in (("mean", lambda s: f"{s.lengths.mean:.1f}"), ("median", lambda s: f"{s.lengths.median:g}"),
                        ("shortest", lambda s: f"{s.lengths.shortest:,}"), ("longest", lambda s: f"{s.lengths.longest:,}")):
        table.add_row(f"[bold]{name}", *(value(s) for s in splits))
    return table


def longest_table(splits: list[SplitReport]) -> Table:
    table = Table(title="longest sentences")
    for column in ("split", "place", "words", "beginning"):
        table.add_column(column, justify="right" if column == "words" else "left",
                         overflow="fold" if column == "place" else "ellipsis")
    for s in splits:
        for long in s.lengths.longest_sentences:
            table.add_row(escape(s.name), place(long.path, long.line), f"{long.words:,}", escape(long.preview))
    return table


def print_duplicates(console: Console, splits: list[SplitReport]) -> None:
    table = Table(title="sentences repeated within a split")
    for column in ("split", "repeats", "distinct sentences", "tagged differently"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for s in splits:
        d = s.duplicates
        table.add_row(escape(s.name), share(d.sentences, s.sentences), f"{d.distinct:,}", f"{d.conflicting:,}")
    console.print(table)
    examples = Table(title="most repeated sentences")
    for column in ("split", "times", "first at", "taggings", "sentence"):
        examples.add_column(column, justify="right" if column in ("times", "taggings") else "left",
                            overflow="fold" if column == "first at" else "ellipsis")
    for s in splits:
        for r in s.duplicates.examples:
            examples.add_row(escape(s.name), f"{r.count:,}", place(r.path, r.line), str(r.taggings), escape(r.preview))
    if examples.row_count:
        console.print(examples)


def print_comparisons(console: Console, report: DataReport) -> None:
    if report.oov:
        console.print(oov_table(report))
    if report.overlap:
        console.print(overlap_table(report))
        console.print(shared_table(report))
    for title, missing in (("tags missing from a split", report.missing_tags),
                           ("entity types missing from a split", report.missing_entity_types)):
        if missing:
            console.print(missing_table(title, missing))
    named = [s.name for s in report.splits if s.role]
    if len(named) > 1 and not (report.missing_tags or report.missing_entity_types):
        console.print(f"{', '.join(named)} have the same tags", highlight=False)


def oov_table(report: DataReport) -> Table:
    table = Table(title="words out of the training vocabulary (as written: case and digits kept)")
    for column in ("split", "OOV tokens", "token rate", "OOV types", "type rate", "most frequent OOV words"):
        table.add_column(column, justify="left" if column in ("split", "most frequent OOV words") else "right")
    for o in report.oov:
        words = ", ".join(f"{escape(word)} ({count:,})" for word, count in o.most_frequent)
        table.add_row(o.split, f"{o.oov_tokens:,} of {o.tokens:,}", f"{100 * o.token_rate:.2f}%",
                      f"{o.oov_types:,} of {o.types:,}", f"{100 * o.type_rate:.2f}%", words)
    return table


def overlap_table(report: DataReport) -> Table:
    table = Table(title="sentences shared with train (word for word)")
    for column in ("split", "sentences", "shared with train", "distinct shared"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for o in report.overlap:
        table.add_row(o.split, f"{o.sentences:,}", share(o.shared, o.sentences), f"{o.distinct:,}")
    return table


def shared_table(report: DataReport) -> Table:
    table = Table(title="longest sentences shared with train")
    for column in ("split", "words", "place", "in train", "sentence"):
        table.add_column(column, justify="right" if column == "words" else "left",
                         overflow="fold" if column in ("place", "in train") else "ellipsis")
    for o in report.overlap:
        for e in o.examples:
            table.add_row(o.split, f"{e.words:,}", place(e.path, e.line), place(e.train_path, e.train_line),
                          escape(e.preview))
    return table


def missing_table(title: str, missing: list[MissingLabel]) -> Table:
    table = Table(title=title)
    for column in ("label", "present in", "missing from"):
        table.add_column(column)
    for m in missing:
        table.add_row(escape(m.label), escape(", ".join(m.present_in)), escape(", ".join(m.missing_from)))
    return table


def place(path: str, line: int) -> str:
    return escape(f"{path}:{line}" if line else path)
