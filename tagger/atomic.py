"""Writing files so that nothing is ever half-written: a temporary file beside the target, renamed over it."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator


def _current_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


@contextmanager
def open_atomic(path: Path, mode: str = "wb", **options: Any) -> Iterator[IO]:
    """A file that replaces ``path`` only when the block ends without error: readers see the old file or
    the new one, never a mix, and a failure leaves no temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); the result should have the permissions open() would give it
        os.fchmod(handle, 0o666 & ~_current_umask())
        with os.fdopen(handle, mode, **options) as temp:
            yield temp
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    finally:
        Path(temp_name).unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    with open_atomic(path) as stream:
        stream.write(data)
