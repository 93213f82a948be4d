"""Picking what to annotate next (``tagger select``): the sentences or documents of an unlabelled pool ranked by how
unsure a model is of them, near-duplicates of those already chosen skipped, and the first N written for an
annotation tool with the model's predictions as pre-annotations.

How unsure, word by word, from every label's probability at the word (a CRF's posterior marginals, else the
softmax; ``TaggerBase.tag_distributions``), with p1 and p2 the two highest:

- ``least-confidence``: 1 - p1;
- ``margin``: 1 - (p1 - p2);
- ``entropy``: -sum(p log p), in nats.

An item's uncertainty adds its words' up (``sum``: for least confidence, the number of words the model expects to
get wrong), or takes their ``mean`` or ``max``. The sum favours long items, which also cost more to annotate; the
mean and the max do not grow with length.

Near-duplicates: each item's words are normalised (lowercased, every digit made 0) into a set; an item whose set
has a Jaccard similarity of at least ``max_similarity`` (default 0.8) with the set of an item already chosen is
skipped. Items are ranked by uncertainty, highest first, ties in pool order, so the same model and pool always give
the same choice.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from tagger.atomic import check_output_file, open_atomic
from tagger.batch.inputs import InputFile, find_inputs, read_units
from tagger.corpus import RAW_TEXT, Sentence, document_ids
from tagger.corpus.conll import DOCSTART
from tagger.errors import ConfigError, CorpusFormatError, setting
from tagger.outputs.conll import format_conll
from tagger.outputs.formats import SELECTION_FORMATS, make_writer
from tagger.outputs.jsonl import format_record, prediction_fields
from tagger.outputs.labelstudio import model_version
from tagger.outputs.tagged import Offsets, TaggedSentence, WriterOptions
from tagger.outputs.tasks import TaskWriter, build_task
from tagger.outputs.writer import check_column_words
from tagger.shipped import model_path
from tagger.tagging.base import TaggerBase
from tagger.tagging.loading import load_tagger
from tagger.tokenize import load_tokenizer

STRATEGIES = ("least-confidence", "margin", "entropy")
AGGREGATES = ("sum", "mean", "max")
UNITS = ("sentence", "document")
DEFAULT_SIMILARITY = 0.8
STDOUT = "-"
DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class SelectOptions:
    """What ``select_pool`` chooses and writes; each value checked when made."""

    count: int  # how many items to choose
    strategy: str = "least-confidence"
    aggregate: str = "sum"  # an item's words' uncertainties: sum, mean or max
    by: str = "sentence"  # an item: a sentence or a document
    output_format: str = SELECTION_FORMATS[0]  # jsonl
    max_similarity: float = DEFAULT_SIMILARITY  # skip an item this similar (Jaccard) to one already chosen
    input_format: str = "auto"  # of the pool's files: auto (per file), a corpus format, or text
    encoding: str = "utf-8"
    lang: str = "en"  # spaCy language that splits raw text
    spacy_model: str | None = None
    device: str = "auto"
    batch_size: int | None = None  # None: the runtime's fastest (TaggerBase.default_batch_size)
    overwrite: bool = False  # replace an existing output file (never a pool file)

    def __post_init__(self) -> None:
        if self.count <= 0:
            raise ConfigError(f"{setting('count', self.count)}: choose at least one item (a count of 1 or more)")
        for name, value, valid in (
            ("strategy", self.strategy, STRATEGIES),
            ("aggregate", self.aggregate, AGGREGATES),
            ("by", self.by, UNITS),
            ("output_format", self.output_format, SELECTION_FORMATS),
        ):
            if value not in valid:
                raise ConfigError(f"{setting(name, value)}: expected one of {', '.join(valid)}")
        if not 0 < self.max_similarity <= 1:
            raise ConfigError(
                f"{setting('max_similarity', self.max_similarity)}: expected a Jaccard similarity above 0 and at "
                "most 1 (1 skips only items with the same words)"
            )
        if self.batch_size is not None and self.batch_size <= 0:
            raise ConfigError(f"{setting('batch_size', self.batch_size)}: expected 1 or more sentences per batch")


@dataclass(frozen=True)
class Selected:
    """One chosen item: its rank (1 = the most uncertain), its place in the pool, its sentences as tagged."""

    rank: int
    item: int  # the item's position in the pool, from 0 (sentences or documents in file order)
    uncertainty: float
    tagged: list[TaggedSentence]

    @property
    def source(self) -> str:
        """Where the item starts: ``path:line``, or the path where the format has no lines (raw text, DocBin)."""
        first = self.tagged[0].sentence
        return f"{first.path}:{first.line}" if first.line else str(first.path)


@dataclass(frozen=True)
class Selection:
    chosen: list[Selected]
    items: int  # the pool's items (sentences or documents)
    sentences: int  # the pool's sentences
    duplicates: int  # items skipped as near-duplicates of one already chosen


@dataclass(frozen=True)
class SelectionReport:
    """What ``select_pool`` chose and wrote."""

    selection: Selection
    output: str  # the file written, or - for standard output
    options: SelectOptions
    files: list[str]  # the pool's files, in the order their items were numbered


def word_uncertainties(distributions: np.ndarray, strategy: str) -> np.ndarray:
    """How unsure the model is at each word, ``(num_words,)``, from each label's probability there,
    ``(num_words, num_labels)``: higher is less sure."""
    probabilities = distributions.astype(np.float64)
    if strategy == "least-confidence":
        return 1.0 - probabilities.max(axis=1, initial=0.0)
    if strategy == "margin":
        top = np.sort(probabilities, axis=1)[:, ::-1]
        second = top[:, 1] if top.shape[1] > 1 else np.zeros(len(top))
        return 1.0 - (top[:, 0] - second)
    if strategy == "entropy":
        logs = np.log(np.where(probabilities > 0, probabilities, 1.0))
        return -(probabilities * logs).sum(axis=1)
    raise ConfigError(f"{setting('strategy', strategy)}: expected one of {', '.join(STRATEGIES)}")


def item_uncertainty(words: np.ndarray, aggregate: str) -> float:
    """One item's uncertainty from its words': their sum, mean or max (0 for an item without words)."""
    if not len(words):
        return 0.0
    if aggregate == "sum":
        return float(words.sum())
    if aggregate == "mean":
        return float(words.mean())
    if aggregate == "max":
        return float(words.max())
    raise ConfigError(f"{setting('aggregate', aggregate)}: expected one of {', '.join(AGGREGATES)}")


def normalised_words(words: Sequence[str]) -> frozenset[str]:
    """The set near-duplicates are compared by: each word lowercased, its digits made 0."""
    return frozenset(DIGIT.sub("0", word.casefold()) for word in words)


def similarity(first: frozenset[str], second: frozenset[str]) -> float:
    """Jaccard similarity of two word sets (1 for two empty sets)."""
    union = len(first | second)
    return len(first & second) / union if union else 1.0


def choose(
    uncertainties: Sequence[float], word_sets: Sequence[frozenset[str]], count: int, max_similarity: float
) -> tuple[list[int], int]:
    """The positions of the ``count`` most uncertain items, highest first, ties in pool order, each skipped whose
    words are at least ``max_similarity`` similar to those of an item already chosen; and how many were skipped."""
    order = sorted(range(len(uncertainties)), key=lambda i: (-uncertainties[i], i))
    chosen: list[int] = []
    skipped = 0
    for index in order:
        if len(chosen) == count:
            break
        if any(similarity(word_sets[index], word_sets[other]) >= max_similarity for other in chosen):
            skipped += 1
            continue
        chosen.append(index)
    return chosen, skipped


def item_sentences(sentences: Sequence[Sentence], by: str) -> list[list[int]]:
    """The sentences of each item, in pool order: each sentence alone, or each document's (as the files mark
    them: ``-DOCSTART-``, ``# newdoc``, a paragraph of raw text; a file that marks none is one document)."""
    if by == "sentence":
        return [[index] for index in range(len(sentences))]
    items: list[list[int]] = []
    previous = None
    for index, document in enumerate(document_ids(sentences)):
        if document != previous:
            items.append([])
            previous = document
        items[-1].append(index)
    return items


def select_sentences(
    tagger: TaggerBase,
    sentences: Sequence[Sentence],
    count: int,
    strategy: str = "least-confidence",
    aggregate: str = "sum",
    by: str = "sentence",
    max_similarity: float = DEFAULT_SIMILARITY,
    offsets: Sequence[Offsets | None] | None = None,
    batch_size: int | None = None,
) -> Selection:
    """The ``count`` items of ``sentences`` (each sentence, or each document, ``by``) the model is least sure of,
    most uncertain first, near-duplicates skipped (see the module's text); each with the model's predictions
    (tags in IOB2 with their probabilities) and, for raw text, its words' ``offsets``."""
    if count <= 0:
        raise ConfigError(f"{setting('count', count)}: choose at least one item (a count of 1 or more)")
    tagged = tagger.tag_distributions(sentences, batch_size=batch_size, offsets=offsets)
    items = item_sentences(sentences, by)
    uncertainties = []
    for members in items:
        words = [word_uncertainties(tagged[index][1], strategy) for index in members]
        uncertainties.append(item_uncertainty(np.concatenate(words), aggregate))
    word_sets = [normalised_words([w for index in members for w in sentences[index].words]) for members in items]
    positions, skipped = choose(uncertainties, word_sets, count, max_similarity)
    chosen = [
        Selected(rank, position, uncertainties[position], [tagged[index][0] for index in items[position]])
        for rank, position in enumerate(positions, 1)
    ]
    return Selection(chosen, len(items), len(sentences), skipped)


def select_pool(
    model_dir: str | Path, pool: Sequence[str], output: str | Path, options: SelectOptions
) -> SelectionReport:
    """``tagger select``: choose ``options.count`` items of the pool's files (paths, folders or globs; any corpus
    format, raw text included) and write them to ``output`` (``-``: standard output) in ``options.output_format``.

    The output is checked before any work: never a pool file, never an existing file without ``overwrite``."""
    files = find_inputs(list(pool), options.input_format)
    if not files:
        raise CorpusFormatError(", ".join(pool), 0, "no files", "a pool of files to choose sentences from")
    if str(output) != STDOUT:
        check_output_file(Path(output), "output", [file.path for file in files], options.overwrite)
    tagger = load_tagger(model_path(model_dir), options.device)
    writer_options = WriterOptions(
        files[0].format,
        tagger.task,
        probabilities=True,
        model_version=model_version(tagger.config.to_dict(), tagger.metrics),
    )
    task_writer = make_task_writer(options.output_format, writer_options)  # refuses word labels before any work
    sentences, offsets = read_pool(files, options)
    selection = select_sentences(
        tagger,
        sentences,
        options.count,
        options.strategy,
        options.aggregate,
        options.by,
        options.max_similarity,
        offsets,
        options.batch_size,
    )
    text = format_selection(selection.chosen, options, writer_options, task_writer)
    write_text(output, text)
    return SelectionReport(selection, str(output), options, [str(file.path) for file in files])


def read_pool(files: list[InputFile], options: SelectOptions) -> tuple[list[Sentence], list[Offsets | None]]:
    """Every sentence of the pool's files in order, with its words' offsets where the file is raw text."""
    nlp = load_tokenizer(options.lang, options.spacy_model) if any(f.format == RAW_TEXT for f in files) else None
    sentences: list[Sentence] = []
    offsets: list[Offsets | None] = []
    for file in files:
        for sentence, spans in read_units(file, options.encoding, nlp):
            sentences.append(sentence)
            offsets.append(spans)
    if not sentences:
        raise CorpusFormatError(", ".join(str(f.path) for f in files), 0, "no sentences", "a pool of sentences")
    return sentences, offsets


def make_task_writer(output_format: str, writer_options: WriterOptions) -> TaskWriter | None:
    """The writer of the annotation tools' formats (it refuses a model of word labels); None for the others."""
    if output_format not in ("labelstudio", "doccano"):
        return None
    writer = make_writer(output_format, None, writer_options)
    assert isinstance(writer, TaskWriter)
    return writer


def format_selection(
    chosen: list[Selected], options: SelectOptions, writer_options: WriterOptions, task_writer: TaskWriter | None
) -> str:
    """The chosen items as the text of ``options.output_format``, in rank order, each with its rank, uncertainty
    and source; pre-annotations are the model's predictions (IOB2)."""
    if task_writer is not None:
        pieces = [str(task_writer.begin())]
        for selected in chosen:
            task = build_task(selected.tagged, item_fields(selected))
            pieces.append(task_writer.format_task(task, selected.rank))
        return "".join(pieces) + str(task_writer.end())
    if options.output_format == "conll":
        return "".join(format_conll_item(selected) for selected in chosen)
    return "".join(format_jsonl_item(selected, writer_options, options.by == "document") for selected in chosen)


def item_fields(selected: Selected) -> dict[str, Any]:
    """What each output records of an item: its rank, uncertainty, source and place in the pool (from 1)."""
    return {
        "rank": selected.rank,
        "uncertainty": round(selected.uncertainty, 6),
        "source": selected.source,
        "item": selected.item + 1,
    }


def format_jsonl_item(selected: Selected, writer_options: WriterOptions, documents: bool) -> str:
    """A record per sentence; a document's first opens it (``docstart``, as the JSONL reader reads it)."""
    records = []
    for index, tagged in enumerate(selected.tagged):
        mark = {"docstart": "1"} if documents and index == 0 else {}
        record = {**item_fields(selected), **mark, "words": list(tagged.words)}
        records.append(format_record({**record, **prediction_fields(tagged, writer_options)}))
    return "".join(records)


def format_conll_item(selected: Selected) -> str:
    """A ``-DOCSTART-`` line holding the item's rank, uncertainty and source (CoNLL columns have no comments;
    readers know the line by its first field), then ``word<TAB>tag`` lines."""
    fields = item_fields(selected)
    pieces = [f"{DOCSTART}\t" + "\t".join(f"{key}={value}" for key, value in fields.items()) + "\n\n"]
    for tagged in selected.tagged:
        check_column_words(tagged, "CoNLL")
        pieces.append(format_conll(tagged.words, tagged.tags))
    return "".join(pieces)


def write_text(output: str | Path, text: str) -> None:
    """To standard output, or to a file that replaces ``output`` only once complete."""
    if str(output) == STDOUT:
        stream: IO[str] = sys.stdout
        stream.write(text)
        stream.flush()
        return
    with open_atomic(Path(output), "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def selection_json(report: SelectionReport) -> dict[str, Any]:
    """The report as JSON: the settings, the pool's size and each chosen item's rank, uncertainty and source."""
    selection = report.selection
    return {
        "output": report.output,
        "output_format": report.options.output_format,
        "strategy": report.options.strategy,
        "aggregate": report.options.aggregate,
        "by": report.options.by,
        "max_similarity": report.options.max_similarity,
        "pool": {"files": report.files, "items": selection.items, "sentences": selection.sentences},
        "near_duplicates_skipped": selection.duplicates,
        "chosen": [item_fields(selected) for selected in selection.chosen],
    }
