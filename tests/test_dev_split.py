"""Training without a dev set: 10% of the training data held out as dev, whole documents where the file marks them,
fixed by the data (not the training seed), said in one line and recorded in metrics.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tagger.config import load_config
from tagger.corpus import document_ids, read_corpus
from tagger.errors import CorpusFormatError
from tagger.training.data import HELD_OUT_SEED, DataSource, hold_out_dev, read_data
from tests.conftest import NER_SENTENCES
from tests.test_cli import assert_user_error, invoke

TINY = ["model.word_dim=8", "model.char_dim=4", "model.char_filters=4", "model.hidden=8", "train.device=cpu"]
SETTINGS = [part for setting in TINY for part in ("--set", setting)]


def sentence_lines(number: int) -> list[str]:
    words, tags = NER_SENTENCES[number % len(NER_SENTENCES)]
    # A word of its own makes each sentence distinct, as sentences of a real corpus mostly are.
    return [f"{w} {t}" for w, t in zip([*words.split(), f"n{number}"], [*tags.split(), "O"])]


def write_documents(path: Path, documents: int, per_document: int = 3) -> Path:
    lines = []
    for document in range(documents):
        lines += ["-DOCSTART- -X- O O", ""]
        for number in range(document * per_document, (document + 1) * per_document):
            lines += [*sentence_lines(number), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_sentences(path: Path, sentences: int) -> Path:
    path.write_text("\n\n".join("\n".join(sentence_lines(n)) for n in range(sentences)) + "\n", encoding="utf-8")
    return path


def test_a_tenth_of_the_documents_is_held_out_whole(tmp_path):
    sentences, report = read_corpus(write_documents(tmp_path / "docs.conll", 20))
    (train, train_report), (dev, dev_report) = hold_out_dev(sentences, report)
    split = dev_report.held_out
    assert (split["unit"], split["units"], len(split["indices"])) == ("document", 20, 2)
    assert (split["share"], split["seed"]) == (0.1, HELD_OUT_SEED)
    assert train_report is report and dev_report.path == report.path and dev_report.documents == 2
    # Documents are not cut: every sentence of a held-out document is in dev, in file order, and only those.
    documents = document_ids(sentences)
    held = [sentence for sentence, document in zip(sentences, documents) if document in split["indices"]]
    assert dev == held and len(dev) == 6 and train == [s for s in sentences if s not in held]
    assert all(dev[i].metadata == {"docstart": "1"} for i in (0, 3))  # each still opens its document


def test_without_documents_a_tenth_of_the_sentences_is_held_out(tmp_path):
    sentences, report = read_corpus(write_sentences(tmp_path / "plain.conll", 30))
    (train, _), (dev, dev_report) = hold_out_dev(sentences, report)
    split = dev_report.held_out
    assert (split["unit"], split["units"], len(dev), len(train)) == ("sentence", 30, 3, 27)
    assert dev == [sentences[i] for i in split["indices"]] and split["indices"] == sorted(split["indices"])
    # One document in the file is no documents to split between: by sentence, as here.
    one = write_sentences(tmp_path / "one_doc.conll", 30)
    one.write_text("-DOCSTART- -X- O O\n\n" + one.read_text(encoding="utf-8"), encoding="utf-8")
    assert hold_out_dev(*read_corpus(one))[1][1].held_out["unit"] == "sentence"


def test_the_split_is_fixed_by_the_data_not_by_the_order_of_calls_or_the_seed(tmp_path):
    path = write_sentences(tmp_path / "plain.conll", 50)
    first = hold_out_dev(*read_corpus(path))[1][1].held_out
    assert hold_out_dev(*read_corpus(path))[1][1].held_out == first
    # A sentence added at the end keeps what was held out before (a unit's rank is its own content's hash).
    grown = write_sentences(tmp_path / "grown.conll", 51)
    assert set(first["indices"]) <= set(hold_out_dev(*read_corpus(grown))[1][1].held_out["indices"]) | {50}


def test_a_document_holding_a_label_the_rest_lacks_stays_in_training(tmp_path):
    sentences, report = read_corpus(write_sentences(tmp_path / "plain.conll", 40))
    (train, _), (dev, dev_report) = hold_out_dev(sentences, report)
    chosen = dev_report.held_out["indices"][0]
    lines = (tmp_path / "plain.conll").read_text(encoding="utf-8").split("\n\n")
    lines[chosen] = lines[chosen].replace(" O\n", " B-RARE\n", 1)  # the only entity of its type
    rare = tmp_path / "rare.conll"
    rare.write_text("\n\n".join(lines), encoding="utf-8")
    (train, _), (dev, dev_report) = hold_out_dev(*read_corpus(rare))
    assert chosen not in dev_report.held_out["indices"] and len(dev) == 4
    assert any("B-RARE" in s.tags for s in train) and not any("B-RARE" in s.tags for s in dev)
    # Where every sentence holds a label no other has, none can go: refused in one line.
    unique = tmp_path / "unique.conll"
    unique.write_text("a B-X\n\nb B-Y\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError) as caught:
        hold_out_dev(*read_corpus(unique))
    assert "no sentence whose labels the rest of the file also has" in str(caught.value)


def test_training_without_dev_holds_out_documents_says_so_and_records_the_split(tmp_path):
    train = write_documents(tmp_path / "train.conll", 20)
    out = tmp_path / "model"
    args = ["train", "--train", train, "--out", out, "--epochs", "1", "--seeds", "2", *SETTINGS]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    printed = " ".join((result.stdout + result.stderr).split())
    assert f"no dev set given: 2 of the 20 documents of {train} held out as dev (6 sentences, " in printed
    assert "the same for every --seed" in printed
    # Both seeds trained and scored on the same split: fixed by the data, not by train.seed.
    data = [json.loads((out / "seeds" / f"seed-{seed}" / "metrics.json").read_text())["data"] for seed in (1, 2)]
    assert data[0] == data[1]
    trained, held = data[0]
    assert held["held_out"]["unit"] == "document" and len(held["held_out"]["indices"]) == 2
    assert (trained["path"], held["path"]) == (str(train), str(train))
    assert (trained["sentences"], held["sentences"]) == (54, 6)
    assert trained["sha256"] != held["sha256"]


def test_resume_without_dev_finds_the_same_data(tmp_path):
    train = write_sentences(tmp_path / "train.conll", 20)
    out = tmp_path / "model"
    assert invoke("train", "--train", train, "--out", out, "--epochs", "1", *SETTINGS).exit_code == 0
    result = invoke("train", "--train", train, "--out", out, "--epochs", "2", "--resume", *SETTINGS)
    assert result.exit_code == 0, result.output
    assert "resumed from the checkpoint of epoch 1" in " ".join((result.stdout + result.stderr).split())
    assert json.loads((out / "metrics.json").read_text())["epochs_run"] == 2
    # Named by another path (the project moved), the same file is the same data: the split records no path.
    moved = tmp_path / "moved.conll"
    train.rename(moved)
    result = invoke("train", "--train", moved, "--out", out, "--epochs", "3", "--resume", *SETTINGS)
    assert result.exit_code == 0, result.output


def test_a_corpus_too_small_to_split_is_refused_in_one_line(tmp_path):
    one = write_sentences(tmp_path / "one.conll", 1)
    assert_user_error(
        invoke("train", "--train", one, "--out", tmp_path / "m", *SETTINGS),
        f"error: {one}: 1 sentence and no dev set; expected at least 2 sentences",
        "pass --dev",
    )


def test_a_dataset_without_a_validation_split_is_split_the_same_way(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    rows = {
        "tokens": [[*s.split(), f"n{n}"] for n, (s, _) in enumerate(NER_SENTENCES * 3)],
        "ner_tags": [[*t.split(), "O"] for _, t in NER_SENTENCES * 3],
    }
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows)}).save_to_disk(str(tmp_path / "only-train"))
    data = read_data(load_config(None, TINY), DataSource(dataset=str(tmp_path / "only-train")))
    split = data.reports[1].held_out
    assert (split["unit"], split["units"], len(data.dev), len(data.train)) == ("sentence", 24, 2, 22)
    assert data.fingerprints[1]["held_out"] == split
