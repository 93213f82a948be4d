"""The one seam for the model's inputs: each input (word ids, characters, casing, contextual features) is an
``InputFeature`` that encodes a sentence, collates a batch, and builds the module that embeds it. Adding an
input is one new file beside these and one line in ``build_features``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


class InputFeature(ABC):
    """``name`` keys the feature's tensors in ``Batch.inputs``; ``module_name`` is its module's attribute on
    the model, and so the prefix of its weights in model.safetensors."""

    name: str
    module_name: str

    def to(self, device: torch.device) -> InputFeature:
        """Where the feature computes (an encoder's device); ids need nothing."""
        return self

    def keep_encodings(self) -> None:  # noqa: B027 (a hook, not abstract: most features have nothing to keep)
        """Training encodes the same sentences every epoch: a feature whose encoding is costly keeps it from now on."""

    def __deepcopy__(self, memo: dict) -> InputFeature:
        return self  # no weights of the model live here: a copy of a model (weight average, int8) shares them

    @abstractmethod
    def encode(self, sentences: Sequence[Sequence[str]]) -> list[Any]:
        """One value per sentence (word ids, vectors, ...), computed once and kept with the sentence."""

    @abstractmethod
    def collate(self, values: Sequence[Any], mask: torch.Tensor) -> Any:
        """The batch's tensor (or tuple of tensors) from the sentences' values; ``mask`` (batch_size, seq_len)."""

    @abstractmethod
    def build_module(self) -> FeatureModule:
        """A fresh module; its ``output_dim`` is this feature's share of the recurrent layer's input."""


class FeatureModule(nn.Module):
    output_dim: int

    def forward(self, inputs: Any) -> torch.Tensor:  # -> (batch_size, seq_len, output_dim)
        raise NotImplementedError


def padded(values: Sequence[Sequence[int]], mask: torch.Tensor, fill: int = 0) -> torch.Tensor:
    """(batch_size, seq_len) long tensor of per-word ids, ``fill`` at padding; filled in one step."""
    tensor = torch.full(mask.shape, fill, dtype=torch.long)
    tensor[mask] = torch.tensor([x for row in values for x in row], dtype=torch.long)
    return tensor


def gather_rows(rows: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``rows[index]`` whose backward pass adds up repeated rows in a fixed order: the backward of plain
    indexing (index_put_ with accumulate) adds them in whatever order the threads finish, so two runs with the
    same seed drifted apart on a multi-threaded CPU; embedding's backward does not."""
    return nn.functional.embedding(index, rows)
