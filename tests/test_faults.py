"""Faults while tagging a folder: a full disk, a read-only output folder, an input deleted mid-run, two
processes writing one output folder. Each ends in a clear error or correct outputs, never a half-written file.

Faults while saving a model directory: the process dies between any two of its writes. The directory is then the
old model whole, the new one whole, or refused in one line that says what to do; never a mix of two models.
"""

from __future__ import annotations

import errno
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import tagger.atomic
import tagger.batch.run
import tagger.serialization
from tagger.batch.manifest import LOCK_NAME, exclusive_folder
from tagger.config import load_config
from tagger.errors import ModelDirError
from tagger.model import build_model
from tagger.serialization import add_model_files, load_model, save_model
from tagger.vocab import build_vocab
from tests.conftest import NER_SENTENCES
from tests.test_batch import SENTENCES, conll_text, outputs, tag_into
from tests.test_cli import assert_user_error, invoke

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


def test_read_only_output_folder_is_refused_before_any_work_or_one_clear_error_per_file(
    trained_model, tmp_path, monkeypatch
):
    # root ignores file modes, so the refusal the OS gives a user is simulated where a temporary file is made
    check_first = tagger.atomic.tempfile.mkstemp

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir"))

    def refuse_outputs(*args, **kwargs):  # the folder became read-only once the run had checked it
        if kwargs.get("prefix", "").startswith(".tagger-write-check."):
            return check_first(*args, **kwargs)
        return refuse(*args, **kwargs)

    inputs, out = make_inputs(tmp_path / "inputs"), tmp_path / "out"
    monkeypatch.setattr(tagger.atomic.tempfile, "mkstemp", refuse)
    result = tag_into(trained_model, inputs, out, "--workers", "1")
    assert result.exit_code == 2 and "cannot write in" in result.output and "Permission denied" in result.output
    assert "Traceback" not in result.output and not out.exists()  # refused before the lock, the manifest, any work
    monkeypatch.setattr(tagger.atomic.tempfile, "mkstemp", refuse_outputs)
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


def test_the_lock_is_taken_in_a_folder_another_runs_check_removed_meanwhile(tmp_path, monkeypatch):
    # The other run's output check made the folder and removes it again between this run's mkdir and its open.
    out, real_open, removals = tmp_path / "out", open, []

    def removed_first(path, *args, **kwargs):
        if Path(path).name == LOCK_NAME and not removals:
            removals.append(path)
            out.rmdir()
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", removed_first)
    with exclusive_folder(out):
        assert (out / LOCK_NAME).exists() and removals
    assert list(out.iterdir()) == []


# --- a model directory saved all or nothing --------------------------------------------------------------------


class Killed(BaseException):
    """The process dies here: nothing catches it, as nothing outlives a SIGKILL."""


def dies_before_write(monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    """The model directory's writer dies just before its ``number``-th write (1-based), all earlier ones done."""
    real, done = tagger.serialization.write_atomic, []

    def write(path: Path, data: bytes) -> None:
        if len(done) + 1 == number:
            raise Killed(path)
        real(path, data)
        done.append(path)

    monkeypatch.setattr(tagger.serialization, "write_atomic", write)


def tiny_model(seed: int, extra_words: tuple[str, ...] = ()):
    """The parts save_model takes: an untrained model (``seed`` sets its weights) over the NER words of conftest."""
    config = load_config(None, ["model.word_dim=8", "model.char_dim=4", "model.char_filters=4", "model.hidden=8"])
    words = [sentence.split() for sentence, _ in NER_SENTENCES] + [list(extra_words)]
    labels = {tag for _, tags in NER_SENTENCES for tag in tags.split()}
    vocab = build_vocab(words, labels, "IOB2", config.vocab)
    torch.manual_seed(seed)
    return config, vocab, build_model(config.model, vocab)


def same_weights(directory: Path, model: torch.nn.Module) -> bool:
    loaded = load_model(directory).model.state_dict()
    return loaded.keys() == model.state_dict().keys() and all(
        torch.equal(loaded[name], tensor) for name, tensor in model.state_dict().items()
    )


def refused_with_what_to_do(directory: Path) -> str:
    with pytest.raises(ModelDirError) as caught:
        load_model(directory)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(directory)), message
    assert "retrain" in message and "resume" in message, message
    return message


def test_a_model_saved_over_another_and_killed_between_any_two_writes_is_refused_never_mixed(tmp_path, monkeypatch):
    old, new = tiny_model(seed=0), tiny_model(seed=1, extra_words=("Zurich",))
    original = save_model(tmp_path / "original", *old, metrics={"seed": 0}, card="# the old model\n")
    writes = 3  # the new model's weights, vocab.json and config.json, in that order
    for number in range(1, writes + 2):  # the last number: no death, the whole save
        directory = Path(shutil.copytree(original, tmp_path / f"killed-before-{number}"))
        (directory / "notes.txt").write_text("mine\n")  # the user's file, beside the model
        with monkeypatch.context() as patch:
            dies_before_write(patch, number)
            if number <= writes:
                with pytest.raises(Killed):
                    save_model(directory, *new)
            else:
                save_model(directory, *new)
        if number == 1:  # nothing written yet: the old model, whole, with its own scores and card
            assert same_weights(directory, old[2]) and load_model(directory).metrics == {"seed": 0}
        elif number <= writes:  # the new weights (and vocabulary) beside the old config.json
            assert "come from different saves" in refused_with_what_to_do(directory)
        else:  # the new model, whole: the old model's scores, card and curves are gone, the user's file is not
            assert same_weights(directory, new[2]) and load_model(directory).metrics == {}
            assert sorted(p.name for p in directory.iterdir()) == [
                "config.json",
                "model.safetensors",
                "notes.txt",
                "vocab.json",
            ]
        assert (directory / "notes.txt").read_text() == "mine\n" and no_temporaries(directory)
    torn = tmp_path / f"killed-before-{writes}"
    text = tmp_path / "news.txt"
    text.write_text("John lives in Paris .\n")
    result = invoke("tag", torn, text, "--device", "cpu", "--quiet")
    assert_user_error(result, str(torn), "come from different saves", "retrain the model", "resume")


def test_a_first_save_killed_before_config_json_is_refused_as_never_completely_saved(tmp_path, monkeypatch):
    for number in (2, 3):  # after the weights; after the weights and vocab.json
        directory = tmp_path / f"killed-before-{number}"
        with monkeypatch.context() as patch:
            dies_before_write(patch, number)
            with pytest.raises(Killed):
                save_model(directory, *tiny_model(seed=0))
        assert "missing config.json, which a save writes last" in refused_with_what_to_do(directory)


def test_files_added_to_a_model_are_part_of_it_only_once_config_json_names_them(tmp_path, monkeypatch):
    """What training adds at its end (scores, card, log, curves): a death before config.json names them leaves the
    model without them, whole; files config.json does not name are never read as the model's."""
    config, vocab, model = tiny_model(seed=0)
    original = save_model(tmp_path / "original", config, vocab, model)
    added = {"metrics.json": b'{"seed": 0}\n', "README.md": b"# card\n"}
    for number in (1, 2, 3):  # before the metrics, before the card, before config.json
        directory = Path(shutil.copytree(original, tmp_path / f"killed-before-{number}"))
        with monkeypatch.context() as patch:
            dies_before_write(patch, number)
            with pytest.raises(Killed):
                add_model_files(directory, added)
        assert same_weights(directory, model) and load_model(directory).metrics == {}
        assert (directory / "metrics.json").exists() == (number > 1)  # there, but not the model's yet
    add_model_files(original, added)
    assert load_model(original).metrics == {"seed": 0}
    (original / "README.md").write_text("# card, edited by hand\n")  # a card a person edits is still the model's
    (original / "metrics.json").unlink()
    assert load_model(original).metrics == {} and same_weights(original, model)


def test_files_cannot_be_added_to_a_torn_model(tmp_path, monkeypatch):
    directory = save_model(tmp_path / "model", *tiny_model(seed=0))
    with monkeypatch.context() as patch:
        dies_before_write(patch, 3)
        with pytest.raises(Killed):
            save_model(directory, *tiny_model(seed=1))
    with pytest.raises(ModelDirError, match="come from different saves"):
        add_model_files(directory, {"metrics.json": b"{}\n"})  # never a manifest made from whatever lies there
    refused_with_what_to_do(directory)
