"""Exact resume: a run stopped at any moment and resumed with --resume ends with the same bytes as one that never stopped."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tagger.errors import ConfigError
from tagger.training import DataSource, EpochRecord, run_training, train


def settings(tiny_config, **train_changes):
    changes = {"epochs": 12, "patience": 12, "word_dropout": 0.1, "average": 0.9, **train_changes}
    return replace(
        tiny_config,
        model=replace(tiny_config.model, embedding_dropout=0.3),
        train=replace(tiny_config.train, **changes),
    )


def weights(directory: Path) -> bytes:
    return (directory / "model.safetensors").read_bytes()


def stop_after(config, source, out: Path, epochs: int) -> None:
    """Run training and abandon it once ``epochs`` epochs are done, as a run killed after its checkpoint."""
    events = run_training(config, source, out)
    for event in events:
        if isinstance(event, EpochRecord) and event.epoch == epochs:
            events.close()
            return


@pytest.mark.parametrize("schedule", ["decay", "plateau"])
def test_resumed_run_ends_with_the_same_weights_log_and_scores(ner_files, tiny_config, tmp_path, schedule):
    config = settings(tiny_config, schedule=schedule, optimizer="sgd" if schedule == "plateau" else "adam")
    source = DataSource(ner_files[0], ner_files[1])
    whole = train(config, source, tmp_path / "whole")
    stop_after(config, source, tmp_path / "resumed", epochs=5)
    resumed = train(config, source, tmp_path / "resumed", resume=True)
    assert weights(tmp_path / "resumed") == weights(tmp_path / "whole")
    assert weights(tmp_path / "resumed" / "last") == weights(tmp_path / "whole" / "last")
    assert (tmp_path / "resumed" / "train_log.jsonl").read_text().count("\n") == config.train.epochs
    assert resumed.best_epoch == whole.best_epoch and resumed.dev.to_dict() == whole.dev.to_dict()


def test_resume_without_a_checkpoint_starts_afresh_and_a_finished_run_stays_finished(ner_files, tiny_config, tmp_path):
    config, source = settings(tiny_config, epochs=3), DataSource(ner_files[0], ner_files[1])
    train(config, source, tmp_path / "a", resume=True)
    first = weights(tmp_path / "a")
    again = train(config, source, tmp_path / "a", resume=True)  # the checkpoint says finished: nothing retrained
    assert weights(tmp_path / "a") == first and again.metrics["epochs_run"] == 3


def test_bad_input_resume_with_other_settings_or_data_is_refused(ner_files, tiny_config, tmp_path):
    config, source = settings(tiny_config, epochs=2), DataSource(ner_files[0], ner_files[1])
    train(config, source, tmp_path / "a")
    with pytest.raises(ConfigError, match=r"made with train.lr = 0.02, this run has 0.1"):
        train(replace(config, train=replace(config.train, lr=0.1)), source, tmp_path / "a", resume=True)
    with pytest.raises(ConfigError, match="training data changed"):
        train(config, DataSource(ner_files[1], ner_files[1]), tmp_path / "a", resume=True)


def test_sigkill_at_three_random_moments_then_resume_gives_identical_weights(ner_files, tmp_path):
    """The CLI, killed with SIGKILL three times (before the first checkpoint, while writing one, mid-epoch:
    wherever the random moments fall) and re-run with the same command each time."""

    def command(out: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "tagger",
            "train",
            "--train",
            str(ner_files[0]),
            "--dev",
            str(ner_files[1]),
            "--out",
            str(out),
            "--resume",
            "--device",
            "cpu",
            "--set",
            "model.hidden=16",
            "--set",
            "model.layers=1",
            "--set",
            "model.word_dim=16",
            "--set",
            "train.epochs=120",
            "--set",
            "train.patience=120",
            "--set",
            "train.batch_size=2",
            "--set",
            "train.average=0.9",
        ]

    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    first_checkpoint, duration = timed_run(command(tmp_path / "whole"), environment, tmp_path / "whole")
    checkpoint = tmp_path / "killed" / "checkpoint" / "state.json"
    epochs_at_kills = []
    # Moments from just before the first checkpoint to the end: start-up alone (torch's import) takes seconds.
    for moment in sorted(random.Random(7).uniform(0.9 * first_checkpoint, duration) for _ in range(3)):
        process = subprocess.Popen(
            command(tmp_path / "killed"), env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(moment)
        process.send_signal(signal.SIGKILL)
        process.wait()
        epochs_at_kills.append(json.loads(checkpoint.read_text())["loop"]["epoch"] if checkpoint.exists() else 0)
    assert any(0 < epoch < 120 for epoch in epochs_at_kills), epochs_at_kills  # at least once mid-run
    finished = subprocess.run(command(tmp_path / "killed"), env=environment, capture_output=True, text=True)
    assert finished.returncode == 0, (epochs_at_kills, finished.stderr)
    assert weights(tmp_path / "killed") == weights(tmp_path / "whole")
    assert not list((tmp_path / "killed").rglob("*.tmp"))


def timed_run(command: list[str], environment: dict[str, str], out: Path) -> tuple[float, float]:
    """Seconds from start to the first checkpoint, and to the end of the run."""
    start, first = time.perf_counter(), None
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None:
        if first is None and (out / "checkpoint" / "state.json").exists():
            first = time.perf_counter() - start
        time.sleep(0.01)
    assert process.returncode == 0 and first is not None
    return first, time.perf_counter() - start


def test_a_kill_between_the_tensors_and_state_json_leaves_the_checkpoint_whole(ner_files, tiny_config, tmp_path):
    """The next checkpoint's tensors are written, then the run dies before state.json names them: simulated by
    garbage in the slot state.json does not name. The checkpoint state.json names is still read, whole."""
    config, source = settings(tiny_config, epochs=2), DataSource(ner_files[0], ner_files[1])
    train(config, source, tmp_path / "a")
    checkpoint = tmp_path / "a" / "checkpoint"
    named = json.loads((checkpoint / "state.json").read_text())["tensors_file"]
    other = next(name for name in ("state.a.safetensors", "state.b.safetensors") if name != named)
    (checkpoint / other).write_bytes(b"half of the next checkpoint")
    before = weights(tmp_path / "a")
    train(config, source, tmp_path / "a", resume=True)  # reads the checkpoint: the finished run stays finished
    assert weights(tmp_path / "a") == before
