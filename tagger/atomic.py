"""Writing files so that nothing is ever half-written: a temporary file beside the target, renamed over it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

from tagger.errors import ConfigError, setting

TEMPORARY_SUFFIX = ".tmp"
# How often a folder that vanished under us (another run's check removing what it made) is made and tried again.
FOLDER_CHECK_ATTEMPTS = 5
T = TypeVar("T")


def _current_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def temporary_name_pattern(path: Path) -> str:
    """A glob for the temporary files of ``path`` (left behind only by a killed process)."""
    return f".{path.name}.*{TEMPORARY_SUFFIX}"


class AtomicFile:
    """A temporary file beside ``path`` that replaces it on ``commit()`` and disappears on ``abort()``."""

    def __init__(self, path: Path, mode: str = "wb", **options: Any):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, self.temp_name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=TEMPORARY_SUFFIX, dir=self.path.parent
        )
        try:
            # mkstemp makes the file private (0600); the result should have the permissions open() would give it
            os.fchmod(handle, 0o666 & ~_current_umask())
            self.stream: IO = os.fdopen(handle, mode, **options)
        except BaseException:
            os.close(handle)
            Path(self.temp_name).unlink(missing_ok=True)
            raise

    def commit(self) -> None:
        try:
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.stream.close()
            os.replace(self.temp_name, self.path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        self.stream.close()
        Path(self.temp_name).unlink(missing_ok=True)


@contextmanager
def open_atomic(path: Path, mode: str = "wb", **options: Any) -> Iterator[IO]:
    """A file that replaces ``path`` only when the block ends without error: readers see the old file or
    the new one, never a mix, and a failure leaves no temporary file behind."""
    file = AtomicFile(path, mode, **options)
    try:
        yield file.stream
    except BaseException:
        file.abort()
        raise
    file.commit()


def write_atomic(path: Path, data: bytes) -> None:
    with open_atomic(path) as stream:
        stream.write(data)


def file_in_the_way(directory: Path) -> Path | None:
    """The file (anything but a folder) at ``directory`` or above it, which would make creating the folder
    fail with FileExistsError or NotADirectoryError after the work is done; None when the way is clear."""
    for path in (directory, *directory.parents):
        if path.is_dir():
            return None
        if path.exists() or path.is_symlink():
            return path
    return None


def unwritable_folder(folder: Path) -> str | None:
    """Why no file can be written in ``folder``, or None when one can: tried with a temporary file (the folder and
    its missing parents created for it, then removed again), since what a process may write is not all in the
    mode bits (root, ACLs, read-only mounts, quotas). Asked before any work, so that a run does not fail at its
    first output, after the work."""
    try:
        again_if_vanished(lambda: _write_a_file_in(folder))
    except OSError as error:
        return f"cannot write in {folder} ({error.strerror or error})"
    return None


def again_if_vanished(action: Callable[[], T]) -> T:
    """``action()``, run again while it raises FileNotFoundError, ``FOLDER_CHECK_ATTEMPTS`` times in all. Two runs
    started together on one new folder both check it: one may remove the folder it made for its check between the
    other's mkdir and its write. Gone-again is not unwritable."""
    for _ in range(FOLDER_CHECK_ATTEMPTS - 1):
        try:
            return action()
        except FileNotFoundError:
            pass
    return action()


def make_folder(folder: Path) -> None:
    """``folder`` and its missing parents made (``mkdir -p``), also while another run's output check makes and
    removes the same new folder: pathlib's mkdir then raises FileExistsError for a folder already gone again."""

    def made() -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            if folder.exists():
                raise  # a file in the way: the caller's checks say so
            raise FileNotFoundError(f"{folder} vanished while it was made") from None

    again_if_vanished(made)


def _write_a_file_in(folder: Path) -> None:
    created: list[Path] = []
    try:
        for path in reversed((folder, *folder.parents)):
            if not path.is_dir():
                try:
                    path.mkdir()
                except FileExistsError:  # another process made it since is_dir: it is not ours to remove
                    continue
                created.append(path)
        handle, name = tempfile.mkstemp(prefix=".tagger-write-check.", suffix=TEMPORARY_SUFFIX, dir=folder)
        os.close(handle)
        os.unlink(name)
    finally:
        for path in reversed(created):
            try:
                path.rmdir()
            except OSError:  # not empty: another run has begun to use it
                pass


def check_output_file(
    path: Path, option: str, inputs: Sequence[Path] = (), overwrite: bool | None = None, folder_hint: str = ""
) -> None:
    """Before any work: ``path`` can be written as one file. Refused (``ConfigError`` naming the ``option`` that
    gave it): one of the ``inputs``; a folder (``folder_hint`` says what to do instead); a file where a folder
    must be; a folder where this process may not write; an existing file unless ``overwrite`` (None: the command
    replaces its output without asking, as ``--predictions`` does)."""
    path = Path(path)
    if any(Path(name).resolve() == path.resolve() for name in inputs):
        raise ConfigError(f"{setting(option, path)} is also an input; refusing to overwrite an input file")
    if path.is_dir():
        raise ConfigError(f"{setting(option, path)} is a folder; {setting(option)} names one file{folder_hint}")
    blocker = file_in_the_way(path.parent)
    if blocker is not None:
        raise ConfigError(
            f"{setting(option, path)}: {blocker} is a file, not a folder; choose another {setting(option)}"
        )
    if overwrite is False and path.exists():
        raise ConfigError(f"{setting(option, path)} exists; pass {setting('overwrite', True)} to replace it")
    if problem := unwritable_folder(path.parent):
        raise ConfigError(f"{setting(option, path)}: {problem}; choose another {setting(option)}")


def check_output_folder(path: Path, option: str) -> None:
    """Before any work: ``path`` can be a folder that this process writes files in (``check_output_file``)."""
    path = Path(path)
    blocker = file_in_the_way(path)
    if blocker == path:
        raise ConfigError(f"{setting(option, path)} is a file; {setting(option)} names a folder")
    if blocker is not None:
        raise ConfigError(
            f"{setting(option, path)}: {blocker} is a file, not a folder; choose another {setting(option)}"
        )
    if problem := unwritable_folder(path):
        raise ConfigError(f"{setting(option, path)}: {problem}; choose another {setting(option)}")


def remove_temporaries(outputs: list[Path]) -> int:
    """Delete the temporary files a killed run left beside these outputs: only ours, and only where the
    caller knows no live process is writing them."""
    removed = 0
    for output in outputs:
        if output.parent.is_dir():
            for leftover in output.parent.glob(temporary_name_pattern(output)):
                leftover.unlink(missing_ok=True)
                removed += 1
    return removed
