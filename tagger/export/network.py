"""The trained network as one traceable function of plain integer tensors, for ONNX export.

``ExportableNetwork`` reuses the trained modules of a ``BiLSTMTagger`` (input features, recurrent layers, output
layer) and changes only what an ONNX graph cannot hold as the model writes it:

- each input feature runs on its own graph inputs, as the feature says (``ExportableFeature.export_forward``: the
  char-BiLSTM, which packs its words, as two one-way LSTMs);
- the recurrent layers pack nothing either: here each direction reads the sentence reversed within its length,
  with the reversal computed from ``lengths`` with shape operations only, so every axis of batch, sentence
  length, distinct words and word length stays dynamic;
- document context pools with ``index_add_``: here with ``scatter_add`` (ONNX ScatterElements, reduction add).

Inputs (``tagger.portable.files.graph_inputs``): each input feature's (``tagger.feature_specs``), ``lengths`` and,
with document context, ``context_index``; output ``emissions`` (batch_size, seq_len, num_tags) float32, 0 at
padding. ``tagger.portable.encoding`` builds the same inputs with numpy.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from tagger.errors import ConfigError
from tagger.feature_specs import PER_WORD
from tagger.features import ExportableFeature, FeatureModule
from tagger.features.base import gather_rows
from tagger.features.traceable import reorder, reversal_index
from tagger.model import BiLSTMTagger
from tagger.portable.files import CONTEXT_INDEX, LENGTHS, input_names


class ExportableNetwork(nn.Module):
    """``BiLSTMTagger`` (in eval mode) from plain tensors to emissions; see the module's docstring."""

    def __init__(self, model: BiLSTMTagger):
        super().__init__()
        unsupported = [f.name for f in model.features if not isinstance(f, ExportableFeature)]
        if unsupported:
            raise ConfigError(f"cannot export a model with the input features {', '.join(unsupported)}")
        self.model = model.eval()
        self.config = model.config
        self.names = input_names(self.config)
        self.features = [f for f in model.features if isinstance(f, ExportableFeature)]
        # a per-word input gives the sentences' padded length (the words', which every model has)
        self.per_word = next(g.name for f in self.features for g in f.graph_inputs if g.axes == PER_WORD)
        self.feature_modules: dict[str, dict[str, nn.Module]] = {}  # feature name -> what its export_modules made
        for feature in self.features:
            made = feature.export_modules(self.trained_module(feature))
            for name, module in made.items():
                self.add_module(name, module)
            self.feature_modules[feature.name] = made
        self.eval()  # the exporter puts the module back in the mode it found it in: eval, so no dropout after it

    def trained_module(self, feature: ExportableFeature) -> FeatureModule:
        module = getattr(self.model, feature.module_name)
        assert isinstance(module, FeatureModule)  # the model added it under that name
        return module

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        named = dict(zip(self.names, inputs))
        lengths = named[LENGTHS]
        words = named[self.per_word]
        positions = torch.arange(words.shape[1], device=words.device).unsqueeze(0)  # (1, seq_len)
        mask = positions < lengths.unsqueeze(1)  # (batch_size, seq_len)
        parts = [
            feature.export_forward(
                self.trained_module(feature),
                [named[graph_input.name] for graph_input in feature.graph_inputs],
                self.feature_modules[feature.name],
            )
            for feature in self.features
        ]
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
