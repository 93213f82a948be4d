"""CUDA paths on a GPU: training and tagging with both heads, document context, bf16 (autocast training and
bf16 weights), checkpoints and --resume with the GPU's random state, and CPU and GPU tagging alike.

The tests marked ``cuda`` run on a CUDA device when torch sees one and are skipped otherwise;
``scripts/gpu/gpu_check.sh`` runs them on a lent GPU (docs/gpu.md). The GPU image has no spaCy, so nothing here
tags raw text: every test tags pre-tokenised sentences (``Tagger.tag``) or CoNLL files.
``TAGGER_TEST_DEVICE=cpu`` runs the same tests on the CPU, to check the tests themselves where there is no GPU.
The last test, the dry run of the GPU check, runs everywhere.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from tagger.corpus import document_ids, read_corpus
from tagger.tagging.torch_tagger import Tagger
from tagger.training import DataSource, EpochRecord, run_training, train
from tests.conftest import NER_SENTENCES, write_conll

ROOT = Path(__file__).resolve().parent.parent
DEVICE = os.environ.get("TAGGER_TEST_DEVICE", "cuda")
DEVICE_TYPE = torch.device(DEVICE).type
NO_DEVICE = DEVICE_TYPE == "cuda" and not torch.cuda.is_available()

SENTENCES = [words.split() for words, _ in NER_SENTENCES]
GOLD = [tags.split() for _, tags in NER_SENTENCES]
UNSEEN = [
    ["Anna", "Lee", "visited", "Berlin", "and", "Paris", "."],
    ["Zorvath", "Mining", "hires", "Keld", "Amsel", "in", "Ostvik", "."],  # words never seen in training
    ["peter", "WORKS", "for", "ACME", "corp", "."],
    ["Mary"],
    [],
]
LONG = SENTENCES[1] * 200  # 1,600 words: tagged in two pieces and rejoined
CRF_TRAINING = {"schedule": "plateau", "optimizer": "sgd", "lr": 0.1}  # how tests/test_training.py overfits a CRF


def on_device(test):
    """Marked ``cuda``; skipped, saying why, where torch sees no CUDA device."""
    skip = pytest.mark.skipif(
        NO_DEVICE,
        reason="no CUDA device (torch.cuda.is_available() is False); "
        "scripts/gpu/gpu_check.sh runs these on a GPU, see docs/gpu.md",
    )
    return pytest.mark.cuda(skip(test))


def settings(tiny_config, model: dict | None = None, **train_changes):
    """The tiny configuration on the device under test, in fp32 unless asked otherwise (``auto`` would be bf16
    autocast on a GPU with bf16)."""
    model = model or {}
    changes = {
        "device": DEVICE,
        "precision": "fp32",
        **(CRF_TRAINING if model.get("head") == "crf" else {}),
        **train_changes,
    }
    return replace(tiny_config, model=replace(tiny_config.model, **model), train=replace(tiny_config.train, **changes))


def tags_of(tagged):
    return [[tag for tag, _ in sentence] for sentence in tagged]


def probabilities_of(tagged):
    return [p for sentence in tagged for _, p in sentence]


def differences(expected, got, sentences) -> str:
    lines = []
    for words, a, b in zip(sentences, expected, got):
        if a != b:
            lines.append(" ".join(f"{w}/{x}" + ("" if x == y else f"->{y}") for w, x, y in zip(words, a, b))[:400])
    return "\n".join(lines[:10])


@pytest.fixture(scope="module", params=["softmax", "crf"])
def device_model(request, tmp_path_factory, ner_files, tiny_config):
    """A tiny model of each head overfitted on the device; its dev and test sets are part of its training set."""
    out = tmp_path_factory.mktemp(f"device_{request.param}") / "model"
    config = settings(tiny_config, {"head": request.param})
    result = train(config, DataSource(ner_files[0], ner_files[1], test=ner_files[1]), out)
    return out, result


@on_device
def test_both_heads_train_and_tag_on_the_device(device_model, ner_files):
    out, result = device_model
    assert result.metrics["device"].startswith(DEVICE_TYPE)
    assert result.dev.conlleval.micro.f1 == 1.0 and result.test.conlleval.micro.f1 == 1.0
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["loss"]) for r in log) and log[-1]["loss"] < log[0]["loss"] / 2
    tagger = Tagger.load(out, device=DEVICE)
    assert {p.device.type for p in tagger.model.parameters()} == {DEVICE_TYPE}
    assert tagger.tag(SENTENCES) == GOLD
    scored = tagger.tag(SENTENCES, scores=True)
    assert tags_of(scored) == GOLD and all(0.0 < p <= 1.0 for p in probabilities_of(scored))
    evaluation, predictions = tagger.evaluate(read_corpus(ner_files[1])[0])
    assert evaluation.conlleval.micro.f1 == 1.0 and predictions == GOLD[:4]
    tagged = tagger.tag(UNSEEN + [LONG], batch_size=2)
    assert [len(t) for t in tagged] == [len(s) for s in UNSEEN + [LONG]]


@on_device
@pytest.mark.parametrize("batch_size", [2, 256])
def test_cpu_and_device_tag_the_same_sentences_alike(device_model, trained_model, batch_size):
    """A model trained on the CPU (conftest) and one trained on the device, each tagging on both."""
    sentences = SENTENCES + UNSEEN + [LONG]
    for model_dir in (trained_model, device_model[0]):
        on_cpu = Tagger.load(model_dir, device="cpu").tag(sentences, scores=True, batch_size=batch_size)
        on_device = Tagger.load(model_dir, device=DEVICE).tag(sentences, scores=True, batch_size=batch_size)
        assert tags_of(on_device) == tags_of(on_cpu), differences(tags_of(on_cpu), tags_of(on_device), sentences)
        gap = max(abs(p - q) for p, q in zip(probabilities_of(on_cpu), probabilities_of(on_device)))
        assert gap < 1e-2, f"{model_dir}: probabilities differ by up to {gap}"


@on_device
def test_bf16_weights_tag_on_the_device_like_fp32(device_model):
    out, _ = device_model
    fp32 = Tagger.load(out, device=DEVICE)
    bf16 = Tagger.load(out, device=DEVICE, quantize="bf16")
    assert {(p.device.type, p.dtype) for p in bf16.model.parameters()} == {(DEVICE_TYPE, torch.bfloat16)}
    assert bf16.tag(SENTENCES) == GOLD
    gap = max(
        abs(p - q)
        for p, q in zip(
            probabilities_of(bf16.tag(SENTENCES, scores=True)), probabilities_of(fp32.tag(SENTENCES, scores=True))
        )
    )
    assert gap < 0.05
    tagged = bf16.tag(UNSEEN + [LONG], batch_size=3, scores=True)
    assert [len(t) for t in tagged] == [len(s) for s in UNSEEN + [LONG]]
    assert all(0.0 < p <= 1.0 for p in probabilities_of(tagged))


@on_device
@pytest.mark.parametrize("head", ["softmax", "crf"])
def test_bf16_autocast_training_on_the_device(head, ner_files, tiny_config, tmp_path):
    config = settings(tiny_config, {"head": head}, precision="bf16")
    result = train(config, DataSource(ner_files[0], ner_files[1]), tmp_path / "bf16")
    log = [json.loads(line) for line in (tmp_path / "bf16" / "train_log.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["loss"]) for r in log) and log[-1]["loss"] < log[0]["loss"] / 2
    assert result.dev.conlleval.micro.f1 >= 0.9, result.dev.conlleval.micro
    assert {p.dtype for p in Tagger.load(tmp_path / "bf16").model.parameters()} == {torch.float32}  # fp32 weights saved


@on_device
def test_auto_precision_is_bf16_autocast_on_a_gpu_with_bf16():
    from tagger.training.loop import autocast

    expected = torch.bfloat16 if DEVICE_TYPE == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    inputs, weights = torch.randn(4, 8, device=DEVICE), torch.randn(3, 8, device=DEVICE)
    with autocast(torch.device(DEVICE), "auto"):
        assert torch.nn.functional.linear(inputs, weights).dtype == expected
    with autocast(torch.device(DEVICE), "fp32"):
        assert torch.nn.functional.linear(inputs, weights).dtype == torch.float32


@pytest.fixture(scope="module")
def context_model(tmp_path_factory, tiny_config):
    """Document context between two BiLSTM layers and at the head, trained on the device on two documents."""
    folder = tmp_path_factory.mktemp("device_documents")
    train_file = write_conll(folder / "train.conll", NER_SENTENCES)
    blocks = train_file.read_text(encoding="utf-8").split("\n\n")
    train_file.write_text(
        "-DOCSTART- O\n\n" + "\n\n".join(blocks[:4]) + "\n\n-DOCSTART- O\n\n" + "\n\n".join(blocks[4:]),
        encoding="utf-8",
    )
    config = settings(
        tiny_config, {"document_context": True, "context_between_layers": True, "layers": 2, "head": "crf"}
    )
    result = train(config, DataSource(train_file, train_file), folder / "model")
    return folder / "model", train_file, result


@on_device
def test_document_context_trains_and_tags_on_the_device(context_model):
    model_dir, train_file, result = context_model
    assert result.dev.conlleval.micro.f1 == 1.0
    tagger = Tagger.load(model_dir, device=DEVICE)
    sentences, _ = read_corpus(train_file)
    words, documents = [s.words for s in sentences], document_ids(sentences)
    evaluation, predictions = tagger.evaluate(sentences)
    assert evaluation.conlleval.micro.f1 == 1.0
    one_by_one = []
    for document in sorted(set(documents)):
        one_by_one += tagger.tag([w for w, d in zip(words, documents) if d == document], batch_size=1)
    assert one_by_one == predictions == tagger.tag(words, batch_size=3, documents=documents)
    on_cpu = Tagger.load(model_dir, device="cpu").tag(words, scores=True, documents=documents)
    on_device = tagger.tag(words, scores=True, documents=documents)
    assert tags_of(on_device) == tags_of(on_cpu)
    assert max(abs(p - q) for p, q in zip(probabilities_of(on_cpu), probabilities_of(on_device))) < 1e-2
    assert Tagger.load(model_dir, device=DEVICE, quantize="bf16").tag(words, documents=documents) == predictions


@on_device
def test_document_pooling_in_bf16_keeps_the_mean_of_a_word_seen_a_thousand_times():
    """A word 1,000 times in one document of a batch (a long document: its windows share a batch). The hidden
    states are bf16 with bf16 weights, and under bf16 autocast (``train.precision=auto`` on a GPU), whose LSTM
    outputs are bf16; a bf16 sum or count stops growing at 256 (256 + 1 rounds back to 256), so a pool
    accumulated in bf16 is far off. Fails until ``pool_by_index`` accumulates in fp32."""
    from tagger.model import pool_by_index

    hidden = 1 + torch.rand(2, 1000, 8, generator=torch.Generator().manual_seed(0))  # (batch, positions, dim)
    index = torch.ones(2, 1000, dtype=torch.long)
    index[1] = 2  # the second row: another word
    expected = hidden.double().mean(dim=1, keepdim=True).expand_as(hidden)
    pooled = pool_by_index(hidden.to(DEVICE, torch.bfloat16), index.to(DEVICE)).double().cpu()
    worst = ((pooled - expected).abs() / expected).max().item()
    assert worst < 0.02, f"bf16 pooled mean off by {worst:.0%} (bf16 keeps 3 significant digits)"


def resume_settings(tiny_config, **train_changes):
    """As tests/test_resume.py: dropout and word dropout draw from the device's generator; a weight average."""
    changes = {"device": DEVICE, "epochs": 12, "patience": 12, "word_dropout": 0.1, "average": 0.9, **train_changes}
    return replace(
        tiny_config,
        model=replace(tiny_config.model, embedding_dropout=0.3),
        train=replace(tiny_config.train, **changes),
    )


def weights(directory: Path) -> bytes:
    return (directory / "model.safetensors").read_bytes()


def stop_after(config, source, out: Path, epochs: int) -> None:
    """Abandon a run once ``epochs`` epochs (and their checkpoint) are done, as a run killed there."""
    events = run_training(config, source, out)
    for event in events:
        if isinstance(event, EpochRecord) and event.epoch == epochs:
            events.close()
            return


def device_random_state() -> torch.Tensor:
    return torch.cuda.get_rng_state() if DEVICE_TYPE == "cuda" else torch.get_rng_state()


@on_device
def test_checkpoint_holds_and_restores_the_device_random_state(ner_files, tiny_config, tmp_path):
    from tagger.training.checkpoint import CHECKPOINT_DIR, read_checkpoint, restore_random_states

    train(resume_settings(tiny_config, epochs=3), DataSource(ner_files[0], ner_files[1]), tmp_path / "run")
    header, tensors = read_checkpoint(tmp_path / "run" / CHECKPOINT_DIR)
    key = f"rng/cuda/{torch.cuda.current_device()}" if DEVICE_TYPE == "cuda" else "rng/torch"
    assert key in tensors, sorted(tensors)
    saved = tensors[key]
    if DEVICE_TYPE == "cuda":  # nothing draws from the GPU's generator after the last checkpoint (scoring doesn't)
        assert torch.equal(device_random_state(), saved)
        torch.cuda.manual_seed(12345)
    else:
        torch.manual_seed(12345)
    torch.rand(100, device=DEVICE)
    restore_random_states(header["rng"], tensors, random.Random())
    assert torch.equal(device_random_state(), saved)
    first = torch.rand(100, device=DEVICE)
    restore_random_states(header["rng"], tensors, random.Random())
    assert torch.equal(torch.rand(100, device=DEVICE), first)


def check_resume(config, source, tmp_path: Path) -> None:
    whole = train(config, source, tmp_path / "whole", keep="all")
    stop_after(config, source, tmp_path / "resumed", epochs=5)
    resumed = train(config, source, tmp_path / "resumed", resume=True, keep="all")
    if weights(tmp_path / "resumed") != weights(tmp_path / "whole"):
        train(config, source, tmp_path / "again")
        if weights(tmp_path / "again") == weights(tmp_path / "whole"):
            pytest.fail(
                "the resumed run's weights differ from the uninterrupted run's, and two uninterrupted runs "
                "are bitwise equal: the checkpoint lost some state (random states? optimiser? average?)"
            )
        pytest.fail(
            "the resumed run's weights differ from the uninterrupted run's, but two uninterrupted runs on "
            f"{DEVICE} already differ: training on it is not deterministic (atomic adds in index_add_, "
            "scatter_add_ or embedding backward, cuDNN algorithms), so no resume can be bit-exact"
        )
    assert weights(tmp_path / "resumed" / "last") == weights(tmp_path / "whole" / "last")
    assert (tmp_path / "resumed" / "train_log.jsonl").read_text().count("\n") == config.train.epochs
    assert resumed.best_epoch == whole.best_epoch and resumed.dev.to_dict() == whole.dev.to_dict()


@on_device
@pytest.mark.parametrize("precision", ["fp32", "auto"])
def test_resumed_run_on_the_device_ends_with_the_same_weights(precision, ner_files, tiny_config, tmp_path):
    check_resume(resume_settings(tiny_config, precision=precision), DataSource(ner_files[0], ner_files[1]), tmp_path)


@pytest.fixture
def deterministic_algorithms(monkeypatch):
    """torch's deterministic algorithms (an operation without one raises, naming itself) and cuDNN's."""
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", os.environ.get("CUBLAS_WORKSPACE_CONFIG", ":4096:8"))
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[2], before[3]


@on_device
def test_resume_on_the_device_with_deterministic_algorithms(deterministic_algorithms, ner_files, tiny_config, tmp_path):
    """Where the plain resume test finds the device nondeterministic: whether torch's deterministic mode is enough
    (the fix would then be to turn it on for training), or which operation has no deterministic version."""
    check_resume(resume_settings(tiny_config), DataSource(ner_files[0], ner_files[1]), tmp_path)


def run_tagger(*arguments: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    completed = subprocess.run(
        [sys.executable, "-m", "tagger", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


@on_device
def test_command_line_trains_tags_and_evaluates_on_the_device(ner_files, tmp_path):
    train_file, dev_file = ner_files
    out = tmp_path / "model"
    command = [
        "train",
        "--train",
        str(train_file),
        "--dev",
        str(dev_file),
        "--out",
        str(out),
        "--device",
        DEVICE,
        "--epochs",
        "3",
        "--set",
        "model.hidden=16",
        "--set",
        "model.word_dim=16",
        "--set",
        "model.char_filters=8",
        "--set",
        "train.batch_size=4",
        "--preset",
        "fast",
    ]
    run_tagger(*command)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["device"].startswith(DEVICE_TYPE) and metrics["epochs_run"] == 3
    before = weights(out)
    run_tagger(*command, "--resume")  # the checkpoint says finished: nothing retrained
    assert weights(out) == before
    lines = [
        line for line in run_tagger("tag", str(out), str(dev_file), "--device", DEVICE).stdout.splitlines() if line
    ]
    assert len(lines) == sum(len(words) for words in SENTENCES[:4]) and all(len(line.split()) == 3 for line in lines)
    evaluation = json.loads(run_tagger("evaluate", str(out), str(dev_file), "--json", "--device", DEVICE).stdout)
    assert evaluation["words"] == sum(len(words) for words in SENTENCES[:4])


@pytest.mark.slow
def test_gpu_check_dry_run_on_the_cpu_writes_every_result_file(tmp_path):
    """scripts/gpu/gpu_check.sh --device cpu --tiny: every stage runs, without spaCy or datasets (as on the GPU
    image), and writes its JSON; at most 8 files, none in a folder (what the device tool brings back)."""
    out = tmp_path / "out"
    environment = {
        **os.environ,
        "OUT": str(out),
        "PYTHON": sys.executable,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    completed = subprocess.run(
        [
            "bash",
            str(ROOT / "scripts" / "gpu" / "gpu_check.sh"),
            "--device",
            "cpu",
            "--tiny",
            "--work",
            str(tmp_path / "work"),
            "--block-imports",
            "spacy,datasets",
        ],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=280,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    files = {p.name for p in out.iterdir()}
    assert files == {
        "summary.json",
        "pytest.json",
        "train.json",
        "tagging.json",
        "lstm.json",
        "train_accurate.json",
        "gpu_check.log",
    }
    assert all(p.is_file() for p in out.iterdir())
    summary = json.loads((out / "summary.json").read_text())
    assert {"mode", "device_requested", "env", "stages", "headline", "seconds"} <= set(summary)
    assert summary["mode"] == "tiny" and summary["device_requested"] == "cpu"
    assert {name: stage["status"] for name, stage in summary["stages"].items()} == {
        name: "ok" for name in ("env", "pytest", "train", "tagging", "lstm", "accurate")
    }
    assert {"torch", "cuda_available", "gpu_name", "packages"} <= set(summary["env"])
    assert summary["env"]["packages"]["spacy_importable"].startswith("no: ")  # blocked, as on the GPU image
    assert {
        "gpu",
        "torch",
        "cuda",
        "cuda_tests",
        "fast_test_f1",
        "fast_seconds_per_epoch",
        "tagging_best_fp32",
        "tagging_best_bf16",
        "bare_lstm_best_fp32",
        "bare_lstm_best_bf16",
        "accurate_seconds_per_epoch",
    } <= set(summary["headline"])
    tests = json.loads((out / "pytest.json").read_text())
    assert tests["counts"] and set(tests["counts"]) <= {"passed", "skipped"}  # skipped without a GPU
    trained = json.loads((out / "train.json").read_text())
    assert trained["epochs_run"] == 2 and 0.0 <= trained["test_score"] <= 1.0 and trained["seconds_per_epoch"] > 0
    tagging = json.loads((out / "tagging.json").read_text())
    assert tagging["words"] >= 4000 and {(r["precision"], r["batch_size"]) for r in tagging["sweep"]} == {
        (p, b) for p in ("fp32", "bf16") for b in (256, 1024)
    }
    assert all(r["words_per_second"] > 0 for r in tagging["sweep"])
    assert {"host_only_seconds", "whole_seconds", "torch_profiler", "cprofile_by_tottime"} <= set(tagging["profile"])
    lstm = json.loads((out / "lstm.json").read_text())
    assert lstm["hidden"] == 128 and all(r["tokens_per_second"] > 0 for r in lstm["sweep"])
    accurate = json.loads((out / "train_accurate.json").read_text())
    assert accurate["epochs_run"] == 1 and accurate["seconds_per_epoch"] > 0
