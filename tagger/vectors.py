"""Pretrained word vectors: read GloVe / word2vec / fastText text files or a spaCy pipeline's table,
and turn them into the initial weights of a word embedding whose rows follow a vocabulary."""

from __future__ import annotations

import codecs
import math
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tagger.corpus.lines import ENCODING_HINT, open_binary
from tagger.errors import ConfigError, CorpusFormatError
from tagger.pinned_packages import PACKAGES, VECTORS, check_known_rows, is_package_name, package_data_dir, packages_of
from tagger.vocab import SPECIALS

SPACY_PREFIX = "spacy:"
LINE_FORMAT = "'word v1 ... vd' per line, optionally after a 'count dim' header line"


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy arrays field by field is ambiguous
class WordVectors:
    words: list[str]  # most frequent first, where by_frequency
    matrix: np.ndarray  # (num_rows, dim) float32
    source: str  # the file path, a package name, or "spacy:<pipeline>"
    # (num_words,) the row of each word; None: row i is the vector of words[i]. spaCy's tables share one
    # row among many words (684,830 words, 20,000 rows in en_core_web_md), which a copy per word would undo.
    rows: np.ndarray | None = None
    # Text files list words by frequency. spaCy's tables do not: en_core_web_md 3.8.0 lists "1-800-398-3128"
    # first and "the" 448,159th, and carries no frequencies, so "the N most frequent" cannot be taken from it.
    by_frequency: bool = True

    def __post_init__(self) -> None:
        count = len(self.words) if self.rows is None else int(self.matrix.shape[0])
        if self.matrix.ndim != 2 or self.matrix.shape[0] != count:
            raise ValueError(f"{len(self.words)} words need a ({count}, dim) matrix, got {self.matrix.shape}")
        if self.rows is not None and len(self.rows) != len(self.words):
            raise ValueError(f"{len(self.words)} words need as many rows, got {len(self.rows)}")

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def vector(self, index: int) -> np.ndarray:
        """The vector of ``words[index]``, (dim,)."""
        return self.matrix[index if self.rows is None else self.rows[index]]

    def first(self, limit: int) -> WordVectors:
        """The ``limit`` most frequent words and their vectors."""
        if not self.by_frequency:
            raise no_frequency_order(self.source, limit)
        if limit >= len(self.words):
            return self
        if self.rows is None:
            return replace(self, words=self.words[:limit], matrix=self.matrix[:limit])
        return replace(self, words=self.words[:limit], rows=self.rows[:limit])


def no_frequency_order(source: str, limit: int) -> ConfigError:
    return ConfigError(
        f"word vectors '{source}' list their words in no frequency order, so the {limit:,} most frequent "
        "cannot be kept; set vocab.vectors_limit=0 to keep every word, or name a source in frequency order "
        "beside it (e.g. glove-6b-50d,spacy-en-md)"
    )


@dataclass(frozen=True)
class Coverage:
    types: int
    types_found: int
    tokens: int
    tokens_found: int
    lowercase_matches: int  # types absent in their own case but present in lower case

    def summary(self) -> str:
        return (
            f"vectors cover {_percent(self.tokens_found, self.tokens)} of training words "
            f"({_percent(self.types_found, self.types)} of word types; "
            f"{self.lowercase_matches:,} found only in lower case)"
        )


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "0.0%"


# --- reading --------------------------------------------------------------------------------------


def load_vectors(spec: str, encoding: str = "utf-8", limit: int | None = None) -> WordVectors:
    """A package name (``glove-6b-50d``, see tagger.pinned_packages), ``spacy:NAME`` for an installed (or
    saved) spaCy pipeline, anything else a vectors text file."""
    if is_package_name(spec, VECTORS) or spec.startswith(SPACY_PREFIX):
        _check_limit(limit)
        vectors = package_vectors(spec) if is_package_name(spec, VECTORS) else spacy_vectors(spec[len(SPACY_PREFIX) :])
        return vectors if limit is None else vectors.first(limit)
    path = Path(spec)
    if path.is_dir():
        raise ConfigError(
            f"word vectors '{spec}' is a directory; give a vectors file, "
            f"or '{SPACY_PREFIX}{spec}' for the vectors of a spaCy pipeline saved there"
        )
    if not path.is_file():
        raise ConfigError(
            f"word vectors file '{spec}' does not exist; give a GloVe, word2vec or fastText "
            f"text file (.txt, .vec, optionally .gz), '{SPACY_PREFIX}<pipeline>', or an installed "
            f"vectors package: {', '.join(packages_of(VECTORS))}"
        )
    return read_word_vectors(path, encoding, limit)


def package_vectors(name: str) -> WordVectors:
    """The vectors of an installed package, checked against rows of the original release."""
    package = PACKAGES[name]
    vectors = PACKAGE_READERS[package.layout](package_data_dir(package), name)

    def find(word: str) -> np.ndarray | None:
        # A scan, not a dict of every word: two known rows, and they need not be among the first words
        index = next((i for i, w in enumerate(vectors.words) if w == word), None)
        return None if index is None else vectors.vector(index)

    check_known_rows(package, find)
    return vectors


def _read_spacy_package(folder: Path, name: str) -> WordVectors:
    vectors = spacy_vectors(str(folder / "_model"))
    return replace(vectors, source=name)


def _read_glove_package(folder: Path, name: str) -> WordVectors:
    folder = folder / "data"
    import pyarrow.parquet  # lazily: a dependency of datasets, needed only for this package's word list

    try:
        matrix = np.load(folder / "glove_6B_50d_emb.npy", allow_pickle=False)  # (400000, 50) float32
        words = pyarrow.parquet.read_table(folder / "glove_6B_index.parquet", columns=["index"])
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(
            f"word vectors '{name}': the installed files in {folder} cannot be read ({error}); "
            f"reinstall it ({PACKAGES[name].pip_command()} --force-reinstall)"
        ) from None
    words = [str(word) for word in words.column("index").to_pylist()]
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        raise ConfigError(
            f"word vectors '{name}': {len(words):,} words but a matrix of shape {matrix.shape} in "
            f"{folder}; reinstall it ({PACKAGES[name].pip_command()} --force-reinstall)"
        )
    return WordVectors(words, np.asarray(matrix, dtype=np.float32), name)


# PinnedPackage.layout -> the reader of an installed package's folder
PACKAGE_READERS: dict[str, Callable[[Path, str], WordVectors]] = {
    "glove-npy": _read_glove_package,
    "spacy-pipeline": _read_spacy_package,
}


def read_word_vectors(path: str | Path, encoding: str = "utf-8", limit: int | None = None) -> WordVectors:
    """Read a GloVe file (no header) or a word2vec / fastText text file (``count dim`` header), maybe .gz.

    The first line fixes the dimension. Some GloVe releases have words with spaces (``at name@domain.com``),
    so the last ``dim`` fields are the values and the rest is the word. The first vector of a word wins;
    ``limit`` keeps the first N words (the files are sorted by frequency) and stops reading there.
    """
    name = str(path)
    _check_readable(name, encoding, limit)
    index: dict[str, int] = {}
    rows: list[np.ndarray] = []  # each (dim,) float32
    line_nos: list[int] = []
    dim, declared, vector_lines, line_no = 0, None, 0, 0
    for line_no, text in _vector_lines(name, codecs.lookup(encoding)):
        if not dim:
            dim, declared = _read_first_line(name, line_no, text)
            if declared is not None:
                continue
        vector_lines += 1
        word, row = _read_vector_line(name, line_no, text, dim)
        if word not in index:
            index[word] = len(rows)
            rows.append(row)
            line_nos.append(line_no)
            if len(rows) == limit:
                break
    if not rows:
        found = "a header but no vectors" if dim else "an empty file"
        raise CorpusFormatError(name, max(line_no, 1), found, f"word vectors, {LINE_FORMAT}")
    if declared is not None and len(rows) != limit and vector_lines < declared:
        raise CorpusFormatError(
            name,
            line_no,
            f"the file ends after {vector_lines:,} vectors",
            f"{declared:,} as the header says",
            "the file may be truncated: download it again",
        )
    matrix = np.stack(rows)  # (num_vectors, dim)
    _check_finite(name, matrix, line_nos)
    return WordVectors(list(index), matrix, name)


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise ConfigError(f"the vectors limit must be a positive number of words, got {limit}")


def _check_readable(name: str, encoding: str, limit: int | None) -> None:
    _check_limit(limit)
    if name.removesuffix(".gz").endswith(".bin"):
        raise ConfigError(
            f"{name} is a binary vectors file; only text formats are read "
            "(use the .vec or .txt download, or save it with gensim's binary=False)"
        )
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(f"unknown encoding '{encoding}' (e.g. utf-8, latin-1, cp1252)") from None
    if codec.name.startswith(("utf-16", "utf-32")):
        # Lines are split as bytes before decoding, which wide encodings do not survive.
        raise ConfigError(f"cannot read vectors in {codec.name}; convert {name} to utf-8")


def _vector_lines(name: str, codec: codecs.CodecInfo) -> Iterator[tuple[int, str]]:
    # Not tagger.corpus.lines.read_lines: vector files hold crawled words with control characters,
    # which a corpus rejects but a vector file legitimately contains.
    with open_binary(name) as stream:
        line_no = 0
        try:
            for line_no, raw in enumerate(stream, start=1):
                try:
                    text = codec.decode(raw)[0]
                except UnicodeDecodeError as error:
                    found = f"bytes that are not {codec.name} ({error.reason} at byte {error.start + 1})"
                    raise CorpusFormatError(name, line_no, found, f"{codec.name} text", ENCODING_HINT) from None
                # fastText ends every line with a space; blank lines carry no vector.
                text = text.rstrip(" \t\r\n").removeprefix("\ufeff" if line_no == 1 else "")
                if text:
                    yield line_no, text
        except (OSError, EOFError, zlib.error) as error:
            raise CorpusFormatError(
                name, line_no + 1, f"corrupt compressed data ({error})", "a complete .gz file"
            ) from None


def _read_first_line(name: str, line_no: int, text: str) -> tuple[int, int | None]:
    """``(dim, declared count)`` from a word2vec header, or ``(dim, None)`` from a GloVe first vector."""
    parts = text.split(" ")
    if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
        if int(parts[1]) == 0:
            raise CorpusFormatError(name, line_no, f"header {text!r} with dimension 0", "a positive dimension")
        return int(parts[1]), int(parts[0])
    if len(parts) < 2:
        raise CorpusFormatError(name, line_no, f"{text[:50]!r} without values", f"word vectors, {LINE_FORMAT}")
    return len(parts) - 1, None


def _read_vector_line(name: str, line_no: int, text: str, dim: int) -> tuple[str, np.ndarray]:
    parts = text.split(" ")
    # Extra fields belong to a word with spaces unless they are numbers, i.e. the line has too many values.
    if len(parts) <= dim or (len(parts) > dim + 1 and _is_number(parts[-dim - 1])):
        got = len(parts) - 1 if len(parts) <= dim else _count_trailing_numbers(parts)
        raise CorpusFormatError(
            name, line_no, f"{got} values for {parts[0][:50]!r}", f"{dim} values like the first vector or the header"
        )
    try:
        return " ".join(parts[:-dim]), np.asarray(parts[-dim:], dtype=np.float32)
    except ValueError:
        bad = next(value for value in parts[-dim:] if not _is_number(value))
        raise CorpusFormatError(
            name, line_no, f"{bad[:50]!r} among the values of {parts[0][:50]!r}", "numbers such as 0.0123 or -1.5e-3"
        ) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _count_trailing_numbers(parts: list[str]) -> int:
    count = 0
    while count < len(parts) - 1 and _is_number(parts[-count - 1]):
        count += 1
    return count


def _check_finite(name: str, matrix: np.ndarray, line_nos: list[int]) -> None:
    # float() reads "nan" and "inf"; one such value turns every loss into nan, so stop here instead.
    bad_rows = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    if len(bad_rows):
        raise CorpusFormatError(name, line_nos[bad_rows[0]], "a value that is nan or infinite", "finite numbers")


def spacy_vectors(pipeline: str) -> WordVectors:
    """The word vectors of an installed spaCy pipeline (a package name or a saved directory)."""
    try:
        import spacy  # lazily: only this function needs spaCy, and importing it takes a second
    except ImportError:
        raise ConfigError("spaCy is not installed; install it or give a vectors file instead") from None
    try:
        nlp = spacy.load(pipeline)
    except OSError:
        raise ConfigError(
            f"spaCy pipeline '{pipeline}' is neither an installed package nor a pipeline directory "
            f"(python -m spacy download {pipeline}, or save one with nlp.to_disk)"
        ) from None
    table = nlp.vocab.vectors
    if table.mode == "floret":
        raise ConfigError(
            f"spaCy pipeline '{pipeline}' has floret (subword hash) vectors, which have no word "
            "list; use a pipeline with a word table, e.g. a _md or _lg one"
        )
    strings = nlp.vocab.strings
    # In row order, which keeps a pipeline's words in one order from run to run; it is not by frequency.
    pairs = sorted((row, strings[key]) for key, row in table.key2row.items() if key in strings)
    if not pairs:
        raise ConfigError(
            f"spaCy pipeline '{pipeline}' has no word vectors "
            "(_sm and _trf pipelines ship without; use a _md or _lg one)"
        )
    rows = np.array([row for row, _ in pairs])  # (num_keys,)
    matrix = np.asarray(table.data, dtype=np.float32)  # (num_rows, dim)
    return WordVectors([word for _, word in pairs], matrix, SPACY_PREFIX + pipeline, rows, by_frequency=False)


# --- using ----------------------------------------------------------------------------------------


class VectorIndex:
    """Where a word's vector is: its exact form, else its normalised form, else its lower case. Built once per
    source (a dict of every word: about a second for spaCy md's 684,830) and used for both the embedding and the
    coverage line."""

    def __init__(self, vectors: WordVectors, normalise: Callable[[str], str]):
        self.vectors = vectors
        self.normalise = normalise
        self.exact: dict[str, int] = {}
        self.normalised: dict[str, int] = {}
        for row, word in enumerate(vectors.words):
            self.exact.setdefault(word, row)
            # In frequency order a normal form maps to its most common spelling ("the", not "The"); in a spaCy
            # table, to the first in row order, after the exact form (which has every casing) is looked up.
            self.normalised.setdefault(normalise(word), row)

    def find(self, word: str) -> int | None:
        row = self.exact.get(word)
        if row is None:
            row = self.normalised.get(self.normalise(word))
        if row is None:
            row = self.exact.get(word.lower())
        return row


def build_embedding_matrix(
    vocab_words: Sequence[str], index: VectorIndex, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Initial embedding weights with rows in ``vocab_words`` order, and which rows came from the index's vectors.

    Row 0 (<pad>) is zeros and row 1 (<unk>) random; words without a vector get uniform(-a, a) with
    a = sqrt(3 / dim), so that their variance is 1 / dim.
    """
    if tuple(vocab_words[:2]) != SPECIALS:
        raise ValueError(f"vocab_words must start with {SPECIALS}, got {tuple(vocab_words[:2])}")
    vectors = index.vectors
    scale = math.sqrt(3.0 / vectors.dim)
    matrix = rng.uniform(-scale, scale, size=(len(vocab_words), vectors.dim)).astype(np.float32)  # (num_words, dim)
    found = np.zeros(len(vocab_words), dtype=bool)  # (num_words,)
    for word_id, word in enumerate(vocab_words[2:], start=2):
        row = index.find(word)
        if row is not None:
            matrix[word_id] = vectors.vector(row)
            found[word_id] = True
    matrix[0] = 0.0
    return matrix, found


# vocab.vectors may name several sources, "glove-6b-50d,spacy-en-md": each word's row is their vectors side by side
SOURCE_SEPARATOR = ","


def vector_sources(spec: str) -> list[str]:
    """The sources ``vocab.vectors`` names, in the order their vectors are concatenated."""
    sources = [source.strip() for source in spec.split(SOURCE_SEPARATOR)]
    if not all(sources):
        raise ConfigError(
            f"word vectors '{spec}': an empty name between commas; commas separate vector sources, "
            "e.g. glove-6b-50d,spacy-en-md"
        )
    if len(set(sources)) != len(sources):
        raise ConfigError(f"word vectors '{spec}' names a source twice; name each once")
    return sources


@dataclass(frozen=True, eq=False)
class PretrainedEmbedding:
    words: tuple[str, ...]  # the vocabulary's words followed by the vector words it lacked
    matrix: np.ndarray  # (len(words), sum of the sources' dims) float32, the sources side by side
    coverage: str  # one line per source


def pretrained_embedding(
    vocab_words: Sequence[str],
    train_counts: Mapping[str, int],
    sources: Sequence[WordVectors],
    normalise: Callable[[str], str],
    limit: int | None,
    rng: np.random.Generator,
) -> PretrainedEmbedding:
    """The vocabulary grown by each source's ``limit`` most frequent words, and its initial embedding.

    A source whose words are in no frequency order (a spaCy table) adds words only when there is no limit;
    beside a source in frequency order it gives its vectors to that source's words. A word one source lacks gets
    random values in that source's columns only. With several sources each coverage line names its source."""
    if limit is not None and not any(vectors.by_frequency for vectors in sources):
        raise no_frequency_order(sources[0].source, limit)
    adding = [vectors for vectors in sources if limit is None or vectors.by_frequency]
    added = sorted(set().union(*(words_to_add(vocab_words, vectors, normalise, limit) for vectors in adding)))
    words = tuple(vocab_words) + tuple(added)
    indexes = [VectorIndex(vectors, normalise) for vectors in sources]
    matrix = np.hstack([build_embedding_matrix(words, index, rng)[0] for index in indexes])
    lines = [measure_coverage(train_counts, index).summary() for index in indexes]
    if len(sources) > 1:
        lines = [f"{vectors.source}: {line}" for vectors, line in zip(sources, lines, strict=True)]
    return PretrainedEmbedding(words, matrix, "\n".join(lines))


def words_to_add(
    train_words: Iterable[str], vectors: WordVectors, normalise: Callable[[str], str], limit: int | None = None
) -> list[str]:
    """Normalised vector words the training words lack, sorted: adding them to the vocabulary lets words
    seen only in dev, test or at tagging time keep their pretrained embedding. ``limit`` takes them from the
    most frequent ``limit`` vector words only: rarer words are rare in text to tag too, and each costs a row."""
    known = {normalise(word) for word in train_words} | set(SPECIALS)
    new = {normalise(word) for word in vectors.words[:limit]} - known
    new.discard("")
    return sorted(new)


def measure_coverage(word_counts: Mapping[str, int], index: VectorIndex) -> Coverage:
    """How many training words (as written in the corpus) get a pretrained vector."""
    types_found = tokens_found = lowercase_matches = 0
    for word, count in word_counts.items():
        if index.find(word) is not None:
            types_found += 1
            tokens_found += count
        if word not in index.exact and word.lower() in index.exact:
            lowercase_matches += 1
    return Coverage(len(word_counts), types_found, sum(word_counts.values()), tokens_found, lowercase_matches)
