"""`tagger data` (corpus diagnostics) and `tagger info` (a model directory): known answers on tiny invented corpora."""

import json
from pathlib import Path

import pytest
from safetensors.numpy import load_file

from tagger.cli import app
from tagger.config import CorpusConfig
from tagger.data_report import build_data_report, build_split_report, read_split
from tests.test_cli import assert_user_error, invoke, runner

# IOB1 as CoNLL-2003 ships it: entities start with I-, B- only between two adjacent entities of one type.
# 4 PER (Anna Berg, Olaf, Kim, Lee) and 1 LOC, though only one tag starts with B-.
IOB1_TRAIN = """-DOCSTART- O

Anna I-PER
Berg I-PER
met O
Olaf I-PER
in O
Oslo I-LOC
. O

Kim I-PER
Lee B-PER
left O
. O

-DOCSTART- O

Rain O
fell O
. O
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def conll(path: Path, *sentences: str) -> Path:
    """Sentences given as 'word/TAG word/TAG ...', one word per line, blank lines between."""
    blocks = ["\n".join(" ".join(pair.rsplit("/", 1)) for pair in sentence.split()) for sentence in sentences]
    return write(path, "\n\n".join(blocks) + "\n")


def report_of(path: Path, role=None, **kwargs):
    return build_split_report(read_split(path, role, CorpusConfig()), **kwargs)


@pytest.mark.parametrize(
    "tags, scheme",
    [
        ("I-PER I-PER O I-LOC", "IOB1"),
        ("B-PER I-PER O B-LOC", "IOB2"),
        ("B-PER E-PER O S-LOC", "BIOES"),
        ("PROPN PROPN VERB PROPN", "none"),
    ],
)
def test_the_scheme_is_detected_as_the_file_writes_it(tmp_path, tags, scheme):
    words = "Anna Berg met Oslo".split()
    path = conll(tmp_path / "data.conll", " ".join(f"{w}/{t}" for w, t in zip(words, tags.split())))
    report = report_of(path)
    assert report.scheme.scheme == scheme
    assert report.entities == (None if scheme == "none" else {"PER": 1, "LOC": 1})


def test_iob1_entities_are_counted_as_conlleval_reads_them_not_by_their_b_tags(tmp_path):
    report = report_of(write(tmp_path / "train.conll", IOB1_TRAIN))
    assert report.scheme.scheme == "IOB1" and report.scheme.violations == 0
    assert report.entities == {"PER": 4, "LOC": 1}
    assert report.tags == {"O": 8, "I-PER": 4, "I-LOC": 1, "B-PER": 1}
    assert (report.sentences, report.words, report.documents) == (3, 14, 2)


def test_violations_are_listed_with_path_and_line_and_malformed_tags_do_not_stop_the_report(tmp_path):
    path = write(
        tmp_path / "bioes.conll",
        "Anna B-PER\nBerg E-PER\nmet O\nOlaf I-PER\n. O\n\nKim S-PER\nsaw O\nOslo PLACE\n. O\n",
    )
    report = report_of(path)
    assert report.scheme.scheme == "BIOES"
    assert (report.scheme.violations, report.scheme.sentences_with_violations) == (3, 2)
    found = [(v.path, v.line, v.word, v.tag) for v in report.scheme.examples]
    assert found == [(str(path), 4, "Olaf", "I-PER"), (str(path), 5, ".", "O"), (str(path), 9, "Oslo", "PLACE")]
    assert "not closed with E-PER" in report.scheme.examples[1].message
    assert len(report_of(path, examples=1).scheme.examples) == 1  # fewer examples, the same count
    assert report_of(path, examples=1).scheme.violations == 3


def test_a_broken_iob2_file_says_how_it_fares_as_iob2(tmp_path):
    # One stray I-PER makes the file look like IOB1 (as training will read it); then both B- tags break IOB1.
    path = conll(tmp_path / "iob2.conll", "Anna/B-PER Berg/I-PER met/O Olaf/I-PER in/O Oslo/B-LOC ./O")
    scheme = report_of(path).scheme
    assert (scheme.scheme, scheme.violations) == ("IOB1", 2)
    assert scheme.in_other_schemes["IOB2"] == 1


def test_entity_counts_per_type_and_per_split_and_types_missing_from_a_split(tmp_path):
    train = write(tmp_path / "train.conll", IOB1_TRAIN)
    test = conll(tmp_path / "test.conll", "Anna/I-PER saw/O Euro/I-MISC 2000/I-MISC", "Bo/I-PER ran/O")
    report = build_data_report([read_split(train, "train"), read_split(test, "test")])
    assert {s.name: s.entities for s in report.splits} == {"train": {"PER": 4, "LOC": 1}, "test": {"PER": 2, "MISC": 1}}
    missing = {m.label: (m.present_in, m.missing_from) for m in report.missing_entity_types}
    assert missing == {"LOC": (["train"], ["test"]), "MISC": (["test"], ["train"])}


def test_tags_missing_from_a_split(tmp_path):
    train = conll(tmp_path / "train.conll", "the/DET cat/NOUN sat/VERB")
    dev = conll(tmp_path / "dev.conll", "the/DET big/ADJ cat/NOUN")
    test = conll(tmp_path / "test.conll", "a/DET dog/NOUN ran/VERB")
    report = build_data_report([read_split(train, "train"), read_split(dev, "dev"), read_split(test, "test")])
    missing = {m.label: (m.present_in, m.missing_from) for m in report.missing_tags}
    assert missing == {"ADJ": (["dev"], ["train", "test"]), "VERB": (["train", "test"], ["dev"])}


def test_oov_rate_by_token_and_by_type_with_words_as_written(tmp_path):
    train = conll(tmp_path / "train.conll", "the/DET cat/NOUN sat/VERB ./PUNCT", "the/DET dog/NOUN ran/VERB ./PUNCT")
    dev = conll(
        tmp_path / "dev.conll", "The/DET cat/NOUN flew/VERB ./PUNCT", "a/DET bird/NOUN flew/VERB away/ADV ./PUNCT"
    )
    [oov] = build_data_report([read_split(train, "train"), read_split(dev, "dev")]).oov
    assert (oov.split, oov.tokens, oov.oov_tokens, oov.types, oov.oov_types) == ("dev", 9, 6, 7, 5)  # "The" too
    assert oov.token_rate == pytest.approx(6 / 9) and oov.type_rate == pytest.approx(5 / 7)
    assert oov.most_frequent[0] == ("flew", 2)


def test_duplicates_within_a_split_and_sentences_shared_between_train_and_test(tmp_path):
    train = conll(
        tmp_path / "train.conll",
        "a/X b/X c/X",
        "d/X e/X",
        "a/X b/X c/X",
        "a/X b/X c/X",
        "f/X g/X h/X i/X",
        "f/Y g/X h/X i/X",
    )
    test = conll(tmp_path / "test.conll", "a/X b/X c/X", "f/X g/X h/X i/X", "z/X", "a/X b/X c/X")
    report = build_data_report([read_split(train, "train"), read_split(test, "test")])
    duplicates = report.splits[0].duplicates
    assert (duplicates.sentences, duplicates.distinct, duplicates.conflicting) == (3, 2, 1)
    most = duplicates.examples[0]
    assert (most.preview, most.count, most.line, most.taggings) == ("a b c", 3, 1, 1)
    assert duplicates.examples[1].taggings == 2  # "f g h i" tagged two ways: the annotation disagrees with itself
    [overlap] = report.overlap
    assert (overlap.split, overlap.sentences, overlap.shared, overlap.distinct) == ("test", 4, 3, 2)
    longest = overlap.examples[0]  # the longest shared sentence first: the telling one
    assert (longest.preview, longest.path, longest.line, longest.train_line) == ("f g h i", str(test), 5, 16)


def test_sentence_length_histogram_and_the_longest_sentences(tmp_path):
    lengths = [3, 1, 5, 120, 6, 25]
    lines = [json.dumps({"words": [f"w{i}" for i in range(n)], "tags": ["X"] * n}) for n in lengths]
    path = write(tmp_path / "lengths.jsonl", "\n".join(lines) + "\n")
    report = report_of(path, examples=2).lengths
    assert report.histogram == {"1-5": 3, "6-10": 1, "11-20": 0, "21-40": 1, "41-60": 0, "61-100": 0, "101+": 1}
    assert (report.shortest, report.longest, report.median) == (1, 120, 5.5)
    assert [(s.line, s.words) for s in report.longest_sentences] == [(4, 120), (6, 25)]


def test_data_json_through_the_cli_holds_every_figure_and_plain_paths_stand_alone(tmp_path):
    train = write(tmp_path / "train.conll", IOB1_TRAIN)
    test = conll(tmp_path / "test.conll", "Anna/I-PER met/O Olaf/I-PER", "Rain/O fell/O ./O")
    extra = conll(tmp_path / "pos.conll", "the/DET cat/NOUN")
    result = invoke("data", extra, "--train", train, "--test", test, "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    splits = [read_split(train, "train"), read_split(test, "test"), read_split(extra, None)]
    assert printed == json.loads(json.dumps(build_data_report(splits).to_dict()))
    assert [(s["name"], s["scheme"]["scheme"]) for s in printed["splits"]] == [
        ("train", "IOB1"),
        ("test", "IOB1"),
        (str(extra), "none"),
    ]
    assert [o["split"] for o in printed["oov"]] == ["test"]
    assert printed["overlap"][0]["shared"] == 1  # "Rain fell ." is in train
    assert all(str(extra) not in m["present_in"] for m in printed["missing_tags"])  # no comparison with it


def test_data_tables_on_the_terminal(tmp_path):
    train = write(tmp_path / "train.conll", IOB1_TRAIN)
    broken = write(tmp_path / "broken.conll", "Anna B-PER\nBerg E-PER\nmet O\nOlaf I-PER\n. O\n")
    # wide enough that no path:line is folded over two lines
    result = runner.invoke(
        app, ["data", "--train", str(train), str(broken), "--tag-column", "1"], env={"COLUMNS": "400"}
    )
    assert result.exit_code == 0, result.output
    printed = " ".join(result.stdout.split())
    for fragment in (
        "IOB1",
        "BIOES",
        "entities per type",
        "sentence length",
        "2 violations of BIOES",
        f"{broken}:4",
        f"{broken}:5",
    ):
        assert fragment in printed, fragment


def test_data_user_errors_are_one_line(tmp_path):
    assert_user_error(invoke("data"), "no corpus given")
    train = write(tmp_path / "train.conll", IOB1_TRAIN)
    assert_user_error(invoke("data", train, "--set", "model.hidden=8"), "corpus.* setting")
    ragged = write(tmp_path / "ragged.conll", "Anna NNP I-PER\nmet O\n")
    assert_user_error(invoke("data", ragged), f"{ragged}:2")


def test_info_json_describes_the_model_directory(trained_model):
    result = invoke("info", trained_model, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    vocab = json.loads((trained_model / "vocab.json").read_text())
    metrics = json.loads((trained_model / "metrics.json").read_text())
    weights = load_file(str(trained_model / "model.safetensors"))
    assert info["labels"] == vocab["labels"] and info["vocabulary_words"] == len(vocab["words"])
    assert info["parameters"] == sum(tensor.size for tensor in weights.values())
    assert info["entity_types"] == ["LOC", "MISC", "ORG", "PER"]
    assert info["metrics"]["best_epoch"] == metrics["best_epoch"] and info["metrics"]["dev"] == metrics["dev"]
    assert info["config"] == json.loads((trained_model / "config.json").read_text())["config"]
    assert info["card"] == (trained_model / "README.md").read_text()


def test_info_in_the_terminal_shows_scores_sizes_config_and_card(trained_model):
    result = runner.invoke(app, ["info", str(trained_model)], env={"COLUMNS": "200"})  # no header wrapped
    assert result.exit_code == 0, result.output
    printed = " ".join(result.stdout.split())
    parameters = json.loads(invoke("info", trained_model, "--json").stdout)["parameters"]
    for fragment in (
        f"{parameters:,}",
        "entity F1 (conlleval)",
        "model.hidden",
        "train.epochs",
        "model card",
        "tagger model: named entities",
    ):
        assert fragment in printed, fragment


def test_info_on_a_directory_that_is_not_a_model_is_one_line(tmp_path):
    assert_user_error(invoke("info", tmp_path), str(tmp_path), "missing config.json")


@pytest.mark.parametrize("columns", ["40", "80"])
def test_data_tables_never_cut_a_number_or_a_path(tmp_path, columns):
    """`tagger data eng.train | cat` printed `23,4…` for 23,499 entities: piped (80 columns) or in a narrow
    terminal, numbers stay whole and paths fold over lines instead of ending in an ellipsis."""
    folder = tmp_path / "a-rather-long-folder-name-for-the-corpus-files"
    folder.mkdir()
    sentence = "Anna B-PER\nBerg I-PER\nmet O\nOslo B-LOC\n. O\n\n"
    train = write(folder / "train-with-a-long-name.conll", sentence * 4_700)  # 23,500 words, 9,400 entities
    dev = write(folder / "dev-with-a-long-name.conll", sentence * 3)
    result = runner.invoke(app, ["data", "--train", str(train), "--dev", str(dev)], env={"COLUMNS": columns})
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout  # nothing cut: no path, number or header ends in an ellipsis
    cells = "".join(result.stdout.replace("│", " ").split())
    for fragment in ("23,500", "9,400", "4,700(50.0%)", "9,400(40.0%)", "4,700(100.0%)"):
        assert fragment in cells, fragment
