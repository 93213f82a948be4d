"""Casing classes (numeric, upper, initial_upper, ...): the word embedding is lowercased, so case comes back here."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from tagger.features.base import FeatureModule, InputFeature, padded
from tagger.vocab import CASINGS, Vocab


class CasingEmbedding(nn.Embedding, FeatureModule):
    def __init__(self, dim: int):
        super().__init__(len(CASINGS), dim, padding_idx=0)
        self.output_dim = dim


class Casing(InputFeature):
    name, module_name = "casing", "casing_embedding"

    def __init__(self, vocab: Vocab, dim: int):
        self.vocab, self.dim = vocab, dim

    def encode(self, sentences: Sequence[Sequence[str]]) -> list[tuple[int, ...]]:
        encode_word = self.vocab.encode_word
        return [tuple(encode_word(word)[2] for word in words) for words in sentences]

    def collate(self, values: Sequence[tuple[int, ...]], mask: torch.Tensor) -> torch.Tensor:
        return padded(values, mask, 0)  # (batch_size, seq_len)

    def build_module(self) -> CasingEmbedding:
        return CasingEmbedding(self.dim)
