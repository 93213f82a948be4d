"""Sentences -> padded tensors. The one path from words to tensors: training, evaluation and tagging share it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import chain
from typing import Iterable, Iterator, Sequence

import torch

from tagger.vocab import PAD_ID, Vocab

MAX_CONTEXT_SENTENCES = 128
MIN_BATCH = 8  # sentences a tagging batch is not cut below to save padding  # a longer document shares word context in windows of this many sentences


@dataclass(frozen=True)
class EncodedSentence:
    words: tuple[str, ...]
    forms: tuple[str, ...]  # the words normalised as the vocabulary does (lower case, digits -> 0)
    word_ids: tuple[int, ...]
    casing_ids: tuple[int, ...]
    tag_ids: tuple[int, ...] | None
    document: int = 0  # sentences of one document in one batch share word context


@dataclass
class Batch:
    word_ids: torch.Tensor  # (batch_size, seq_len)
    casing_ids: torch.Tensor  # (batch_size, seq_len)
    char_ids: torch.Tensor  # (num_unique_words, word_len): each distinct word of the batch once
    char_index: torch.Tensor  # (batch_size, seq_len): row of char_ids for each word; 0 = padding
    lengths: torch.Tensor  # (batch_size,) on the CPU, as pack_padded_sequence wants
    mask: torch.Tensor  # (batch_size, seq_len) True on real words
    tag_ids: torch.Tensor | None  # (batch_size, seq_len), PAD_ID where masked
    # (batch_size, seq_len): one id per distinct (document, normalised word) of the batch; 0 = padding
    context_index: torch.Tensor | None = None

    def to(self, device: torch.device) -> "Batch":
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=True)

        return Batch(move(self.word_ids), move(self.casing_ids), move(self.char_ids), move(self.char_index),
                     self.lengths, move(self.mask), move(self.tag_ids), move(self.context_index))


def encode_sentence(words: Sequence[str], vocab: Vocab, tags: Sequence[str] | None = None,
                    document: int = 0) -> EncodedSentence:
    tag_ids = None if tags is None else tuple(vocab.label_id(t) for t in tags)
    forms, word_ids, casing_ids = zip(*map(vocab.encode_word, words)) if len(words) else ((), (), ())
    return EncodedSentence(tuple(words), forms, word_ids, casing_ids, tag_ids, document)


def build_batch(sentences: Sequence[EncodedSentence], vocab: Vocab, context: bool = False) -> Batch:
    """Pad a list of encoded sentences; every sentence must have at least one word.

    With ``context``, ``context_index`` groups the words of the batch by document and normalised form.
    Each tensor is filled in one step from the words of all sentences in a row (no loop per sentence).
    """
    lengths = torch.tensor([len(s.word_ids) for s in sentences], dtype=torch.long)
    mask = torch.arange(int(lengths.max()))[None, :] < lengths[:, None]  # (batch_size, seq_len)

    def padded(values: Iterable[int], fill: int = PAD_ID) -> torch.Tensor:
        tensor = torch.full(mask.shape, fill, dtype=torch.long)
        tensor[mask] = torch.tensor(list(values), dtype=torch.long)
        return tensor

    unique_rows: dict[str, int] = {"": 0}  # row 0 is the padding word
    char_index = padded(unique_rows.setdefault(w, len(unique_rows)) for s in sentences for w in s.words)
    tag_ids = None
    if all(s.tag_ids is not None for s in sentences):
        tag_ids = padded(chain.from_iterable(s.tag_ids for s in sentences))
    context_index = None
    if context:
        contexts: dict[tuple[int, str], int] = {}
        context_index = padded(contexts.setdefault((s.document, form), len(contexts) + 1)
                               for s in sentences for form in s.forms)
    return Batch(padded(chain.from_iterable(s.word_ids for s in sentences)),
                 padded(chain.from_iterable(s.casing_ids for s in sentences), fill=0),
                 build_char_ids(list(unique_rows), vocab), char_index, lengths, mask, tag_ids, context_index)


def build_char_ids(words: list[str], vocab: Vocab) -> torch.Tensor:
    """(num_words, word_len) char ids, PAD_ID after each word's end; the empty word (padding) is all PAD_ID."""
    rows = [vocab.char_ids(w) if w else () for w in words]
    lengths = torch.tensor([len(r) for r in rows])
    width = max(1, int(lengths.max()))
    char_ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
    char_ids[torch.arange(width)[None, :] < lengths[:, None]] = torch.tensor(list(chain.from_iterable(rows)),
                                                                           dtype=torch.long)
    return char_ids


def bucketed_batches(lengths: Sequence[int], batch_size: int, shuffle: bool, rng: random.Random | None = None,
                     max_padding: float | None = None) -> Iterator[list[int]]:
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
        for index in sorted(order[start: start + chunk], key=lambda i: lengths[i]):
            padded = (len(batch) + 1) * lengths[index]  # longest last: the batch's padded size with this one
            if len(batch) >= batch_size or (max_padding and len(batch) >= MIN_BATCH
                                            and padded > (1 + max_padding) * (words + lengths[index])):
                batches.append(batch)
                batch, words = [], 0
            batch.append(index)
            words += lengths[index]
        if batch:
            batches.append(batch)
    if shuffle:
        (rng or random).shuffle(batches)
    yield from batches


def document_batches(documents: Sequence[int], batch_size: int, shuffle: bool, rng: random.Random | None = None
                     ) -> Iterator[list[int]]:
    """Index lists of whole documents, at least ``batch_size`` sentences each when documents allow.

    Document context pools over the sentences of a document inside one batch, so a batch never cuts a
    document, except one longer than MAX_CONTEXT_SENTENCES, which is cut into windows of that many.
    """
    windows: list[list[int]] = []
    for index, document in enumerate(documents):
        if not windows or documents[windows[-1][-1]] != document or len(windows[-1]) >= MAX_CONTEXT_SENTENCES:
            windows.append([])
        windows[-1].append(index)
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
