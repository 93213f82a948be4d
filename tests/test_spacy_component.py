"""The spaCy component ``bilstm_tagger``: entities and POS tags on spaCy's own tokens, batching, saving, scoring."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from conftest import NER_SENTENCES, write_conll
from spacy.tokens import Doc, Span
from spacy.training import Example

from tagger import Tagger
from tagger.errors import ConfigError, ModelDirError

POS_SENTENCES = [
    ("John lives in Paris .", "PROPN VERB ADP PROPN PUNCT"),
    ("Mary works for Acme in Berlin .", "PROPN VERB ADP PROPN ADP PROPN PUNCT"),
    ("The cat sat on the mat .", "DET NOUN VERB ADP DET NOUN PUNCT"),
    ("A dog likes big bones .", "DET NOUN VERB ADJ NOUN PUNCT"),
]
TEXTS = [words.replace(" .", ".") for words, _ in NER_SENTENCES]


def make_nlp(model: Path, **settings) -> spacy.language.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_tagger", config={"model": str(model), "device": "cpu", **settings})
    return nlp


def entities(doc: Doc) -> list[tuple[str, str]]:
    return [(e.text, e.label_) for e in doc.ents]


@pytest.fixture(scope="module")
def pos_models(tmp_path_factory, tiny_config) -> dict[str, Path]:
    """Two POS models on the same words: Universal POS tags, and the same tags made non-universal."""
    from tagger.training import DataSource, train

    folder = tmp_path_factory.mktemp("pos")
    models = {}
    for name, rename in (("upos", str), ("ptb", lambda tag: f"X{tag}")):
        sentences = [(words, " ".join(rename(t) for t in tags.split())) for words, tags in POS_SENTENCES]
        corpus = write_conll(folder / f"{name}.conll", sentences)
        train(tiny_config, DataSource(corpus, corpus), folder / name)
        models[name] = folder / name
    return models


def test_add_pipe_by_name_in_a_fresh_process_sets_entities(trained_model):
    # No import of tagger: spaCy finds the factory through the spacy_factories entry point.
    program = (
        "import spacy; nlp = spacy.blank('en'); "
        f"nlp.add_pipe('bilstm_tagger', config={{'model': {str(trained_model)!r}}}); "
        "print([(e.text, e.label_) for e in nlp('John Smith lives in Paris.').ents])"
    )
    output = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[('John Smith', 'PER'), ('Paris', 'LOC')]"


def test_entities_over_several_unsentenced_sentences_and_whitespace_tokens(trained_model):
    nlp = make_nlp(trained_model)
    doc = nlp("John  Smith lives in Paris. Mary works for Acme Corp in Berlin.")
    assert entities(doc) == [
        ("John  Smith", "PER"),
        ("Paris", "LOC"),
        ("Mary", "PER"),
        ("Acme Corp", "ORG"),
        ("Berlin", "LOC"),
    ]
    assert not doc.has_annotation("SENT_START")  # the component splits sentences for itself only


def test_pos_model_sets_pos_and_other_tag_sets_set_tag(pos_models):
    doc = make_nlp(pos_models["upos"])("The cat sat on the mat.")
    assert [t.pos_ for t in doc] == "DET NOUN VERB ADP DET NOUN PUNCT".split() and not doc.ents
    doc = make_nlp(pos_models["ptb"])("The cat sat on the mat.")
    assert [t.tag_ for t in doc] == ["XDET", "XNOUN", "XVERB", "XADP", "XDET", "XNOUN", "XPUNCT"]
    assert [t.pos_ for t in doc] == [""] * 7


@pytest.mark.parametrize(
    "model, attr, message",
    [
        ("ptb", "pos", "not Universal POS tags"),
        ("upos", "ents", "is a POS model"),
        ("ner", "tag", "is a NER model"),
    ],
)
def test_bad_input_attribute_that_does_not_fit_the_model(pos_models, trained_model, model, attr, message):
    nlp = make_nlp(trained_model if model == "ner" else pos_models[model], attr=attr)
    with pytest.raises(ConfigError, match=message):
        nlp("The cat sat.")


def test_upos_model_may_write_token_tag_when_asked(pos_models):
    doc = make_nlp(pos_models["upos"], attr="tag")("The cat sat on the mat.")
    assert doc[1].tag_ == "NOUN" and doc[1].pos_ == ""


def test_bad_input_settings_and_model_paths(tmp_path):
    with pytest.raises(ConfigError, match="attr='entities' is not one of"):
        make_nlp(tmp_path, attr="entities")
    with pytest.raises(ModelDirError, match="no such model directory"):
        make_nlp(tmp_path / "missing")("Hello.")


def test_existing_entities_are_kept_unless_overwrite(trained_model):
    def with_gpe(nlp):
        doc = nlp.make_doc("John Smith lives in Paris.")
        doc.ents = [Span(doc, 4, 5, label="GPE")]
        return nlp.get_pipe("bilstm_tagger")(doc)

    assert entities(with_gpe(make_nlp(trained_model))) == [("John Smith", "PER"), ("Paris", "GPE")]
    assert entities(with_gpe(make_nlp(trained_model, overwrite=True))) == [("John Smith", "PER"), ("Paris", "LOC")]


def test_existing_tags_are_kept_unless_overwrite(pos_models):
    for overwrite, expected in ((False, "VERB"), (True, "NOUN")):
        nlp = make_nlp(pos_models["upos"], overwrite=overwrite)
        doc = nlp.make_doc("The cat sat.")
        doc[1].pos_ = "VERB"
        assert nlp.get_pipe("bilstm_tagger")(doc)[1].pos_ == expected


def test_entity_scores_as_attribute_and_as_span_group(trained_model):
    [tagged] = Tagger.load(trained_model, device="cpu").tag(
        [["John", "Smith", "lives", "in", "Paris", "."]], scores=True
    )
    expected = [(tagged[0][1] + tagged[1][1]) / 2, tagged[4][1]]  # an entity's score: the mean over its words
    doc = make_nlp(trained_model, scores="attribute")("John Smith lives in Paris.")
    assert [e._.score for e in doc.ents] == pytest.approx(expected)
    doc = make_nlp(trained_model, scores="spans", spans_key="ner_scores")("John Smith lives in Paris.")
    group = doc.spans["ner_scores"]
    assert [(s.text, s.label_) for s in group] == entities(doc)
    assert list(group.attrs["scores"]) == pytest.approx(expected)


def test_pipe_equals_one_doc_at_a_time(trained_model):
    texts = TEXTS * 5 + ["", "   ", "Paris"]
    nlp = make_nlp(trained_model, batch_size=3)
    alone = [entities(nlp(text)) for text in texts]
    assert [entities(doc) for doc in nlp.pipe(texts, batch_size=7)] == alone


def test_quantized_component_finds_the_same_entities(trained_model):
    expected = [entities(doc) for doc in make_nlp(trained_model).pipe(TEXTS)]
    assert [entities(doc) for doc in make_nlp(trained_model, quantize="int8").pipe(TEXTS)] == expected
    with pytest.raises(ConfigError, match="quantize='fp16' is not one of auto, none, int8, bf16"):
        make_nlp(trained_model, quantize="fp16")


def test_to_disk_and_spacy_load_in_a_new_process_without_the_original_model(trained_model, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(trained_model, model)
    nlp = make_nlp(model)
    expected = [entities(doc) for doc in nlp.pipe(TEXTS)]
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(model)
    saved = sorted(p.name for p in (tmp_path / "pipeline" / "bilstm_tagger").iterdir())
    assert saved == sorted(p.name for p in trained_model.iterdir() if p.is_file())
    program = (
        "import json, spacy, sys; nlp = spacy.load(sys.argv[1]); "
        "print(json.dumps([[[e.text, e.label_] for e in d.ents] for d in nlp.pipe(json.loads(sys.argv[2]))]))"
    )
    output = subprocess.run(
        [sys.executable, "-c", program, str(tmp_path / "pipeline"), json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert [[tuple(e) for e in doc] for doc in json.loads(output)] == expected


def test_to_bytes_and_from_bytes(trained_model):
    nlp = make_nlp(trained_model)
    restored = spacy.blank("en")
    restored.add_pipe("bilstm_tagger")  # no model yet: from_bytes brings it
    restored.from_bytes(nlp.to_bytes())
    assert [entities(d) for d in restored.pipe(TEXTS)] == [entities(d) for d in nlp.pipe(TEXTS)]


def test_bad_input_from_bytes_refuses_garbage_and_pickles(trained_model, tmp_path):
    component = make_nlp(trained_model).get_pipe("bilstm_tagger")
    with pytest.raises(ModelDirError, match="not a bilstm_tagger component's bytes"):
        component.from_bytes(b"\xc1 not msgpack")
    import pickle

    class Payload:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    files = {name: (trained_model / name).read_bytes() for name in ("config.json", "vocab.json")}
    files["model.safetensors"] = pickle.dumps(Payload())
    import srsly

    with pytest.raises(ModelDirError, match="pickle"):
        component.from_bytes(srsly.msgpack_dumps({"files": files}))
    assert not (tmp_path / "pwned").exists()


def test_score_matches_tagger_evaluate(trained_model, tmp_path):
    from tagger.corpus import read_corpus

    unseen = [
        ("Anna Lee visited Berlin and Acme Corp .", "B-PER I-PER O B-LOC O B-ORG I-ORG O"),
        ("Peter Smith likes Rome .", "B-PER I-PER O B-LOC O"),
        ("German Corp hired Mary .", "B-ORG I-ORG O B-PER O"),
        ("London is big and Paris is German .", "B-LOC O O O B-LOC O B-MISC O"),
    ]
    sentences = read_corpus(write_conll(tmp_path / "test.conll", unseen))[0]
    evaluation, _ = Tagger.load(trained_model, device="cpu").evaluate(sentences)
    nlp = make_nlp(trained_model)
    examples = []
    for sentence in sentences:
        gold = Doc(nlp.vocab, words=sentence.words, ents=sentence.tags)
        examples.append(Example(Doc(nlp.vocab, words=sentence.words), gold))
    scores = nlp.evaluate(examples)
    assert scores["ents_f"] == pytest.approx(evaluation.conlleval.micro.f1)
    assert set(scores["ents_per_type"]) == {"PER", "LOC", "ORG", "MISC"}


def test_spacy_evaluate_on_a_converted_docbin_agrees_with_tagger_evaluate(trained_model, tmp_path):
    from typer.testing import CliRunner

    from tagger.cli import app

    unseen = write_conll(
        tmp_path / "test.conll",
        [
            ("Anna Lee visited Berlin and Acme Corp .", "B-PER I-PER O B-LOC O B-ORG I-ORG O"),
            ("Peter Smith likes Rome .", "B-PER I-PER O B-LOC O"),
            ("German Corp hired Mary .", "B-ORG I-ORG O B-PER O"),
        ],
    )
    runner = CliRunner()
    assert runner.invoke(app, ["convert", str(unseen), str(tmp_path / "test.spacy")]).exit_code == 0
    ours = runner.invoke(app, ["evaluate", str(trained_model), str(unseen), "--json", "--device", "cpu"])
    make_nlp(trained_model).to_disk(tmp_path / "pipeline")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy",
            "evaluate",
            str(tmp_path / "pipeline"),
            str(tmp_path / "test.spacy"),
            "--gold-preproc",
            "--output",
            str(tmp_path / "scores.json"),
        ],
        check=True,
        capture_output=True,
    )
    spacy_f1 = json.loads((tmp_path / "scores.json").read_text())["ents_f"]
    assert spacy_f1 == pytest.approx(json.loads(ours.stdout)["conlleval"]["micro"]["f1"]) and 0 < spacy_f1 < 1
