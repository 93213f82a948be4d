"""A training run's output folder: what the run writes there (checked before any work, so that nothing of the
user's is replaced by accident and nothing fails only after an epoch), and the files that describe the trained
model, added to its directory at the end in one commit."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from tagger.atomic import file_in_the_way, unwritable_folder
from tagger.config import Config
from tagger.errors import ConfigError, setting
from tagger.model_card import write_card
from tagger.plots import write_training_plot
from tagger.schemes import Task
from tagger.serialization import MODEL_FILES, to_json_bytes
from tagger.training.checkpoint import CHECKPOINT_DIR, CHECKPOINT_FILES
from tagger.vocab import Vocab

SEEDS_DIR = "seeds"  # with several seeds, OUT/seeds/seed-N holds each seed's run
SEEDS_SUMMARY = "seeds.json"


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
        + [out_dir / "last" / name for name in MODEL_FILES]
        + [out_dir / CHECKPOINT_DIR / name for name in CHECKPOINT_FILES]
        + [out_dir / SEEDS_SUMMARY]
    )


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
