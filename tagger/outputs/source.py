"""The input file's own lines, read in step with its sentences, so that a faithful writer reproduces
everything between them (comments, ``-DOCSTART-``, blank lines, multiword tokens) without holding the file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tagger.corpus.lines import read_lines


class SourceLines:
    """A cursor over ``read_lines(path, encoding)``: line endings and a byte-order mark are already gone."""

    def __init__(self, path: str | Path, encoding: str):
        self.path = str(path)
        self._lines: Iterator[tuple[int, str]] = read_lines(path, encoding)
        self._ahead: tuple[int, str] | None = None
        self.line_no = 0  # the last line taken

    def take_before(self, line_no: int) -> list[str]:
        """Every line not yet taken that comes before ``line_no``."""
        if line_no <= self.line_no:
            # The engine hands sentences over in file order; anything else would scramble the output.
            raise ValueError(f"{self.path}: a sentence at line {line_no} came after line {self.line_no} was written")
        taken = []
        while (peeked := self._peek()) is not None and peeked[0] < line_no:
            taken.append(self.take())
        return taken

    def take(self) -> str:
        """The next line; the sentences the reader found there guarantee it exists."""
        upcoming = self._peek()
        if upcoming is None:
            raise ValueError(f"{self.path}: a sentence runs past the end of the file (line {self.line_no})")
        self._ahead = None
        self.line_no = upcoming[0]
        return upcoming[1]

    def take_block(self) -> list[str]:
        """Lines up to and including the next blank (or whitespace-only) line, or to the end of the file."""
        taken = []
        while self._peek() is not None:
            taken.append(self.take())
            if not taken[-1].strip():
                break
        return taken

    def take_rest(self) -> list[str]:
        taken = []
        while self._peek() is not None:
            taken.append(self.take())
        return taken

    def _peek(self) -> tuple[int, str] | None:
        if self._ahead is None:
            self._ahead = next(self._lines, None)
        return self._ahead
