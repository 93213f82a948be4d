"""Invisible characters in corpora (U+FEFF, U+200B-U+200F, U+2060), as public corpora carry them: a line of them is
blank, one starting a word or a line is dropped, a word of nothing else is skipped with its tag, each counted with
its first path:line in read_corpus's report, `tagger data` and the training log; a real column error is still
refused in one line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tagger.cli import app
from tagger.corpus import Sentence, read_corpus, read_sentences, write_conll, write_conllu, write_jsonl
from tagger.corpus.lines import INVISIBLE_LINE, INVISIBLE_START, INVISIBLE_WORD, WHITESPACE_ONLY_LINE
from tagger.errors import CorpusFormatError
from tagger.tokenize import load_tokenizer, split_texts
from tests.conftest import NER_SENTENCES
from tests.test_cli import assert_user_error, invoke, runner

ZWSP, BOM = "\u200b", "\ufeff"
TINY = ["model.word_dim=8", "model.char_dim=4", "model.char_filters=4", "model.hidden=8", "train.device=cpu"]


def write(folder: Path, name: str, lines: list[str]) -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def conllu_row(token_id: str, form: str, upos: str = "NOUN") -> str:
    return "\t".join([token_id, form, "_", upos, "_", "_", "_", "_", "_", "_"])


def jsonl_row(words: list[str], tags: list[str]) -> str:
    return json.dumps({"words": words, "tags": tags}, ensure_ascii=False)


def one_line_error(path: Path) -> str:
    with pytest.raises(CorpusFormatError) as caught:
        read_corpus(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- a line of invisible characters is blank -----------------------------------------------------


@pytest.mark.parametrize("line", [BOM, f" {ZWSP}\t ", "\u200e\u2060\u200f", f"{ZWSP} \u00a0 {BOM}"])
def test_a_line_of_invisible_characters_mid_file_is_a_blank_line_in_each_format(tmp_path, line):
    files = {
        "a.conll": ["John\tB-PER", "Smith\tI-PER", line, "Paris\tB-LOC"],
        "a.conllu": [conllu_row("1", "John"), conllu_row("2", "Smith"), line, conllu_row("1", "Paris")],
        "a.jsonl": [jsonl_row(["John", "Smith"], ["B-PER", "I-PER"]), line, jsonl_row(["Paris"], ["B-LOC"])],
    }
    for name, lines in files.items():
        path = write(tmp_path, name, lines)
        sentences, report = read_corpus(path)
        assert [s.words for s in sentences] == [["John", "Smith"], ["Paris"]], name
        assert report.repaired_lines == {INVISIBLE_LINE: 1}, name
        assert report.first_repaired == {INVISIBLE_LINE: f"{path}:{lines.index(line) + 1}"}, name


def test_whitespace_only_and_invisible_lines_are_counted_apart(tmp_path):
    path = write(tmp_path, "both.conll", ["a O", " ", "b O", BOM, "c O", BOM, "d O"])
    sentences, report = read_corpus(path)
    assert [s.words for s in sentences] == [["a"], ["b"], ["c"], ["d"]]
    assert report.repaired_lines == {WHITESPACE_ONLY_LINE: 1, INVISIBLE_LINE: 2}
    assert report.first_repaired == {WHITESPACE_ONLY_LINE: f"{path}:2", INVISIBLE_LINE: f"{path}:4"}


# --- an invisible character starting a word or a line is dropped --------------------------------


def test_a_word_starting_with_u_feff_or_u_200b_loses_it_in_each_format(tmp_path):
    files = {
        "start.conll": ["John B-PER", f"{BOM}Smith I-PER", f"{ZWSP}{ZWSP}lives O"],
        "start.conllu": [conllu_row("1", "John"), conllu_row("2", f"{BOM}Smith"), conllu_row("3", f"{ZWSP}lives")],
        "start.jsonl": [jsonl_row(["John", f"{BOM}Smith", f"{ZWSP}lives"], ["B-PER", "I-PER", "O"])],
    }
    for name, lines in files.items():
        path = write(tmp_path, name, lines)
        sentences, report = read_corpus(path)
        assert sentences[0].words == ["John", "Smith", "lives"], name
        assert report.repaired_lines == {INVISIBLE_START: 2}, name
        line = 1 if name.endswith(".jsonl") else 2
        assert report.first_repaired == {INVISIBLE_START: f"{path}:{line}"}, name


def test_an_invisible_character_starting_a_line_is_dropped_where_it_is_no_word(tmp_path):
    # A file concatenated from files with byte-order marks: one starts each part, before a CoNLL-U id, a JSON
    # object or a -DOCSTART- line.
    conllu = write(tmp_path, "cat.conllu", [conllu_row("1", "a"), "", f"{BOM}{conllu_row('1', 'b')}"])
    assert [s.words for s in read_corpus(conllu)[0]] == [["a"], ["b"]]
    jsonl = write(tmp_path, "cat.jsonl", [jsonl_row(["a"], ["O"]), BOM + jsonl_row(["b"], ["O"])])
    assert [s.words for s in read_corpus(jsonl)[0]] == [["a"], ["b"]]
    conll = write(tmp_path, "cat.conll", ["-DOCSTART- O", "", "a O", "", f"{BOM}-DOCSTART- O", "", "b O"])
    sentences, report = read_corpus(conll)
    assert [s.words for s in sentences] == [["a"], ["b"]] and report.documents == 2
    for path in (conllu, jsonl, conll):
        assert read_corpus(path)[1].repaired_lines == {INVISIBLE_START: 1}, path


# --- a word of nothing else is skipped with its tag ----------------------------------------------


@pytest.mark.parametrize("separator", ["\t", " "])
def test_a_conll_row_whose_word_is_only_u_200b_is_skipped_with_its_tag(tmp_path, separator):
    rows = ["John", "B-PER"], [ZWSP, "O"], ["Smith", "I-PER"], [f"{ZWSP}\u2060", "O"], ["lives", "O"]
    path = write(tmp_path, "skip.conll", [separator.join(row) for row in rows])
    sentences, report = read_corpus(path)
    assert [(s.words, s.tags) for s in sentences] == [(["John", "Smith", "lives"], ["B-PER", "I-PER", "O"])]
    assert report.repaired_lines == {INVISIBLE_WORD: 2} and report.first_repaired == {INVISIBLE_WORD: f"{path}:2"}


def test_a_skipped_row_at_a_sentence_start_moves_the_sentence_start(tmp_path):
    path = write(tmp_path, "first.conll", ["a O", "", f"{ZWSP} O", "b O"])
    assert [(s.words, s.line) for s in read_corpus(path)[0]] == [(["a"], 1), (["b"], 4)]
    only = write(tmp_path, "only.conll", ["a O", "", f"{ZWSP} O", f"{BOM} O", "", "b O"])
    sentences, report = read_corpus(only)  # a sentence of nothing else has no words left: skipped as empty
    assert [s.words for s in sentences] == [["a"], ["b"]] and report.repaired_lines == {INVISIBLE_WORD: 2}


def test_a_word_after_a_skipped_row_is_named_at_its_own_line(tmp_path):
    path = write(tmp_path, "late.conll", ["John B-PER", f"{ZWSP} O", f"{ZWSP} O", "Smith PER"])
    message = one_line_error(path)
    assert message.startswith(f"{path}:4: word 'Smith'"), message
    conllu = write(tmp_path, "late.conllu", [conllu_row("1", "a"), conllu_row("2", ZWSP), conllu_row("3", "b", "_")])
    message = one_line_error(conllu)
    assert message.startswith(f"{conllu}:3: missing UPOS '_' for word 'b'"), message


def test_a_conllu_word_of_only_invisible_characters_is_skipped_and_the_ids_stay_consistent(tmp_path):
    rows = [
        "# text = a b c",
        conllu_row("1", "a"),
        conllu_row("2-3", "bc", "_"),
        conllu_row("2", ZWSP, "PUNCT"),  # inside a multiword range: the range still covers ids 2-3
        conllu_row("3", "c"),
        conllu_row("3.1", "e", "_"),  # an empty node after word 3, as the file numbers it
        conllu_row("4", f"{BOM}d"),
    ]
    path = write(tmp_path, "ids.conllu", rows)
    sentences, report = read_corpus(path)
    assert [(s.words, s.tags) for s in sentences] == [(["a", "c", "d"], ["NOUN", "NOUN", "NOUN"])]
    assert report.repaired_lines == {INVISIBLE_WORD: 1, INVISIBLE_START: 1}
    assert report.first_repaired == {INVISIBLE_WORD: f"{path}:4", INVISIBLE_START: f"{path}:7"}
    out = tmp_path / "out.conllu"
    with out.open("w", encoding="utf-8") as stream:
        write_conllu(sentences, stream)  # numbered afresh: 1, 2, 3
    assert [line.split("\t")[:2] for line in out.read_text().splitlines() if line[:1].isdigit()] == [
        ["1", "a"],
        ["2", "c"],
        ["3", "d"],
    ]
    # The ids are checked as the file writes them: a word left out does not excuse a gap after it.
    gap = write(tmp_path, "gap.conllu", [conllu_row("1", "a"), conllu_row("2", ZWSP), conllu_row("4", "b")])
    assert "id '4'; expected id 3" in one_line_error(gap)


def test_a_jsonl_word_of_only_invisible_characters_leaves_words_and_tags_together(tmp_path):
    words = ["John", ZWSP, "Smith", f"{BOM}{ZWSP}", "lives"]
    path = write(tmp_path, "lists.jsonl", [jsonl_row(words, ["B-PER", "_", "I-PER", "O", "O"])])
    sentences, report = read_corpus(path)
    assert [(s.words, s.tags) for s in sentences] == [(["John", "Smith", "lives"], ["B-PER", "I-PER", "O"])]
    assert report.repaired_lines == {INVISIBLE_WORD: 2} and report.first_repaired == {INVISIBLE_WORD: f"{path}:1"}
    mismatch = write(tmp_path, "short.jsonl", [jsonl_row(["a", ZWSP], ["O"])])
    assert "2 words but 1 tags" in one_line_error(mismatch)  # the lists are checked as written, first


# --- refused as before -----------------------------------------------------------------------------


def test_a_real_column_error_is_still_refused_in_one_line(tmp_path):
    path = write(tmp_path, "cols.conll", ["John\tB-PER", BOM, "Smith\tI-PER", "Paris", "London\tB-LOC"])
    message = one_line_error(path)
    assert message.startswith(f"{path}:4: 1 columns in 'Paris'; expected 2 columns as on line 1"), message
    glued = write(tmp_path, "glued.conll", ["John B-PER", f"{BOM}Paris"])
    assert one_line_error(glued).startswith(f"{glued}:2: 1 columns in 'Paris'")
    result = invoke("data", path)
    assert_user_error(result, f"{path}:4: 1 columns in 'Paris'")


# --- tagging keeps every row as written, so that each gets its prediction ----------------------------


def test_read_for_tagging_the_words_stay_as_written(tmp_path):
    # But for what starts a line, and lines of nothing else (blank), which the output's lines follow as well
    conll = write(tmp_path, "raw.conll", ["John O", f"{ZWSP} O", f"{ZWSP}Smith O", BOM, "Paris O"])
    assert [s.words for s in read_sentences(conll, tags_required=False)] == [["John", ZWSP, "Smith"], ["Paris"]]
    conllu = write(tmp_path, "raw.conllu", [conllu_row("1", "a", "_"), conllu_row("2", ZWSP, "_")])
    assert [s.words for s in read_sentences(conllu, tags_required=False)] == [["a", ZWSP]]
    jsonl = write(tmp_path, "raw.jsonl", [json.dumps({"words": ["a", ZWSP, f"{BOM}b"]})])
    assert [s.words for s in read_sentences(jsonl, tags_required=False)] == [["a", ZWSP, f"{BOM}b"]]


def test_writers_refuse_a_word_that_would_read_back_without_its_first_character():
    for writer, fmt in ((write_conll, "CoNLL columns"), (write_conllu, "CoNLL-U"), (write_jsonl, "JSONL")):
        for word in (f"{ZWSP}a", ZWSP, "\u200fa"):
            with pytest.raises(CorpusFormatError) as caught:
                writer([Sentence(["x", word], ["O", "O"], "in.conll", 3)], io.StringIO())
            message = str(caught.value)
            assert message.startswith("in.conll:3: cannot write word") and "an invisible character" in message, fmt


def test_raw_text_never_makes_a_word_of_invisible_characters():
    texts = [f"Hello {ZWSP} world .", f"{BOM}Paris is {ZWSP}{ZWSP} nice \u2060 .", f"A {ZWSP}B", ZWSP]
    found = list(split_texts(texts, load_tokenizer()))
    assert [[[token.text for token in sentence] for sentence in text] for text in found] == [
        [["Hello", "world", "."]],
        [["Paris", "is", "nice", "."]],
        [["A", "B"]],
        [],
    ]
    b = found[2][0][1]
    assert texts[2][b.start : b.end] == "B"  # offsets still point at the word in the text


# --- counted in tagger data and in the training log; trains and evaluates ----------------------------


def invisible_corpus(path: Path, sentences=NER_SENTENCES) -> Path:
    """The tiny NER corpus, tab-separated, with what the emerging-entities corpus holds: a line of only U+FEFF
    between two sentences, and a zero-width-space token (tagged O) inside a sentence."""
    lines: list[str] = []
    for number, (words, tags) in enumerate(sentences):
        rows = [f"{w}\t{t}" for w, t in zip(words.split(), tags.split())]
        if number == 1:
            rows.insert(2, f"{ZWSP}\tO")
        lines += [*rows, BOM if number == 2 else ""]
    return write(path.parent, path.name, lines)


def test_data_json_counts_both_with_their_first_place(tmp_path):
    train = invisible_corpus(tmp_path / "train.conll")
    dev = invisible_corpus(tmp_path / "dev.conll", NER_SENTENCES[:4])
    result = invoke("data", "--train", train, "--dev", dev, "--json")
    assert result.exit_code == 0, result.output
    splits = {split["name"]: split for split in json.loads(result.stdout)["splits"]}
    blank_line = sum(len(words.split()) + 1 for words, _ in NER_SENTENCES[:3]) + 1  # +1 for the token
    expected = [
        {"kind": INVISIBLE_LINE, "count": 1, "path": str(dev), "line": blank_line},
        {"kind": INVISIBLE_WORD, "count": 1, "path": str(dev), "line": len(NER_SENTENCES[0][0].split()) + 4},
    ]
    assert splits["dev"]["repaired_lines"] == expected
    assert splits["train"]["repaired_lines"][0]["path"] == str(train)
    assert splits["dev"]["sentences"] == 4 and splits["dev"]["words"] == sum(
        len(words.split()) for words, _ in NER_SENTENCES[:4]
    )
    tables = runner.invoke(app, ["data", "--dev", str(dev)], env={"COLUMNS": "300"})  # wide: no cell wraps
    assert tables.exit_code == 0, tables.output
    rows = [" ".join(line.strip("│ ").split()) for line in tables.stdout.splitlines()]
    assert f"dev │ {INVISIBLE_WORD} │ 1 │ {dev}:{expected[1]['line']}" in rows


def test_a_file_with_invisible_characters_trains_evaluates_and_tags_through_the_cli(tmp_path):
    train = invisible_corpus(tmp_path / "train.conll")
    dev = invisible_corpus(tmp_path / "dev.conll", NER_SENTENCES[:4])
    out = tmp_path / "model"
    settings = [part for setting in TINY for part in ("--set", setting)]
    result = invoke("train", "--train", train, "--dev", dev, "--out", out, "--epochs", "2", *settings)
    assert result.exit_code == 0, result.output
    log = " ".join((result.stdout + result.stderr).split())
    for path in (train, dev):
        zwsp_line = len(NER_SENTENCES[0][0].split()) + 4
        assert f"{INVISIBLE_LINE}: 1 (first {path}:" in log and f"{INVISIBLE_WORD}: 1 (first {path}:{zwsp_line})" in log

    evaluated = invoke("evaluate", out, dev, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    words = sum(len(words.split()) for words, _ in NER_SENTENCES[:4])
    assert json.loads(evaluated.stdout)["words"] == words

    # Tagged, the file comes back line for line: the U+FEFF line as a blank line, the token with its prediction.
    tagged = invoke("tag", out, dev, "--workers", "1", "--quiet")
    assert tagged.exit_code == 0, tagged.output
    lines = tagged.stdout.splitlines()
    assert lines[len(NER_SENTENCES[0][0].split()) + 3].startswith(f"{ZWSP}\tO\t")
    assert len(lines) == len(dev.read_text(encoding="utf-8").splitlines())
