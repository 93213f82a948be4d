"""A training run's output folder: what the run writes there (checked before any work, so that nothing of the
user's is replaced by accident and nothing fails only after an epoch), and the files that describe the trained
model, added to its directory at the end in one commit."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tagger.atomic import file_in_the_way, unwritable_folder
from tagger.config import Config
from tagger.errors import ConfigError, setting
from tagger.model_card import write_card
from tagger.plots import write_training_plot
from tagger.schemes import Task
from tagger.serialization import MODEL_FILES, committed_names, to_json_bytes
from tagger.training.checkpoint import CHECKPOINT_DIR, CHECKPOINT_FILES, TENSOR_SLOTS, committed_tensors_file
from tagger.vocab import Vocab

SEEDS_DIR = "seeds"  # with several seeds, OUT/seeds/seed-N holds each seed's run
SEEDS_SUMMARY = "seeds.json"
LAST_DIR = "last"  # the last epoch's model
# What a run leaves beside the model when it ends (``keep``): "resume" (the default) what --resume needs, the
# checkpoint's committed tensors and state.json; "all" also the stale tensor slot and last/; "model" nothing. A
# vectors model of 17 MB came with a checkpoint of 136 MB: two equal tensor slots, one of them stale once the run
# ends, each the model, its weight average and the optimiser's moments.
KEEP = ("resume", "all", "model")


def check_out_dir(out_dir: Path, overwrite: bool, config: Config | None = None) -> None:
    """Never replace a user's model or files by accident; and refuse, before any data is read, what would otherwise
    fail only at the end of the first epoch (an out_dir that cannot be a folder) or after all the data was loaded
    (no epoch to train, so no model)."""
    out_dir = Path(out_dir)
    if config is not None and config.train.epochs < 1:
        raise ConfigError(f"{setting('train.epochs', config.train.epochs)}: expected at least 1")
    blocker = file_in_the_way(out_dir)
    if blocker == out_dir:
        raise ConfigError(f"{out_dir} is a file; a model is a folder of files: choose another output folder")
    if blocker is not None:
        raise ConfigError(f"{out_dir}: {blocker} is a file, not a folder; choose another output folder")
    replaced = [path for path in (*run_files(out_dir), out_dir / SEEDS_DIR) if path.exists() or path.is_symlink()]
    if replaced and not overwrite:
        held = "a model" if (out_dir / "config.json") in replaced else str(replaced[0].relative_to(out_dir))
        go_on = (
            f"pass {setting('resume', True)} to go on from its checkpoint, "
            if (out_dir / CHECKPOINT_DIR / "state.json") in replaced
            else ""
        )
        raise ConfigError(
            f"{out_dir} already holds {held}, which training would replace; {go_on}pass "
            f"{setting('overwrite', True)} to replace it or choose another {setting('out_dir')}"
        )
    if problem := unwritable_folder(out_dir):
        raise ConfigError(f"{out_dir}: {problem}; choose another {setting('out_dir')}")


def run_files(out_dir: Path) -> list[Path]:
    """Every file a training run writes into ``out_dir`` (with several seeds, also ``SEEDS_DIR`` and its summary)."""
    return (
        [out_dir / name for name in MODEL_FILES]
        + [out_dir / LAST_DIR / name for name in MODEL_FILES]
        + [out_dir / CHECKPOINT_DIR / name for name in CHECKPOINT_FILES]
        + [out_dir / SEEDS_SUMMARY]
    )


def check_keep(keep: str) -> None:
    if keep not in KEEP:
        raise ConfigError(f"{setting('keep', keep)}: expected one of {', '.join(KEEP)}")


def check_resumable(out_dir: Path) -> None:
    """A finished model whose checkpoint is gone (``keep="model"``) has nothing to resume from: refused, rather
    than trained afresh over it."""
    finished = "metrics.json" in committed_names(out_dir)  # added to the model when its training ends
    if finished and not (out_dir / CHECKPOINT_DIR / "state.json").is_file():
        raise ConfigError(
            f"{out_dir} holds a model whose training ended and whose checkpoint was removed "
            f"({setting('keep', 'model')}): there is nothing to resume from; to train it again pass "
            f"{setting('overwrite', True)} without {setting('resume')}, or choose another {setting('out_dir')}"
        )


def prune_run(out_dir: Path, keep: str) -> dict[str, int]:
    """Once the model is completely saved, remove what ``keep`` leaves out: the checkpoint's stale tensor slot and
    ``last/`` (``"resume"``), or the whole checkpoint too (``"model"``). Only files this run writes go (the last
    model's by its manifest, the checkpoint's by name), and a folder only when nothing else is left in it.
    Returns the bytes kept: checkpoint, last and model."""
    checkpoint, last = out_dir / CHECKPOINT_DIR, out_dir / LAST_DIR
    if keep != "all":
        committed = committed_tensors_file(checkpoint)
        # the manifest last: a run killed before it leaves a model refused as incomplete, which it names for the
        # next pruning to remove
        remove_files(last, [*sorted(committed_names(last)), "config.json"])
        stale = [slot for slot in TENSOR_SLOTS if slot != committed]
        # state.json first: without it the checkpoint is none, never one naming missing tensors
        remove_files(checkpoint, ["state.json", *TENSOR_SLOTS] if keep == "model" else stale)
    return {
        "checkpoint": size_of(checkpoint, CHECKPOINT_FILES),
        "last": size_of(last, {"config.json", *committed_names(last)}),
        "model": size_of(out_dir, {"config.json", *committed_names(out_dir)}),
    }


def remove_files(folder: Path, names: list[str]) -> None:
    for name in names:
        (folder / name).unlink(missing_ok=True)
    try:
        folder.rmdir()  # only when empty: a file the user put there keeps it
    except OSError:
        pass


def size_of(folder: Path, names: Iterable[str]) -> int:
    return sum((folder / name).stat().st_size for name in names if (folder / name).is_file())


def kept_line(keep: str, kept: dict[str, int]) -> str:
    """What a run left beside its model and its size, and how to keep more or less, in one line."""
    if keep == "model":
        return (
            f"kept the model alone ({megabytes(kept['model'])}): checkpoint/ and last/ removed, so "
            f"{setting('resume')} cannot go on from this run"
        )
    if keep == "all":
        # a finished run resumed is only scored again: no epoch writes last/ anew after it was pruned
        last = f" and last/ ({megabytes(kept['last'])})" if kept["last"] else ""
        return (
            f"kept checkpoint/ ({megabytes(kept['checkpoint'])}){last} beside the model ({megabytes(kept['model'])}); "
            f"{setting('keep', 'resume')} keeps only what {setting('resume')} needs, {setting('keep', 'model')} the "
            "model alone"
        )
    return (
        f"kept checkpoint/ ({megabytes(kept['checkpoint'])}) beside the model ({megabytes(kept['model'])}) so "
        f"{setting('resume')} can go on; {setting('keep', 'model')} removes it"
    )


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size < 10e6 else f"{size / 1e6:,.0f} MB"


def describe_model(
    config: Config, vocab: Vocab, metrics: dict[str, Any], log: list[dict[str, Any]], task: Task
) -> dict[str, bytes]:
    """The files that describe a trained model (scores, training log and curves, card), made aside and added to
    the model directory in one commit (``add_model_files``), never beside another model's."""
    with tempfile.TemporaryDirectory(prefix="tagger-card-") as aside:
        write_training_plot(Path(aside), log, "entity F1" if task == "spans" else "accuracy")
        write_card(Path(aside), config, vocab, metrics)
        drawn = {path.name: path.read_bytes() for path in Path(aside).iterdir()}
    return {"metrics.json": to_json_bytes(metrics), "train_log.jsonl": log_bytes(log), **drawn}


def log_bytes(log: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in log).encode()
