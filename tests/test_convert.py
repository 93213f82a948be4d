"""spaCy DocBin (.spacy) as a corpus format, and `tagger convert`: round trips through real spaCy DocBins."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc, DocBin
from typer.testing import CliRunner

from tagger.cli import app
from tagger.config import CorpusConfig
from tagger.corpus import (
    Sentence,
    detect_format,
    document_ids,
    read_corpus,
    read_docbin,
    read_sentences,
    write_conll,
    write_docbin,
    write_jsonl,
)
from tagger.errors import ConfigError, CorpusFormatError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CONLL03 = FIXTURES / "conll2003_style.conll"
UD_DEV = ROOT / "corpora" / "ud_en_ewt" / "en_ewt-ud-dev.conllu.gz"
SAMPLE_NER = ROOT / "corpora" / "sample_ner" / "dev.conll"
runner = CliRunner()


def spacy_docs(path: Path) -> list[Doc]:
    return list(DocBin().from_disk(path).get_docs(spacy.blank("en").vocab))


def words_tags_documents(sentences: list[Sentence]) -> tuple[list, list, list[int]]:
    return [s.words for s in sentences], [s.tags for s in sentences], document_ids(sentences)


def io_file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_spacy_docs(path: Path, docs: list[Doc]) -> Path:
    DocBin(docs=docs).to_disk(path)
    return path


# --- round trips -------------------------------------------------------------------------------


def test_conll_to_docbin_and_back_keeps_words_iob2_tags_and_documents(tmp_path):
    original, _ = read_corpus(CONLL03)  # IOB1 in the file, IOB2 once read
    write_docbin(original, tmp_path / "corpus.spacy")
    docs = spacy_docs(tmp_path / "corpus.spacy")
    assert len(docs) == 2  # one Doc per -DOCSTART- document
    assert [(e.text, e.label_) for e in docs[0].ents][:2] == [("Zorvath Mining", "ORG"), ("Keld Amsel", "PER")]
    assert [len(list(doc.sents)) for doc in docs] == [2, 1]
    back, report = read_corpus(tmp_path / "corpus.spacy")
    assert (report.format, report.scheme, report.documents, report.sentences) == ("spacy", "IOB2", 2, 3)
    assert words_tags_documents(back) == words_tags_documents(original)
    stream = io.StringIO()
    write_conll(back, stream)
    again, _ = read_corpus(io_file(tmp_path / "again.conll", stream.getvalue()))
    assert words_tags_documents(again) == words_tags_documents(original)


def test_shipped_ner_corpus_round_trips_and_adjacent_entities_stay_apart(tmp_path):
    original, _ = read_corpus(SAMPLE_NER)
    write_docbin(original, tmp_path / "dev.spacy")
    back, _ = read_corpus(tmp_path / "dev.spacy")
    assert words_tags_documents(back) == words_tags_documents(original)
    # conll2003_style: "Keld Amsel Bria Tomm" is two PER entities side by side
    sentences, _ = read_corpus(CONLL03)
    write_docbin(sentences, tmp_path / "adjacent.spacy")
    assert [e.text for e in spacy_docs(tmp_path / "adjacent.spacy")[0].ents if e.label_ == "PER"] == [
        "Keld Amsel",
        "Keld Amsel",
        "Bria Tomm",
    ]


def test_corpus_without_documents_becomes_one_doc_per_sentence(tmp_path):
    sentences = [Sentence(["Paris", "is", "big"], ["B-LOC", "O", "O"]), Sentence(["No", "names"], ["O", "O"])]
    write_docbin(sentences, tmp_path / "plain.spacy")
    docs = spacy_docs(tmp_path / "plain.spacy")
    assert [[t.text for t in doc] for doc in docs] == [["Paris", "is", "big"], ["No", "names"]]
    assert all(doc.has_unknown_spaces for doc in docs)  # so spaCy's evaluation keeps these tokens
    assert docs[1].has_annotation("ENT_IOB")  # all "O" is annotation, not missing
    back = list(read_docbin(tmp_path / "plain.spacy"))
    assert [s.tags for s in back] == [s.tags for s in sentences] and document_ids(back) == [0, 1]


def test_conllu_upos_to_docbin_sets_pos_and_keeps_document_ids(tmp_path):
    original, _ = read_corpus(UD_DEV)
    write_docbin(original, tmp_path / "dev.spacy")
    docs = spacy_docs(tmp_path / "dev.spacy")
    assert len(docs) == sum(1 for s in original if "newdoc id" in s.metadata)
    assert all(token.pos_ for doc in docs for token in doc)
    assert docs[0].user_data["doc_id"] == original[0].metadata["newdoc id"]
    back, report = read_corpus(tmp_path / "dev.spacy")
    assert report.scheme == "none"
    assert words_tags_documents(back) == words_tags_documents(original)
    first_of_each = [s.metadata for s in back if s.metadata]
    assert first_of_each == [{"newdoc id": s.metadata["newdoc id"]} for s in original if "newdoc id" in s.metadata]


def test_conllu_xpos_goes_to_token_tag(tmp_path):
    xpos = CorpusConfig(tag_field="xpos")
    original, _ = read_corpus(FIXTURES / "sample.conllu", xpos)
    write_docbin(original, tmp_path / "xpos.spacy")  # PTB tags are not Universal POS: token.tag_
    docs = spacy_docs(tmp_path / "xpos.spacy")
    assert [t.tag_ for t in docs[0]] == ["VBP", "RB", "VB", "IN", "NN", "NNP", "VBD", "."]
    assert [t.text for t in docs[0]][4] == "3 p.m."  # a word with a space stays one token
    back, _ = read_corpus(tmp_path / "xpos.spacy", xpos)
    assert words_tags_documents(back) == words_tags_documents(original)


def test_jsonl_to_docbin_and_back(tmp_path):
    original, _ = read_corpus(FIXTURES / "sample.jsonl")
    write_docbin(original, tmp_path / "sample.spacy")
    back, _ = read_corpus(tmp_path / "sample.spacy")
    assert [(s.words, s.tags) for s in back] == [(s.words, s.tags) for s in original]
    stream = io.StringIO()
    write_jsonl(back, stream)
    assert [json.loads(line)["words"] for line in stream.getvalue().splitlines()] == [s.words for s in original]


# --- DocBins made by spaCy ---------------------------------------------------------------------


def test_reading_a_docbin_built_with_spacy(tmp_path):
    vocab = spacy.blank("en").vocab
    words = ["John", "Smith", "lives", "in", "New", "York", ".", "\n\n", "Anna", "left", "."]
    spaces = [True, True, True, True, True, False, False, False, True, False, False]
    sent_starts = [True, False, False, False, False, False, False, False, True, False, False]
    ents = ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O", "O", "B-PER", "", ""]  # "" = missing
    first = Doc(vocab, words=words, spaces=spaces, sent_starts=sent_starts, ents=ents)
    second = Doc(vocab, words=["Rome", "waits"])  # no sentence boundaries, no entities
    path = write_spacy_docs(tmp_path / "spacy-made.spacy", [first, second])
    assert detect_format(path) == "spacy"
    sentences, report = read_corpus(path)
    assert [s.words for s in sentences] == [words[:7], ["Anna", "left", "."], ["Rome", "waits"]]
    assert [s.tags for s in sentences] == [ents[:7], ["B-PER", "O", "O"], ["O", "O"]]
    assert [s.metadata for s in sentences] == [{"newdoc id": "0"}, {}, {"newdoc id": "1"}]
    assert (report.documents, report.words, report.repaired) == (2, 12, 0)
    assert all((s.path, s.line) == (str(path), 0) for s in sentences)


def test_docbin_without_entities_gives_pos_or_tag_as_asked(tmp_path):
    vocab = spacy.blank("en").vocab
    doc = Doc(vocab, words=["Dogs", "bark"], pos=["NOUN", "VERB"], tags=["NNS", "VBP"])
    path = write_spacy_docs(tmp_path / "pos.spacy", [doc])
    assert [s.tags for s in read_docbin(path)] == [["NOUN", "VERB"]]
    assert [s.tags for s in read_docbin(path, CorpusConfig(tag_field="xpos"))] == [["NNS", "VBP"]]


def test_gzipped_docbin_reads_the_same(tmp_path):
    plain = write_spacy_docs(tmp_path / "x.spacy", [Doc(spacy.blank("en").vocab, words=["Hi"], ents=["O"])])
    packed = tmp_path / "x.spacy.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert [s.words for s in read_sentences(packed)] == [s.words for s in read_sentences(plain)] == [["Hi"]]


# --- bad inputs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"John B-PER\nlives O\n",  # a text corpus with the wrong extension
        zlib.compress(b"\x93\x01\x02\x03"),  # zlib-compressed msgpack, but a list
        zlib.compress(b"\x81\xa1a\x01"),  # zlib-compressed msgpack map without DocBin keys
        b"",
    ],
)
def test_a_file_that_is_not_a_docbin_names_the_file(tmp_path, content):
    path = tmp_path / "broken.spacy"
    path.write_bytes(content)
    with pytest.raises(CorpusFormatError) as info:
        read_corpus(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a spaCy DocBin (.spacy) file; expected") and "\n" not in message


def test_a_truncated_docbin_names_the_file(tmp_path):
    whole = write_spacy_docs(tmp_path / "whole.spacy", [Doc(spacy.blank("en").vocab, words=["a", "b"] * 50)])
    cut = tmp_path / "cut.spacy"
    cut.write_bytes(whole.read_bytes()[:40])
    with pytest.raises(CorpusFormatError, match="cut.spacy: not a spaCy DocBin"):
        read_corpus(cut)


def test_a_docbin_without_tags_is_refused_for_training_and_read_for_tagging(tmp_path):
    path = write_spacy_docs(tmp_path / "raw.spacy", [Doc(spacy.blank("en").vocab, words=["Hello", "world"])])
    with pytest.raises(CorpusFormatError, match="no entities and no token.pos_ annotation"):
        read_corpus(path)
    assert [(s.words, s.tags) for s in read_sentences(path, tags_required=False)] == [(["Hello", "world"], [])]


def test_a_token_without_pos_names_doc_and_token(tmp_path):
    vocab = spacy.blank("en").vocab
    docs = [Doc(vocab, words=["Dogs", "bark"], pos=["NOUN", "VERB"]), Doc(vocab, words=["Cats", "purr"])]
    docs[1][0].pos_ = "NOUN"
    with pytest.raises(CorpusFormatError, match=r"missing token.pos_ for word 'purr' \(doc 1, token 1\)"):
        read_corpus(write_spacy_docs(tmp_path / "partial.spacy", docs))


@pytest.mark.parametrize(
    "attr, tags, message",
    [
        ("pos", ["NN", "VBZ"], "'NN' is not a Universal POS tag"),
        ("ents", ["NOUN", "VERB"], "'NOUN' is not a span tag"),
        ("words", ["O", "O"], "expected one of auto, ents, tag, pos"),
    ],
)
def test_write_docbin_refuses_tags_its_attribute_cannot_hold(tmp_path, attr, tags, message):
    with pytest.raises(ConfigError, match=message):
        write_docbin([Sentence(["Time", "flies"], tags)], tmp_path / "out.spacy", attr)
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary file left


def test_importing_corpus_does_not_import_spacy():
    code = "import sys, tagger.corpus; print('spacy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- tagger convert ----------------------------------------------------------------------------


def invoke(*args):
    return runner.invoke(app, ["convert", *[str(a) for a in args]])


def assert_user_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert message.startswith("error:") and "Traceback" not in result.output, message
    for fragment in fragments:
        assert fragment in message, message


def test_convert_conll_to_spacy_and_back(tmp_path):
    docbin, conll = tmp_path / "ner.spacy", tmp_path / "ner.conll"
    result = invoke(CONLL03, docbin)
    assert result.exit_code == 0, result.output
    assert " ".join(result.stderr.split()) == (f"wrote {docbin}: 3 sentences, 2 documents, 16 words (conll → spacy)")
    assert invoke(docbin, conll).exit_code == 0
    original, _ = read_corpus(CONLL03)
    back, report = read_corpus(conll)
    assert report.scheme == "IOB2" and words_tags_documents(back) == words_tags_documents(original)


def test_convert_refuses_to_overwrite_without_the_flag_and_never_the_input(tmp_path):
    target = tmp_path / "ner.spacy"
    target.write_bytes(b"keep me")
    assert_user_error(invoke(CONLL03, target), "exists", "--overwrite")
    assert target.read_bytes() == b"keep me"
    assert invoke(CONLL03, target, "--overwrite").exit_code == 0
    assert len(spacy_docs(target)) == 2
    assert_user_error(invoke(target, target, "--overwrite"), "is the input")


def test_convert_writes_the_scheme_asked_for_and_gzip(tmp_path):
    target = tmp_path / "ner.bioes.conll.gz"
    result = invoke(CONLL03, target, "--scheme", "BIOES", "--tag-column", "3")
    assert result.exit_code == 0, result.output
    lines = gzip.decompress(target.read_bytes()).decode("utf-8").splitlines()
    assert lines[:4] == ["-DOCSTART- O", "", "Zorvath B-ORG", "Mining E-ORG"]


def test_convert_conllu_pos_to_spacy_with_explicit_formats(tmp_path):
    target = tmp_path / "pos.bin"
    result = invoke(FIXTURES / "sample.conllu", target, "--from", "conllu", "--to", "spacy", "--attr", "tag")
    assert result.exit_code == 0, result.output
    assert [t.tag_ for t in spacy_docs(target)[0]][:3] == ["AUX", "PART", "VERB"]


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["out.unknown"], ["cannot tell the format of OUTPUT", "--to"]),
        (["out.spacy", "--attr", "deps"], ["--attr 'deps'", "ents, tag, pos"]),
        (["out.conll", "--to", "xml"], ["--to 'xml'"]),
        (["out.spacy", "--attr", "pos", "--tag-column", "1"], ["attr 'pos': tag '.' is not a Universal POS tag"]),
        (["out.spacy.gz"], ["compressed already"]),
        (["out.conll", "--set", "model.hidden=3"], ["expected a corpus.* setting"]),
    ],
)
def test_convert_bad_options_are_one_line(tmp_path, args, fragments):
    assert_user_error(invoke(CONLL03, tmp_path / args[0], *args[1:]), *fragments)
    assert not (tmp_path / args[0]).exists()


def test_convert_a_broken_docbin_names_it(tmp_path):
    fake = tmp_path / "fake.spacy"
    fake.write_text("John B-PER\n", encoding="utf-8")
    assert_user_error(invoke(fake, tmp_path / "out.conll"), str(fake), "not a spaCy DocBin (.spacy) file")


def test_evaluate_reads_a_docbin_like_the_conll_it_came_from(trained_model, ner_files, tmp_path):
    docbin = tmp_path / "dev.spacy"
    assert invoke(ner_files[1], docbin).exit_code == 0
    scores = [
        runner.invoke(app, ["evaluate", str(trained_model), str(path), "--json"]) for path in (ner_files[1], docbin)
    ]
    assert all(result.exit_code == 0 for result in scores), [result.output for result in scores]
    assert json.loads(scores[0].stdout) == json.loads(scores[1].stdout)


def test_tag_reads_a_docbin_like_the_conll_it_came_from(trained_model, ner_files, tmp_path):
    docbin = tmp_path / "dev.spacy"
    assert invoke(ner_files[1], docbin).exit_code == 0
    tagged = [
        runner.invoke(app, ["tag", str(trained_model), str(path), "--output-format", "jsonl"])
        for path in (ner_files[1], docbin)
    ]
    assert all(result.exit_code == 0 for result in tagged), [result.output for result in tagged]
    assert tagged[0].stdout == tagged[1].stdout and "B-PER" in tagged[1].stdout


# --- Hugging Face datasets on disk ---------------------------------------------------------------


def test_conll_to_a_saved_dataset_and_back_keeps_words_tags_and_documents(tmp_path):
    import datasets

    original, _ = read_corpus(CONLL03)
    result = runner.invoke(app, ["convert", str(CONLL03), str(tmp_path / "ds"), "--to", "hf"])
    assert result.exit_code == 0, result.output
    saved = datasets.load_from_disk(str(tmp_path / "ds"))
    assert set(saved.features["tags"].feature.names) == {t for s in original for t in s.tags}
    assert saved[0]["tokens"] == original[0].words
    back, report = read_corpus(tmp_path / "ds")  # a save_to_disk folder is detected as such
    assert report.format == "hf" and words_tags_documents(back) == words_tags_documents(original)
    result = runner.invoke(app, ["convert", str(tmp_path / "ds"), str(tmp_path / "again.conll")])
    assert result.exit_code == 0, result.output
    assert words_tags_documents(read_corpus(tmp_path / "again.conll")[0]) == words_tags_documents(original)


def test_a_saved_dataset_written_by_datasets_itself_is_read_with_its_label_names(tmp_path):
    import datasets

    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER"])),
        }
    )
    datasets.Dataset.from_dict(
        {"tokens": [["Anna", "Lee", "sings"]], "ner_tags": [[1, 2, 0]]}, features=features
    ).save_to_disk(str(tmp_path / "ds"))
    sentences, report = read_corpus(tmp_path / "ds")
    assert [(s.words, s.tags) for s in sentences] == [(["Anna", "Lee", "sings"], ["B-PER", "I-PER", "O"])]
    datasets.DatasetDict({"train": datasets.load_from_disk(str(tmp_path / "ds"))}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(CorpusFormatError, match="a dataset of splits"):
        read_corpus(tmp_path / "dd")
