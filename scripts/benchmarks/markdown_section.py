"""The one way the benchmark scripts rewrite their table in a Markdown file (BENCHMARKS.md): the text between two
marker lines is replaced, atomically; missing markers are one line saying which to add."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tagger.atomic import write_atomic  # noqa: E402


def replace_section(path: Path, table: str, start: str, end: str) -> None:
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise SystemExit(f"{path}: add the lines {start} and {end} where the table belongs")
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    write_atomic(path, f"{before}{start}\n{table}\n{end}{after}".encode())
