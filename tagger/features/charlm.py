"""Character language-model features: each word's states from a frozen forward and backward character LM
(Flair's contextual string embeddings, Akbik et al. 2018), taken at the offsets Flair 0.13.1 takes them.

A sentence is its words joined by single spaces, ``text`` (``L = len(text)``; word i spans ``[s_i, e_i)``). An LM
reads ``delimiter + text + " "`` (forward) or ``delimiter + text[::-1] + " "`` (backward: the whole string
reversed character by character), from zero states; the delimiter is the LM's ``document_delimiter`` ("\\n").
Its output at input index ``t`` is the LSTM's hidden state (before the decoder; after the projection, if the LM
has one) once it has read input character ``t``. Text character ``j`` is input index ``1 + j`` forward and
``L - j`` backward, so each word's state is at

=============  ====================================================  ===========================================
LM             ``whitespace`` (Flair's ``with_whitespace=True``)      ``whitespace=False``
=============  ====================================================  ===========================================
forward        ``1 + e_i``: the space after the word (the final " ")  ``e_i``: its last character
backward       ``L - s_i + 1``: the space before it (the final " ")   ``L - s_i``: its first character
=============  ====================================================  ===========================================

(``boundary_positions``; tests/test_charlm_feature.py checks them against a walk over the characters and against
Flair's own offset loop). With ``model.charlm_document`` the text is a document's window of sentences
(``tagger.ordering.document_windows``) joined the same way, so each LM's state carries across its sentences.
A word's feature is the forward LM's state, then the backward LM's: 2 × 1,024 wide for Flair's news LMs.
``whitespace`` is the default: it probed 77.57 dev F1 on CoNLL-2003 against 76.64.

The LMs are frozen and travel inside the model: their weights, characters (as code points), unknown id and
delimiter are buffers of the feature's module (``charlm.forward_lm.*``, ``charlm.backward_lm.*`` in
model.safetensors, stored fp16), so a trained model tags where no LM is installed and is built from its own
weights when loaded. Training reads the LMs from their converted folders (``tagger lm install``) and rounds them
to fp16 first, so training and tagging see the same LM (a model trained on the float32 LMs gave the same tag to
all 51,362 CoNLL-2003 dev words with either: scripts/benchmarks/charlm_fp16.py). Training computes each distinct sentence
once and keeps it (fp16, up to ``CACHE_BYTES``; past that, sentences are computed again whenever a batch holds
them); tagging computes every batch's sentences on the fly, both directions batched across sentences by
characters. A sentence's states are the same bits alone or in any batch, on one thread or two (Flair's LMs on
CoNLL-2003), so neither the batching nor threads that follow the load change a tag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from tagger.charlm.store import charlm_folder, read_charlm
from tagger.config import ModelConfig
from tagger.errors import ConfigError, setting
from tagger.feature_specs import CharLMSpec
from tagger.features.base import FeatureModule, InputFeature
from tagger.ordering import document_windows
from tagger.vocab import Vocab

DIRECTIONS = ("forward", "backward")  # the order of the feature's parts, whatever the order of model.charlm
BATCH_CHARS = 4_096  # padded characters per LM call (rows x longest string); 2,048 to 4,096 ran fastest on one thread
DOCUMENT_BATCH_CHARS = 16_384  # the same for documents, whose strings are longer: 4,096 took 2.3x as long (CoNLL dev)
CACHE_BYTES = 2 * 1024**3  # training's kept features: CoNLL-2003's 300,000 words take 1.2 GB at 2,048 wide in fp16
STORED_DTYPE = torch.float16  # the LMs' weights as a model stores them (and as training rounds them)
NOT_A_CHARACTER = -1  # code of a dictionary entry that is no single character (<unk>): no input maps to it
RNN_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def load_charlm_folder(spec: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A converted LM (an installed name such as ``news-forward-fast``, or a folder): its lm.json and its float32
    arrays, checked against each other."""
    return read_charlm(charlm_folder(spec))


def lm_buffers(metadata: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The tensors a ``FrozenCharLM`` holds, from a converted folder: the LSTM, the projection if any, the
    characters as code points, the unknown id and the delimiter; weights rounded to ``STORED_DTYPE``."""
    if metadata.get("layers") != 1:
        raise ConfigError(f"character LM {metadata.get('name')!r}: {metadata.get('layers')} layers; one is supported")
    delimiter = metadata.get("document_delimiter")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ConfigError(f"character LM {metadata.get('name')!r}: document_delimiter {delimiter!r} is no character")

    def weight(name: str) -> torch.Tensor:
        return torch.from_numpy(np.array(arrays[name], dtype=np.float32)).to(STORED_DTYPE).float()

    buffers = {"embedding": weight("embedding.weight")}
    buffers |= {name: weight(f"rnn.{name}_l0") for name in RNN_NAMES}
    if "proj.weight" in arrays:
        buffers |= {"proj_weight": weight("proj.weight"), "proj_bias": weight("proj.bias")}
    codes = [ord(c) if isinstance(c, str) and len(c) == 1 else NOT_A_CHARACTER for c in metadata["characters"]]
    buffers["characters"] = torch.tensor(codes, dtype=torch.int32)
    buffers["unk_id"] = torch.tensor(int(metadata["unk_id"]), dtype=torch.int32)
    buffers["delimiter"] = torch.tensor(ord(delimiter), dtype=torch.int32)
    return buffers


def output_dim(buffers: Mapping[str, torch.Tensor]) -> int:
    """An LM's state width: its projection's, or its LSTM's hidden size."""
    if "proj_weight" in buffers:
        return buffers["proj_weight"].shape[0]  # (projection, hidden)
    return buffers["weight_hh"].shape[1]  # (4 * hidden, hidden)


class FrozenCharLM(nn.Module):
    """One character LM as buffers (frozen: no parameters, so no optimiser, average or int8 pass touches it);
    ``forward`` runs the LSTM over whole strings of character ids in one fused call."""

    embedding: torch.Tensor  # buffers registered in __init__, declared for the type checker
    proj_weight: torch.Tensor  # (an LM with a projection)
    proj_bias: torch.Tensor

    def __init__(self, buffers: Mapping[str, torch.Tensor]):
        super().__init__()
        for name, tensor in buffers.items():
            self.register_buffer(name, tensor)
        self.hidden_size = buffers["weight_hh"].shape[1]
        self.output_dim = output_dim(buffers)
        codes = buffers["characters"].tolist()
        self.ids = {chr(code): i for i, code in reversed(list(enumerate(codes))) if code != NOT_A_CHARACTER}
        self.unknown = int(buffers["unk_id"])
        self.start = chr(int(buffers["delimiter"]))

    def char_ids(self, text: str) -> list[int]:
        return [self.ids.get(c, self.unknown) for c in text]

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        """(rows, length) ids -> (rows, length, output_dim) states, each after reading its character, in the buffers'
        precision (bf16 where the tagger runs in bf16: it converts the whole model, these buffers included)."""
        weights = [getattr(self, name) for name in RNN_NAMES]
        embedded = nn.functional.embedding(char_ids, self.embedding)  # (rows, length, embedding)
        zeros = embedded.new_zeros(1, char_ids.shape[0], self.hidden_size)  # (layers, rows, hidden)
        states = torch.lstm(embedded, (zeros, zeros), weights, True, 1, 0.0, False, False, True)[0]
        if hasattr(self, "proj_weight"):
            states = nn.functional.linear(states, self.proj_weight, self.proj_bias)
        return states  # (rows, length, output_dim)


def lm_input(words: Sequence[str], backward: bool, start: str) -> str:
    text = " ".join(words)
    return start + (text[::-1] if backward else text) + " "


def boundary_positions(words: Sequence[str], backward: bool, whitespace: bool) -> list[int]:
    """Each word's index in ``lm_input(words, backward, start)`` (see the table in the module's docstring)."""
    length = len(words) - 1 + sum(len(word) for word in words)  # len(" ".join(words))
    positions, start = [], 0
    for word in words:
        end = start + len(word)
        positions.append((length - start if backward else end) + whitespace)
        start = end + 1
    return positions


class CharLMInput(FeatureModule):
    """Holds the frozen LMs (their buffers are the model's to save and load) and passes the features on in the
    model's precision, through a trained linear map to ``projection`` wide if one is asked for; the feature runs
    the LMs (in training, before any batch exists)."""

    dtype_probe: torch.Tensor  # the buffer registered in __init__, declared for the type checker

    def __init__(self, lms: Mapping[str, Mapping[str, torch.Tensor]], projection: int = 0):
        super().__init__()
        self.forward_lm = FrozenCharLM(lms["forward"]) if "forward" in lms else None
        self.backward_lm = FrozenCharLM(lms["backward"]) if "backward" in lms else None
        states_dim = sum(lm.output_dim for lm in self.lms())
        self.projection = nn.Linear(states_dim, projection) if projection else None
        self.output_dim = projection or states_dim
        self.register_buffer("dtype_probe", torch.zeros(()), persistent=False)  # follows .to(bfloat16)

    def lms(self) -> list[FrozenCharLM]:
        return [lm for lm in (self.forward_lm, self.backward_lm) if lm is not None]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        states = inputs.to(self.dtype_probe.dtype)  # (batch_size, seq_len, states_dim)
        return states if self.projection is None else self.projection(states)  # (batch_size, seq_len, output_dim)


class CharLM(CharLMSpec, InputFeature):
    """``model.charlm``'s LMs. ``weights``: a saved model's tensors, which hold the LMs (no folder is read then)."""

    frozen_network = True

    def __init__(self, config: ModelConfig, weights: Mapping[str, torch.Tensor] | None = None):
        self.whitespace = config.charlm_whitespace
        self.document = config.charlm_document
        self.projection = config.charlm_projection
        self.lms = lms_from_weights(weights, config) if weights is not None else lms_from_folders(config.charlm)
        self.dim = sum(output_dim(lm) for lm in self.lms.values())
        self.module: CharLMInput | None = None
        # a sentence's words -> its features; with ``document``, a window's sentences -> each one's features
        self._cache: dict[tuple[Any, ...], Any] | None = None  # None: text to tag is new, keep nothing
        self._cached_bytes = 0

    @classmethod
    def for_model(cls, config: ModelConfig, vocab: Vocab, weights: Mapping[str, torch.Tensor] | None) -> CharLM:
        return cls(config, weights)

    def build_module(self) -> CharLMInput:
        # the LMs run from it: wherever the model moves them, and as loaded
        self.module = CharLMInput(self.lms, self.projection)
        return self.module

    def keep_encodings(self) -> None:
        """Training: each sentence's features are kept (fp16), up to ``CACHE_BYTES``."""
        if self._cache is None:
            self._cache = {}

    def encode(self, sentences: Sequence[Sequence[str]]) -> list[torch.Tensor | tuple[str, ...]]:
        """Kept features where training keeps them; otherwise the words, which ``collate`` runs the LMs on."""
        keys = [tuple(words) for words in sentences]
        if self._cache is None:
            return list(keys)
        missing, room = [], CACHE_BYTES - self._cached_bytes
        for key in dict.fromkeys(k for k in keys if k not in self._cache):
            room -= len(key) * self.dim * 2
            if room < 0:
                break
            missing.append(key)
        for key, features in zip(missing, self.features(missing), strict=True):
            self._cache[key] = features
            self._cached_bytes += features.numel() * features.element_size()
        return [self._cache.get(key, key) for key in keys]

    def encode_in_documents(
        self, sentences: Sequence[Sequence[str]], documents: Sequence[int]
    ) -> list[torch.Tensor | tuple[str, ...]]:
        """With ``document``, each window of a document's sentences (``document_windows``) is one LM text: the
        features are computed here, for the whole window at once, and kept where training keeps them."""
        if not self.document:
            return self.encode(sentences)
        windows = document_windows(documents)
        keys = [tuple(tuple(sentences[i]) for i in window) for window in windows]
        known = {} if self._cache is None else {key: self._cache[key] for key in keys if key in self._cache}
        missing = [key for key in dict.fromkeys(keys) if key not in known]
        texts = [[word for sentence in key for word in sentence] for key in missing]
        for key, states in zip(missing, self.features(texts, DOCUMENT_BATCH_CHARS), strict=True):
            known[key] = states.split([len(sentence) for sentence in key])
            if self._cache is not None and self._cached_bytes + states.nbytes <= CACHE_BYTES:
                self._cache[key] = known[key]
                self._cached_bytes += states.nbytes
        values: list[torch.Tensor | tuple[str, ...]] = [torch.zeros(0, self.dim, dtype=torch.float16)] * len(sentences)
        for window, key in zip(windows, keys, strict=True):
            for i, part in zip(window, known[key], strict=True):
                values[i] = part
        return values

    def collate(self, values: Sequence[torch.Tensor | tuple[str, ...]], mask: torch.Tensor) -> torch.Tensor:
        words = {i: value for i, value in enumerate(values) if not isinstance(value, torch.Tensor)}
        computed = dict(zip(words, self.features(list(words.values())), strict=True))
        batch = torch.zeros(*mask.shape, self.dim)  # (batch_size, seq_len, dim)
        kept = [value if isinstance(value, torch.Tensor) else computed[i] for i, value in enumerate(values)]
        batch[mask] = torch.cat(kept).float()
        return batch

    @torch.inference_mode()
    def features(self, sentences: Sequence[Sequence[str]], batch_chars: int = BATCH_CHARS) -> list[torch.Tensor]:
        """(num_words, dim) fp16 CPU features per sentence (or per document's words, read as one text): each LM's
        states at the words' boundaries, side by side."""
        module = self.module
        if module is None:
            raise RuntimeError("the LMs run from the model's module: build_module() first")
        parts = [
            self.run(lm, sentences, lm is module.backward_lm, batch_chars) for lm in module.lms()
        ]  # per LM, per sentence: (num_words, lm.output_dim)
        return [torch.cat(per_lm, dim=1) for per_lm in zip(*parts, strict=True)]

    def run(
        self, lm: FrozenCharLM, sentences: Sequence[Sequence[str]], backward: bool, batch_chars: int
    ) -> list[torch.Tensor]:
        """One LM's states at each sentence's word boundaries, the strings batched by length, ``batch_chars``
        padded characters per call."""
        texts = [lm_input(words, backward, lm.start) for words in sentences]
        results = [torch.zeros(0, lm.output_dim, dtype=torch.float16)] * len(sentences)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        device = lm.embedding.device
        start = 0
        while start < len(order):
            longest = len(texts[order[start]])
            end = start + max(1, min(len(order) - start, batch_chars // longest))
            rows = order[start:end]
            char_ids = torch.zeros(len(rows), longest, dtype=torch.long)  # padding: read after every word
            for row, i in enumerate(rows):
                char_ids[row, : len(texts[i])] = torch.tensor(lm.char_ids(texts[i]))
            states = lm(char_ids.to(device))  # (rows, longest, output_dim)
            spots = [boundary_positions(sentences[i], backward, self.whitespace) for i in rows]
            row_index = torch.tensor(
                [r for r, found in enumerate(spots) for _ in found], dtype=torch.long, device=device
            )
            position = torch.tensor([p for found in spots for p in found], dtype=torch.long, device=device)
            picked = states[row_index, position].to("cpu", torch.float16)  # (words of these rows, output_dim)
            for i, part in zip(rows, picked.split([len(found) for found in spots]), strict=True):
                results[i] = part
            start = end
        return results


def lms_from_folders(spec: str) -> dict[str, dict[str, torch.Tensor]]:
    """Each LM of ``model.charlm`` by its direction: at most one forward and one backward."""
    lms: dict[str, dict[str, torch.Tensor]] = {}
    for name in (part.strip() for part in spec.split(",")):
        metadata, arrays = load_charlm_folder(name)
        direction = metadata.get("direction")
        if direction not in DIRECTIONS:
            raise ConfigError(f"character LM {name!r}: direction {direction!r}; expected forward or backward")
        if direction in lms:
            raise ConfigError(
                f"{setting('model.charlm', spec)}: two {direction} LMs; name one forward and one backward"
            )
        lms[direction] = lm_buffers(metadata, arrays)
    return {direction: lms[direction] for direction in DIRECTIONS if direction in lms}


def lms_from_weights(weights: Mapping[str, torch.Tensor], config: ModelConfig) -> dict[str, dict[str, torch.Tensor]]:
    """The LMs a saved model holds (its ``charlm.*`` tensors), by direction."""
    lms: dict[str, dict[str, torch.Tensor]] = {}
    for direction in DIRECTIONS:
        prefix = f"{CharLM.module_name}.{direction}_lm."
        found = {name[len(prefix) :]: t for name, t in weights.items() if name.startswith(prefix)}
        if found:
            lms[direction] = found
    if not lms or any(
        not {"embedding", "characters", "unk_id", "delimiter", *RNN_NAMES} <= lm.keys() for lm in lms.values()
    ):
        raise ConfigError(
            f"the model's weights do not hold the character LMs its configuration names "
            f"({setting('model.charlm', config.charlm)}); config.json and model.safetensors come from different models"
        )
    return lms
