"""The models that ship inside the package: each is at most 25 MB, tags as the directory it was made from
(tests/fixtures/shipped/NAME.json, written by scripts/tools/ship_model.py), and is named by its name wherever a model
directory is asked for: the command line, Tagger.load, the server's model list and the spaCy component."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tagger.shipped import SHIPPED_FOLDER, model_path, shipped_models

FIXTURES = Path(__file__).parent / "fixtures" / "shipped"
NAMES = sorted(path.stem for path in FIXTURES.glob("*.json"))


def test_the_english_models_ship_each_with_its_fixture():
    assert [m.name for m in shipped_models()] == ["en-ner", "en-upos"]
    assert NAMES == ["en-ner", "en-upos"]


@pytest.mark.parametrize("name", NAMES)
def test_a_shipped_model_is_small_and_tags_as_the_directory_it_was_made_from(name):
    from tagger import Tagger

    shipped = {m.name: m for m in shipped_models()}[name]
    assert shipped.size <= 25_000_000
    assert {"config.json", "vocab.json", "model.safetensors", "metrics.json", "README.md"} <= {
        p.name for p in shipped.path.iterdir()
    }
    fixture = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert Tagger.load(name, device="cpu").tag(fixture["sentences"]) == fixture["tags"]
    card = (shipped.path / "README.md").read_text(encoding="utf-8")
    assert f"tagger evaluate {name}" in card and "Licence" in card and "words/s" in card


@pytest.mark.parametrize("name", NAMES)
def test_a_shipped_model_is_named_on_the_command_line_and_in_spacy(name):
    import spacy

    text = "Angela Merkel visited Paris on Monday .\n"
    done = subprocess.run(
        [sys.executable, "-m", "tagger", "tag", name, "-", "--device", "cpu"],
        input=text,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert [line.split("\t")[0] for line in done.stdout.splitlines() if line.strip()] == text.split()
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_tagger", config={"model": name})
    doc = nlp("Angela Merkel visited Paris on Monday.")
    tagged = [t.ent_type_ for t in doc] if name.endswith("ner") else [t.pos_ for t in doc]
    assert any(tagged)


@pytest.fixture()
def shipped_tiny(trained_model, tmp_path, monkeypatch) -> str:
    """The tiny test model, shipped as `en-tiny` in a package folder of this test's own."""
    import shutil

    from tagger import shipped

    folder = tmp_path / "package-models"
    shutil.copytree(trained_model, folder / "en-tiny", ignore=shutil.ignore_patterns("checkpoint", "last"))
    monkeypatch.setattr(shipped, "SHIPPED_FOLDER", folder)
    monkeypatch.chdir(tmp_path)
    return "en-tiny"


def test_a_shipped_name_works_wherever_a_model_directory_is_read(shipped_tiny, trained_model, tmp_path):
    import spacy
    from typer.testing import CliRunner

    from tagger import Tagger
    from tagger.cli import app

    words = [["John", "Smith", "lives", "in", "Paris", "."]]
    assert Tagger.load(shipped_tiny, device="cpu").tag(words) == Tagger.load(trained_model, device="cpu").tag(words)
    runner = CliRunner()
    to_stdout = runner.invoke(app, ["tag", shipped_tiny, "-", "--device", "cpu"], input="John Smith lives in Paris .\n")
    assert to_stdout.exit_code == 0 and "B-PER" in to_stdout.stdout, to_stdout.output
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "news.txt").write_text("John Smith lives in Paris.\n", encoding="utf-8")
    to_folder = runner.invoke(app, ["tag", shipped_tiny, "in", "--out", "out", "--quiet", "--device", "cpu"])
    assert to_folder.exit_code == 0 and (tmp_path / "out" / "news.txt.conll").is_file(), to_folder.output
    info = runner.invoke(app, ["info", shipped_tiny, "--json"])
    assert info.exit_code == 0 and json.loads(info.stdout)["task"] == "spans"
    listed = runner.invoke(app, ["models", "--json"])
    assert [row["name"] for row in json.loads(listed.stdout)] == [shipped_tiny]
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_tagger", config={"model": shipped_tiny})
    assert [e.label_ for e in nlp("John Smith lives in Paris.").ents] == ["PER", "LOC"]
    missing = runner.invoke(app, ["tag", "en-nothing", "-"], input="x\n")
    assert missing.exit_code == 2 and "or a shipped model: en-tiny (tagger models)" in " ".join(missing.stderr.split())


def test_a_path_wins_over_a_shipped_model_of_the_same_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert model_path("no-such-model") == Path("no-such-model")
    for shipped in shipped_models():
        assert model_path(shipped.name) == SHIPPED_FOLDER / shipped.name
        (tmp_path / shipped.name).mkdir()
        assert model_path(shipped.name) == Path(shipped.name)  # the user's folder, not ours


def test_tagger_models_lists_the_shipped_ones_with_their_test_scores(capsys):
    from tagger.cli.models import run_models

    run_models(json_output=True)
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == NAMES
    for row in rows:
        fixture = json.loads((FIXTURES / f"{row['name']}.json").read_text(encoding="utf-8"))
        assert row["test"] == fixture["test_score"] and row["size"] <= 25_000_000
