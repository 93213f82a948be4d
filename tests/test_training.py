"""Contract tests: overfit -> save -> load in a fresh process -> same tags; batched == one by one."""

import json
import subprocess
import sys

from tagger import Tagger
from tests.conftest import NER_SENTENCES

WORDS = [s.split() for s, _ in NER_SENTENCES]
GOLD = [t.split() for _, t in NER_SENTENCES]


def test_overfitted_model_reproduces_its_training_tags(trained_model):
    assert Tagger.load(trained_model).tag(WORDS) == GOLD


def test_model_loads_in_a_fresh_process_with_the_same_tags(trained_model):
    code = ("import json, sys; from tagger import Tagger; "
            "print(json.dumps(Tagger.load(sys.argv[1]).tag(json.loads(sys.argv[2]))))")
    output = subprocess.run([sys.executable, "-c", code, str(trained_model), json.dumps(WORDS)],
                            capture_output=True, text=True, check=True).stdout
    assert json.loads(output) == Tagger.load(trained_model).tag(WORDS)


def test_batched_tags_equal_one_by_one_tags_including_empty_and_one_word(trained_model):
    tagger = Tagger.load(trained_model)
    sentences = WORDS + [[], ["Paris"]]
    batched = tagger.tag(sentences, batch_size=3)
    assert batched == [tagger.tag([s])[0] for s in sentences]
    assert batched[-2] == []


def test_scores_are_probabilities_of_the_predicted_tags(trained_model):
    tagged = Tagger.load(trained_model).tag(WORDS[:2], scores=True)
    assert [[t for t, _ in s] for s in tagged] == GOLD[:2]
    probabilities = [p for s in tagged for _, p in s]
    assert all(0.0 < p <= 1.0 for p in probabilities)
    assert sum(probabilities) / len(probabilities) > 0.5  # the tags it gets right, it mostly believes


def test_long_sentences_are_split_and_rejoined(trained_model):
    tagger = Tagger.load(trained_model)
    long_sentence = WORDS[0] * 700  # 4,200 words: tagged in pieces
    tags = tagger.tag([long_sentence])[0]
    assert len(tags) == len(long_sentence)
    assert tags[:6] == GOLD[0]


def test_model_directory_has_card_metrics_and_no_pickle(trained_model):
    names = {p.name for p in trained_model.iterdir()}
    assert {"config.json", "vocab.json", "model.safetensors", "metrics.json", "README.md", "last"} <= names
    for path in trained_model.rglob("*"):
        if path.is_file():
            assert not path.read_bytes().startswith((b"\x80", b"PK\x03\x04")), path
    metrics = json.loads((trained_model / "metrics.json").read_text())
    assert metrics["dev"]["conlleval"]["micro"]["f1"] == 1.0
    assert "F1 100.00" in (trained_model / "README.md").read_text()


def test_tag_text_gives_entities_with_character_offsets(trained_model):
    text = "John Smith lives in Paris."
    sentences = Tagger.load(trained_model).tag_text(text)
    entities = [e for s in sentences for e in s.entities()]
    assert [(text[e["start"]:e["end"]], e["label"]) for e in entities] == [("John Smith", "PER"), ("Paris", "LOC")]
