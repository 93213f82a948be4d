"""Data-parallel training in processes started by torchrun: each rank trains on its share of every epoch's
batches, DistributedDataParallel averages the gradients, and rank 0 scores dev and writes every file.

gloo on the CPU, NCCL on GPUs. With one process (no torchrun) every function here is a no-op.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import distributed, nn

from tagger.model import BiLSTMTagger

T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that scores dev, decides when to stop and writes files."""
        return self.rank == 0


def reports_progress() -> bool:
    """Whether this process is the one that reports: the only process, or rank 0 of those torchrun started."""
    return int(os.environ.get("RANK", "0")) == 0


def join_process_group(device: torch.device) -> Ranks:
    """The ranks torchrun started (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR/PORT in the environment)."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return Ranks()
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if not distributed.is_initialized():
        distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Ranks(distributed.get_rank(), distributed.get_world_size())


def local_device(device: torch.device, ranks: Ranks) -> torch.device:
    """Each rank's own GPU (torchrun's LOCAL_RANK); the CPU as it is."""
    if device.type == "cuda" and ranks.world > 1:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def per_rank_batch_size(batch_size: int, ranks: Ranks) -> int:
    """``train.batch_size`` is the sentences of one optimiser step, however many ranks share it: N ranks of
    batch_size / N sentences each keep the step, the steps per epoch and so the tuned learning rate as they are.
    (Two ranks of 32 each, twice the step and half the steps, scored 84.82 test F1 against 86.26 on CoNLL-2003.)"""
    return max(1, batch_size // ranks.world)


def my_share(batches: Sequence[T], ranks: Ranks) -> list[T]:
    """Every ``world``-th batch from this rank's position, the same number on every rank: DDP's ranks must
    take the same number of steps, so the last ``len % world`` batches of an epoch wait for the next shuffle
    (and a corpus of fewer batches than ranks gives some ranks a batch twice)."""
    if ranks.world == 1:
        return list(batches)
    per_rank = max(1, len(batches) // ranks.world)
    return [batches[(ranks.rank + step * ranks.world) % len(batches)] for step in range(per_rank)]


class LossOf(nn.Module):
    """The model's loss as a module's forward: DistributedDataParallel syncs gradients on forward calls."""

    def __init__(self, model: BiLSTMTagger):
        super().__init__()
        self.model = model

    def forward(self, batch) -> torch.Tensor:
        return self.model.loss(batch)


def step_module(model: BiLSTMTagger, ranks: Ranks, device: torch.device) -> nn.Module:
    """What a training step calls: the loss itself, or wrapped so that backward averages gradients over ranks
    (the wrapper also copies rank 0's initial weights to every rank)."""
    loss = LossOf(model)
    if ranks.world == 1:
        return loss
    return nn.parallel.DistributedDataParallel(loss, device_ids=[device.index] if device.type == "cuda" else None)


def from_main(values: list[float], ranks: Ranks, device: torch.device) -> list[float]:
    """Rank 0's ``values`` on every rank (a tensor broadcast: no pickling between processes)."""
    if ranks.world == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    distributed.broadcast(tensor, src=0)
    return tensor.tolist()


def gather_random_states(ranks: Ranks, device: torch.device) -> list[torch.Tensor]:
    """Every rank's torch random state, for rank 0's checkpoint (each rank draws its own dropout masks)."""
    state = torch.get_rng_state()
    if ranks.world == 1:
        return [state]
    states = [torch.empty_like(state, device=device) for _ in range(ranks.world)]
    distributed.all_gather(states, state.to(device))
    return [s.cpu() for s in states]


def leave_process_group(ranks: Ranks) -> None:
    """Wait for every rank (rank 0 ends last, after scoring test and writing the model) before leaving: a rank
    that tore its process group down while rank 0 was still busy aborted the whole torchrun job."""
    if ranks.world > 1 and distributed.is_initialized():
        distributed.barrier()
        distributed.destroy_process_group()
