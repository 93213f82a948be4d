"""Reduced-precision tagging (--quantize int8 | bf16) and tagging batches: same answers, faster."""

import json

import pytest
import torch

from tagger.ordering import bucketed_batches
from tagger.tagging.torch_tagger import Tagger
from tests.conftest import NER_SENTENCES
from tests.test_cli import assert_user_error, invoke

SENTENCES = [words.split() for words, _ in NER_SENTENCES]
GOLD = [tags.split() for _, tags in NER_SENTENCES]


@pytest.mark.parametrize("mode", ["int8", "bf16"])
def test_quantized_model_tags_like_the_fp32_model(trained_model, mode):
    fp32 = Tagger.load(trained_model, device="cpu")
    quantized = Tagger.load(trained_model, device="cpu", quantize=mode)
    assert fp32.tag(SENTENCES) == GOLD  # overfitted on these: a baseline that cannot be wrong
    assert quantized.tag(SENTENCES) == GOLD
    probabilities = [p for sentence in quantized.tag(SENTENCES, scores=True) for _, p in sentence]
    expected = [p for sentence in fp32.tag(SENTENCES, scores=True) for _, p in sentence]
    assert max(abs(p - q) for p, q in zip(probabilities, expected)) < 0.05


def test_int8_quantizes_the_recurrent_and_output_layers(trained_model):
    model = Tagger.load(trained_model, device="cpu", quantize="int8").model
    kinds = {type(module).__module__ for module in model.modules()}
    assert "torch.ao.nn.quantized.dynamic.modules.rnn" in kinds
    assert "torch.ao.nn.quantized.dynamic.modules.linear" in kinds


def test_evaluate_and_tag_accept_quantize(trained_model, ner_files, tmp_path):
    result = invoke("evaluate", trained_model, ner_files[0], "--json", "--quantize", "int8", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["conlleval"]["micro"]["f1"] == 1.0
    result = invoke(
        "tag",
        trained_model,
        ner_files[1],
        "--out",
        tmp_path / "out",
        "--quantize",
        "bf16",
        "--device",
        "cpu",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in (tmp_path / "out" / "dev.conll").read_text().splitlines() if line]
    assert len(rows) == sum(map(len, SENTENCES[:4])) and all(gold == predicted for _, gold, predicted in rows)


def test_bad_input_unknown_quantize_mode(trained_model, ner_files, tmp_path):
    assert_user_error(
        invoke("tag", trained_model, ner_files[1], "--out", tmp_path / "out", "--quantize", "fp16"),
        "--quantize 'fp16'",
        "none, int8, bf16",
    )


def test_tags_do_not_depend_on_batch_size(trained_model):
    """Tagging batches are cut by length and padding; no cut may change a sentence's tags."""
    generator = torch.Generator().manual_seed(0)
    words = [w for sentence in SENTENCES for w in sentence]
    sentences = [
        [words[i] for i in torch.randint(len(words), (int(n),), generator=generator)]
        for n in torch.randint(1, 60, (300,), generator=generator)
    ]
    tagger = Tagger.load(trained_model, device="cpu")
    one_by_one = [tagger.tag([s])[0] for s in sentences]
    assert tagger.tag(sentences, batch_size=256) == one_by_one
    assert tagger.tag(sentences, batch_size=7) == one_by_one


def test_tagging_batches_trade_a_little_padding_for_fewer_batches():
    lengths = [1] * 100 + list(range(2, 120))
    batches = list(bucketed_batches(lengths, 256, shuffle=False, max_padding=0.1))
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        longest, words = max(lengths[i] for i in batch), sum(lengths[i] for i in batch)
        assert len(batch) <= 8 or len(batch) * longest <= 1.1 * words
    assert len(batches) < len(lengths) / 4
