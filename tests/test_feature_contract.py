"""The contract of every input feature in ``tagger.feature_specs.FEATURES``, and of a toy one added as a new feature
is added (its torch-free half in tests/toy_feature.py, its torch half ``WordLength`` below, its row in the table by
the ``toy_feature`` fixture): the torch half extends the torch-free one; PyTorch and numpy give the same ids on
awkward words (unicode, words past max_word_len, unknown words, digits, empty and invisible tokens); and an export
works, tagging as PyTorch does, or is refused in one line. Nothing of the export or the portable tagger names the
toy feature: its model exports, and the export tags where torch cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest
import torch
from charlm_fixture import build_lm_folder
from conftest import NER_SENTENCES
from contextual_fixture import build_encoder_folder
from torch import nn
from toy_feature import NUM_IDS, WordLengthSpec

from tagger.config import Config, ModelConfig, VocabConfig, load_config
from tagger.errors import TaggerError
from tagger.feature_specs import FEATURES, PER_WORD, ExportableSpec, FeatureSpec, model_features
from tagger.features import ExportableFeature, FeatureModule, InputFeature, torch_half
from tagger.vocab import Vocab, build_vocab

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


class WordLengthEmbedding(nn.Embedding, FeatureModule):
    def __init__(self, dim: int):
        super().__init__(NUM_IDS, dim, padding_idx=0)
        self.output_dim = dim


class WordLength(WordLengthSpec, ExportableFeature):
    """The toy feature's torch half: its lengths through a small embedding (in the package, a file in features/)."""

    @classmethod
    def for_model(cls, config: ModelConfig, vocab: Vocab, weights: Mapping[str, torch.Tensor] | None) -> WordLength:
        return cls(vocab)

    def build_module(self) -> WordLengthEmbedding:
        return WordLengthEmbedding(3)


TINY = ["model.word_dim=12", "model.char_dim=6", "model.char_filters=5", "model.hidden=10"]
MAX_WORD_LEN = 8  # characters the char encoder keeps: several words below are longer

# case -> (the feature, the settings of a tiny model that has it, given a folder for what the feature reads)
CASES: dict[str, tuple[str, Callable[[Path], list[str]]]] = {
    "words": ("words", lambda folder: ["model.char_encoder=none", "model.casing_dim=0"]),
    "chars-cnn": ("chars", lambda folder: ["model.char_encoder=cnn"]),
    "chars-lstm": ("chars", lambda folder: ["model.char_encoder=lstm", "model.casing_dim=0"]),
    "casing": ("casing", lambda folder: ["model.char_encoder=none", "model.casing_dim=3"]),
    "contextual": ("contextual", lambda folder: [f"model.contextual={build_encoder_folder(folder / 'encoder')}"]),
    "charlm": (
        "charlm",
        lambda folder: [
            f"model.charlm={build_lm_folder(folder / 'forward')},{build_lm_folder(folder / 'backward', 'backward')}"
        ],
    ),
    "toy": (WordLengthSpec.name, lambda folder: []),  # always on while registered
}
SPECS: dict[str, type[FeatureSpec]] = {**FEATURES, WordLengthSpec.name: WordLengthSpec}
EXPORTABLE = [case for case, (name, _) in CASES.items() if issubclass(SPECS[name], ExportableSpec)]

AWKWARD = [
    ["John", "Smith", "lives", "in", "Paris", "."],
    ["Zürich", "Ünïcödé", "日本語", "e\u0301", "👍🏽", "ΑΘΗΝΑ"],  # accents, CJK, a combining mark, an emoji, Greek
    ["Donaudampfschifffahrt", "a" * 45, "Paris" * 3, "Berlin"],  # past MAX_WORD_LEN
    ["Xylophonist", "qwzx", "<unk>", "<pad>"],  # unknown words, and the special entries' own spellings
    ["2024", "3.14", "1,000,000", "٣٤", "x1y2", "COVID-19"],  # digits: ASCII, Arabic-Indic, mixed in
    ["", "\u200b", " ", "\t", "\u00a0", "\ufeff"],  # empty and invisible tokens
    ["--", "'s", "McDonald's", "PARIS", "paris", "pArIs"],
    ["John"],
]


@pytest.fixture
def toy_feature(monkeypatch):
    """The toy feature's row in the table of features (in the package, a line of ``feature_specs.FEATURES``)."""
    monkeypatch.setitem(FEATURES, WordLengthSpec.name, WordLengthSpec)


def config_for(case: str, folder: Path) -> Config:
    return load_config(None, TINY + CASES[case][1](folder))


def vocab_of_sentences() -> Vocab:
    tags = [tag for _, line in NER_SENTENCES for tag in line.split()]
    words = [sentence.split() for sentence, _ in NER_SENTENCES]
    return build_vocab(words, tags, "IOB2", VocabConfig(max_word_len=MAX_WORD_LEN))


def make_model(folder: Path, config: Config) -> Path:
    """A model with random weights, its output weights scaled up so that its emissions are as decided as a trained
    model's (the export is compared with PyTorch on the same weights: training adds nothing)."""
    from tagger.model import build_model
    from tagger.serialization import save_model

    vocab = vocab_of_sentences()
    torch.manual_seed(0)
    model = build_model(config.model, vocab)
    with torch.no_grad():
        model.output.weight.mul_(8.0)
    save_model(folder, config, vocab, model)
    return folder


def mask_of(sentences: list[list[str]]) -> torch.Tensor:
    lengths = torch.tensor([len(words) for words in sentences])
    return torch.arange(int(lengths.max()))[None, :] < lengths[:, None]  # (batch_size, seq_len)


def test_every_feature_of_the_table_has_a_case_here_and_its_own_names(toy_feature):
    from tagger.portable.files import CONTEXT_INDEX, EMISSIONS, LENGTHS

    assert set(FEATURES) <= {name for name, _ in CASES.values()}
    assert all(name == spec.name for name, spec in FEATURES.items())
    assert len({spec.module_name for spec in FEATURES.values()}) == len(FEATURES)  # each its own prefix of weights
    names = [g.name for spec in FEATURES.values() if issubclass(spec, ExportableSpec) for g in spec.graph_inputs]
    names += [LENGTHS, CONTEXT_INDEX, EMISSIONS]
    assert len(names) == len(set(names))  # each input of a network is one feature's, or the model's


@pytest.mark.parametrize("case", list(CASES))
def test_the_torch_half_extends_the_torch_free_half(case, toy_feature, tmp_path):
    name = CASES[case][0]
    spec = FEATURES[name]
    config = config_for(case, tmp_path).model
    feature = torch_half(spec)
    assert issubclass(feature, spec) and issubclass(feature, InputFeature) and spec.name == name
    assert spec in model_features(config)  # the case's settings enable it
    if issubclass(spec, ExportableSpec):
        assert issubclass(feature, ExportableFeature) and spec.graph_inputs
        assert spec.export_refusal(config) is None
        for graph_input in spec.graph_inputs:
            assert np.dtype(graph_input.dtype) == np.int64 and graph_input.axes
    else:
        refusal = spec.export_refusal(config)
        assert refusal and "\n" not in refusal and "export a model trained without" in refusal


@pytest.mark.parametrize("case", EXPORTABLE)
def test_numpy_and_torch_give_the_same_ids_on_awkward_words(case, toy_feature, tmp_path):
    from tagger.portable.encoding import encode_batch
    from tagger.portable.files import input_names

    spec = FEATURES[CASES[case][0]]
    assert issubclass(spec, ExportableSpec)
    config = config_for(case, tmp_path).model
    vocab = vocab_of_sentences()
    feature = torch_half(spec).for_model(config, vocab, None)
    assert isinstance(feature, ExportableFeature)
    numpy_half = spec(Vocab.from_dict(vocab.to_dict(), "vocab.json"))  # as an export reads it: no cache shared
    torch.manual_seed(0)
    module = feature.build_module().eval()
    exported = feature.export_modules(module)
    batches = [AWKWARD, *([words] for words in AWKWARD), AWKWARD[::-1][:3], [AWKWARD[2], AWKWARD[5], AWKWARD[2]]]
    for sentences in batches:
        values = feature.encode(sentences)
        assert numpy_half.encode(sentences) == values and len(values) == len(sentences)
        mask = mask_of(sentences)
        collated = feature.collate(values, mask)
        tensors = collated if isinstance(collated, tuple) else (collated,)
        arrays = numpy_half.arrays(values, mask.numpy())
        portable = encode_batch(sentences, [0] * len(sentences), numpy_half.vocab, input_names(config))
        assert len(tensors) == len(arrays) == len(spec.graph_inputs)
        for graph_input, tensor, array in zip(spec.graph_inputs, tensors, arrays):
            assert array.dtype == np.dtype(graph_input.dtype) and array.ndim == len(graph_input.axes)
            assert np.array_equal(tensor.numpy(), array) and np.array_equal(portable[graph_input.name], array)
            if graph_input.axes == PER_WORD:
                assert array.shape == tuple(mask.shape) and not array[~mask.numpy()].any()  # 0 at padding
        with torch.inference_mode():  # the exported network's way through the module gives the model's features
            expected = module(collated)  # (batch_size, seq_len, output_dim)
            got = feature.export_forward(module, [torch.from_numpy(array) for array in arrays], exported)
        assert got.shape == (*mask.shape, module.output_dim) and torch.allclose(got, expected, atol=1e-6)


@pytest.mark.parametrize("case", list(CASES))
def test_export_works_or_refuses_in_one_line(case, toy_feature, tmp_path):
    from tagger import Tagger
    from tagger.export import export_model

    spec = FEATURES[CASES[case][0]]
    config = config_for(case, tmp_path)
    model_dir = make_model(tmp_path / "model", config)
    if not issubclass(spec, ExportableSpec):
        with pytest.raises(TaggerError) as error:
            export_model(model_dir, tmp_path / "export")
        assert str(error.value) == f"{model_dir} {spec.export_refusal(config.model)}"
        return
    result = export_model(model_dir, tmp_path / "export")
    own = [graph_input.name for graph_input in spec.graph_inputs]
    assert [name for name in result.inputs if name in own] == own  # in the network's inputs, in their order
    assert result.max_difference < 1e-4 and result.tags_agreement == 1.0
    sentences = [words for words in AWKWARD if all(words)]
    expected = Tagger.load(model_dir, device="cpu").tag(sentences, scores=True)
    got = Tagger.load(tmp_path / "export", device="cpu").tag(sentences, scores=True)
    assert [[tag for tag, _ in s] for s in got] == [[tag for tag, _ in s] for s in expected]
    for ours, theirs in zip(got, expected):
        assert np.allclose([p for _, p in ours], [p for _, p in theirs], atol=1e-4)


NO_TORCH = """
import importlib.abc, json, sys

class NoTorch(importlib.abc.MetaPathFinder):  # as if torch were not installed
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not installed here")
        return None

sys.meta_path.insert(0, NoTorch())
sys.path.insert(0, sys.argv[2])
from toy_feature import WordLengthSpec  # the toy feature's torch-free half
from tagger.feature_specs import FEATURES
FEATURES[WordLengthSpec.name] = WordLengthSpec  # and its row
from tagger.tagging.onnx_tagger import PortableTagger

tagger = PortableTagger.load(sys.argv[1], device="cpu")
print(json.dumps({"tags": tagger.tag(json.loads(sys.argv[3])), "inputs": tagger.input_names,
                  "torch": "torch" in sys.modules}))
"""


def test_a_toy_feature_saves_exports_and_tags_where_torch_cannot_be_imported(toy_feature, tmp_path):
    from safetensors import safe_open

    from tagger import Tagger
    from tagger.export import export_model

    model_dir = make_model(tmp_path / "model", config_for("toy", tmp_path))
    with safe_open(str(model_dir / "model.safetensors"), "pt") as weights:
        assert weights.get_tensor("word_length_embedding.weight").shape == (NUM_IDS, 3)
    result = export_model(model_dir, tmp_path / "export")
    assert result.inputs == ["words", "char_ids", "char_index", "casing", "word_length", "lengths"]
    sentences = [words for words in AWKWARD if all(words)]
    run = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(tmp_path / "export"), str(Path(__file__).parent), json.dumps(sentences)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    assert answer["torch"] is False and "word_length" in answer["inputs"]
    assert answer["tags"] == Tagger.load(model_dir, device="cpu").tag(sentences)
