"""Atomic writes: the old file or the new one, never a mix, with the permissions a plain open() gives."""

import errno
import os
import re
import tempfile
from pathlib import Path

import pytest

from tagger.atomic import (
    check_output_file,
    check_output_folder,
    make_folder,
    open_atomic,
    unwritable_folder,
    write_atomic,
)
from tagger.errors import ConfigError


def test_written_file_has_the_usual_permissions_not_private_ones(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "out.conll", b"EU B-ORG\n")
    finally:
        os.umask(old)
    assert (tmp_path / "out.conll").stat().st_mode & 0o777 == 0o644


def test_a_failure_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.conll"
    target.write_bytes(b"old\n")
    with pytest.raises(RuntimeError):
        with open_atomic(target) as stream:
            stream.write(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old\n" and os.listdir(tmp_path) == ["out.conll"]


def test_a_folder_is_tried_with_a_temporary_file_and_left_as_it_was(tmp_path, monkeypatch):
    assert unwritable_folder(tmp_path / "new" / "deeper") is None
    assert os.listdir(tmp_path) == []  # the folders made to try it are removed again
    (tmp_path / "mine.txt").write_text("mine\n")
    assert unwritable_folder(tmp_path) is None and os.listdir(tmp_path) == ["mine.txt"]
    assert "cannot write in" in unwritable_folder(tmp_path / "mine.txt" / "below")

    def refuse(*args, **kwargs):  # root ignores file modes: the refusal a user gets is simulated
        raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert unwritable_folder(tmp_path / "new") == f"cannot write in {tmp_path / 'new'} (Permission denied)"
    assert os.listdir(tmp_path) == ["mine.txt"]


def test_a_new_folder_removed_by_a_concurrent_check_is_made_and_tried_again(tmp_path, monkeypatch):
    # Two runs check one new folder together: the other run's check removes the folder it made just before
    # this one writes its trial file there.
    folder, real_mkstemp, removals = tmp_path / "out", tempfile.mkstemp, []

    def removed_first(*args, **kwargs):
        if not removals:
            removals.append(folder)
            folder.rmdir()
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", removed_first)
    assert unwritable_folder(folder) is None and removals == [folder]
    assert os.listdir(tmp_path) == []


def test_a_folder_made_while_another_run_makes_and_removes_it_is_made(tmp_path, monkeypatch):
    # pathlib's mkdir(exist_ok=True) raises FileExistsError when the folder it found existing is gone again
    folder, real_mkdir, raced = tmp_path / "out", Path.mkdir, []

    def gone_again(self, *args, **kwargs):
        if self == folder and not raced:
            raced.append(self)
            raise FileExistsError(errno.EEXIST, "File exists", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", gone_again)
    make_folder(folder)
    assert folder.is_dir() and raced == [folder]
    (tmp_path / "file").write_text("mine\n")
    with pytest.raises(FileExistsError):  # a file in the way is not a race
        make_folder(tmp_path / "file")


def test_output_paths_are_checked_before_any_work_and_named_by_their_option(tmp_path, monkeypatch):
    gold = tmp_path / "gold.conll"
    gold.write_text("John B-PER\n")
    (tmp_path / "somedir").mkdir()
    cases = [
        (gold, {"inputs": [gold]}, "`predictions_path=" + str(gold) + "` is also an input"),
        (tmp_path / "somedir", {"folder_hint": " (or use a folder option)"}, "is a folder; `predictions_path` names"),
        (gold / "pred.txt", {}, f"{gold} is a file, not a folder; choose another `predictions_path`"),
        (gold, {"overwrite": False}, "exists; pass `overwrite=True` to replace it"),
    ]
    for path, options, expected in cases:
        with pytest.raises(ConfigError, match=re.escape(expected)):
            check_output_file(path, "predictions_path", **options)
    check_output_file(gold, "predictions_path")  # replaced without asking where the command does so
    check_output_file(tmp_path / "new" / "pred.txt", "predictions_path", [gold], overwrite=False)
    with pytest.raises(ConfigError, match=re.escape(f"`report_dir={gold}` is a file; `report_dir` names a folder")):
        check_output_folder(gold, "report_dir")
    with pytest.raises(ConfigError, match=re.escape(f"{gold} is a file, not a folder; choose another `report_dir`")):
        check_output_folder(gold / "report", "report_dir")
    check_output_folder(tmp_path / "somedir", "report_dir")

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    for check, path in ((check_output_file, tmp_path / "new" / "pred.txt"), (check_output_folder, tmp_path / "r")):
        with pytest.raises(ConfigError, match=r"cannot write in .* \(Permission denied\); choose another"):
            check(path, "report_dir")
    assert sorted(os.listdir(tmp_path)) == ["gold.conll", "somedir"]
