"""Casing classes (``tagger.feature_specs.CasingSpec``) through a small embedding: the word embedding is
lowercased, so case comes back here."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from tagger.config import ModelConfig
from tagger.feature_specs import CasingSpec
from tagger.features.base import ExportableFeature, FeatureModule
from tagger.vocab import CASINGS, Vocab


class CasingEmbedding(nn.Embedding, FeatureModule):
    def __init__(self, dim: int):
        super().__init__(len(CASINGS), dim, padding_idx=0)
        self.output_dim = dim


class Casing(CasingSpec, ExportableFeature):
    def __init__(self, vocab: Vocab, dim: int):
        super().__init__(vocab)
        self.dim = dim

    @classmethod
    def for_model(cls, config: ModelConfig, vocab: Vocab, weights: Mapping[str, torch.Tensor] | None) -> Casing:
        return cls(vocab, config.casing_dim)

    def build_module(self) -> CasingEmbedding:
        return CasingEmbedding(self.dim)
