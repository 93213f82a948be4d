"""Sentences -> padded tensors. The one path from words to tensors: training, evaluation and tagging share it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch

from tagger.features import InputFeature
from tagger.features.base import padded
from tagger.vocab import PAD_ID, Vocab


@dataclass(frozen=True)
class EncodedSentence:
    words: tuple[str, ...]
    forms: tuple[str, ...]  # the words normalised as the vocabulary does (lower case, digits -> 0)
    inputs: tuple[Any, ...]  # one value per input feature, in the model's order of features
    tag_ids: tuple[int, ...] | None
    document: int = 0  # sentences of one document in one batch share word context

    def __len__(self) -> int:
        return len(self.words)


@dataclass
class Batch:
    inputs: dict[str, Any]  # feature name -> its tensor or tuple of tensors (see tagger.features)
    lengths: torch.Tensor  # (batch_size,) on the CPU, as pack_padded_sequence wants
    mask: torch.Tensor  # (batch_size, seq_len) True on real words
    tag_ids: torch.Tensor | None  # (batch_size, seq_len), PAD_ID where masked
    # (batch_size, seq_len): one id per distinct (document, normalised word) of the batch; 0 = padding
    context_index: torch.Tensor | None = None

    def to(self, device: torch.device) -> Batch:
        def move(value: Any) -> Any:
            if isinstance(value, tuple):
                return tuple(move(v) for v in value)
            return value.to(device, non_blocking=True) if isinstance(value, torch.Tensor) else value

        moved = {f.name: move(getattr(self, f.name)) for f in fields(self) if f.name != "lengths"}
        moved["inputs"] = {name: move(value) for name, value in self.inputs.items()}
        return Batch(lengths=self.lengths, **moved)


def encode_sentences(
    word_seqs: Sequence[Sequence[str]],
    features: Sequence[InputFeature],
    vocab: Vocab,
    tag_seqs: Sequence[Sequence[str]] | None = None,
    documents: Sequence[int] | None = None,
) -> list[EncodedSentence]:
    """Each feature encodes all the sentences at once (an encoder runs in batches), each sentence once.
    ``documents`` numbers each sentence's document; without it the sentences are one document."""
    documents = [0] * len(word_seqs) if documents is None else documents
    per_feature = [feature.encode_in_documents(word_seqs, documents) for feature in features]
    encoded = []
    for index, words in enumerate(word_seqs):
        tags = None if tag_seqs is None else tuple(vocab.label_id(t) for t in tag_seqs[index])
        forms = tuple(vocab.encode_word(w)[0] for w in words)
        encoded.append(
            EncodedSentence(
                tuple(words),
                forms,
                tuple(values[index] for values in per_feature),
                tags,
                documents[index],
            )
        )
    return encoded


def encode_sentence(
    words: Sequence[str],
    features: Sequence[InputFeature],
    vocab: Vocab,
    tags: Sequence[str] | None = None,
    document: int = 0,
) -> EncodedSentence:
    return encode_sentences([words], features, vocab, None if tags is None else [tags], [document])[0]


def build_batch(sentences: Sequence[EncodedSentence], features: Sequence[InputFeature], context: bool = False) -> Batch:
    """Pad a list of encoded sentences; every sentence must have at least one word.

    With ``context``, ``context_index`` groups the words of the batch by document and normalised form.
    Each tensor is filled in one step from the words of all sentences in a row (no loop per sentence).
    """
    lengths = torch.tensor([len(s) for s in sentences], dtype=torch.long)
    mask = torch.arange(int(lengths.max()))[None, :] < lengths[:, None]  # (batch_size, seq_len)
    inputs = {f.name: f.collate([s.inputs[i] for s in sentences], mask) for i, f in enumerate(features)}
    known = [s.tag_ids for s in sentences if s.tag_ids is not None]
    tag_ids = padded(known, mask, PAD_ID) if len(known) == len(sentences) else None
    context_index = None
    if context:
        contexts: dict[tuple[int, str], int] = {}
        context_index = padded(
            [[contexts.setdefault((s.document, form), len(contexts) + 1) for form in s.forms] for s in sentences], mask
        )
    return Batch(inputs, lengths, mask, tag_ids, context_index)
