"""Characters (``tagger.feature_specs.CharactersSpec``: each distinct word of a batch once): each word through a
char-CNN (Ma & Hovy 2016) or char-BiLSTM (Lample et al. 2016)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from tagger.config import ModelConfig
from tagger.feature_specs import CharactersSpec
from tagger.features.base import ExportableFeature, FeatureModule, gather_rows
from tagger.features.traceable import one_way_lstms, reorder, reversal_index
from tagger.vocab import PAD_ID, Vocab

# Runs of rows the char-CNN convolves apart when tagging, as exported too: en-upos's int8 graph on UD EWT test,
# one thread, ran 1.11x (2 runs), 1.18x (4) and 1.17x (8) as fast as in one run.
LENGTH_CHUNKS = 4


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
        features = self.convolved(char_ids, self.lookup_table())  # (num_words, word_len, filters)
        bias = self.conv.bias
        assert bias is not None  # built with one (nn.Conv1d's default)
        padding = (char_ids == PAD_ID).unsqueeze(2)  # (num_words, word_len, 1)
        features = features.add_(bias).masked_fill_(padding, float("-inf")).amax(dim=1)  # (num_words, filters)
        return features.masked_fill(torch.isinf(features), 0.0)  # the padding word has no chars

    def lookup_table(self) -> torch.Tensor:
        """(kernel, num_chars, filters): each char's contribution at each offset of the kernel."""
        return torch.einsum("cd,fdk->kcf", self.embedding.weight, self.conv.weight)

    def convolved(self, char_ids: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """(num_words, word_len, filters): at each position, the sum over the kernel's offsets of the rows of
        ``table`` (kernel, num_chars, filters) for the chars around it. Summed in place, in the order of the offsets
        (the same bits as a sum of fresh tensors, with a quarter less time here): the lookups' and additions'
        backward passes need none of the values overwritten."""
        kernel, half = self.conv.kernel_size[0], int(self.conv.padding[0])
        padded_ids = nn.functional.pad(char_ids, (half, half), value=PAD_ID)
        length = char_ids.shape[1]
        features = nn.functional.embedding(padded_ids[:, :length], table[0])
        for offset in range(1, kernel):
            features.add_(nn.functional.embedding(padded_ids[:, offset : offset + length], table[offset]))
        return features

    def folded_table(self) -> torch.Tensor:
        """``encode_words``'s table for inference, with the bias and the padding mask folded in: the bias added to
        the rows of the kernel's centre offset, whose lookup every real char's position makes once, and the padding
        char's centre row at -inf, so a padding position sums to -inf (its other rows are zero, as the padding
        char's embedding is, and no row is +inf). An exported network then makes two passes fewer over its
        (num_words, word_len, filters) values, the bias's and the mask's: the shipped en-upos's int8 graph ran
        1.14x as fast on one thread."""
        half = int(self.conv.padding[0])
        bias = self.conv.bias
        assert bias is not None
        with torch.no_grad():
            table = self.lookup_table()
            table[half] += bias
            table[half, PAD_ID] = float("-inf")
        return table

    def encode_words_folded(self, char_ids: torch.Tensor, folded_table: torch.Tensor) -> torch.Tensor:
        """``encode_words`` from ``folded_table`` (inference only): the bias and the mask come with the lookups.
        The bias is added before the other offsets' rows instead of after them, so values may differ from
        ``encode_words`` in the last bit.

        The words are convolved in ``LENGTH_CHUNKS`` runs of rows, each only as wide as its longest word: rows
        come longest first (``CharactersSpec.arrays``), so the short words that most rows hold skip the padding
        that the batch's longest word gives them (77% of the cells of UD EWT test's batches). Any order gives
        the same values, only slower."""
        lengths = (char_ids != PAD_ID).sum(dim=1)  # (num_words,)
        num_words = char_ids.shape[0]
        chunks = []
        for chunk in range(LENGTH_CHUNKS):
            first, end = num_words * chunk // LENGTH_CHUNKS, num_words * (chunk + 1) // LENGTH_CHUNKS
            width = torch.cat([lengths[first:end], lengths.new_ones(1)]).max()  # at least 1: a chunk may be empty
            # arange of a tensor: traced as a Range of the graph's own value, not of this batch's number
            columns = torch.arange(width, device=char_ids.device)  # type: ignore[call-overload]
            rows = char_ids[first:end].index_select(1, columns)
            chunks.append(self.convolved(rows, folded_table).amax(dim=1))  # (rows, filters)
        features = torch.cat(chunks, dim=0)  # (num_words, filters)
        return features.masked_fill(torch.isinf(features), 0.0)  # the padding word has no chars

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        char_ids, char_index = inputs
        if self.training or torch.is_grad_enabled():
            return gather_rows(self.encode_words(char_ids), char_index)  # (batch_size, seq_len, filters)
        # tagging: as exported, which makes fewer passes over (num_words, word_len, filters) values
        return gather_rows(self.encode_words_folded(char_ids, self.folded_table()), char_index)


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


class Characters(CharactersSpec, ExportableFeature):
    def __init__(self, vocab: Vocab, config: ModelConfig):
        super().__init__(vocab)
        self.config = config

    @classmethod
    def for_model(cls, config: ModelConfig, vocab: Vocab, weights: Mapping[str, torch.Tensor] | None) -> Characters:
        return cls(vocab, config)

    def build_module(self) -> FeatureModule:
        return ENCODERS[self.config.char_encoder](len(self.vocab.chars), self.config)

    def export_modules(self, module: FeatureModule) -> dict[str, nn.Module]:
        """The char-BiLSTM packs its words, which an ONNX network cannot hold: its two directions become one-way
        LSTMs with its weights (``unpacked_words``)."""
        if isinstance(module, CharLSTM):
            return {"char_directions": one_way_lstms(module.lstm)}
        assert isinstance(module, CharCNN)
        return {"char_table": FoldedTable(module.folded_table())}

    def export_forward(
        self, module: FeatureModule, inputs: Sequence[torch.Tensor], modules: Mapping[str, nn.Module]
    ) -> torch.Tensor:
        char_ids, char_index = inputs
        if isinstance(module, CharLSTM):
            directions = modules["char_directions"]
            assert isinstance(directions, nn.ModuleList)  # export_modules made it
            return gather_rows(unpacked_words(module, directions, char_ids), char_index)
        assert isinstance(module, CharCNN)  # plain tensor operations
        table = modules["char_table"]
        assert isinstance(table, FoldedTable)  # export_modules made it
        return gather_rows(module.encode_words_folded(char_ids, table.table), char_index)  # (batch, seq_len, filters)


class FoldedTable(nn.Module):
    """A char-CNN's ``folded_table``, held by the exported network as a constant of its graph."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.register_buffer("table", table)
        self.table: torch.Tensor


def unpacked_words(encoder: CharLSTM, directions: nn.ModuleList, char_ids: torch.Tensor) -> torch.Tensor:
    """``encoder.encode_words`` without packing, for export: ``directions`` are its two directions as one-way LSTMs,
    the backward one reading each word reversed within its length, and each word's final states are read at its
    last character, which is what packing computes."""
    lengths = (char_ids != PAD_ID).sum(dim=1).clamp(min=1)  # (num_words,)
    embedded = encoder.embedding(char_ids)  # (num_words, word_len, char_dim)
    char_mask = torch.arange(char_ids.shape[1], device=char_ids.device).unsqueeze(0) < lengths.unsqueeze(1)
    forward = directions[0](embedded)[0]  # (num_words, word_len, char_hidden)
    backward = directions[1](reorder(embedded, reversal_index(char_mask)))[0]
    last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, forward.shape[2])  # (num_words, 1, char_hidden)
    return torch.cat([forward.gather(1, last).squeeze(1), backward.gather(1, last).squeeze(1)], dim=1)
