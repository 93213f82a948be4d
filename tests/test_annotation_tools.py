"""Annotation-tool exports in (Label Studio JSON, doccano JSONL, spaCy/Prodigy JSONL) and predictions back out
(``tagger tag --output-format labelstudio|doccano``): the formats as the tools write them, character spans aligned
to the words of ``tagger tag``'s tokenizer, the refusals in one line, and the round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tagger.batch import BatchOptions, tag_to_stream
from tagger.config import CorpusConfig, load_config
from tagger.corpus import ConvertOptions, convert_corpus, detect_format, read_corpus, read_sentences
from tagger.corpus.doccano import NO_ANNOTATION as DOCCANO_SKIPPED
from tagger.corpus.labelstudio import NO_ANNOTATION as TASK_SKIPPED
from tagger.corpus.prodigy import NO_ANNOTATION as PRODIGY_SKIPPED
from tagger.corpus.spans import SENTENCES_JOINED, SPAN_REPEATED, SPAN_WIDENED
from tagger.errors import ConfigError, CorpusFormatError
from tagger.outputs.labelstudio import model_version
from tests.conftest import NER_SENTENCES
from tests.test_cli import assert_user_error, invoke

TEXT = "John Smith lives in Paris. He likes it."


def write(folder: Path, name: str, content: str) -> Path:
    path = folder / name
    path.write_text(content, encoding="utf-8")
    return path


def jsonl(folder: Path, name: str, *records: dict) -> Path:
    return write(folder, name, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def labels(start: int, end: int, label: str, **value) -> dict:
    return {
        "type": "labels",
        "from_name": "label",
        "to_name": "text",
        "value": {"start": start, "end": end, "labels": [label], **value},
    }


def task(text: str, *annotations: dict, **fields) -> dict:
    return {"data": {"text": text}, "annotations": list(annotations), **fields}


def words_and_tags(path: Path, config: CorpusConfig = CorpusConfig()) -> list[tuple[list[str], list[str]]]:
    return [(s.words, s.tags) for s in read_corpus(path, config)[0]]


def one_line_error(path: Path, config: CorpusConfig = CorpusConfig()) -> CorpusFormatError:
    with pytest.raises(CorpusFormatError) as caught:
        read_corpus(path, config)
    assert "\n" not in str(caught.value)
    return caught.value


def ner_conll(folder: Path, name: str, sentences=NER_SENTENCES) -> Path:
    blocks = ["\n".join(f"{w} {t}" for w, t in zip(words.split(), tags.split())) for words, tags in sentences]
    return write(folder, name, "\n\n".join(blocks) + "\n")


# --- Label Studio ---------------------------------------------------------------------------------------------


def test_label_studio_takes_the_latest_annotation_not_cancelled(tmp_path):
    person, place = labels(0, 10, "PER"), labels(20, 25, "LOC")
    path = write(
        tmp_path,
        "export.json",
        json.dumps(
            [
                task(
                    TEXT,
                    {"result": [place], "updated_at": "2024-05-01T10:00:00Z"},
                    {"result": [person], "updated_at": "2024-04-01T10:00:00.123456Z"},
                    {"result": [person, place], "updated_at": "2024-06-01T10:00:00Z", "was_cancelled": True},
                    id=7,
                ),
                task("Paris", {"result": [labels(0, 5, "LOC")]}, {"result": []}),  # no times: the last in the list
                task(
                    "Berlin",
                    {"result": [labels(0, 6, "LOC")], "created_at": "2024-01-01T00:00:00Z"},
                    {"result": [], "created_at": "2023-01-01T00:00:00Z"},
                ),  # created_at where updated_at is absent
            ],
            indent=2,
        ),
    )
    sentences, report = read_corpus(path)
    assert [(s.words, s.tags) for s in sentences] == [
        (["John", "Smith", "lives", "in", "Paris", "."], ["O", "O", "O", "O", "B-LOC", "O"]),
        (["He", "likes", "it", "."], ["O", "O", "O", "O"]),
        (["Paris"], ["O"]),
        (["Berlin"], ["B-LOC"]),
    ]
    assert report.format == "labelstudio" and report.documents == 3
    assert sentences[0].metadata == {"newdoc id": "7"} and sentences[1].metadata == {}
    starts = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line == "  {"]
    assert [s.line for s in sentences] == [starts[0], starts[0], starts[1], starts[2]]  # where each task starts


def test_label_studio_tasks_without_an_annotation_are_skipped_and_counted(tmp_path):
    path = write(
        tmp_path,
        "export.json",
        json.dumps(
            [
                task(TEXT, {"result": [labels(0, 10, "PER")]}),
                task("Not annotated"),
                task("Skipped by its annotator", {"result": [], "was_cancelled": True}),
                {"data": {"text": "Predicted only"}, "predictions": [{"result": [labels(0, 9, "ORG")]}]},
            ]
        )
        + "\n",
    )
    sentences, report = read_corpus(path)
    assert [s.words[0] for s in sentences] == ["John", "He"]
    assert report.repaired_lines == {TASK_SKIPPED: 3} and report.first_repaired == {TASK_SKIPPED: f"{path}:1"}
    # read for tagging, every task is read, untagged
    assert [s.words[0] for s in read_sentences(path, tags_required=False)] == [
        "John",
        "He",
        "Not",
        "Skipped",
        "Predicted",
    ]


def test_label_studio_passes_other_results_over_and_reads_old_completions(tmp_path):
    choice = {"type": "choices", "from_name": "topic", "to_name": "text", "value": {"choices": ["news"]}}
    relation = {"type": "relation", "from_id": "a", "to_id": "b", "direction": "right"}
    path = write(
        tmp_path,
        "old.json",
        json.dumps(
            [
                {
                    "data": {"text": "Paris", "label": []},
                    "completions": [{"result": [labels(0, 5, "LOC"), choice, relation], "created_at": 1609789589}],
                },
            ]
        ),
    )
    assert words_and_tags(path) == [(["Paris"], ["B-LOC"])]


@pytest.mark.parametrize(
    "bad, fragments",
    [
        (
            task(TEXT, {"result": [labels(0, 10, "PER", text="Jon Smith")]}),
            ["task 2: span [0, 10) names the text 'Jon Smith', but the task's text there is 'John Smith'"],
        ),
        (
            task(TEXT, {"result": [{"type": "hypertextlabels", "value": {"start": "/p[1]", "end": "/p[1]"}}]}),
            ["task 2: a 'hypertextlabels' result", "'labels' results"],
        ),
        (
            task(TEXT, {"result": [labels(0, 10, "PER") | {"value": {"start": 0, "end": 10, "labels": ["A", "B"]}}]}),
            ["task 2: a result whose value is", "one label"],
        ),
        (task(TEXT, {"result": [labels(0, 10, "Person name")]}), ["span label 'Person name'", "without whitespace"]),
        (task(TEXT, {"result": [labels(0, 99, "PER")]}), ["span [0, 99) (PER)", "0 <= start < end <= 39"]),
        (task(TEXT, {"result": [labels(10, 11, "PER")]}), ["span [10, 11) ' ' (PER) covers no word"]),
        ({"id": 3, "data": {"document": TEXT}, "annotations": []}, ["task 2 (id 3): data keys ['document']"]),
        ({"text": TEXT, "label": [{"start": 0, "end": 10, "labels": ["PER"]}]}, ["not JSON-MIN"]),
    ],
)
def test_bad_input_label_studio_tasks_are_refused_at_their_line(tmp_path, bad, fragments):
    path = write(tmp_path, "export.json", "[\n" + json.dumps(task("Paris")) + ",\n" + json.dumps(bad) + "\n]\n")
    error = one_line_error(path, CorpusConfig(format="labelstudio"))
    assert str(error).startswith(f"{path}:3: ") and "expected" in str(error)
    for fragment in fragments:
        assert fragment in str(error), error


def test_bad_input_label_studio_json_that_is_not_an_array_of_tasks(tmp_path):
    cut = write(tmp_path, "cut.json", '[\n{"data": {"text": "Paris"}, "annotations": []},\n{"data": ')
    assert str(one_line_error(cut)).startswith(f"{cut}:3: invalid JSON")
    unclosed = write(tmp_path, "unclosed.json", '[\n{"data": {"text": "Paris"}, "annotations": []}\n')
    assert "the end of the file inside the array" in str(one_line_error(unclosed))


# --- doccano ------------------------------------------------------------------------------------------------------


def test_doccano_label_triples_and_entities_objects(tmp_path):
    # the records of doccano's own export example, and a project with relations
    path = jsonl(
        tmp_path,
        "admin.jsonl",
        {
            "id": 1,
            "text": "EU rejects German call to boycott British lamb.",
            "label": [[0, 2, "ORG"], [11, 17, "MISC"]],
            "Comments": [],
        },
        {"text": "Peter Blackburn", "label": [[0, 15, "PERSON"]]},
        {
            "id": 3,
            "text": "President Obama",
            "entities": [{"id": 9, "label": "PERSON", "start_offset": 10, "end_offset": 15}],
            "relations": [],
        },
        {"text": "Unlabelled, as imported"},
    )
    sentences, report = read_corpus(path)
    assert [(s.words, s.tags) for s in sentences] == [
        (
            ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
            ["B-ORG", "O", "B-MISC", "O", "O", "O", "O", "O", "O"],
        ),
        (["Peter", "Blackburn"], ["B-PERSON", "I-PERSON"]),
        (["President", "Obama"], ["O", "B-PERSON"]),
    ]
    assert report.format == "doccano" and report.repaired_lines == {DOCCANO_SKIPPED: 1}
    assert sentences[0].metadata == {"newdoc id": "1"}


def test_doccano_offsets_count_utf16_code_units(tmp_path):
    # doccano counts "😀" (U+1F600) as two, as JavaScript does: "Peter" starts at unit 3, character 2
    path = jsonl(tmp_path, "emoji.jsonl", {"text": "😀 Peter and 😀😀 Ann", "label": [[3, 8, "PER"], [18, 21, "PER"]]})
    assert words_and_tags(path) == [(["😀", "Peter", "and", "😀", "😀", "Ann"], ["O", "B-PER", "O", "O", "O", "B-PER"])]
    inside = jsonl(tmp_path, "inside.jsonl", {"text": "😀 Peter", "label": [[1, 8, "PER"]]})
    assert "offset 1 is not between characters of the text counted in UTF-16 code units" in str(one_line_error(inside))


def test_bad_input_a_doccano_classification_export_is_refused(tmp_path):
    path = jsonl(tmp_path, "classes.jsonl", {"text": "Great phone", "label": ["positive"]})
    error = one_line_error(path)
    assert str(error).startswith(f'{path}:1: span "positive"') and "text-classification export" in str(error)


# --- spaCy / Prodigy -----------------------------------------------------------------------------------------------


def test_prodigy_records_use_their_own_tokens_and_skip_what_was_not_accepted(tmp_path):
    text = "Ostvik 1999-03-04 . Keld came"
    tokens = [
        {"text": t, "start": text.index(t), "end": text.index(t) + len(t), "id": i, "ws": True}
        for i, t in enumerate(["Ostvik", "1999-03-04", ".", "Keld", "came"])
    ]
    path = jsonl(
        tmp_path,
        "db-out.jsonl",
        {
            "text": text,
            "tokens": tokens,
            "spans": [{"start": 0, "end": 6, "token_start": 0, "token_end": 0, "label": "LOC"}],
            "answer": "accept",
        },
        {"text": "Rejected Paris", "spans": [{"start": 9, "end": 14, "label": "LOC"}], "answer": "reject"},
        {"text": "Ignored", "spans": [], "answer": "ignore"},
        {"text": "Paris, no tokens", "spans": [{"start": 0, "end": 5, "label": "LOC"}]},
    )
    sentences, report = read_corpus(path)
    assert [(s.words, s.tags) for s in sentences] == [
        (["Ostvik", "1999-03-04", "."], ["B-LOC", "O", "O"]),  # the given token, which spaCy would split
        (["Keld", "came"], ["O", "O"]),  # the sentencizer splits the given tokens
        (["Paris", ",", "no", "tokens"], ["B-LOC", "O", "O", "O"]),
    ]
    assert report.format == "prodigy" and report.repaired_lines == {PRODIGY_SKIPPED: 2}


def test_given_sentences_split_given_tokens_or_the_tokenizers_words_in_every_format(tmp_path):
    text = 'LONDON 1996-08-30 " I \'m sure . " Hoddle said .'
    words = ["LONDON", "1996-08-30", '"', "I", "'m", "sure", ".", '"', "Hoddle", "said", "."]
    starts, position = [], 0
    for word in words:
        starts.append(text.index(word, position))
        position = starts[-1] + len(word)
    tokens = [{"text": w, "start": a, "end": a + len(w)} for w, a in zip(words, starts)]
    sents = [{"start": 0, "end": 17}, {"start": 18, "end": len(text)}]
    spans = [(0, 6, "LOC"), (34, 40, "PER")]
    given = {"tokens": tokens, "sents": sents}
    exports = {
        "labelstudio": write(
            tmp_path,
            "ls.json",
            json.dumps([{"data": {"text": text, **given}, "annotations": [{"result": [labels(*s) for s in spans]}]}]),
        ),
        "doccano": jsonl(tmp_path, "d.jsonl", {"text": text, "label": [list(s) for s in spans], **given}),
        "prodigy": jsonl(
            tmp_path,
            "p.jsonl",
            {"text": text, "spans": [dict(zip(("start", "end", "label"), s)) for s in spans], **given},
        ),
    }
    for fmt, path in exports.items():
        assert detect_format(path) == fmt
        assert (
            words_and_tags(path)
            == [  # the given words and sentences, where spaCy would split both otherwise
                (["LONDON", "1996-08-30"], ["B-LOC", "O"]),
                (words[2:], ["O", "O", "O", "O", "O", "O", "B-PER", "O", "O"]),
            ]
        ), fmt
    sentences_only = jsonl(
        tmp_path, "s.jsonl", {"text": "Mr. Smith came. He left.", "label": [], "sents": [{"start": 0, "end": 24}]}
    )
    assert [s.words for s in read_corpus(sentences_only)[0]] == [["Mr.", "Smith", "came", ".", "He", "left", "."]]


@pytest.mark.parametrize(
    "sents, found",
    [
        ('{"start": 0, "end": 5}', '"sents": {"start": 0, "end": 5}'),
        ('[{"start": 0}]', 'sentence {"start": 0}'),
        ('[{"start": 6, "end": 9}, {"start": 0, "end": 5}]', 'sentence {"start": 0, "end": 5}'),
        ('[{"start": 0, "end": 99}]', 'sentence {"start": 0, "end": 99}'),
    ],
)
def test_bad_input_given_sentences_out_of_order_or_outside_the_text(tmp_path, sents, found):
    path = write(tmp_path, "s.jsonl", f'{{"text": "Paris is big", "label": [], "sents": {sents}}}\n')
    message = str(one_line_error(path))
    assert message.startswith(f"{path}:1: ") and found in message and "character ranges of the text" in message


def test_bad_input_prodigy_tokens_that_are_not_the_text(tmp_path):
    path = jsonl(
        tmp_path, "t.jsonl", {"text": "Paris", "tokens": [{"text": "Rome", "start": 0, "end": 5}], "spans": []}
    )
    assert str(one_line_error(path)).startswith(f'{path}:1: token {{"text": "Rome"')


# --- detection --------------------------------------------------------------------------------------------------------


def test_a_label_studio_export_on_one_long_line_is_known_by_its_start(tmp_path):
    from tagger.corpus.reading import SNIFF_BYTES

    tasks = [task(TEXT, {"result": [labels(0, 10, "PER")]}) for _ in range(SNIFF_BYTES // len(TEXT) + 1)]
    one_line = write(tmp_path, "export.json", json.dumps(tasks))
    assert one_line.stat().st_size > SNIFF_BYTES and detect_format(one_line) == "labelstudio"
    no_extension = write(tmp_path, "export", json.dumps(tasks))
    assert detect_format(no_extension) == "labelstudio"
    assert len(read_corpus(one_line)[0]) == 2 * len(tasks)


def test_formats_are_detected_by_content_under_json_extensions_and_forced_by_corpus_format(tmp_path):
    records = {
        "labelstudio": "[\n" + json.dumps(task("Paris", {"result": []})) + "\n]\n",
        "doccano": json.dumps({"text": "Paris", "label": []}) + "\n",
        "prodigy": json.dumps({"text": "Paris", "spans": []}) + "\n",
        "jsonl": json.dumps({"words": ["Paris"], "tags": ["B-LOC"]}) + "\n",
    }
    for fmt, content in records.items():
        for name in ("data.json", "data.jsonl", "data", "data.txt"):
            path = write(tmp_path, name, content)
            assert detect_format(path) == fmt, (fmt, name)
    big = write(tmp_path, "big.json", "[\n" + ",\n".join([json.dumps(task("Paris " * 3000))] * 10) + "\n]\n")
    assert detect_format(big) == "labelstudio"  # an array longer than the sample read to detect it
    assert detect_format(write(tmp_path, "bracket.conll", "[ O\nParis B-LOC\n")) == "conll"
    assert detect_format(write(tmp_path, "bracket", "[\tO\nParis\tB-LOC\n")) == "conll"
    doccano = write(tmp_path, "forced.jsonl", records["doccano"])
    assert read_corpus(doccano, CorpusConfig(format="doccano"))[1].format == "doccano"
    with pytest.raises(CorpusFormatError, match="forced.jsonl:1: keys"):
        read_corpus(doccano, CorpusConfig(format="jsonl"))


# --- alignment ---------------------------------------------------------------------------------------------------------


def test_spans_are_aligned_to_the_words_of_tagger_tag(tmp_path):
    path = jsonl(
        tmp_path,
        "align.jsonl",
        # whitespace around a span is no cut; the tokenizer keeps "Anglo-Dutch" one word, as CoNLL-2003 does
        {"text": "The  Anglo-Dutch firm of Mr. Smith", "label": [[4, 17, "MISC"], [24, 34, "PER"]]},
        # a span repeated (also with a trailing space) is read once
        {"text": "Paris is big", "label": [[0, 5, "LOC"], [0, 5, "LOC"], [0, 6, "LOC"]]},
        # the sentencizer ends a sentence after "!": a span across it joins the two sentences
        {"text": "Yahoo! Inc. hired Ann. She left.", "label": [[0, 11, "ORG"], [18, 21, "PER"]]},
    )
    sentences, report = read_corpus(path)
    assert [(s.words, s.tags) for s in sentences] == [
        (["The", "Anglo-Dutch", "firm", "of", "Mr.", "Smith"], ["O", "B-MISC", "O", "O", "B-PER", "I-PER"]),
        (["Paris", "is", "big"], ["B-LOC", "O", "O"]),
        (["Yahoo", "!", "Inc.", "hired", "Ann", "."], ["B-ORG", "I-ORG", "I-ORG", "O", "B-PER", "O"]),
        (["She", "left", "."], ["O", "O", "O"]),
    ]
    assert report.repaired_lines == {SPAN_REPEATED: 2, SENTENCES_JOINED: 1}
    assert report.first_repaired == {SPAN_REPEATED: f"{path}:2", SENTENCES_JOINED: f"{path}:3"}


def test_bad_input_spans_that_cut_words_are_counted_and_refused_in_one_line_or_widened(tmp_path):
    path = jsonl(
        tmp_path,
        "cut.jsonl",
        {"text": "Paris is big", "label": [[0, 5, "LOC"]]},
        {"text": "John Smith lives in Paris", "label": [[0, 3, "PER"], [20, 25, "LOC"]]},
        {"text": "Berlino", "label": [[0, 6, "LOC"]]},
        {"text": "a bc d", "label": [[3, 4, "X"]]},
        {"text": "Anna Lee", "label": [[1, 8, "PER"]]},
    )
    error = one_line_error(path)
    assert str(error) == (
        f"{path}:2: 4 spans cut a word: line 2: [0, 3) 'Joh' (PER) cuts 'John'; line 3: [0, 6) 'Berlin' (LOC) cuts "
        "'Berlino'; line 4: [3, 4) 'c' (X) cuts 'bc'; and 1 more; expected spans on word boundaries, as the tokenizer "
        "of `tagger tag` splits the text (pass `corpus.snap_spans=true` to widen each to whole words, or fix the spans)"
    )
    sentences, report = read_corpus(path, CorpusConfig(snap_spans=True))
    assert [s.tags for s in sentences][1:] == [
        ["B-PER", "O", "O", "O", "B-LOC"],
        ["B-LOC"],
        ["O", "B-X", "O"],
        ["B-PER", "I-PER"],
    ]
    assert report.repaired_lines == {SPAN_WIDENED: 4} and report.first_repaired == {SPAN_WIDENED: f"{path}:2"}


def test_bad_input_overlapping_spans_are_refused_naming_both(tmp_path):
    path = jsonl(
        tmp_path,
        "overlap.jsonl",
        {"text": "Paris", "label": []},
        {"text": "John Smith lives in Paris", "label": [[0, 10, "PER"], [5, 16, "X"]]},
    )
    assert str(one_line_error(path)) == (
        f"{path}:2: overlapping spans [0, 10) 'John Smith' (PER) and [5, 16) 'Smith lives' (X); expected spans that "
        "do not overlap (each word is in at most one entity) (remove or shorten one of them)"
    )
    same_words = jsonl(tmp_path, "same.jsonl", {"text": "Paris is big", "label": [[0, 5, "LOC"], [0, 5, "ORG"]]})
    assert "overlapping spans [0, 5) 'Paris' (LOC) and [0, 5) 'Paris' (ORG)" in str(one_line_error(same_words))
    snapped = jsonl(tmp_path, "snapped.jsonl", {"text": "Berlino", "label": [[0, 3, "LOC"], [4, 7, "ORG"]]})
    assert "overlapping spans" in str(one_line_error(snapped, CorpusConfig(snap_spans=True)))


def test_bad_input_a_text_with_a_control_character(tmp_path):
    path = jsonl(
        tmp_path,
        "c.jsonl",
        {"text": "Paris\u0007 is big", "label": []},
        {"text": "Windows\r\nline breaks\fare whitespace", "label": []},
    )
    assert str(one_line_error(path)).startswith(f"{path}:1: text with a control character U+0007 at character 5")


@pytest.mark.parametrize(
    "name, content, fragments",
    [
        (
            "cut.jsonl",
            {"text": "John Smith", "label": [[0, 3, "PER"]]},
            ["cut.jsonl:1: 1 span cuts a word: line 1: [0, 3) 'Joh' (PER) cuts 'John'", "--set corpus.snap_spans=true"],
        ),
        (
            "overlap.jsonl",
            {"text": "John Smith", "label": [[0, 10, "PER"], [5, 10, "X"]]},
            ["overlap.jsonl:1: overlapping spans [0, 10) 'John Smith' (PER) and [5, 10) 'Smith' (X)"],
        ),
        (
            "empty.json",
            [task("John Smith"), task("Ann Lee", {"result": [], "was_cancelled": True})],
            ["empty.json: no sentences"],
        ),
    ],
)
def test_bad_input_cutting_overlapping_and_unannotated_exports_through_the_cli(tmp_path, name, content, fragments):
    path = write(tmp_path, name, json.dumps(content) + "\n")
    for command in (["data", "--train", path], ["train", "--train", path, "--dev", path, "--out", tmp_path / "m"]):
        result = invoke(*command)
        assert_user_error(result, *fragments)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_tagger_data_counts_the_tasks_skipped(tmp_path):
    path = write(tmp_path, "export.json", json.dumps([task(TEXT, {"result": [labels(0, 10, "PER")]}), task("Not yet")]))
    result = invoke("data", "--train", path, "--json")
    assert result.exit_code == 0, result.output
    split = json.loads(result.stdout)["splits"][0]
    assert split["format"] == "labelstudio" and split["sentences"] == 2
    assert split["repaired_lines"] == [{"kind": TASK_SKIPPED, "count": 1, "path": str(path), "line": 1}]


# --- writing: tagger convert ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt, name", [("labelstudio", "ner.json"), ("doccano", "ner.jsonl"), ("prodigy", "ner.jsonl")])
def test_a_conll_file_converted_reads_back_as_the_same_words_and_tags(tmp_path, fmt, name):
    # words the tokenizer would split and a sentence the sentencizer would cut come back as they went out
    unsplit = [("LONDON 1996-08-30", "B-LOC O"), ('" I \'m sure . " Hoddle said .', "O O O O O O B-PER O O")]
    conll = ner_conll(tmp_path, "ner.conll", NER_SENTENCES + unsplit)
    result = invoke("convert", conll, tmp_path / name, "--to", fmt)
    assert result.exit_code == 0, result.output
    assert detect_format(tmp_path / name) == fmt
    assert words_and_tags(tmp_path / name) == words_and_tags(conll)


def test_writers_refuse_what_a_text_cannot_keep(tmp_path):
    spaced = jsonl(tmp_path, "spaced.jsonl", {"words": ["New York", "is"], "tags": ["B-LOC", "O"]})
    with pytest.raises(CorpusFormatError, match="spaced.jsonl:1: cannot write word 'New York': a space"):
        convert_corpus(spaced, tmp_path / "out.json", ConvertOptions(target_format="labelstudio"))
    pos = jsonl(tmp_path, "pos.jsonl", {"words": ["Paris", "is"], "tags": ["PROPN", "AUX"]})
    with pytest.raises(CorpusFormatError, match="cannot write tag 'PROPN'; expected span tags"):
        convert_corpus(pos, tmp_path / "out.jsonl", ConvertOptions(target_format="doccano"))


def test_doccano_written_from_text_with_emoji_counts_utf16_units(tmp_path):
    source = jsonl(tmp_path, "e.jsonl", {"words": ["😀", "Ann", "Lee"], "tags": ["O", "B-PER", "I-PER"]})
    convert_corpus(source, tmp_path / "d.jsonl", ConvertOptions(target_format="doccano"))
    record = json.loads((tmp_path / "d.jsonl").read_text(encoding="utf-8"))
    assert (record["text"], record["label"]) == ("😀 Ann Lee", [[3, 10, "PER"]])
    # the words tagger writes beside them are its own field, in characters like every offset it reads
    assert [(t["text"], t["start"]) for t in record["tokens"]] == [("😀", 0), ("Ann", 2), ("Lee", 6)]
    assert words_and_tags(tmp_path / "d.jsonl") == [(["😀", "Ann", "Lee"], ["O", "B-PER", "I-PER"])]
    assert words_and_tags(tmp_path / "d.jsonl") == words_and_tags(source)


# --- training from the exports ------------------------------------------------------------------------------------


def test_models_trained_from_label_studio_and_doccano_exports_equal_the_one_from_conll(tmp_path, ner_files):
    """Exports made from the CoNLL files (spans over texts the tokenizer splits into the same words) train the same
    model, bit for bit, so its F1 on the CoNLL dev set is the same."""
    from tagger.tagging.torch_tagger import Tagger
    from tagger.training import DataSource, train

    config = load_config(
        None,
        [
            "model.word_dim=16",
            "model.char_dim=8",
            "model.char_filters=8",
            "model.hidden=16",
            "train.epochs=4",
            "train.lr=0.02",
            "train.batch_size=4",
            "train.device=cpu",
        ],
    )
    conll_dev = read_corpus(ner_files[1])[0]
    scores, weights = {}, {}
    for fmt, suffix in (("conll", ".conll"), ("labelstudio", ".json"), ("doccano", ".jsonl")):
        files = [ner_files[0], ner_files[1]]
        if fmt != "conll":
            files = [tmp_path / f"{f.stem}{suffix}" for f in ner_files]
            for source, target in zip(ner_files, files):
                convert_corpus(source, target, ConvertOptions(target_format=fmt))
        train(config, DataSource(files[0], files[1]), tmp_path / fmt)
        evaluation = Tagger.load(tmp_path / fmt, device="cpu").evaluate(conll_dev)[0]
        scores[fmt] = evaluation.conlleval.micro.f1
        weights[fmt] = (tmp_path / fmt / "model.safetensors").read_bytes()
    assert scores["labelstudio"] == scores["doccano"] == scores["conll"]
    assert weights["labelstudio"] == weights["doccano"] == weights["conll"]


# --- predictions back out: tagger tag --output-format labelstudio | doccano ----------------------------------------


def tag(model: Path, source: Path, output: Path, fmt: str, **options) -> Path:
    tag_to_stream(model, [str(source)], output, BatchOptions(output_format=fmt, device="cpu", workers=1, **options))
    return output


def accepted(predictions: Path, target: Path) -> Path:
    """The tasks as an annotator who accepts every prediction unchanged would export them."""
    tasks = json.loads(predictions.read_text(encoding="utf-8"))
    for item in tasks:
        item["annotations"] = [{"result": item.pop("predictions")[0]["result"]}]
    return write(target.parent, target.name, json.dumps(tasks, ensure_ascii=False))


def raw_text(folder: Path) -> Path:
    paragraphs = [" ".join(words.split()).replace(" .", ".") for words, _ in NER_SENTENCES]
    text = "\n\n".join(f"{a}\n{b}" for a, b in zip(paragraphs[::2], paragraphs[1::2]))
    return write(folder, "news.txt", "😀 " + text + "\n")


def test_tag_to_label_studio_and_back_gives_the_same_entities(trained_model, tmp_path):
    source = raw_text(tmp_path)
    output = tag(trained_model, source, tmp_path / "tasks.json", "labelstudio")
    tasks = json.loads(output.read_text(encoding="utf-8"))
    assert len(tasks) == 4  # a task per paragraph
    version = tasks[0]["predictions"][0]["model_version"]
    assert version.startswith("bilstm-tagger ") and "train.conll" in version and "seed" in version
    for item in tasks:
        prediction = item["predictions"][0]
        assert 0 < prediction["score"] <= 1 and all(0 < r["value"]["score"] <= 1 for r in prediction["result"])
        for result in prediction["result"]:
            value = result["value"]
            assert item["data"]["text"][value["start"] : value["end"]] == value["text"]
            assert (result["type"], result["from_name"], result["to_name"]) == ("labels", "label", "text")
    # the entities as the JSONL output gives them, against the tasks read back as an export
    jsonl_output = tag(trained_model, source, tmp_path / "tagged.jsonl", "jsonl")
    predicted = [json.loads(line) for line in jsonl_output.read_text(encoding="utf-8").splitlines()]
    read_back = read_corpus(accepted(output, tmp_path / "export.json"))[0]
    assert [s.words for s in read_back] == [record["words"] for record in predicted]
    assert [s.tags for s in read_back] == [record["tags"] for record in predicted]
    text = source.read_text(encoding="utf-8")
    found = [(text[e["start"] : e["end"]], e["label"]) for record in predicted for e in record["entities"]]
    assert found == [
        (r["value"]["text"], r["value"]["labels"][0]) for t in tasks for r in t["predictions"][0]["result"]
    ]
    assert found  # the model finds entities in this text


def test_pre_tokenised_input_tagged_as_label_studio_or_doccano_reads_back_as_tagged(trained_model, ner_files, tmp_path):
    from tagger.tagging.torch_tagger import Tagger

    sentences = read_corpus(ner_files[1])[0]
    predicted = [t.tags for t in Tagger.load(trained_model, device="cpu").tag_sentences(sentences)]
    output = tag(trained_model, ner_files[1], tmp_path / "dev.json", "labelstudio")
    tasks = json.loads(output.read_text(encoding="utf-8"))
    assert [t["data"]["text"] for t in tasks] == [" ".join(s.words) for s in sentences]  # a task per sentence
    read_back = read_corpus(accepted(output, tmp_path / "export.json"))[0]
    assert [(s.words, s.tags) for s in read_back] == [(s.words, tags) for s, tags in zip(sentences, predicted)]
    doccano = tag(trained_model, ner_files[1], tmp_path / "dev.jsonl", "doccano")
    read_back = read_corpus(doccano)[0]
    assert [(s.words, s.tags) for s in read_back] == [(s.words, tags) for s, tags in zip(sentences, predicted)]


def test_doccano_output_of_raw_text_counts_utf16_units(trained_model, tmp_path):
    source = raw_text(tmp_path)
    records = [
        json.loads(line)
        for line in tag(trained_model, source, tmp_path / "o.jsonl", "doccano").read_text(encoding="utf-8").splitlines()
    ]
    assert records[0]["text"].startswith("😀 John Smith") and records[0]["label"][0] == [3, 13, "PER"]


def test_label_studio_output_needs_a_model_of_entities(trained_model, tmp_path):
    from tagger.outputs import WriterOptions, make_writer

    with pytest.raises(ConfigError, match="writes entities, but this model tags a label per word"):
        make_writer("labelstudio", None, WriterOptions("conll", "labels"))
    result = invoke("tag", trained_model, raw_text(tmp_path), "--output-format", "labelstudio", "--quiet")
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["predictions"][0]["result"]


def test_model_version_names_the_training_data_configuration_and_seed():
    metrics = {"tagger_version": "1.0", "seed": 3, "data": [{"path": "/data/train.json", "sha256": "ab" * 32}]}
    version = model_version({"model": {"hidden": 200}}, metrics)
    assert version.startswith("bilstm-tagger 1.0, train.json abababab, config ") and version.endswith(", seed 3")
    assert version != model_version({"model": {"hidden": 100}}, metrics)
    assert model_version({}, {}).startswith("bilstm-tagger, config ")
