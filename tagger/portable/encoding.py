"""Sentences -> the exported network's inputs, in numpy: each exported feature's arrays (``tagger.feature_specs``,
which the PyTorch path turns into its tensors), the sentences' lengths and, with document context, the context ids
(``tagger.batching``'s; ``tests/test_export.py`` compares them), batched as the PyTorch path batches them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tagger.feature_specs import FEATURES, ExportableSpec, padded
from tagger.portable.files import CONTEXT_INDEX, LENGTHS
from tagger.vocab import Vocab


def exported_features(names: Sequence[str]) -> list[type[ExportableSpec]]:
    """The features of a network that takes the inputs ``names``, in their order: each feature's inputs are its own
    (``tagger.portable.files`` checks that an export lists those of its configuration)."""
    return [
        spec
        for spec in FEATURES.values()
        if issubclass(spec, ExportableSpec) and any(graph_input.name in names for graph_input in spec.graph_inputs)
    ]


def encode_batch(
    sentences: Sequence[Sequence[str]], documents: Sequence[int], vocab: Vocab, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """The network's inputs ``names`` for a batch of non-empty sentences (``documents``: each one's document)."""
    lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
    mask = np.arange(int(lengths.max()))[None, :] < lengths[:, None]  # (batch_size, seq_len)
    inputs: dict[str, np.ndarray] = {LENGTHS: lengths}
    for spec in exported_features(names):
        feature = spec(vocab)
        arrays = feature.arrays(feature.encode(sentences), mask)
        inputs.update(zip((graph_input.name for graph_input in spec.graph_inputs), arrays, strict=True))
    if CONTEXT_INDEX in names:
        inputs[CONTEXT_INDEX] = context_ids(sentences, documents, vocab, mask)
    return {name: inputs[name] for name in names}


def context_ids(
    sentences: Sequence[Sequence[str]], documents: Sequence[int], vocab: Vocab, mask: np.ndarray
) -> np.ndarray:
    """(batch_size, seq_len) one id per (document, normalised word) of the batch, from 1; 0 at padding."""
    encode_word = vocab.encode_word
    contexts: dict[tuple[int, str], int] = {}
    return padded(
        [
            [contexts.setdefault((document, encode_word(word)[0]), len(contexts) + 1) for word in words]
            for words, document in zip(sentences, documents)
        ],
        mask,
    )
