"""Faults while tagging a folder: a full disk, a read-only output folder, an input deleted mid-run, two
processes writing one output folder. Each ends in a clear error or correct outputs, never a half-written file."""

from __future__ import annotations

import errno
import resource
import signal
import subprocess
import sys
from pathlib import Path

import tagger.atomic
import tagger.batch.run
from tests.test_batch import SENTENCES, conll_text, outputs, tag_into

BIG = [["Paris"] * 400] * 40  # a CoNLL input whose output is about 130 KB


def make_inputs(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("a", "b"):
        (folder / f"{name}.conll").write_text(conll_text(SENTENCES), encoding="utf-8")
    (folder / "big.conll").write_text(conll_text(BIG), encoding="utf-8")
    return folder


def no_temporaries(out: Path) -> bool:
    return not [p for p in out.rglob("*") if p.name.endswith(tagger.atomic.TEMPORARY_SUFFIX)]


def limit_file_size() -> None:
    """Writes past 64 KB fail with EFBIG, as they would with ENOSPC on a full disk (SIGXFSZ would kill instead)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))


def test_full_disk_fails_the_file_that_does_not_fit_and_leaves_no_partial_output(trained_model, tmp_path):
    inputs, out = make_inputs(tmp_path / "inputs"), tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "tagger",
        "tag",
        str(trained_model),
        str(inputs),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--workers",
        "1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, preexec_fn=limit_file_size)
    assert result.returncode == 1, result.stderr
    assert "cannot write" in result.stderr and "big.conll" in result.stderr
    assert sorted(outputs(out)) == ["a.conll", "b.conll"] and no_temporaries(out)
    assert subprocess.run(command, capture_output=True).returncode == 0  # space again: only big.conll is redone
    assert sorted(outputs(out)) == ["a.conll", "b.conll", "big.conll"]


def test_read_only_output_folder_is_one_clear_error_per_file(trained_model, tmp_path, monkeypatch):
    # root ignores file modes, so the refusal the OS gives a user is simulated where the temporary file is made
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir"))

    inputs, out = make_inputs(tmp_path / "inputs"), tmp_path / "out"
    monkeypatch.setattr(tagger.atomic.tempfile, "mkstemp", refuse)
    result = tag_into(trained_model, inputs, out, "--workers", "1")
    assert result.exit_code == 1
    assert result.output.count("Permission denied") == 3 and outputs(out) == {}


def test_input_deleted_mid_run_fails_that_file_only(trained_model, tmp_path, monkeypatch):
    inputs, out = make_inputs(tmp_path / "inputs"), tmp_path / "out"
    planned = tagger.batch.run.plan

    def plan_then_delete(*args, **kwargs):
        tasks = planned(*args, **kwargs)
        (inputs / "b.conll").unlink()  # after the inputs were found, before b.conll is read
        return tasks

    monkeypatch.setattr(tagger.batch.run, "plan", plan_then_delete)
    result = tag_into(trained_model, inputs, out, "--workers", "1")
    assert result.exit_code == 1 and "b.conll" in result.output
    assert sorted(outputs(out)) == ["a.conll", "big.conll"] and no_temporaries(out)


def test_two_processes_started_together_on_one_output_folder(trained_model, tmp_path):
    inputs, out = make_inputs(tmp_path / "inputs"), tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "tagger",
        "tag",
        str(trained_model),
        str(inputs),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--workers",
        "1",
        "--quiet",
    ]
    first, second = (subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2))
    results = sorted([(p.wait(), p.stderr.read()) for p in (first, second)], key=lambda r: r[0])
    codes = [code for code, _ in results]
    # One wins the folder's lock; the other is refused, or, if the first had finished, finds everything done.
    assert codes in ([0, 2], [0, 0]), results
    if codes == [0, 2]:
        assert "another tagger tag run" in results[1][1]
    alone = tmp_path / "alone"
    assert tag_into(trained_model, inputs, alone, "--workers", "1").exit_code == 0
    assert outputs(out) == outputs(alone) and no_temporaries(out)
