"""ONNX export (tagger.export) and tagging without PyTorch (tagger.portable): the exported network and its numpy
encoding and decoding give PyTorch's tags, for both heads and with document context; the portable path imports
no torch; a damaged or foreign model.onnx is refused with one clear line."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import NER_SENTENCES, write_conll

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from tagger.config import load_config  # noqa: E402
from tagger.corpus import read_corpus  # noqa: E402
from tagger.errors import ConfigError, ModelDirError  # noqa: E402
from tagger.export import export_model  # noqa: E402
from tagger.model import build_model  # noqa: E402
from tagger.portable import is_exported_dir  # noqa: E402
from tagger.serialization import save_model  # noqa: E402
from tagger.tagging.onnx_tagger import PortableTagger  # noqa: E402
from tagger.tagging.torch_tagger import Tagger  # noqa: E402
from tagger.vocab import build_vocab  # noqa: E402

TINY = ["model.word_dim=12", "model.char_dim=6", "model.char_filters=5", "model.hidden=10"]
MODELS = {  # name -> (settings, scheme of the tags)
    "softmax": ([], "IOB2"),
    "crf-bioes": (["model.head=crf"], "BIOES"),
    "context-crf": (
        [
            "model.head=crf",
            "model.document_context=true",
            "model.layers=2",
            "model.context_between_layers=true",
            "model.char_encoder=lstm",
        ],
        "IOB2",
    ),
    "context-softmax": (["model.document_context=true"], "IOB2"),
    "labels-gru": (
        ["model.cell=gru", "model.char_encoder=none", "model.casing_dim=0", "model.bidirectional=false"],
        "none",
    ),
}
TEXT = [
    "John Smith lives in Paris .".split(),
    "Mary works for Acme Corp in Berlin , 2024 .".split(),
    "The EU rejects German call .".split(),
    ["Zürich", "Ünïcödé", "a" * 45, "McDonald's", "3.14", "--", "PARIS", "paris"],
    ["John"],
    "Acme Corp hired Anna Lee and John Smith .".split(),
]
DOCUMENTS = [0, 0, 1, 1, 2, 2]


def tags_for(scheme: str) -> list[str]:
    if scheme == "BIOES":
        return ["O"] + [f"{prefix}-{kind}" for kind in ("PER", "LOC", "ORG", "MISC") for prefix in "BIES"]
    if scheme == "none":
        return ["NOUN", "VERB", "ADP", "PROPN", "PUNCT"]
    return [t for _, line in NER_SENTENCES for t in line.split()]


def make_model(folder: Path, settings: list[str], scheme: str, seed: int = 0) -> Path:
    """A model with random weights (every check compares two runtimes on the same weights, so training adds
    nothing); larger output weights make the emissions as decided as a trained model's."""
    config = load_config(None, TINY + settings)
    vocab = build_vocab([w.split() for w, _ in NER_SENTENCES], tags_for(scheme), scheme)
    torch.manual_seed(seed)
    model = build_model(config.model, vocab)
    with torch.no_grad():
        model.output.weight.mul_(8.0)
    save_model(folder, config, vocab, model, metrics={"test": {"f1": 0.5}}, card="# a tiny model\n")
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("export-models")
    return {name: make_model(root / name, settings, scheme) for name, (settings, scheme) in MODELS.items()}


@pytest.fixture(scope="module")
def exports(models, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exports")
    done = {}
    for name, model_dir in models.items():
        result = export_model(model_dir, root / name)
        assert result.max_difference < 1e-4 and result.tags_agreement == 1.0, (name, result)
        done[name] = root / name
    return done


# -- the numpy path computes what the torch path computes ---------------------------------------------------


@pytest.mark.parametrize("name", ["context-crf", "softmax", "labels-gru"])
def test_numpy_encoding_gives_the_ids_of_the_torch_features(models, name):
    from tagger.batching import build_batch, encode_sentences
    from tagger.portable.encoding import encode_batch
    from tagger.portable.files import CONTEXT_INDEX, LENGTHS, input_names
    from tagger.serialization import load_model

    loaded = load_model(models[name])
    features = loaded.model.features
    context = loaded.config.model.document_context
    rng = random.Random(1)
    pool = [w for words in TEXT for w in words] + ["<unk>", "", "Ä" * 3, "x1y2", "UPPER", "Mixed-Case"]
    for size in (1, 3, 7):
        sentences = [[rng.choice(pool) or "a" for _ in range(rng.randint(1, 12))] for _ in range(size)]
        documents = sorted(rng.randint(0, 2) for _ in range(size))
        batch = build_batch(encode_sentences(sentences, features, loaded.vocab, documents=documents), features, context)
        ours = encode_batch(sentences, documents, loaded.vocab, input_names(loaded.config.model))
        expected = {LENGTHS: batch.lengths}
        for feature in features:  # each feature's tensors, under the names of its graph inputs
            tensors = batch.inputs[feature.name]
            tensors = tensors if isinstance(tensors, tuple) else (tensors,)
            expected.update(zip((graph_input.name for graph_input in feature.graph_inputs), tensors, strict=True))
        if context:
            expected[CONTEXT_INDEX] = batch.context_index
        assert set(ours) == set(expected)
        for key, tensor in expected.items():
            assert ours[key].dtype == np.int64, key
            assert np.array_equal(ours[key], tensor.numpy()), key


def test_numpy_decoding_matches_the_torch_decoding():
    from tagger.crf import CRF
    from tagger.decoding import TransitionMask, viterbi
    from tagger.portable.decoding import crf_marginals, log_softmax
    from tagger.portable.decoding import viterbi as numpy_viterbi

    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
    torch.manual_seed(3)
    crf = CRF(len(labels), TransitionMask(labels, "BIOES"))
    with torch.no_grad():
        for param in (crf.transitions, crf.start, crf.end):
            param.normal_(0, 2)
    start, middle, end = (s.detach().numpy() for s in crf._scores())
    for batch_size, seq_len in ((1, 1), (4, 9), (7, 30)):
        emissions = torch.randn(batch_size, seq_len, len(labels)) * 3
        lengths = torch.randint(1, seq_len + 1, (batch_size,))
        mask = torch.arange(seq_len)[None, :] < lengths[:, None]
        best = numpy_viterbi(emissions.numpy(), mask.numpy(), start, middle, end)
        assert np.array_equal(best, crf.decode(emissions, mask).numpy())
        posteriors = crf_marginals(emissions.numpy(), mask.numpy(), start, middle, end)
        assert np.allclose(posteriors, crf.marginals(emissions, mask).detach().numpy(), atol=1e-5)
        log_probs = torch.log_softmax(emissions, dim=-1)
        assert np.allclose(log_softmax(emissions.numpy()), log_probs.numpy(), atol=1e-6)
        scheme = TransitionMask(labels, "BIOES")
        constrained = numpy_viterbi(
            log_probs.numpy(), mask.numpy(), *(s.numpy() for s in (scheme.start, scheme.middle, scheme.end))
        )
        assert np.array_equal(constrained, viterbi(log_probs, mask, scheme.start, scheme.middle, scheme.end).numpy())


# -- an export tags as PyTorch does ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_exported_model_tags_as_pytorch(models, exports, name):
    torch_tagger = Tagger.load(models[name], device="cpu")
    portable = Tagger.load(exports[name], device="cpu")  # the one loader dispatches on the directory
    assert isinstance(portable, PortableTagger) and not isinstance(torch_tagger, PortableTagger)
    assert portable.output_labels == torch_tagger.output_labels and portable.task == torch_tagger.task
    for batch_size in (1, 2, 256):
        expected = torch_tagger.tag(TEXT, scores=True, batch_size=batch_size, documents=DOCUMENTS)
        got = portable.tag(TEXT, scores=True, batch_size=batch_size, documents=DOCUMENTS)
        assert [[t for t, _ in s] for s in got] == [[t for t, _ in s] for s in expected]
        for ours, theirs in zip(got, expected):
            assert np.allclose([p for _, p in ours], [p for _, p in theirs], atol=1e-4)
    for scheme in ("BIOES", "IOB1"):
        assert portable.tag(TEXT, scheme=scheme, documents=DOCUMENTS) == torch_tagger.tag(
            TEXT, scheme=scheme, documents=DOCUMENTS
        )


def test_exported_char_cnn_gives_the_same_emissions_for_its_rows_in_any_order(exports):
    """The encoding puts a batch's distinct words longest first, so that the exported char-CNN convolves runs of
    them only as wide as their longest; a runtime that orders them otherwise gets the same emissions."""
    from tagger.portable.encoding import encode_batch

    portable = Tagger.load(exports["softmax"], device="cpu", threads=1)
    assert isinstance(portable, PortableTagger)
    inputs = encode_batch(TEXT, DOCUMENTS, portable.vocab, portable.input_names)
    lengths = (inputs["char_ids"] != 0).sum(axis=1)
    assert lengths[0] == 0 and list(lengths[1:]) == sorted(lengths[1:], reverse=True)  # the padding word, then longest
    rows = len(lengths)
    order = np.concatenate(([0], np.arange(rows - 1, 0, -1)))  # shortest first
    row_of = np.empty_like(order)
    row_of[order] = np.arange(rows)
    reordered = {**inputs, "char_ids": inputs["char_ids"][order], "char_index": row_of[inputs["char_index"]]}
    np.testing.assert_allclose(portable.emissions(reordered), portable.emissions(inputs), atol=1e-6)


@pytest.mark.parametrize("name", list(MODELS))
def test_exported_model_gives_pytorchs_probabilities_of_every_label(models, exports, name):
    from tagger.corpus import Sentence

    torch_tagger = Tagger.load(models[name], device="cpu")
    portable = Tagger.load(exports[name], device="cpu")
    sentences = [Sentence(words, []) for words in TEXT]
    expected = torch_tagger.tag_distributions(sentences, batch_size=2, documents=DOCUMENTS)
    got = portable.tag_distributions(sentences, batch_size=2, documents=DOCUMENTS)
    for (ours, ours_probabilities), (theirs, their_probabilities) in zip(got, expected):
        assert ours.tags == theirs.tags
        np.testing.assert_allclose(ours_probabilities, their_probabilities, atol=1e-4)
        np.testing.assert_allclose(ours_probabilities.sum(axis=1), 1.0, atol=1e-4)


def test_exported_model_tags_long_sentences_and_documents_as_pytorch(models, exports, tmp_path):
    from tagger import ordering

    torch_tagger = Tagger.load(models["context-crf"], device="cpu")
    portable = Tagger.load(exports["context-crf"], device="cpu")
    rng = random.Random(4)
    words = [w for s in TEXT for w in s]
    sentences = [[rng.choice(words) for _ in range(rng.randint(1, 40))] for _ in range(300)]
    sentences.append([rng.choice(words) for _ in range(ordering.MAX_WORDS + 17)])  # tagged in two pieces
    documents = sorted(rng.randint(0, 3) for _ in sentences)  # one document longer than 128 sentences
    assert portable.tag(sentences, documents=documents, batch_size=64) == torch_tagger.tag(
        sentences, documents=documents, batch_size=64
    )


def test_exported_model_evaluates_as_pytorch(models, exports, tmp_path):
    from tagger.evaluation.model import evaluate_model

    data = write_conll(tmp_path / "gold.conll")
    expected = evaluate_model(models["softmax"], data, device="cpu")
    got = evaluate_model(exports["softmax"], data, device="cpu")
    assert got.predictions == expected.predictions
    assert got.evaluation.conlleval.micro.f1 == expected.evaluation.conlleval.micro.f1


def test_export_writes_a_checked_onnx_graph_with_dynamic_axes_and_its_settings(models, exports):
    folder = exports["context-crf"]
    assert is_exported_dir(folder) and not is_exported_dir(models["context-crf"])
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "config.json",
        "metrics.json",
        "model.onnx",
        "vocab.json",
    ]
    graph = onnx.load(str(folder / "model.onnx"))
    onnx.checker.check_model(graph, full_check=True)
    for value in graph.graph.input:
        dims = value.type.tensor_type.shape.dim
        assert all(d.dim_param and not d.dim_value for d in dims), value.name  # every axis dynamic
    assert {p.key: p.value for p in graph.metadata_props}["tagger_format"] == "tagger-onnx"
    header = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    source = json.loads((models["context-crf"] / "config.json").read_text(encoding="utf-8"))
    from tagger import __version__

    assert header["tagger_version"] == __version__ and header["format"] == "tagger-onnx"
    assert header["config"] == source["config"]
    assert header["source"]["weights_sha256"] == source["weights_sha256"]
    assert header["onnx"]["inputs"] == ["words", "char_ids", "char_index", "casing", "lengths", "context_index"]
    assert header["onnx"]["precision"] == "fp32" and header["decoding"]["method"] == "crf"
    assert set(header["exported_with"]) == {"torch", "onnx", "onnxruntime"}
    assert (folder / "vocab.json").read_bytes() == (models["context-crf"] / "vocab.json").read_bytes()


def test_int8_export_is_quantised_and_asked_for_by_name(models, tmp_path):
    result = export_model(models["crf-bioes"], tmp_path / "int8", quantize="int8")
    assert result.precision == "int8"
    ops = {node.op_type for node in onnx.load(str(tmp_path / "int8" / "model.onnx")).graph.node}
    assert {"DynamicQuantizeLSTM", "MatMulInteger"} <= ops
    assert result.max_difference < 0.1  # int8 weights: close, not equal
    tagger = Tagger.load(tmp_path / "int8", device="cpu", quantize="int8")
    assert tagger.precision == "int8" and len(tagger.tag(TEXT)[0]) == len(TEXT[0])
    fp32 = export_model(models["crf-bioes"], tmp_path / "fp32")
    with pytest.raises(ConfigError, match="exported in fp32"):
        Tagger.load(fp32.out_dir, device="cpu", quantize="int8")
    with pytest.raises(ConfigError, match="bf16"):
        Tagger.load(fp32.out_dir, device="cpu", quantize="bf16")


def test_int8_weights_fit_seven_bits_so_cpus_without_vnni_compute_them_exactly(models, tmp_path):
    """onnxruntime multiplies uint8 activations by int8 weights with AVX2's vpmaddubsw where the CPU has no VNNI,
    which adds two products into int16 and saturates: 255 x 127 x 2 overflows, 255 x 64 x 2 = 32,640 does not. Full-range
    weights changed most tags of this test's models on an emulated AMD Zen 3; 7-bit weights give the bits that a
    VNNI CPU gives (scripts/benchmarks/int8_agreement.py)."""
    export_model(models["context-crf"], tmp_path / "int8", quantize="int8")
    graph = onnx.load(str(tmp_path / "int8" / "model.onnx")).graph
    initializers = {tensor.name: onnx.numpy_helper.to_array(tensor) for tensor in graph.initializer}
    weights = [
        initializers[node.input[1]] for node in graph.node if node.op_type in ("MatMulInteger", "DynamicQuantizeLSTM")
    ]
    weights += [initializers[node.input[2]] for node in graph.node if node.op_type == "DynamicQuantizeLSTM"]
    assert len(weights) >= 4 and all(w.dtype == np.int8 for w in weights)
    assert max(int(np.abs(w.astype(np.int32)).max()) for w in weights) <= 64


# -- no torch on the portable path ----------------------------------------------------------------------------

NO_TORCH = """
import importlib.abc, json, sys

class NoTorch(importlib.abc.MetaPathFinder):  # as if torch were not installed
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not installed here")
        return None

sys.meta_path.insert(0, NoTorch())
from tagger.tagging.onnx_tagger import PortableTagger
from tagger.corpus import read_corpus

tagger = PortableTagger.load(sys.argv[1], device="cpu")
tags = tagger.tag([["John", "Smith", "lives", "in", "Paris", "."]], scores=True)
evaluation, _ = tagger.evaluate(read_corpus(sys.argv[2])[0])
print(json.dumps({"tags": tags, "torch": "torch" in sys.modules,
                  "f1": evaluation.conlleval.micro.f1}))
"""


def test_portable_tagger_runs_where_torch_cannot_be_imported(models, exports, tmp_path):
    data = write_conll(tmp_path / "gold.conll")
    run = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(exports["crf-bioes"]), str(data)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["torch"] is False and result["f1"] is not None
    expected = Tagger.load(models["crf-bioes"], device="cpu").tag([["John", "Smith", "lives", "in", "Paris", "."]])
    assert [t for t, _ in result["tags"][0]] == expected[0]


def test_portable_package_imports_nothing_that_imports_torch():
    from test_layers import LAYERS, PACKAGE, imports

    for path in (PACKAGE / "portable").glob("*.py"):
        for name in imports(path):
            parts = name.split(".")
            assert parts[0] != "torch", path
            if parts[0] == "tagger" and len(parts) > 1:
                assert LAYERS.get(parts[1], 0) <= 1, f"{path} imports {name}, which may import torch"


# -- refused exports and directories --------------------------------------------------------------------------


def refused(folder: Path, *fragments: str) -> str:
    with pytest.raises(ModelDirError) as caught:
        PortableTagger.load(folder, device="cpu")
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.fixture
def export_copy(exports, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(exports["softmax"], tmp_path / "export"))


def set_checksum(folder: Path) -> None:
    header = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    header["onnx"]["sha256"] = hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    (folder / "config.json").write_text(json.dumps(header), encoding="utf-8")


def test_truncated_onnx_file_is_refused_by_its_checksum(export_copy):
    data = (export_copy / "model.onnx").read_bytes()
    (export_copy / "model.onnx").write_bytes(data[: len(data) // 2])
    refused(export_copy, "model.onnx", "damaged or replaced", "tagger export")


def test_onnx_file_that_is_not_onnx_is_refused(export_copy):
    (export_copy / "model.onnx").write_bytes(b"\x08\x07garbage, not a protobuf" * 10)
    set_checksum(export_copy)
    refused(export_copy, "model.onnx", "is not a valid ONNX model")


def test_foreign_onnx_model_is_refused(export_copy):
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["words"], ["emissions"])
    graph = helper.make_graph(
        [node],
        "foreign",
        [helper.make_tensor_value_info("words", TensorProto.FLOAT, ["b", "n", 9])],
        [helper.make_tensor_value_info("emissions", TensorProto.FLOAT, ["b", "n", 9])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    (export_copy / "model.onnx").write_bytes(model.SerializeToString())
    set_checksum(export_copy)
    refused(export_copy, "model.onnx", "not one exported by tagger")


def test_export_directory_without_its_files_or_format_is_refused(export_copy, models):
    (export_copy / "vocab.json").unlink()
    refused(export_copy, "missing vocab.json", "tagger export")
    (export_copy / "vocab.json").write_bytes((models["softmax"] / "vocab.json").read_bytes())
    header = json.loads((export_copy / "config.json").read_text(encoding="utf-8"))
    (export_copy / "config.json").write_text(json.dumps({**header, "format_version": 99}), encoding="utf-8")
    refused(export_copy, "format_version 99")
    (export_copy / "config.json").write_text(json.dumps(source_config(models)), encoding="utf-8")
    refused(export_copy, "not the config of an exported model")


def source_config(models) -> dict:
    return json.loads((models["softmax"] / "config.json").read_text(encoding="utf-8"))


def test_damaged_export_is_one_error_line_on_the_command_line(export_copy, tmp_path):
    from typer.testing import CliRunner

    from tagger.cli import app

    data = (export_copy / "model.onnx").read_bytes()
    (export_copy / "model.onnx").write_bytes(data[:100])
    result = CliRunner().invoke(app, ["tag", str(export_copy), str(write_conll(tmp_path / "in.conll"))])
    assert result.exit_code == 2
    assert result.output.count("error:") == 1 and "damaged or replaced" in result.output


def test_export_refuses_contextual_models_and_a_busy_out_dir(models, tmp_path):
    from contextual_fixture import build_encoder_folder

    encoder = build_encoder_folder(tmp_path / "tiny-bert")
    contextual = make_model(tmp_path / "contextual", [f"model.contextual={encoder}"], "IOB2")
    with pytest.raises(ConfigError, match="contextual features"):
        export_model(contextual, tmp_path / "out-contextual")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match="not empty"):
        export_model(models["softmax"], tmp_path / "busy")
    with pytest.raises(ConfigError, match="holds a PyTorch model"):
        export_model(models["softmax"], models["crf-bioes"], overwrite=True)
    with pytest.raises(ConfigError, match="expected one of onnx"):
        export_model(models["softmax"], tmp_path / "x", target="tflite")


def test_bad_input_export_out_that_cannot_be_a_folder_is_refused_before_the_model_is_read(models, tmp_path):
    from typer.testing import CliRunner

    from tagger.cli import app

    note = tmp_path / "afile.txt"
    note.write_text("my notes\n", encoding="utf-8")
    missing = tmp_path / "no-model"  # refused before the model is read: the model is never missing
    for model in (models["softmax"], missing):
        for out, fragment in ((note / "x", f"{note} is a file, not a folder"), (note, f"{note} is a file")):
            result = CliRunner().invoke(app, ["export", str(model), "--out", str(out), "--overwrite"])
            assert result.exit_code == 2, result.output
            message = " ".join(result.stderr.split())
            assert message.startswith("error:") and message.count("error:") == 1, message
            assert "Traceback" not in result.output and fragment in message and "--out" in message, message
    assert note.read_text(encoding="utf-8") == "my notes\n"


def test_export_and_tag_commands(models, tmp_path):
    from typer.testing import CliRunner

    from tagger.cli import app

    runner = CliRunner()
    out = tmp_path / "exported"
    result = runner.invoke(app, ["export", str(models["crf-bioes"]), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["precision"] == "fp32"
    data = write_conll(tmp_path / "in.conll")
    outputs = []
    for model in (models["crf-bioes"], out):
        tagged = runner.invoke(app, ["tag", str(model), str(data), "--device", "cpu", "--probabilities"])
        assert tagged.exit_code == 0, tagged.output
        outputs.append([line.split()[:3] for line in tagged.stdout.splitlines()])
    assert outputs[0] == outputs[1]
    again = runner.invoke(app, ["export", str(models["crf-bioes"]), "--out", str(out)])
    assert again.exit_code == 2 and "--overwrite" in again.output
    sentences, _ = read_corpus(data)
    assert len(sentences) == len(NER_SENTENCES)


def test_portable_tagger_refuses_a_device_onnxruntime_lacks(exports):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(ConfigError, match="no CUDA provider"):
        PortableTagger.load(exports["softmax"], device="cuda")
    assert PortableTagger.load(exports["softmax"], device="auto", threads=1).device == "cpu"


def test_portable_tagger_leaves_probabilities_out_unless_asked_as_pytorch_does(models, exports):
    from tagger.corpus import Sentence

    for name in ("softmax", "crf-bioes"):
        sentences = [Sentence(words, []) for words in TEXT]
        for tagger in (Tagger.load(models[name], device="cpu"), Tagger.load(exports[name], device="cpu")):
            assert all(t.scores == [] for t in tagger.tag_sentences(sentences, documents=DOCUMENTS))
            assert all(len(t.scores) == len(t.tags) for t in tagger.tag_sentences(sentences, scores=True))


def test_portable_tagger_runs_one_batch_per_cpu_each_on_one_thread_unless_given_a_count(exports, monkeypatch):
    import tagger.tagging.onnx_tagger as onnx_tagger

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(onnx_tagger, "usable_cpus", lambda: 3)
    default = PortableTagger.load(exports["softmax"], device="cpu")
    assert default.batch_workers == 3 and default.session.get_session_options().intra_op_num_threads == 1
    given = PortableTagger.load(exports["softmax"], device="cpu", threads=2)
    assert given.batch_workers == 1 and given.session.get_session_options().intra_op_num_threads == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    from_environment = PortableTagger.load(exports["softmax"], device="cpu")
    assert from_environment.batch_workers == 1
    assert from_environment.session.get_session_options().intra_op_num_threads == 2
    sentences = TEXT * 40  # several batches of 16 at once, in their order
    assert default.tag(sentences, batch_size=16, scores=True) == given.tag(sentences, batch_size=16, scores=True)


def test_each_runtime_batches_in_its_own_fastest_size_unless_given_one(models, exports, monkeypatch):
    import tagger.tagging.base as base

    sizes: list[int] = []
    batch_order = base.TaggerBase.batch_order

    def spy(self, sentences, batch_size, documents):
        batches = list(batch_order(self, sentences, batch_size, documents))
        sizes.append(max(len(batch) for batch in batches))
        return iter(batches)

    monkeypatch.setattr(base.TaggerBase, "batch_order", spy)
    sentences = [TEXT[0]] * 300 + [TEXT[1]] * 20  # one length: batches as large as asked
    portable, pytorch = (
        PortableTagger.load(exports["softmax"], device="cpu"),
        Tagger.load(models["softmax"], device="cpu"),
    )
    assert (portable.default_batch_size, pytorch.default_batch_size) == (64, 256)
    assert portable.tag(sentences) == portable.tag(sentences, batch_size=256) == pytorch.tag(sentences)
    assert sizes == [64, 256, 256]
