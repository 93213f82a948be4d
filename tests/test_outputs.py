"""Output writers: faithful round trips on the fixtures, every format's content, streaming in chunks,
the bad inputs the readers accept, and one run with a trained model's predictions."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

from tagger.config import CorpusConfig
from tagger.corpus import Sentence, document_ids, read_docbin, read_sentences
from tagger.errors import ConfigError, CorpusFormatError
from tagger.outputs import (
    OUTPUT_FORMATS,
    TaggedSentence,
    WriterOptions,
    default_output_format,
    format_conll,
    format_jsonl,
    format_predictions,
    make_writer,
    output_suffix,
)

FIXTURES = Path(__file__).parent / "fixtures"
CONLL03 = FIXTURES / "conll2003_style.conll"
TABS = FIXTURES / "tabs_with_spaces.conll"
CONLLU = FIXTURES / "sample.conllu"
JSONL = FIXTURES / "sample.jsonl"
FIXTURE_FORMATS = [(CONLL03, "conll"), (TABS, "conll"), (CONLLU, "conllu"), (JSONL, "jsonl")]


# --- helpers: fake predictions, a writer run ----------------------------------------------------


def fake_tags(words: list[str]) -> list[str]:
    """Capitalised runs are PER entities: deterministic, valid IOB2, and different from any gold tags."""
    tags = []
    for index, word in enumerate(words):
        if word[:1].isupper():
            tags.append("I-PER" if index and tags[-1] != "O" else "B-PER")
        else:
            tags.append("O")
    return tags


def fake_scores(words: list[str]) -> list[float]:
    return [round(0.99 - 0.00013 * index, 6) for index in range(len(words))]


def predict(sentence: Sentence, offsets=None, labels: bool = False) -> TaggedSentence:
    tags = ["NOUN" if w[:1].isupper() else "VERB" for w in sentence.words] if labels else fake_tags(sentence.words)
    return TaggedSentence(sentence, tags, fake_scores(sentence.words), offsets)


def read(path: Path, input_format: str, encoding: str = "utf-8") -> list[Sentence]:
    return list(read_sentences(path, CorpusConfig(format=input_format, encoding=encoding), tags_required=False))


def run_writer(
    output_format: str, path: Path | None, tagged: list[TaggedSentence], chunk: int | None = None, **options
) -> str | bytes:
    """What the engine writes: begin() + write() per chunk (all at once without ``chunk``) + end()."""
    writer_options = WriterOptions(options.pop("input_format"), options.pop("task", "spans"), **options)
    writer = make_writer(output_format, path, writer_options)
    size = chunk or max(len(tagged), 1)
    pieces = [writer.begin()] + [writer.write(tagged[i : i + size]) for i in range(0, len(tagged), size)]
    pieces.append(writer.end())
    return b"".join(pieces) if writer.binary else "".join(pieces)


def tag_file(path: Path, input_format: str, output_format: str, chunk: int | None = None, **options) -> str | bytes:
    sentences = read(path, input_format, options.get("encoding", "utf-8"))
    tagged = [predict(s, labels=options.get("task") == "labels") for s in sentences]
    return run_writer(output_format, path, tagged, chunk, input_format=input_format, **options)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def drop_appended_columns(line: str, count: int) -> str:
    """A faithful CoNLL output line without the ``count`` columns the writer added."""
    if not line.strip() or line.startswith("-DOCSTART-"):
        return line
    content = line.rstrip(" \t")
    separator = "\t" if "\t" in content else " "
    return content.rsplit(separator, count)[0] + line[len(content) :]


def raw_text_sentences(text: str, path: str = "news.txt") -> list[TaggedSentence]:
    """Raw text as the engine hands it over: a paragraph per document, whitespace-separated words
    (standing in for spaCy's tokenizer) with their character offsets in the file."""
    tagged = []
    for number, paragraph in enumerate(re.finditer(r"\S(?:.*\S)?(?:\n\S.*)*", text)):
        for index, line in enumerate(re.finditer(r"[^\n]+", paragraph.group())):
            spans = [
                (paragraph.start() + line.start() + m.start(), paragraph.start() + line.start() + m.end())
                for m in re.finditer(r"\S+", line.group())
            ]
            metadata = {"newdoc": str(number)} if index == 0 else {}
            sentence = Sentence([text[a:b] for a, b in spans], [], path, 0, metadata)
            tagged.append(predict(sentence, spans))
    return tagged


# --- formats, suffixes and option errors ----------------------------------------------------------


def test_default_output_format_is_the_inputs_own_and_conll_for_raw_text():
    assert [default_output_format(f) for f in ("conll", "conllu", "jsonl", "spacy", "text")] == [
        "conll",
        "conllu",
        "jsonl",
        "spacy",
        "conll",
    ]
    suffixes = [".conll", ".conllu", ".jsonl", ".spacy", ".html", ".json", ".jsonl"]
    assert [output_suffix(f) for f in OUTPUT_FORMATS] == suffixes
    # an annotation tool's export is tagged into that tool's import format, where tagger writes one
    tools = ("labelstudio", "doccano", "prodigy")
    assert [default_output_format(f) for f in tools] == ["labelstudio", "doccano", "conll"]


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: make_writer("xml", None, WriterOptions("conll", "spans")),
            "output format 'xml': expected one of conll",
        ),
        (
            lambda: make_writer("conllu", None, WriterOptions("conll", "spans", conllu_field="feats")),
            "CoNLL-U field 'feats': expected one of upos, xpos, misc",
        ),
        (lambda: make_writer("conll", None, WriterOptions("conll", "spans", scheme="BILOU")), "scheme 'BILOU'"),
        (lambda: make_writer("conll", None, WriterOptions("csv", "spans")), "input format 'csv'"),
        (lambda: output_suffix("txt"), "output format 'txt'"),
        (lambda: default_output_format("pdf"), "input format 'pdf'"),
    ],
)
def test_bad_input_unknown_format_or_field_is_one_clear_line(call, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        call()
    assert "\n" not in str(info.value)


def test_the_old_formatting_functions_are_still_importable():
    assert format_conll(["a", "b c"], ["O", "B-X"], [0.5, 0.25]) == "a\tO\t0.5000\nb c\tB-X\t0.2500\n\n"
    record = json.loads(format_jsonl(["a"], ["O"], [0.123456]))
    assert record == {"words": ["a"], "tags": ["O"], "probabilities": [0.1235]}
    assert format_predictions(["New York"], ["B-LOC"], ["O"]) == "New_York B-LOC O\n\n"


def test_importing_outputs_does_not_import_spacy():
    code = "import sys, tagger.outputs; assert 'spacy' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


# --- CoNLL ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [CONLL03, TABS])
@pytest.mark.parametrize("probabilities", [False, True])
def test_faithful_conll_minus_the_appended_columns_is_the_input_exactly(path, probabilities):
    output = tag_file(path, "conll", "conll", probabilities=probabilities)
    count = 2 if probabilities else 1
    restored = "".join(drop_appended_columns(line, count) + "\n" for line in output.splitlines())
    assert restored == path.read_text(encoding="utf-8")


def test_faithful_conll_appends_the_prediction_with_the_lines_own_separator():
    output = tag_file(TABS, "conll", "conll", probabilities=True)
    assert output.splitlines()[0] == "New York\tB-LOC\tB-PER\t0.9900"
    output = tag_file(CONLL03, "conll", "conll")
    lines = output.splitlines()
    assert lines[:3] == ["-DOCSTART- -X- O O", "", "Zorvath NNP I-NP I-ORG B-PER"]  # no prediction on -DOCSTART-


def test_faithful_conll_reads_back_with_gold_and_predicted_columns():
    output = tag_file(CONLL03, "conll", "conll")
    sentences = read(CONLL03, "conll")
    assert output.count("-DOCSTART-") == 2
    words = [line.split(" ") for line in output.splitlines() if line and not line.startswith("-DOCSTART-")]
    assert [w[4] for w in words] == [t for s in sentences for t in fake_tags(s.words)]
    assert [w[3] for w in words] == [t for s in sentences for t in s.tags]


def test_faithful_conll_keeps_what_the_reader_accepts(tmp_path):
    # BOM, CRLF, trailing whitespace, -DOCSTART- variants, "_" tags, a non-breaking space inside a word,
    # several blank lines, no final newline
    source = write(
        tmp_path,
        "odd.conll",
        "\ufeff-DOCSTART-\t-X-\tO\r\n\r\nA\u00a0B\tNNP\t_  \r\nc\tNN\tO\r\n\r\n\r\n"
        "-DOCSTART-\r\nD\tNNP\tB-PER\t\r\ne\tVB\tO",
    )
    output = tag_file(source, "conll", "conll")
    assert output == (
        "-DOCSTART-\t-X-\tO\n\nA\u00a0B\tNNP\t_\tB-PER  \nc\tNN\tO\tO\n\n\n"
        "-DOCSTART-\nD\tNNP\tB-PER\tB-PER\t\ne\tVB\tO\tO\n"
    )


def test_faithful_conll_of_gzip_and_latin1_inputs(tmp_path):
    import gzip

    text = "M\u00fcnchen NNP B-LOC\nliegt VBZ O\n"
    latin1 = write(tmp_path, "de.conll", text.encode("latin-1"))
    assert tag_file(latin1, "conll", "conll", encoding="latin-1") == text.replace("B-LOC\n", "B-LOC B-PER\n").replace(
        "O\n", "O O\n"
    )
    packed = write(tmp_path, "de.conll.gz", gzip.compress(text.encode("utf-8")))
    assert tag_file(packed, "conll", "conll") == tag_file(latin1, "conll", "conll", encoding="latin-1")


def test_faithful_conll_of_space_separated_lines_with_trailing_spaces(tmp_path):
    source = write(tmp_path, "spaces.conll", "John  NNP B-PER \nruns VBZ O\n\n\n")
    assert tag_file(source, "conll", "conll") == "John  NNP B-PER B-PER \nruns VBZ O O\n\n\n"


def test_conll_from_other_inputs_is_word_tag_lines_with_docstart_where_documents_open():
    output = tag_file(CONLLU, "conllu", "conll", probabilities=True)
    blocks = output.split("\n\n")
    assert blocks[0] == "-DOCSTART-\tO"
    assert blocks[1].splitlines()[4] == "3 p.m.\tO\t0.9895"
    assert tag_file(JSONL, "jsonl", "conll").startswith("Ada\tB-PER\nQuell\tI-PER\nlives\tO\n")


def test_conll_from_raw_text_marks_each_paragraph_as_a_document():
    tagged = raw_text_sentences("Ann Lee runs.\n\nBo sleeps.\n")
    output = run_writer("conll", None, tagged, input_format="text")
    assert output == "-DOCSTART-\tO\n\nAnn\tB-PER\nLee\tI-PER\nruns.\tO\n\n-DOCSTART-\tO\n\nBo\tB-PER\nsleeps.\tO\n\n"


# --- CoNLL-U ------------------------------------------------------------------------------------


def without_tag_in_misc(line: str) -> str:
    fields = line.split("\t")
    if len(fields) != 10 or not fields[0].isdigit():
        return line
    misc = [item for item in fields[9].split("|") if not item.startswith(("Tag=", "TagProb="))]
    return "\t".join(fields[:9] + ["|".join(misc) or "_"])


@pytest.mark.parametrize("probabilities", [False, True])
def test_faithful_conllu_in_misc_minus_the_tag_is_the_input_exactly(probabilities):
    output = tag_file(CONLLU, "conllu", "conllu", probabilities=probabilities)
    restored = "".join(without_tag_in_misc(line) + "\n" for line in output.splitlines())
    assert restored == CONLLU.read_text(encoding="utf-8")
    assert "1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\tTag=B-PER" in output
    assert "1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_\n" in output
    assert "2.1\tleft\tleave\tVERB\tVBD\t_\t_\t_\t1:nsubj\t_\n" in output
    assert ("TagProb=0.9900" in output) == probabilities


@pytest.mark.parametrize("field", ["upos", "xpos", "misc"])
def test_faithful_conllu_is_valid_conllu_with_the_prediction_in_the_chosen_field(tmp_path, field):
    output = write(tmp_path, "out.conllu", tag_file(CONLLU, "conllu", "conllu", conllu_field=field))
    original = read(CONLLU, "conllu")
    for tag_field in ("upos", "xpos"):
        sentences = list(read_sentences(output, CorpusConfig(format="conllu", tag_field=tag_field)))
        expected = (
            [fake_tags(s.words) for s in original]
            if tag_field == field
            else [s.tags for s in read_sentences(CONLLU, CorpusConfig(format="conllu", tag_field=tag_field))]
        )
        assert [s.tags for s in sentences] == expected
        assert [(s.words, s.metadata) for s in sentences] == [(s.words, s.metadata) for s in original]
    lines = output.read_text(encoding="utf-8").splitlines()
    assert sum(line.count("Tag=") for line in lines) == (8 if field == "misc" else 0)


def test_faithful_conllu_appends_to_misc_and_replaces_an_earlier_runs_tag(tmp_path):
    source = write(
        tmp_path,
        "in.conllu",
        "1\tHi\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No\n2\tAnn\t_\t_\t_\t_\t_\t_\t_\tTag=O|TagProb=0.1\n",
    )
    output = tag_file(source, "conllu", "conllu", probabilities=True)
    assert output == (
        "1\tHi\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No|Tag=B-PER|TagProb=0.9900\n"
        "2\tAnn\t_\t_\t_\t_\t_\t_\t_\tTag=I-PER|TagProb=0.9899\n"
    )


def test_conllu_from_other_inputs_is_minimal_valid_conllu(tmp_path):
    output = tag_file(CONLL03, "conll", "conllu", conllu_field="upos")
    assert output.startswith(
        "# newdoc\n# sent_id = 1\n# text = Zorvath Mining hires Keld Amsel .\n1\tZorvath\t_\tB-PER\t_\t_\t_\t_\t_\t_\n"
    )
    sentences = list(read_sentences(write(tmp_path, "out.conllu", output), CorpusConfig(format="conllu")))
    assert [s.tags for s in sentences] == [fake_tags(s.words) for s in read(CONLL03, "conll")]
    assert document_ids(sentences) == [0, 0, 1]


def test_conllu_from_raw_text_has_the_real_text_and_newdoc_per_paragraph():
    text = "Ann  Lee\nruns (fast).\n\nBo sleeps.\n"
    tagged = raw_text_sentences(text)
    output = run_writer("conllu", None, tagged, input_format="text", probabilities=True)
    assert (
        "# newdoc\n# sent_id = 1\n# text = Ann Lee\n1\tAnn\t_\t_\t_\t_\t_\t_\t_\tTag=B-PER|TagProb=0.9900\n" in output
    )
    assert "# sent_id = 2\n# text = runs (fast).\n" in output
    assert "# newdoc\n# sent_id = 3\n# text = Bo sleeps.\n" in output


# --- JSONL ------------------------------------------------------------------------------------


def test_faithful_jsonl_keeps_each_records_keys_in_order_and_sets_the_predictions():
    output = tag_file(JSONL, "jsonl", "jsonl", probabilities=True)
    records = [json.loads(line) for line in output.splitlines()]
    assert len(records) == 2  # the blank line is dropped
    assert list(records[0]) == ["tokens", "tags", "id", "probabilities", "entities"]
    assert records[0]["tokens"] == ["Ada", "Quell", "lives", "in", "Ostvik", "."] and records[0]["id"] == "a1"
    assert records[0]["tags"] == ["B-PER", "I-PER", "O", "O", "B-PER", "O"]
    assert records[0]["probabilities"] == [0.99, 0.9899, 0.9897, 0.9896, 0.9895, 0.9893]
    assert records[0]["entities"] == [
        {"label": "PER", "start_word": 0, "end_word": 2, "text": "Ada Quell"},
        {"label": "PER", "start_word": 4, "end_word": 5, "text": "Ostvik"},
    ]
    assert list(records[1]) == ["words", "tags", "probabilities", "entities"]


def test_faithful_jsonl_keeps_records_without_words_and_drops_stale_predictions(tmp_path):
    source = write(
        tmp_path,
        "in.jsonl",
        '{"words": [], "id": 1}\n{"words": ["Hi"], "probabilities": [0.1], '
        '"meta": {"a": [1, 2]}, "entities": []}\n{"words": [], "id": 3}',
    )
    output = tag_file(source, "jsonl", "jsonl", task="labels")
    assert output.splitlines() == [
        '{"words": [], "id": 1, "tags": []}',
        '{"words": ["Hi"], "meta": {"a": [1, 2]}, "tags": ["NOUN"]}',
        '{"words": [], "id": 3, "tags": []}',
    ]


def test_jsonl_entities_of_raw_text_are_character_offsets_into_the_file():
    text = "Ann Lee met\nBo Dee in Rome.\n\n  Ed Fox  left.\n"
    output = run_writer("jsonl", None, raw_text_sentences(text), input_format="text")
    entities = [e for line in output.splitlines() for e in json.loads(line)["entities"]]
    assert [text[e["start"] : e["end"]] for e in entities] == ["Ann Lee", "Bo Dee", "Rome.", "Ed Fox"]
    assert [e["text"] for e in entities] == ["Ann Lee", "Bo Dee", "Rome.", "Ed Fox"]
    assert set(entities[0]) == {"label", "start", "end", "start_word", "end_word", "text"}  # as TaggedText.entities()


def test_jsonl_entity_text_of_raw_text_reads_whitespace_inside_an_entity_as_one_space():
    text = "Ann\n  Lee left."
    output = run_writer("jsonl", None, raw_text_sentences(text), input_format="text")
    entities = [e for line in output.splitlines() for e in json.loads(line)["entities"]]
    assert [(e["start"], e["end"], e["text"]) for e in entities] == [(0, 3, "Ann"), (6, 9, "Lee")]
    one_line = run_writer("jsonl", None, raw_text_sentences("Ann  Lee left."), input_format="text")
    assert [(e["start"], e["end"], e["text"]) for e in json.loads(one_line)["entities"]] == [(0, 8, "Ann Lee")]


def test_jsonl_from_tokenised_input_gives_word_indices_and_no_entities_for_labels():
    spans = json.loads(tag_file(CONLL03, "conll", "jsonl").splitlines()[0])
    assert spans["entities"][0] == {"label": "PER", "start_word": 0, "end_word": 2, "text": "Zorvath Mining"}
    labels = json.loads(tag_file(CONLL03, "conll", "jsonl", task="labels").splitlines()[0])
    assert list(labels) == ["words", "tags"]


def test_jsonl_entities_follow_the_output_scheme():
    sentence = Sentence(["Ann", "Lee", "and", "Bo"], [])
    tagged = [TaggedSentence(sentence, ["B-PER", "E-PER", "O", "S-PER"], [1.0] * 4)]
    record = json.loads(run_writer("jsonl", None, tagged, input_format="conll", scheme="BIOES"))
    assert [(e["start_word"], e["end_word"]) for e in record["entities"]] == [(0, 2), (3, 4)]


# --- spaCy DocBin -------------------------------------------------------------------------------


def docs_of(data: bytes) -> list:
    return list(DocBin().from_bytes(data).get_docs(spacy.blank("xx").vocab))


@pytest.mark.parametrize("path, input_format", FIXTURE_FORMATS)
def test_docbin_reads_back_with_the_predicted_tags(tmp_path, path, input_format):
    output = write(tmp_path, "out.spacy", tag_file(path, input_format, "spacy"))
    original = read(path, input_format)
    sentences = list(read_docbin(output))
    assert [s.words for s in sentences] == [s.words for s in original]
    assert [s.tags for s in sentences] == [fake_tags(s.words) for s in original]


def test_docbin_has_one_doc_per_document_or_per_sentence_when_none_are_marked():
    assert [len(list(d.sents)) for d in docs_of(tag_file(CONLL03, "conll", "spacy"))] == [2, 1]
    assert len(docs_of(tag_file(JSONL, "jsonl", "spacy"))) == 2
    docs = docs_of(tag_file(CONLLU, "conllu", "spacy"))
    assert len(docs) == 1 and docs[0].user_data["doc_id"] == "doc-1"


def test_docbin_of_labels_uses_pos_for_universal_tags_and_tag_otherwise(tmp_path):
    docs = docs_of(tag_file(CONLL03, "conll", "spacy", task="labels"))
    assert [t.pos_ for t in docs[0]][:3] == ["NOUN", "NOUN", "VERB"] and not docs[0].has_annotation("TAG")
    sentence = Sentence(["the", "dog"], [])
    tagged = [TaggedSentence(sentence, ["DT", "NN"], [1.0, 1.0])]
    docs = docs_of(run_writer("spacy", None, tagged, input_format="conll", task="labels"))
    assert [t.tag_ for t in docs[0]] == ["DT", "NN"] and not docs[0].has_annotation("POS")


def test_docbin_of_raw_text_keeps_the_spacing_of_each_paragraph():
    text = "Ann Lee met Bo.\nThey left (early).\n\nEd  sleeps."
    docs = docs_of(run_writer("spacy", None, raw_text_sentences(text), input_format="text"))
    assert [d.text for d in docs] == ["Ann Lee met Bo. They left (early).", "Ed sleeps."]
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Ann Lee", "PER"), ("Bo.", "PER"), ("They", "PER")]


# --- HTML ---------------------------------------------------------------------------------------


def test_html_escapes_words_and_shows_every_entity_label():
    sentence = Sentence(["<script>alert(1)</script>", "&", "Ann", "Lee", "met", "Bo"], [])
    tags = ["O", "O", "B-PER", "I-PER", "O", "B-<b>"]
    output = run_writer("html", Path("a<b>.txt"), [TaggedSentence(sentence, tags, [1.0] * 6)], input_format="text")
    assert "<script>" not in output and "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in output
    assert "<b>" not in output and "&lt;b&gt;" in output  # a label and a file name are escaped too
    assert output.startswith("<!DOCTYPE html>") and output.endswith("</body>\n</html>\n")
    assert re.search(r"Ann Lee\s*<span[^>]*>PER</span>", output)


def test_html_sentences_are_what_displacy_render_makes_of_them():
    from spacy import displacy

    sentence = Sentence(["Ann", "Lee", "met", "Bo", "<x>"], [])
    output = run_writer(
        "html", None, [TaggedSentence(sentence, fake_tags(sentence.words), [1.0] * 5)], input_format="conll"
    )
    manual = {
        "text": "Ann Lee met Bo <x>",
        "ents": [{"start": 0, "end": 7, "label": "PER"}, {"start": 12, "end": 14, "label": "PER"}],
    }
    rendered = displacy.render(manual, style="ent", manual=True, page=False, options={"colors": {"PER": "#aa9cfc"}})
    assert rendered + "\n" in output


def test_html_has_a_section_per_document_and_every_label():
    output = tag_file(CONLL03, "conll", "html")
    assert output.count('<section class="document">') == 2 and output.count("</section>") == 2
    assert "<h2>Document 1</h2>" in output and "<h2>Document 2</h2>" in output
    assert output.count('<div class="entities"') == 3  # one per sentence
    for label in {t.split("-")[1] for s in read(CONLL03, "conll") for t in fake_tags(s.words) if t != "O"}:
        assert f">{label}</span>" in output


def test_html_of_raw_text_has_an_untitled_section_per_paragraph():
    output = run_writer(
        "html", Path("news.txt"), raw_text_sentences("Ann Lee met Bo.\n\nEd  sleeps.\n"), input_format="text"
    )
    assert output.count('<section class="document">\n<div class="entities"') == 2 and "<h2>" not in output
    assert "<title>news.txt</title>" in output and " sleeps.</div>" in output


def test_html_of_labels_puts_each_tag_under_its_word():
    sentence = Sentence(["I", "<3", "tea"], [])
    output = run_writer(
        "html",
        None,
        [TaggedSentence(sentence, ["PRON", "VERB", "<X>"], [1.0] * 3)],
        input_format="conll",
        task="labels",
    )
    assert (
        '<p class="sentence"><span class="word">I<span class="tag">PRON</span></span> '
        '<span class="word">&lt;3<span class="tag">VERB</span></span> '
        '<span class="word">tea<span class="tag">&lt;X&gt;</span></span></p>'
    ) in output
    assert '<section class="document">\n<p' in output  # a file that marks no documents: one untitled section


# --- streaming and size ---------------------------------------------------------------------------


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
@pytest.mark.parametrize("path, input_format", FIXTURE_FORMATS)
def test_one_sentence_chunks_write_what_one_chunk_writes(output_format, path, input_format):
    whole = tag_file(path, input_format, output_format, probabilities=True)
    assert tag_file(path, input_format, output_format, chunk=1, probabilities=True) == whole
    assert tag_file(path, input_format, output_format, chunk=2, probabilities=True) == whole


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_raw_text_chunks_write_what_one_chunk_writes(output_format):
    tagged = raw_text_sentences("Ann Lee met Bo.\nThey left.\n\nEd sleeps.\n")
    whole = run_writer(output_format, None, tagged, input_format="text")
    assert run_writer(output_format, None, tagged, chunk=1, input_format="text") == whole


def test_no_sentences_still_makes_a_whole_file():
    assert run_writer("html", None, [], input_format="conll").endswith("</html>\n")
    assert docs_of(run_writer("spacy", None, [], input_format="conll")) == []
    assert run_writer("conll", None, [], input_format="conll") == ""


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
@pytest.mark.parametrize("input_format", ["conll", "conllu", "jsonl"])
def test_a_5000_word_sentence(tmp_path, output_format, input_format):
    words = [f"Word{i}" if i % 7 == 0 else f"w\u00a0{i}" for i in range(5000)]
    content = {
        "conll": "".join(f"{w}\t_\n" for w in words),
        "conllu": "".join(f"{i}\t{w}\t_\t_\t_\t_\t_\t_\t_\t_\n" for i, w in enumerate(words, 1)),
        "jsonl": json.dumps({"words": words}, ensure_ascii=False) + "\n",
    }[input_format]
    source = write(tmp_path, f"long.{input_format}", content)
    output = tag_file(source, input_format, output_format)
    if output_format == "spacy":
        assert [s.words for s in read_docbin(write(tmp_path, "out.spacy", output))] == [words]
    elif output_format == input_format:
        assert output.count("B-PER") == 715
    else:
        assert "w\u00a04999" in output


# --- contract checks --------------------------------------------------------------------------------


def test_a_sentence_out_of_step_with_the_file_is_a_bug_not_garbage():
    sentences = read(CONLL03, "conll")
    with pytest.raises(ValueError, match="came after line"):
        run_writer("conll", CONLL03, [predict(s) for s in reversed(sentences)], input_format="conll")
    moved = Sentence(sentences[0].words, [], str(CONLL03), sentences[1].line)
    with pytest.raises(ValueError, match="expected word 'Zorvath'"):
        run_writer("conll", CONLL03, [predict(moved)], input_format="conll")
    with pytest.raises(ValueError, match="2 words but 1 tags"):
        run_writer("jsonl", None, [TaggedSentence(Sentence(["a", "b"], []), ["O"], [1.0, 1.0])], input_format="conll")


def test_without_an_input_path_conll_input_is_written_as_word_tag_lines():
    tagged = [predict(s) for s in read(CONLL03, "conll")]
    assert run_writer("conll", None, tagged, input_format="conll").startswith("-DOCSTART-\tO\n\nZorvath\tB-PER\n")


@pytest.mark.parametrize("output_format, name", [("conll", "CoNLL"), ("conllu", "CoNLL-U")])
def test_bad_input_a_jsonl_word_with_a_tab_or_line_break_cannot_become_a_column(tmp_path, output_format, name):
    source = write(tmp_path, "odd.jsonl", '{"words": ["fine"]}\n{"words": ["a\\tb", "c"]}\n')
    with pytest.raises(
        CorpusFormatError,
        match=re.escape(
            f"odd.jsonl:2: word 'a\\tb' holds a tab or a line break; expected words that {name} columns can hold"
        ),
    ):
        tag_file(source, "jsonl", output_format)
    assert json.loads(tag_file(source, "jsonl", "jsonl").splitlines()[1])["words"] == ["a\tb", "c"]


# --- with a trained model ---------------------------------------------------------------------------


def test_writers_with_a_trained_models_predictions(trained_model, ner_files, tmp_path):
    from tagger.tagging.torch_tagger import Tagger

    tagger = Tagger.load(trained_model, device="cpu")
    sentences = read(ner_files[1], "conll")
    pairs = tagger.tag([s.words for s in sentences], scores=True)
    tagged = [TaggedSentence(s, [t for t, _ in p], [x for _, x in p]) for s, p in zip(sentences, pairs)]
    options = {"input_format": "conll", "task": tagger.task, "probabilities": True}
    output = run_writer("conll", ner_files[1], tagged, **options)
    rows = [line.split(" ") for line in output.splitlines() if line]
    assert [r[2] for r in rows] == [r[1] for r in rows]  # the model is perfect on its dev set: prediction == gold
    assert all(0.0 < float(r[3]) <= 1.0 and len(r[3]) == 6 for r in rows)
    records = [json.loads(line) for line in run_writer("jsonl", ner_files[1], tagged, **options).splitlines()]
    assert records[0]["entities"][0] == {"label": "PER", "start_word": 0, "end_word": 2, "text": "John Smith"}
    docbin = write(tmp_path, "dev.spacy", run_writer("spacy", ner_files[1], tagged, **options))
    assert [s.tags for s in read_docbin(docbin)] == [s.tags for s in sentences]
