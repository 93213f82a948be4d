"""Word ids: the normalised word (lower case, digits -> 0) through an embedding, pretrained or not."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from tagger.features.base import FeatureModule, InputFeature, padded
from tagger.vocab import PAD_ID, Vocab


class WordEmbedding(nn.Embedding, FeatureModule):
    def __init__(self, num_words: int, dim: int):
        super().__init__(num_words, dim, padding_idx=PAD_ID)
        self.output_dim = dim


class WordIds(InputFeature):
    name, module_name = "words", "word_embedding"

    def __init__(self, vocab: Vocab, dim: int):
        self.vocab, self.dim = vocab, dim

    def encode(self, sentences: Sequence[Sequence[str]]) -> list[tuple[int, ...]]:
        encode_word = self.vocab.encode_word  # remembers each distinct word: most words of a text repeat
        return [tuple(encode_word(word)[1] for word in words) for words in sentences]

    def collate(self, values: Sequence[tuple[int, ...]], mask: torch.Tensor) -> torch.Tensor:
        return padded(values, mask, PAD_ID)  # (batch_size, seq_len)

    def build_module(self) -> WordEmbedding:
        return WordEmbedding(len(self.vocab.words), self.dim)
