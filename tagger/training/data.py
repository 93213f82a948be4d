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

# Without a dev set, this share of the training data is held out as dev (hold_out_dev), chosen with this seed.
HELD_OUT_SHARE = 0.1
HELD_OUT_SEED = 0


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
    splits = read_dataset(config, source, source.dataset) if source.dataset else read_files(config, source)
    check_labels_known(splits, config.corpus.encoding)
    sentences, reports = [s for s, _ in splits], [r for _, r in splits]
    fingerprints = [fingerprint(s, r) for s, r in splits]
    spans = is_span_tagset(t for s in sentences[0] for t in s.tags)
    if config.train.with_dev and reports[1].held_out:
        raise ConfigError(
            f"{setting('train.with_dev', 'true')} trains on the dev corpus as well: name one with {setting('dev')} "
            "(or use a dataset with a validation split); a split held out of the training file adds nothing"
        )
    return Data(
        sentences[0] + sentences[1] if config.train.with_dev else sentences[0],
        sentences[1],
        sentences[2] if len(splits) > 2 else None,
        reports,
        "spans" if spans else "labels",
        config.train.scheme if spans else "none",
        fingerprints,
    )


def read_files(config: Config, source: DataSource) -> list[tuple[list[Sentence], CorpusReport]]:
    if source.train is None:
        raise ConfigError(
            f"training needs a {setting('train')} corpus file (and a {setting('dev')} one, or 10% of it is held out "
            f"as dev), or {setting('dataset', 'NAME')}"
        )
    paths = [source.train] + ([source.dev] if source.dev else []) + ([source.test] if source.test else [])
    for path in paths:  # all of them before any is read: a missing test file is not found after the train file
        if not Path(path).exists():
            raise CorpusFormatError(str(path), 0, "no such file", "an existing corpus file")
    splits = [read_corpus(path, config.corpus) for path in paths]
    return splits if source.dev else [*hold_out_dev(*splits[0]), *splits[1:]]


def read_dataset(config: Config, source: DataSource, name: str) -> list[tuple[list[Sentence], CorpusReport]]:
    splits = read_dataset_splits(name, source.dataset_config, source.word_column, source.tag_column, config.corpus)
    dev_split = next((name for name in ("validation", "dev") if name in splits), None)
    if "train" not in splits:
        raise ConfigError(
            f"dataset {source.dataset!r} has splits {', '.join(splits)}; "
            "training needs 'train' (and 'validation' or 'dev', or 10% of 'train' is held out as dev)"
        )
    train_dev = [splits["train"], splits[dev_split]] if dev_split else hold_out_dev(*splits["train"])
    return train_dev + ([splits["test"]] if "test" in splits else [])


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
    """A digest of the words and tags as read, so a model records exactly what it was trained on; the counts are
    of ``sentences`` (the training file less a held-out dev split), with how a held-out split was made."""
    digest = hashlib.sha256()
    for sentence in sentences:
        digest.update(json.dumps([sentence.words, sentence.tags], ensure_ascii=False).encode("utf-8"))
    held_out = {"held_out": report.held_out} if report.held_out else {}
    return {
        "path": report.path,
        "sha256": digest.hexdigest(),
        "sentences": len(sentences),
        "words": sum(len(sentence.words) for sentence in sentences),
        "scheme": report.scheme,
        "repaired": report.repaired,
        **held_out,
    }


def hold_out_dev(sentences: list[Sentence], report: CorpusReport) -> list[tuple[list[Sentence], CorpusReport]]:
    """Training data without a dev set: ``HELD_OUT_SHARE`` of it held out as dev, whole documents where the file
    marks two or more (-DOCSTART- / ``# newdoc``), else sentences. Returns [(train, its report as read),
    (dev, a report whose ``held_out`` records the split)].

    The split is fixed by the data alone: the units with the lowest SHA-256 of ``HELD_OUT_SEED`` and their words
    and tags, never ``train.seed``, so that runs of several seeds are scored on the same dev, a resumed run finds
    the same data, and a file that grows keeps most of its split. A unit holding a label (an entity type, or a
    tag) that the rest of the training data lacks stays in training: a model cannot learn what it never saw.
    """
    units, unit = split_units(sentences)
    if len(units) < 2:  # two documents or more are always split by document
        raise CorpusFormatError(
            report.path,
            0,
            f"{len(units)} sentence{'' if len(units) == 1 else 's'} and no dev set",
            "at least 2 sentences, to hold some out as dev",
            f"pass {setting('dev')} with a dev corpus",
        )
    chosen = choose_held_out(sentences, units)
    if not chosen:
        raise CorpusFormatError(
            report.path,
            0,
            f"no {unit} whose labels the rest of the file also has, and no dev set",
            f"a {unit} to hold out as dev without taking a label out of training",
            f"pass {setting('dev')} with a dev corpus",
        )
    held = {index for u in chosen for index in units[u]}
    dev = [sentence for index, sentence in enumerate(sentences) if index in held]
    train = [sentence for index, sentence in enumerate(sentences) if index not in held]
    # No path in it: a resumed run knows its data by content (checkpoint.contents), wherever the file now is.
    record = {
        "unit": unit,
        "units": len(units),
        "indices": chosen,  # 0-based, in file order, of the units (documents or sentences) held out
        "share": HELD_OUT_SHARE,
        "seed": HELD_OUT_SEED,
    }
    dev_report = CorpusReport(
        report.path,
        report.format,
        len(dev),
        sum(len(sentence.words) for sentence in dev),
        len(chosen) if unit == "document" else 1,
        report.scheme,
        0,
        0,
        held_out=record,
    )
    return [(train, report), (dev, dev_report)]


def split_units(sentences: list[Sentence]) -> tuple[list[list[int]], str]:
    """The indices of the sentences of each document, where the sentences mark two documents or more; else
    each sentence on its own. Returns the units and their name (document or sentence)."""
    documents = document_ids(sentences)
    if not documents or documents[-1] == 0:
        return [[index] for index in range(len(sentences))], "sentence"
    units: list[list[int]] = [[] for _ in range(documents[-1] + 1)]
    for index, document in enumerate(documents):
        units[document].append(index)
    return units, "document"


def choose_held_out(sentences: list[Sentence], units: list[list[int]]) -> list[int]:
    """``HELD_OUT_SHARE`` of the units (at least one, where one can be), in file order: by ``unit_key``, passing
    over a unit whose labels would then be missing from training."""
    spans = is_span_tagset(tag for sentence in sentences for tag in sentence.tags)
    labels = [Counter(label for i in unit for label in unit_labels(sentences[i].tags, spans)) for unit in units]
    left = sum(labels, Counter())
    ranked = sorted(range(len(units)), key=lambda u: (unit_key([sentences[i] for i in units[u]]), u))
    count = max(1, round(HELD_OUT_SHARE * len(units)))
    chosen: list[int] = []
    for u in ranked:
        if len(chosen) == count:
            break
        if all(left[label] > n for label, n in labels[u].items()):
            left -= labels[u]
            chosen.append(u)
    return sorted(chosen)


def unit_labels(tags: list[str], spans: bool) -> list[str]:
    # What a model must have seen to predict these tags: for span tags (IOB2 as read) the entity types, the prefix
    # ending at the first "-"; otherwise the tags themselves.
    return [tag.partition("-")[2] for tag in tags if tag != "O"] if spans else tags


def unit_key(sentences: list[Sentence]) -> str:
    digest = hashlib.sha256(f"{HELD_OUT_SEED}\n".encode())
    for sentence in sentences:
        digest.update(json.dumps([sentence.words, sentence.tags], ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


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
