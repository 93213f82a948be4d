"""`tagger tag --engine ray`: the same outputs and failure report as the local engine, on a local Ray instance."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_batch import make_broken, make_corpus, outputs

pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'bilstm-tagger[ray]'")


def tag(model: Path, inputs: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
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
        *options,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def failures(result: subprocess.CompletedProcess) -> list[str]:
    return sorted(line for line in result.stderr.splitlines() if line.startswith("failed:"))


def test_ray_engine_writes_the_local_engines_bytes_and_reports_the_same_failures(trained_model, tmp_path):
    inputs = tmp_path / "inputs"
    make_corpus(inputs, copies=6)
    make_broken(inputs)
    local = tag(trained_model, inputs, tmp_path / "local", "--workers", "1")
    on_ray = tag(trained_model, inputs, tmp_path / "ray", "--engine", "ray", "--workers", "2")
    assert local.returncode == on_ray.returncode == 1, on_ray.stderr
    assert failures(on_ray) == failures(local) and len(failures(local)) == 3
    written = outputs(tmp_path / "ray")
    assert written == outputs(tmp_path / "local") and len(written) == 6
    again = tag(trained_model, inputs, tmp_path / "ray", "--engine", "ray", "--workers", "2")
    assert "skipped │     6" in again.stderr  # the manifest works as with the local engine


def test_bad_input_ray_engine_needs_an_output_folder(trained_model, tmp_path):
    from tests.test_cli import assert_user_error, invoke

    make_corpus(tmp_path / "inputs", copies=1)
    assert_user_error(invoke("tag", trained_model, tmp_path / "inputs", "--engine", "ray"), "add --out DIR")
