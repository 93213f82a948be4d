import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagger.evaluation import evaluate_tags

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "tools" / "conlleval.py"
_spec = importlib.util.spec_from_file_location("conlleval", SCRIPT)
conlleval = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(conlleval)

SAMPLE = """-DOCSTART- -X- O O

EU NNP B-ORG B-ORG
rejects VBZ O O
German JJ B-MISC B-PER
call NN O O

Peter NNP B-PER I-PER
Blackburn NNP I-PER I-PER
"""
# conlleval.pl on SAMPLE (it counts -DOCSTART- as a token):
EXPECTED_REPORT = """processed 7 tokens with 3 phrases; found: 3 phrases; correct: 2.
accuracy:  71.43%; precision:  66.67%; recall:  66.67%; FB1:  66.67
             MISC: precision:   0.00%; recall:   0.00%; FB1:   0.00  0
              ORG: precision: 100.00%; recall: 100.00%; FB1: 100.00  1
              PER: precision:  50.00%; recall: 100.00%; FB1:  66.67  2
"""


def to_lines(gold, pred):
    lines = []
    for gold_seq, pred_seq in zip(gold, pred):
        lines += [f"w{i} {g} {p}" for i, (g, p) in enumerate(zip(gold_seq, pred_seq))] + [""]
    return lines


def test_report_matches_conlleval_pl_format():
    result = conlleval.evaluate_lines(SAMPLE.splitlines())
    assert conlleval.format_report(result) == EXPECTED_REPORT
    assert result["per_type"]["PER"] == {
        "precision": 50.0,
        "recall": 100.0,
        "f1": pytest.approx(200 / 3),
        "found": 2,
        "gold": 1,
        "correct": 1,
    }


def test_chunk_rules_follow_conlleval():
    # IOB1 style: I- after O starts a chunk; B- splits adjacent chunks of one type.
    lines = ["a I-PER I-PER", "b I-PER B-PER", "c O O"]
    result = conlleval.evaluate_lines(lines)
    assert (result["gold_phrases"], result["found_phrases"], result["correct_phrases"]) == (1, 2, 0)
    # BIOES: S- and E- B- boundaries.
    lines = ["a S-PER S-PER", "b S-PER B-PER", "c B-LOC E-PER", "d E-LOC O"]
    result = conlleval.evaluate_lines(lines)
    assert (result["gold_phrases"], result["found_phrases"], result["correct_phrases"]) == (3, 2, 1)


def test_cli_prints_report_and_json():
    run = subprocess.run([sys.executable, str(SCRIPT)], input=SAMPLE, capture_output=True, text=True, check=True)
    assert run.stdout == EXPECTED_REPORT
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--json"], input=SAMPLE, capture_output=True, text=True, check=True
    )
    assert json.loads(run.stdout)["correct_phrases"] == 2


def test_inconsistent_columns_are_refused():
    with pytest.raises(ValueError, match="line 2"):
        conlleval.evaluate_lines(["a X B-PER B-PER", "b B-PER B-PER"])


def test_all_o_gives_zero_scores():
    result = conlleval.evaluate_lines(["a O O", "b O O"])
    assert (result["precision"], result["recall"], result["f1"], result["accuracy"]) == (0.0, 0.0, 0.0, 100.0)


# Includes invalid IOB2 (I- after O or another type) on purpose: both must read it leniently.
iob_tag = st.sampled_from(["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC", "I-MISC"])


@st.composite
def gold_pred_pairs(draw):
    lengths = draw(st.lists(st.integers(1, 8), min_size=1, max_size=6))
    gold = [draw(st.lists(iob_tag, min_size=n, max_size=n)) for n in lengths]
    pred = [draw(st.lists(iob_tag, min_size=n, max_size=n)) for n in lengths]
    return gold, pred


@settings(max_examples=200, deadline=None)
@given(gold_pred_pairs())
def test_conlleval_agrees_with_evaluate_tags(pair):
    gold, pred = pair
    reference = conlleval.evaluate_lines(to_lines(gold, pred))
    evaluation = evaluate_tags(gold, pred, task="spans")
    assert evaluation.conlleval.micro.f1 * 100 == pytest.approx(reference["f1"], abs=0.01)
    assert evaluation.conlleval.micro.precision * 100 == pytest.approx(reference["precision"], abs=0.01)
    assert evaluation.conlleval.true_positives == reference["correct_phrases"]
    assert evaluation.token_accuracy * 100 == pytest.approx(reference["accuracy"], abs=0.01)
    for name, scores in reference["per_type"].items():
        assert evaluation.conlleval.per_type[name].f1 * 100 == pytest.approx(scores["f1"], abs=0.01)
