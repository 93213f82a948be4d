"""Operations written so that the ONNX exporter traces them with every axis dynamic, for the parts of the model it
cannot trace as the model writes them: a bidirectional LSTM (packed in the model) as two one-way LSTMs with its
weights, and each row's real positions reversed in place with shape operations only. ``tagger.export`` uses them
for the recurrent layers, ``features/chars.py`` for the char-BiLSTM."""

from __future__ import annotations

import torch
from torch import nn


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
