"""Tagging without PyTorch, as a deployment does it (docs/onnx.md): a fresh virtual environment with pyproject's
``portable`` extra only and tagger installed with ``--no-deps`` has no torch, and ``tagger tag`` there tags a file
with an exported model exactly as the PyTorch tagger tags it; a PyTorch model, raw text or entity scores (seqeval)
there are one line naming the pip command. A cheaper check runs the command line in this environment with ``import torch`` failing, so the
torch-free import graph of the command line and the spaCy component is guarded even where no venv is built."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import torch  # noqa: F401 (the models are made and exported with PyTorch, here)
from conftest import NER_SENTENCES

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from test_export import TEXT, make_model  # noqa: E402

from tagger.corpus import read_corpus  # noqa: E402
from tagger.export import export_model  # noqa: E402
from tagger.tagging.torch_tagger import Tagger  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PORTABLE = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"][
    "portable"
]
SOURCE_FILES = ("pyproject.toml", "README.md", "LICENSE", "tagger")  # what building tagger's wheel reads
NO_TORCH = """
import importlib.abc, sys

class NoTorch(importlib.abc.MetaPathFinder):  # as if torch were not installed
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoTorch())
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Two small models (CRF over BIOES; softmax with document context) and their exports."""
    root = tmp_path_factory.mktemp("portable-models")
    made = {
        "crf": make_model(root / "crf", ["model.head=crf"], "BIOES"),
        "context": make_model(root / "context", ["model.document_context=true"], "IOB2"),
    }
    for name in list(made):
        made[f"{name}-onnx"] = export_model(made[name], root / f"{name}-onnx").out_dir
    return made


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Gold CoNLL, two documents, with unusual words (accents, a 45-letter word, digits)."""
    lines = ["-DOCSTART- O", ""]
    for words, tags in NER_SENTENCES[:4]:
        lines += [f"{w} {t}" for w, t in zip(words.split(), tags.split())] + [""]
    lines += ["-DOCSTART- O", ""]
    for words in TEXT:
        lines += [f"{w} O" for w in words] + [""]
    path = tmp_path_factory.mktemp("portable-data") / "in.conll"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def pytorch_tags(model: Path, data: Path) -> list[list[str]]:
    sentences, _ = read_corpus(data)
    return [tagged.tags for tagged in Tagger.load(model, device="cpu").tag_sentences(sentences)]


def jsonl_tags(stdout: str) -> list[list[str]]:
    return [json.loads(line)["tags"] for line in stdout.splitlines() if line.strip()]


def clean_environment() -> dict[str, str]:
    """This environment's variables less the ones that would reach back into it (PYTHONPATH, the venv)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}


# -- a fresh virtual environment without torch -------------------------------------------------------------------


def pip(venv_python: Path, *arguments: str) -> None:
    """pip of this environment installing into the venv (``--python``): the venv needs no pip of its own."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv_python), "install", "--quiet", *arguments],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"pip install {' '.join(arguments)} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="session")
def portable_venv(tmp_path_factory) -> Path:
    """A venv (no system site-packages) with the portable extra from the package index and tagger --no-deps,
    built from a copy of the source so the build leaves nothing in the repository. Returns its bin folder."""
    root = tmp_path_factory.mktemp("portable-venv")
    source = root / "source"
    source.mkdir()
    for name in SOURCE_FILES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, source / name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip(python, *PORTABLE)
    pip(python, "--no-deps", str(source))
    return venv / "bin"


def run_in(venv_bin: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv_bin / arguments[0]), *arguments[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=clean_environment(),
    )


def test_fresh_venv_without_torch_tags_as_pytorch(portable_venv, models, corpus, tmp_path):
    found = run_in(
        portable_venv,
        "python",
        "-c",
        "import importlib.util, json, tagger; "
        "print(json.dumps([tagger.__file__] + [importlib.util.find_spec(m) is not None for m in "
        "('torch', 'safetensors', 'spacy', 'seqeval', 'onnxruntime')]))",
        cwd=tmp_path,
    )
    assert found.returncode == 0, found.stderr
    location, *present = json.loads(found.stdout)
    assert Path(location).is_relative_to(portable_venv.parent), location  # the installed copy, not the repository
    assert present == [False, False, False, False, True]  # no torch: the runtime dependencies only
    for name in ("crf", "context"):
        tagged = run_in(
            portable_venv, "tagger", "tag", str(models[f"{name}-onnx"]), str(corpus), "--format", "jsonl", cwd=tmp_path
        )
        assert tagged.returncode == 0, tagged.stderr
        assert jsonl_tags(tagged.stdout) == pytorch_tags(models[name], corpus), name


def test_fresh_venv_without_torch_says_what_to_install(portable_venv, models, corpus, tmp_path):
    """A PyTorch model, raw text without spaCy, training without PyTorch, entity scores without seqeval: each one
    line naming the pip command."""
    text = tmp_path / "news.txt"
    text.write_text("John Smith lives in Paris.\n", encoding="utf-8")
    for arguments, fragments in (
        (("tag", models["crf"], corpus), ("needs PyTorch", "pip install torch", "tagger export")),
        (("tag", models["crf-onnx"], text), ("needs spaCy", "pip install spacy")),
        (("info", models["crf"]), ("needs PyTorch", "pip install torch")),
        (("evaluate", models["crf"], corpus), ("needs PyTorch", "pip install torch", "tagger export")),
        (("evaluate", models["crf-onnx"], corpus), ("needs seqeval", "pip install seqeval")),
        (("train", "--train", corpus, "--out", tmp_path / "trained"), ("needs PyTorch", "pip install torch")),
    ):
        done = run_in(portable_venv, "tagger", *map(str, arguments), cwd=tmp_path)
        assert done.returncode == 2, (arguments, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
        for fragment in fragments:
            assert fragment in done.stderr, (fragment, done.stderr)


def test_fresh_venv_without_torch_describes_an_export(portable_venv, models, tmp_path):
    done = run_in(portable_venv, "tagger", "info", str(models["crf-onnx"]), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    vocab = json.loads((models["crf-onnx"] / "vocab.json").read_text(encoding="utf-8"))
    assert info["runtime"] == "onnxruntime" and info["precision"] == "fp32" and info["labels"] == vocab["labels"]
    assert info["parameters"] == sum(p.numel() for p in Tagger.load(models["crf"], device="cpu").model.parameters())


# -- the same import graph, cheaper: this environment with `import torch` failing -----------------------------------

CLI_WITHOUT_TORCH = (
    NO_TORCH
    + """
from tagger.cli import main

sys.argv = ["tagger", *sys.argv[1:]]
try:
    main()
finally:
    print("torch imported:", "torch" in sys.modules, file=sys.stderr)
"""
)


def cli_without_torch(*arguments: object, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CLI_WITHOUT_TORCH, *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**clean_environment(), "PYTHONPATH": str(REPO)},
    )


def test_command_line_tags_an_export_where_torch_cannot_be_imported(models, corpus, tmp_path):
    for name in ("crf", "context"):
        tagged = cli_without_torch("tag", models[f"{name}-onnx"], corpus, "--format", "jsonl", cwd=tmp_path)
        assert tagged.returncode == 0, tagged.stderr
        assert "torch imported: False" in tagged.stderr
        assert jsonl_tags(tagged.stdout) == pytorch_tags(models[name], corpus), name
    out = tmp_path / "tagged"  # an output folder: the manifest, the plan and the workers' loading
    folder = cli_without_torch("tag", models["crf-onnx"], corpus, "--out", out, "--workers", "1", cwd=tmp_path)
    assert folder.returncode == 0, folder.stderr
    assert (out / "in.conll").is_file() and "torch imported: False" in folder.stderr


def test_command_line_evaluates_an_export_where_torch_cannot_be_imported(models, corpus, tmp_path):
    """The scores of an export, as PyTorch's model gets them (the scorer, seqeval, is all it needs beside)."""
    pytest.importorskip("seqeval")
    from tagger.evaluation.model import evaluate_model

    for name in ("crf", "context"):
        done = cli_without_torch("evaluate", models[f"{name}-onnx"], corpus, "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "torch imported: False" in done.stderr
        expected = evaluate_model(models[name], corpus, device="cpu").evaluation.to_dict()
        assert json.loads(done.stdout) == expected, name
    predictions, report = tmp_path / "pred.txt", tmp_path / "report"
    written = cli_without_torch(
        "evaluate", models["crf-onnx"], corpus, "--predictions", predictions, "--report", report, cwd=tmp_path
    )
    assert written.returncode == 0, written.stderr
    assert predictions.is_file() and (report / "index.html").is_file() and "torch imported: False" in written.stderr


def test_raw_text_and_info_where_torch_cannot_be_imported(models, tmp_path):
    """Raw text goes through spaCy, which imports every registered factory, tagger's spaCy component included."""
    pytest.importorskip("spacy")
    text = tmp_path / "news.txt"
    text.write_text("John Smith lives in Paris.\n\nMary works for Acme Corp in Berlin.\n", encoding="utf-8")
    tagged = cli_without_torch("tag", models["crf-onnx"], text, "--format", "jsonl", cwd=tmp_path)
    assert tagged.returncode == 0, tagged.stderr
    assert [r["words"][:2] for r in map(json.loads, tagged.stdout.splitlines())] == [
        ["John", "Smith"],
        ["Mary", "works"],
    ]
    described = cli_without_torch("info", models["context-onnx"], "--no-card", cwd=tmp_path)
    assert described.returncode == 0, described.stderr
    for fragment in ("onnxruntime", "fp32", "B-PER", "model.document_context", "torch imported: False"):
        assert fragment in described.stdout + described.stderr, fragment


def test_pytorch_commands_where_torch_cannot_be_imported_are_one_line(models, corpus, tmp_path):
    for arguments, fragment in (
        (("tag", models["crf"], corpus), f"the model directory {models['crf']} needs PyTorch"),
        (("evaluate", models["crf"], corpus), f"the model directory {models['crf']} needs PyTorch"),
        (("export", models["crf"], "--out", tmp_path / "x"), "tagger export needs PyTorch"),
        (("train", "--train", corpus, "--out", tmp_path / "y"), "tagger train needs PyTorch"),
        (("benchmark", models["crf-onnx"], corpus), "tagger benchmark needs PyTorch"),
    ):
        done = cli_without_torch(*arguments, cwd=tmp_path)
        assert done.returncode == 2, (arguments, done.stderr)
        assert "Traceback" not in done.stderr and fragment in done.stderr, done.stderr
        assert "pip install torch" in done.stderr and done.stderr.count("error:") == 1


SPACY_WITHOUT_TORCH = (
    NO_TORCH
    + """
import json, spacy

nlp = spacy.blank("en")
nlp.add_pipe("bilstm_tagger", config={"model": sys.argv[1]})
doc = nlp("John Smith lives in Paris .")
copy = spacy.blank("en")
copy.add_pipe("bilstm_tagger").from_bytes(nlp.get_pipe("bilstm_tagger").to_bytes())
again = copy("John Smith lives in Paris .")
print(json.dumps({"ents": [[e.text, e.label_] for e in doc.ents], "again": [[e.text, e.label_] for e in again.ents],
                  "torch": "torch" in sys.modules}))
"""
)


def test_spacy_component_runs_an_export_where_torch_cannot_be_imported(models, tmp_path):
    spacy = pytest.importorskip("spacy")
    done = subprocess.run(
        [sys.executable, "-c", SPACY_WITHOUT_TORCH, str(models["crf-onnx"])],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**clean_environment(), "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_tagger", config={"model": str(models["crf"]), "device": "cpu"})
    expected = [[e.text, e.label_] for e in nlp("John Smith lives in Paris .").ents]
    assert result == {"ents": expected, "again": expected, "torch": False}


def test_quantize_modes_of_both_runtimes_agree():
    from tagger.model import QUANTIZE_MODES as PYTORCH_QUANTIZE_MODES
    from tagger.tagging.onnx_tagger import QUANTIZE_MODES

    assert QUANTIZE_MODES == PYTORCH_QUANTIZE_MODES


def test_load_tagger_chooses_the_runtime_and_carries_an_exports_files(models, tmp_path):
    from tagger.tagging.loading import load_tagger, read_tagger_files, tagger_from_files, write_tagger_files
    from tagger.tagging.onnx_tagger import PortableTagger

    assert isinstance(load_tagger(models["crf"], device="cpu"), Tagger)
    assert isinstance(load_tagger(models["crf-onnx"], threads=1), PortableTagger)
    files = read_tagger_files(models["crf-onnx"])
    assert set(files) == {"model.onnx", "vocab.json", "config.json", "metrics.json", "README.md"}
    write_tagger_files(tmp_path / "copy", files)
    sentences = [list(words) for words in TEXT]
    expected = Tagger.load(models["crf"], device="cpu").tag(sentences)
    assert load_tagger(tmp_path / "copy").tag(sentences) == expected
    assert tagger_from_files(files, "<bytes>").tag(sentences) == expected
