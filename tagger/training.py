"""Training: read data, build the vocabulary and model, run epochs, keep the best model on dev.

``run_training`` is a generator of events (steps, epochs, the final result); the CLI renders them,
``train`` just runs it. Saving, early stopping and scoring all happen here, never in the CLI.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from tagger import __version__
from tagger.annotate import Tagger
from tagger.batching import EncodedSentence, bucketed_batches, build_batch, encode_sentence
from tagger.config import Config
from tagger.corpus import CorpusReport, Sentence, read_corpus, read_dataset_splits
from tagger.errors import ConfigError
from tagger.model import BiLSTMTagger, resolve_device
from tagger.model_card import write_card
from tagger.schemes import convert_tags, is_span_tagset
from tagger.scoring import Evaluation
from tagger.serialization import is_model_dir, save_model, to_json_bytes, write_atomic
from tagger.vocab import UNK_ID, Vocab, build_vocab


@dataclass(frozen=True)
class StepInfo:
    epoch: int
    step: int
    steps: int
    loss: float
    words: int  # words in this step's batch


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    loss: float
    lr: float
    dev_score: float
    best_score: float
    improved: bool
    seconds: float
    words_per_second: float


@dataclass(frozen=True)
class TrainingStart:
    reports: list[CorpusReport]
    task: str
    labels: list[str]
    vocab_words: int
    parameters: int
    device: str


@dataclass(frozen=True)
class TrainingResult:
    out_dir: Path
    best_epoch: int
    dev: Evaluation
    test: Evaluation | None
    seconds: float
    metrics: dict[str, Any] = field(repr=False)


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
    task: str  # spans | labels
    scheme: str  # internal scheme of the labels
    fingerprints: list[dict[str, Any]]


def score_of(evaluation: Evaluation) -> float:
    """The early-stopping figure: conlleval entity F1 for span tasks, token accuracy for POS."""
    if evaluation.task == "spans":
        return evaluation.conlleval.micro.f1
    return evaluation.token_accuracy


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def read_data(config: Config, source: DataSource) -> Data:
    splits = read_dataset(config, source) if source.dataset else read_files(config, source)
    sentences, reports = [s for s, _ in splits], [r for _, r in splits]
    fingerprints = [fingerprint(s, r) for s, r in splits]
    spans = is_span_tagset(t for s in sentences[0] for t in s.tags)
    return Data(sentences[0], sentences[1], sentences[2] if len(splits) > 2 else None, reports,
                "spans" if spans else "labels", config.train.scheme if spans else "none", fingerprints)


def read_files(config: Config, source: DataSource) -> list[tuple[list[Sentence], CorpusReport]]:
    if source.train is None or source.dev is None:
        raise ConfigError("training needs --train and --dev corpus files, or --dataset NAME")
    paths = [source.train, source.dev] + ([source.test] if source.test else [])
    return [read_corpus(path, config.corpus) for path in paths]


def read_dataset(config: Config, source: DataSource) -> list[tuple[list[Sentence], CorpusReport]]:
    splits = read_dataset_splits(source.dataset, source.dataset_config, source.word_column, source.tag_column,
                                 config.corpus)
    dev_split = next((name for name in ("validation", "dev") if name in splits), None)
    if "train" not in splits or dev_split is None:
        raise ConfigError(f"dataset {source.dataset!r} has splits {', '.join(splits)}; "
                          "training needs 'train' and 'validation' (or 'dev')")
    return [splits["train"], splits[dev_split]] + ([splits["test"]] if "test" in splits else [])


def fingerprint(sentences: list[Sentence], report: CorpusReport) -> dict[str, Any]:
    """A digest of the words and tags as read, so a model records exactly what it was trained on."""
    digest = hashlib.sha256()
    for sentence in sentences:
        digest.update(json.dumps([sentence.words, sentence.tags], ensure_ascii=False).encode("utf-8"))
    return {"path": report.path, "sha256": digest.hexdigest(), "sentences": report.sentences,
            "words": report.words, "scheme": report.scheme, "repaired": report.repaired}


def encode_training_data(data: Data, vocab: Vocab) -> list[EncodedSentence]:
    def internal(tags: list[str]) -> list[str]:
        return convert_tags(tags, "IOB2", data.scheme) if data.task == "spans" else tags

    return [encode_sentence(s.words, vocab, internal(s.tags)) for s in data.train]


def build_labels(data: Data) -> set[str]:
    labels = set()
    for sentence in data.train:
        labels.update(convert_tags(sentence.tags, "IOB2", data.scheme) if data.task == "spans" else sentence.tags)
    return labels


def train_epoch(model: BiLSTMTagger, optimizer: torch.optim.Optimizer, encoded: list[EncodedSentence],
                vocab: Vocab, config: Config, epoch: int, rng: random.Random, device: torch.device) -> Iterator[StepInfo]:
    model.train()
    batches = list(bucketed_batches([len(s.word_ids) for s in encoded], config.train.batch_size, True, rng))
    for step, indices in enumerate(batches, 1):
        batch = build_batch([encoded[i] for i in indices], vocab).to(device)
        if config.train.word_dropout > 0:
            dropped = (torch.rand(batch.word_ids.shape, device=device) < config.train.word_dropout) & batch.mask
            batch.word_ids = batch.word_ids.masked_fill(dropped, UNK_ID)
        optimizer.zero_grad(set_to_none=True)
        loss = model.loss(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.clip_norm)
        optimizer.step()
        yield StepInfo(epoch, step, len(batches), loss.item(), int(batch.lengths.sum()))


def run_training(config: Config, source: DataSource, out_dir: Path, overwrite: bool = False) -> Iterator[StepInfo | EpochRecord | TrainingStart | TrainingResult]:
    started = time.perf_counter()
    out_dir = Path(out_dir)
    if is_model_dir(out_dir) and not overwrite:
        raise ConfigError(f"{out_dir} already holds a model; pass --overwrite to replace it or choose another --out")
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    seed_everything(config.train.seed)
    device = resolve_device(config.train.device)
    data = read_data(config, source)
    vocab = build_vocab((s.words for s in data.train), build_labels(data), data.scheme, config.vocab)
    encoded = encode_training_data(data, vocab)
    model = BiLSTMTagger(config.model, len(vocab.words), len(vocab.chars), len(vocab.labels)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1 / (1 + config.train.lr_decay * epoch))
    yield TrainingStart(data.reports, data.task, list(vocab.labels), len(vocab.words),
                        sum(p.numel() for p in model.parameters()), str(device))
    rng = random.Random(config.train.seed)
    best_score, best_epoch, log = -math.inf, 0, []
    for epoch in range(1, config.train.epochs + 1):
        epoch_start, losses, words = time.perf_counter(), [], 0
        for info in train_epoch(model, optimizer, encoded, vocab, config, epoch, rng, device):
            losses.append(info.loss)
            words += info.words
            yield info
        train_seconds = time.perf_counter() - epoch_start
        lr = optimizer.param_groups[0]["lr"]
        schedule.step()
        dev_eval, _ = Tagger(model, vocab, config, device).evaluate(data.dev)
        score = score_of(dev_eval)
        improved = score > best_score
        if improved:
            best_score, best_epoch = score, epoch
            save_model(out_dir, config, vocab, model)
        save_model(out_dir / "last", config, vocab, model)
        record = EpochRecord(epoch, float(np.mean(losses)), lr, score, best_score, improved,
                             time.perf_counter() - epoch_start, words / max(train_seconds, 1e-9))
        log.append(record)
        write_atomic(out_dir / "train_log.jsonl", "".join(json.dumps(asdict(r)) + "\n" for r in log).encode())
        yield record
        if epoch - best_epoch >= config.train.patience:
            break
    yield finish(config, data, out_dir, device, best_epoch, log, time.perf_counter() - started)


def finish(config: Config, data: Data, out_dir: Path, device: torch.device, best_epoch: int,
           log: list[EpochRecord], seconds: float) -> TrainingResult:
    """Score the best model on dev and test, then write its metrics and model card."""
    best = Tagger.load(out_dir, device=str(device))
    dev_eval, _ = best.evaluate(data.dev)
    test_eval = best.evaluate(data.test)[0] if data.test else None
    metrics = {
        "tagger_version": __version__,
        "task": data.task,
        "best_epoch": best_epoch,
        "epochs_run": len(log),
        "train_seconds": round(seconds, 1),
        "device": str(device),
        "dev": dev_eval.to_dict(),
        "test": test_eval.to_dict() if test_eval else None,
        "data": data.fingerprints,
    }
    write_atomic(out_dir / "metrics.json", to_json_bytes(metrics))
    write_card(out_dir, config, best.vocab, metrics)
    return TrainingResult(out_dir, best_epoch, dev_eval, test_eval, seconds, metrics)


def train(config: Config, source: DataSource, out_dir: Path, overwrite: bool = False) -> TrainingResult:
    """Train without any display; returns the result of the best epoch."""
    for event in run_training(config, source, out_dir, overwrite):
        if isinstance(event, TrainingResult):
            return event
    raise AssertionError("run_training ended without a result")
