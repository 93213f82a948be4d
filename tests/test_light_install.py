"""`pip install bilstm-tagger` without extras trains, evaluates, tags and runs the spaCy component: nothing on
those paths imports what only an extra installs (datasets and pyarrow, Ray, onnx and onnxruntime, the server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
# import names of the extras' distributions (the project's own extras aside)
EXTRA_MODULES = ("datasets", "pyarrow", "ray", "onnx", "onnxruntime", "fastapi", "uvicorn", "prometheus_client")

WITHOUT_EXTRAS = """
import importlib.abc, json, sys

BLOCKED = set(sys.argv[1].split(","))

# Every finder, blind to the extras: importing one fails, and asking whether one exists (as torch does for onnx)
# gets no, as where the extras are not installed.
class NotInstalled(importlib.abc.MetaPathFinder):
    def __init__(self, finder):
        self.finder = finder
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            return None
        return self.finder.find_spec(name, path, target)
    def invalidate_caches(self):
        getattr(self.finder, "invalidate_caches", lambda: None)()
    def find_distributions(self, *args, **kwargs):  # entry points (spaCy's factories) are found through these
        return getattr(self.finder, "find_distributions", lambda *a, **k: [])(*args, **kwargs)

sys.meta_path[:] = [NotInstalled(finder) for finder in sys.meta_path]
from typer.testing import CliRunner
from tagger.cli import app

folder, train, dev = sys.argv[2], sys.argv[3], sys.argv[4]
runner = CliRunner()
settings = ["--set", "model.word_dim=8", "--set", "model.char_filters=4", "--set", "model.hidden=8"]
trained = runner.invoke(app, ["train", "--train", train, "--dev", dev, "--out", folder, "--epochs", "2", *settings])
evaluated = runner.invoke(app, ["evaluate", folder, dev, "--json"])
tagged = runner.invoke(app, ["tag", folder, dev])
import spacy
nlp = spacy.blank("en")
nlp.add_pipe("bilstm_tagger", config={"model": folder})
doc = nlp("John Smith lives in Paris.")
print(json.dumps({"codes": [trained.exit_code, evaluated.exit_code, tagged.exit_code], "words": len(doc),
                  "output": trained.output[-300:] + evaluated.output[-300:] + tagged.output[-300:],
                  "imported": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)}))
"""


def test_the_core_install_has_no_extra_in_its_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = {Requirement(line).name for line in project["dependencies"]}
    assert core.isdisjoint({"datasets", "ray", "onnx", "onnxruntime", "fastapi", "uvicorn", "prometheus-client"})
    assert {"torch", "spacy", "seqeval", "typer", "safetensors"} <= core


def test_train_evaluate_tag_and_the_spacy_component_run_without_the_extras(ner_files, tmp_path):
    command = [sys.executable, "-c", WITHOUT_EXTRAS, ",".join(EXTRA_MODULES), str(tmp_path / "model")]
    done = subprocess.run([*command, *map(str, ner_files)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["codes"] == [0, 0, 0], result["output"]
    assert result["words"] == 6 and result["imported"] == []
