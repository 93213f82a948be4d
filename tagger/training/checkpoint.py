"""Checkpoints: all a training run needs to go on exactly where it stopped, as data (safetensors + JSON).

One is written at the end of every epoch, after that epoch's models: the tensors (model, weight average, optimiser
tensors, torch random states) into whichever of ``OUT/checkpoint/state.a.safetensors`` and ``state.b.safetensors``
the current checkpoint does not use, then ``OUT/checkpoint/state.json`` (everything else, the name of the tensors
file and its checksum). ``state.json`` is the commit: a run killed while writing leaves the previous checkpoint
whole, and a resumed run replays the epoch it lost bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel

from tagger.atomic import write_atomic
from tagger.config import Config
from tagger.errors import ConfigError, ModelDirError, setting
from tagger.model import BiLSTMTagger
from tagger.serialization import pack_tensors, to_json_bytes, unpack_tensors

CHECKPOINT_DIR = "checkpoint"
# The tensors go to the slot state.json does not name, then state.json is replaced to name it: a run killed between
# the two writes leaves state.json naming the previous, intact tensors (one fixed file was overwritten first, and a
# kill in that moment left a checkpoint whose tensors did not match its state.json).
TENSOR_SLOTS = ("state.a.safetensors", "state.b.safetensors")
CHECKPOINT_FILES = (*TENSOR_SLOTS, "state.json")
FORMAT_VERSION = 1
# Settings that only decide when a run stops, never what an epoch computes: a resumed run may change them, so that a
# run that stopped at its time limit or its epochs goes on with a longer one (the loop decides afresh whether it is
# finished, tagger.training.loop.stop_reason).
STOPPING_RULES = {("train", "epochs"), ("train", "patience"), ("train", "max_minutes")}


@dataclass
class LoopState:
    """The epoch loop's own state at the end of an epoch."""

    epoch: int = 0
    best_score: float = float("-inf")
    best_epoch: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)  # EpochRecord fields, one per epoch
    finished: bool = False  # the loop decided to stop after this epoch


@dataclass
class Trainee:
    """What training changes as it goes, besides the loop's state."""

    model: BiLSTMTagger
    optimizer: torch.optim.Optimizer
    schedule: Any  # a torch learning-rate scheduler
    average: AveragedModel | None
    shuffle_rng: random.Random  # the order of the batches
    step: torch.nn.Module  # a training step's loss: the model's, wrapped for data-parallel ranks


def save_checkpoint(
    out_dir: Path,
    config: Config,
    fingerprints: list[dict[str, Any]],
    trainee: Trainee,
    state: LoopState,
    torch_random_states: list[torch.Tensor] | None = None,
) -> None:
    """``torch_random_states``: every rank's, in rank order (this process's alone when not given)."""
    tensors, optimizer_rest = split_optimizer_state(trainee.optimizer.state_dict())
    tensors |= {f"model/{name}": value for name, value in trainee.model.state_dict().items()}
    if trainee.average is not None:
        tensors |= {f"average/{name}": value for name, value in trainee.average.state_dict().items()}
    for rank, random_state in enumerate(torch_random_states or [torch.get_rng_state()]):
        tensors["rng/torch" + (f"/rank{rank}" if rank else "")] = random_state
    if torch.cuda.is_available():
        tensors |= {f"rng/cuda/{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())}
    numpy_state = np.random.get_state()
    assert isinstance(numpy_state, tuple)  # the legacy tuple, which get_state gives by default
    numpy_name, numpy_keys, numpy_position, has_gauss, cached_gauss = numpy_state
    tensors["rng/numpy"] = torch.from_numpy(numpy_keys.astype(np.int64))
    data = pack_tensors(tensors)
    header = {
        "format_version": FORMAT_VERSION,
        "tensors_sha256": hashlib.sha256(data).hexdigest(),
        "config": config.to_dict(),
        "data": fingerprints,
        "loop": state.__dict__,
        "optimizer": optimizer_rest,
        "schedule": trainee.schedule.state_dict(),
        "rng": {
            "python": random.getstate(),
            "shuffle": trainee.shuffle_rng.getstate(),
            "numpy": [numpy_name, int(numpy_position), int(has_gauss), float(cached_gauss)],
        },
    }
    directory = out_dir / CHECKPOINT_DIR
    slot = TENSOR_SLOTS[1] if committed_tensors_file(directory) == TENSOR_SLOTS[0] else TENSOR_SLOTS[0]
    write_atomic(directory / slot, data)
    write_atomic(directory / "state.json", to_json_bytes({**header, "tensors_file": slot}))


def committed_tensors_file(directory: Path) -> str | None:
    """The tensors file the committed state.json names (None without a readable one)."""
    try:
        return json.loads((directory / "state.json").read_text(encoding="utf-8")).get("tensors_file")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return None


def load_checkpoint(
    out_dir: Path, config: Config, fingerprints: list[dict[str, Any]], trainee: Trainee, rank: int = 0
) -> LoopState | None:
    """Restore ``trainee`` and the random states (``rank``'s own, for torch's) from OUT/checkpoint; None when
    there is no checkpoint yet."""
    directory = out_dir / CHECKPOINT_DIR
    if not (directory / "state.json").is_file():
        return None
    header, tensors = read_checkpoint(directory)
    check_same_run(header, config, fingerprints, directory)
    trainee.model.load_state_dict(with_prefix(tensors, "model/"))
    if trainee.average is not None:
        trainee.average.load_state_dict(with_prefix(tensors, "average/"))
    trainee.optimizer.load_state_dict(join_optimizer_state(header["optimizer"], tensors))
    trainee.schedule.load_state_dict(header["schedule"])
    restore_random_states(header["rng"], tensors, trainee.shuffle_rng, rank)
    return LoopState(**header["loop"])


def read_checkpoint(directory: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    try:
        header = json.loads((directory / "state.json").read_text(encoding="utf-8"))
        tensors_file = header.get("tensors_file")
        if tensors_file not in TENSOR_SLOTS:
            raise OSError(f"state.json names no tensors file of this version ({tensors_file!r})")
        data = (directory / tensors_file).read_bytes()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelDirError(str(directory), f"unreadable checkpoint ({error})", "delete it to start afresh") from None
    if header.get("format_version") != FORMAT_VERSION or hashlib.sha256(data).hexdigest() != header.get(
        "tensors_sha256"
    ):
        raise ModelDirError(
            str(directory),
            "checkpoint from another tagger version, or its files do not match",
            "delete it to start afresh",
        )
    return header, unpack_tensors(data, directory / tensors_file)


def check_same_run(header: dict[str, Any], config: Config, fingerprints: list[dict[str, Any]], directory: Path) -> None:
    """Resuming with other settings (but the stopping rules) or data would silently mix two runs. A setting the
    checkpoint's version did not have yet was trained with that setting's default."""
    saved, defaults = header["config"], Config().to_dict()
    for section, values in config.to_dict().items():
        for key, value in values.items():
            was = saved.get(section, {}).get(key, defaults[section][key])
            if (section, key) not in STOPPING_RULES and was != value:
                raise ConfigError(
                    f"{directory}: the checkpoint was made with {section}.{key} = {was!r}, this run has "
                    f"{value!r}; resume with the same settings, or train into another {setting('out_dir')}"
                )
    if contents(header["data"]) != contents(json.loads(json.dumps(fingerprints))):
        raise ConfigError(
            f"{directory}: the training data changed since the checkpoint was made; resume with the "
            f"same files, or train into another {setting('out_dir')}"
        )


def contents(fingerprints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The data's identity is what was read, not where: the same files named by a relative path, or moved with
    their project, resume the run."""
    return [{key: value for key, value in data.items() if key != "path"} for data in fingerprints]


def split_optimizer_state(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors (for safetensors) apart from everything else (for JSON)."""
    tensors, rest = {}, {"param_groups": state_dict["param_groups"], "state": {}}
    for param_id, values in state_dict["state"].items():
        rest["state"][str(param_id)] = {}
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer/{param_id}/{key}"] = value
            else:
                rest["state"][str(param_id)][key] = value
    return tensors, rest


def join_optimizer_state(rest: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(param_id): dict(values) for param_id, values in rest["state"].items()}
    for name, value in tensors.items():
        if name.startswith("optimizer/"):
            _, param_id, key = name.split("/", 2)
            state.setdefault(int(param_id), {})[key] = value
    return {"state": state, "param_groups": rest["param_groups"]}


def restore_random_states(
    saved: dict[str, Any], tensors: dict[str, torch.Tensor], shuffle_rng: random.Random, rank: int = 0
) -> None:
    random.setstate(as_random_state(saved["python"]))
    shuffle_rng.setstate(as_random_state(saved["shuffle"]))
    name, position, has_gauss, cached_gauss = saved["numpy"]
    np.random.set_state((name, tensors["rng/numpy"].numpy().astype(np.uint32), position, has_gauss, cached_gauss))
    torch.set_rng_state(tensors["rng/torch" + (f"/rank{rank}" if rank else "")])
    devices = sum(name.startswith("rng/cuda/") for name in tensors)
    cuda_states = [tensors[f"rng/cuda/{i}"] for i in range(devices)]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states)


def as_random_state(saved: list[Any]) -> tuple[Any, ...]:
    """``random.getstate()`` after a JSON round trip (its tuples came back as lists)."""
    version, internal, gauss_next = saved
    return version, tuple(internal), gauss_next


def with_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {name[len(prefix) :]: value for name, value in tensors.items() if name.startswith(prefix)}
