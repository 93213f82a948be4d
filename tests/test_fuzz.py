"""Property-based and fuzz tests of the corpus readers and writers (the helpers are in tests/fuzzing.py;
scripts/tools/fuzz.py runs the same fuzzing at 10,000+ cases per reader).

Round trips: any corpus our writer can hold reads back with the same words, tags and documents.
Fuzzing: random bytes and mutated valid files make every reader return or raise our own error
(a TaggerError, printed by the CLI as one line), never another exception.
Bounded for CI: a few hundred examples per property.
"""

from __future__ import annotations

import io
import json
import zlib
from pathlib import Path

import pytest
import srsly
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from tagger.config import CorpusConfig
from tagger.corpus import (
    Sentence,
    document_ids,
    read_conllu,
    read_corpus,
    read_docbin,
    read_jsonl,
    read_sentences,
    write_conll,
    write_conllu,
    write_docbin,
    write_jsonl,
)
from tagger.errors import CorpusFormatError
from tests import fuzzing
from tests.fuzzing import (
    READERS,
    Case,
    Corpus,
    conll_words,
    conllu_words,
    corpora,
    documents,
    expected_documents,
    fuzz_inputs,
    fuzz_round_trips,
    jsonl_words,
    make_case,
    round_trip,
    round_trip_path,
    run_case,
    seed_files,
)
from tests.test_cli import assert_user_error, invoke

SEED = 20240611
ROUND_TRIP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_CASES = 250  # per reader, seeded


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def assert_round_trip(corpus: Corpus, fmt: str, folder: Path, reader: str = "", gz: bool = False) -> None:
    reader = reader or fmt
    back = round_trip(corpus, fmt, reader, round_trip_path(folder, fmt, gz))
    assert documents(back) == expected_documents(corpus, fmt, reader)


# --- round trips -----------------------------------------------------------------------------------


@ROUND_TRIP
@given(corpus=corpora("conll"), gz=st.booleans())
def test_conll_round_trip_keeps_words_tags_and_documents(folder, corpus, gz):
    assert_round_trip(corpus, "conll", folder, gz=gz)


@ROUND_TRIP
@given(corpus=corpora("conllu"), gz=st.booleans())
def test_conllu_round_trip_keeps_words_tags_documents_and_empty_ones(folder, corpus, gz):
    assert_round_trip(corpus, "conllu", folder, gz=gz)


@ROUND_TRIP
@given(corpus=corpora("jsonl"), gz=st.booleans())
def test_jsonl_round_trip_keeps_words_tags_documents_and_empty_ones(folder, corpus, gz):
    assert_round_trip(corpus, "jsonl", folder, gz=gz)


@settings(ROUND_TRIP, max_examples=80)
@given(corpus=corpora("docbin"))
def test_docbin_round_trip_keeps_words_tags_and_documents(folder, corpus):
    assert_round_trip(corpus, "docbin", folder)


@settings(ROUND_TRIP, max_examples=100)
@given(data=st.data())
def test_read_corpus_reads_back_every_format_by_its_extension(folder, data):
    fmt = data.draw(st.sampled_from(["conll", "conllu", "jsonl", "docbin"]))
    corpus = data.draw(corpora(fmt))
    if not any(words for document in corpus.documents for words, _ in document):
        with pytest.raises(CorpusFormatError, match="no sentences"):
            assert_round_trip(corpus, fmt, folder, reader="auto")
    else:
        assert_round_trip(corpus, fmt, folder, reader="auto")


def test_round_trip_helper_counts_cases_and_reports_nothing_on_valid_corpora(folder):
    tally = fuzz_round_trips("auto", 30, SEED, folder)
    assert tally.cases == 30 and tally.failures == [] and tally.accepted > 0


FOUND = settings(max_examples=5000, database=None)


@pytest.mark.parametrize(
    "strategy, condition",
    [
        (conll_words(), lambda w: " " in w),  # tab-separated columns then
        (conll_words(), lambda w: any("\u4e00" <= c <= "\u9fff" for c in w)),  # CJK
        (conll_words(), lambda w: any("\U0001f300" <= c <= "\U0001faff" for c in w)),  # emoji
        (conll_words(), lambda w: any(c in "àáâãäåçèéêëìíîïñòóôõöùúûüýÿ" for c in w)),  # accents
        (conllu_words(), lambda w: w.startswith(" ")),
        (jsonl_words(), lambda w: "\t" in w or "\n" in w),
        (corpora("conllu"), lambda c: c.marked and any(not document for document in c.documents)),  # empty document
        (corpora("jsonl"), lambda c: any(not words for document in c.documents for words, _ in document)),
        (corpora("conll"), lambda c: c.kind == "none"),
        (corpora("docbin"), lambda c: c.kind == "ptb"),
    ],
    ids=[
        "conll-space",
        "cjk",
        "emoji",
        "accents",
        "conllu-edge-space",
        "jsonl-tab-newline",
        "empty-document",
        "zero-word-sentence",
        "untagged",
        "ptb",
    ],
)
def test_strategies_generate_what_the_properties_promise(strategy, condition):
    find(strategy, condition, settings=FOUND)  # raises NoSuchExample when the strategy cannot


# --- writers refuse what their format cannot hold ----------------------------------------------------


def text_writer(writer):
    return lambda sentences, folder: writer(sentences, io.StringIO())


def docbin_writer(sentences: list[Sentence], folder: Path) -> None:
    write_docbin(sentences, folder / "w.spacy")


WRITERS = {
    "conll": text_writer(write_conll),
    "conllu": text_writer(write_conllu),
    "jsonl": text_writer(write_jsonl),
    "docbin": docbin_writer,
}


def tagged(*words: str, tags: list[str] | None = None, **metadata: str) -> Sentence:
    return Sentence(list(words), tags if tags is not None else ["O"] * len(words), "in.jsonl", 7, metadata)


@pytest.mark.parametrize(
    "fmt, sentences, fragment",
    [
        ("conll", [tagged("")], "word '': empty"),
        ("conll", [tagged("a\tb")], "a tab"),
        ("conll", [tagged("a\nb")], "a line break"),
        ("conll", [tagged(" a")], "a space at either end"),
        ("conll", [tagged("-DOCSTART-")], "read as a -DOCSTART- line"),
        ("conll", [tagged("\ufeffa")], "U+FEFF first"),
        ("conll", [tagged("a\x00")], "a control character U+0000"),
        ("conll", [tagged("a\ud800")], "a lone surrogate U+D800"),
        ("conll", [tagged("a", tags=["B PER"])], "tag 'B PER': a space"),
        ("conll", [tagged("a", "b", tags=["O"])], "2 words with 1 tags"),
        ("conll", [tagged("New York", tags=[])], "a space (read as a column separator"),
        ("conll", [tagged("\u3000", tags=[])], "only whitespace"),
        ("conll", [tagged("a"), tagged("b", tags=[])], "a sentence without tags among tagged ones"),
        ("conllu", [tagged("a\tb")], "a tab"),
        ("conllu", [tagged("")], "empty"),
        ("conllu", [tagged("a", tags=[""])], "tag '': empty"),
        ("conllu", [tagged("a", note="x\ny")], "comment 'note' = 'x\\ny': a line break"),
        ("jsonl", [tagged("")], "empty"),
        ("jsonl", [tagged("a\x07")], "a control character U+0007"),
        ("jsonl", [tagged("a\udc80")], "a lone surrogate U+DC80"),
        ("jsonl", [tagged("a", note="\ud800")], "metadata 'note'"),
        ("docbin", [tagged("")], "empty"),
        ("docbin", [tagged(" ")], "only whitespace"),
        ("docbin", [tagged("a\x1b")], "a control character U+001B"),
        ("docbin", [tagged("a\ud800")], "a lone surrogate"),
        ("docbin", [tagged("a", tags=[""])], "tag '': empty"),
    ],
)
def test_writers_refuse_what_their_format_cannot_hold_with_our_error(folder, fmt, sentences, fragment):
    with pytest.raises(CorpusFormatError) as caught:
        WRITERS[fmt](sentences, folder)
    message = str(caught.value)
    assert fragment in message and "\n" not in message, message
    assert message.startswith("in.jsonl:7: cannot write "), message  # where the sentence was read
    assert not (folder / "w.spacy").exists()


def test_convert_of_a_word_the_target_cannot_hold_is_one_line_not_a_traceback(tmp_path):
    source = write(tmp_path, "in.jsonl", '{"words": ["a\\tb", "c"], "tags": ["B-PER", "O"]}\n')
    target = tmp_path / "out.conll"
    assert_user_error(invoke("convert", source, target), f"{source}:1:", "cannot write word 'a\\tb': a tab")
    assert not target.exists()
    assert invoke("convert", source, tmp_path / "out.jsonl").exit_code == 0  # JSONL can hold it


# --- readers: random bytes and mutated files -----------------------------------------------------------


@pytest.mark.parametrize("reader", READERS)
def test_random_and_mutated_files_give_only_our_errors(folder, reader):
    sub = folder / f"inputs-{reader}"
    sub.mkdir(exist_ok=True)
    tally = fuzz_inputs(reader, FUZZ_CASES, SEED, sub)
    assert tally.cases == FUZZ_CASES
    assert not tally.failures, "\n".join(
        f"{f.kind}: {f.message} <- {f.case.source} {f.case.data[:200]!r}" for f in tally.failures[:5]
    )
    # Both outcomes happen: the mutations neither always break the files nor leave them all valid.
    assert tally.accepted > FUZZ_CASES // 50 and tally.refused > FUZZ_CASES // 50, tally


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    reader=st.sampled_from(READERS),
    source=st.sampled_from(["random", "mutated"]),
    rng=st.randoms(use_true_random=False),
)
def test_hypothesis_drawn_inputs_give_only_our_errors(folder, reader, source, rng):
    failure, _ = run_case(make_case(rng, reader, source), folder)
    assert failure is None, f"{failure.kind}: {failure.message}\n{failure.trace}"


@settings(max_examples=200, deadline=None)
@given(
    reader=st.sampled_from(READERS),
    data=st.binary(max_size=600),
    suffix=st.sampled_from([".conll", ".conllu", ".jsonl", ".spacy", ".txt", ""]),
)
def test_arbitrary_bytes_give_only_our_errors(folder, reader, data, suffix):
    suffix = fuzzing.SUFFIXES.get(reader, suffix)
    failure, _ = run_case(Case(reader, "random", data, suffix), folder)
    assert failure is None, f"{failure.kind}: {failure.message}\n{failure.trace}"


def test_seed_files_are_valid_and_include_a_slice_of_ud_english(folder):
    seeds = seed_files()
    for fmt, files in seeds.items():
        for name, data in files.items():
            config = CorpusConfig(tag_field="xpos" if name == "written-tag" else "upos")  # PTB tags: token.tag_
            case = Case(fmt, f"seed:{name}", data, fuzzing.SUFFIXES[fmt], config)
            assert run_case(case, folder) == (None, False), (fmt, name)
    if fuzzing.UD_DEV.exists():
        ud = seeds["conllu"]["ud_en_ewt-dev-slice"].decode("utf-8")
        ids = [line.split("\t", 1)[0] for line in ud.splitlines() if line and not line.startswith("#")]
        assert any("-" in i for i in ids) and any("." in i for i in ids)  # a multiword range and an empty node


def test_the_harness_reports_a_foreign_exception_and_a_lossy_round_trip(folder, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setitem(fuzzing.FORMAT_READERS, "conll", broken)
    failure, refused = run_case(Case("conll", "random", b"a O\n", ".conll"), folder)
    assert failure is not None and failure.kind == "KeyError" and "boom" in failure.trace and not refused
    monkeypatch.undo()
    write_corpus = fuzzing.write_corpus

    def lossy(sentences, fmt, path):  # drops the last word of every sentence
        write_corpus([Sentence(s.words[:-1], s.tags[:-1], metadata=s.metadata) for s in sentences], fmt, path)

    monkeypatch.setattr(fuzzing, "write_corpus", lossy)
    corpus = Corpus([[(["a", "b"], ["O", "O"])]], False, "ner")
    failure, _ = fuzzing.check_round_trip(corpus, "jsonl", "jsonl", round_trip_path(folder, "jsonl"))
    assert failure is not None and failure.kind == "RoundTripMismatch"


# --- regressions: bugs the fuzzing found -----------------------------------------------------------------


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("[" * 100_000, "nested too deeply"),  # was RecursionError
        ('{"words": ["a"], "tags": ["O"], "n": 1' + "0" * 5000 + "}", "Python cannot read"),  # was ValueError
    ],
)
def test_jsonl_that_python_cannot_read_is_our_error(tmp_path, line, fragment):
    path = write(tmp_path, "deep.jsonl", '{"words": ["a"], "tags": ["O"]}\n' + line + "\n")
    with pytest.raises(CorpusFormatError, match=fragment) as caught:
        read_corpus(path)
    assert caught.value.line_no == 2


@pytest.mark.parametrize(
    "record",
    [
        '{"words": ["a\\ud800"], "tags": ["O"]}',
        '{"words": ["a"], "tags": ["\\udfff"]}',
        '{"words": ["a"], "tags": ["O"], "note": "\\ud83d"}',
    ],
)
def test_jsonl_lone_surrogate_escape_is_refused_where_it_is_read(tmp_path, record):
    # Accepted before, it broke whatever wrote the word out later (UnicodeEncodeError).
    path = write(tmp_path, "s.jsonl", record + "\n")
    with pytest.raises(CorpusFormatError, match="lone surrogate") as caught:
        list(read_jsonl(path))
    assert caught.value.line_no == 1
    [pair] = read_jsonl(write(tmp_path, "pair.jsonl", '{"words": ["\\ud83d\\ude00"], "tags": ["O"]}\n'))
    assert pair.words == ["\U0001f600"]  # a surrogate pair is one character, as JSON means it


def test_utf16_without_byte_order_mark_and_a_broken_gzip_read_as_utf16_are_our_errors(tmp_path):
    utf16 = CorpusConfig(encoding="utf-16")
    with pytest.raises(CorpusFormatError, match="not utf-16"):  # was UnicodeError
        read_corpus(write(tmp_path, "a.conll", b"ab"), utf16)
    with pytest.raises(CorpusFormatError, match="corrupt compressed data"):  # was BadGzipFile
        read_corpus(write(tmp_path, "b.conll.gz", b"not gzip at all"), utf16)
    assert read_corpus(write(tmp_path, "c.conll", "a O\n".encode("utf-16")), utf16)[0][0].words == ["a"]


def test_jsonl_keeps_untagged_sentences_and_documents(tmp_path):
    sentences = [
        Sentence(["Hi", "there"], [], metadata={"newdoc id": "d1"}),
        Sentence(["Bye"], []),
        Sentence(["Again"], [], metadata={"newdoc id": "d2", "sent_id": "3"}),
    ]
    stream = io.StringIO()
    write_jsonl(sentences, stream)
    assert json.loads(stream.getvalue().splitlines()[0]) == {"words": ["Hi", "there"], "newdoc id": "d1"}
    back = list(read_sentences(write(tmp_path, "raw.jsonl", stream.getvalue()), tags_required=False))
    assert [(s.words, s.tags, s.metadata) for s in back] == [(s.words, s.tags, s.metadata) for s in sentences]
    assert document_ids(back) == [0, 0, 1]  # both were lost: "tags": [] was refused, documents dropped


def test_a_zero_word_sentence_opening_a_document_hands_the_mark_on(tmp_path):
    rows = [
        "# newdoc id = d1",
        "1\ta\t_\tX\t_\t_\t_\t_\t_\t_",
        "",
        "# newdoc id = d2",
        "# sent_id = empty",
        "",
        "# sent_id = 3",
        "1\tb\t_\tX\t_\t_\t_\t_\t_\t_",
        "",
    ]
    path = write(tmp_path, "docs.conllu", "\n".join(rows) + "\n")
    sentences, report = read_corpus(path)
    assert document_ids(sentences) == [0, 1] and report.documents == 2 and report.skipped_empty == 1  # was [0, 0]
    assert sentences[1].metadata == {"newdoc id": "d2", "sent_id": "3"}
    assert document_ids(list(read_sentences(path))) == [0, 1]
    write_docbin(list(read_conllu(path)), tmp_path / "docs.spacy")  # the writer drops zero-word sentences
    back = list(read_docbin(tmp_path / "docs.spacy"))
    assert [(s.words, s.metadata) for s in back] == [(["a"], {"newdoc id": "d1"}), (["b"], {"newdoc id": "d2"})]


def damaged_docbin(tmp_path: Path, change) -> Path:
    path = tmp_path / "d.spacy"
    write_docbin([Sentence(["Time", "flies"], ["NN", "VBZ"], metadata={"newdoc id": "t"})], path)
    message = srsly.msgpack_loads(zlib.decompress(path.read_bytes()))
    change(message)
    path.write_bytes(zlib.compress(srsly.msgpack_dumps(message)))
    return path


def flags_not_a_dict(message: dict) -> None:  # was AttributeError in spaCy's get_docs
    message["flags"] = [None]


def attribute_too_large(message: dict) -> None:  # was OverflowError in spaCy's Doc.from_array
    message["attrs"][1] = 2**63


def tag_string_missing(message: dict) -> None:  # was KeyError when our reader asked for token.tag_
    message["strings"] = ["Time", "flies", "time"]


@pytest.mark.parametrize(
    "change, fragment",
    [
        (flags_not_a_dict, "not a spaCy DocBin"),
        (attribute_too_large, "not a spaCy DocBin"),
        (tag_string_missing, "token.tag_ of a string the file lacks"),
    ],
)
def test_damaged_docbin_fields_are_our_error(tmp_path, change, fragment):
    path = damaged_docbin(tmp_path, change)
    with pytest.raises(CorpusFormatError, match=fragment):
        list(read_docbin(path, CorpusConfig(tag_field="xpos")))
