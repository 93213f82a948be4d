"""The evaluation report: error types that add up to the scorer's false positives and negatives, the
confusion matrix, the worst sentences, and `tagger evaluate --report` writing an escaped page."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagger import Tagger
from tagger.corpus import Sentence
from tagger.evaluation import evaluate_tags
from tagger.evaluation.error_analysis import (
    MISSED,
    NO_ENTITY,
    SPURIOUS,
    WRONG_BOUNDARY,
    WRONG_BOUNDARY_AND_TYPE,
    WRONG_TYPE,
    analyse_errors,
    count_error_types,
    entity_confusion,
    sentence_errors,
    tag_accuracies,
    tag_confusion,
    worst_sentences,
)
from tagger.evaluation.report import ReportInput, render_report
from tests.conftest import NER_SENTENCES, write_conll
from tests.test_cli import assert_user_error, invoke


def split(tags: str) -> list[str]:
    return tags.split()


def assert_adds_up_to_the_scorer(gold: list[list[str]], predicted: list[list[str]]) -> None:
    analysis = analyse_errors(gold, predicted, "spans")
    report = evaluate_tags(gold, predicted, task="spans").conlleval
    counts = count_error_types(analysis.errors).values()
    assert sum(c.false_positives for c in counts) == report.false_positives
    assert sum(c.false_negatives for c in counts) == report.false_negatives
    assert sum(analysis.errors_per_sentence) == report.false_positives + report.false_negatives


@pytest.mark.parametrize(
    "gold, predicted, expected",
    [
        ("B-PER I-PER O", "O B-PER O", [(WRONG_BOUNDARY, 1, 1)]),
        ("B-PER I-PER O", "B-ORG I-ORG O", [(WRONG_TYPE, 1, 1)]),
        ("B-PER I-PER O", "O B-ORG I-ORG", [(WRONG_BOUNDARY_AND_TYPE, 1, 1)]),
        ("O B-LOC O", "O O O", [(MISSED, 0, 1)]),
        ("O O O", "O B-LOC O", [(SPURIOUS, 1, 0)]),
        # one gold entity split in two predictions: one error, two false positives, one false negative
        ("B-LOC I-LOC I-LOC", "B-LOC B-LOC I-LOC", [(WRONG_BOUNDARY, 2, 1)]),
        # the PER prediction has the gold PER's type, the ORG prediction only overlaps it
        ("B-PER I-PER I-PER", "B-PER B-ORG I-ORG", [(WRONG_BOUNDARY, 1, 1), (WRONG_BOUNDARY_AND_TYPE, 1, 0)]),
        # a chain: gold A overlaps predicted B, which overlaps gold C; all of one type, so one error
        ("B-PER I-PER B-PER I-PER", "O B-PER I-PER O", [(WRONG_BOUNDARY, 1, 2)]),
        ("B-PER O B-LOC O", "B-PER O O B-LOC", [(SPURIOUS, 1, 0), (MISSED, 0, 1)]),
        # conlleval reads the I-PER after O as the start of an entity: nothing is wrong
        ("O I-PER I-PER", "O B-PER I-PER", []),
        ("B-PER I-PER O", "B-PER I-PER O", []),
    ],
)
def test_each_error_type_counts_its_false_positives_and_negatives(gold, predicted, expected):
    errors = sentence_errors(0, split(gold), split(predicted))
    assert sorted((e.error_type, e.false_positives, e.false_negatives) for e in errors) == sorted(expected)
    assert_adds_up_to_the_scorer([split(gold)], [split(predicted)])


TAGS = ["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]  # O twice: sparser entities


@st.composite
def gold_and_predicted(draw) -> tuple[list[list[str]], list[list[str]]]:
    lengths = draw(st.lists(st.integers(1, 12), min_size=1, max_size=6))
    gold = [draw(st.lists(st.sampled_from(TAGS), min_size=n, max_size=n)) for n in lengths]
    predicted = [draw(st.lists(st.sampled_from(TAGS), min_size=n, max_size=n)) for n in lengths]
    return gold, predicted


@settings(max_examples=300, deadline=None)
@given(gold_and_predicted())
def test_error_types_add_up_to_the_scorers_false_positives_and_negatives(pair):
    gold, predicted = pair  # any tags, invalid IOB2 included: read the conlleval way on both sides
    assert_adds_up_to_the_scorer(gold, predicted)


@settings(max_examples=200, deadline=None)
@given(gold_and_predicted())
def test_entity_confusion_agrees_with_the_scorer(pair):
    gold, predicted = pair
    confusion = entity_confusion(gold, predicted)
    report = evaluate_tags(gold, predicted, task="spans").conlleval
    types = [label for label in confusion.labels if label != NO_ENTITY]
    assert sum(confusion.count(kind, kind) for kind in types) == report.true_positives
    assert sum(confusion.gold_total(kind) - confusion.count(kind, kind) for kind in types) == report.false_negatives
    predicted_totals = sum(confusion.count(g, kind) for g in confusion.labels for kind in types)
    assert predicted_totals - report.true_positives == report.false_positives


def test_entity_confusion_matches_spans_exactly_and_uses_o_for_none():
    gold = [split("B-PER I-PER O B-LOC"), split("B-ORG O"), split("B-MISC I-MISC")]
    predicted = [split("B-PER I-PER O B-ORG"), split("O B-MISC"), split("B-MISC O")]
    confusion = entity_confusion(gold, predicted)
    assert confusion.labels == ["LOC", "MISC", "ORG", "PER", NO_ENTITY]
    assert confusion.counts == {
        ("PER", "PER"): 1,
        ("LOC", "ORG"): 1,
        ("ORG", NO_ENTITY): 1,
        (NO_ENTITY, "MISC"): 2,
        ("MISC", NO_ENTITY): 1,
    }


def test_tag_confusion_and_per_tag_accuracy():
    gold = [["DET", "NOUN", "VERB"], ["NOUN", "NOUN"]]
    predicted = [["DET", "VERB", "VERB"], ["NOUN", "ADJ"]]
    confusion = tag_confusion(gold, predicted)
    assert confusion.labels == ["ADJ", "DET", "NOUN", "VERB"]
    assert confusion.counts == {
        ("DET", "DET"): 1,
        ("NOUN", "VERB"): 1,
        ("VERB", "VERB"): 1,
        ("NOUN", "NOUN"): 1,
        ("NOUN", "ADJ"): 1,
    }
    accuracies = {a.tag: (a.support, a.correct) for a in tag_accuracies(confusion)}
    assert accuracies == {"DET": (1, 1), "NOUN": (3, 1), "VERB": (1, 1)}  # ADJ is never gold


def test_worst_sentences_rank_by_errors_then_order_and_skip_the_perfect():
    assert worst_sentences([0, 3, 1, 3, 5], limit=3) == [4, 1, 3]
    assert worst_sentences([0, 0, 2, 0]) == [2]
    gold = [split("B-PER O"), split("B-PER B-LOC"), split("O O"), split("B-ORG O")]
    predicted = [split("B-PER O"), split("B-LOC O"), split("B-PER O"), split("B-ORG O")]
    analysis = analyse_errors(gold, predicted, "spans")
    assert analysis.errors_per_sentence == [0, 3, 1, 0]  # wrong type (1 FP + 1 FN) and a missed LOC; a spurious PER
    assert analysis.worst == [1, 2]
    labels = analyse_errors([["A", "B", "C"], ["A", "B"]], [["A", "C", "B"], ["B", "B"]], "labels")
    assert labels.errors_per_sentence == [2, 1] and labels.worst == [0, 1]


def test_report_escapes_words_labels_and_paths():
    words = ["<script>alert(1)</script>", "&", '"quoted"', "it's"]
    gold, predicted = [["X<", "NOUN", "NOUN", "NOUN"]], [["VERB", "NOUN", "ADJ", "NOUN"]]
    sentences = [Sentence(words, gold[0], path="data/<odd>.conll", line=7)]
    evaluation = evaluate_tags(gold, predicted, task="labels")
    page = render_report(
        ReportInput("model on <data>", sentences, predicted, evaluation, analyse_errors(gold, predicted, "labels"))
    )
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&amp;" in page and "&quot;quoted&quot;" in page and "it&#x27;s" in page
    assert "X&lt;" in page and "data/&lt;odd&gt;.conll:7" in page and "model on &lt;data&gt;" in page


STRANGE = "<b>Paris</b>"


def gold_with_errors(trained_model, tmp_path):
    """The training sentences, plus one whose gold tags say no entity where the model finds some and whose
    words need escaping: errors whatever else the model predicts."""
    words = ["John", "Smith", "lives", "in", "Paris", STRANGE, "&", "."]
    predicted = Tagger.load(trained_model, device="cpu").tag([words])[0]
    assert any(tag != "O" for tag in predicted)  # the fixture's premise: the model finds John Smith or Paris
    return write_conll(tmp_path / "gold.conll", NER_SENTENCES + [(" ".join(words), " ".join(["O"] * len(words)))])


def test_evaluate_report_writes_a_page_with_every_section(trained_model, tmp_path):
    gold = gold_with_errors(trained_model, tmp_path)
    report = tmp_path / "report"
    result = invoke("evaluate", trained_model, gold, "--report", report, "--device", "cpu")
    assert result.exit_code == 0, result.output
    page = (report / "index.html").read_text(encoding="utf-8")
    for section in (
        'id="scores"',
        'id="confusion"',
        'id="error-types"',
        'id="worst"',
        'id="spurious"',
        "conlleval-compatible",
        "strict IOB2",
        "<details>",
    ):
        assert section in page
    first_line = sum(len(words.split()) + 1 for words, _ in NER_SENTENCES) + 1
    assert f"{gold}:{first_line}" in page  # where the sentence with errors is
    assert STRANGE not in page and "&lt;b&gt;Paris&lt;/b&gt;" in page and "&amp;" in page
    assert "<script" not in page and "http" not in page  # self-contained: no script, no external asset
    assert sorted(p.name for p in report.iterdir()) == ["index.html"]  # no temporary file left behind


def test_evaluate_report_replaces_its_own_page_but_not_another(trained_model, ner_files, tmp_path):
    report = tmp_path / "report"
    assert invoke("evaluate", trained_model, ner_files[1], "--report", report, "--device", "cpu").exit_code == 0
    assert invoke("evaluate", trained_model, ner_files[1], "--report", report, "--device", "cpu").exit_code == 0
    foreign = tmp_path / "site"
    foreign.mkdir()
    (foreign / "index.html").write_text("<html>my own page</html>", encoding="utf-8")
    result = invoke("evaluate", trained_model, ner_files[1], "--report", foreign, "--device", "cpu")
    assert_user_error(result, "was not written by tagger evaluate --report")
    assert (foreign / "index.html").read_text(encoding="utf-8") == "<html>my own page</html>"
