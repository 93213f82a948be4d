"""Shared fixtures: a tiny NER corpus and a tiny model trained on it (once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_configure(config):
    # tests/test_cuda.py: run on a CUDA device when torch sees one, skipped otherwise (scripts/gpu/gpu_check.sh runs them)
    config.addinivalue_line("markers", "cuda: needs a CUDA device; skipped where torch.cuda.is_available() is False")


NER_SENTENCES = [
    ("John Smith lives in Paris .", "B-PER I-PER O O B-LOC O"),
    ("Mary works for Acme Corp in Berlin .", "B-PER O O B-ORG I-ORG O B-LOC O"),
    ("The EU rejects German call .", "O B-ORG O B-MISC O O"),
    ("Peter visited London and Rome .", "B-PER O B-LOC O B-LOC O"),
    ("Acme Corp hired Anna Lee .", "B-ORG I-ORG O B-PER I-PER O"),
    ("Berlin is big .", "B-LOC O O O"),
    ("Anna likes German beer .", "B-PER O B-MISC O O"),
    ("Paris and London are cities .", "B-LOC O B-LOC O O O"),
]


def write_conll(path: Path, sentences=NER_SENTENCES) -> Path:
    blocks = []
    for words, tags in sentences:
        blocks.append("\n".join(f"{w} {t}" for w, t in zip(words.split(), tags.split())))
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def ner_files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("ner")
    return write_conll(folder / "train.conll"), write_conll(folder / "dev.conll", NER_SENTENCES[:4])


@pytest.fixture(scope="session")
def tiny_config():
    from tagger.config import load_config

    return load_config(
        None,
        [
            "model.word_dim=16",
            "model.char_dim=8",
            "model.char_filters=8",
            "model.hidden=16",
            "model.layers=1",
            "model.embedding_dropout=0.0",
            "model.recurrent_dropout=0.0",
            "model.output_dropout=0.0",
            "train.epochs=60",
            "train.patience=60",
            "train.lr=0.02",
            "train.lr_decay=0.0",
            "train.carry_export=false",  # tests of the PyTorch path; tests/test_carried_export.py turns it on
            "train.batch_size=4",
            "train.word_dropout=0.0",
            "train.device=cpu",
        ],
    )


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory, ner_files, tiny_config) -> Path:
    """A model overfitted on the tiny corpus; its dev set is a subset of train, so it must be perfect."""
    from tagger.training import DataSource, train

    out = tmp_path_factory.mktemp("model") / "ner"
    train(tiny_config, DataSource(ner_files[0], ner_files[1], test=ner_files[1]), out)
    return out
