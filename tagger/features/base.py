"""The one seam for the model's inputs: each input (word ids, characters, casing, contextual features, character
LMs) is an ``InputFeature`` that encodes a sentence, collates a batch, and builds the module that embeds it. It is
the torch half of a feature whose torch-free half (name, when a configuration has it, its ids and, if it exports,
its network inputs in numpy) is in ``tagger.feature_specs``, whose table lists every feature."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from tagger.config import ModelConfig
from tagger.feature_specs import ExportableSpec, FeatureSpec
from tagger.vocab import Vocab


class InputFeature(FeatureSpec):
    """The torch half of a feature (``name``, ``module_name``: see ``FeatureSpec``)."""

    @classmethod
    @abstractmethod
    def for_model(cls, config: ModelConfig, vocab: Vocab, weights: Mapping[str, torch.Tensor] | None) -> InputFeature:
        """The feature as a model of ``config`` has it; ``weights``: a saved model's, for the features whose module
        holds what they need (character LMs)."""

    def to(self, device: torch.device) -> InputFeature:
        """Where the feature computes (an encoder's device); ids need nothing."""
        return self

    # the feature runs a frozen network of its own (character LMs, a contextual encoder): most of the tagging time
    # of a model that has one, which decides its default precision (tagger.precision.tagging_mode)
    frozen_network: ClassVar[bool] = False

    def set_precision(self, dtype: torch.dtype) -> None:  # noqa: B027 (a hook: most features run no network)
        """The precision of a frozen network the feature runs outside the model (a contextual encoder): float32, or
        bfloat16 when the tagger runs in bf16 (``tagger.precision.tagging_mode``). A network the model holds (the
        character LMs) is converted with the model."""

    def keep_encodings(self) -> None:  # noqa: B027 (a hook, not abstract: most features have nothing to keep)
        """Training encodes the same sentences every epoch: a feature whose encoding is costly keeps it from now on."""

    def __deepcopy__(self, memo: dict) -> InputFeature:
        return self  # no weights of the model live here: a copy of a model (weight average, int8) shares them

    @abstractmethod
    def collate(self, values: Sequence[Any], mask: torch.Tensor) -> Any:
        """The batch's tensor (or tuple of tensors) from the sentences' values; ``mask`` (batch_size, seq_len)."""

    @abstractmethod
    def build_module(self) -> FeatureModule:
        """A fresh module; its ``output_dim`` is this feature's share of the recurrent layer's input."""


class ExportableFeature(ExportableSpec, InputFeature):
    """The torch half of a feature an exported network takes: a batch's tensors are its spec's arrays, and the
    exported network runs the trained module on the graph inputs that hold them."""

    def collate(self, values: Sequence[Any], mask: torch.Tensor) -> Any:
        """The spec's arrays as tensors: one tensor, or a tuple in the order of ``graph_inputs``."""
        tensors = tuple(torch.from_numpy(array) for array in self.arrays(values, mask.numpy()))
        return tensors[0] if len(tensors) == 1 else tensors

    def export_modules(self, module: FeatureModule) -> dict[str, nn.Module]:
        """Modules the exported network needs beside the trained ``module``, by the attribute the network holds each
        under; most features need none."""
        return {}

    def export_forward(
        self, module: FeatureModule, inputs: Sequence[torch.Tensor], modules: Mapping[str, nn.Module]
    ) -> torch.Tensor:
        """(batch_size, seq_len, output_dim) from the graph inputs (in the order of ``graph_inputs``), traced into
        the ONNX network, so written with operations it holds with every axis dynamic; ``module`` is the trained
        one, ``modules`` what ``export_modules`` made. By default the module's own forward, on what ``collate``
        gives it."""
        return module(inputs[0] if len(inputs) == 1 else tuple(inputs))


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
