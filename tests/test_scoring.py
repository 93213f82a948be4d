import json
import warnings

import pytest

from tagger.errors import ScoringError
from tagger.evaluation import evaluate_tags, token_accuracy

# Hand-computed: gold PER(0-2), LOC(3), LOC(5); pred PER(0-2), ORG(3), LOC(5-7).
GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-LOC", "O"]]
PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "B-LOC", "I-LOC"]]


def test_per_type_and_micro_scores_on_a_hand_computed_example():
    evaluation = evaluate_tags(GOLD, PRED)
    report = evaluation.conlleval
    assert evaluation.task == "spans" and report.mode == "conlleval"
    assert (report.true_positives, report.false_positives, report.false_negatives) == (1, 2, 2)
    per = report.per_type["PER"]
    assert (per.precision, per.recall, per.f1, per.support) == (1.0, 1.0, 1.0, 1)
    loc = report.per_type["LOC"]
    assert (loc.precision, loc.recall, loc.f1, loc.support) == (0.0, 0.0, 0.0, 2)
    org = report.per_type["ORG"]
    assert (org.precision, org.support) == (0.0, 0)
    assert report.micro.precision == pytest.approx(1 / 3)
    assert report.micro.recall == pytest.approx(1 / 3)
    assert report.micro.f1 == pytest.approx(1 / 3)
    assert report.macro.f1 == pytest.approx(1 / 3)  # (1 + 0 + 0) / 3
    assert evaluation.token_accuracy == pytest.approx(5 / 7)
    assert (evaluation.sentences, evaluation.words) == (2, 7)


def test_strict_and_conlleval_differ_on_an_invalid_prediction():
    gold = [["B-PER", "I-PER", "O"]]
    pred = [["I-PER", "I-PER", "O"]]  # an entity starting with I- is not IOB2
    evaluation = evaluate_tags(gold, pred)
    assert evaluation.conlleval.micro.f1 == 1.0
    assert evaluation.strict.micro.f1 == 0.0
    assert evaluation.strict.mode == "strict IOB2"
    assert evaluation.strict.false_negatives == 1


def test_length_mismatch_names_the_sentence():
    with pytest.raises(ScoringError, match="sentence 1: gold has 3 words, predictions have 2"):
        evaluate_tags(GOLD, [PRED[0], ["O", "B-LOC"]])
    with pytest.raises(ScoringError, match="2 sentences, predictions have 1"):
        evaluate_tags(GOLD, PRED[:1])


def test_all_o_data_has_undefined_scores_without_errors_or_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluation = evaluate_tags([["O", "O"], ["O"]], [["O", "O"], ["O"]])
    assert evaluation.task == "spans"
    assert evaluation.conlleval.micro.f1 == 0.0
    data = evaluation.to_dict()
    assert data["conlleval"]["micro"]["f1"] is None
    assert data["conlleval"]["micro"]["precision"] is None
    assert data["strict"]["macro"]["recall"] is None
    assert data["token_accuracy"] == 1.0
    json.dumps(data)


def test_to_dict_marks_only_the_undefined_parts():
    data = evaluate_tags(GOLD, PRED).to_dict()
    assert data["scheme"] == "IOB2"
    assert data["conlleval"]["mode"] == "conlleval" and data["strict"]["mode"] == "strict IOB2"
    assert data["conlleval"]["per_type"]["ORG"]["recall"] is None  # no gold ORG
    assert data["conlleval"]["per_type"]["ORG"]["precision"] == 0.0
    assert data["conlleval"]["per_type"]["ORG"]["f1"] == 0.0
    assert data["conlleval"]["micro"]["f1"] == pytest.approx(1 / 3)
    json.dumps(data)


def test_pos_tags_are_scored_by_token_accuracy_only():
    evaluation = evaluate_tags([["NOUN", "VERB", "DET"]], [["NOUN", "NOUN", "DET"]])
    assert evaluation.task == "labels"
    assert evaluation.conlleval is None and evaluation.strict is None
    assert evaluation.token_accuracy == pytest.approx(2 / 3)
    assert evaluation.to_dict()["scheme"] is None


def test_malformed_predicted_tags_are_refused_for_span_tasks():
    with pytest.raises(ScoringError, match="predictions, sentence 0, word 1"):
        evaluate_tags([["B-PER", "O"]], [["B-PER", "PER"]])
    with pytest.raises(ScoringError, match="not an IOB2 tag"):
        evaluate_tags([["S-PER", "O"]], [["S-PER", "O"]])


def test_token_accuracy_and_empty_input():
    assert token_accuracy([["A", "B"], ["C"]], [["A", "X"], ["C"]]) == pytest.approx(2 / 3)
    with pytest.raises(ScoringError):
        evaluate_tags([], [])
    with pytest.raises(ScoringError):
        evaluate_tags([["O"]], [["O"]], task="ner")
