"""The same seed gives the same model with several CPU threads, and with any number of them: no operation whose
backward pass adds up in the order threads finish (plain indexing's index_put_ did, in the char encoder and document
pooling), and none that splits its sums by the thread count (oneDNN's conv1d weight gradient, LAPACK's QR under the
orthogonal initialisation did). Training can then change its thread count as the machine's load changes."""

from __future__ import annotations

import gzip
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import tagger.threads
from tagger.batching import build_batch, encode_sentences
from tagger.config import load_config
from tagger.corpus import read_corpus
from tagger.cpu import describe_cpu
from tagger.model import build_model
from tagger.threads import LoadFollowingThreads, same_bits_on_one_thread
from tagger.training import DataSource, train
from tagger.vocab import build_vocab

EWT_TRAIN = Path(__file__).resolve().parent.parent / "corpora" / "ud_en_ewt" / "en_ewt-ud-train.conllu.gz"


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def model_and_batch(preset: str, batch_sentences: int = 128):
    """A model of UD EWT's 17 tags (an output layer of 5 to 11 labels sums its weight gradient by the thread count
    on some CPUs, which training's probe catches: tagger.training.loop.follow_the_load_in_training) and a batch of
    it."""
    config = load_config(
        preset=preset, overrides=["model.embedding_dropout=0", "model.recurrent_dropout=0", "model.output_dropout=0"]
    )
    sentences = read_corpus(EWT_TRAIN, config.corpus)[0][:128]  # many repeated words, as real batches have
    vocab = build_vocab([s.words for s in sentences], {t for s in sentences for t in s.tags}, "none", config.vocab)
    torch.manual_seed(0)
    model = build_model(config.model, vocab)
    chosen = sentences[:batch_sentences]
    encoded = encode_sentences([s.words for s in chosen], model.features, vocab, [s.tags for s in chosen])
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


@pytest.mark.parametrize("preset,sentences", [("default", 128), ("accurate", 128), ("accurate", 1)])
def test_the_same_seed_builds_the_same_model_and_gradients_on_one_thread_and_two(preset, sentences, two_threads):
    # one sentence: a document of one sentence is a batch of one, whose LSTM backward pass split its sums by the
    # thread count (tagger.model.run_cell); it made 2 epochs of --preset accurate differ at step 336
    built, grads = [], []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        model, batch = model_and_batch(preset, sentences)
        built.append({name: value.clone() for name, value in model.state_dict().items()})
        grads.append(gradients(model, batch))
    assert differing(*built) == []  # the orthogonal initialisation's QR split its sums by the thread count
    split = differing(*grads)  # oneDNN's conv1d weight gradient in the char-CNN did, on every CPU, until fixed
    if split:
        # Some CPUs split a small matrix product's sums by the thread count (with document context, the output
        # layer's weight gradient on an Intel Xeon with AVX-512 and AMX). Training's probe must then see it and hold
        # its threads, so that the same seed still gives the same model
        # (tagger.training.loop.follow_the_load_in_training).
        assert not same_bits_on_one_thread(lambda: list(gradients(model, batch).values()))
        pytest.skip(
            f"needs a CPU whose kernels keep their sums whatever the thread count; on {describe_cpu()} these "
            f"gradients differ between 1 and 2 threads: {', '.join(split[:3])}{' ...' if len(split) > 3 else ''} "
            "(training's probe saw it, so training holds its thread count there)"
        )


class LoadThatComesAndGoes(LoadFollowingThreads):
    """Another process that takes a CPU and gives it back at every step: one thread, then all of them."""

    def check(self) -> int:
        self.threads = 1 if self.threads > 1 else self.most
        self.set_threads(self.threads)
        return self.threads


def ewt_sample(folder: Path, sentences: int) -> Path:
    blocks = gzip.open(EWT_TRAIN, "rt", encoding="utf-8").read().split("\n\n")[:sentences]
    path = folder / "sample.conllu"
    path.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("model", ["default", "tiny"])
def test_a_load_that_comes_and_goes_changes_the_speed_and_not_the_model(
    model, ner_files, tiny_config, tmp_path, monkeypatch, two_threads
):
    if model == "default":  # UD EWT's 17 tags: the thread count may follow the load
        config = load_config(overrides=["train.epochs=1"])
        source = DataSource(ewt_sample(tmp_path, 300), ewt_sample(tmp_path, 40))
    else:  # 9 tags: on some CPUs the output layer's gradient is summed by the thread count, which must not show
        config = replace(tiny_config, train=replace(tiny_config.train, epochs=4, word_dropout=0.1))
        source = DataSource(*ner_files)
    steady = train(replace(config, train=replace(config.train, threads=2)), source, tmp_path / "steady")
    monkeypatch.setattr(tagger.threads, "LoadFollowingThreads", LoadThatComesAndGoes)
    coming_and_going = train(config, source, tmp_path / "busy")
    assert (tmp_path / "busy" / "model.safetensors").read_bytes() == (
        tmp_path / "steady" / "model.safetensors"
    ).read_bytes()
    assert not steady.metrics["threads_follow_load"]  # train.threads set: fixed
    if model == "default":
        assert coming_and_going.metrics["threads_follow_load"]


def test_batches_tagged_at_once_on_one_thread_each_give_the_tags_and_probabilities_of_all_threads(
    trained_model, monkeypatch, two_threads
):
    from tagger.tagging.torch_tagger import Tagger

    sentences = [s.words for s in read_corpus(EWT_TRAIN, load_config().corpus)[0][:300]]
    steady = Tagger.load(trained_model, device="cpu", threads=2)
    assert steady.batch_workers == 1  # a count given: one batch at a time on both threads
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(tagger.threads, "usable_cpus", lambda: 2)
    parallel = Tagger.load(trained_model, device="cpu")
    # By default tagging runs a batch on each CPU, each on one thread (threads.set_tagging_threads), which a load
    # slows without changing a bit (the tiny model's forward pass has no sum split by the thread count here)
    assert parallel.batch_workers == 2 and torch.get_num_threads() == 1
    expected = steady.tag(sentences, scores=True, batch_size=16)
    assert parallel.tag(sentences, scores=True, batch_size=16) == expected
