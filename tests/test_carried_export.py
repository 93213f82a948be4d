"""A model directory's own export (tagger.export.carried): training writes it where onnxruntime tags the model
faster, checked on dev; loading runs it on onnxruntime only where the caller leaves the precision to us, on a CPU
with onnxruntime installed; a damaged or foreign one is refused in one line; saving new weights removes it."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import NER_SENTENCES

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import tagger.export.carried as carried  # noqa: E402
import tagger.tagging.runtime_choice as runtime_choice  # noqa: E402
from tagger.errors import ModelDirError  # noqa: E402
from tagger.portable.files import CARRIED_FILES, CARRIED_HEADER, ONNX_FILE, carries_export  # noqa: E402
from tagger.tagging.loading import load_tagger, read_tagger_files, tagger_from_files, write_tagger_files  # noqa: E402
from tagger.tagging.onnx_tagger import PortableTagger  # noqa: E402
from tagger.tagging.torch_tagger import Tagger  # noqa: E402
from tagger.training import DataSource, train  # noqa: E402

WORDS = [words.split() for words, _ in NER_SENTENCES]


def carrying(tiny_config, **model_changes):
    return replace(
        tiny_config,
        model=replace(tiny_config.model, **model_changes),
        train=replace(tiny_config.train, carry_export=True, epochs=30, patience=30),
    )


@pytest.fixture(scope="module")
def carried_model(tmp_path_factory, ner_files, tiny_config) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("carried") / "ner"
    result = train(carrying(tiny_config), DataSource(ner_files[0], ner_files[1]), out)
    return out, result.carried


def test_training_writes_an_export_checked_on_dev_and_names_it_in_the_manifest(carried_model):
    model_dir, line = carried_model
    assert carries_export(model_dir)
    manifest = json.loads((model_dir / "config.json").read_text())["files"]
    assert set(CARRIED_FILES) <= set(manifest)
    header = json.loads((model_dir / CARRIED_HEADER).read_text())
    checked = header["checked_on_dev"]
    assert checked["sentences"] == 4 and checked["tags_equal"] >= carried.MIN_TAGS_EQUAL
    assert abs(checked["score"] - checked["pytorch_fp32_score"]) <= carried.MAX_SCORE_CHANGE
    assert header["onnx"]["precision"] in ("int8", "fp32") and f"carries its {header['onnx']['precision']}" in line
    assert header["source"]["weights_sha256"] == json.loads((model_dir / "config.json").read_text())["weights_sha256"]


def test_loading_runs_the_carried_export_where_the_precision_is_left_to_us(carried_model):
    model_dir, _ = carried_model
    portable = Tagger.load(model_dir)
    pytorch = Tagger.load(model_dir, quantize="none")
    assert isinstance(portable, PortableTagger) and isinstance(pytorch, Tagger)
    assert isinstance(load_tagger(model_dir, device="cpu"), PortableTagger)
    assert portable.tag(WORDS) == pytorch.tag(WORDS)
    for quantize in ("none", "int8", "bf16"):  # asked for by name: PyTorch's
        assert isinstance(Tagger.load(model_dir, quantize=quantize), Tagger)


def test_without_onnxruntime_or_on_a_gpu_the_model_runs_on_pytorch(carried_model, monkeypatch):
    model_dir, _ = carried_model
    assert not runtime_choice.runs_its_export("cuda", "auto", lambda: False)
    assert not runtime_choice.runs_its_export("auto", "auto", lambda: True)  # a GPU: PyTorch's
    assert runtime_choice.runs_its_export("auto", "auto", lambda: False)
    find_spec = runtime_choice.importlib.util.find_spec
    monkeypatch.setattr(
        runtime_choice.importlib.util, "find_spec", lambda name: None if name == "onnxruntime" else find_spec(name)
    )
    assert isinstance(Tagger.load(model_dir), Tagger)


def test_a_pipeline_carries_the_export_with_the_model(carried_model, tmp_path):
    model_dir, _ = carried_model
    files = read_tagger_files(model_dir)
    assert set(CARRIED_FILES) <= set(files)
    assert isinstance(tagger_from_files(files, model_dir, device="cpu"), PortableTagger)
    write_tagger_files(tmp_path / "copy", files)
    assert carries_export(tmp_path / "copy")
    assert Tagger.load(tmp_path / "copy").tag(WORDS) == Tagger.load(model_dir).tag(WORDS)


def copy_of(model_dir: Path, folder: Path) -> Path:
    shutil.copytree(model_dir, folder)
    return folder


def test_a_damaged_or_foreign_carried_export_is_refused_in_one_line(carried_model, ner_files, tiny_config, tmp_path):
    model_dir, _ = carried_model
    damaged = copy_of(model_dir, tmp_path / "damaged")
    (damaged / ONNX_FILE).write_bytes((damaged / ONNX_FILE).read_bytes()[:-10])
    with pytest.raises(ModelDirError, match=r"model\.onnx.*delete model\.onnx and onnx\.json") as error:
        Tagger.load(damaged)
    assert "\n" not in str(error.value)
    assert isinstance(Tagger.load(damaged, quantize="none"), Tagger)  # PyTorch never reads it

    other = tmp_path / "other"  # another model's export with its checksums put in this model's manifest
    train(carrying(tiny_config, hidden=12), DataSource(ner_files[0], ner_files[1]), other)
    foreign = copy_of(model_dir, tmp_path / "foreign")
    header = json.loads((foreign / "config.json").read_text())
    for name in CARRIED_FILES:
        shutil.copy(other / name, foreign / name)
        header["files"][name] = json.loads((other / "config.json").read_text())["files"][name]
    (foreign / "config.json").write_text(json.dumps(header))
    with pytest.raises(ModelDirError, match="exported from other weights"):
        Tagger.load(foreign)


def test_saving_new_weights_removes_the_carried_export(carried_model, tmp_path):
    from tagger.serialization import load_model, save_model

    model_dir, _ = carried_model
    folder = copy_of(model_dir, tmp_path / "resaved")
    loaded = load_model(folder)
    save_model(folder, loaded.config, loaded.vocab, loaded.model)
    assert not any((folder / name).exists() for name in CARRIED_FILES)
    assert isinstance(Tagger.load(folder), Tagger)


def test_int8_that_moves_dev_too_much_gives_way_to_fp32(carried_model, tmp_path, monkeypatch):
    model_dir, _ = carried_model
    from tagger.corpus import read_corpus

    folder = copy_of(model_dir, tmp_path / "strict")
    result = carried.carry_export(folder, [], threads=1)  # nothing to check int8 on: fp32
    assert result.precision == "fp32" and "no dev corpus" in result.line
    monkeypatch.setattr(carried, "MIN_TAGS_EQUAL", 1.01)  # no export can pass: int8 is refused, fp32 taken
    sentences, _ = read_corpus(write_dev(tmp_path))
    result = carried.carry_export(folder, sentences, threads=1)
    assert result.precision == "fp32" and "int8 moved dev by" in result.line
    assert json.loads((folder / CARRIED_HEADER).read_text())["onnx"]["precision"] == "fp32"
    assert Tagger.load(folder).quantize == "none"


def write_dev(folder: Path) -> str:
    from conftest import write_conll

    return str(write_conll(folder / "dev.conll", NER_SENTENCES[:4]))


def test_models_onnxruntime_tags_slower_or_cannot_run_carry_none(tiny_config, tmp_path, ner_files):
    result = train(carrying(tiny_config, document_context=True), DataSource(ner_files[0], ner_files[1]), tmp_path / "d")
    assert not carries_export(tmp_path / "d") and "document context" in result.carried
    assert isinstance(Tagger.load(tmp_path / "d"), Tagger)


def test_info_says_where_the_model_runs_and_a_batch_job_knows_its_export(carried_model):
    from tagger.batch.manifest import without_described_files
    from tagger.model_info import read_model_info

    model_dir, _ = carried_model
    info = read_model_info(model_dir)
    assert info.runtime == "pytorch" and info.carried["checked_on_dev"]["sentences"] == 4
    assert "decoding" not in info.carried and "config" not in info.carried
    kept = json.loads(without_described_files((model_dir / "config.json").read_bytes()))["files"]
    assert set(kept) == {"model.safetensors", "vocab.json", *CARRIED_FILES}  # int8 or PyTorch decides the tags


def test_benchmark_names_the_runtime_and_batch_size_that_ran(carried_model, tmp_path):
    from tagger.benchmark import benchmark_model

    model_dir, _ = carried_model
    precision = json.loads((model_dir / CARRIED_HEADER).read_text())["onnx"]["precision"]
    report = benchmark_model(model_dir, write_dev(tmp_path), runs=1, device="cpu", startup=False)
    assert report["runtime"] == f"onnxruntime {precision}" and report["threads"] is None
    assert report["batch_size"] == 64
    pytorch = benchmark_model(model_dir, write_dev(tmp_path), runs=1, quantize="none", startup=False)
    assert (pytorch["runtime"], pytorch["batch_size"]) == ("PyTorch fp32", 256)
    given = benchmark_model(model_dir, write_dev(tmp_path), runs=1, batch_size=8, device="cpu", startup=False)
    assert given["batch_size"] == 8


def test_the_spacy_component_runs_the_export_and_a_saved_pipeline_keeps_it(carried_model, tmp_path):
    spacy = pytest.importorskip("spacy")
    model_dir, _ = carried_model
    nlp = spacy.blank("en")
    component = nlp.add_pipe("bilstm_tagger", config={"model": str(model_dir), "device": "cpu"})
    text = "John Smith lives in Paris ."
    entities = [(e.text, e.label_) for e in nlp(text).ents]
    assert isinstance(component._tagger, PortableTagger)
    nlp.to_disk(tmp_path / "pipeline")
    assert carries_export(tmp_path / "pipeline" / "bilstm_tagger")
    loaded = spacy.load(tmp_path / "pipeline")
    assert [(e.text, e.label_) for e in loaded(text).ents] == entities
    assert isinstance(loaded.get_pipe("bilstm_tagger")._tagger, PortableTagger)


def test_without_onnx_installed_training_says_how_to_get_the_faster_runtime(tiny_config, monkeypatch):
    find_spec = carried.importlib.util.find_spec
    monkeypatch.setattr(carried.importlib.util, "find_spec", lambda name: None if name == "onnx" else find_spec(name))
    assert carried.why_not_carried(carrying(tiny_config)) == (
        "onnx and onnxruntime are not installed (pip install 'bilstm-tagger[onnx]')"
    )
    assert "cannot be exported" in carried.why_not_carried(carrying(tiny_config, charlm="news-forward-fast"))
