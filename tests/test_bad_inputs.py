"""The 40 bad inputs of BAD_INPUTS.md, one test each, numbered as there.

E: the library's own error, one line naming path:line (or the tensor), what was found and what was expected.
R: repaired, with the count reported. OK: accepted as is.
The model tests use an untrained model built in milliseconds: loading, tagging and refusing do not need a good one.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from tagger.config import CorpusConfig, load_config
from tagger.corpus import document_ids, read_corpus, read_sentences
from tagger.errors import CorpusFormatError, ModelDirError, ScoringError
from tagger.evaluation import evaluate_tags, token_accuracy
from tagger.model import build_model
from tagger.ordering import MAX_WORDS, split_long
from tagger.schemes import convert_tags, find_violations
from tagger.serialization import WHAT_A_MODEL_DIR_HOLDS, load_model, save_model
from tagger.tagging.torch_tagger import Tagger
from tagger.vocab import build_vocab
from tests.conftest import NER_SENTENCES, write_conll
from tests.test_cli import assert_user_error, invoke

BOM_DROPPED = "byte-order mark dropped"
WHITESPACE_LINE = "whitespace-only line read as blank"
COMMENT_IN_SENTENCE = "comment inside a sentence read as its comment"
TINY_MODEL = [
    "model.word_dim=8",
    "model.char_dim=4",
    "model.char_filters=4",
    "model.hidden=8",
    "model.layers=1",
    "train.device=cpu",
]


# --- helpers -------------------------------------------------------------------------------------


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def one_line(error: Exception) -> str:
    message = str(error)
    assert message and "\n" not in message, message
    return message


def refused_at(path: Path, line: int, *fragments: str, config: CorpusConfig = CorpusConfig(), **options) -> str:
    """read_corpus refuses ``path`` with one line starting ``path:line:`` and holding every fragment."""
    with pytest.raises(CorpusFormatError) as caught:
        read_corpus(path, config, **options)
    message = one_line(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert (caught.value.path, caught.value.line_no) == (str(path), line)
    assert "expected" in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def conllu_row(token_id: str, form: str = "w", upos: str = "X") -> str:
    return f"{token_id}\t{form}\t_\t{upos}\t_\t_\t_\t_\t_\t_"


def model_refused(directory: Path, *fragments: str) -> str:
    with pytest.raises(ModelDirError) as caught:
        load_model(directory)
    message = one_line(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def edit_weights(directory: Path, change) -> None:
    """Change the tensors and drop the checksum, so that the loader's checks of each tensor are reached."""
    weights = directory / "model.safetensors"
    state = load_file(str(weights))
    change(state)
    save_file(state, str(weights))
    edit_json(directory / "config.json", drop_checksums)


def drop_checksums(header: dict) -> None:
    """config.json without the checksums of the weights and vocab.json, as saved before the manifest: the loader's
    checks behind the checksums are reached."""
    header.pop("weights_sha256", None)
    header.pop("files", None)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A valid model directory over the NER labels of conftest, untrained (BIOES inside, as training saves it)."""
    config = load_config(None, TINY_MODEL)
    words = [sentence.split() for sentence, _ in NER_SENTENCES]
    labels = {tag for _, tags in NER_SENTENCES for tag in convert_tags(tags.split(), "IOB2", "BIOES")}
    vocab = build_vocab(words, labels, "BIOES", config.vocab)
    torch.manual_seed(0)
    return save_model(tmp_path_factory.mktemp("model") / "ner", config, vocab, build_model(config.model, vocab))


@pytest.fixture
def model_copy(tiny_model, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_model, tmp_path / "model"))


# --- bytes and encoding --------------------------------------------------------------------------


def test_bad_input_01_invalid_utf8(tmp_path):
    path = write(tmp_path, "bad.conll", b"Paris B-LOC\n\nM\xfcnchen B-LOC\n")
    refused_at(path, 3, "not utf-8", "`encoding=")  # the setting as Python names it; the CLI says --encoding
    with pytest.raises(CorpusFormatError, match=f"^{path}:3: .*`encoding="):
        list(read_sentences(path, tags_required=False))  # tagging reads the same way


def test_bad_input_02_latin1_file(tmp_path):
    path = write(tmp_path, "esp.testa", "El O\nAsunci\u00f3n B-LOC\n".encode("latin-1"))  # CoNLL-2002 is Latin-1
    refused_at(path, 2, "`encoding=latin-1`")
    sentences, _ = read_corpus(path, CorpusConfig(encoding="latin-1"))
    assert sentences[0].words == ["El", "Asunci\u00f3n"]


def test_bad_input_03_byte_order_mark(tmp_path):
    path = write(tmp_path, "bom.conll", b"\xef\xbb\xbfHello O\nParis B-LOC\n")
    sentences, report = read_corpus(path)
    assert sentences[0].words == ["Hello", "Paris"]
    assert report.repaired_lines == {BOM_DROPPED: 1}
    jsonl = write(tmp_path, "bom.jsonl", b'\xef\xbb\xbf{"words": ["Hello"], "tags": ["O"]}\n')
    sentences, report = read_corpus(jsonl)
    assert sentences[0].words == ["Hello"] and report.repaired_lines == {BOM_DROPPED: 1}
    assert read_corpus(write(tmp_path, "plain.conll", "Hello O\n"))[1].repaired_lines == {}


def test_bad_input_04_crlf_and_lone_cr(tmp_path):
    for name, newline in (("crlf", "\r\n"), ("cr", "\r")):
        path = write(tmp_path, f"{name}.conll", newline.join(["John B-PER", "Smith I-PER", "", "Paris B-LOC", ""]))
        sentences, report = read_corpus(path)
        assert [(s.words, s.tags, s.line) for s in sentences] == [
            (["John", "Smith"], ["B-PER", "I-PER"], 1),
            (["Paris"], ["B-LOC"], 4),
        ], name
        assert report.repaired_lines == {}


def test_bad_input_05_control_character_in_word(tmp_path):
    for number, char in enumerate(["\x00", "\x07", "\x1b", "\x85"]):
        path = write(tmp_path, f"ctl{number}.conll", f"a O\nb{char}c O\n")
        refused_at(path, 2, f"control character U+{ord(char):04X}")
    path = write(tmp_path, "nul.jsonl", '{"words": ["ok"], "tags": ["O"]}\n{"words": ["a\\u0000"], "tags": ["O"]}\n')
    refused_at(path, 2, "control characters")


def test_bad_input_06_text_not_in_nfc(tmp_path):
    decomposed = "Cafe\u0301"  # e + combining acute: NFD
    path = write(tmp_path, "nfd.conll", f"in O\n{decomposed} B-LOC\n")
    sentences, _ = read_corpus(path)
    assert sentences[0].words == ["in", decomposed]  # kept as written (documented in tagger.corpus)
    refused_at(path, 2, repr(decomposed), "not in Unicode NFC", "'Caf\u00e9'", strict=True)


# --- lines and sentences -------------------------------------------------------------------------


def test_bad_input_07_no_sentences(tmp_path):
    for number, content in enumerate(["", "\n\n  \n", "-DOCSTART- -X- O O\n\n", "-DOCSTART- -X- O O\n\n-DOCSTART-\n"]):
        path = write(tmp_path, f"empty{number}.conll", content)
        for read in (
            lambda path=path: read_corpus(path),
            lambda path=path: list(read_sentences(path, tags_required=False)),
        ):
            with pytest.raises(CorpusFormatError) as caught:
                read()
            message = one_line(caught.value)
            assert message.startswith(f"{path}: no sentences") and "expected at least one sentence" in message


def test_bad_input_08_no_final_newline(tmp_path):
    sentences, _ = read_corpus(write(tmp_path, "end.conll", "John B-PER\nSmith I-PER"))
    assert [(s.words, s.tags) for s in sentences] == [(["John", "Smith"], ["B-PER", "I-PER"])]
    sentences, _ = read_corpus(write(tmp_path, "end.conllu", conllu_row("1", "a") + "\n" + conllu_row("2", "b")))
    assert sentences[0].words == ["a", "b"]
    sentences, _ = read_corpus(write(tmp_path, "end.jsonl", '{"words": ["a"], "tags": ["O"]}'))
    assert sentences[0].words == ["a"]


def test_bad_input_09_several_blank_lines(tmp_path):
    sentences, report = read_corpus(write(tmp_path, "gaps.conll", "\n\na O\n\n\n\n\nb O\n\n\n"))
    assert [(s.words, s.line) for s in sentences] == [(["a"], 3), (["b"], 8)]
    assert (report.sentences, report.skipped_empty, report.repaired_lines) == (2, 0, {})


def test_bad_input_10_whitespace_only_line(tmp_path):
    path = write(tmp_path, "ws.conll", "a O\nb O\n \t \nc O\n\u00a0\nd O\n")
    sentences, report = read_corpus(path)
    assert [(s.words, s.line) for s in sentences] == [(["a", "b"], 1), (["c"], 4), (["d"], 6)]
    assert report.repaired_lines == {WHITESPACE_LINE: 2}


def test_bad_input_11_docstart_variants(tmp_path):
    variants = ["-DOCSTART-\t-X-\tO", "-DOCSTART- -X- O O", "-DOCSTART- -X- -X- O", "-DOCSTART- O", "-DOCSTART-"]
    content = "".join(f"{docstart}\n\nw{number} O\n\n" for number, docstart in enumerate(variants))
    sentences, report = read_corpus(write(tmp_path, "docs.conll", content))
    assert [s.words for s in sentences] == [[f"w{number}"] for number in range(5)]
    assert report.documents == 5 and all(s.metadata == {"docstart": "1"} for s in sentences)


def test_bad_input_12_comment_line_inside_a_sentence(tmp_path):
    path = write(tmp_path, "comment.conll", "John B-PER\n# a note\nSmith I-PER\n")
    refused_at(path, 2, "'# a note'", "comment")  # CoNLL columns have no comments
    rows = ["# sent_id = 1", conllu_row("1", "John"), "# note = inside", conllu_row("2", "Smith"), ""]
    sentences, report = read_corpus(write(tmp_path, "comment.conllu", "\n".join(rows) + "\n"))
    assert sentences[0].words == ["John", "Smith"]  # CoNLL-U has comments: read as one, counted
    assert sentences[0].metadata == {"sent_id": "1", "note": "inside"}
    assert report.repaired_lines == {COMMENT_IN_SENTENCE: 1}


def test_bad_input_13_5000_word_sentence_on_a_1mb_line(tmp_path, tiny_model):
    words = [f"w{number}" + "x" * 200 for number in range(5000)]  # a 5,000-word sentence on a 1 MB line
    line = json.dumps({"words": words})
    assert len(line) > 1_000_000
    sentences = list(read_sentences(write(tmp_path, "long.jsonl", line + "\n"), tags_required=False))
    assert len(sentences) == 1 and sentences[0].words == words
    pieces, owners = split_long([words])
    assert owners == [[0, 1, 2, 3, 4]] and max(len(piece) for piece in pieces) == MAX_WORDS
    tags = Tagger.load(tiny_model, device="cpu").tag([words])[0]
    assert len(tags) == 5000 and find_violations(tags, "IOB2") == []  # rejoined, repaired where cut


def test_bad_input_14_zero_word_sentence(tmp_path, tiny_model):
    rows = ["# sent_id = 1", "# text =", "", "# sent_id = 2", conllu_row("1", "Paris", "PROPN"), ""]
    sentences, report = read_corpus(write(tmp_path, "empty.conllu", "\n".join(rows) + "\n"))
    assert [s.words for s in sentences] == [["Paris"]] and report.skipped_empty == 1
    lines = '{"words": [], "tags": []}\n{"words": ["Paris"], "tags": ["B-LOC"]}\n{"words": [], "tags": []}\n'
    sentences, report = read_corpus(write(tmp_path, "empty.jsonl", lines))
    assert [s.words for s in sentences] == [["Paris"]] and report.skipped_empty == 2
    tagger = Tagger.load(tiny_model, device="cpu")
    batches = []
    tagger.model.register_forward_pre_hook(lambda module, args: batches.append(args))
    assert tagger.tag([[]]) == [[]] and batches == []  # never reaches the model
    assert [len(tags) for tags in tagger.tag([[], ["Paris"], []])] == [0, 1, 0] and len(batches) == 1


# --- columns -------------------------------------------------------------------------------------


def test_bad_input_15_fewer_columns(tmp_path):
    path = write(tmp_path, "cols.conll", "John NNP B-PER\nSmith NNP I-PER\nlives O\n")
    refused_at(path, 3, "2 columns in 'lives O'", "expected 3 columns as on line 1")


def test_bad_input_16_more_columns(tmp_path):
    path = write(tmp_path, "cols.conll", "in O\n\nNew York B-LOC\n")
    message = refused_at(path, 3, "3 columns in 'New York B-LOC'", "expected 2 columns")
    assert "a word may contain a space; separate columns with tabs" in message
    sentences, _ = read_corpus(write(tmp_path, "cols.tsv", "in\tO\n\nNew York\tB-LOC\n"))
    assert [s.words for s in sentences] == [["in"], ["New York"]]


def test_bad_input_17_tabs_and_spaces_mixed(tmp_path):
    # The separator is the first word line's; there is no setting to give one (CorpusConfig has none).
    refused_at(
        write(tmp_path, "a.conll", "John B-PER\nSmith\tI-PER\n"), 2, "a tab in", "separated by spaces as on line 1"
    )
    message = refused_at(write(tmp_path, "b.conll", "John\tB-PER\nSmith I-PER\n"), 2, "1 columns", "expected 2 columns")
    assert "this line uses spaces where the file uses tabs" in message


def test_bad_input_18_trailing_whitespace(tmp_path):
    spaces = write(tmp_path, "trail.conll", "John B-PER \nSmith I-PER\t\nlives  O \t \n")
    tabs = write(tmp_path, "trail.tsv", "John\tB-PER \nSmith\tI-PER\t\nlives\tO\t \t\n")
    for path in (spaces, tabs):
        sentences, _ = read_corpus(path)
        assert [(s.words, s.tags) for s in sentences] == [(["John", "Smith", "lives"], ["B-PER", "I-PER", "O"])], path


def test_bad_input_19_empty_or_underscore_tag(tmp_path, tiny_model):
    for name, content in (("underscore.conll", "John B-PER\nSmith _\n"), ("empty.tsv", "John\tB-PER\nSmith\t\n")):
        path = write(tmp_path, name, content)
        refused_at(path, 2, "missing tag", "'Smith'", "tags are needed to train and evaluate")
        assert [s.words for s in read_sentences(path, tags_required=False)] == [["John", "Smith"]]
    path = tmp_path / "underscore.conll"
    assert_user_error(invoke("evaluate", tiny_model, path), f"{path}:2", "missing tag")
    result = invoke("tag", tiny_model, path, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [["John", "B-PER"], ["Smith", "_"]]


def test_bad_input_20_non_breaking_and_ideographic_space_in_a_word(tmp_path):
    path = write(tmp_path, "nbsp.conll", "New\u00a0York B-LOC\nTokyo\u3000Tower I-LOC\nnow O\n")
    sentences, _ = read_corpus(path)
    assert sentences[0].words == ["New\u00a0York", "Tokyo\u3000Tower", "now"]
    assert sentences[0].tags == ["B-LOC", "I-LOC", "O"]


# --- tags ----------------------------------------------------------------------------------------


def test_bad_input_21_i_after_o(tmp_path):
    path = write(tmp_path, "iob1.conll", "in O\nParis I-LOC\nnow O\n")
    for declared in ("auto", "IOB1"):  # valid IOB1: converted to IOB2, nothing to repair
        sentences, report = read_corpus(path, CorpusConfig(scheme=declared))
        assert sentences[0].tags == ["O", "B-LOC", "O"] and (report.scheme, report.repaired) == ("IOB1", 0)
    sentences, report = read_corpus(path, CorpusConfig(scheme="IOB2"))  # lenient IOB2: repaired, counted
    assert sentences[0].tags == ["O", "B-LOC", "O"] and (report.scheme, report.repaired) == ("IOB2", 1)
    refused_at(path, 2, "'Paris'", "I-LOC after O", "strict IOB2", config=CorpusConfig(scheme="IOB2"), strict=True)


def test_bad_input_22_type_changes_inside_an_entity(tmp_path):
    path = write(tmp_path, "types.conll", "John B-PER\nParis I-LOC\nnow O\n")
    for declared in ("auto", "IOB2"):  # lenient: B-PER I-LOC is read as two entities
        sentences, report = read_corpus(path, CorpusConfig(scheme=declared))
        assert sentences[0].tags == ["B-PER", "B-LOC", "O"] and report.repaired == 1
    refused_at(path, 2, "'Paris'", "I-LOC after B-PER", "strict IOB2", config=CorpusConfig(scheme="IOB2"), strict=True)


def test_bad_input_23_malformed_span_tags(tmp_path):
    for number, tag in enumerate(["PER", "o", "B-", "B--"]):  # B-PER-X is type PER-X (first hyphen)
        path = write(tmp_path, f"tag{number}.conll", f"John B-PER\nSmith I-PER\n\nhere O\nit {tag}\nis O\n")
        refused_at(path, 5, "'it'", f"malformed tag {tag!r}", "expected a valid span tag")
        for gold, pred, side in (
            ([["B-PER", tag]], [["B-PER", "O"]], "gold"),
            ([["B-PER", "O"]], [["B-PER", tag]], "predictions"),
        ):
            with pytest.raises(ScoringError) as caught:  # never scored as type "ER", nor as plain labels
                evaluate_tags(gold, pred)
            assert one_line(caught.value).startswith(f"{side}, sentence 0, word 1: malformed tag {tag!r}")


def test_bad_input_24_bioes_tags_given_as_iob2(tmp_path):
    path = write(tmp_path, "bioes.conll", "John B-PER\nSmith E-PER\nin O\nParis S-LOC\n")
    refused_at(
        path, 2, "'Smith'", "'E-PER' is not an IOB2 tag; is the scheme BIOES?", config=CorpusConfig(scheme="IOB2")
    )
    for declared in ("BIOES", "auto"):
        sentences, report = read_corpus(path, CorpusConfig(scheme=declared))
        assert sentences[0].tags == ["B-PER", "I-PER", "O", "B-LOC"] and report.scheme == "BIOES"
    with pytest.raises(ScoringError, match="not an IOB2 tag; convert BIOES tags to IOB2"):
        evaluate_tags([["B-PER", "E-PER"]], [["B-PER", "E-PER"]])


def test_bad_input_25_tag_unseen_in_training(tmp_path, tiny_model):
    path = write(tmp_path, "gold.conll", "John B-PER\nmeets O\nFIFA B-SPORTS\n")
    sentences, _ = read_corpus(path)
    with pytest.raises(CorpusFormatError) as caught:
        Tagger.load(tiny_model, device="cpu").evaluate(sentences)
    message = one_line(caught.value)
    assert message.startswith(f"{path}:3: tag 'B-SPORTS' was not seen in training")
    assert "expected one of the model's tags: B-LOC, B-MISC, B-ORG, B-PER, I-LOC" in message


def test_bad_input_25_dev_labels_training_lacks_are_refused_before_any_training(tmp_path, monkeypatch):
    """They were found only when dev was first scored, after a whole epoch (33 s on UD EWT)."""
    import tagger.training.loop as loop

    def no_training_work(*args, **kwargs):
        raise AssertionError("training work began before the labels were checked")

    monkeypatch.setattr(loop, "build_vocabulary", no_training_work)
    train = write_conll(tmp_path / "train.conll", NER_SENTENCES)
    dev = write(tmp_path, "dev.conll", "John B-PER\nmeets O\n\nFIFA B-SPORTS\nCup I-SPORTS\nin O\nParis B-CITY\n")
    out = tmp_path / "model"
    result = invoke(
        "train", "--train", train, "--dev", dev, "--out", out, *[a for s in TINY_MODEL for a in ("--set", s)]
    )
    assert_user_error(
        result,
        f"{dev}:4: label 'B-SPORTS' (word 'FIFA') is not in the training data, {train} (this file has 3: B-CITY, "
        "B-SPORTS, I-SPORTS); expected one of the training labels: B-LOC, B-MISC, B-ORG, B-PER, I-LOC, I-MISC, I-ORG, "
        f"I-PER, O (a model never predicts a label it was not trained on: add examples of it to {train}, or "
        f"relabel those words in {dev})",
    )
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()
    # a test set too; a type training has (I-PER after B-PER, whatever the prefix) is no unknown label
    test = write(tmp_path, "test.conll", "John B-PER\nSmith I-PER\nmeets O\nFIFA B-SPORTS\n")
    result = invoke("train", "--train", train, "--dev", train, "--test", test, "--out", out)
    assert_user_error(
        result,
        f"{test}:4: label 'B-SPORTS' (word 'FIFA') is not in the training data, {train} (the only such label in this file); expected",
    )
    assert not out.exists()


def test_bad_input_25_unknown_labels_are_placed_on_their_own_line_in_conllu(tmp_path):
    """A multiword range before the word does not shift the line named; labels are checked as labels (UPOS)."""
    from tagger.training import DataSource, train

    rows = [conllu_row("1", "I", "PRON"), conllu_row("2", "run", "VERB")]
    train_path = write(tmp_path, "train.conllu", ("\n".join(rows) + "\n\n") * 2)
    dev = [conllu_row("1", "I", "PRON"), conllu_row("2-3", "don't", "_"), conllu_row("2", "do", "AUX")]
    dev_path = write(
        tmp_path, "dev.conllu", "# text = I don't\n" + "\n".join(dev + [conllu_row("3", "n't", "PART")]) + "\n\n"
    )
    with pytest.raises(CorpusFormatError) as caught:
        train(load_config(None, TINY_MODEL), DataSource(train_path, dev_path), tmp_path / "model")
    message = one_line(caught.value)
    assert message.startswith(
        f"{dev_path}:4: label 'AUX' (word 'do') is not in the training data, {train_path} (this file has 2: AUX, PART)"
    )
    assert "expected one of the training labels: PRON, VERB" in message
    assert not (tmp_path / "model").exists()


def test_bad_input_26_gold_and_predictions_differ_in_length():
    gold = [["B-PER", "O"], ["O", "B-LOC", "O"], ["O"]]
    with pytest.raises(ScoringError) as caught:
        evaluate_tags(gold, gold[:2])
    assert one_line(caught.value) == "gold has 3 sentences, predictions have 2"
    shorter = [["B-PER", "O"], ["O", "B-LOC"], []]  # sentences 1 and 2 differ: the first is named
    for score in (evaluate_tags, token_accuracy):
        with pytest.raises(ScoringError) as caught:
            score(gold, shorter)
        assert one_line(caught.value) == "sentence 1: gold has 3 words, predictions have 2"


def test_bad_input_27_all_o_data(tmp_path):
    sentences, report = read_corpus(write(tmp_path, "all_o.conll", "a O\nb O\n\nc O\n"))
    assert report.scheme == "IOB2" and [s.tags for s in sentences] == [["O", "O"], ["O"]]
    gold = [s.tags for s in sentences]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by zero, no UndefinedMetricWarning
        nothing = evaluate_tags(gold, gold).to_dict()
        false_alarm = evaluate_tags(gold, [["B-PER", "O"], ["O"]]).to_dict()
    for mode in ("conlleval", "strict"):
        assert nothing[mode]["micro"] == {
            "precision": None,
            "recall": None,
            "f1": None,
            "support": 0,
            "predicted": 0,
            "correct": 0,
        }
        assert false_alarm[mode]["micro"]["precision"] == 0.0 and false_alarm[mode]["micro"]["recall"] is None
    assert nothing["token_accuracy"] == 1.0 and false_alarm["token_accuracy"] == pytest.approx(2 / 3)
    assert json.loads(json.dumps(nothing)) == nothing


def test_bad_input_28_scoring_states_its_mode_and_scheme(monkeypatch):
    import seqeval.metrics
    from seqeval.scheme import IOB2

    calls = []
    original = seqeval.metrics.classification_report

    def spy(*args, **options):
        calls.append(options)
        return original(*args, **options)

    monkeypatch.setattr(seqeval.metrics, "classification_report", spy)
    data = evaluate_tags([["B-PER", "I-PER", "O"]], [["I-PER", "I-PER", "O"]]).to_dict()
    assert data["scheme"] == "IOB2"
    assert (data["conlleval"]["mode"], data["conlleval"]["scheme"]) == ("conlleval", "IOB2")
    assert (data["strict"]["mode"], data["strict"]["scheme"]) == ("strict IOB2", "IOB2")
    assert data["conlleval"]["micro"]["f1"] == 1.0 and data["strict"]["micro"]["f1"] == 0.0
    strict_calls = [options for options in calls if options.get("mode") == "strict"]
    assert len(calls) == 2 and len(strict_calls) == 1 and strict_calls[0]["scheme"] is IOB2
    labels = evaluate_tags([["NOUN", "VERB"]], [["NOUN", "NOUN"]]).to_dict()  # no spans: no mode, no scheme claimed
    assert (labels["task"], labels["scheme"], labels["conlleval"], labels["strict"]) == ("labels", None, None, None)


# --- CoNLL-U -------------------------------------------------------------------------------------


def test_bad_input_29_conllu_word_line_without_10_columns(tmp_path):
    nine = conllu_row("2", "b").rsplit("\t", 1)[0]
    eleven = conllu_row("2", "b") + "\t_"
    spaces = "2 b _ X _ _ _ _ _ _"
    for number, bad in enumerate([nine, eleven, spaces]):
        path = write(tmp_path, f"cols{number}.conllu", "# sent_id = 1\n" + conllu_row("1", "a") + "\n" + bad + "\n")
        columns = len(bad.split("\t"))
        refused_at(path, 3, f"{columns} columns in", "expected 10 tab-separated columns")


def test_bad_input_30_multiword_ranges_and_empty_nodes(tmp_path, tiny_model):
    rows = [
        "# sent_id = 1",
        "# text = Vámonos al mar.",
        conllu_row("1-2", "Vámonos", "_"),
        conllu_row("1", "Vamos", "VERB"),
        conllu_row("2", "nos", "PRON"),
        conllu_row("3-4", "al", "_"),
        conllu_row("3", "a", "ADP"),
        conllu_row("4", "el", "DET"),
        conllu_row("4.1", "ir", "_"),
        conllu_row("5", "mar", "NOUN"),
        conllu_row("6", ".", "PUNCT"),
    ]
    path = write(tmp_path, "mwt.conllu", "\n".join(rows) + "\n\n")
    sentences, _ = read_corpus(path)
    assert sentences[0].words == ["Vamos", "nos", "a", "el", "mar", "."]
    assert sentences[0].tags == ["VERB", "PRON", "ADP", "DET", "NOUN", "PUNCT"]
    out = tmp_path / "tagged.conllu"
    result = invoke("tag", tiny_model, path, "-o", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    written = out.read_text(encoding="utf-8").splitlines()
    assert written[:3] == rows[:3] and rows[5] in written and rows[8] in written  # ranges and empty node kept as is
    word_lines = [line for line in written if line.split("\t")[0].isdigit()]
    assert len(word_lines) == 6 and all("Tag=" in line.split("\t")[9] for line in word_lines)


def test_bad_input_31_conllu_ids_not_1_2_3(tmp_path):
    cases = [
        (["2", "3"], 1, "id '2'; expected id 1 (ids start at 1"),
        (["1", "1"], 2, "id '1'; expected id 2"),
        (["1", "3", "2"], 2, "id '3'; expected id 2"),
        (["1", "x"], 2, "id 'x'; expected an integer id"),
    ]
    for number, (ids, bad_line, expected) in enumerate(cases):
        path = write(tmp_path, f"ids{number}.conllu", "\n".join(conllu_row(i) for i in ids) + "\n")
        refused_at(path, bad_line, expected)


def test_bad_input_32_overlapping_or_reversed_ranges(tmp_path):
    cases = [
        (["2-1", "1", "2"], 1, "end is after its start"),
        (["1-3", "1", "2-3", "2", "3"], 3, "after id 3, where the range on line 1 ends (ranges cannot overlap)"),
        (["1-2", "1-2", "1", "2"], 2, "ranges cannot overlap"),
        (["1-3", "1", "2"], 1, "ranges over existing words"),
    ]
    for number, (ids, bad_line, expected) in enumerate(cases):
        path = write(tmp_path, f"ranges{number}.conllu", "\n".join(conllu_row(i) for i in ids) + "\n")
        refused_at(path, bad_line, expected)


def test_bad_input_33_space_inside_conllu_form(tmp_path):
    path = write(
        tmp_path, "space.conllu", conllu_row("1", "New York", "PROPN") + "\n" + conllu_row("2", "is", "AUX") + "\n"
    )
    sentences, _ = read_corpus(path)
    assert sentences[0].words == ["New York", "is"] and sentences[0].tags == ["PROPN", "AUX"]


# --- raw text and batches ------------------------------------------------------------------------


def tagged_files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}


def test_bad_input_34_one_undecodable_file_in_a_batch(tmp_path, tiny_model):
    inputs = tmp_path / "in"
    for name in ("a.conll", "b.conll", "deep/c.conll"):
        write(inputs, name, "John\nSmith\n\nParis\n")
    write(inputs, "deep/bad.conll", "Paris\n\nM\u00fcnchen\n".encode("latin-1"))
    out = tmp_path / "out"
    result = invoke("tag", tiny_model, inputs, "--out", out, "--device", "cpu", "--workers", "1")
    assert result.exit_code == 1, result.output  # some failed
    printed = " ".join(result.output.split())
    assert "bad.conll:3" in printed and "--encoding" in printed and "Traceback" not in printed
    assert tagged_files(out) == {"a.conll", "b.conll", "deep/c.conll"}  # the rest finished
    assert not list(out.rglob("*.tmp"))  # nothing half-written left of the failed file
    assert [len(s.words) for s in read_sentences(out / "deep" / "c.conll")] == [2, 1]


def test_bad_input_35_outputs_never_overwrite_without_overwrite(tmp_path, tiny_model):
    inputs = tmp_path / "in"
    source = write(inputs, "a.conll", "John\nSmith\n")
    quiet = ("--device", "cpu", "--quiet")  # no progress bar before the error line
    assert_user_error(invoke("tag", tiny_model, inputs, "--out", inputs, *quiet), "would overwrite the input")
    assert_user_error(invoke("tag", tiny_model, source, "-o", source, *quiet), "is also an input")
    assert tagged_files(inputs) == {"a.conll"} and source.read_text() == "John\nSmith\n"
    out = tmp_path / "out"
    mine = write(out, "a.conll", "my own notes\n")
    assert_user_error(
        invoke("tag", tiny_model, inputs, "--out", out, *quiet),
        f"{mine} exists and was not written by tagger tag",
        "pass --overwrite to replace it",
    )
    assert mine.read_text() == "my own notes\n"
    result = invoke("tag", tiny_model, inputs, "--out", out, "--device", "cpu", "--workers", "1", "--overwrite")
    assert result.exit_code == 0, result.output
    assert [len(line.split()) for line in mine.read_text().splitlines()] == [2, 2]  # complete, replaced
    assert not list(out.rglob("*.tmp"))  # written to a temporary file and renamed


# --- model directories ---------------------------------------------------------------------------


def test_bad_input_36_truncated_or_zero_byte_weights(model_copy):
    weights = model_copy / "model.safetensors"
    whole = weights.read_bytes()
    for content in (b"", whole[:1000], whole[:-8]):
        weights.write_bytes(content)
        assert model_refused(model_copy, "corrupt model file").startswith(f"{weights}: ")
    edit_json(model_copy / "config.json", drop_checksums)  # past the checksum, to the parser
    for content in (b"", whole[:1000], whole[:-8]):
        weights.write_bytes(content)
        assert model_refused(model_copy, "corrupt model file").startswith(f"{weights}: ")


class Payload:
    """Unpickling it creates a file: proof that it was never unpickled if the file is absent."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_bad_input_37_pickles_are_never_unpickled(model_copy, tiny_model, tmp_path):
    marker = tmp_path / "unpickled"
    weights = model_copy / "model.safetensors"
    make, args = Payload(tmp_path / "proof").__reduce__()  # what unpickling would call (called here, not unpickled)
    make(*args).close()
    assert (tmp_path / "proof").exists()
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):  # protocol 0 has no signature: refused as corrupt safetensors
        weights.write_bytes(pickle.dumps(Payload(marker), protocol=protocol))
        model_refused(model_copy, f"{weights}: ", "corrupt model file" if protocol == 0 else "is a pickle")
    torch.save({"weights": Payload(marker)}, weights)  # a torch.save zip renamed
    model_refused(model_copy, f"{weights}: ", "is a pickle or torch.save archive", "refusing to load")
    for name in ("config.json", "vocab.json"):
        shutil.copy(model_copy / "model.safetensors", model_copy / name)
        model_refused(model_copy, f"{model_copy / name}: not valid JSON")
        shutil.copy(tiny_model / name, model_copy / name)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for name in ("model.pt", "model.pkl", "pytorch_model.bin"):
        torch.save({"weights": Payload(marker)}, foreign / name)
        model_refused(foreign / name, "is a file, not a model directory", WHAT_A_MODEL_DIR_HOLDS)
    model_refused(foreign, "missing config.json, vocab.json, model.safetensors")
    assert not marker.exists()


def test_bad_input_38_tensors_not_matching_the_config(model_copy, tiny_model):
    changes = {
        "shape": (lambda s: s.update({"output.bias": s["output.bias"][:-1].clone()}), "'output.bias' has shape"),
        "dtype": (lambda s: s.update({"output.bias": s["output.bias"].double()}), "torch.float64, expected"),
        "missing": (lambda s: s.pop("output.bias"), "tensor 'output.bias' is missing"),
        "extra": (lambda s: s.update({"surprise": torch.zeros(2)}), "unexpected tensor 'surprise'"),
        "nan": (lambda s: s["output.bias"].__setitem__(0, float("nan")), "'output.bias' contains NaN or Inf"),
        "inf": (lambda s: s["output.weight"].__setitem__((0, 0), float("inf")), "'output.weight' contains NaN or Inf"),
    }
    for name, (change, expected) in changes.items():
        shutil.copy(tiny_model / "model.safetensors", model_copy / "model.safetensors")
        shutil.copy(tiny_model / "config.json", model_copy / "config.json")
        edit_weights(model_copy, change)
        message = model_refused(model_copy, expected)
        assert message.startswith(f"{model_copy / 'model.safetensors'}: "), name


def test_bad_input_39_vocabulary_tags_or_version_not_matching(model_copy, tiny_model):
    def fresh():
        for name in ("vocab.json", "config.json"):
            shutil.copy(tiny_model / name, model_copy / name)

    edits = [
        (
            "vocab.json",
            lambda d: d["words"].append("brand-new-word"),
            ["'word_embedding.weight' has shape", "expected"],
        ),
        ("vocab.json", lambda d: d["chars"].append("\u00e9"), ["'char_encoder.", "has shape", "expected"]),
        ("vocab.json", lambda d: d["labels"].append("B-SPORTS"), ["'output.", "has shape", "expected"]),
        ("vocab.json", lambda d: d["labels"].__setitem__(1, d["labels"][0]), ["duplicate entry 'O' in labels"]),
        ("config.json", lambda d: d.update(format_version=99), ["format_version 99 is not supported", "upgrade"]),
    ]
    for name, change, expected in edits:
        fresh()
        edit_json(model_copy / name, change)
        edit_json(model_copy / "config.json", drop_checksums)  # reach the checks behind it
        model_refused(model_copy, *expected)


def test_bad_input_40_not_a_model_directory(tmp_path, tiny_model):
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(tiny_model / "config.json", half / "config.json")
    cases = [
        (tmp_path / "nowhere", "no such model directory"),
        (tmp_path / "notes.txt", "is a file, not a model directory"),
        (tmp_path, "missing config.json, vocab.json, model.safetensors"),
        (half, "missing vocab.json, model.safetensors"),
    ]
    for path, problem in cases:
        assert model_refused(path, problem, WHAT_A_MODEL_DIR_HOLDS).startswith(f"{path}: ")
    assert_user_error(
        invoke("tag", tmp_path / "nowhere", tmp_path / "notes.txt"),
        "no such model directory",
        "config.json, vocab.json and model.safetensors",
    )


# --- issue 16: output paths, long lines, Ctrl-C, stdin, binary files, hyphenated types ----------------

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture(scope="module")
def tiny_pos_model(tmp_path_factory) -> Path:
    """An untrained part-of-speech model: word labels, no scheme."""
    config = load_config(None, TINY_MODEL)
    words = [sentence.split() for sentence, _ in NER_SENTENCES]
    vocab = build_vocab(words, {"NOUN", "VERB", "PROPN", "PUNCT"}, "none", config.vocab)
    torch.manual_seed(0)
    return save_model(tmp_path_factory.mktemp("model") / "pos", config, vocab, build_model(config.model, vocab))


def test_bad_input_train_out_is_a_file_or_epochs_below_one(tmp_path):
    note = write(tmp_path, "afile.txt", "my notes\n")
    missing = tmp_path / "not-read-yet.conll"  # refused before the data is read: the data is never missing
    common = ("train", "--train", missing, "--dev", missing, "--device", "cpu")
    assert_user_error(invoke(*common, "--out", note), f"{note} is a file", "choose another output folder")
    assert_user_error(invoke(*common, "--out", note / "model"), f"{note} is a file, not a folder")
    assert_user_error(invoke(*common, "--out", note, "--overwrite", "--seeds", "2"), "is a file")
    for epochs in ("0", "-1"):
        assert_user_error(
            invoke(*common, "--out", tmp_path / "model", "--epochs", epochs),
            f"--epochs {epochs}: expected at least 1",
        )
    assert_user_error(invoke(*common, "--out", tmp_path / "model", "--set", "train.epochs=0"), "expected at least 1")
    assert note.read_text() == "my notes\n" and not (tmp_path / "model").exists()


def refuse_temporary_files(*args, **kwargs):
    """A folder where nothing can be written, as the OS refuses a user (root ignores file modes, so simulated)."""
    import errno

    raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir"))


def test_bad_input_train_out_that_cannot_be_written_or_holds_files_training_would_replace(
    tmp_path, monkeypatch, ner_files
):
    missing = tmp_path / "not-read-yet.conll"  # refused before the data is read: the data is never missing
    common = ("train", "--train", missing, "--dev", missing, "--device", "cpu")
    mine = write(tmp_path / "project", "README.md", "# my project\n")  # a folder of the user's, no model in it
    assert_user_error(
        invoke(*common, "--out", mine.parent), "already holds README.md, which training would replace", "--overwrite"
    )
    assert mine.read_text() == "# my project\n"
    killed = write(tmp_path / "killed" / "checkpoint", "state.json", "{}")  # a run stopped before its first model
    assert_user_error(
        invoke(*common, "--out", killed.parent.parent), "pass --resume to go on from its checkpoint", "--overwrite"
    )
    with monkeypatch.context() as patch:
        patch.setattr("tagger.atomic.tempfile.mkstemp", refuse_temporary_files)
        result = invoke(*common, "--out", tmp_path / "model")
    assert_user_error(result, f"{tmp_path / 'model'}: cannot write in", "Permission denied", "choose another --out")
    assert not (tmp_path / "model").exists()  # the folder made to try it is gone again
    bad_train = write(tmp_path, "bad.conll", "John B-PER extra columns here\nSmith I-PER\n")
    result = invoke("train", "--train", bad_train, "--dev", ner_files[1], "--test", missing, "--out", tmp_path / "m")
    assert_user_error(result, f"{missing}: no such file")  # before the train file was read (and refused)


def test_bad_input_tag_output_file_in_a_folder_that_cannot_be_written(tmp_path, tiny_model, monkeypatch):
    news = write(tmp_path, "news.txt", "John Smith lives in Paris.\n")
    monkeypatch.setattr("tagger.atomic.tempfile.mkstemp", refuse_temporary_files)
    for option in ("-o", "--out"):
        target = tmp_path / "out" / ("news.conll" if option == "-o" else "")
        result = invoke("tag", tiny_model, news, option, target, "--device", "cpu", "--quiet")
        assert_user_error(result, "cannot write in", "Permission denied", "choose another")
    assert not (tmp_path / "out").exists()


def test_bad_input_tag_output_paths_that_cannot_be_written(tmp_path, tiny_model):
    texts = tmp_path / "texts"
    news = write(texts, "news.txt", "John Smith lives in Paris.\n")
    note = write(tmp_path, "afile.txt", "my notes\n")
    somedir = tmp_path / "somedir"
    somedir.mkdir()
    quiet = ("--device", "cpu", "--quiet")
    assert_user_error(
        invoke("tag", tiny_model, texts, "--out", note, *quiet),
        f"--out {note} is a file",
        "--output FILE writes one output file",
    )  # -o FILE: the same option
    assert_user_error(
        invoke("tag", tiny_model, news, "--out", note / "deeper", *quiet), f"{note} is a file, not a folder"
    )
    assert_user_error(
        invoke("tag", tiny_model, news, "-o", somedir, "--overwrite", *quiet),
        f"--output {somedir} is a folder",
        f"--out {somedir} tags into the folder",
    )
    assert_user_error(
        invoke("tag", tiny_model, news, "-o", note / "news.conll", *quiet), f"{note} is a file, not a folder"
    )
    assert note.read_text() == "my notes\n" and list(somedir.iterdir()) == []


def test_bad_input_evaluate_outputs_are_checked_before_the_model_is_loaded(tmp_path, tiny_model):
    gold = write_conll(tmp_path / "gold.conll")
    before = gold.read_bytes()
    note = write(tmp_path, "afile.txt", "my notes\n")
    somedir = tmp_path / "somedir"
    somedir.mkdir()
    common = ("evaluate", tiny_model, gold, "--device", "cpu")
    assert_user_error(
        invoke(*common, "--predictions", gold), f"--predictions {gold} is also an input", "refusing to overwrite"
    )
    assert_user_error(invoke(*common, "--predictions", somedir), f"--predictions {somedir} is a folder")
    for option in ("--predictions", "--report"):
        assert_user_error(
            invoke(*common, option, note / "x"), f"{note} is a file, not a folder", f"choose another {option}"
        )
    assert_user_error(invoke(*common, "--report", note), f"--report {note} is a file; --report names a folder")
    page = write(tmp_path / "pages", "index.html", "<p>my page</p>\n")
    assert_user_error(invoke(*common, "--report", page.parent), f"{page} exists and was not written by tagger")
    missing = tmp_path / "no-model"  # refused before the model is loaded: the model is never missing
    assert_user_error(invoke("evaluate", missing, gold, "--predictions", gold), "is also an input")
    assert gold.read_bytes() == before  # the gold corpus is never replaced by predictions
    assert note.read_text() == "my notes\n" and list(somedir.iterdir()) == []
    assert page.read_text() == "<p>my page</p>\n"
    predictions, report = tmp_path / "out" / "pred.txt", tmp_path / "report"
    done = invoke(*common, "--predictions", predictions, "--report", report)
    assert done.exit_code == 0, done.output
    assert predictions.read_text().strip().count("\n\n") + 1 == len(NER_SENTENCES) and (report / "index.html").is_file()
    again = invoke(*common, "--predictions", predictions, "--report", report)  # its own outputs: replaced
    assert again.exit_code == 0, again.output


def test_bad_input_evaluate_outputs_in_a_folder_that_cannot_be_written(tmp_path, tiny_model, monkeypatch):
    gold = write_conll(tmp_path / "gold.conll")
    monkeypatch.setattr("tagger.atomic.tempfile.mkstemp", refuse_temporary_files)
    for option, path in (("--predictions", tmp_path / "out" / "pred.txt"), ("--report", tmp_path / "report")):
        result = invoke("evaluate", tiny_model, gold, option, path, "--device", "cpu")
        assert_user_error(result, "cannot write in", "Permission denied", f"choose another {option}")
    assert not (tmp_path / "out").exists() and not (tmp_path / "report").exists()


def test_bad_input_evaluate_without_seqeval_says_what_to_install_before_tagging(tmp_path, tiny_model, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec

    def without_seqeval(name, *args, **kwargs):
        return None if name == "seqeval" else find_spec(name, *args, **kwargs)

    monkeypatch.setattr("tagger.dependencies.importlib.util.find_spec", without_seqeval)
    monkeypatch.setattr("tagger.evaluation.model.read_corpus", None)  # never reached: refused before the data is read
    result = invoke("evaluate", tiny_model, write_conll(tmp_path / "gold.conll"), "--device", "cpu")
    assert_user_error(result, f"scoring the entities of {tiny_model} needs seqeval", "pip install seqeval")
    assert result.stderr.count("\n") == 1


def test_bad_input_convert_target_checked_before_the_input_is_read(tmp_path):
    source = write_conll(tmp_path / "in.conll")
    before = source.read_bytes()
    note = write(tmp_path, "afile.txt", "my notes\n")
    mine = write(tmp_path / "mine", "notes.txt", "my notes\n").parent  # a folder of the user's
    named = tmp_path / "named.conll"
    named.mkdir()
    missing = tmp_path / "not-read-yet.conll"  # refused before the input is read: the input is never missing
    for arguments, fragments in (
        ((mine, "--to", "conll", "--overwrite"), (f"OUTPUT {mine} is a folder",)),
        ((named, "--overwrite"), (f"OUTPUT {named} is a folder",)),
        ((note / "x.conll",), (f"{note} is a file, not a folder", "choose another OUTPUT")),
        ((note / "x", "--to", "hf"), (f"{note} is a file, not a folder", "choose another OUTPUT")),
        ((note, "--to", "hf"), (f"OUTPUT {note} exists", "--overwrite")),
        ((note, "--to", "hf", "--overwrite"), (f"OUTPUT {note} exists and is not a saved dataset",)),
        ((mine, "--to", "hf", "--overwrite"), (f"OUTPUT {mine} exists and is not a saved dataset",)),
        ((tmp_path, "--to", "hf", "--overwrite"), ("holds the input",)),
    ):
        for input_path in (source, missing):
            assert_user_error(invoke("convert", input_path, *arguments), *fragments)
    assert source.read_bytes() == before and note.read_text() == "my notes\n"
    assert [p.name for p in mine.iterdir()] == ["notes.txt"] and list(named.iterdir()) == []


def test_bad_input_convert_to_hf_replaces_only_a_saved_dataset(tmp_path):
    pytest.importorskip("datasets")
    source = write_conll(tmp_path / "in.conll")
    target = tmp_path / "deeper" / "dataset"
    assert invoke("convert", source, target, "--to", "hf").exit_code == 0
    assert_user_error(invoke("convert", source, target, "--to", "hf"), "exists", "--overwrite")
    result = invoke("convert", source, target, "--to", "hf", "--overwrite")
    assert result.exit_code == 0, result.output
    sentences, _ = read_corpus(target)
    assert len(sentences) == len(NER_SENTENCES)
    assert sorted(p.name for p in target.parent.iterdir()) == ["dataset"]  # nothing left beside it


def test_bad_input_raw_text_longer_than_spacys_max_length(tmp_path, tiny_model):
    sentence = "Angela Merkel visited Paris and Acme Corp on Monday . "
    text = sentence * (1_050_000 // len(sentence))  # one 1.05 MB line: over spaCy's nlp.max_length (1,000,000)
    inputs = tmp_path / "in"
    write(inputs, "huge.txt", text)
    write(inputs, "small.txt", "John lives in Berlin .\n")
    out = tmp_path / "out"
    result = invoke(
        "tag",
        tiny_model,
        inputs,
        "--out",
        out,
        "--device",
        "cpu",
        "--workers",
        "1",
        "--quiet",
        "--output-format",
        "jsonl",
    )
    assert result.exit_code == 0, result.output
    assert tagged_files(out) == {"huge.txt.jsonl", "small.txt.jsonl"} and not list(out.rglob("*.tmp"))
    records = [json.loads(line) for line in (out / "huge.txt.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sum(len(r["words"]) for r in records) == len(text.split())
    entities = [e for r in records for e in r["entities"]]
    assert entities and all(text[e["start"] : e["end"]] == e["text"] for e in entities)  # offsets into the whole file


def test_bad_input_long_text_is_cut_at_sentence_ends_or_whitespace(monkeypatch):
    from tagger import tokenize

    nlp = tokenize.load_tokenizer()
    text = "Ann met Bo. They left!  Then " + "x" * 30 + " end"
    whole = [[(t.text, t.start, t.end) for t in s] for s in next(tokenize.split_texts([text], nlp))]
    monkeypatch.setattr(tokenize, "PIECE_CHARS", 16)
    assert [piece for _, piece, _ in tokenize.cut_text(text, 16)][:3] == ["Ann met Bo. ", "They left!  ", "Then "]
    cut = [[(t.text, t.start, t.end) for t in s] for s in next(tokenize.split_texts([text], nlp))]

    def words(sentences):  # but the 30-character word, cut where a piece has no whitespace
        return [w for s in sentences for w in s if set(w[0]) != {"x"}]

    assert words(cut) == words(whole) and "".join(w for s in cut for w, _, _ in s if set(w) == {"x"}) == "x" * 30
    assert all(text[start:end] == word for s in cut for word, start, end in s)
    assert cut[:2] == whole[:2]  # cut at sentence ends, the sentences are spaCy's own
    a_b = [[tokenize.Token("a", 0, 1), tokenize.Token("b", 2, 3)]]
    assert list(tokenize.split_texts(["", "a b"], nlp)) == [[], a_b]  # an empty text has its (empty) result


def test_bad_input_ctrl_c_while_workers_tag_a_folder(tiny_model, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        pytest.skip("finds the worker processes through Linux's /proc/PID/task/PID/children")
    inputs = tmp_path / "in"
    for number in range(80):  # work for several seconds, so that the run is interrupted, not finished
        write(inputs, f"f{number}.conll", "\n\n".join("\n".join(words.split()) for words, _ in NER_SENTENCES * 40))
    command = [
        sys.executable,
        "-m",
        "tagger",
        "tag",
        str(tiny_model),
        str(inputs),
        "--out",
        str(tmp_path / "out"),
        "--device",
        "cpu",
        "--quiet",
        "--workers",
        "2",
    ]
    # A session of its own, so the SIGINT goes to its whole process group, as a terminal's Ctrl-C does.
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        # Ctrl-C as a terminal's foreground job gets it: a test run from a background shell (`bash .ci/run &`)
        # passes SIGINT on ignored, so Python never turned it into KeyboardInterrupt and the run finished (exit 0).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        workers: dict[str, str] = {}
        while process.poll() is None and len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            workers = {pid: line for pid, line in child_commands(process.pid).items() if "spawn_main" in line}
        time.sleep(0.3)  # the workers are importing torch (a second or more)
        for pid in workers:  # a SIGINT to the workers alone: ignored (it was a KeyboardInterrupt traceback each)
            os.kill(int(pid), signal.SIGINT)
        time.sleep(0.3)
        assert len(workers) == 2 and all(is_running(pid) for pid in workers), workers
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the parent stops, and stops the workers
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:  # a failed test leaves nothing running
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr.decode()
    assert stderr.decode().strip() == "interrupted"  # no traceback, no KeyboardInterrupt from any process
    for pid, line in workers.items():  # not left running
        while is_running(pid) and time.monotonic() < deadline + 10:
            time.sleep(0.05)
        assert not is_running(pid), line


def child_commands(pid: int) -> dict[str, str]:
    """The command line of each child process of ``pid`` (Linux /proc)."""
    commands: dict[str, str] = {}
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:  # it has ended
        return commands
    for child in children:
        try:
            commands[child] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except FileNotFoundError:
            continue  # ended meanwhile
    return commands


def is_running(pid: str) -> bool:
    """Whether the process exists and is not a zombie waiting to be reaped (by a container's init, maybe never)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_bad_input_keyboard_interrupt_in_a_worker_ends_it_quietly(tiny_model, tmp_path, monkeypatch):
    import signal

    from tagger.batch import run
    from tagger.batch.engine import BatchOptions, FileTask
    from tagger.batch.inputs import InputFile

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(run, "tag_files", interrupted)
    source = write(tmp_path, "a.conll", "John\n")
    task = FileTask(InputFile(source, Path("a.conll"), "conll"), tmp_path / "out" / "a.conll", "conll")
    messages: list = []
    before = signal.getsignal(signal.SIGINT)
    try:
        run.worker_main(
            tiny_model, [task], BatchOptions(device="cpu"), 1, type("Q", (), {"put": messages.append})(), os.getppid()
        )
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # a Ctrl-C is the parent's to handle
    finally:
        signal.signal(signal.SIGINT, before)
    assert messages == []  # no error report, no traceback: the parent stops the run


def test_bad_input_empty_or_undecodable_stdin_is_called_stdin(tiny_model):
    for output_format in ("conll", "html"):
        for content in ("", "  \n\n"):
            result = invoke("tag", tiny_model, "-", "--device", "cpu", "--output-format", output_format, input=content)
            assert_user_error(result, "stdin: nothing to tag (standard input is empty or only whitespace)")
            assert "tagger-stdin-" not in result.stderr and result.stdout == ""  # no half page before the error
    result = invoke("tag", tiny_model, "-", "--device", "cpu", input="Ann\n\nM\u00fcnchen\n".encode("latin-1"))
    assert_user_error(result, "stdin:3: bytes that are not utf-8", "--encoding")
    assert "tagger-stdin-" not in result.stderr


def test_bad_input_binary_files_are_called_binary(tmp_path, tiny_model):
    for name, content in (
        ("image.png", PNG),
        ("image.txt", PNG),
        ("nul.txt", b"abc\x00def\n"),
        ("random.conll", bytes(range(255, -1, -1)) * 4),
        ("packed.conll.gz", gzip_bytes(PNG)),
    ):
        path = write(tmp_path, name, content)
        result = invoke("tag", tiny_model, path, "--device", "cpu")
        assert_user_error(result, f"{path}: a binary file (it holds NUL bytes), not text")
        assert "latin-1" not in result.stderr
    result = invoke("tag", tiny_model, "-", "--device", "cpu", input=PNG)  # standard input is read as a stream
    assert_user_error(result, "stdin: a binary file (it holds NUL bytes), not text")
    assert "latin-1" not in result.stderr and result.stdout == ""
    path = write(tmp_path, "nul.conll", bytes(range(256)) * 4)  # its first line decodes: the NUL is named there
    assert_user_error(
        invoke("tag", tiny_model, path, "--device", "cpu"),
        f"{path}:1: control character U+0000",
        "a NUL byte, as binary files hold: check the path",
    )
    with pytest.raises(CorpusFormatError, match="a binary file"):
        read_corpus(tmp_path / "image.png", CorpusConfig(format="conll"))
    refused_at(
        write(tmp_path, "text.conll", "Ann B-PER\n\nM\u00fcnchen B-LOC\n".encode("latin-1")), 3, "`encoding=latin-1`"
    )  # text in another encoding is still told which setting to pass


def gzip_bytes(content: bytes) -> bytes:
    import gzip

    return gzip.compress(content)


def test_bad_input_docstart_only_when_there_is_more_than_one_document(tmp_path, tiny_model, tiny_pos_model):
    one = write(tmp_path, "one.txt", "John Smith lives in Paris. He likes it.\n")
    two = write(tmp_path, "two.txt", "John Smith lives in Paris.\n\nAnna likes German beer.\n")
    for model in (tiny_model, tiny_pos_model):
        single = invoke("tag", model, one, "--device", "cpu")
        assert single.exit_code == 0 and "-DOCSTART-" not in single.stdout, single.output
        assert len(single.stdout.strip().split("\n\n")) == 2  # two sentences, one document
        assert invoke("tag", model, two, "--device", "cpu").stdout.count("-DOCSTART-\tO\n\n") == 2
        both = invoke("tag", model, one, two, "--device", "cpu")
        assert both.stdout.count("-DOCSTART-") == 3 and both.stdout.startswith("-DOCSTART-\tO\n\nJohn\t")
    written = read_sentences(write(tmp_path, "out.conll", invoke("tag", tiny_model, two, "--device", "cpu").stdout))
    assert document_ids(list(written)) == [0, 1]  # what a later reader sees: the paragraphs as documents


def test_bad_input_help_shows_the_ray_extra_and_no_lock_file_stays(tmp_path, tiny_model):
    result = invoke("tag", "--help")
    text = " ".join(result.output.replace("\u2502", " ").split())  # the help is drawn in a box
    assert result.exit_code == 0 and "pip install 'bilstm-tagger[ray]'" in text
    from tagger.batch.manifest import LOCK_NAME, MANIFEST_NAME

    inputs = tmp_path / "in"
    write(inputs, "a.conll", "John\nSmith\n")
    out = tmp_path / "out"
    for _ in range(2):  # a run that tags, then one that finds everything done
        result = invoke("tag", tiny_model, inputs, "--out", out, "--device", "cpu", "--workers", "1", "--quiet")
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST_NAME, "a.conll"])
    assert not (out / LOCK_NAME).exists()


HYPHENATED = {"PER": "person-name", "LOC": "geo-loc", "MISC": "creative-work"}


def hyphenated(tags: str) -> list[str]:
    return [tag if tag == "O" else f"{tag[0]}-{HYPHENATED.get(tag[2:], tag[2:])}" for tag in tags.split()]


@pytest.fixture(scope="module")
def hyphenated_files(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A tiny corpus whose types hold hyphens, a model trained on it by `tagger train`, and a test file with
    words the model has not seen, so that its predictions have errors to score."""
    folder = tmp_path_factory.mktemp("hyphens")
    train = folder / "train.conll"
    train.write_text(
        "\n\n".join(
            "\n".join(f"{w} {t}" for w, t in zip(words.split(), hyphenated(tags))) for words, tags in NER_SENTENCES
        )
        + "\n",
        encoding="utf-8",
    )
    test = folder / "test.conll"
    test.write_text(
        "Zed B-person-name\nQuux I-person-name\nvisited O\nRome B-geo-loc\n\nGerman B-creative-work\n"
        "Acme B-ORG\nCorp I-ORG\nhired O\nBo B-person-name\n",
        encoding="utf-8",
    )
    model = folder / "model"
    settings = [
        "model.word_dim=16",
        "model.char_dim=8",
        "model.char_filters=8",
        "model.hidden=16",
        "model.embedding_dropout=0.0",
        "model.recurrent_dropout=0.0",
        "model.output_dropout=0.0",
        "train.patience=30",
        "train.lr=0.02",
        "train.lr_decay=0.0",
        "train.batch_size=4",
        "train.word_dropout=0.0",
    ]
    result = invoke(
        "train",
        "--train",
        train,
        "--dev",
        train,
        "--test",
        test,
        "--out",
        model,
        "--epochs",
        "30",
        "--device",
        "cpu",
        *[part for setting in settings for part in ("--set", setting)],
    )
    assert result.exit_code == 0, result.output
    return train, test, model


def test_bad_input_hyphenated_types_train_and_score_as_seqeval_does(hyphenated_files, tmp_path):
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    from tests.test_cli import load_conlleval

    train, test, model = hyphenated_files
    vocab = json.loads((model / "vocab.json").read_text())
    # trained in BIOES, the prefix split at the first hyphen
    assert {"S-creative-work", "B-person-name", "E-person-name", "S-geo-loc"} <= set(vocab["labels"])
    for data in (train, test):
        predictions = tmp_path / "pred.txt"
        result = invoke("evaluate", model, data, "--json", "--predictions", predictions)
        assert result.exit_code == 0, result.output
        scores = json.loads(result.stdout)
        blocks = [
            [line.split() for line in block.splitlines()]
            for block in predictions.read_text().split("\n\n")
            if block.strip()
        ]
        gold, pred = [[row[1] for row in block] for block in blocks], [[row[2] for row in block] for block in blocks]
        assert scores["conlleval"]["micro"]["f1"] == pytest.approx(f1_score(gold, pred))
        assert scores["strict"]["micro"]["f1"] == pytest.approx(f1_score(gold, pred, mode="strict", scheme=IOB2))
        independent = load_conlleval().evaluate_lines(predictions.read_text().splitlines())
        assert independent["f1"] == pytest.approx(100 * scores["conlleval"]["micro"]["f1"], abs=0.01)
        assert {"person-name", "geo-loc"} <= set(scores["conlleval"]["per_type"])
    assert scores["conlleval"]["micro"]["f1"] < 1.0  # the test file has unseen words: a real comparison


def test_bad_input_hyphenated_types_round_trip_through_every_writer(hyphenated_files, tmp_path):
    train, _, model = hyphenated_files
    gold, _ = read_corpus(train)
    expected = [s.tags for s in gold]
    assert "B-creative-work" in expected[2]
    conversions = {
        "x.conll": (),
        "x.conllu": (),
        "x.jsonl": (),
        "x.spacy": (),
        "iob1.conll": ("--scheme", "IOB1"),
        "iob2.conll": ("--scheme", "IOB2"),
        "bioes.conll": ("--scheme", "BIOES"),
    }
    for name, options in conversions.items():
        result = invoke("convert", train, tmp_path / name, *options)
        assert result.exit_code == 0, result.output
        sentences, _ = read_corpus(tmp_path / name)
        assert [s.tags for s in sentences] == expected, name
    assert "S-creative-work" in (tmp_path / "bioes.conll").read_text()
    assert "I-geo-loc" in (tmp_path / "iob1.conll").read_text().split("\n")[4]  # IOB1: an entity starts with I-
    predicted = {}
    for output_format, suffix in (("conll", "conll"), ("conllu", "conllu"), ("jsonl", "jsonl"), ("spacy", "spacy")):
        out = tmp_path / f"tagged.{suffix}"
        result = invoke(
            "tag",
            model,
            train,
            "-o",
            out,
            "--output-format",
            output_format,
            "--conllu-field",
            "xpos",
            "--device",
            "cpu",
        )
        assert result.exit_code == 0, result.output
        if output_format == "jsonl":
            predicted[output_format] = [json.loads(line)["tags"] for line in out.read_text().splitlines()]
        else:
            config = CorpusConfig(tag_field="xpos") if output_format == "conllu" else CorpusConfig()
            predicted[output_format] = [s.tags for s in read_corpus(out, config)[0]]
    assert all(tags == expected for tags in predicted.values()), predicted  # the model learned its training set
