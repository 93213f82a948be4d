"""`tagger tag --out`: folders of mixed, partly broken files; resuming after a kill; never losing work."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import NER_SENTENCES
from typer.testing import CliRunner

from tagger import Tagger
from tagger.batch.manifest import LOCK_NAME, MANIFEST_NAME
from tagger.cli import app

SENTENCES = [words.split() for words, _ in NER_SENTENCES]


def invoke(*args: object) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


def tag_into(model: Path, inputs: Path, out: Path, *options: object) -> object:
    """``tagger tag MODEL INPUTS --out OUT`` on the CPU, in this process."""
    return invoke("tag", model, inputs, "--out", out, "--device", "cpu", *options)


def conll_text(sentences: list[list[str]], extra_column: bool = False) -> str:
    rows = ["\n".join(f"{w} NNP" if extra_column else w for w in s) for s in sentences]
    return "-DOCSTART- -X-\n\n" + "\n\n".join(rows) + "\n"


def conllu_text(sentences: list[list[str]]) -> str:
    blocks = []
    for number, words in enumerate(sentences, 1):
        lines = [f"# sent_id = {number}"] + [f"{i}\t{w}\t_\t_\t_\t_\t_\t_\t_\t_" for i, w in enumerate(words, 1)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n\n"


def make_corpus(folder: Path, copies: int = 1, per_file: int = 3) -> dict[str, list[list[str]]]:
    """Good files of every kind, in nested folders; returns each file's sentences (as words)."""
    expected = {}
    for copy in range(copies):
        sub = folder / f"part{copy % 7}"
        sub.mkdir(parents=True, exist_ok=True)
        chosen = [SENTENCES[(copy + i) % len(SENTENCES)] for i in range(per_file)]
        kind = copy % 5
        if kind == 0:
            path = sub / f"news{copy}.txt"
            path.write_text("\n\n".join(" ".join(s[:-1]) + "." for s in chosen) + "\n", encoding="utf-8")
        elif kind == 1:
            path = sub / f"doc{copy}.conll"
            path.write_text(conll_text(chosen, extra_column=True), encoding="utf-8")
        elif kind == 2:
            path = sub / f"doc{copy}.conllu"
            path.write_text(conllu_text(chosen), encoding="utf-8")
        elif kind == 3:
            path = sub / f"doc{copy}.jsonl"
            path.write_text(
                "".join(json.dumps({"id": n, "words": s}) + "\n" for n, s in enumerate(chosen)), encoding="utf-8"
            )
        else:
            path = sub / f"doc{copy}.conll.gz"
            path.write_bytes(gzip.compress(conll_text(chosen).encode("utf-8")))
        expected[str(path.relative_to(folder))] = chosen
    return expected


def make_broken(folder: Path) -> dict[str, str]:
    """Broken files and the path:line (or message) each failure must name."""
    (folder / "broken").mkdir(parents=True, exist_ok=True)
    (folder / "broken" / "empty.conll").write_bytes(b"")
    (folder / "broken" / "latin1.txt").write_bytes("Paris\n\nM\u00fcnchen ist gro\u00df.\n".encode("latin-1"))
    (folder / "broken" / "columns.conll").write_text("John NNP B-PER\nSmith NNP\n", encoding="utf-8")
    return {"empty.conll": "no sentences", "latin1.txt": "latin1.txt:3", "columns.conll": "columns.conll:2"}


def outputs(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_a_folder_of_1000_mixed_files_is_mirrored_and_broken_files_are_listed(trained_model, tmp_path):
    inputs = tmp_path / "inputs"
    expected = make_corpus(inputs, copies=996)  # + 3 broken files + 1 with a 5,000-word sentence = 1,000
    broken = make_broken(inputs)
    (inputs / "part0" / ".hidden.txt").write_text("John Smith.", encoding="utf-8")
    long_sentence = ["Paris"] + ["and"] * 4998 + ["London"]
    (inputs / "long.conll").write_text("\n".join(long_sentence) + "\n", encoding="utf-8")
    result = tag_into(trained_model, inputs, tmp_path / "out")
    assert result.exit_code == 1, result.output
    printed = " ".join(result.output.split())
    for name, where in broken.items():
        assert where in printed, (name, printed)
    written = outputs(tmp_path / "out")
    assert "part0/news0.txt.conll" in written and "part1/doc1.conll" in written and "part4/doc4.conll" in written
    assert "part2/doc2.conllu" in written and "part3/doc3.jsonl" in written and "long.conll" in written
    assert not any("hidden" in name or name.startswith("broken/") for name in written)
    assert len(written) == len(expected) + 1
    tagger = Tagger.load(trained_model, device="cpu")
    for name, sentences in expected.items():
        if name.endswith((".conll", ".conll.gz")):  # the prediction is the last column of each word line
            out = written[name.removesuffix(".gz")].decode("utf-8")
            blocks = [b for b in out.strip().split("\n\n") if not b.startswith("-DOCSTART-")]
            predicted = [[line.split()[-1] for line in block.splitlines()] for block in blocks]
            assert predicted == tagger.tag(sentences, documents=[0] * len(sentences)), name
    long_tags = written["long.conll"].decode("utf-8").split()[1::2]
    assert len(long_tags) == 5000 and long_tags[0] == "B-LOC"
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_running_again_skips_finished_files_and_redoes_stale_ones(trained_model, tmp_path):
    inputs = tmp_path / "inputs"
    make_corpus(inputs, copies=5)
    out = tmp_path / "out"
    assert tag_into(trained_model, inputs, out).exit_code == 0
    first = outputs(out)
    again = tag_into(trained_model, inputs, out)
    assert again.exit_code == 0 and "skipped" in again.output and outputs(out) == first
    records = [json.loads(line) for line in (out / MANIFEST_NAME).read_text().splitlines()]
    assert {r["output"] for r in records if r["status"] == "done"} == set(first)
    changed = inputs / "part1" / "doc1.conll"
    changed.write_text(conll_text([["Anna", "visited", "Berlin", "."]], extra_column=True), encoding="utf-8")
    mtimes = {name: (out / name).stat().st_mtime_ns for name in first}
    assert tag_into(trained_model, inputs, out).exit_code == 0
    redone = {name for name in first if (out / name).stat().st_mtime_ns != mtimes[name]}
    assert redone == {"part1/doc1.conll"}
    assert "Berlin" in (out / "part1" / "doc1.conll").read_text()


def test_changing_an_output_setting_redoes_every_file(trained_model, tmp_path):
    inputs = tmp_path / "inputs"
    make_corpus(inputs, copies=3)
    out = tmp_path / "out"
    assert tag_into(trained_model, inputs, out).exit_code == 0
    before = outputs(out)
    assert tag_into(trained_model, inputs, out, "--probabilities").exit_code == 0
    after = outputs(out)
    assert set(after) == set(before) and all(after[name] != before[name] for name in before)


def test_bad_input_refuses_to_replace_files_it_did_not_write(trained_model, tmp_path):
    inputs = tmp_path / "inputs"
    make_corpus(inputs, copies=2)
    out = tmp_path / "out"
    (out / "part1").mkdir(parents=True)
    (out / "part1" / "doc1.conll").write_text("my own notes\n", encoding="utf-8")
    result = tag_into(trained_model, inputs, out)
    assert result.exit_code == 2 and "was not written by tagger tag" in result.output
    assert (out / "part1" / "doc1.conll").read_text() == "my own notes\n"
    assert tag_into(trained_model, inputs, out, "--overwrite").exit_code == 0
    assert "my own notes" not in (out / "part1" / "doc1.conll").read_text()


def test_bad_input_an_output_that_would_overwrite_an_input_is_refused(trained_model, tmp_path):
    inputs = tmp_path / "inputs"
    make_corpus(inputs, copies=2)
    before = outputs(inputs)
    result = tag_into(trained_model, inputs / "part1", inputs / "part1")
    assert result.exit_code == 2 and "would overwrite the input files" in result.output
    result = tag_into(trained_model, inputs / "part1" / "doc1.conll", inputs / "part1")
    assert result.exit_code == 2 and "would overwrite the input" in result.output
    assert outputs(inputs) == before


def test_bad_input_two_runs_into_one_folder(trained_model, tmp_path):
    import fcntl

    inputs = tmp_path / "inputs"
    make_corpus(inputs, copies=2)
    out = tmp_path / "out"
    out.mkdir()
    with open(out / LOCK_NAME, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another run holds it
        result = tag_into(trained_model, inputs, out)
    assert result.exit_code == 2 and "another tagger tag run" in result.output
    assert outputs(out) == {}


def test_two_workers_write_the_same_outputs_as_one(trained_model, tmp_path):
    inputs = tmp_path / "inputs"
    make_corpus(inputs, copies=6)
    for workers in (1, 2):
        result = tag_into(trained_model, inputs, tmp_path / f"out{workers}", "--workers", workers, "--quiet")
        assert result.exit_code == 0, result.output
    assert outputs(tmp_path / "out1") == outputs(tmp_path / "out2")


def run_tag_process(model: Path, inputs: Path, out: Path, workers: int = 0) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "tagger",
        "tag",
        str(model),
        str(inputs),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--quiet",
        "--workers",
        str(workers),
    ]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )


def count_outputs(out: Path) -> int:
    return sum(1 for p in out.rglob("*.*") if not p.name.startswith(".")) if out.exists() else 0


def kill_when(process: subprocess.Popen, out: Path, outputs_done: int) -> None:
    """SIGKILL the run once ``outputs_done`` outputs exist (or at once if it ends first)."""
    while process.poll() is None and count_outputs(out) < outputs_done:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.mark.slow
def test_killed_runs_resume_to_the_same_bytes_as_one_uninterrupted_run(trained_model, tmp_path):
    inputs = tmp_path / "inputs"
    make_corpus(inputs, copies=150, per_file=60)  # 9,000 sentences: several pools, committed one after another
    assert run_tag_process(trained_model, inputs, tmp_path / "whole").wait() == 0
    rng = random.Random(7)
    out, interrupted = tmp_path / "resumed", 0
    for round_number in range(5):  # kill at a random point of the remaining work, one or two worker processes
        done = count_outputs(out)
        target = rng.randint(done + 1, done + max(1, (150 - done) // 2))  # in the first half of what is left
        kill_when(run_tag_process(trained_model, inputs, out, workers=1 + round_number % 2), out, target)
        interrupted += count_outputs(out) < 150
    assert interrupted >= 2  # outputs are committed a pool (~33 files here) at a time: the last kills may be late
    assert run_tag_process(trained_model, inputs, out).wait() == 0
    assert outputs(out) == outputs(tmp_path / "whole")
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
