"""Contextual features: each word's vector from a small frozen encoder (a BERT-style model installed as a
package, or any such folder), the mean of its word pieces over the encoder's last layers.

The encoder runs once per distinct sentence and its features are remembered, so training pays for it once,
not once per epoch. Sentences longer than the encoder's window are encoded in consecutive windows cut between
words. The encoder is not part of the model directory: it is loaded from its package by name when the model is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from tagger.config import ModelConfig
from tagger.errors import ConfigError
from tagger.feature_specs import ContextualSpec
from tagger.features.base import FeatureModule, InputFeature
from tagger.features.bert import BertEncoder, WordPiece, load_bert
from tagger.pinned_packages import ENCODER, PACKAGES, is_package_name, package_data_dir, packages_of
from tagger.vocab import Vocab

LAST_LAYERS = 4  # averaged: the feature-based BERT NER of Devlin et al. (2019) pooled the last four
BATCH_PIECES = 8_192  # word pieces per encoder batch


def encoder_folder(spec: str) -> Path:
    """An encoder package's name (``tagger.pinned_packages``), or a folder holding config.json, vocab.txt,
    model.safetensors."""
    if is_package_name(spec, ENCODER):
        return package_data_dir(PACKAGES[spec])
    folder = Path(spec)
    if not folder.is_dir():
        raise ConfigError(
            f"contextual encoder '{spec}' is neither an encoder package "
            f"({', '.join(packages_of(ENCODER))}) nor a folder with a BERT-style model"
        )
    return folder


_LOADED: dict[str, tuple[BertEncoder, WordPiece]] = {}  # a process reads each encoder once, however many models


class ContextualInput(FeatureModule):
    """No weights of its own (the encoder is frozen and lives outside the model): it passes the features on
    in the model's precision."""

    dtype_probe: torch.Tensor  # the buffer registered in __init__, declared for the type checker

    def __init__(self, dim: int):
        super().__init__()
        self.output_dim = dim
        self.register_buffer("dtype_probe", torch.zeros(()), persistent=False)  # follows .to(bfloat16)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.to(self.dtype_probe.dtype)  # (batch_size, seq_len, dim)


class Contextual(ContextualSpec, InputFeature):
    frozen_network = True

    def __init__(self, spec: str):
        if spec not in _LOADED:
            _LOADED[spec] = load_bert(encoder_folder(spec))
        self.encoder, self.tokenizer = _LOADED[spec]
        self.dim = self.encoder.hidden_size
        self.window = self.encoder.max_positions - 2  # [CLS] and [SEP]
        self.device = torch.device("cpu")
        self.precision = torch.float32  # the encoder's: bfloat16 runs it under autocast (tagger.precision)
        self._cache: dict[tuple[str, ...], torch.Tensor] | None = None  # None: text to tag is new, keep nothing

    @classmethod
    def for_model(cls, config: ModelConfig, vocab: Vocab, weights: Mapping[str, torch.Tensor] | None) -> Contextual:
        return cls(config.contextual)

    def to(self, device: torch.device) -> Contextual:
        self.encoder.to(device)
        self.device = device
        return self

    def set_precision(self, dtype: torch.dtype) -> None:
        self.precision = dtype

    def keep_encodings(self) -> None:
        """Training: every sentence's features are kept (fp16; 0.23 GB for CoNLL-2003's 300,000 words at 384 wide)."""
        if self._cache is None:
            self._cache = {}

    def encode(self, sentences: Sequence[Sequence[str]]) -> list[torch.Tensor]:
        if self._cache is None:
            return self.features(sentences)
        keys = [tuple(words) for words in sentences]
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        self._cache.update(zip(missing, self.features(missing)))
        return [self._cache[k] for k in keys]

    def collate(self, values: Sequence[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        batch = torch.zeros(*mask.shape, self.dim)  # (batch_size, seq_len, dim)
        batch[mask] = torch.cat(list(values)).float()
        return batch

    def build_module(self) -> ContextualInput:
        return ContextualInput(self.dim)

    @torch.inference_mode()
    def features(self, sentences: Sequence[Sequence[str]]) -> list[torch.Tensor]:
        """(num_words, dim) fp16 features per sentence, computed in batches of windows of similar length."""
        windows, owners = [], []  # word-piece windows, and (sentence, first word, word piece counts) of each
        for index, words in enumerate(sentences):
            pieces = [self.tokenizer.word_ids(w) for w in words]
            for start, end in self._cut(pieces):
                windows.append([p for word in pieces[start:end] for p in word])
                owners.append((index, [len(word) for word in pieces[start:end]]))
        results: list[list[tuple[int, torch.Tensor]]] = [[] for _ in sentences]
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and (end - start + 1) * (len(windows[order[end]]) + 2) <= BATCH_PIECES:
                end += 1
            chosen = order[start:end]
            pooled = self._encode_windows([windows[i] for i in chosen])
            for i, window_features in zip(chosen, pooled):
                results[owners[i][0]].append((i, self._pool(window_features, owners[i][1])))
            start = end
        return [
            torch.cat([f for _, f in sorted(parts, key=lambda x: x[0])])
            if parts
            else torch.zeros(0, self.dim, dtype=torch.float16)
            for parts in results
        ]

    def _cut(self, pieces: list[tuple[int, ...]]) -> list[tuple[int, int]]:
        """Word ranges whose pieces fit the window (a word longer than the window keeps its first pieces)."""
        ranges, start, size = [], 0, 0
        for index, word in enumerate(pieces):
            if size and size + len(word) > self.window:
                ranges.append((start, index))
                start, size = index, 0
            size += len(word)
        return ranges + [(start, len(pieces))] if pieces else ranges

    def _encode_windows(self, windows: list[list[int]]) -> list[torch.Tensor]:
        """Each window's (num_pieces, dim) mean of the last layers, [CLS] and [SEP] dropped."""
        windows = [w[: self.window] for w in windows]
        length = max(len(w) for w in windows) + 2
        piece_ids = torch.zeros(len(windows), length, dtype=torch.long)
        for row, window in enumerate(windows):
            piece_ids[row, : len(window) + 2] = torch.tensor([self.tokenizer.cls, *window, self.tokenizer.sep])
        padding = piece_ids == 0
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == torch.bfloat16):
            layers = self.encoder(piece_ids.to(self.device), padding.to(self.device))
        mixed = self.mix_layers([layer.float() for layer in layers]).cpu()  # (windows, length, dim)
        return [mixed[row, 1 : len(window) + 1] for row, window in enumerate(windows)]

    def mix_layers(self, layers: list[torch.Tensor]) -> torch.Tensor:
        """(windows, length, dim) from every layer's output: the mean of the last four."""
        return torch.stack(layers[-LAST_LAYERS:]).mean(dim=0)

    def _pool(self, window_features: torch.Tensor, piece_counts: list[int]) -> torch.Tensor:
        """(num_words, dim) fp16: each word the mean of its pieces; a word without pieces gets zeros."""
        counts = torch.tensor(piece_counts)
        owner = torch.repeat_interleave(torch.arange(len(piece_counts)), counts)[: window_features.shape[0]]
        sums = torch.zeros(len(piece_counts), self.dim).index_add_(0, owner, window_features)
        found = torch.zeros(len(piece_counts)).index_add_(0, owner, torch.ones(len(owner)))
        return (sums / found.clamp(min=1).unsqueeze(1)).half()
