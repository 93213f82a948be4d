"""The same seed gives the same model with several CPU threads: no operation whose backward pass adds up in
the order threads finish (plain indexing's index_put_ did, in the char encoder and document pooling)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tagger.batching import build_batch, encode_sentences
from tagger.config import load_config
from tagger.corpus import read_corpus
from tagger.model import build_model
from tagger.vocab import build_vocab

EWT_TRAIN = Path(__file__).resolve().parent.parent / "corpora" / "ud_en_ewt" / "en_ewt-ud-train.conllu.gz"


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("preset", ["default", "accurate"])
def test_gradients_are_bitwise_equal_across_backward_passes_with_two_threads(preset, two_threads):
    config = load_config(
        preset=preset, overrides=["model.embedding_dropout=0", "model.recurrent_dropout=0", "model.output_dropout=0"]
    )
    sentences = read_corpus(EWT_TRAIN, config.corpus)[0][:128]  # many repeated words, as any real batch has
    vocab = build_vocab([s.words for s in sentences], {t for s in sentences for t in s.tags}, "none", config.vocab)
    torch.manual_seed(0)
    model = build_model(config.model, vocab)
    encoded = encode_sentences([s.words for s in sentences], model.features, vocab, [s.tags for s in sentences])
    batch = build_batch(encoded, model.features, config.model.document_context)

    def gradients() -> dict[str, torch.Tensor]:
        model.zero_grad()
        model.loss(batch).backward()
        return {name: param.grad.clone() for name, param in model.named_parameters()}

    first = gradients()
    for _ in range(4):  # before the fix, the char encoder's gradients differed within a few passes
        again = gradients()
        assert [name for name in first if not torch.equal(first[name], again[name])] == []
