"""Several seeds of one configuration: mean ± standard deviation of the scores (Reimers & Gurevych 2017),
and the model with the best dev score kept as the result."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tagger.atomic import write_atomic
from tagger.config import Config
from tagger.errors import ConfigError, setting
from tagger.serialization import read_model_files, to_json_bytes, write_model_files
from tagger.training.data import DataSource
from tagger.training.loop import TrainingResult, run_training
from tagger.training.out_dir import SEEDS_DIR, SEEDS_SUMMARY, check_keep, check_out_dir, kept_line, prune_run


@dataclass(frozen=True)
class SeedsResult:
    out_dir: Path
    best_seed: int
    summary: dict[str, Any]  # per split: scores of every seed, mean and standard deviation
    kept: str = ""  # what the seeds' runs left beside their models (checkpoint/, last/) and its size


def run_training_job(
    config: Config,
    source: DataSource,
    out_dir: Path,
    seeds: int = 1,
    overwrite: bool = False,
    resume: bool = False,
    keep: str = "resume",
) -> Iterator[Any]:
    """The events of ``tagger train``: one run into ``out_dir`` (``run_training``), or with ``seeds`` > 1 one per
    seed and the best copied there (``run_seeds``)."""
    if seeds == 1:
        return run_training(config, source, out_dir, overwrite, resume, keep)
    return run_seeds(config, source, out_dir, seeds, overwrite, resume, keep)


def run_seeds(
    config: Config,
    source: DataSource,
    out_dir: Path,
    seeds: int,
    overwrite: bool = False,
    resume: bool = False,
    keep: str = "resume",
) -> Iterator[Any]:
    """Train seeds ``train.seed``, ``train.seed + 1``, ... into OUT/seeds/seed-N; copy the best to OUT.
    With ``resume`` each seed goes on from its own checkpoint. What ``keep`` leaves out of the seeds' folders is
    removed once every seed has ended, so that a job stopped in a later seed can still be resumed."""
    out_dir = Path(out_dir)
    if seeds < 1:
        raise ConfigError(f"{setting('seeds', seeds)}: expected at least 1")
    check_keep(keep)
    check_out_dir(out_dir, overwrite or resume, config)
    results: list[TrainingResult] = []
    for seed in range(config.train.seed, config.train.seed + seeds):
        seeded = replace(config, train=replace(config.train, seed=seed))
        seed_dir = out_dir / SEEDS_DIR / f"seed-{seed}"
        for event in run_training(seeded, source, seed_dir, overwrite=True, resume=resume, keep=None):
            if isinstance(event, TrainingResult):
                results.append(event)
            yield event
    best = max(results, key=lambda r: r.dev.score)
    summary = summarise(results)
    copy_model(best.out_dir, out_dir)
    write_atomic(out_dir / SEEDS_SUMMARY, to_json_bytes(summary))
    kept = [prune_run(result.out_dir, keep) for result in results]
    total = {part: sum(sizes[part] for sizes in kept) for part in kept[0]}
    where = f"in {out_dir / SEEDS_DIR}, for {len(results)} seeds: "
    yield SeedsResult(out_dir, best.metrics["seed"], summary, where + kept_line(keep, total))


def summarise(results: list[TrainingResult]) -> dict[str, Any]:
    summary: dict[str, Any] = {"seeds": [r.metrics["seed"] for r in results]}
    for split in ("dev", "test"):
        evaluations = [getattr(r, split) for r in results]
        if any(e is None for e in evaluations):
            continue
        scores = [100 * e.score for e in evaluations]
        summary[split] = {
            "metric": "entity F1 (conlleval)" if evaluations[0].task == "spans" else "token accuracy",
            "scores": [round(s, 2) for s in scores],
            "mean": round(statistics.mean(scores), 2),
            "sd": round(statistics.stdev(scores), 2) if len(scores) > 1 else 0.0,
        }
    return summary


def copy_model(source: Path, target: Path) -> None:
    """The model in ``source`` into ``target``, all or nothing (``write_model_files``)."""
    write_model_files(target, read_model_files(source))


def describe(summary: dict[str, Any]) -> str:
    parts = [
        f"{split} {summary[split]['metric']} {summary[split]['mean']:.2f} ± {summary[split]['sd']:.2f} "
        f"({', '.join(f'{s:.2f}' for s in summary[split]['scores'])})"
        for split in ("dev", "test")
        if split in summary
    ]
    return f"{len(summary['seeds'])} seeds: " + "; ".join(parts)
