"""The training loop: epochs over length-bucketed batches, dev scoring, best and last model kept.

``run_training`` is a generator of events (start, steps, epochs, the final result); the CLI renders
them, ``train`` just runs it. Saving, early stopping and scoring all happen here, never in the CLI.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel

from tagger.atomic import remove_temporaries, write_atomic
from tagger.batching import EncodedSentence, build_batch
from tagger.config import Config
from tagger.corpus import CorpusReport
from tagger.errors import setting
from tagger.evaluation import Evaluation
from tagger.export.carried import carry_export
from tagger.model import BiLSTMTagger, build_model, resolve_device
from tagger.ordering import bucketed_batches, document_batches
from tagger.schemes import Task
from tagger.serialization import add_model_files, save_model
from tagger.tagging.torch_tagger import Tagger
from tagger.threads import (
    LoadFollowingThreads,
    follow_the_load,
    set_training_threads,
    training_may_follow_the_load,
)
from tagger.training.checkpoint import LoopState, Trainee, load_checkpoint, save_checkpoint
from tagger.training.data import Data, DataSource, build_vocabulary, encode_training_data, read_data, singleton_ids
from tagger.training.distributed import (
    Ranks,
    from_main,
    gather_random_states,
    join_process_group,
    leave_process_group,
    local_device,
    my_share,
    per_rank_batch_size,
    step_module,
)
from tagger.training.out_dir import (
    LAST_DIR,
    check_keep,
    check_out_dir,
    check_resumable,
    describe_model,
    kept_line,
    log_bytes,
    prune_run,
    run_files,
)
from tagger.training.precision import autocast, check_precision
from tagger.version import __version__
from tagger.vocab import UNK_ID, Vocab


@dataclass(frozen=True)
class StepInfo:
    epoch: int
    step: int
    steps: int
    loss: torch.Tensor  # 0-d, on the training device: reading it waits for the GPU, so only displays do
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
    task: Task
    labels: list[str]
    vocab_words: int
    parameters: int
    device: str
    vectors: str  # coverage of the pretrained vectors, "" without them
    resumed_after: int = 0  # the epoch a resumed run's checkpoint ended; 0 for a fresh run
    dev_trained_on: bool = False  # train.with_dev


@dataclass(frozen=True)
class TrainingResult:
    out_dir: Path
    best_epoch: int
    dev: Evaluation
    test: Evaluation | None
    seconds: float
    stopped_by: str  # patience | max_minutes (train.max_minutes) | epochs (train.epochs)
    metrics: dict[str, Any] = field(repr=False)
    going_on: str = ""  # when a limit stopped a run whose last epoch was its best: how to give it more
    kept: str = ""  # what the run left beside the model (checkpoint/, last/) and its size; "" when not pruned
    carried: str = ""  # the model's own onnxruntime export: which, or why none (train.carry_export)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_optimizer(model: BiLSTMTagger, config: Config) -> tuple[torch.optim.Optimizer, Any]:
    train = config.train
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau
    if train.optimizer == "sgd":
        optimizer = torch.optim.SGD(parameters, lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay)
    else:
        optimizer = torch.optim.Adam(parameters, lr=train.lr, weight_decay=train.weight_decay)
    if train.schedule == "plateau":
        schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=0.5, patience=train.plateau_patience
        )
    elif train.schedule == "linear":  # each epoch starts here; train_epoch goes on falling within it
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: linear_fraction(train.epochs, epoch))
    else:
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1 / (1 + train.lr_decay * epoch))
    return optimizer, schedule


def linear_fraction(epochs: int, epochs_done: float) -> float:
    """The linear schedule's share of the peak learning rate after ``epochs_done`` (fractional) of ``epochs``."""
    return max(0.0, 1.0 - epochs_done / epochs)


def replace_with_unk(
    word_ids: torch.Tensor, mask: torch.Tensor, config: Config, singletons: torch.Tensor
) -> torch.Tensor:
    """Word dropout and singleton replacement: the model learns what to do with words it has not seen."""
    dropped = torch.rand(word_ids.shape, device=word_ids.device) < config.train.word_dropout
    if config.train.singleton_unk > 0 and len(singletons):
        is_singleton = torch.isin(word_ids, singletons)
        dropped |= is_singleton & (torch.rand(word_ids.shape, device=word_ids.device) < config.train.singleton_unk)
    return word_ids.masked_fill(dropped & mask, UNK_ID)


def build_average(model: BiLSTMTagger, config: Config) -> AveragedModel | None:
    """The moving average of the weights that ``train.average`` asks for; it is what gets scored and saved."""
    if not config.train.average:
        return None
    return AveragedModel(model, multi_avg_fn=warming_average(config.train.average))


def warming_average(
    decay: float,
) -> Callable[[Sequence[torch.Tensor], Sequence[torch.Tensor], torch.Tensor | int], None]:
    """An exponential moving average whose decay rises to ``decay`` as updates add up: min(decay, (1 + n) / (10 + n))
    after n (as TensorFlow's ExponentialMovingAverage with num_updates). A plain 0.999 still held 90% of the first
    step's weights after 100 steps, so a short training scored and saved a nearly untrained model (0.00 F1 after
    one epoch of eng.testa with --preset accurate). After the 9,000 steps of a full training the two are the same.
    The count is the average's own (a buffer in the checkpoint), so a resumed run goes on with the same decay."""

    @torch.no_grad()
    def update(averaged: Sequence[torch.Tensor], current: Sequence[torch.Tensor], updates: torch.Tensor | int) -> None:
        # computed on the weights' device: reading the count into Python would wait for a GPU at every step
        # (AveragedModel passes its count as a tensor there; as_tensor returns that very tensor)
        n = torch.as_tensor(updates).to(torch.float32)
        weight = 1.0 - torch.clamp((1.0 + n) / (10.0 + n), max=decay)
        for average, weights in zip(averaged, current, strict=True):
            average.lerp_(weights, weight)

    return update


def train_epoch(
    trainee: Trainee,
    encoded: list[EncodedSentence],
    vocab: Vocab,
    config: Config,
    epoch: int,
    device: torch.device,
    singletons: torch.Tensor,
    ranks: Ranks = Ranks(),
    cpu_threads: LoadFollowingThreads | None = None,
) -> Iterator[StepInfo]:
    """One pass over this rank's share of the shuffled batches; ``cpu_threads`` looks at the load every step."""
    trainee.model.train()
    context = config.model.document_context
    rng = trainee.shuffle_rng
    batch_size = per_rank_batch_size(config.train.batch_size, ranks)
    if context:
        encoded = isolate_documents(encoded, config.train.context_dropout, rng)
        batches = list(document_batches([s.document for s in encoded], batch_size, True, rng))
    else:
        batches = list(bucketed_batches([len(s) for s in encoded], batch_size, True, rng))
    batches = my_share(batches, ranks)
    for step, indices in enumerate(batches, 1):
        if cpu_threads is not None:
            cpu_threads.check()
        batch = build_batch([encoded[i] for i in indices], trainee.model.features, context).to(device)
        batch.inputs["words"] = replace_with_unk(batch.inputs["words"], batch.mask, config, singletons)
        trainee.optimizer.zero_grad(set_to_none=True)
        if config.train.schedule == "linear":
            fraction = linear_fraction(config.train.epochs, epoch - 1 + (step - 1) / len(batches))
            for group in trainee.optimizer.param_groups:
                group["lr"] = config.train.lr * fraction
        with autocast(device, config.train.precision):
            loss = trainee.step(batch)
        loss.backward()
        if config.train.clip_norm:  # 0: no clipping (clipping to norm 0 would zero every gradient)
            torch.nn.utils.clip_grad_norm_(trainee.model.parameters(), config.train.clip_norm)
        trainee.optimizer.step()
        if trainee.average is not None:
            trainee.average.update_parameters(trainee.model)
        yield StepInfo(epoch, step, len(batches), loss.detach(), int(batch.lengths.sum()))


def isolate_documents(encoded: list[EncodedSentence], probability: float, rng: random.Random) -> list[EncodedSentence]:
    """With ``probability`` per document, its sentences become documents of their own for this epoch: a model
    trained only on whole documents tags a sentence that comes alone (one spaCy doc, one line) badly."""
    if not probability:
        return encoded
    isolated = {d for d in sorted({s.document for s in encoded}) if rng.random() < probability}
    fresh = itertools.count(max(s.document for s in encoded) + 1)
    return [replace(s, document=next(fresh)) if s.document in isolated else s for s in encoded]


def run_training(
    config: Config,
    source: DataSource,
    out_dir: Path,
    overwrite: bool = False,
    resume: bool = False,
    keep: str | None = "resume",
) -> Iterator[StepInfo | EpochRecord | TrainingStart | TrainingResult]:
    """Train into ``out_dir``; with ``resume``, go on from its checkpoint (or start afresh when it has none).
    ``keep`` says what stays beside the model at the end (``out_dir.KEEP``); None leaves it all to the caller.

    Started by torchrun, each process is one rank of data-parallel training (tagger.training.distributed).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    requested = resolve_device(config.train.device)
    ranks = join_process_group(requested)
    threads = set_training_threads(config.train.threads, ranks.world)
    device = local_device(requested, ranks)
    check_precision(device, config.train.precision)
    if keep is not None:
        check_keep(keep)
    if ranks.main:
        check_out_dir(out_dir, overwrite or resume, config)
        if resume:
            check_resumable(out_dir)
    seed_everything(config.train.seed)
    data = read_data(config, source)
    vocab, embeddings = build_vocabulary(config, data)
    run = Run(config, data, vocab, out_dir, device, ranks, build_trainee(config, vocab, embeddings, device, ranks))
    alone_on_cpu = training_may_follow_the_load(config.train.threads, device.type == "cpu", ranks.world)
    cpu_threads = follow_the_load_in_training(run) if alone_on_cpu else None
    if resume and ranks.main:
        remove_temporaries(run_files(out_dir))  # what a killed run was writing; the checkpoint is whole
    if resume:
        run.state = load_checkpoint(out_dir, config, data.fingerprints, run.trainee, ranks.rank) or run.state
        # under this run's stopping rules, which may differ from the checkpoint's (a longer time limit goes on)
        run.state.finished = bool(run.state.log and stop_reason(run.state, config))
    started -= sum(record["seconds"] for record in run.state.log)  # a resumed run's time includes its epochs before
    yield TrainingStart(
        data.reports,
        data.task,
        list(vocab.labels),
        len(vocab.words),
        sum(p.numel() for p in run.trainee.model.parameters()),
        str(device),
        embeddings.coverage if embeddings else "",
        run.state.epoch,
        config.train.with_dev,
    )
    for epoch in range(run.state.epoch + 1, config.train.epochs + 1):
        if run.state.finished:
            break
        epoch_start, losses, words = time.perf_counter(), [], 0
        for info in train_epoch(
            run.trainee, run.encoded, vocab, config, epoch, device, run.singletons, ranks, cpu_threads
        ):
            losses.append(info.loss)
            words += info.words
            yield info
        yield run.end_epoch(epoch, losses, words, epoch_start)
    if ranks.main:
        seconds, following = time.perf_counter() - started, cpu_threads is not None
        result = finish(config, data, out_dir, device, run.state, run.best_dev, seconds, threads, following)
        # after finish(): the model and the files describing it are completely saved
        yield replace(result, kept=kept_line(keep, prune_run(out_dir, keep))) if keep is not None else result
    leave_process_group(ranks)


def stop_reason(state: LoopState, config: Config) -> str:
    """Why the loop stops after the epoch that ``state`` ended, "" if it goes on: "patience" ran out, another epoch
    (as long as the last) would end after "max_minutes", or the "epochs" are done. The minutes are the epochs' own,
    from the log, so that a resumed run goes on with what is left of them."""
    train = config.train
    spent = sum(logged["seconds"] for logged in state.log)
    budget = 60 * train.max_minutes if train.max_minutes else math.inf
    if state.epoch - state.best_epoch >= train.patience:
        return "patience"
    if spent + state.log[-1]["seconds"] > budget:
        return "max_minutes"
    return "epochs" if state.epoch >= train.epochs else ""


def follow_the_load_in_training(run: Run) -> LoadFollowingThreads | None:
    """Training's threads following the load where the thread policy allows it (``threads.follow_the_load``): its
    probe is one training step, whose gradients on one thread and on all of them must be equal to the bit. They are
    for the presets here; an output layer of 5 to 11 labels splits its weight gradient by the thread count on some
    CPUs, and there the count stays fixed, so the same seed still gives the same model."""
    model = run.trainee.model
    random_state = torch.get_rng_state()  # dropout draws: the probe leaves them to training

    def probe() -> Callable[[], list[torch.Tensor]]:
        batch = build_batch(
            run.encoded[: run.config.train.batch_size], model.features, run.config.model.document_context
        )

        def gradients() -> list[torch.Tensor]:
            torch.set_rng_state(random_state)
            model.zero_grad(set_to_none=True)
            model.loss(batch).backward()  # the model alone: no data-parallel reduction for a probe
            return [p.grad.clone() for p in model.parameters() if p.grad is not None]

        return gradients

    following = follow_the_load(probe)
    model.zero_grad(set_to_none=True)
    torch.set_rng_state(random_state)
    return following


class Run:
    """One training run's data, model and loop state, and what happens at the end of each epoch."""

    def __init__(
        self,
        config: Config,
        data: Data,
        vocab: Vocab,
        out_dir: Path,
        device: torch.device,
        ranks: Ranks,
        trainee: Trainee,
    ):
        self.config, self.data, self.vocab, self.out_dir = config, data, vocab, out_dir
        self.device, self.ranks, self.trainee = device, ranks, trainee
        self.encoded = encode_training_data(data, vocab, trainee.model.features)
        self.singletons = torch.tensor(singleton_ids(data, vocab), dtype=torch.long, device=device)
        self.state = LoopState()
        self.best_dev: Evaluation | None = None  # after a resume, scored in finish() from the saved best model
        scored = trainee.model if trainee.average is None else trainee.average.module
        assert isinstance(scored, BiLSTMTagger)  # the weight average holds a copy of the model
        self.scored = scored

    def end_epoch(self, epoch: int, losses: list[torch.Tensor], words: int, started: float) -> EpochRecord:
        """Score dev (rank 0), step the schedule, save the best and last models, the log and a checkpoint."""
        train_seconds = time.perf_counter() - started
        random_states = gather_random_states(self.ranks, self.device)  # every rank takes part
        lr = self.trainee.optimizer.param_groups[0]["lr"]
        dev_eval = (
            Tagger(self.scored, self.vocab, self.config, self.device, quantize="none").evaluate(self.data.dev)[0]
            if self.ranks.main
            else None
        )
        (score,) = from_main([dev_eval.score if dev_eval else 0.0], self.ranks, self.device)
        self.step_schedule(score)
        # with train.with_dev the dev score measures training data: each epoch's model replaces the last
        improved = score > self.state.best_score or self.config.train.with_dev
        if improved:
            self.state.best_score, self.state.best_epoch, self.best_dev = score, epoch, dev_eval
        record = EpochRecord(
            epoch,
            float(torch.stack(losses).mean()),
            lr,
            score,
            self.state.best_score,
            improved,
            time.perf_counter() - started,
            words / max(train_seconds, 1e-9),
        )
        self.state.epoch = epoch
        self.state.log.append(asdict(record))
        finished = bool(stop_reason(self.state, self.config))  # rank 0's clock decides
        self.state.finished = bool(from_main([float(finished)], self.ranks, self.device)[0])
        if self.ranks.main:
            self.save(improved, random_states)
        return record

    def step_schedule(self, score: float) -> None:
        if self.config.train.schedule == "plateau":
            self.trainee.schedule.step(score)
        else:
            self.trainee.schedule.step()

    def save(self, improved: bool, random_states: list[torch.Tensor]) -> None:
        out_dir, config = self.out_dir, self.config
        if improved:
            save_model(out_dir, config, self.vocab, self.scored)
        save_model(out_dir / LAST_DIR, config, self.vocab, self.scored)
        # For a person watching the run; the model's manifest names it only at the end (finish).
        write_atomic(out_dir / "train_log.jsonl", log_bytes(self.state.log))
        save_checkpoint(out_dir, config, self.data.fingerprints, self.trainee, self.state, random_states)


def build_trainee(
    config: Config, vocab: Vocab, embeddings: Any, device: torch.device, ranks: Ranks = Ranks()
) -> Trainee:
    """A fresh model (with its pretrained vectors), optimiser, schedule, weight average and batch order; with
    several ranks, each draws its own dropout masks from here on."""
    model = build_model(config.model, vocab)
    if embeddings is not None:
        model.word_embedding.weight.data.copy_(torch.from_numpy(embeddings.matrix))
        model.word_embedding.weight.requires_grad_(not config.model.freeze_vectors)
    model.to(device)
    for feature in model.features:
        feature.to(device).keep_encodings()
    optimizer, schedule = build_optimizer(model, config)
    if ranks.world > 1:
        torch.manual_seed(config.train.seed + 1_000 * ranks.rank)
    return Trainee(
        model,
        optimizer,
        schedule,
        build_average(model, config),
        random.Random(config.train.seed),
        step_module(model, ranks, device),
    )


def finish(
    config: Config,
    data: Data,
    out_dir: Path,
    device: torch.device,
    state: LoopState,
    dev_eval: Evaluation | None,
    seconds: float,
    threads: int,
    following: bool = False,
) -> TrainingResult:
    """Score the saved best model on test (and on dev, after a resume), then write its metrics and model card."""
    # in fp32, as the model trained: a run's scores are the same on every CPU
    best = Tagger.load(out_dir, device=str(device), quantize="none", threads=config.train.threads or None)
    dev_eval = dev_eval or best.evaluate(data.dev)[0]
    test_eval = best.evaluate(data.test)[0] if data.test else None
    stopped_by = stop_reason(state, config)
    metrics = {
        "tagger_version": __version__,
        "task": data.task,
        "best_epoch": state.best_epoch,
        "epochs_run": len(state.log),
        "stopped_by": stopped_by,  # patience | max_minutes | epochs
        "train_seconds": round(seconds, 1),
        "device": str(device),
        "threads": threads,  # the most it trained on; the weights' bits do not depend on it
        "threads_follow_load": following,
        "seed": config.train.seed,
        "dev_trained_on": config.train.with_dev,
        "dev": dev_eval.to_dict(),
        "test": test_eval.to_dict() if test_eval else None,
        "data": data.fingerprints,
    }
    add_model_files(out_dir, describe_model(config, best.vocab, metrics, state.log, data.task))
    going_on = how_to_go_on(state, config, stopped_by)
    carried = carry_export(out_dir, data.dev, config.train.threads or None).line if config.train.carry_export else ""
    return TrainingResult(
        out_dir, state.best_epoch, dev_eval, test_eval, seconds, stopped_by, metrics, going_on, carried=carried
    )


def how_to_go_on(state: LoopState, config: Config, stopped_by: str) -> str:
    """A limit, not patience, ended a run whose dev score was still rising: say how to resume it with more."""
    if stopped_by == "patience" or state.best_epoch != state.epoch:
        return ""
    limit = {"max_minutes": config.train.max_minutes, "epochs": config.train.epochs}[stopped_by]
    return (
        f"{setting(f'train.{stopped_by}', f'{limit:g}')} stopped the run after its best epoch so far ({state.epoch}); "
        f"{setting('resume')} with a larger {setting(f'train.{stopped_by}')} goes on from its checkpoint"
    )


def train(
    config: Config,
    source: DataSource,
    out_dir: Path,
    overwrite: bool = False,
    resume: bool = False,
    keep: str = "resume",
) -> TrainingResult:
    """Train without any display; returns the result of the best epoch."""
    for event in run_training(config, source, out_dir, overwrite, resume, keep):
        if isinstance(event, TrainingResult):
            return event
    raise AssertionError("run_training ended without a result")
