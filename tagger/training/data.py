"""Training data: read the splits, build the vocabulary (with pretrained vectors), encode once."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tagger.batching import EncodedSentence, encode_sentences
from tagger.config import Config
from tagger.corpus import CorpusReport, Sentence, document_ids, read_corpus, read_dataset_splits
from tagger.corpus.reading import _word_line
from tagger.errors import ConfigError, CorpusFormatError, setting
from tagger.features import InputFeature
from tagger.schemes import Task, convert_tags, is_span_tagset, split_tag
from tagger.vocab import Vocab, build_vocab


@dataclass(frozen=True)
class DataSource:
    """Where the data comes from: corpus files, or a dataset by name (hub, data-file folder, save_to_disk)."""

    train: Path | None = None
    dev: Path | None = None
    test: Path | None = None
    dataset: str | None = None
    dataset_config: str | None = None
    word_column: str = "tokens"
    tag_column: str = "ner_tags"


@dataclass
class Data:
    train: list[Sentence]
    dev: list[Sentence]
    test: list[Sentence] | None
    reports: list[CorpusReport]
    task: Task
    scheme: str  # internal scheme of the labels
    fingerprints: list[dict[str, Any]]

    def internal_tags(self, sentence: Sentence) -> list[str]:
        return convert_tags(sentence.tags, "IOB2", self.scheme) if self.task == "spans" else sentence.tags


@dataclass(frozen=True)
class Embeddings:
    """Pretrained rows for the word embedding, and what they cover."""

    matrix: np.ndarray  # (num_words, word_dim)
    coverage: str


def read_data(config: Config, source: DataSource) -> Data:
    splits = read_dataset(config, source) if source.dataset else read_files(config, source)
    check_labels_known(splits, config.corpus.encoding)
    sentences, reports = [s for s, _ in splits], [r for _, r in splits]
    fingerprints = [fingerprint(s, r) for s, r in splits]
    spans = is_span_tagset(t for s in sentences[0] for t in s.tags)
    return Data(
        sentences[0],
        sentences[1],
        sentences[2] if len(splits) > 2 else None,
        reports,
        "spans" if spans else "labels",
        config.train.scheme if spans else "none",
        fingerprints,
    )


def read_files(config: Config, source: DataSource) -> list[tuple[list[Sentence], CorpusReport]]:
    if source.train is None or source.dev is None:
        raise ConfigError(
            f"training needs {setting('train')} and {setting('dev')} corpus files, or {setting('dataset', 'NAME')}"
        )
    paths = [source.train, source.dev] + ([source.test] if source.test else [])
    for path in paths:  # all of them before any is read: a missing test file is not found after the train file
        if not Path(path).exists():
            raise CorpusFormatError(str(path), 0, "no such file", "an existing corpus file")
    return [read_corpus(path, config.corpus) for path in paths]


def read_dataset(config: Config, source: DataSource) -> list[tuple[list[Sentence], CorpusReport]]:
    splits = read_dataset_splits(
        source.dataset, source.dataset_config, source.word_column, source.tag_column, config.corpus
    )
    dev_split = next((name for name in ("validation", "dev") if name in splits), None)
    if "train" not in splits or dev_split is None:
        raise ConfigError(
            f"dataset {source.dataset!r} has splits {', '.join(splits)}; "
            "training needs 'train' and 'validation' (or 'dev')"
        )
    return [splits["train"], splits[dev_split]] + ([splits["test"]] if "test" in splits else [])


def check_labels_known(splits: list[tuple[list[Sentence], CorpusReport]], encoding: str) -> None:
    """Refuse a dev or test set holding labels that the training data lacks, as soon as the data is read: a model
    cannot predict them, and scoring dev found them only after a whole epoch of training."""
    (train, train_report), *held_out = splits
    known = known_labels(train)
    for sentences, report in held_out:
        unknown = sorted({tag for sentence in sentences for tag in sentence.tags} - known)
        if unknown:
            raise unknown_labels(sentences, report, unknown, known, train_report.path, encoding)


def unknown_labels(
    sentences: list[Sentence], report: CorpusReport, unknown: list[str], known: set[str], train: str, encoding: str
) -> CorpusFormatError:
    """The error naming the first word whose label is ``unknown``, on its own line (a dataset's row)."""
    sentence, index = next((s, i) for s in sentences for i, tag in enumerate(s.tags) if tag not in known)
    line = sentence.line if report.format == "dataset" else _word_line(sentence, index, report.format, encoding)
    shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
    others = "the only such label in this file" if len(unknown) == 1 else f"this file has {len(unknown)}: {shown}"
    return CorpusFormatError(
        report.path,
        line,
        f"label {sentence.tags[index]!r} (word {sentence.words[index]!r}) is not in the training data, {train} "
        f"({others})",
        f"one of the training labels: {', '.join(sorted(known))}",
        f"a model never predicts a label it was not trained on: add examples of it to {train}, or relabel those "
        f"words in {report.path}",
    )


def known_labels(train: list[Sentence]) -> set[str]:
    """The labels a model trained on ``train`` predicts, as files are read: for span tags, B- and I- of each type
    it has, and O (IOB2); otherwise its labels."""
    tags = {tag for sentence in train for tag in sentence.tags}
    if not is_span_tagset(tags):
        return tags
    types = {split_tag(tag)[1] for tag in tags} - {""}
    return {"O"} | {f"{prefix}-{kind}" for kind in types for prefix in "BI"}


def fingerprint(sentences: list[Sentence], report: CorpusReport) -> dict[str, Any]:
    """A digest of the words and tags as read, so a model records exactly what it was trained on."""
    digest = hashlib.sha256()
    for sentence in sentences:
        digest.update(json.dumps([sentence.words, sentence.tags], ensure_ascii=False).encode("utf-8"))
    return {
        "path": report.path,
        "sha256": digest.hexdigest(),
        "sentences": report.sentences,
        "words": report.words,
        "scheme": report.scheme,
        "repaired": report.repaired,
    }


def build_vocabulary(config: Config, data: Data) -> tuple[Vocab, Embeddings | None]:
    """Training words, chars and labels; words of the pretrained vectors join the vocabulary."""
    labels = {tag for sentence in data.train for tag in data.internal_tags(sentence)}
    vocab = build_vocab((s.words for s in data.train), labels, data.scheme, config.vocab)
    if not config.vocab.vectors:
        return vocab, None
    from tagger.vectors import load_vectors, pretrained_embedding, vector_sources

    # Training words find their vectors in the whole table; only the other words are limited.
    sources = [load_vectors(spec) for spec in vector_sources(config.vocab.vectors)]
    dim = sum(vectors.dim for vectors in sources)
    if dim != config.model.word_dim:
        widths = " + ".join(f"{vectors.source} {vectors.dim}" for vectors in sources)
        found = f"{dim}-dimensional vectors ({widths})" if len(sources) > 1 else f"{dim}-dimensional vectors"
        raise ConfigError(
            f"{config.vocab.vectors} has {found} but model.word_dim is {config.model.word_dim}; "
            f"set model.word_dim={dim}"
        )
    counts = Counter(w for s in data.train for w in s.words)
    rng = np.random.default_rng(config.train.seed)
    table = pretrained_embedding(vocab.words, counts, sources, vocab.normalise, config.vocab.vectors_limit or None, rng)
    return replace(vocab, words=table.words), Embeddings(table.matrix, table.coverage)


def encode_training_data(data: Data, vocab: Vocab, features: Sequence[InputFeature]) -> list[EncodedSentence]:
    return encode_sentences(
        [s.words for s in data.train],
        features,
        vocab,
        [data.internal_tags(s) for s in data.train],
        document_ids(data.train),
    )


def singleton_ids(data: Data, vocab: Vocab) -> list[int]:
    """Ids of words seen once in training: the ones replaced by <unk> with ``train.singleton_unk``."""
    counts = Counter(vocab.word_id(w) for s in data.train for w in s.words)
    return sorted(word_id for word_id, n in counts.items() if n == 1)
