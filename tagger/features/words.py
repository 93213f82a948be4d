"""Word ids (``tagger.feature_specs.WordIdsSpec``: the normalised word) through an embedding, pretrained or not."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from tagger.config import ModelConfig
from tagger.feature_specs import WordIdsSpec
from tagger.features.base import ExportableFeature, FeatureModule
from tagger.vocab import PAD_ID, Vocab


class WordEmbedding(nn.Embedding, FeatureModule):
    def __init__(self, num_words: int, dim: int):
        super().__init__(num_words, dim, padding_idx=PAD_ID)
        self.output_dim = dim


class WordIds(WordIdsSpec, ExportableFeature):
    def __init__(self, vocab: Vocab, dim: int):
        super().__init__(vocab)
        self.dim = dim

    @classmethod
    def for_model(cls, config: ModelConfig, vocab: Vocab, weights: Mapping[str, torch.Tensor] | None) -> WordIds:
        return cls(vocab, config.word_dim)

    def build_module(self) -> WordEmbedding:
        return WordEmbedding(len(self.vocab.words), self.dim)
