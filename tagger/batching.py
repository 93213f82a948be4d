"""Sentences -> padded tensors. The one path from words to tensors: training, evaluation and tagging share it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from tagger.vocab import PAD_ID, Vocab, word_to_casing

MAX_CONTEXT_SENTENCES = 128  # a longer document shares word context in windows of this many sentences


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
    forms = tuple(vocab.normalise(w) for w in words)
    return EncodedSentence(
        words=tuple(words),
        forms=forms,
        word_ids=tuple(vocab.form_id(f) for f in forms),
        casing_ids=tuple(word_to_casing(w) for w in words),
        tag_ids=tag_ids,
        document=document,
    )


def build_batch(sentences: Sequence[EncodedSentence], vocab: Vocab, context: bool = False) -> Batch:
    """Pad a list of encoded sentences; every sentence must have at least one word.

    With ``context``, ``context_index`` groups the words of the batch by document and normalised form.
    """
    batch_size, seq_len = len(sentences), max(len(s.word_ids) for s in sentences)
    word_ids = torch.full((batch_size, seq_len), PAD_ID, dtype=torch.long)
    casing_ids = torch.zeros((batch_size, seq_len), dtype=torch.long)
    char_index = torch.zeros((batch_size, seq_len), dtype=torch.long)
    has_tags = all(s.tag_ids is not None for s in sentences)
    tag_ids = torch.full((batch_size, seq_len), PAD_ID, dtype=torch.long) if has_tags else None
    context_index = torch.zeros((batch_size, seq_len), dtype=torch.long) if context else None
    unique_rows: dict[str, int] = {"": 0}  # row 0 is the padding word
    contexts: dict[tuple[int, str], int] = {}
    for i, sentence in enumerate(sentences):
        n = len(sentence.word_ids)
        word_ids[i, :n] = torch.tensor(sentence.word_ids)
        casing_ids[i, :n] = torch.tensor(sentence.casing_ids)
        char_index[i, :n] = torch.tensor([unique_rows.setdefault(w, len(unique_rows)) for w in sentence.words])
        if context_index is not None:
            context_index[i, :n] = torch.tensor([contexts.setdefault((sentence.document, form), len(contexts) + 1)
                                                 for form in sentence.forms])
        if tag_ids is not None:
            tag_ids[i, :n] = torch.tensor(sentence.tag_ids)
    lengths = torch.tensor([len(s.word_ids) for s in sentences], dtype=torch.long)
    mask = torch.arange(seq_len)[None, :] < lengths[:, None]
    return Batch(word_ids, casing_ids, build_char_ids(list(unique_rows), vocab), char_index, lengths, mask, tag_ids,
                 context_index)


def build_char_ids(words: list[str], vocab: Vocab) -> torch.Tensor:
    rows = [vocab.char_ids(w) if w else [] for w in words]
    width = max(1, max(len(r) for r in rows))
    char_ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)  # (num_unique_words, word_len)
    for i, row in enumerate(rows):
        if row:
            char_ids[i, : len(row)] = torch.tensor(row)
    return char_ids


def bucketed_batches(lengths: Sequence[int], batch_size: int, shuffle: bool, rng: random.Random | None = None
                     ) -> Iterator[list[int]]:
    """Index lists of sentences of similar length, so batches carry little padding.

    Shuffling sorts within random chunks of 50 batches and then shuffles the batch order, keeping
    the order random across epochs without mixing short and long sentences in one batch.
    """
    order = list(range(len(lengths)))
    if shuffle:
        (rng or random).shuffle(order)
    chunk = max(1, batch_size * 50 if shuffle else len(order))
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start: start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i: i + batch_size] for i in range(0, len(part), batch_size))
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
