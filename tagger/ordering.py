"""The order in which sentences are batched, and long sentences cut, for training and tagging alike: plain Python,
so training (``tagger.training``) and tagging on either runtime, PyTorch or the torch-free onnxruntime
(``tagger.tagging.base``), batch the same sentences together, which document context depends on."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

MAX_CONTEXT_SENTENCES = 128  # a longer document shares word context in windows of this many sentences
MIN_BATCH = 8  # sentences a tagging batch is not cut below to save padding
MAX_PADDING = 0.1  # tagging batches end early rather than be padded beyond 10% of their words (bucketed_batches)
MAX_WORDS = 1000  # longer sentences are tagged in pieces and rejoined, keeping memory bounded


def bucketed_batches(
    lengths: Sequence[int],
    batch_size: int,
    shuffle: bool,
    rng: random.Random | None = None,
    max_padding: float | None = None,
) -> Iterator[list[int]]:
    """Index lists of sentences of similar length, so batches carry little padding.

    Shuffling sorts within random chunks of 50 batches and then shuffles the batch order, keeping
    the order random across epochs without mixing short and long sentences in one batch.
    ``max_padding`` (tagging) also ends a batch of at least MIN_BATCH sentences early when padding would
    make it more than that fraction longer than its words: the few long sentences of a corpus are spread
    over many lengths, and padding a batch of them to the longest cost eng.testb 30% more work at batch 256.
    """
    order = list(range(len(lengths)))
    if shuffle:
        (rng or random).shuffle(order)
    chunk = max(1, batch_size * 50 if shuffle else len(order))
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        batch: list[int] = []
        words = 0
        for index in sorted(order[start : start + chunk], key=lambda i: lengths[i]):
            padded = (len(batch) + 1) * lengths[index]  # longest last: the batch's padded size with this one
            if len(batch) >= batch_size or (
                max_padding and len(batch) >= MIN_BATCH and padded > (1 + max_padding) * (words + lengths[index])
            ):
                batches.append(batch)
                batch, words = [], 0
            batch.append(index)
            words += lengths[index]
        if batch:
            batches.append(batch)
    if shuffle:
        (rng or random).shuffle(batches)
    yield from batches


def document_windows(documents: Sequence[int]) -> list[list[int]]:
    """Indices of consecutive sentences of one document, in windows of at most MAX_CONTEXT_SENTENCES: what
    document context pools over, and what a character LM reads as one text (``model.charlm_document``)."""
    windows: list[list[int]] = []
    for index, document in enumerate(documents):
        if not windows or documents[windows[-1][-1]] != document or len(windows[-1]) >= MAX_CONTEXT_SENTENCES:
            windows.append([])
        windows[-1].append(index)
    return windows


def document_batches(
    documents: Sequence[int], batch_size: int, shuffle: bool, rng: random.Random | None = None
) -> Iterator[list[int]]:
    """Index lists of whole documents, at least ``batch_size`` sentences each when documents allow.

    Document context pools over the sentences of a document inside one batch, so a batch never cuts a
    document, except one longer than MAX_CONTEXT_SENTENCES, which is cut into windows of that many.
    """
    windows = document_windows(documents)
    if shuffle:
        (rng or random).shuffle(windows)
    batch: list[int] = []
    for window in windows:
        batch.extend(window)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def split_long(sentences: Sequence[Sequence[str]]) -> tuple[list[Sequence[str]], list[list[int]]]:
    """Cut sentences longer than MAX_WORDS; ``owners[i]`` lists the pieces of sentence i in order."""
    pieces: list[Sequence[str]] = []
    owners: list[list[int]] = []
    for sentence in sentences:
        starts = range(0, max(len(sentence), 1), MAX_WORDS)
        owners.append(list(range(len(pieces), len(pieces) + len(starts))))
        pieces.extend(sentence[s : s + MAX_WORDS] for s in starts)
    return pieces, owners
