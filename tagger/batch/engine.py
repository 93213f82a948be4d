"""Tagging many files: sentences of several files share batches, each output is written to a temporary file
and renamed when complete, and a file that cannot be read is reported and skipped, not fatal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tagger.atomic import AtomicFile
from tagger.batch.inputs import InputFile, read_units
from tagger.corpus import INPUT_FORMATS, Sentence, opens_document
from tagger.errors import ConfigError, TaggerError, setting
from tagger.ordering import MAX_CONTEXT_SENTENCES
from tagger.outputs import OUTPUT_FORMATS, TaggedSentence, WriterOptions, default_output_format, make_writer
from tagger.outputs.conllu import CONLLU_FIELDS
from tagger.outputs.formats import FORMATS
from tagger.outputs.labelstudio import model_version
from tagger.outputs.tagged import Offsets
from tagger.schemes import SCHEMES
from tagger.tagging.base import TaggerBase
from tagger.tagging.onnx_tagger import QUANTIZE_MODES
from tagger.tokenize import load_tokenizer

POOL_SENTENCES = 2000  # sentences tagged together, across files; bounds memory whatever the file sizes
AUTO = "auto"
ENGINES = ("local", "ray")


@dataclass(frozen=True, kw_only=True)
class BatchOptions:
    input_format: str = "auto"
    output_format: str = "auto"
    scheme: str = "IOB2"
    probabilities: bool = False
    conllu_field: str = "misc"
    encoding: str = "utf-8"
    lang: str = "en"
    spacy_model: str | None = None
    batch_size: int | None = None  # None: the runtime's fastest (TaggerBase.default_batch_size)
    device: str = "auto"
    workers: int = 0  # 0: as many as the CPU has cores (at most threads.MAX_AUTO_WORKERS), 1 on a GPU
    overwrite: bool = False
    quantize: str = "auto"  # auto | none | int8 | bf16 (tagger.model.quantize)
    engine: str = "local"  # local (this machine's processes) | ray (a Ray cluster's actors)
    address: str | None = None  # the Ray cluster; None starts a local Ray instance

    def __post_init__(self) -> None:
        """Refused when made, from Python as from the command line: a bad value never runs as a default."""
        for name, valid in (
            ("input_format", (AUTO, *INPUT_FORMATS)),
            ("output_format", (AUTO, *OUTPUT_FORMATS)),
            ("scheme", SCHEMES),
            ("conllu_field", CONLLU_FIELDS),
            ("quantize", QUANTIZE_MODES),
            ("engine", ENGINES),
        ):
            value = getattr(self, name)
            if value not in valid:
                raise ConfigError(f"{setting(name, repr(value))}: expected one of {', '.join(valid)}")
        if self.workers < 0 or (self.batch_size is not None and self.batch_size < 1):
            raise ConfigError(
                f"{setting('workers')} must be 0 (one per core) or more, {setting('batch_size')} at least 1"
            )

    def output_format_for(self, input_format: str) -> str:
        """What an input in ``input_format`` is written as: ``output_format``, or with auto the input's own."""
        return default_output_format(input_format) if self.output_format == AUTO else self.output_format

    def output_settings(self) -> dict[str, Any]:
        """The settings an output's bytes depend on (the rest only change speed)."""
        return {
            "scheme": self.scheme,
            "probabilities": self.probabilities,
            "conllu_field": self.conllu_field,
            "encoding": self.encoding,
            "lang": self.lang,
            "spacy_model": self.spacy_model,
            "quantize": self.quantize,
        }


@dataclass(frozen=True)
class FileTask:
    input: InputFile
    output: Path | None  # None: the shared stream (stdout or one --output file)
    output_format: str
    relative: str = ""  # the output's path below --out, as the manifest names it
    fingerprint: str = ""  # of the input's bytes

    @property
    def output_file(self) -> Path:
        """The output file, for a task of an output folder (where every task has one)."""
        if self.output is None:
            raise ValueError(f"{self.input.path} is tagged into the shared stream, not into a file of its own")
        return self.output


@dataclass(frozen=True)
class FileResult:
    input: str
    output: str
    status: str  # done | skipped (already done, unchanged) | failed
    words: int = 0
    message: str = ""


class OpenOutput:
    """One file being written: its writer, and where the bytes go until the file is complete."""

    def __init__(self, task: FileTask, writer: Any, stream: IO[bytes] | None):
        self.task, self.writer, self.words = task, writer, 0
        self.pending: list[TaggedSentence] = []
        self.reading_done = False
        self.begun = False  # begin() is written with the first sentences, so a file that fails before them
        # (empty, binary, undecodable at line 1) puts nothing, not half an HTML page, into a shared stream
        self.file = AtomicFile(task.output) if task.output is not None else None
        target = self.file.stream if self.file is not None else stream
        if target is None:
            raise ValueError(f"{task.input.path}: no output file, and no shared stream to write into")
        self.stream = target

    def emit(self, data: str | bytes) -> None:
        if not self.begun:
            self.begun = True
            self.emit(self.writer.begin())
        self.stream.write(data.encode("utf-8") if isinstance(data, str) else data)

    def write_pending(self) -> None:
        self.emit(self.writer.write(self.pending))
        self.words += sum(len(t.tags) for t in self.pending)
        self.pending = []

    def commit(self) -> FileResult:
        self.emit(self.writer.end())
        if self.file is not None:
            self.file.commit()
        return FileResult(str(self.task.input.path), str(self.task.output or "-"), "done", self.words)

    def abort(self) -> None:
        if self.file is not None:
            self.file.abort()


class SentencePool:
    """Sentences from one or more files, tagged together once there are enough; documents are never cut,
    so a model with document context sees each document whole."""

    def __init__(self, tagger: TaggerBase, options: BatchOptions, on_words: Callable[[int], None]):
        self.tagger, self.options, self.on_words = tagger, options, on_words
        self.items: list[tuple[OpenOutput, Sentence, Offsets | None, int]] = []
        self.documents = 0

    def full_before(self, starts_document: bool) -> bool:
        size = len(self.items)
        return size >= POOL_SENTENCES and (starts_document or size >= POOL_SENTENCES + MAX_CONTEXT_SENTENCES)

    def add(self, output: OpenOutput, sentence: Sentence, offsets: Offsets | None, starts_document: bool) -> None:
        self.documents += starts_document
        self.items.append((output, sentence, offsets, self.documents))

    def discard(self, output: OpenOutput) -> None:
        self.items = [item for item in self.items if item[0] is not output]

    def flush(self) -> Iterator[FileResult]:
        """Tag what is pooled, hand each output its sentences, and finish the outputs whose input is read."""
        tagged = self.tagger.tag_sentences(
            [s for _, s, _, _ in self.items],
            # a CRF's cost a third of its time: computed where asked for, or where an output records them
            scores=self.options.probabilities or any(FORMATS[o.task.output_format].scores for o, *_ in self.items),
            scheme=self.options.scheme,
            batch_size=self.options.batch_size,
            documents=[d for *_, d in self.items],
            offsets=[offsets for _, _, offsets, _ in self.items],
        )
        outputs: dict[int, OpenOutput] = {}
        for (output, *_), result in zip(self.items, tagged):
            output.pending.append(result)
            outputs[id(output)] = output
        self.on_words(sum(len(s.words) for _, s, _, _ in self.items))
        self.items = []
        for output in outputs.values():
            yield from finish_chunk(output)


def finish_chunk(output: OpenOutput) -> Iterator[FileResult]:
    """Write an output's tagged sentences, and commit it when its input has been read to the end."""
    try:
        output.write_pending()
        if output.reading_done:
            yield output.commit()
    except OSError as error:  # a full disk or a folder made read-only mid-run: this output fails, others go on
        output.abort()
        yield failed(output.task, f"cannot write {output.task.output}: {error.strerror or error}")


def failed(task: FileTask, message: str) -> FileResult:
    return FileResult(str(task.input.path), str(task.output or "-"), "failed", 0, message)


def tag_files(
    tagger: TaggerBase,
    tasks: list[FileTask],
    options: BatchOptions,
    stream: IO[bytes] | None = None,
    stop_on_error: bool = False,
    on_words: Callable[[int], None] = lambda words: None,
) -> Iterator[FileResult]:
    """Tag every task's input into its output, yielding each file's result as it finishes (in input order
    within a pool); ``on_words`` hears of every tagged chunk. With ``stop_on_error`` (one shared output
    stream) a bad file raises instead of being reported."""
    pool = SentencePool(tagger, options, on_words)
    tokenizer = lazy_tokenizer(options)
    shared = stream is not None and len(tasks) > 1
    for task in tasks:
        try:
            output = OpenOutput(task, writer_for(task, tagger, options, shared), stream)
        except (TaggerError, OSError) as error:
            if stop_on_error:
                raise
            yield failed(task, str(error))
            continue
        try:
            yield from pool_file(pool, output, tokenizer)
        except (TaggerError, OSError) as error:  # OSError: the input vanished or became unreadable mid-run
            pool.discard(output)
            output.abort()
            if stop_on_error:
                raise
            yield failed(task, str(error))
            continue
        output.reading_done = True
    if pool.items:
        yield from pool.flush()


def pool_file(pool: SentencePool, output: OpenOutput, tokenizer: Callable[[], Any]) -> Iterator[FileResult]:
    first = True
    nlp = tokenizer() if output.task.input.format == "text" else None
    for sentence, offsets in read_units(output.task.input, pool.options.encoding, nlp):
        starts_document = first or opens_document(sentence)
        if pool.full_before(starts_document):
            yield from pool.flush()
        pool.add(output, sentence, offsets, starts_document)
        first = False


def writer_for(task: FileTask, tagger: TaggerBase, options: BatchOptions, shared: bool = False) -> Any:
    """The writer of one task's output; ``shared``: several inputs are written into one stream."""
    writer_options = WriterOptions(
        task.input.format,
        tagger.task,
        options.scheme,
        options.probabilities,
        options.conllu_field,
        options.encoding,
        shared and task.output is None,
        model_version(tagger.config.to_dict(), tagger.metrics),
    )
    return make_writer(task.output_format, task.input.path, writer_options)


def lazy_tokenizer(options: BatchOptions) -> Callable[[], Any]:
    """spaCy's tokenizer, loaded the first time a raw-text file needs it (it takes a second)."""
    loaded: list[Any] = []

    def get() -> Any:
        if not loaded:
            loaded.append(load_tokenizer(options.lang, options.spacy_model))
        return loaded[0]

    return get
