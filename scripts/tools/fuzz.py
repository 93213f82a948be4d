"""Fuzz the corpus readers at length (CI runs a few hundred cases in tests/test_fuzz.py; this runs thousands).

    OMP_NUM_THREADS=1 nice -n 19 python scripts/tools/fuzz.py --cases 10000 --seed 1

Each reader (conll, conllu, jsonl, docbin, and auto: read_corpus with corpus.format=auto) gets --cases
cases: a quarter round-trip corpora (drawn by Hypothesis, written by our writer, read back and compared),
the rest random bytes (one in four) and mutated valid files (tests/fuzzing.py says how). A case is
accepted, refused with our own error (a TaggerError), or unexpected: any other exception, or a round trip
that reads back other words, tags or documents. Each unexpected case is saved under --failures (the input
file as read, and a .txt with the reader, its settings, the exception and the traceback) to reproduce it.
Exit status 1 when any case is unexpected. The same --cases and --seed give the same cases.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tests.fuzzing holds the generators shared with the CI tests

from tests.fuzzing import READERS, Failure, Tally, fuzz_reader  # noqa: E402

COLUMNS = ("reader", "cases", "accepted", "refused (our error)", "unexpected")


def save_failure(failure: Failure, folder: Path, number: int) -> Path:
    """The input as ``<reader>-<n><suffix>`` and what happened as ``<reader>-<n>.txt``; the report's path."""
    folder.mkdir(parents=True, exist_ok=True)
    case = failure.case
    stem = folder / f"{case.reader}-{number:04d}"
    stem.with_name(stem.name + case.suffix).write_bytes(case.data)
    report = stem.with_name(stem.name + ".txt")
    report.write_text(
        f"reader: {case.reader}\nsource: {case.source}\nfile: {stem.name}{case.suffix}\nconfig: {case.config}\n"
        f"tags_required: {case.tags_required}\nstrict: {case.strict}\n\n{failure.kind}: {failure.message}\n\n"
        f"{failure.trace}",
        encoding="utf-8",
    )
    return report


def table(tallies: list[Tally]) -> str:
    """A Markdown table: one row per reader, then the totals."""
    rows = [(t.reader, t.cases, t.accepted, t.refused, t.unexpected) for t in tallies]
    rows.append(("total", *(sum(row[i] for row in rows) for i in range(1, 5))))
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * (len(COLUMNS) - 1)]
    lines += [f"| {row[0]} | " + " | ".join(f"{value:,}" for value in row[1:]) + " |" for row in rows]
    return "\n".join(lines)


def source_breakdown(tallies: list[Tally]) -> str:
    """Cases by source (random, mutated, roundtrip) and outcome, one line per reader."""
    lines = []
    for tally in tallies:
        parts = [f"{source} {outcome} {count:,}" for (source, outcome), count in sorted(tally.by_source.items())]
        lines.append(f"  {tally.reader}: " + ", ".join(parts))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000, help="cases per reader (default 10,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--readers", nargs="+", choices=READERS, default=list(READERS))
    parser.add_argument(
        "--failures",
        type=Path,
        default=ROOT / "runs" / "fuzz-failures",
        help="where unexpected cases are saved (default runs/fuzz-failures)",
    )
    args = parser.parse_args()

    started = time.perf_counter()
    print(
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"{args.cases:,} cases per reader, seed {args.seed}",
        flush=True,
    )
    tallies, saved = [], 0
    with tempfile.TemporaryDirectory(prefix="fuzz-") as scratch:
        for reader in args.readers:
            folder = Path(scratch) / reader
            folder.mkdir()
            reader_started = time.perf_counter()

            def on_failure(failure: Failure) -> None:
                nonlocal saved
                saved += 1
                report = save_failure(failure, args.failures, saved)
                print(f"  unexpected: {failure.kind}: {failure.message[:200]} (saved {report})", flush=True)

            tally = fuzz_reader(reader, args.cases, args.seed, folder, on_failure=on_failure)
            tallies.append(tally)
            print(f"{reader}: {tally.cases:,} cases in {time.perf_counter() - reader_started:.0f} s", flush=True)
    print(f"\n{table(tallies)}\n\nBy source:\n{source_breakdown(tallies)}\n")
    print(f"{time.perf_counter() - started:.0f} s in all")
    return 1 if any(tally.unexpected for tally in tallies) else 0


if __name__ == "__main__":
    sys.exit(main())
