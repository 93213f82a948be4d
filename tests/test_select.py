"""tagger select (tagger.selection): each strategy ranks hand-built probabilities as its formula says, ties in pool
order; near-duplicates skipped; the outputs read back through our own readers as the predictions; bad inputs
answered in one line; the command line end to end on the tiny model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import NER_SENTENCES
from typer.testing import CliRunner

from tagger.batching import build_batch, encode_sentences
from tagger.cli import app
from tagger.config import Config, load_config
from tagger.corpus import Sentence, opens_document, read_corpus
from tagger.errors import ConfigError
from tagger.model import build_model
from tagger.selection import (
    SelectOptions,
    choose,
    item_uncertainty,
    normalised_words,
    select_pool,
    select_sentences,
    similarity,
    word_uncertainties,
)
from tagger.serialization import save_model
from tagger.tagging.base import TaggerBase
from tagger.tagging.torch_tagger import Tagger
from tagger.vocab import Vocab, build_vocab

LABELS = ("O", "B-PER", "B-LOC")
# One word each; p1 and p2 are the two highest probabilities. Dyadic, so exact in float32:
#        least confidence 1 - p1 | margin 1 - (p1 - p2) | entropy
CASES = {
    "A": [0.5, 0.5, 0.0],  #          0.5 |  1.0    | 0.6931
    "B": [0.375, 0.3125, 0.3125],  #  0.625 | 0.9375 | 1.0948
    "C": [0.625, 0.1875, 0.1875],  #  0.375 | 0.5625 | 0.9215
    "D": [0.53125, 0.46875, 0.0],  #  0.46875 | 0.9375 (= B's) | 0.6912
    "E": [0.75, 0.125, 0.125],  #     0.25: three make a sentence of 0.75 in all, 0.25 on average
}
RANKED = {
    "least-confidence": ["B", "A", "D", "C"],
    "margin": ["A", "B", "D", "C"],  # B and D tie: B comes first in the pool
    "entropy": ["B", "C", "A", "D"],
}
runner = CliRunner()


class FakeTagger(TaggerBase):
    """A tagger whose probabilities at a word are CASES[word]: what each strategy sees, without a network."""

    def __init__(self) -> None:
        super().__init__(Vocab((), (), LABELS, "IOB2"), Config())

    def predict_batch(self, sentences, documents, scores):
        raise AssertionError("select asks for distributions")

    def distributions_batch(self, sentences: Sequence[Sequence[str]], documents: Sequence[int]):
        width = max(len(s) for s in sentences)
        probabilities = np.zeros((len(sentences), width, len(LABELS)), dtype=np.float32)
        for row, words in enumerate(sentences):
            for column, word in enumerate(words):
                probabilities[row, column] = CASES[word]
        return probabilities.argmax(axis=2), probabilities


def pool(*sentences: str) -> list[Sentence]:
    return [Sentence(text.split(), [], "pool.conll", 1 + 3 * index) for index, text in enumerate(sentences)]


def chosen_words(selection) -> list[str]:
    return [" ".join(s.words) for selected in selection.chosen for s in selected.tagged]


@pytest.mark.parametrize("strategy", sorted(RANKED))
def test_each_strategy_ranks_by_its_formula_ties_in_pool_order(strategy):
    selection = select_sentences(FakeTagger(), pool("A", "B", "C", "D"), 4, strategy, max_similarity=1.0)
    assert chosen_words(selection) == RANKED[strategy]
    assert [s.rank for s in selection.chosen] == [1, 2, 3, 4]
    expected = {
        "least-confidence": 0.625,
        "margin": 1.0,
        "entropy": -(0.375 * np.log(0.375) + 2 * 0.3125 * np.log(0.3125)),
    }
    assert selection.chosen[0].uncertainty == pytest.approx(expected[strategy])
    # the same pool in another order: the same ranking, but for the tie, which follows the pool
    reordered = select_sentences(FakeTagger(), pool("D", "C", "B", "A"), 4, strategy, max_similarity=1.0)
    tie_swapped = [{"B": "D", "D": "B"}.get(w, w) if strategy == "margin" else w for w in RANKED[strategy]]
    assert chosen_words(reordered) == tie_swapped


def test_word_uncertainties_follow_the_formulas():
    rows = np.array([CASES[name] for name in "ABCD"], dtype=np.float32)
    np.testing.assert_allclose(word_uncertainties(rows, "least-confidence"), [0.5, 0.625, 0.375, 0.46875])
    np.testing.assert_allclose(word_uncertainties(rows, "margin"), [1.0, 0.9375, 0.5625, 0.9375])
    np.testing.assert_allclose(word_uncertainties(rows, "entropy"), [0.693147, 1.094780, 0.921493, 0.691193], atol=1e-6)
    certain = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    assert [word_uncertainties(certain, s)[0] for s in RANKED] == [0.0, 0.0, 0.0]


def test_an_items_words_are_summed_averaged_or_maxed():
    # "E E E": three words of 0.25 least confidence; "A": one word of 0.5
    sentences = pool("E E E", "A")
    assert chosen_words(select_sentences(FakeTagger(), sentences, 1, aggregate="sum")) == ["E E E"]  # 0.75
    assert chosen_words(select_sentences(FakeTagger(), sentences, 1, aggregate="mean")) == ["A"]
    assert chosen_words(select_sentences(FakeTagger(), sentences, 1, aggregate="max")) == ["A"]
    assert item_uncertainty(np.array([0.25, 0.5]), "sum") == 0.75
    assert item_uncertainty(np.array([]), "max") == 0.0


def test_documents_are_chosen_whole():
    sentences = pool("C", "C", "A", "B")
    sentences[2] = Sentence(["A"], [], "pool.conll", 7, {"docstart": "1"})
    selection = select_sentences(FakeTagger(), sentences, 2, by="document")
    assert selection.items == 2 and selection.sentences == 4
    assert [[s.words for s in chosen.tagged] for chosen in selection.chosen] == [[["A"], ["B"]], [["C"], ["C"]]]
    assert selection.chosen[0].uncertainty == pytest.approx(0.5 + 0.625) and selection.chosen[0].item == 1


def test_near_duplicates_of_a_chosen_item_are_skipped():
    assert normalised_words(["Paris", "in", "2024"]) == normalised_words(["paris", "IN", "1999"])
    assert similarity(frozenset("ab"), frozenset("bc")) == pytest.approx(1 / 3)
    # scores: 3, 2, 1, 0: the second is the first with other digits and case, the third shares 3 of its 5 words
    sets = [normalised_words(t.split()) for t in ("Paris 2024 is big", "paris 1999 is BIG", "Paris is very big", "x")]
    assert choose([3, 2, 1, 0], sets, 3, 0.8) == ([0, 2, 3], 1)
    assert choose([3, 2, 1, 0], sets, 3, 0.5) == ([0, 3], 2)  # the third is 0.6 similar: skipped too; only 2 left
    assert choose([3, 2, 1, 0], sets, 4, 1.0) == ([0, 2, 3], 1)  # 1: only the same words
    selection = select_sentences(FakeTagger(), pool("B A", "A B", "B B"), 3, max_similarity=1.0)
    assert chosen_words(selection) == ["B B", "B A"] and selection.duplicates == 1


# --- a real model ---------------------------------------------------------------------------------------------


def random_model(folder: Path, settings: list[str]) -> Path:
    """Random weights, the output made as decided as a trained model's: enough to compare two computations."""
    config = load_config(
        None, ["model.word_dim=12", "model.char_dim=6", "model.char_filters=5", "model.hidden=10"] + settings
    )
    vocab = build_vocab(
        [w.split() for w, _ in NER_SENTENCES], [t for _, line in NER_SENTENCES for t in line.split()], "IOB2"
    )
    torch.manual_seed(0)
    model = build_model(config.model, vocab)
    with torch.no_grad():
        model.output.weight.mul_(8.0)
    save_model(folder, config, vocab, model, metrics={}, card="# a tiny model\n")
    return folder


@pytest.mark.parametrize("head", ["softmax", "crf"])
def test_distributions_are_the_softmax_or_the_crf_marginals_and_agree_with_the_tags(head, tmp_path):
    tagger = Tagger.load(random_model(tmp_path / head, [f"model.head={head}"]), device="cpu")
    sentences = [Sentence(words.split(), []) for words, _ in NER_SENTENCES] + [Sentence([], [])]
    tagged = tagger.tag_sentences(sentences, scores=True)
    for (item, distributions), plain in zip(tagger.tag_distributions(sentences), tagged):
        assert distributions.shape == (len(plain.words), len(tagger.vocab.labels))
        np.testing.assert_allclose(distributions.sum(axis=1), 1.0, atol=1e-5)
        assert item.tags == plain.tags
        np.testing.assert_allclose(item.scores, plain.scores, atol=1e-6)  # the chosen label's probability
    words = NER_SENTENCES[1][0].split()
    batch = build_batch(encode_sentences([words], tagger.features, tagger.vocab, documents=[0]), tagger.features, False)
    with torch.inference_mode():
        emissions = tagger.model(batch)  # (1, seq_len, num_tags)
        expected = tagger.model.crf.marginals(emissions, batch.mask) if head == "crf" else emissions.softmax(-1)
    np.testing.assert_allclose(tagger.tag_distributions([Sentence(words, [])])[0][1], expected[0].numpy(), atol=1e-6)


@pytest.fixture
def conll_pool(tmp_path) -> Path:
    lines = ["-DOCSTART- -X- O", ""]
    for index, (words, _) in enumerate(NER_SENTENCES + [("Zorblax visited Quux City .", "")]):
        lines += [*words.split(), ""]
        if index == 3:
            lines += ["-DOCSTART- -X- O", ""]
    (tmp_path / "pool.conll").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "pool.conll"


def select(model: Path, pool_path: Path, output: Path, count: int = 3, **options):
    return select_pool(model, [str(pool_path)], output, SelectOptions(count, device="cpu", **options))


def accepted(predictions: Path) -> Path:
    """Label Studio tasks as an annotator who accepts every prediction would export them."""
    tasks = json.loads(predictions.read_text(encoding="utf-8"))
    for task in tasks:
        task["annotations"] = [{"result": task.pop("predictions")[0]["result"]}]
    exported = predictions.with_name("export.json")
    exported.write_text(json.dumps(tasks), encoding="utf-8")
    return exported


@pytest.mark.parametrize("fmt", ["jsonl", "labelstudio", "doccano", "conll"])
def test_each_format_reads_back_as_the_chosen_sentences_and_their_predictions(fmt, trained_model, conll_pool, tmp_path):
    output = tmp_path / f"chosen.{fmt}"
    report = select(trained_model, conll_pool, output, output_format=fmt)
    chosen = [tagged for selected in report.selection.chosen for tagged in selected.tagged]
    assert len(chosen) == 3 and report.selection.items == 9
    source = accepted(output) if fmt == "labelstudio" else output
    read_back = read_corpus(source)[0]
    assert [s.words for s in read_back] == [t.words for t in chosen]
    assert [s.tags for s in read_back] == [t.tags for t in chosen]
    ranks = [selected.rank for selected in report.selection.chosen]
    uncertainties = [round(selected.uncertainty, 6) for selected in report.selection.chosen]
    assert uncertainties == sorted(uncertainties, reverse=True)
    if fmt == "jsonl":
        assert [int(s.metadata["rank"]) for s in read_back] == ranks
        assert [float(s.metadata["uncertainty"]) for s in read_back] == uncertainties
        assert read_back[0].metadata["source"] == f"{conll_pool}:{report.selection.chosen[0].tagged[0].sentence.line}"
    if fmt == "labelstudio":
        tasks = json.loads(output.read_text(encoding="utf-8"))
        assert [t["data"]["uncertainty"] for t in tasks] == uncertainties
        assert all(0 < r["value"]["score"] <= 1 for t in tasks for r in t["predictions"][0]["result"])
    if fmt == "doccano":
        assert [json.loads(line)["rank"] for line in output.read_text(encoding="utf-8").splitlines()] == ranks
    if fmt == "conll":
        assert all(opens_document(s) for s in read_back)  # an item a document, its line holding rank and score
        assert output.read_text(encoding="utf-8").startswith(f"-DOCSTART-\trank=1\tuncertainty={uncertainties[0]}\t")


def test_raw_text_documents_become_label_studio_tasks_with_their_text(trained_model, tmp_path):
    text = "John Smith lives in Paris. Zorblax visited Quux City.\n\nBerlin is big.\n\nMary works for Acme Corp.\n"
    (tmp_path / "pool.txt").write_text(text, encoding="utf-8")
    report = select(
        trained_model, tmp_path / "pool.txt", tmp_path / "tasks.json", 2, by="document", output_format="labelstudio"
    )
    tasks = json.loads((tmp_path / "tasks.json").read_text(encoding="utf-8"))
    assert report.selection.items == 3 and len(tasks) == 2
    assert {t["data"]["text"] for t in tasks} <= {p.strip() for p in text.split("\n\n")}
    for task in tasks:
        for result in task["predictions"][0]["result"]:
            assert task["data"]["text"][result["value"]["start"] : result["value"]["end"]] == result["value"]["text"]


def test_the_same_model_and_pool_give_the_same_file(trained_model, conll_pool, tmp_path):
    select(trained_model, conll_pool, tmp_path / "a.jsonl", 5)
    select(trained_model, conll_pool, tmp_path / "b.jsonl", 5)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


# --- the command line -----------------------------------------------------------------------------------------


def invoke(*args):
    return runner.invoke(app, ["select", *map(str, args)])


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("error:") and "\n" not in message and "Traceback" not in result.output, message
    for fragment in fragments:
        assert fragment in message, message


def test_select_on_the_command_line(trained_model, conll_pool, tmp_path):
    output = tmp_path / "tasks.json"
    result = invoke(
        trained_model, conll_pool, "-n", 2, "-o", output, "--output-format", "labelstudio", "--strategy", "entropy"
    )
    assert result.exit_code == 0, result.output
    assert "chose 2 of 9 sentences" in " ".join(result.stderr.split())
    assert len(json.loads(output.read_text(encoding="utf-8"))) == 2
    result = invoke(trained_model, conll_pool, "-n", 20, "-o", tmp_path / "all.jsonl", "--by", "document", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pool"]["items"] == 2 and [c["rank"] for c in report["chosen"]] == [1, 2]
    result = invoke(trained_model, conll_pool, "-n", 1, "-o", "-", "--output-format", "conll")
    assert result.exit_code == 0 and result.stdout.startswith("-DOCSTART-\trank=1\t")


def test_bad_inputs_are_answered_in_one_line(trained_model, conll_pool, tmp_path):
    output = tmp_path / "out.jsonl"
    assert_one_line_error(invoke(trained_model, conll_pool, "-n", 0, "-o", output), "-n 0", "at least one")
    assert_one_line_error(
        invoke(trained_model, conll_pool, "-n", 2, "-o", output, "--strategy", "random"),
        "--strategy random",
        "least-confidence, margin, entropy",
    )
    assert_one_line_error(invoke(trained_model, conll_pool, "-n", 2, "-o", conll_pool), "also an input")
    assert_one_line_error(invoke(trained_model, conll_pool, "-n", 2, "-o", conll_pool, "--overwrite"), "also an input")
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    assert_one_line_error(
        invoke(trained_model, tmp_path / "empty.txt", "-n", 2, "-o", output), "empty.txt", "no sentences"
    )
    assert_one_line_error(
        invoke(trained_model, conll_pool, "-n", 2, "-o", output, "--max-similarity", 0), "--max-similarity 0"
    )
    assert_one_line_error(invoke(trained_model, conll_pool, "-n", 2, "-o", "-", "--json"), "--json")
    output.write_text("a user's file\n", encoding="utf-8")
    assert_one_line_error(invoke(trained_model, conll_pool, "-n", 2, "-o", output), "exists", "--overwrite")
    assert output.read_text(encoding="utf-8") == "a user's file\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty.txt", "out.jsonl", "pool.conll"]
    with pytest.raises(ConfigError, match="expected one of sum, mean, max"):
        SelectOptions(3, aggregate="median")
