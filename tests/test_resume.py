"""Exact resume: a run stopped at any moment and resumed with --resume ends with the same bytes as one that never stopped."""

import importlib.util
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

import tagger.serialization
import tagger.training.checkpoint
import tagger.training.loop
from tagger.batch.manifest import job_fingerprint
from tagger.errors import ConfigError, ModelDirError
from tagger.portable.files import CARRIED_FILES
from tagger.runtime import usable_cpus
from tagger.serialization import add_model_files, load_model
from tagger.training import DataSource, EpochRecord, run_training, train
from tagger.training.checkpoint import LoopState
from tagger.training.loop import how_to_go_on, stop_reason


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


@pytest.mark.parametrize("schedule", ["decay", "plateau", "linear"])
def test_resumed_run_ends_with_the_same_weights_log_and_scores(ner_files, tiny_config, tmp_path, schedule):
    config = settings(tiny_config, schedule=schedule, optimizer="sgd" if schedule == "plateau" else "adam")
    source = DataSource(ner_files[0], ner_files[1])
    whole = train(config, source, tmp_path / "whole", keep="all")
    stop_after(config, source, tmp_path / "resumed", epochs=5)
    resumed = train(config, source, tmp_path / "resumed", resume=True, keep="all")
    assert weights(tmp_path / "resumed") == weights(tmp_path / "whole")
    assert weights(tmp_path / "resumed" / "last") == weights(tmp_path / "whole" / "last")
    assert (tmp_path / "resumed" / "train_log.jsonl").read_text().count("\n") == config.train.epochs
    assert resumed.best_epoch == whole.best_epoch and resumed.dev.to_dict() == whole.dev.to_dict()


class TickingClock:
    """A clock for the training loop whose every reading is ten seconds after the last: epochs take fixed time."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 10.0
        return self.now


def test_resumed_run_goes_on_with_what_is_left_of_max_minutes(ner_files, tiny_config, tmp_path, monkeypatch):
    config = settings(tiny_config, max_minutes=3.0)
    source = DataSource(ner_files[0], ner_files[1])
    monkeypatch.setattr(tagger.training.loop, "time", TickingClock())
    whole = train(config, source, tmp_path / "whole")
    assert 1 < whole.metrics["epochs_run"] < config.train.epochs  # the budget, not the epochs, ended it
    monkeypatch.setattr(tagger.training.loop, "time", TickingClock())
    stop_after(config, source, tmp_path / "resumed", epochs=2)
    clock = TickingClock()  # a new process: its clock starts again
    monkeypatch.setattr(tagger.training.loop, "time", clock)
    resumed = train(config, source, tmp_path / "resumed", resume=True)
    assert resumed.metrics["epochs_run"] == whole.metrics["epochs_run"]
    assert weights(tmp_path / "resumed") == weights(tmp_path / "whole")
    log = [json.loads(line) for line in (tmp_path / "resumed" / "train_log.jsonl").read_text().splitlines()]
    before = sum(record["seconds"] for record in log[:2])
    assert resumed.metrics["train_seconds"] == clock.now - 10.0 + before  # its own time and the epochs before


def test_resume_without_a_checkpoint_starts_afresh_and_a_finished_run_stays_finished(ner_files, tiny_config, tmp_path):
    config, source = settings(tiny_config, epochs=3), DataSource(ner_files[0], ner_files[1])
    train(config, source, tmp_path / "a", resume=True)
    first = weights(tmp_path / "a")
    again = train(config, source, tmp_path / "a", resume=True)  # the checkpoint says finished: nothing retrained
    assert weights(tmp_path / "a") == first and again.metrics["epochs_run"] == 3


def test_a_finished_run_scored_again_keeps_what_was_tagged_with_its_model_current(ner_files, tiny_config, tmp_path):
    """--resume on a finished run writes its scores again (and config.json, naming them): the model is the same, so
    outputs tagged with it are not stale."""
    config, source = settings(tiny_config, epochs=2), DataSource(ner_files[0], ner_files[1])
    train(config, source, tmp_path / "a")
    before, listed = job_fingerprint(tmp_path / "a", {}), json.loads((tmp_path / "a" / "config.json").read_text())
    train(config, source, tmp_path / "a", resume=True)
    again = json.loads((tmp_path / "a" / "config.json").read_text())
    assert again["files"]["model.safetensors"] == listed["files"]["model.safetensors"]
    assert job_fingerprint(tmp_path / "a", {}) == before
    add_model_files(tmp_path / "a", {"metrics.json": b'{"scored": "again"}\n'})  # other scores, for certain
    assert json.loads((tmp_path / "a" / "config.json").read_text())["files"] != again["files"]
    assert job_fingerprint(tmp_path / "a", {}) == before


@pytest.mark.parametrize("rule", ["epochs", "max_minutes"])
def test_a_run_resumed_with_a_longer_limit_goes_on_as_if_given_it_from_the_start(
    ner_files, tiny_config, tmp_path, monkeypatch, rule
):
    """A run that stopped at its epochs or its time limit goes on when resumed with a longer one (its checkpoint
    said finished), and ends with the weights of a run given the longer limit from the start."""
    short, long = {
        "epochs": ({"epochs": 3}, {"epochs": 6}),
        "max_minutes": ({"max_minutes": 1.5}, {"max_minutes": 3.0}),
    }[rule]
    source = DataSource(ner_files[0], ner_files[1])
    monkeypatch.setattr(tagger.training.loop, "time", TickingClock())
    whole = train(settings(tiny_config, **long), source, tmp_path / "whole", keep="all")
    monkeypatch.setattr(tagger.training.loop, "time", TickingClock())
    stopped = train(settings(tiny_config, **short), source, tmp_path / "resumed")  # last/ pruned, as by default
    assert stopped.metrics["epochs_run"] < whole.metrics["epochs_run"] < 12
    assert stopped.stopped_by == whole.stopped_by == stopped.metrics["stopped_by"] == rule  # not patience
    monkeypatch.setattr(tagger.training.loop, "time", TickingClock())
    resumed = train(settings(tiny_config, **long), source, tmp_path / "resumed", resume=True, keep="all")
    assert resumed.metrics["epochs_run"] == whole.metrics["epochs_run"]
    assert weights(tmp_path / "resumed" / "last") == weights(tmp_path / "whole" / "last")
    assert weights(tmp_path / "resumed") == weights(tmp_path / "whole")


def test_why_a_run_stopped_and_how_to_give_it_more(tiny_config):
    config = settings(tiny_config, epochs=10, patience=3, max_minutes=1.0)
    log = [{"seconds": 20.0}] * 2
    assert stop_reason(LoopState(epoch=2, best_epoch=2, log=log), config) == ""
    assert stop_reason(LoopState(epoch=2, best_epoch=2, log=[*log, {"seconds": 20.0}]), config) == "max_minutes"
    assert stop_reason(LoopState(epoch=5, best_epoch=2, log=log), config) == "patience"  # 3 epochs without a better
    assert stop_reason(LoopState(epoch=10, best_epoch=10, log=log), config) == "epochs"
    rising = LoopState(epoch=3, best_epoch=3, log=log)
    assert how_to_go_on(rising, config, "max_minutes") == (
        "`train.max_minutes=1` stopped the run after its best epoch so far (3); `resume` with a larger "
        "`train.max_minutes` goes on from its checkpoint"
    )
    assert how_to_go_on(LoopState(epoch=3, best_epoch=2, log=log), config, "max_minutes") == ""  # no longer rising
    assert how_to_go_on(rising, config, "patience") == ""


def test_bad_input_resume_with_other_settings_or_data_is_refused(ner_files, tiny_config, tmp_path):
    config, source = settings(tiny_config, epochs=2), DataSource(ner_files[0], ner_files[1])
    train(config, source, tmp_path / "a")
    with pytest.raises(ConfigError, match=r"made with train.lr = 0.02, this run has 0.1"):
        train(replace(config, train=replace(config.train, lr=0.1)), source, tmp_path / "a", resume=True)
    with pytest.raises(ConfigError, match="training data changed"):
        train(config, DataSource(ner_files[1], ner_files[1]), tmp_path / "a", resume=True)


def test_a_checkpoint_from_before_a_new_setting_resumes_with_that_settings_default(ner_files, tiny_config, tmp_path):
    """A setting added since the checkpoint was written (its config has no such key) was trained with its default:
    a run stopped before an upgrade goes on after it; a value other than the default is still refused."""
    config, source = settings(tiny_config, epochs=2), DataSource(ner_files[0], ner_files[1])
    train(config, source, tmp_path / "a")
    state = tmp_path / "a" / "checkpoint" / "state.json"
    header = json.loads(state.read_text(encoding="utf-8"))
    del header["config"]["corpus"]["encoding"]  # as if this version had not had corpus.encoding yet
    state.write_text(json.dumps(header), encoding="utf-8")
    assert train(settings(tiny_config, epochs=3), source, tmp_path / "a", resume=True).metrics["epochs_run"] == 3
    other = replace(config, corpus=replace(config.corpus, encoding="latin-1"))
    with pytest.raises(ConfigError, match=r"made with corpus.encoding = 'utf-8', this run has 'latin-1'"):
        train(other, source, tmp_path / "a", resume=True)


def test_a_run_resumes_from_the_same_data_named_by_another_path(ner_files, tiny_config, tmp_path, monkeypatch):
    """The data's identity is its content: a relative path, or the corpus moved with its project, goes on."""
    config, source = settings(tiny_config, epochs=2), DataSource(ner_files[0], ner_files[1])
    train(config, source, tmp_path / "a")
    moved = tmp_path / "moved"
    moved.mkdir()
    for path in ner_files[:2]:
        shutil.copy(path, moved / Path(path).name)
    monkeypatch.chdir(moved)
    relative = DataSource(Path(ner_files[0]).name, Path(ner_files[1]).name)
    longer = settings(tiny_config, epochs=3)
    assert train(longer, relative, tmp_path / "a", resume=True).metrics["epochs_run"] == 3


@pytest.mark.parametrize("threads", ["default", "1"])
def test_sigkill_at_three_random_moments_then_resume_gives_identical_weights(ner_files, tmp_path, threads):
    """The CLI, killed with SIGKILL three times (around the first checkpoint, then at random moments of two random
    epochs: before, while or after one is written) and re-run with the same command each time. At torch's default
    threads (the environment's OMP_NUM_THREADS removed; several threads on any machine with several CPUs), and at
    one."""
    epochs = 40

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
            f"train.epochs={epochs}",
            "--set",
            f"train.patience={epochs}",
            "--set",
            "train.batch_size=2",
            "--set",
            "train.average=0.9",
            *(["--set", f"train.threads={threads}"] if threads != "default" else []),
        ]

    environment = {name: value for name, value in os.environ.items() if name != "OMP_NUM_THREADS"}
    if threads != "default":
        environment["OMP_NUM_THREADS"] = threads
    # Timed twice, the faster run kept: once in CI a stall made the only timed run 4x slower than its copies, and all
    # three kills fell after a killed run had already finished ([40, 40, 40]).
    first_checkpoint, duration = min(
        (timed_run(command(tmp_path / name), environment, tmp_path / name) for name in ("whole", "whole-again")),
        key=lambda timing: timing[1],
    )
    assert weights(tmp_path / "whole-again") == weights(tmp_path / "whole")
    used = json.loads((tmp_path / "whole" / "metrics.json").read_text())["threads"]
    if threads == "default":
        if usable_cpus() < 2:
            pytest.skip("one CPU: torch's default is one thread, the case below")
        assert used > 1, "the default settings train with several threads on several CPUs"
    else:
        assert used == int(threads)
    checkpoint = tmp_path / "killed" / "checkpoint" / "state.json"

    def checkpoint_epoch() -> int:
        return json.loads(checkpoint.read_text())["loop"]["epoch"] if checkpoint.exists() else 0  # written atomically

    # The kills follow the killed run's own progress, not the timed runs' clock: in two CI runs the killed run was
    # so much faster than the timed ones that all three kills, placed by their clock, came after it had finished
    # ([40, 40, 40]). The first falls around the first checkpoint (start-up alone, torch's import, takes seconds);
    # the others once the checkpoint reaches a random epoch, a random part of an epoch later.
    draw = random.Random(7)
    epoch_seconds = (duration - first_checkpoint) / (epochs - 1)
    epochs_at_kills = []
    for target in [0, *sorted(draw.sample(range(2, epochs - 2), 2))]:
        process = subprocess.Popen(
            command(tmp_path / "killed"), env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if target == 0:
            time.sleep(draw.uniform(0.9, 1.1) * first_checkpoint)
        else:
            while process.poll() is None and checkpoint_epoch() < target:
                time.sleep(0.005)
            time.sleep(draw.uniform(0.0, 1.0) * epoch_seconds)
        process.send_signal(signal.SIGKILL)
        process.wait()
        epochs_at_kills.append(checkpoint_epoch())
    assert any(0 < epoch < epochs for epoch in epochs_at_kills), epochs_at_kills  # at least once mid-run
    finished = subprocess.run(command(tmp_path / "killed"), env=environment, capture_output=True, text=True)
    assert finished.returncode == 0, (epochs_at_kills, finished.stderr)
    assert weights(tmp_path / "killed") == weights(tmp_path / "whole")
    assert json.loads((tmp_path / "killed" / "metrics.json").read_text())["threads"] == used
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


def test_a_run_killed_between_any_two_writes_loads_whole_or_refused_and_resumes_to_the_same_bytes(
    ner_files, tiny_config, tmp_path, monkeypatch
):
    """Every state OUT passes through, copied after each write of a run (best model, last model, log, checkpoint,
    the files added at the end) as a kill right there would leave it: OUT and OUT/last load as a model that was
    saved whole, or are refused in one line saying what to do; resumed from there, the run ends with the
    uninterrupted run's bytes."""
    config, source = settings(tiny_config, epochs=2, patience=2), DataSource(ner_files[0], ner_files[1])
    whole = train(config, source, tmp_path / "whole", keep="all")
    out, states, saved = tmp_path / "out", tmp_path / "states", set()
    real_write = tagger.serialization.write_atomic

    def write_then_copy(path: Path, data: bytes) -> None:
        real_write(path, data)
        if path.name == "config.json":  # a model saved whole: its weights are one a reader may see
            saved.add(weights(path.parent))
        shutil.copytree(out, states / f"{len(list(states.iterdir())):03d}")

    states.mkdir()
    with monkeypatch.context() as patch:
        for module in (tagger.serialization, tagger.training.loop, tagger.training.checkpoint):
            patch.setattr(module, "write_atomic", write_then_copy)
        train(config, source, out)
    assert weights(out) == weights(tmp_path / "whole") and len(saved) == 2  # the models of epochs 1 and 2
    checkpointed = [state for state in sorted(states.iterdir()) if (state / "checkpoint" / "state.json").exists()]
    for state in sorted(states.iterdir()):
        for directory in (state, state / "last"):
            try:
                loaded = load_model(directory)
            except ModelDirError as error:  # torn, or not begun (last/ before the first epoch's end)
                message = str(error)
                assert "\n" not in message and ("resume" in message or "no such model" in message), message
                continue
            assert weights(directory) in saved, state.name
            assert loaded.metrics == {} or loaded.metrics["dev"] == whole.metrics["dev"], state.name
        if state in checkpointed:  # before the first checkpoint, --resume starts afresh: a whole run
            resumed = train(config, source, state, resume=True, keep="all")
            assert weights(state) == weights(tmp_path / "whole"), state.name
            assert weights(state / "last") == weights(tmp_path / "whole" / "last"), state.name
            assert resumed.dev.to_dict() == whole.dev.to_dict(), state.name
            assert load_model(state).metrics["best_epoch"] == whole.best_epoch, state.name
    assert len(checkpointed) >= 10  # epoch 2's writes and those at the end, each a kill resumed from


# --- what stays beside the model when training ends (--keep)

MODEL_FILES = {"config.json", "vocab.json", "model.safetensors", "metrics.json", "README.md", "train_log.jsonl"}
MODEL_FILES |= {"training.png"}
if importlib.util.find_spec("onnx") and importlib.util.find_spec("onnxruntime"):
    MODEL_FILES |= set(CARRIED_FILES)  # the model's own export, which training adds where it can (train.carry_export)
TINY_RUN = ["--epochs", "2", "--device", "cpu", "--set", "model.hidden=8", "--set", "model.word_dim=8"]


def files_under(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def printed(result) -> str:
    return " ".join(result.stderr.split())


@pytest.mark.parametrize("keep", ["resume", "all", "model"])
def test_keep_leaves_exactly_what_it_names_and_never_a_users_file(ner_files, tmp_path, keep):
    from tagger.training.out_dir import megabytes
    from tests.test_cli import invoke

    out = tmp_path / "model"
    for mine in ("last/notes.txt", "checkpoint/mine.txt"):  # a user's files, in the folders pruning empties
        (out / mine).parent.mkdir(parents=True, exist_ok=True)
        (out / mine).write_text("mine")
    result = invoke("train", "--train", ner_files[0], "--dev", ner_files[1], "--out", out, "--keep", keep, *TINY_RUN)
    assert result.exit_code == 0, result.output
    kept = files_under(out) - MODEL_FILES - {"last/notes.txt", "checkpoint/mine.txt"}
    committed = json.loads((out / "checkpoint" / "state.json").read_text())["tensors_file"] if keep != "model" else ""
    assert (
        kept
        == {
            "all": {"checkpoint/state.json", "checkpoint/state.a.safetensors", "checkpoint/state.b.safetensors"}
            | {"last/config.json", "last/vocab.json", "last/model.safetensors"},
            "resume": {"checkpoint/state.json", f"checkpoint/{committed}"},
            "model": set(),
        }[keep]
    )
    assert MODEL_FILES <= files_under(out) and (out / "last" / "notes.txt").read_text() == "mine"

    def size(names) -> str:
        return megabytes(sum((out / name).stat().st_size for name in names))

    checkpoint, last = sorted(n for n in kept if n.startswith("checkpoint/")), sorted(n for n in kept if "last/" in n)
    model = size(MODEL_FILES)
    assert {
        "resume": f"kept checkpoint/ ({size(checkpoint)}) beside the model ({model}) so --resume can go on; "
        "--keep model removes it",
        "all": f"kept checkpoint/ ({size(checkpoint)}) and last/ ({size(last)}) beside the model ({model}); "
        "--keep resume keeps only what --resume needs, --keep model the model alone",
        "model": f"kept the model alone ({model}): checkpoint/ and last/ removed, so --resume cannot go on from "
        "this run",
    }[keep] in printed(result)

    weights_before = (out / "model.safetensors").read_bytes()
    again = invoke("train", "--train", ner_files[0], "--dev", ner_files[1], "--out", out, "--resume", *TINY_RUN)
    if keep == "model":
        assert again.exit_code == 2 and len(again.stderr.strip().splitlines()) == 1, again.output
        assert (
            f"error: {out} holds a model whose training ended and whose checkpoint was removed (--keep model): "
            "there is nothing to resume from; to train it again pass --overwrite without --resume, or choose "
            "another --out" in printed(again)
        )
    else:  # a finished run, scored again from its checkpoint; the default keeps what --resume needs once more
        assert again.exit_code == 0, again.output
        assert "--resume can go on; --keep model removes it" in printed(again)
    assert (out / "model.safetensors").read_bytes() == weights_before


def test_a_run_pruned_by_default_goes_on_with_resume_to_the_weights_of_a_longer_run(ner_files, tiny_config, tmp_path):
    """The default keeps the checkpoint's committed slot alone, which is all --resume needs."""
    source = DataSource(ner_files[0], ner_files[1])
    whole = train(settings(tiny_config, epochs=4), source, tmp_path / "whole")
    train(settings(tiny_config, epochs=2), source, tmp_path / "pruned")
    assert not (tmp_path / "pruned" / "last").exists()
    assert len(list((tmp_path / "pruned" / "checkpoint").iterdir())) == 2  # state.json and its tensors
    resumed = train(settings(tiny_config, epochs=4), source, tmp_path / "pruned", resume=True)
    assert resumed.metrics["epochs_run"] == 4 and weights(tmp_path / "pruned") == weights(tmp_path / "whole")
    assert resumed.dev.to_dict() == whole.dev.to_dict()


def test_keep_with_several_seeds_prunes_each_seed_once_all_have_ended(ner_files, tmp_path):
    from tests.test_cli import assert_user_error, invoke

    out = tmp_path / "seeds"
    args = ["train", "--train", ner_files[0], "--dev", ner_files[1], "--out", out, "--seeds", "2", *TINY_RUN]
    result = invoke(*args, "--keep", "model")
    assert result.exit_code == 0, result.output
    for seed in ("seed-1", "seed-2"):
        assert files_under(out / "seeds" / seed) == MODEL_FILES
    assert f"in {out / 'seeds'}, for 2 seeds: kept the model alone (" in printed(result)
    assert_user_error(invoke(*args, "--resume"), "nothing to resume from")


def test_bad_input_keep_with_an_unknown_choice(ner_files, tmp_path):
    from tests.test_cli import assert_user_error, invoke

    out = tmp_path / "model"
    result = invoke("train", "--train", ner_files[0], "--dev", ner_files[1], "--out", out, "--keep", "everything")
    assert_user_error(result, "error: --keep everything: expected one of resume, all, model")
    assert not out.exists()
