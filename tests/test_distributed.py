"""Data-parallel training: torchrun starts 2 CPU processes (gloo) that train one model together."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tagger import Tagger
from tests.conftest import NER_SENTENCES

SETTINGS = [
    "--device",
    "cpu",
    "--set",
    "model.word_dim=16",
    "--set",
    "model.char_dim=8",
    "--set",
    "model.char_filters=8",
    "--set",
    "model.hidden=16",
    "--set",
    "model.embedding_dropout=0.0",
    "--set",
    "model.recurrent_dropout=0.0",
    "--set",
    "model.output_dropout=0.0",
    "--set",
    "train.epochs=60",
    "--set",
    "train.patience=60",
    "--set",
    "train.lr=0.02",
    "--set",
    "train.lr_decay=0.0",
    "--set",
    "train.batch_size=2",
    "--set",
    "train.word_dropout=0.0",
]


def train_command(ner_files, out: Path) -> list[str]:
    return ["train", "--train", str(ner_files[0]), "--dev", str(ner_files[1]), "--out", str(out), *SETTINGS]


def run(command: list[str]) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def dev_f1(out: Path) -> float:
    return json.loads((out / "metrics.json").read_text())["dev"]["conlleval"]["micro"]["f1"]


def test_two_torchrun_processes_train_a_model_as_good_as_one_process(ner_files, tmp_path):
    run([sys.executable, "-m", "tagger", *train_command(ner_files, tmp_path / "one")])
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "tagger"]
    result = run(torchrun + train_command(ner_files, tmp_path / "two"))
    assert result.stderr.count("best epoch") == 1  # rank 0 reports; rank 1 trains quietly
    assert dev_f1(tmp_path / "two") == dev_f1(tmp_path / "one") == 1.0
    words = [w.split() for w, _ in NER_SENTENCES]
    assert Tagger.load(tmp_path / "two").tag(words) == [t.split() for _, t in NER_SENTENCES]
    assert len((tmp_path / "two" / "train_log.jsonl").read_text().splitlines()) == 60
    checkpoint = tmp_path / "two" / "checkpoint"
    assert json.loads((checkpoint / "state.json").read_text())["loop"]["epoch"] == 60
    tensors_file = json.loads((checkpoint / "state.json").read_text())["tensors_file"]
    assert b"rng/torch/rank1" in (checkpoint / tensors_file).read_bytes()  # rank 1's own dropout stream


def test_distributed_option_starts_torchrun_itself(ner_files, tmp_path):
    result = run([sys.executable, "-m", "tagger", *train_command(ner_files, tmp_path / "two"), "--distributed", "2"])
    assert result.stderr.count("best epoch") == 1 and dev_f1(tmp_path / "two") == 1.0
