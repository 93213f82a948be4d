"""Training and tagging speed when the CPU is shared: alone, beside busy processes, beside a second training.

    python scripts/benchmarks/contention.py --layouts default fixed threads=1 --conditions idle busy1 busy2 train \\
        --benchmarks BENCHMARKS.md

Each measurement runs in a fresh process, so a layout's environment (OpenMP's wait policy, thread counts) is read
by torch as it loads, as it would be for a user. The workloads are the default settings on the UD English EWT
corpus shipped in ``corpora/``: one training epoch on its first ``--sentences`` sentences (seconds per epoch,
from ``train_log.jsonl``) and tagging its test set pre-tokenised with the model that epoch trained (words/s,
median of ``--passes``). The competitors of each condition start before, and are killed after, each measurement:
``busyN`` is N single-threaded ``while True: pass`` processes (a compile, a notebook, another user's script);
``train`` is a second ``tagger train`` with its own defaults. Each competitor runs in a session of its own, as
a program started from another terminal would (Linux's scheduler shares the CPU between sessions first). Every layout sees the same conditions in turn.
A measurement that has not finished after ``--timeout`` seconds is reported as ``>timeout``: that is the collapse.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

from tagger.runtime import usable_cpus

ROOT = Path(__file__).resolve().parents[2]
EWT = ROOT / "corpora" / "ud_en_ewt"
MARK_START, MARK_END = "<!-- contention:start -->", "<!-- contention:end -->"

# A layout is the environment a user's process starts with and the thread count it asks for (None: tagger's own
# choice); "default" is whatever tagger does by itself (since 2026-11-30: every CPU, one thread fewer for each CPU
# other processes keep busy), "fixed" every CPU whatever the load (the default before). GOMP_SPINCOUNT is how long an
# OpenMP thread that waits at a barrier spins before it sleeps: libgomp's own is 300,000 spins; 0 sleeps at once
# (OMP_WAIT_POLICY=PASSIVE).
LAYOUTS: dict[str, tuple[dict[str, str], int | None]] = {
    "default": ({}, None),
    "fixed": ({}, usable_cpus()),
    "threads=1": ({}, 1),
    "spin=300k": ({"GOMP_SPINCOUNT": "300000"}, None),
    "spin=30k": ({"GOMP_SPINCOUNT": "30000"}, None),
    "spin=3k": ({"GOMP_SPINCOUNT": "3000"}, None),
    "spin=0": ({"GOMP_SPINCOUNT": "0"}, None),
}
BASELINE = "fixed"
BUSY = [sys.executable, "-c", "while True: pass"]

TAG_SCRIPT = """
import json, statistics, sys, time
from tagger import Tagger
from tagger.corpus import read_corpus
tagger = Tagger.load(sys.argv[1], device="cpu")
sentences = [s.words for s in read_corpus(sys.argv[2])[0]]
words = sum(map(len, sentences))
tagger.tag(sentences[:500])
rates = []
for _ in range(int(sys.argv[3])):
    start = time.perf_counter()
    tagger.tag(sentences)
    rates.append(words / (time.perf_counter() - start))
print(json.dumps({"words_per_second": statistics.median(rates)}))
"""


def subset(source: Path, target: Path, sentences: int) -> Path:
    """The first ``sentences`` sentences of a CoNLL-U file."""
    blocks = gzip.open(source, "rt", encoding="utf-8").read().split("\n\n")[:sentences]
    target.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    return target


def start_competitors(condition: str, work: Path, train_file: Path) -> list[subprocess.Popen]:
    if condition == "idle":
        return []
    if condition.startswith("busy"):
        return [subprocess.Popen(BUSY, start_new_session=True) for _ in range(int(condition[4:]))]
    if condition == "train":  # a second training with its own defaults, running for as long as it is needed
        out = work / "competitor"
        command = [sys.executable, "-m", "tagger", "train", "--train", str(train_file), "--dev", str(train_file)]
        command += ["--out", str(out), "--epochs", "1000", "--overwrite"]
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        time.sleep(8)  # past its start-up, into its epochs
        return [process]
    raise SystemExit(f"unknown condition {condition!r}: expected idle, busyN or train")


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.kill()
        process.wait()


def environment(layout: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(LAYOUTS[layout][0])
    return env


def time_training(layout: str, train_file: Path, dev_file: Path, out: Path, timeout: float) -> float | None:
    command = [sys.executable, "-m", "tagger", "train", "--train", str(train_file), "--dev", str(dev_file)]
    command += ["--out", str(out), "--epochs", "1", "--overwrite"]
    threads = LAYOUTS[layout][1]
    if threads:
        command += ["--set", f"train.threads={threads}"]
    try:
        subprocess.run(command, env=environment(layout), check=True, timeout=timeout, capture_output=True)
    except subprocess.TimeoutExpired:
        return None
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    return log[0]["seconds"]


def time_tagging(layout: str, model: Path, test_file: Path, passes: int, timeout: float) -> float | None:
    env = environment(layout)
    threads = LAYOUTS[layout][1]
    if threads:  # the layout's thread count applies to tagging too
        env["OMP_NUM_THREADS"] = str(threads)
    command = [sys.executable, "-c", TAG_SCRIPT, str(model), str(test_file), str(passes)]
    try:
        done = subprocess.run(command, env=env, check=True, timeout=timeout, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["words_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layouts", nargs="+", default=["default", "fixed", "threads=1"], choices=list(LAYOUTS))
    parser.add_argument("--conditions", nargs="+", default=["idle", "busy1", "busy2", "train"])
    parser.add_argument("--sentences", type=int, default=4000, help="training sentences (UD EWT train)")
    parser.add_argument("--passes", type=int, default=3, help="tagging passes over UD EWT test; the median")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds before a measurement is a collapse")
    parser.add_argument("--benchmarks", type=Path, help="replace the table between this script's markers")
    args = parser.parse_args()

    results: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    with tempfile.TemporaryDirectory(prefix="contention-") as folder:
        work = Path(folder)
        train_file = subset(EWT / "en_ewt-ud-train.conllu.gz", work / "train.conllu", args.sentences)
        dev_file = subset(EWT / "en_ewt-ud-dev.conllu.gz", work / "dev.conllu", 500)
        test_file = EWT / "en_ewt-ud-test.conllu.gz"
        for condition in args.conditions:
            for layout in args.layouts:
                competitors = start_competitors(condition, work, train_file)
                try:
                    model = work / f"model-{layout}"
                    epoch = time_training(layout, train_file, dev_file, model, args.timeout)
                    rate = None
                    if epoch is not None:
                        rate = time_tagging(layout, model, test_file, args.passes, args.timeout)
                finally:
                    stop(competitors)
                results[condition, layout] = (epoch, rate)
                print(
                    f"{condition:6} {layout:18} epoch {fmt_seconds(epoch, args.timeout):>8}  "
                    f"tagging {fmt_rate(rate, args.timeout):>10} words/s",
                    flush=True,
                )
    table = render(results, args)
    print(table)
    if args.benchmarks:
        from markdown_section import replace_section

        replace_section(args.benchmarks, table, MARK_START, MARK_END)


def fmt_seconds(value: float | None, timeout: float) -> str:
    return f">{timeout:.0f} s" if value is None else f"{value:.1f} s"


def fmt_rate(value: float | None, timeout: float) -> str:
    return "(collapsed)" if value is None else f"{value:,.0f}"


def render(results: dict[tuple[str, str], tuple[float | None, float | None]], args: argparse.Namespace) -> str:
    lines = [
        f"{date.today().isoformat()}, {os.cpu_count()} CPUs, torch {torch.__version__}; one training epoch on "
        f"{args.sentences:,} UD EWT sentences (default settings), then tagging UD EWT test pre-tokenised "
        f"(median of {args.passes}); each cell a fresh process; in brackets: against {BASELINE} idle when it was "
        "measured (every CPU whatever the load, the default until 2026-11-30: the issue's bars are against it), "
        "else the same layout idle.",
        "",
        "| condition | layout | seconds per epoch | tagging words/s |",
        "| --- | --- | ---: | ---: |",
    ]
    for (condition, layout), (epoch, rate) in results.items():
        reference = ("idle", BASELINE) if ("idle", BASELINE) in results else ("idle", layout)
        idle_epoch, idle_rate = results.get(reference, (None, None))
        epoch_text = fmt_seconds(epoch, args.timeout)
        rate_text = fmt_rate(rate, args.timeout)
        if (condition, layout) != reference and epoch is not None and idle_epoch:
            epoch_text += f" ({epoch / idle_epoch:.2f}×)"
        if (condition, layout) != reference and rate is not None and idle_rate:
            rate_text += f" ({rate / idle_rate:.0%})"
        lines.append(f"| {condition} | {layout} | {epoch_text} | {rate_text} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
