"""The model's input features without torch: each one's name, when a configuration has it, the values it encodes
for a sentence and, when it can be exported, its inputs in the ONNX network and the numpy arrays that fill them.

Each class here is the torch-free half of one feature. Its torch half in ``tagger.features`` extends it with the
module that embeds the feature, and the tensors of its batches are these same arrays; ``tagger.portable`` feeds an
exported network with them, so PyTorch and onnxruntime see the same ids by construction. ``FEATURES`` is the table
of features. A new one is a class and a row here, its torch half in ``features/`` and its setting in ``config.py``
(``tests/test_feature_contract.py`` checks every row, and its toy feature is added that way).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, ClassVar

import numpy as np

from tagger.config import ModelConfig
from tagger.errors import setting
from tagger.vocab import PAD_ID, Vocab

PER_WORD = ("batch", "length")  # the axes of a per-word input, (batch_size, seq_len)


@dataclass(frozen=True)
class GraphInput:
    """One input of the exported network: its name, its axes (every one dynamic, named as the ONNX file names
    them) and its element type."""

    name: str
    axes: tuple[str, ...]
    dtype: str = "int64"


class FeatureSpec(ABC):
    """``name`` keys the feature's value in a batch; ``module_name`` is its module's attribute on the model, and so
    the prefix of its weights in model.safetensors; ``implementation`` names its torch half (``package.module.Class``),
    which is imported only when a model is built."""

    name: ClassVar[str]
    module_name: ClassVar[str]
    implementation: ClassVar[str]

    @staticmethod
    @abstractmethod
    def enabled(config: ModelConfig) -> bool:
        """Whether a model of ``config`` has this feature."""

    @classmethod
    def export_refusal(cls, config: ModelConfig) -> str | None:
        """Why a model with this feature cannot be exported, as the rest of a sentence that names the model
        directory first; None when it can."""
        return (
            f"uses the input feature '{cls.name}', which declares no inputs of an exported network; "
            "export a model trained without it"
        )

    @abstractmethod
    def encode(self, sentences: Sequence[Sequence[str]]) -> list[Any]:
        """One value per sentence (word ids, vectors, ...), computed once and kept with the sentence."""

    def encode_in_documents(self, sentences: Sequence[Sequence[str]], documents: Sequence[int]) -> list[Any]:
        """``encode`` for sentences numbered by their document (``document_windows`` groups them). A feature whose
        value for a sentence depends on the sentences around it overrides this; the others read each alone."""
        return self.encode(sentences)


class ExportableSpec(FeatureSpec):
    """A feature an exported network takes: its ``graph_inputs``, in the order the network takes them, and
    ``arrays``, their values for a batch. Its ids come from the words and the vocabulary alone, which an export
    holds, so the portable tagger builds it from the vocabulary."""

    graph_inputs: ClassVar[tuple[GraphInput, ...]]

    def __init__(self, vocab: Vocab):
        self.vocab = vocab

    @classmethod
    def export_refusal(cls, config: ModelConfig) -> str | None:
        return None

    @abstractmethod
    def arrays(self, values: Sequence[Any], mask: np.ndarray) -> tuple[np.ndarray, ...]:
        """The batch's graph inputs, in the order of ``graph_inputs``, from its sentences' values (``encode``);
        ``mask`` (batch_size, seq_len) is true on real words."""


class WordIdsSpec(ExportableSpec):
    """Word ids: the normalised word (lower case, digits -> 0), <unk> for a word the vocabulary lacks."""

    name, module_name = "words", "word_embedding"
    implementation = "tagger.features.words.WordIds"
    graph_inputs = (GraphInput("words", PER_WORD),)  # word ids, PAD_ID at padding

    @staticmethod
    def enabled(config: ModelConfig) -> bool:
        return True  # every model reads its words

    def encode(self, sentences: Sequence[Sequence[str]]) -> list[tuple[int, ...]]:
        encode_word = self.vocab.encode_word  # remembers each distinct word: most words of a text repeat
        return [tuple(encode_word(word)[1] for word in words) for words in sentences]

    def arrays(self, values: Sequence[Sequence[int]], mask: np.ndarray) -> tuple[np.ndarray, ...]:
        return (padded(values, mask, PAD_ID),)


class CharactersSpec(ExportableSpec):
    """Each word's characters (the first ``vocab.max_word_len``). A batch carries each of its distinct words once
    (``char_ids``) and, per position, which one it is (``char_index``): the char encoder then runs once per word
    type, not once per word. The distinct words come longest first, so that the char-CNN, when tagging, can
    convolve runs of them in widths near their own (``features/chars.py``); any order gives the same values."""

    name, module_name = "chars", "char_encoder"
    implementation = "tagger.features.chars.Characters"
    graph_inputs = (
        # char ids of each distinct word of the batch, PAD_ID after its end; row 0 is the padding word
        GraphInput("char_ids", ("word_types", "word_length")),
        GraphInput("char_index", PER_WORD),  # each position's row of char_ids, 0 at padding
    )

    @staticmethod
    def enabled(config: ModelConfig) -> bool:
        return config.char_encoder != "none"

    def encode(self, sentences: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
        return [tuple(words) for words in sentences]

    def arrays(self, values: Sequence[Sequence[str]], mask: np.ndarray) -> tuple[np.ndarray, ...]:
        first_seen: dict[str, int] = {"": 0}  # row 0 is the padding word
        index = padded([[first_seen.setdefault(w, len(first_seen)) for w in words] for words in values], mask)
        words = list(first_seen)
        lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
        # longest first after the padding word; a stable sort keeps the rows of one batch the same on every run
        order = np.concatenate(([0], 1 + np.argsort(-np.minimum(lengths[1:], self.vocab.max_word_len), kind="stable")))
        row_of = np.empty_like(order)
        row_of[order] = np.arange(len(order))
        return build_char_ids([words[i] for i in order], self.vocab), row_of[index]


class CasingSpec(ExportableSpec):
    """Casing classes (numeric, upper, initial_upper, ...): the word ids are lowercased, so case comes back here."""

    name, module_name = "casing", "casing_embedding"
    implementation = "tagger.features.casing.Casing"
    graph_inputs = (GraphInput("casing", PER_WORD),)  # casing class ids, 0 at padding

    @staticmethod
    def enabled(config: ModelConfig) -> bool:
        return bool(config.casing_dim)

    def encode(self, sentences: Sequence[Sequence[str]]) -> list[tuple[int, ...]]:
        encode_word = self.vocab.encode_word
        return [tuple(encode_word(word)[2] for word in words) for words in sentences]

    def arrays(self, values: Sequence[Sequence[int]], mask: np.ndarray) -> tuple[np.ndarray, ...]:
        return (padded(values, mask, 0),)


class ContextualSpec(FeatureSpec):
    """Features from a frozen BERT-style encoder that is not part of the model (``features/contextual.py``)."""

    name, module_name = "contextual", "contextual"
    implementation = "tagger.features.contextual.Contextual"

    @staticmethod
    def enabled(config: ModelConfig) -> bool:
        return bool(config.contextual)

    @classmethod
    def export_refusal(cls, config: ModelConfig) -> str | None:
        return (
            f"uses contextual features ({setting('model.contextual', config.contextual)}), "
            "which cannot be exported yet: they come from a frozen encoder that is not part of the model and runs "
            "on word pieces from its own tokenizer, so the export would need that encoder as a second network "
            "and the tokenizer without torch; export a model trained without them"
        )


class CharLMSpec(FeatureSpec):
    """States of frozen character language models, which the model holds (``features/charlm.py``)."""

    name, module_name = "charlm", "charlm"
    implementation = "tagger.features.charlm.CharLM"

    @staticmethod
    def enabled(config: ModelConfig) -> bool:
        return bool(config.charlm)

    @classmethod
    def export_refusal(cls, config: ModelConfig) -> str | None:
        return (
            f"uses character language models ({setting('model.charlm', config.charlm)}), "
            "which cannot be exported yet: the export would need each LM run over the sentence's characters "
            "and its states picked at the word boundaries; export a model trained without them"
        )


# name -> feature, in the order their embeddings are concatenated: a saved model's weights and an export's inputs
# follow it
FEATURES: dict[str, type[FeatureSpec]] = {
    spec.name: spec for spec in (WordIdsSpec, CharactersSpec, CasingSpec, ContextualSpec, CharLMSpec)
}


def model_features(config: ModelConfig) -> list[type[FeatureSpec]]:
    """The features a model of ``config`` has, in the order their embeddings are concatenated."""
    return [spec for spec in FEATURES.values() if spec.enabled(config)]


def padded(values: Sequence[Sequence[int]], mask: np.ndarray, fill: int = 0) -> np.ndarray:
    """(batch_size, seq_len) int64 array of per-word ids, ``fill`` at padding; filled in one step."""
    array = np.full(mask.shape, fill, dtype=np.int64)
    array[mask] = np.fromiter(chain.from_iterable(values), dtype=np.int64, count=int(mask.sum()))
    return array


def build_char_ids(words: Sequence[str], vocab: Vocab) -> np.ndarray:
    """(num_words, word_len) char ids, PAD_ID after each word's end; the empty word (padding) is all PAD_ID."""
    rows = [vocab.char_ids(w) if w else () for w in words]
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    width = max(1, int(lengths.max()))
    array = np.full((len(rows), width), PAD_ID, dtype=np.int64)
    array[np.arange(width)[None, :] < lengths[:, None]] = np.fromiter(
        chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum())
    )
    return array
