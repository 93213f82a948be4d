"""The trained network as one traceable function of plain integer tensors, for ONNX export.

``ExportableNetwork`` reuses the trained modules of a ``BiLSTMTagger`` (embeddings, char-CNN, recurrent layers,
output layer) and changes only what an ONNX graph cannot hold as the model writes it:

- the char-BiLSTM packs its words (``pack_padded_sequence``): here each direction is a one-way LSTM with the
  trained weights, the backward one reading each word reversed within its length, and each word's final
  states are read at its last character, which is what packing computes;
- document context pools with ``index_add_``: here with ``scatter_add`` (ONNX ScatterElements, reduction add);
- the mask comes from ``lengths``, and sentence reversal is computed from it with shape operations only, so
  every axis of batch, sentence length, distinct words and word length stays dynamic.

Inputs (names in ``tagger.portable.files``): ``words``, ``char_ids`` + ``char_index`` (char encoder),
``casing`` (casing feature), ``lengths``, ``context_index`` (document context); output ``emissions``
(batch_size, seq_len, num_tags) float32, 0 at padding. ``tagger.portable.encoding`` builds the same inputs
with numpy.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from tagger.errors import ConfigError
from tagger.features.base import gather_rows
from tagger.features.chars import CharLSTM
from tagger.model import BiLSTMTagger
from tagger.portable.files import (
    CASING,
    CHAR_IDS,
    CHAR_INDEX,
    CONTEXT_INDEX,
    LENGTHS,
    WORDS,
    input_names,
)
from tagger.vocab import PAD_ID

SUPPORTED_FEATURES = ("words", "chars", "casing")


class ExportableNetwork(nn.Module):
    """``BiLSTMTagger`` (in eval mode) from plain tensors to emissions; see the module's docstring."""

    def __init__(self, model: BiLSTMTagger):
        super().__init__()
        unsupported = [f.name for f in model.features if f.name not in SUPPORTED_FEATURES]
        if unsupported:
            raise ConfigError(f"cannot export a model with the input features {', '.join(unsupported)}")
        self.model = model.eval()
        self.config = model.config
        self.names = input_names(self.config)
        self.char_directions: nn.ModuleList | None = None
        if self.config.char_encoder == "lstm":
            assert isinstance(model.char_encoder, CharLSTM)
            self.char_directions = one_way_lstms(model.char_encoder.lstm)
        self.eval()  # the exporter puts the module back in the mode it found it in: eval, so no dropout after it

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        named = dict(zip(self.names, inputs))
        lengths = named[LENGTHS]
        words = named[WORDS]
        positions = torch.arange(words.shape[1], device=words.device).unsqueeze(0)  # (1, seq_len)
        mask = positions < lengths.unsqueeze(1)  # (batch_size, seq_len)
        parts = [self.model.word_embedding(words)]
        if CHAR_IDS in named:
            parts.append(gather_rows(self.char_words(named[CHAR_IDS]), named[CHAR_INDEX]))
        if CASING in named:
            parts.append(self.model.casing_embedding(named[CASING]))
        hidden = torch.cat(parts, dim=-1)  # (batch_size, seq_len, input_dim)
        pool = None
        if self.config.document_context:
            index = named[CONTEXT_INDEX]
            pool = lambda states: pool_by_scatter(states, index)
        hidden = self.recurrent(hidden, mask, pool if self.config.context_between_layers else None)
        if pool is not None:
            hidden = torch.cat([hidden, pool(hidden)], dim=-1)
        emissions = self.model.output(hidden)  # (batch_size, seq_len, num_tags)
        # zero at padding: a graph contract (padding was junk), and every export takes ``lengths`` (a one-way
        # network would otherwise not use it, and the exporter drops unused inputs)
        return emissions.masked_fill(~mask.unsqueeze(2), 0.0)

    def char_words(self, char_ids: torch.Tensor) -> torch.Tensor:
        """(num_words, char feature dim) for (num_words, word_len) char ids, as the model's char encoder."""
        encoder = self.model.char_encoder
        if self.char_directions is None:
            return encoder.encode_words(char_ids)  # char-CNN: plain tensor operations
        lengths = (char_ids != PAD_ID).sum(dim=1).clamp(min=1)  # (num_words,)
        embedded = encoder.embedding(char_ids)  # (num_words, word_len, char_dim)
        char_mask = torch.arange(char_ids.shape[1], device=char_ids.device).unsqueeze(0) < lengths.unsqueeze(1)
        forward = self.char_directions[0](embedded)[0]  # (num_words, word_len, char_hidden)
        backward = self.char_directions[1](reorder(embedded, reversal_index(char_mask)))[0]
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, forward.shape[2])  # (num_words, 1, char_hidden)
        return torch.cat([forward.gather(1, last).squeeze(1), backward.gather(1, last).squeeze(1)], dim=1)

    def recurrent(
        self, inputs: torch.Tensor, mask: torch.Tensor, pool: Callable[[torch.Tensor], torch.Tensor] | None
    ) -> torch.Tensor:
        """``tagger.model.Recurrent.forward`` in eval mode (no dropout), with an export-safe reversal."""
        reverse = reversal_index(mask)
        hidden = inputs
        for depth, directions in enumerate(self.model.rnn.layers):
            assert isinstance(directions, nn.ModuleList)  # a layer's cells, one per direction
            if depth and pool is not None:
                hidden = torch.cat([hidden, pool(hidden)], dim=-1)
            outputs = [directions[0](hidden)[0]]  # (batch_size, seq_len, hidden)
            if len(directions) > 1:
                outputs.append(reorder(directions[1](reorder(hidden, reverse))[0], reverse))
            hidden = torch.cat(outputs, dim=-1)
        return hidden


def one_way_lstms(lstm: nn.LSTM) -> nn.ModuleList:
    """The two directions of a one-layer bidirectional LSTM as two one-way LSTMs with its weights."""
    directions = nn.ModuleList()
    for suffix in ("", "_reverse"):
        one_way = nn.LSTM(lstm.input_size, lstm.hidden_size, batch_first=True)
        with torch.no_grad():
            for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                getattr(one_way, name).copy_(getattr(lstm, name + suffix))
        directions.append(one_way.eval())
    return directions


def reversal_index(mask: torch.Tensor) -> torch.Tensor:
    """Flat positions (rows * cols,) that reverse each row's real positions in place, padding left where it is
    (``tagger.model.reversal_index`` written with shape operations only, so that it traces with dynamic axes)."""
    positions = torch.cumsum(torch.ones_like(mask, dtype=torch.long), dim=1) - 1  # (rows, cols)
    lengths = mask.long().sum(dim=1, keepdim=True)  # (rows, 1)
    reversed_positions = torch.where(positions < lengths, lengths - 1 - positions, positions)
    row_starts = (torch.cumsum(torch.ones_like(lengths), dim=0) - 1) * mask.shape[1]  # (rows, 1)
    return (reversed_positions + row_starts).reshape(-1)


def reorder(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The rows of ``values`` (rows, cols, dim) in the flat order ``index``."""
    flat = values.reshape(-1, values.shape[2])
    return flat.index_select(0, index).reshape(values.shape)


def pool_by_scatter(hidden: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``tagger.model.pool_by_index`` with scatter_add: the mean of ``hidden`` over the positions sharing an id."""
    flat_hidden = hidden.reshape(-1, hidden.shape[-1])  # (positions, dim)
    flat_index = index.reshape(-1)  # (positions,)
    padded_hidden = torch.cat([flat_hidden, flat_hidden[:1]], dim=0)  # (positions + 1, dim): a bound on the ids
    sums = torch.zeros_like(padded_hidden).scatter_add(
        0, flat_index.unsqueeze(1).expand(-1, flat_hidden.shape[1]), flat_hidden
    )
    ones = torch.ones_like(flat_hidden[:, 0])  # (positions,)
    counts = torch.zeros_like(padded_hidden[:, 0]).scatter_add(0, flat_index, ones)  # (positions + 1,)
    means = sums / counts.clamp(min=1).unsqueeze(1)
    return gather_rows(means, index)  # (batch_size, seq_len, dim)
