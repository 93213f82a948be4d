"""Characters: each distinct word of a batch through a char-CNN (Ma & Hovy 2016) or char-BiLSTM (Lample et al. 2016)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from tagger.config import ModelConfig
from tagger.features.base import FeatureModule, InputFeature, gather_rows, padded
from tagger.vocab import PAD_ID, Vocab


class CharCNN(FeatureModule):
    """Ma & Hovy (2016): char embeddings -> 1-D convolution -> max over the word."""

    def __init__(self, num_chars: int, config: ModelConfig):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, config.char_dim, padding_idx=PAD_ID)
        self.conv = nn.Conv1d(config.char_dim, config.char_filters, config.char_kernel, padding=config.char_kernel // 2)
        self.output_dim = config.char_filters

    def encode_words(self, char_ids: torch.Tensor) -> torch.Tensor:
        # The convolution of embedded chars, as lookups: a char's contribution at each offset of the kernel is a
        # row of one small table (every char's embedding times the kernel), and the padding char's row is zero as
        # its embedding is. oneDNN's conv1d summed its weight gradient in an order that depends on the thread
        # count (tests/test_determinism.py); a lookup's gradient adds rows in the input's order. Also faster here.
        kernel, half = self.conv.kernel_size[0], int(self.conv.padding[0])
        table = torch.einsum("cd,fdk->kcf", self.embedding.weight, self.conv.weight)  # (kernel, num_chars, filters)
        padded_ids = nn.functional.pad(char_ids, (half, half), value=PAD_ID)
        length = char_ids.shape[1]
        bias = self.conv.bias
        assert bias is not None  # built with one (nn.Conv1d's default)
        # Summed in place, in the order of offsets and then the bias (the same bits as a sum of fresh tensors, with
        # a quarter less time here): the lookups' and additions' backward passes need none of the values overwritten.
        features = nn.functional.embedding(padded_ids[:, :length], table[0])  # (num_words, word_len, filters)
        for offset in range(1, kernel):
            features.add_(nn.functional.embedding(padded_ids[:, offset : offset + length], table[offset]))
        padding = (char_ids == PAD_ID).unsqueeze(2)  # (num_words, word_len, 1)
        features = features.add_(bias).masked_fill_(padding, float("-inf")).amax(dim=1)  # (num_words, filters)
        return features.masked_fill(torch.isinf(features), 0.0)  # the padding word has no chars

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        char_ids, char_index = inputs
        return gather_rows(self.encode_words(char_ids), char_index)  # (batch_size, seq_len, filters)


class CharLSTM(FeatureModule):
    """Lample et al. (2016): final states of a BiLSTM over the word's characters."""

    def __init__(self, num_chars: int, config: ModelConfig):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, config.char_dim, padding_idx=PAD_ID)
        self.lstm = nn.LSTM(config.char_dim, config.char_filters, batch_first=True, bidirectional=True)
        self.output_dim = 2 * config.char_filters

    def encode_words(self, char_ids: torch.Tensor) -> torch.Tensor:
        lengths = (char_ids != PAD_ID).sum(dim=1).clamp(min=1).cpu()  # (num_words,)
        packed = pack_padded_sequence(self.embedding(char_ids), lengths, batch_first=True, enforce_sorted=False)
        _, (final, _) = self.lstm(packed)  # final: (2, num_words, char_hidden)
        return torch.cat([final[0], final[1]], dim=1)  # (num_words, 2 * char_hidden)

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        char_ids, char_index = inputs
        return gather_rows(self.encode_words(char_ids), char_index)  # (batch_size, seq_len, 2 * char_hidden)


ENCODERS = {"cnn": CharCNN, "lstm": CharLSTM}


class Characters(InputFeature):
    """A batch carries each of its distinct words once (``char_ids``) and, per position, which one it is
    (``char_index``): the char encoder then runs once per word type, not once per word."""

    name, module_name = "chars", "char_encoder"

    def __init__(self, vocab: Vocab, config: ModelConfig):
        self.vocab, self.config = vocab, config

    def encode(self, sentences: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
        return [tuple(words) for words in sentences]

    def collate(self, values: Sequence[tuple[str, ...]], mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        unique_rows: dict[str, int] = {"": 0}  # row 0 is the padding word
        char_index = padded([[unique_rows.setdefault(w, len(unique_rows)) for w in words] for words in values], mask)
        return build_char_ids(list(unique_rows), self.vocab), char_index

    def build_module(self) -> FeatureModule:
        return ENCODERS[self.config.char_encoder](len(self.vocab.chars), self.config)


def build_char_ids(words: list[str], vocab: Vocab) -> torch.Tensor:
    """(num_words, word_len) char ids, PAD_ID after each word's end; the empty word (padding) is all PAD_ID."""
    rows = [vocab.char_ids(w) if w else () for w in words]
    lengths = torch.tensor([len(r) for r in rows])
    width = max(1, int(lengths.max()))
    char_ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
    char_ids[torch.arange(width)[None, :] < lengths[:, None]] = torch.tensor(
        list(chain.from_iterable(rows)), dtype=torch.long
    )
    return char_ids
