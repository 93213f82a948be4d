"""Writing files so that nothing is ever half-written: a temporary file beside the target, renamed over it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

TEMPORARY_SUFFIX = ".tmp"


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
