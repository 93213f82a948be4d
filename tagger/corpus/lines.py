"""Decoded, numbered lines of a corpus file: gzip, encodings, BOM, line endings and control characters
are handled here once, so every format reader sees clean text and can name ``path:line``."""

from __future__ import annotations

import codecs
import gzip
import io
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from tagger.errors import ConfigError, CorpusFormatError, setting

# Tab is a column separator; every other C0/C1 control character in a word is corruption.
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Half a UTF-16 pair, as a JSON "\ud800" escape decodes: not text, and no UTF-8 file can hold it.
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
ENCODING_HINT = f"pass {setting('encoding', 'latin-1')} (or the file's encoding)"
NUL_HINT = "a NUL byte, as binary files hold: check the path, or remove it from the file"
# Characters that show nothing: the byte-order mark (U+FEFF, mid-file where files were concatenated), zero-width
# space, non-joiner and joiner, the left-to-right and right-to-left marks, and the word joiner. Inside a word they
# may mean something (a joiner in an emoji or a Persian word) and are kept; at a word's start, or alone, they are
# debris of copying and pasting that no annotator meant as a word.
INVISIBLE = "\ufeff\u200b\u200c\u200d\u200e\u200f\u2060"
_DROP_INVISIBLE = str.maketrans("", "", INVISIBLE)
# Keys of the ``repairs`` tally (CorpusReport.repaired_lines).
BYTE_ORDER_MARK = "byte-order mark dropped"
WHITESPACE_ONLY_LINE = "whitespace-only line read as blank"
INVISIBLE_LINE = "line of invisible characters read as blank"
INVISIBLE_START = "invisible character dropped at the start of a word or line"
INVISIBLE_WORD = "word of invisible characters skipped with its tag"
# What reading a damaged .gz file raises (gzip.BadGzipFile is an OSError).
CORRUPT_GZIP = (OSError, EOFError, zlib.error)
# A file with a NUL byte this near its start is binary (git's test): text in UTF-8 or an 8-bit encoding has
# none, and telling the owner of a PNG to try encoding latin-1 would send them the wrong way.
BINARY_SNIFF_BYTES = 8000


def open_binary(path: str | Path) -> io.BufferedReader | gzip.GzipFile:
    """Open a corpus file for reading bytes, transparently decompressing ``.gz``."""
    try:
        if str(path).endswith(".gz"):
            return gzip.open(path, "rb")
        return open(path, "rb")
    except FileNotFoundError:
        raise CorpusFormatError(str(path), 0, "no such file", "an existing corpus file") from None
    except OSError as error:
        raise CorpusFormatError(str(path), 0, f"cannot open ({error.strerror})", "a readable file") from None


def looks_binary(path: str | Path) -> bool:
    """Whether the file (decompressed, for ``.gz``) has a NUL byte in its first ``BINARY_SNIFF_BYTES``.
    Only asked once decoding failed or a NUL was met: UTF-16 text has NULs too, and is read as such."""
    try:
        with open_binary(path) as stream:
            return b"\x00" in stream.read(BINARY_SNIFF_BYTES)
    except (CorpusFormatError, *CORRUPT_GZIP):
        return False  # the reader reports what is wrong with it


def binary_file_error(path: str | Path) -> CorpusFormatError:
    return CorpusFormatError(
        str(path),
        0,
        "a binary file (it holds NUL bytes), not text",
        "a text file",
        f"check the path; UTF-16 text needs {setting('encoding', 'utf-16')}",
    )


def decoding_error(path: str | Path, line_no: int, found: str, codec: codecs.CodecInfo) -> CorpusFormatError:
    """Bytes that ``codec`` cannot decode: in a binary file, that it is binary; in text, which encoding to try."""
    if looks_binary(path):
        return binary_file_error(path)
    return CorpusFormatError(str(path), line_no, found, f"{codec.name} text", ENCODING_HINT)


def read_lines(
    path: str | Path, encoding: str = "utf-8", repairs: Counter[str] | None = None
) -> Iterator[tuple[int, str]]:
    """Yield ``(line_no, text)`` without line endings; line numbers are 1-based.

    CRLF, LF and lone CR all end a line. A UTF-8 byte-order mark is dropped rather than glued
    to the first word. Undecodable bytes and control characters raise at their line.
    Invisible characters (``INVISIBLE``) are read leniently, on every line: a line of nothing else (and
    whitespace) is yielded blank, and a run of them starting a line is dropped when something visible follows
    it directly (a line whose first word is only invisible characters is the reader's to skip or keep).
    ``repairs`` counts what is read leniently, with the first place of each kind (``Repairs``): the dropped
    mark, whitespace-only lines (which readers take as blank: a sentence boundary, never part of a
    sentence), and the invisible characters.
    """
    name = str(path)
    codec = _lookup(encoding)
    lines = _decode_text_mode(path, codec) if _is_wide(codec) else _decode_by_line(path, codec)
    for line_no, text in lines:
        if line_no == 1 and text.startswith("\ufeff"):
            text = text[1:]
            count_repair(repairs, BYTE_ORDER_MARK, name, line_no)
        if text and not text.strip():
            count_repair(repairs, WHITESPACE_ONLY_LINE, name, line_no)
        elif text and text.lstrip()[0] in INVISIBLE:
            text = _drop_invisible_start(text, repairs, name, line_no)
        bad = CONTROL_CHARACTER.search(text)
        if bad:
            found = f"control character U+{ord(bad.group()):04X} in {text!r}"
            raise CorpusFormatError(
                name, line_no, found, "printable text", NUL_HINT if bad.group() == "\x00" else "remove it from the file"
            )
        yield line_no, text


class Repairs(Counter[str]):
    """A tally of what was read leniently, by kind, with the place (path, line) where each kind was first met."""

    def __init__(self) -> None:
        super().__init__()
        self.first: dict[str, tuple[str, int]] = {}

    def places(self) -> dict[str, str]:
        """Kind -> ``path:line`` of its first occurrence."""
        return {kind: f"{path}:{line}" if line else path for kind, (path, line) in self.first.items()}


def count_repair(repairs: Counter[str] | None, kind: str, path: str = "", line_no: int = 0) -> None:
    """Count one ``kind`` of repair, when the caller keeps a tally; a ``Repairs`` tally keeps its first place."""
    if repairs is None:
        return
    repairs[kind] += 1
    if isinstance(repairs, Repairs):
        repairs.first.setdefault(kind, (path, line_no))


def is_invisible(text: str) -> bool:
    """Whether ``text`` is made of invisible characters and nothing else (``""`` is not)."""
    return bool(text) and not text.translate(_DROP_INVISIBLE)


def is_blank(text: str) -> bool:
    """Whether readers take the line as blank: nothing but whitespace and invisible characters."""
    return not text.translate(_DROP_INVISIBLE).strip()


def clean_word(word: str, repairs: Counter[str] | None, path: str, line_no: int) -> str:
    """``word`` without the invisible characters that start it, counted; ``""`` when it holds nothing else
    (the caller skips it, tag and all)."""
    cleaned = word.lstrip(INVISIBLE)
    if not cleaned:
        count_repair(repairs, INVISIBLE_WORD, path, line_no)
    elif cleaned != word:
        count_repair(repairs, INVISIBLE_START, path, line_no)
    return cleaned


def _drop_invisible_start(text: str, repairs: Counter[str] | None, path: str, line_no: int) -> str:
    if is_blank(text):
        count_repair(repairs, INVISIBLE_LINE, path, line_no)
        return ""
    rest = text.lstrip(INVISIBLE)
    if rest == text or rest[0].isspace():
        # Leading whitespace first, or a first word of nothing but invisible characters: the reader decides.
        return text
    count_repair(repairs, INVISIBLE_START, path, line_no)
    return rest


def _lookup(encoding: str) -> codecs.CodecInfo:
    try:
        return codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(f"unknown encoding '{encoding}' (e.g. utf-8, latin-1, cp1252)") from None


def _is_wide(codec: codecs.CodecInfo) -> bool:
    # UTF-16/32 bytes contain b"\n" inside other characters, so they cannot be split before decoding.
    return codec.name.startswith(("utf-16", "utf-32"))


def _decode_by_line(path: str | Path, codec: codecs.CodecInfo) -> Iterator[tuple[int, str]]:
    # Decoding each line on its own lets an encoding error name its line.
    name, line_no = str(path), 0
    for raw in _raw_lines(path):
        for piece in _split_line_endings(raw):
            line_no += 1
            try:
                text = codec.decode(piece)[0]
            except UnicodeDecodeError as error:
                found = f"bytes that are not {codec.name} ({error.reason} at byte {error.start + 1})"
                raise decoding_error(name, line_no, found, codec) from None
            yield line_no, text


def _split_line_endings(raw: bytes) -> list[bytes]:
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    # A CR left inside means the file uses lone CR line endings (old Mac style).
    return raw.split(b"\r") if b"\r" in raw else [raw]


def _raw_lines(path: str | Path) -> Iterator[bytes]:
    with open_binary(path) as stream:
        line_no = 0
        try:
            for raw in stream:
                line_no += 1
                yield raw
        except CORRUPT_GZIP as error:
            raise _corrupt_gzip(path, line_no + 1, error) from None


def _corrupt_gzip(path: str | Path, line_no: int, error: Exception) -> CorpusFormatError:
    return CorpusFormatError(str(path), line_no, f"corrupt compressed data ({error})", "a complete .gz file")


def _decode_text_mode(path: str | Path, codec: codecs.CodecInfo) -> Iterator[tuple[int, str]]:
    with io.TextIOWrapper(open_binary(path), encoding=codec.name, newline=None) as stream:
        line_no = 0
        try:
            for line_no, text in enumerate(stream, start=1):
                yield line_no, text.rstrip("\n")
        # Plain UnicodeError too: the "utf-16" codec raises one for a file without a byte-order mark.
        except UnicodeError as error:
            reason = error.reason if isinstance(error, UnicodeDecodeError) else str(error)
            found = f"bytes that are not {codec.name} ({reason})"
            raise CorpusFormatError(str(path), line_no + 1, found, f"{codec.name} text", ENCODING_HINT) from None
        except CORRUPT_GZIP as error:  # the text wrapper reads a .gz file as _raw_lines does
            raise _corrupt_gzip(path, line_no + 1, error) from None
