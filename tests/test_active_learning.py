"""scripts/benchmarks/active_learning.py on the tiny corpus: both curves trained round by round, the table written
between its markers, a second run resumes (trains nothing), and a work folder inside the repository is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import write_conll

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "benchmarks" / "active_learning.py"
TINY = ["model.word_dim=8", "model.char_dim=4", "model.char_filters=4", "model.hidden=8"]


def run(work: Path, corpus: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(SCRIPT), "--work", str(work), "--train", str(corpus), "--dev", str(corpus)]
    command += ["--test", str(corpus), "--start", "4", "--step", "2", "--rounds", "2", "--seeds", "1", "--epochs", "1"]
    command += [f"--set={setting}" for setting in TINY] + list(extra)
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_the_simulation_runs_resumes_and_writes_its_table(tmp_path):
    corpus = write_conll(tmp_path / "tiny.conll")
    benchmarks = tmp_path / "BENCHMARKS.md"
    benchmarks.write_text("# B\n\n<!-- active-learning:start -->\nold\n<!-- active-learning:end -->\nafter\n")
    work = tmp_path / "work"
    first = run(work, corpus, "--benchmarks", str(benchmarks))
    assert first.returncode == 0, first.stderr
    rounds = sorted(str(p.relative_to(work)) for p in work.rglob("round-*.json"))
    assert rounds == [
        "seed-1/random/round-1.json",
        "seed-1/random/round-2.json",
        "seed-1/start/round-0.json",
        "seed-1/uncertainty/round-1.json",
        "seed-1/uncertainty/round-2.json",
    ]
    last = json.loads((work / "seed-1" / "uncertainty" / "round-2.json").read_text())
    assert last["sentences"] == len(last["labelled"]) == 8 and last["strategy"] == "uncertainty"
    text = benchmarks.read_text()
    assert "old" not in text and text.endswith("<!-- active-learning:end -->\nafter\n")
    assert "| 2 | 8 |" in text and (work / "active_learning.png").stat().st_size > 0
    times = {p: p.stat().st_mtime_ns for p in work.rglob("round-*.json")}
    second = run(work, corpus)
    assert second.returncode == 0 and "training on" not in second.stdout  # every round done: nothing trained
    assert {p: p.stat().st_mtime_ns for p in work.rglob("round-*.json")} == times


def test_a_work_folder_inside_the_repository_is_refused(tmp_path):
    result = run(ROOT / "runs" / "active-learning-test", write_conll(tmp_path / "tiny.conll"))
    assert result.returncode != 0 and "inside this repository" in result.stderr
    assert not (ROOT / "runs" / "active-learning-test").exists()
