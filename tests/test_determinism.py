"""The same seed gives the same model with several CPU threads, and with any number of them: no operation whose
backward pass adds up in the order threads finish (plain indexing's index_put_ did, in the char encoder and document
pooling), and none that splits its sums by the thread count (oneDNN's conv1d weight gradient, LAPACK's QR under the
orthogonal initialisation did). Training can then change its thread count as the machine's load changes."""

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


def model_and_batch(preset: str):
    config = load_config(
        preset=preset, overrides=["model.embedding_dropout=0", "model.recurrent_dropout=0", "model.output_dropout=0"]
    )
    sentences = read_corpus(EWT_TRAIN, config.corpus)[0][:128]  # many repeated words, as any real batch has
    vocab = build_vocab([s.words for s in sentences], {t for s in sentences for t in s.tags}, "none", config.vocab)
    torch.manual_seed(0)
    model = build_model(config.model, vocab)
    encoded = encode_sentences([s.words for s in sentences], model.features, vocab, [s.tags for s in sentences])
    return model, build_batch(encoded, model.features, config.model.document_context)


def gradients(model, batch) -> dict[str, torch.Tensor]:
    model.zero_grad()
    model.loss(batch).backward()
    return {name: param.grad.clone() for name, param in model.named_parameters()}


def differing(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> list[str]:
    return [name for name in first if not torch.equal(first[name], second[name])]


@pytest.mark.parametrize("preset", ["default", "accurate"])
def test_gradients_are_bitwise_equal_across_backward_passes_with_two_threads(preset, two_threads):
    model, batch = model_and_batch(preset)
    first = gradients(model, batch)
    for _ in range(4):  # before the fix, the char encoder's gradients differed within a few passes
        assert differing(first, gradients(model, batch)) == []


@pytest.mark.parametrize("preset", ["default", "accurate"])
def test_the_same_seed_builds_the_same_model_and_gradients_on_one_thread_and_two(preset, two_threads):
    built, grads = [], []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        model, batch = model_and_batch(preset)
        built.append({name: value.clone() for name, value in model.state_dict().items()})
        grads.append(gradients(model, batch))
    assert differing(*built) == []  # the orthogonal initialisation's QR split its sums by the thread count
    assert differing(*grads) == []  # so did oneDNN's conv1d weight gradient in the char-CNN
