"""The CLI through typer's CliRunner: exit codes, outputs, and one clear line for every user error."""

import importlib.util
import json
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from tagger.cli import app
from tests.conftest import NER_SENTENCES

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def assert_user_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("error:"), message
    assert "Traceback" not in result.output and "Traceback" not in message
    for fragment in fragments:
        assert fragment in " ".join(message.split()), message


def load_conlleval():
    spec = importlib.util.spec_from_file_location("conlleval", ROOT / "scripts" / "tools" / "conlleval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_command_writes_a_model_and_refuses_to_overwrite_it(ner_files, tmp_path):
    out = tmp_path / "model"
    args = [
        "train",
        "--train",
        ner_files[0],
        "--dev",
        ner_files[1],
        "--out",
        out,
        "--epochs",
        "2",
        "--seed",
        "3",
        "--device",
        "cpu",
        "--set",
        "model.hidden=8",
        "--set",
        "model.word_dim=8",
    ]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert (out / "model.safetensors").is_file() and (out / "README.md").is_file()
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["model"]["hidden"] == 8 and config["train"]["epochs"] == 2 and config["train"]["seed"] == 3
    # --epochs 2 ended it: when its last epoch was its best, the output says how to give it more
    best_last = json.loads((out / "metrics.json").read_text())["best_epoch"] == 2
    assert (
        "--epochs 2 stopped the run after its best epoch so far (2); --resume with a larger --epochs" in result.output
    ) == best_last
    assert_user_error(invoke(*args), "already holds a model", "--overwrite")


def test_evaluate_json_and_predictions_agree_with_independent_conlleval(trained_model, ner_files, tmp_path):
    predictions = tmp_path / "predictions.txt"
    result = invoke("evaluate", trained_model, ner_files[0], "--json", "--predictions", predictions)
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["conlleval"]["mode"] == "conlleval" and scores["strict"]["mode"] == "strict IOB2"
    independent = load_conlleval().evaluate_lines(predictions.read_text().splitlines())
    assert abs(independent["f1"] - 100 * scores["conlleval"]["micro"]["f1"]) < 0.01


def test_evaluate_prints_a_per_type_table(trained_model, ner_files):
    result = invoke("evaluate", trained_model, ner_files[1])
    assert result.exit_code == 0, result.output
    printed = " ".join(result.stdout.split())  # rich wraps at the terminal width
    for fragment in ("PER", "LOC", "micro", "macro", "strict IOB2 F1", "token accuracy"):
        assert fragment in printed


def test_tag_raw_text_to_jsonl_with_character_offsets(trained_model, tmp_path):
    text = "John Smith lives in Paris.\n\nAnna likes German beer."
    source = tmp_path / "news.txt"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "news.jsonl"
    result = invoke("tag", trained_model, source, "-o", out, "--format", "jsonl", "--probabilities")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    found = [(text[e["start"] : e["end"]], e["label"]) for r in records for e in r["entities"]]
    assert ("John Smith", "PER") in found and ("Paris", "LOC") in found and ("Anna", "PER") in found
    assert all(len(r["probabilities"]) == len(r["words"]) for r in records)


def test_tag_conll_from_stdin_to_stdout(trained_model):
    words, tags = NER_SENTENCES[0]
    result = invoke(
        "tag", trained_model, "-", "--input-format", "conll", "--probabilities", input="\n".join(words.split()) + "\n"
    )
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.strip().splitlines()]
    assert [r[1] for r in rows] == tags.split()
    assert all(0.0 < float(r[2]) <= 1.0 for r in rows)


def test_raw_text_on_a_pipe_is_tagged_while_the_pipe_is_still_open(trained_model):
    """The first sentences come out before the writer closes standard input: a pipe streams, it is not read to
    its end first (nor copied to a temporary file)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tagger", "tag", str(trained_model), "-", "--device", "cpu"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        process.stdin.write(b"John Smith lives in Paris.\n\n" * 4000)  # more than one pool of sentences
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], 120)
        assert ready, "no output while standard input stayed open"
        first = process.stdout.readline().decode()
        process.stdin.write(b"Anna flew to Berlin.\n")
        process.stdin.close()
        rest = process.stdout.read().decode()
        assert process.wait(60) == 0, process.stderr.read().decode()
    finally:
        process.kill()
    words = [line.split()[0] for line in (first + rest).splitlines() if line.strip() and line != "-DOCSTART-"]
    assert words.count("John") == 4000
    assert words[-5:] == ["Anna", "flew", "to", "Berlin", "."]  # and the last line, written after the first output


def test_bad_input_tag_refuses_to_overwrite_its_input(trained_model, ner_files):
    assert_user_error(invoke("tag", trained_model, ner_files[0], "-o", ner_files[0]), "is also an input")


BAD_EVALUATION_FILES = {  # name: (content, line of the error, what the message must say)
    "wrong_column_count": (b"John B-PER\nSmith I-PER extra\n", 2, "expected 2 columns"),
    "invalid_utf8": ("Paris B-LOC\nM\u00fcnchen B-LOC\n".encode("latin-1"), 2, "--encoding"),
    "empty_file": (b"", None, "no sentences"),
    "tag_outside_any_scheme": (b"John B-PER\nParis LOC\n", 2, "LOC"),
    "tag_unseen_in_training": (b"John B-PER\nmeets O\nFIFA B-SPORTS\n", 3, "'B-SPORTS' was not seen"),
}


@pytest.mark.parametrize("case", sorted(BAD_EVALUATION_FILES))
def test_bad_input_evaluate(trained_model, tmp_path, case):
    content, line, expected = BAD_EVALUATION_FILES[case]
    bad = tmp_path / f"{case}.conll"
    bad.write_bytes(content)
    assert_user_error(invoke("evaluate", trained_model, bad), f"{bad}:{line}" if line else str(bad), expected)


def test_bad_input_missing_model_directory(tmp_path, ner_files):
    assert_user_error(invoke("evaluate", tmp_path / "nope", ner_files[1]), "no such model directory")


def test_bad_input_corrupted_weights(trained_model, tmp_path, ner_files):
    import shutil

    copy = Path(shutil.copytree(trained_model, tmp_path / "model"))
    (copy / "model.safetensors").write_bytes(b"\x00" * 64)
    assert_user_error(invoke("tag", copy, ner_files[1]), "corrupt model file")


def test_bad_input_missing_input_file(trained_model, tmp_path):
    assert_user_error(invoke("tag", trained_model, tmp_path / "absent.txt"), "absent.txt", "no such file")


def test_bad_input_unknown_config_override(ner_files, tmp_path):
    result = invoke(
        "train", "--train", ner_files[0], "--dev", ner_files[1], "--out", tmp_path / "m", "--set", "model.hiden=3"
    )
    assert_user_error(result, "error: --set model.hiden=3: unknown setting 'model.hiden'; did you mean 'model.hidden'?")
    result = invoke(
        "train", "--train", ner_files[0], "--dev", ner_files[1], "--out", tmp_path / "m", "--set", "modle.hidden=3"
    )
    assert_user_error(
        result, "error: --set modle.hidden=3: unknown setting 'modle.hidden'; did you mean 'model.hidden'?"
    )
    assert not (tmp_path / "m").exists()


def test_bad_input_misspelt_preset(ner_files, tmp_path):
    result = invoke(
        "train", "--train", ner_files[0], "--dev", ner_files[1], "--out", tmp_path / "m", "--preset", "acurate"
    )
    assert_user_error(result, "error: preset 'acurate': expected one of", "; did you mean 'accurate'?")


def test_bad_input_cuda_requested_without_cuda(trained_model, ner_files):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert_user_error(invoke("tag", trained_model, ner_files[1], "--device", "cuda"), "no CUDA device")


def test_train_from_a_dataset_with_class_label_tags(tmp_path, monkeypatch):
    """The Hugging Face path: a DatasetDict saved to disk (what the hub gives) trains like corpus files."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
    rows = {
        "tokens": [s.split() for s, _ in NER_SENTENCES],
        "ner_tags": [[names.index(t) for t in tags.split()] for _, tags in NER_SENTENCES],
    }
    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names)),
        }
    )
    split = datasets.Dataset.from_dict(rows, features=features)
    datasets.DatasetDict({"train": split, "validation": split}).save_to_disk(str(tmp_path / "conll-like"))
    out = tmp_path / "model"
    result = invoke(
        "train",
        "--dataset",
        tmp_path / "conll-like",
        "--out",
        out,
        "--epochs",
        "1",
        "--set",
        "model.hidden=8",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"][0]["path"].endswith("conll-like[train]") and metrics["data"][0]["sentences"] == 8
    assert set(json.loads((out / "vocab.json").read_text())["labels"]) >= {"B-PER", "E-PER", "S-LOC"}


def test_train_with_dev_says_the_dev_scores_are_on_training_data(ner_files, tmp_path):
    out = tmp_path / "final"
    args = [
        "--dev",
        ner_files[1],
        "--out",
        out,
        "--epochs",
        "2",
        "--set",
        "model.hidden=8",
        "--set",
        "model.word_dim=8",
    ]
    result = invoke("train", "--train", ner_files[0], *args, "--set", "train.with_dev=true")
    assert result.exit_code == 0, result.output
    assert "train.with_dev: the dev corpus is training data too" in result.output
    assert "epoch 2, the last (dev trained on)" in result.output and "dev (trained on)" in result.output
    refused = invoke("train", "--train", ner_files[0], "--out", tmp_path / "m", "--set", "train.with_dev=true")
    assert_user_error(refused, "trains on the dev corpus as well: name one with --dev")


def test_bad_input_train_without_data(tmp_path):
    assert_user_error(invoke("train", "--out", tmp_path / "m"), "needs a --train corpus file", "--dataset")


def test_tag_in_bioes_keeps_the_same_entities(trained_model, tmp_path):
    source = tmp_path / "news.txt"
    source.write_text("Acme Corp hired Anna Lee in Berlin.", encoding="utf-8")
    result = invoke("tag", trained_model, source, "--format", "jsonl", "--scheme", "BIOES")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["tags"][:6] == ["B-ORG", "E-ORG", "O", "B-PER", "E-PER", "O"]
    assert [e["label"] for e in record["entities"]] == ["ORG", "PER", "LOC"]


def test_train_preset_and_seeds(ner_files, tmp_path):
    out = tmp_path / "fast"
    result = invoke(
        "train",
        "--train",
        ner_files[0],
        "--dev",
        ner_files[1],
        "--out",
        out,
        "--preset",
        "fast",
        "--seeds",
        "2",
        "--epochs",
        "1",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["model"]["layers"] == 1 and config["model"]["hidden"] == 128 and config["train"]["epochs"] == 1
    summary = json.loads((out / "seeds.json").read_text())
    assert summary["seeds"] == [1, 2] and len(summary["dev"]["scores"]) == 2
    assert "2 seeds: dev entity F1 (conlleval)" in " ".join(result.stderr.split())
    assert_user_error(
        invoke("train", "--train", ner_files[0], "--dev", ner_files[1], "--out", tmp_path / "x", "--preset", "fastest"),
        "preset 'fastest'",
        "fast",
    )


def test_benchmark_reports_speed_memory_and_startup(trained_model, ner_files):
    from tagger.benchmark import startup_seconds

    result = invoke(
        "benchmark", trained_model, ner_files[1], "--runs", "2", "--no-startup", "--json", "--device", "cpu"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    words = sum(len(words.split()) for words, _ in NER_SENTENCES[:4])
    assert [(s["name"], s["words"], len(s["passes"])) for s in report["speeds"]] == [
        ("pre-tokenised", words, 2),
        ("raw text", words, 2),
    ]
    assert all(s["median"] > 0 for s in report["speeds"]) and report["peak_memory_mb"] > 0
    assert 0 < startup_seconds(trained_model, runs=1) < 60
    # every speed figure says on which CPU, with which instruction sets, and with which runtime versions
    assert report["cpu"]["model"] and report["cpu"]["cores"] >= 1 and isinstance(report["cpu"]["flags"], list)
    assert report["versions"]["torch"] == torch.__version__
    assert report["runtime"] == "PyTorch fp32" and report["threads"] >= 1 and report["batches_at_once"] >= 1
    # and what share of the compute bound it reaches: the network's FLOPs per word beside the measured matmul rate
    bound = report["compute_bound"]
    assert bound["flops_per_word"] > 0 and bound["matmul_flops_per_second"] > 1e8
    table = invoke("benchmark", trained_model, ner_files[1], "--runs", "1", "--no-startup", "--device", "cpu")
    assert table.exit_code == 0 and f"CPU: {report['cpu']['model']}" in " ".join(table.output.split()), table.output
    assert "MFLOP per word" in table.output and re.search(r"\d+%", table.output), table.output
    assert "PyTorch fp32" in " ".join(table.output.split())


def test_flops_per_word_counts_the_networks_matrix_products():
    from torch import nn

    from tagger.benchmark import flops_per_word

    # the default architecture: a BiLSTM of 200 per direction over words (100) + char-CNN (50) + casing (8),
    # an output layer to 17 tags, and a char-CNN of 50 filters over 30-wide chars with a kernel of 3
    network = nn.Module()
    network.rnn = nn.LSTM(158, 200, bidirectional=True)
    network.output = nn.Linear(400, 17)
    network.char_encoder = nn.Module()
    network.char_encoder.conv = nn.Conv1d(30, 50, 3)
    recurrent = 2 * 2 * 4 * 200 * (158 + 200)  # both directions: input projection and recurrence
    assert flops_per_word(network, chars_per_word=6.0) == recurrent + 2 * 400 * 17 + 6.0 * 2 * 30 * 50 * 3
    # stacked layers see the layer below (both directions), not the input
    two_layers = nn.Module()
    two_layers.rnn = nn.GRU(10, 20, num_layers=2, bidirectional=True)
    assert flops_per_word(two_layers, 5.0) == 2 * 2 * 3 * 20 * (10 + 20) + 2 * 2 * 3 * 20 * (40 + 20)


def test_cpu_description_reads_the_flags_that_matter(tmp_path):
    from tagger.cpu import describe_cpu

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse2 avx avx2 fma bmi2\n\n")
    zen3 = describe_cpu(cpuinfo)
    assert (zen3.model, zen3.flags) == ("AMD EPYC 7B13", ("AVX2",)) and "AMD EPYC 7B13 (AVX2;" in str(zen3)
    cpuinfo.write_text("model name\t: Xeon\nflags\t\t: avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_int8\n")
    assert describe_cpu(cpuinfo).flags == ("AVX2", "AVX-512", "AVX-512 VNNI", "AVX-512 BF16", "AMX-BF16", "AMX-INT8")
    assert describe_cpu(tmp_path / "absent").flags == ()  # not Linux: the platform's name, no flags


def test_library_messages_name_settings_and_the_cli_names_its_options(tmp_path):
    """A Python caller is told the setting (`encoding=latin-1`), the command line its option (--encoding latin-1)."""
    from tagger.cli.messages import command_line_message
    from tagger.corpus import read_corpus
    from tagger.errors import CorpusFormatError

    latin = tmp_path / "latin.conll"
    latin.write_bytes("Paris B-LOC\n\nM\u00fcnchen B-LOC\n".encode("latin-1"))
    with pytest.raises(CorpusFormatError) as caught:
        read_corpus(latin)
    assert "`encoding=latin-1`" in str(caught.value) and "--" not in str(caught.value)
    assert_user_error(invoke("data", latin), f"{latin}:3", "--encoding latin-1")
    assert command_line_message("`out_dir=x` is a file; pass `overwrite=True` or `corpus.scheme=none`") == (
        "--out x is a file; pass --overwrite or --set corpus.scheme=none"
    )
    assert command_line_message("pass `resume=True` to go on from its checkpoint") == (
        "pass --resume to go on from its checkpoint"
    )
