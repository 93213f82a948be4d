"""Sentences -> the exported network's inputs, in numpy: the same ids as the PyTorch path (``tagger.features`` and
``tagger.batching``), which imports torch, and the same batches (``tests/test_export.py`` checks both).

Word and casing ids and each word's characters come from ``Vocab`` itself (torch-free, and its per-word cache is
shared), so only the padding into arrays is written again here.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np

from tagger.portable.files import CASING, CHAR_IDS, CHAR_INDEX, CONTEXT_INDEX, LENGTHS, WORDS
from tagger.vocab import PAD_ID, Vocab


def padded(values: Sequence[Sequence[int]], mask: np.ndarray, fill: int = 0) -> np.ndarray:
    """(batch_size, seq_len) int64 array of per-word ids, ``fill`` at padding (``tagger.features.base.padded``)."""
    array = np.full(mask.shape, fill, dtype=np.int64)
    array[mask] = np.fromiter(chain.from_iterable(values), dtype=np.int64, count=int(mask.sum()))
    return array


def char_ids(words: Sequence[str], vocab: Vocab) -> np.ndarray:
    """(num_words, word_len) char ids, PAD_ID after each word's end (``tagger.features.chars.build_char_ids``)."""
    rows = [vocab.char_ids(w) if w else () for w in words]
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    width = max(1, int(lengths.max()))
    array = np.full((len(rows), width), PAD_ID, dtype=np.int64)
    array[np.arange(width)[None, :] < lengths[:, None]] = np.fromiter(
        chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum())
    )
    return array


def encode_batch(
    sentences: Sequence[Sequence[str]], documents: Sequence[int], vocab: Vocab, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """The network's inputs ``names`` for a batch of non-empty sentences (``documents``: each one's document)."""
    lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
    mask = np.arange(int(lengths.max()))[None, :] < lengths[:, None]  # (batch_size, seq_len)
    encode_word = vocab.encode_word
    encoded = [[encode_word(w) for w in words] for words in sentences]  # (form, word id, casing id) per word
    inputs: dict[str, np.ndarray] = {LENGTHS: lengths}
    if WORDS in names:
        inputs[WORDS] = padded([[e[1] for e in row] for row in encoded], mask, PAD_ID)
    if CHAR_IDS in names:
        unique_rows: dict[str, int] = {"": 0}  # row 0 is the padding word
        index = [[unique_rows.setdefault(w, len(unique_rows)) for w in words] for words in sentences]
        inputs[CHAR_INDEX] = padded(index, mask)
        inputs[CHAR_IDS] = char_ids(list(unique_rows), vocab)
    if CASING in names:
        inputs[CASING] = padded([[e[2] for e in row] for row in encoded], mask, 0)
    if CONTEXT_INDEX in names:
        contexts: dict[tuple[int, str], int] = {}
        inputs[CONTEXT_INDEX] = padded(
            [
                [contexts.setdefault((document, e[0]), len(contexts) + 1) for e in row]
                for row, document in zip(encoded, documents)
            ],
            mask,
        )
    return {name: inputs[name] for name in names}
