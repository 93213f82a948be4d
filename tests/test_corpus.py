"""Tests for tagger.corpus: every format, the edge cases of BAD_INPUTS.md, writers, load_corpus."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tagger.config import CorpusConfig
from tagger.corpus import (
    Sentence,
    detect_format,
    load_corpus,
    read_corpus,
    read_sentences,
    write_conll,
    write_conllu,
    write_jsonl,
)
from tagger.errors import ConfigError, CorpusFormatError

FIXTURES = Path(__file__).parent / "fixtures"
CONLL03 = FIXTURES / "conll2003_style.conll"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def read_error(path: Path, config: CorpusConfig = CorpusConfig(), **kwargs) -> CorpusFormatError:
    with pytest.raises(CorpusFormatError) as info:
        read_corpus(path, config, **kwargs)
    return info.value


def assert_at(error: CorpusFormatError, path: Path, line_no: int) -> None:
    assert error.line_no == line_no
    assert f"{path}:{line_no}:" in str(error)


# --- CoNLL columns ---------------------------------------------------------------------------


def test_conll2003_style_ner_column_is_iob1_converted_to_iob2():
    sentences, report = read_corpus(CONLL03)
    assert [s.words[:2] for s in sentences] == [["Zorvath", "Mining"], ["Keld", "Amsel"], ["Ostvik", "1999-03-04"]]
    assert sentences[0].tags == ["B-ORG", "I-ORG", "O", "B-PER", "I-PER", "O"]
    assert sentences[1].tags == ["B-PER", "I-PER", "B-PER", "I-PER", "O", "O", "B-LOC", "O"]
    assert sentences[2].tags == ["B-LOC", "O"]
    assert (report.format, report.scheme, report.repaired) == ("conll", "IOB1", 0)
    assert (report.sentences, report.words, report.documents, report.skipped_empty) == (3, 16, 2, 0)
    assert [s.line for s in sentences] == [3, 10, 21]
    assert [s.metadata for s in sentences] == [{"docstart": "1"}, {}, {"docstart": "1"}]


def test_conll2003_style_pos_column_is_left_untouched():
    sentences, report = read_corpus(CONLL03, CorpusConfig(tag_column=1))
    assert report.scheme == "none"
    assert sentences[0].tags == ["NNP", "NNP", "VBZ", "NNP", "NNP", "."]


def test_conll2003_style_chunk_column_is_iob1_converted_to_iob2():
    sentences, report = read_corpus(CONLL03, CorpusConfig(tag_column=2))
    assert report.scheme == "IOB1"
    assert sentences[0].tags == ["B-NP", "I-NP", "B-VP", "B-NP", "I-NP", "O"]
    assert sentences[1].tags == ["B-NP", "I-NP", "B-NP", "I-NP", "B-VP", "B-PP", "B-NP", "O"]


def test_read_sentences_streams_raw_tags():
    sentences = read_sentences(CONLL03)
    assert not isinstance(sentences, list)
    first = next(sentences)
    assert first.tags == ["I-ORG", "I-ORG", "O", "I-PER", "I-PER", "O"]
    assert first.path == str(CONLL03)


@pytest.mark.parametrize(
    "docstart", ["-DOCSTART- -X- O O", "-DOCSTART- -X- -X- O", "-DOCSTART-\t-X-\tO\tO", "-DOCSTART-", "-DOCSTART- O"]
)
def test_docstart_variants_mark_documents_and_are_never_words(tmp_path, docstart):
    body = "a X Y O\nb X Y B-PER\n"
    path = write(tmp_path, "d.conll", f"{docstart}\n\n{body}\n{docstart}\n{body}{docstart}\n{body}")
    sentences, report = read_corpus(path)
    assert [s.words for s in sentences] == [["a", "b"]] * 3
    assert all(s.metadata == {"docstart": "1"} for s in sentences)
    assert report.documents == 3


def test_tab_separated_words_keep_their_spaces():
    sentences = list(read_sentences(FIXTURES / "tabs_with_spaces.conll"))
    assert sentences[0].words == ["New York", "is", "big"]
    path = str(FIXTURES / "tabs_with_spaces.conll")
    assert sentences[1] == Sentence(["São Paulo FC", "won"], ["B-ORG", "O"], path, 5)


def test_non_breaking_and_ideographic_spaces_stay_inside_words(tmp_path):
    path = write(tmp_path, "nbsp.conll", "10\u00a0000 O\nTokyo\u3000Tower B-LOC\n")
    [sentence] = read_sentences(path)
    assert sentence.words == ["10\u00a0000", "Tokyo\u3000Tower"]


def test_gzipped_files_read_transparently(tmp_path):
    packed = tmp_path / "corpus.conll.gz"
    packed.write_bytes(gzip.compress(CONLL03.read_bytes()))
    assert detect_format(packed) == "conll"
    assert list(read_sentences(packed)) == [
        Sentence(s.words, s.tags, str(packed), s.line, s.metadata) for s in read_sentences(CONLL03)
    ]


def test_trailing_whitespace_several_blank_lines_and_no_final_newline_are_fine(tmp_path):
    path = write(tmp_path, "t.conll", "\n\na O  \nb B-PER\t\n\n\n\nc O\nd O")
    assert [s.words for s in read_sentences(path)] == [["a", "b"], ["c", "d"]]


def test_words_only_file_reads_without_tags_when_tags_not_required(tmp_path):
    path = write(tmp_path, "raw.conll", "Hello\nworld\n\nBye\n")
    sentences = list(read_sentences(path, tags_required=False))
    assert [(s.words, s.tags) for s in sentences] == [(["Hello", "world"], []), (["Bye"], [])]
    assert read_corpus(path, tags_required=False)[1].scheme == "none"


def test_missing_tags_accepted_when_tagging(tmp_path):
    path = write(tmp_path, "u.conll", "a\t_\nb\t\n")
    assert next(read_sentences(path, tags_required=False)).words == ["a", "b"]


def test_invalid_iob2_sequences_are_repaired_and_counted(tmp_path):
    path = write(tmp_path, "r.conll", "a B-PER\nb I-LOC\nc O\nd I-ORG\n")
    sentences, report = read_corpus(path, CorpusConfig(scheme="IOB2"))
    assert sentences[0].tags == ["B-PER", "B-LOC", "O", "B-ORG"]
    assert (report.scheme, report.repaired) == ("IOB2", 2)


def test_bioes_is_detected_and_converted_to_iob2(tmp_path):
    path = write(tmp_path, "b.conll", "a B-PER\nb E-PER\nc O\nd S-LOC\n")
    sentences, report = read_corpus(path)
    assert sentences[0].tags == ["B-PER", "I-PER", "O", "B-LOC"]
    assert report.scheme == "BIOES"


def test_all_o_data_is_fine(tmp_path):
    sentences, report = read_corpus(write(tmp_path, "o.conll", "a O\nb O\n"))
    assert sentences[0].tags == ["O", "O"] and report.scheme == "IOB2"


# --- CoNLL-U ---------------------------------------------------------------------------------


def test_conllu_skips_ranges_and_empty_nodes_keeps_comments():
    sentences, report = read_corpus(FIXTURES / "sample.conllu")
    assert sentences[0].words == ["Do", "n't", "panic", "at", "3 p.m."]
    assert sentences[0].tags == ["AUX", "PART", "VERB", "ADP", "NOUN"]
    assert sentences[0].metadata == {"newdoc id": "doc-1", "sent_id": "s1", "text": "Don't panic at 3 p.m."}
    assert sentences[0].line == 5
    assert sentences[1].words == ["Sue", "left", "."]
    assert (report.format, report.scheme, report.documents) == ("conllu", "none", 1)


def test_conllu_xpos_field():
    sentences, _ = read_corpus(FIXTURES / "sample.conllu", CorpusConfig(tag_field="xpos"))
    assert sentences[1].tags == ["NNP", "VBD", "."]


def test_conllu_zero_word_sentence_is_skipped_and_counted(tmp_path):
    path = write(tmp_path, "e.conllu", "# sent_id = empty\n\n# sent_id = x\n1\ta\t_\tX\t_\t_\t_\t_\t_\t_\n")
    sentences, report = read_corpus(path)
    assert [s.metadata["sent_id"] for s in sentences] == ["x"]
    assert report.skipped_empty == 1


# --- JSONL -----------------------------------------------------------------------------------


def test_jsonl_accepts_tokens_alias_and_keeps_scalar_fields():
    sentences, report = read_corpus(FIXTURES / "sample.jsonl")
    assert sentences[0].words == ["Ada", "Quell", "lives", "in", "Ostvik", "."]
    assert sentences[0].metadata == {"id": "a1"}
    assert (sentences[1].words, sentences[1].line) == (["Hello", "there"], 3)
    assert (report.format, report.scheme, report.sentences) == ("jsonl", "IOB2", 2)


def test_jsonl_empty_sentence_is_skipped_and_counted(tmp_path):
    path = write(tmp_path, "e.jsonl", '{"words": [], "tags": []}\n{"words": ["a"], "tags": ["O"]}\n')
    assert read_corpus(path)[1].skipped_empty == 1


# --- format detection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("a.conll", "", "conll"),
        ("a.conllu", "", "conllu"),
        ("a.jsonl", "", "jsonl"),
        ("a.json", "", "jsonl"),
        ("a.conllu.gz", None, "conllu"),
        ("eng.train", "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\n", "conll"),
        ("eng.testa", "EU NNP I-NP I-ORG\nrejects VBZ I-VP O\n", "conll"),
        ("data", "# sent_id = 1\n1\ta\t_\tX\t_\t_\t_\t_\t_\t_\n", "conllu"),
        ("data", '{"words": ["a"], "tags": ["O"]}\n', "jsonl"),
        ("notes.txt", "It was a bright cold day in April, and the clocks were striking thirteen.\n", "text"),
        ("train.txt", "EU B-ORG\nrejects O\n\nGerman B-MISC\ncall O\n", "conll"),
    ],
)
def test_detect_format(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert detect_format(path) == expected


def test_raw_text_is_refused_with_a_hint(tmp_path):
    path = write(tmp_path, "prose.txt", "Call me Ishmael. Some years ago I went to sea.\n")
    with pytest.raises(CorpusFormatError, match="raw text"):
        read_corpus(path)


# --- writers: round trips --------------------------------------------------------------------

SENTENCES = [
    Sentence(["New York", "is", "big"], ["B-LOC", "O", "O"], metadata={"docstart": "1"}),
    Sentence(["Ada", "smiled"], ["B-PER", "O"]),
]


def roundtrip(tmp_path: Path, name: str, writer, sentences=SENTENCES, **kwargs) -> list[Sentence]:
    stream = io.StringIO()
    writer(sentences, stream, **kwargs)
    return list(read_sentences(write(tmp_path, name, stream.getvalue())))


def test_conll_roundtrip_uses_tabs_for_words_with_spaces(tmp_path):
    back = roundtrip(tmp_path, "out.conll", write_conll)
    assert [(s.words, s.tags, s.metadata) for s in back] == [(s.words, s.tags, s.metadata) for s in SENTENCES]
    assert "\t" in (tmp_path / "out.conll").read_text()


def test_conll_writer_uses_spaces_otherwise_and_can_drop_docstart(tmp_path):
    plain = [Sentence(["a", "b"], ["O", "B-PER"], metadata={"docstart": "1"})]
    back = roundtrip(tmp_path, "out.conll", write_conll, plain, docstart=False)
    assert (tmp_path / "out.conll").read_text() == "a O\nb B-PER\n\n"
    assert back[0].metadata == {}


def test_conllu_roundtrip_keeps_metadata(tmp_path):
    sentences = [Sentence(["3 p.m.", "now"], ["NOUN", "ADV"], metadata={"sent_id": "s1", "newdoc": ""})]
    back = roundtrip(tmp_path, "out.conllu", write_conllu, sentences)
    assert [(s.words, s.tags, s.metadata) for s in back] == [(s.words, s.tags, s.metadata) for s in sentences]


def test_jsonl_roundtrip(tmp_path):
    back = roundtrip(tmp_path, "out.jsonl", write_jsonl)
    assert [(s.words, s.tags) for s in back] == [(s.words, s.tags) for s in SENTENCES]


def test_read_write_read_of_a_real_format_file_is_stable(tmp_path):
    original = list(read_sentences(FIXTURES / "sample.conllu"))
    back = roundtrip(tmp_path, "again.conllu", write_conllu, original)
    assert [(s.words, s.tags, s.metadata) for s in back] == [(s.words, s.tags, s.metadata) for s in original]


# --- load_corpus -----------------------------------------------------------------------------


def test_load_corpus_from_local_files():
    corpus = load_corpus(CONLL03, test=FIXTURES / "sample.jsonl")
    assert set(corpus) == {"train", "test"}
    assert corpus["train"].column_names == ["words", "tags"]
    assert corpus["train"][0]["tags"] == ["B-ORG", "I-ORG", "O", "B-PER", "I-PER", "O"]  # IOB1 -> IOB2
    assert corpus["test"][1]["words"] == ["Hello", "there"]


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    return tmp_path


def test_load_corpus_from_saved_dataset_maps_class_labels(hub_cache):
    import datasets

    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])),
        }
    )
    rows = {"id": ["0", "1"], "tokens": [["Ada", "Quell", "ran"], ["in", "Ostvik"]], "ner_tags": [[1, 2, 0], [0, 3]]}
    saved = hub_cache / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows, features=features)}).save_to_disk(str(saved))
    corpus = load_corpus(name=str(saved))
    assert corpus["train"].column_names == ["words", "tags"]
    assert corpus["train"]["tags"] == [["B-PER", "I-PER", "O"], ["O", "B-LOC"]]
    assert corpus["train"]["words"][1] == ["in", "Ostvik"]


def test_load_corpus_from_local_directory_of_json_files(hub_cache):
    directory = hub_cache / "jsondata"
    directory.mkdir()
    for split, tags in (("train", ["I-PER", "O"]), ("test", ["O", "B-LOC"])):
        record = {"toks": ["Ada", "x"], "labels": tags}
        (directory / f"{split}.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    corpus = load_corpus(name=str(directory), word_column="toks", tag_column="labels")
    assert set(corpus) == {"train", "test"}
    assert corpus["train"][0] == {"words": ["Ada", "x"], "tags": ["B-PER", "O"]}  # IOB1 -> IOB2


def test_load_corpus_names_a_missing_column_and_the_available_ones(hub_cache):
    import datasets

    saved = hub_cache / "saved"
    datasets.Dataset.from_dict({"tokens": [["a"]], "tags": [["O"]]}).save_to_disk(str(saved))
    with pytest.raises(ConfigError, match=r"'ner_tags'.*available columns: tokens, tags"):
        load_corpus(name=str(saved))


def test_load_corpus_refuses_files_and_name_together_and_unknown_names(hub_cache):
    with pytest.raises(ConfigError):
        load_corpus(CONLL03, name="x")
    with pytest.raises(ConfigError, match="cannot load dataset"):
        load_corpus(name=str(hub_cache / "does-not-exist"))


def test_importing_corpus_does_not_import_datasets():
    code = "import sys, tagger.corpus; print('datasets' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- bad inputs (BAD_INPUTS.md): each names path:line ----------------------------------------


def test_bad_input_invalid_utf8_names_line_and_latin1_reads_it(tmp_path):
    path = write(tmp_path, "latin.conll", "a O\nb O\n\nCaf\xe9 B-LOC\n".encode("latin-1"))
    error = read_error(path)
    assert_at(error, path, 4)
    assert "`encoding=latin-1`" in str(error)  # the setting; the command line names --encoding (test_cli)
    sentences, _ = read_corpus(path, CorpusConfig(encoding="latin-1"))
    assert sentences[1].words == ["Café"]


def test_bad_input_bom_is_stripped_not_glued_to_the_first_word(tmp_path):
    path = write(tmp_path, "bom.conll", b"\xef\xbb\xbfHello O\nworld O\n")
    assert next(read_sentences(path)).words == ["Hello", "world"]
    assert detect_format(write(tmp_path, "bom", b'\xef\xbb\xbf{"words": ["a"], "tags": ["O"]}\n')) == "jsonl"


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_bad_input_crlf_and_lone_cr_line_endings_are_fine(tmp_path, newline):
    path = write(tmp_path, "crlf.conll", newline.join(["a O", "b B-PER", "", "c O", ""]))
    sentences = list(read_sentences(path))
    assert [(s.words, s.tags, s.line) for s in sentences] == [(["a", "b"], ["O", "B-PER"], 1), (["c"], ["O"], 4)]


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x85"])
def test_bad_input_control_character_in_word(tmp_path, char):
    path = write(tmp_path, "nul.conll", f"a O\nb{char}c O\n")
    error = read_error(path)
    assert_at(error, path, 2)
    assert "control character" in str(error)


def test_bad_input_escaped_nul_in_jsonl_word(tmp_path):
    path = write(tmp_path, "nul.jsonl", '{"words": ["ok"], "tags": ["O"]}\n{"words": ["a\\u0000"], "tags": ["O"]}\n')
    assert_at(read_error(path), path, 2)


@pytest.mark.parametrize("content", ["", "\n\n  \n", "-DOCSTART- -X- O O\n\n", "-DOCSTART- -X- O O\n\n-DOCSTART- O\n"])
def test_bad_input_no_sentences(tmp_path, content):
    path = write(tmp_path, "empty.conll", content)
    with pytest.raises(CorpusFormatError, match="no sentences") as info:
        list(read_sentences(path))
    assert str(info.value).startswith(str(path))
    assert "no sentences" in str(read_error(path))


def test_bad_input_whitespace_only_line_splits_sentences(tmp_path):
    path = write(tmp_path, "ws.conll", "a O\nb O\n \t \nc O\n")
    sentences = list(read_sentences(path))
    assert [s.words for s in sentences] == [["a", "b"], ["c"]]
    assert sentences[1].line == 4


def test_bad_input_fewer_columns(tmp_path):
    path = write(tmp_path, "cols.conll", "a X O\nb X O\nc O\n")
    error = read_error(path)
    assert_at(error, path, 3)
    assert "expected 3 columns" in str(error) and "2 columns" in str(error)


def test_bad_input_more_columns_hints_at_a_space_in_a_word(tmp_path):
    path = write(tmp_path, "cols.conll", "a O\n\nNew York B-LOC\n")
    error = read_error(path)
    assert_at(error, path, 3)
    assert "expected 2 columns" in str(error) and "space" in error.hint


def test_bad_input_tab_file_with_more_columns(tmp_path):
    path = write(tmp_path, "cols.tsv", "a\tX\tO\nb\tX\tY\tO\n")
    assert_at(read_error(path), path, 2)


@pytest.mark.parametrize("content, line_no", [("a O\nb\tO\n", 2), ("a\tO\nb O\n", 2), ("a\tX\tO\nb X O\n", 2)])
def test_bad_input_mixed_separators(tmp_path, content, line_no):
    path = write(tmp_path, "mixed.conll", content)
    assert_at(read_error(path), path, line_no)


@pytest.mark.parametrize("content", ["a\tO\nb\t\n", "a O\nb _\n", "a X O\nb X _\n"])
def test_bad_input_empty_or_underscore_tag(tmp_path, content):
    path = write(tmp_path, "tag.conll", content)
    error = read_error(path)
    assert_at(error, path, 2)
    assert "'b'" in str(error)


def test_bad_input_no_tag_column_when_tags_required(tmp_path):
    path = write(tmp_path, "raw.conll", "\nHello\nworld\n")
    error = read_error(path)
    assert_at(error, path, 2)
    assert "no tag column" in str(error)


@pytest.mark.parametrize("tag", ["PER", "o", "B-", "B-PER-"])
def test_bad_input_malformed_span_tag(tmp_path, tag):
    path = write(tmp_path, "bare.conll", f"a B-PER\nb I-PER\n\nc O\nd {tag}\ne O\n")
    error = read_error(path)
    assert_at(error, path, 5)
    assert repr(tag) in str(error) and "'d'" in str(error)


def test_bad_input_malformed_span_tag_in_conllu_names_the_word_line(tmp_path):
    rows = [
        "1-2\tab\t_\t_\t_\t_\t_\t_\t_\t_",
        "1\ta\t_\tB-PER\t_\t_\t_\t_\t_\t_",
        "1.1\tz\t_\t_\t_\t_\t_\t_\t_\t_",
        "2\tb\t_\tPER\t_\t_\t_\t_\t_\t_",
    ]
    path = write(tmp_path, "ner.conllu", "# sent_id = 1\n" + "\n".join(rows) + "\n")
    assert_at(read_error(path), path, 5)


def test_bad_input_bioes_tags_declared_as_iob2(tmp_path):
    path = write(tmp_path, "decl.conll", "a O\nb S-PER\n")
    assert_at(read_error(path, CorpusConfig(scheme="IOB2")), path, 2)


def test_bad_input_conllu_nine_columns(tmp_path):
    path = write(tmp_path, "nine.conllu", "# sent_id = 1\n1\ta\t_\tX\t_\t_\t_\t_\t_\t_\n2\tb\t_\tX\t_\t_\t_\t_\t_\n")
    error = read_error(path)
    assert_at(error, path, 3)
    assert "9 columns" in str(error)


def row(token_id: str) -> str:
    return f"{token_id}\tw\t_\tX\t_\t_\t_\t_\t_\t_"


@pytest.mark.parametrize(
    "ids, bad_line",
    [
        (["2", "3"], 1),  # does not start at 1
        (["1", "1"], 2),  # duplicated
        (["1", "3"], 2),  # skips an id
        (["1", "x"], 2),  # not an id
        (["2-1", "1", "2"], 1),  # reversed range
        (["1-3", "1", "2-3"], 3),  # overlapping ranges
        (["1-3", "1", "2"], 1),  # range past the last word
        (["1", "3.1"], 2),  # empty node after a word that does not exist
    ],
)
def test_bad_input_conllu_bad_ids(tmp_path, ids, bad_line):
    path = write(tmp_path, "ids.conllu", "\n".join(row(i) for i in ids) + "\n")
    assert_at(read_error(path), path, bad_line)


@pytest.mark.parametrize(
    "line, needle",
    [
        ('{"words": ["a"], "tags": ["O"]', "invalid JSON"),
        ('{"text": "a b"}', "words"),
        ('{"words": ["a", "b"], "tags": ["O"]}', "2 words but 1 tags"),
        ('{"words": "a b", "tags": ["O"]}', "list of strings"),
        ('["a"]', "JSON list"),
    ],
)
def test_bad_input_bad_json_line(tmp_path, line, needle):
    path = write(tmp_path, "bad.jsonl", '{"words": ["ok"], "tags": ["O"]}\n\n' + line + "\n")
    error = read_error(path)
    assert_at(error, path, 3)
    assert needle in str(error)


def test_bad_input_missing_file_and_corrupt_gzip(tmp_path):
    missing = tmp_path / "nope.conll"
    with pytest.raises(CorpusFormatError, match="no such file"):
        read_corpus(missing)
    varied = "".join(f"w{i * 7919 % 10007} O\n" for i in range(5000)).encode()  # compresses to well over 2 kB
    truncated = write(tmp_path, "cut.conll.gz", gzip.compress(varied)[:2000])
    with pytest.raises(CorpusFormatError, match="corrupt compressed data"):
        read_corpus(truncated)
    # a JSON extension is told apart by its content: the sniffing meets the bad block first, and leaves it to the reader
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
    bad_block = write(tmp_path, "bad.jsonl.gz", header + b"\x01\x05\x00\x00\x00hello")  # stored block, wrong NLEN
    with pytest.raises(CorpusFormatError, match="corrupt compressed data"):
        read_corpus(bad_block)


def test_bad_input_raw_exceptions_never_escape_for_a_binary_file(tmp_path):
    path = write(tmp_path, "image.conll", bytes(range(256)) * 4)
    with pytest.raises(CorpusFormatError):
        read_corpus(path)


def test_shipped_sample_corpus_reads_as_iob2_ner():
    root = Path(__file__).parent.parent / "corpora" / "sample_ner"
    if not root.exists():
        pytest.skip("run scripts/tools/prepare_corpora.py")
    sentences, report = read_corpus(root / "train.conll")
    assert report.scheme == "IOB2" and report.sentences >= 24
    types = {tag[2:] for s in sentences for tag in s.tags if tag != "O"}
    assert types == {"PER", "LOC", "ORG", "MISC"}
