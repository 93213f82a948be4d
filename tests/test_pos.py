"""A POS tagger end to end on a slice of the UD English EWT corpus the project ships."""

import gzip
import json
from pathlib import Path

import pytest

from tagger import Tagger
from tagger.config import load_config
from tagger.training import DataSource, train

EWT_DEV = Path(__file__).resolve().parent.parent / "corpora" / "ud_en_ewt" / "en_ewt-ud-dev.conllu.gz"


@pytest.fixture(scope="module")
def ewt_slice(tmp_path_factory) -> Path:
    blocks = gzip.open(EWT_DEV, "rt", encoding="utf-8").read().split("\n\n")[:300]
    path = tmp_path_factory.mktemp("ewt") / "slice.conllu"
    path.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("tag_field", ["upos", "xpos"])
def test_pos_tagger_learns_and_tags_raw_text(ewt_slice, tmp_path, tag_field):
    config = load_config(
        None,
        [
            f"corpus.tag_field={tag_field}",
            "model.hidden=32",
            "model.layers=1",
            "train.epochs=8",
            "train.lr=0.01",
            "train.device=cpu",
        ],
    )
    result = train(config, DataSource(ewt_slice, ewt_slice), tmp_path / "pos")
    assert result.dev.task == "labels" and result.dev.conlleval is None
    assert result.dev.token_accuracy > 0.6  # eight epochs on 300 sentences: far above the 0.2 of always-NOUN
    tagger = Tagger.load(tmp_path / "pos")
    sentences = tagger.tag_text("The cat (a tabby) sat on the mat.")
    assert [len(s.tags) for s in sentences] == [len(s.words) for s in sentences]
    assert all(s.entities() == [] for s in sentences)
    labels = set(json.loads((tmp_path / "pos" / "vocab.json").read_text())["labels"])
    assert ("NOUN" in labels) == (tag_field == "upos") and ("-LRB-" in labels) == (tag_field == "xpos")
