"""Atomic writes: the old file or the new one, never a mix, with the permissions a plain open() gives."""

import os

import pytest

from tagger.atomic import open_atomic, write_atomic


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
