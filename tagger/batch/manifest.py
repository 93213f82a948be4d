"""What a batch run has finished, so that running the same command again redoes only what is missing or stale.

The manifest is an append-only JSON-lines file in the output folder: one record per finished output, added
after the output was renamed into place. A process killed mid-append leaves at most a torn last line, which
is ignored, and that output is redone. A lock file keeps two runs from writing one folder at once.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from tagger.atomic import again_if_vanished, make_folder
from tagger.errors import ConfigError, setting
from tagger.portable import is_exported_dir
from tagger.version import __version__

MANIFEST_NAME = ".tagger-manifest.jsonl"
LOCK_NAME = ".tagger.lock"
READ_SIZE = 1 << 20
# What identifies a model, a model directory or an export alike: its JSON files (config.json holds the checksum of
# the weights, or of the exported network; vocab.json the labels)
MODEL_IDENTITY_FILES = ("config.json", "vocab.json")


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(READ_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def job_fingerprint(model_dir: Path, settings: dict[str, Any]) -> str:
    """The model (config.json holds its weights' checksum; vocab.json its labels) and every setting that
    changes an output's bytes: a change to either makes earlier outputs stale."""
    digest = hashlib.sha256(__version__.encode())
    for name in MODEL_IDENTITY_FILES:
        data = (model_dir / name).read_bytes()
        described = name == "config.json" and not is_exported_dir(model_dir)  # an export's has no manifest
        digest.update(without_described_files(data) if described else data)
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()


def without_described_files(config: bytes) -> bytes:
    """config.json without the checksums its manifest gives of the files that only describe the model (scores,
    card, log, curves): scoring the model again (``tagger train --resume`` on a finished run) changes them, and
    its outputs stay current. The export a model carries stays in: it decides the tags where it runs. A
    config.json without a manifest, as it is."""
    from tagger.portable.files import CARRIED_FILES
    from tagger.serialization import CHECKED_FILES, MANIFEST  # a model directory's: imports torch, which it needs

    try:
        header = json.loads(config)
        listed = header[MANIFEST]
    except (ValueError, TypeError, KeyError):
        return config
    if not isinstance(listed, dict):
        return config
    deciding = [*CHECKED_FILES, *(name for name in CARRIED_FILES if name in listed)]
    kept = {**header, MANIFEST: {name: listed.get(name) for name in deciding}}
    return json.dumps(kept, sort_keys=True).encode()


class Manifest:
    def __init__(self, out_dir: Path):
        self.path = out_dir / MANIFEST_NAME
        self.records = self._load()
        self._stream: IO | None = None

    def _load(self) -> dict[str, dict[str, str]]:
        if not self.path.exists():
            return {}
        records = {}
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
                records[record["output"]] = record
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a torn last line from a killed run: that output is simply redone
        return records

    def is_current(self, output: Path, relative: str, input_fingerprint: str, job: str) -> bool:
        record = self.records.get(relative)
        return (
            record is not None
            and record.get("status") == "done"
            and record.get("job") == job
            and record.get("input_sha256") == input_fingerprint
            and output.is_file()
        )

    def owns(self, relative: str) -> bool:
        """Whether a run into this folder started writing ``relative``: then replacing it loses nothing of the user's."""
        return relative in self.records

    def add(self, relative: str, status: str, source: str, input_fingerprint: str, job: str) -> None:
        """Record ``status`` "started" before an output is written and "done" once it is in place."""
        if self._stream is None:
            self._stream = open(self.path, "a", encoding="utf-8")
        record = {"output": relative, "status": status, "input": source, "input_sha256": input_fingerprint, "job": job}
        self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self.records[relative] = record

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()


@contextmanager
def exclusive_folder(out_dir: Path) -> Iterator[None]:
    """Hold the output folder's lock for the run: a second run on the same folder is refused, not interleaved.
    The lock file is deleted when the run ends, so a finished folder holds only outputs and the manifest."""
    make_folder(out_dir)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; documented
        yield
        return
    lock = take_lock(out_dir / LOCK_NAME, fcntl)
    try:
        yield
    finally:
        # Deleted while still held: a run that opened the file before it was deleted then locks a file no
        # longer in the folder, which take_lock sees and answers by locking the new one (no two holders).
        (out_dir / LOCK_NAME).unlink(missing_ok=True)
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def take_lock(path: Path, fcntl: Any) -> IO:
    """The open lock file at ``path``, locked; ConfigError when another run holds it."""
    while True:
        lock = open_lock_file(path)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise ConfigError(
                f"{path.parent} is being written by another tagger tag run (it holds {LOCK_NAME}); "
                f"wait for it to finish or choose another {setting('out_dir')}"
            ) from None
        if is_same_file(lock, path):
            return lock
        lock.close()  # locked the file of a run that has just finished and deleted it: lock the current one


def open_lock_file(path: Path) -> IO:
    """``path`` opened for appending, its folder made again if another run's output check removed it meanwhile
    (that check removes only folders it made itself, and only while they are empty)."""

    def made_and_opened() -> IO:
        make_folder(path.parent)
        return open(path, "a")

    try:
        return again_if_vanished(made_and_opened)
    except FileNotFoundError:
        raise ConfigError(
            f"{path.parent} keeps disappearing while this run takes its lock; "
            f"check what else removes it, or choose another {setting('out_dir')}"
        ) from None


def is_same_file(stream: IO, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(stream.fileno()), os.stat(path))
    except FileNotFoundError:
        return False
