"""Many inputs tagged into one stream (standard output or one file, written atomically), and the choice
between that and a resumable output folder (``annotate``): what ``tagger tag`` runs."""

from __future__ import annotations

import io
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any, cast

from tagger.atomic import AtomicFile, check_output_file
from tagger.batch.engine import BatchOptions, FileResult, FileTask, tag_files
from tagger.batch.inputs import InputFile, find_inputs
from tagger.batch.run import Listener, annotate_folder
from tagger.corpus import RAW_TEXT
from tagger.corpus.lines import BINARY_SNIFF_BYTES, binary_file_error
from tagger.errors import ConfigError, CorpusFormatError, setting
from tagger.outputs.formats import FORMATS
from tagger.shipped import model_path
from tagger.tagging.loading import load_tagger

STDIN = "stdin"  # what messages call standard input (it is read from a temporary copy)
STDOUT = "-"  # as an output, and as an input (standard input)


def annotate(
    model_dir: str | Path,
    inputs: list[str],
    out_dir: str | Path | None = None,
    output: str | Path = STDOUT,
    options: BatchOptions = BatchOptions(),
    listener: Listener = Listener(),
) -> list[FileResult]:
    """Tag ``inputs`` (files, folders, globs, or ``-`` for standard input) into the folder ``out_dir``, mirroring
    the input tree and resumable (``annotate_folder``), or without one into ``output`` (``-``: standard output;
    a bad file then stops the run with its error, and no results are returned)."""
    if out_dir is None:
        if options.engine != "local":
            raise ConfigError(
                f"{setting('engine', options.engine)} writes an output folder: add {setting('out_dir', 'DIR')}"
            )
        tag_to_stream(model_dir, inputs, output, options)
        return []
    if str(output) != STDOUT:
        raise ConfigError(
            f"{setting('out_dir')} (a folder of outputs) and {setting('output')} (one file) exclude "
            "each other; choose one"
        )
    if STDOUT in inputs:
        raise ConfigError(
            f"stdin (-) can be tagged to stdout or {setting('output', 'FILE')}, not into an {setting('out_dir')} folder"
        )
    return annotate_folder(model_path(model_dir), inputs, Path(out_dir), options, listener)


def tag_to_stream(
    model_dir: str | Path, inputs: list[str], output: str | Path = STDOUT, options: BatchOptions = BatchOptions()
) -> None:
    """Everything into standard output or one file (written atomically); a bad file stops the run with its error."""
    with ExitStack() as stack:
        check_output(output, inputs, options.overwrite)
        files: list[InputFile] = []
        stdin_copies: set[str] = set()  # the temporary files standard input was saved to: "stdin" in messages
        for name in inputs:
            files += [stdin_file(stack, options)] if name == STDOUT else find_inputs([name], options.input_format)
            if name == STDOUT:
                stdin_copies.add(str(files[-1].path))
        tasks = [FileTask(file, None, options.output_format_for(file.format)) for file in files]
        if len(tasks) > 1 and any(FORMATS[t.output_format].whole_file for t in tasks):
            whole = " and ".join(name for name, written in FORMATS.items() if written.whole_file)
            raise ConfigError(
                f"{whole} outputs hold one input each: use {setting('out_dir', 'FOLDER')} for several inputs"
            )
        tagger = load_tagger(model_dir, device=options.device, quantize=options.quantize)
        target = None if str(output) == STDOUT else AtomicFile(Path(output))
        stream: IO[bytes] = sys.stdout.buffer if target is None else target.stream
        try:
            for _ in tag_files(tagger, tasks, options, stream, stop_on_error=True):
                stream.flush()
        except BaseException as error:
            if target is not None:
                target.abort()
            if isinstance(error, CorpusFormatError) and error.path in stdin_copies:
                raise CorpusFormatError(STDIN, error.line_no, error.found, error.expected, error.hint) from None
            raise
        if target is not None:
            target.commit()


def stdin_file(stack: ExitStack, options: BatchOptions) -> InputFile:
    """Standard input, raw text unless told otherwise. Raw text is read as it comes, so the first sentences are
    tagged and written while a pipe still delivers the rest; a corpus format is saved to a temporary file first
    (its readers work on paths). Empty input is refused here, before the model loads and before any output begins:
    only the bytes up to the first that is not whitespace are waited for."""
    input_format = RAW_TEXT if options.input_format == "auto" else options.input_format
    if input_format == RAW_TEXT:
        head = b""
        while not head.strip():
            chunk = stdin_bytes().read1(1 << 16)
            if not chunk:
                raise empty_stdin()
            head += chunk
        if b"\x00" in head[:BINARY_SNIFF_BYTES]:  # as a file is sniffed: a stream cannot be read again later
            raise binary_file_error(STDIN)
        stream = io.BufferedReader(HeadThenRest(head, stdin_bytes()))
        return InputFile(Path(STDIN), Path(STDIN), RAW_TEXT, stream)
    data = sys.stdin.buffer.read()
    if not data.strip():
        raise empty_stdin()
    path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tagger-stdin-"))) / STDIN
    path.write_bytes(data)
    return InputFile(path, Path(STDIN), input_format)


def stdin_bytes() -> io.BufferedIOBase:
    """Standard input's bytes: typed ``BinaryIO``, which has no ``read1``, though it is a buffered stream that has
    (a BufferedReader, or the BytesIO a test runner puts in its place)."""
    return cast(io.BufferedIOBase, sys.stdin.buffer)


def empty_stdin() -> CorpusFormatError:
    return CorpusFormatError(
        STDIN,
        0,
        "nothing to tag (standard input is empty or only whitespace)",
        "text or a corpus piped in",
        "or name the files to tag instead of -",
    )


class HeadThenRest(io.RawIOBase):
    """The bytes already read from a stream to look at it, then the rest of it as it comes."""

    def __init__(self, head: bytes, rest: io.BufferedIOBase):
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            count = min(len(buffer), len(self.head))
            buffer[:count], self.head = self.head[:count], self.head[count:]
            return count
        chunk = self.rest.read1(len(buffer))  # what the pipe has now, without waiting for a full buffer
        buffer[: len(chunk)] = chunk
        return len(chunk)


def check_output(output: str | Path, inputs: list[str], overwrite: bool) -> None:
    """Before any work: ``output`` names a file that can be written and is not an input."""
    if str(output) == STDOUT:
        return
    folder_hint = f" ({setting('out_dir', output)} tags into the folder)"
    check_output_file(Path(output), "output", [Path(n) for n in inputs if n != STDOUT], overwrite, folder_hint)
