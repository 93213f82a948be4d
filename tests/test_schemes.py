import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagger.errors import SchemeError
from tagger.schemes import (
    SCHEMES,
    allowed_transitions,
    convert_tags,
    detect_scheme,
    find_violations,
    is_span_tagset,
    per_tag_conversion,
    repair_tags,
    spans_to_tags,
    split_tag,
    tags_to_spans,
)

TYPES = ("PER", "LOC", "creative-work")  # a type may hold hyphens: the prefix ends at the first
IOB_TAGS = ["O"] + [f"{p}-{t}" for p in "BI" for t in TYPES]
ANY_TAGS = ["O"] + [f"{p}-{t}" for p in "BIES" for t in TYPES]
SOURCE_TAGS = {"IOB1": IOB_TAGS, "IOB2": IOB_TAGS, "BIOES": ANY_TAGS}

IOB2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-PER"]
BIOES = ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC", "O", "S-PER"]
IOB1 = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "O", "I-PER"]


# --- split_tag and tag sets -------------------------------------------------


def test_split_tag_reads_prefix_and_type():
    assert split_tag("B-PER") == ("B", "PER")
    assert split_tag("S-MISC") == ("S", "MISC")
    assert split_tag("O") == ("O", "")


def test_the_prefix_ends_at_the_first_hyphen_as_in_seqeval_and_conlleval():
    assert split_tag("B-creative-work") == ("B", "creative-work")
    assert split_tag("E-a-b-c") == ("E", "a-b-c")
    spans = [("product-name", 0, 2), ("x-y", 2, 3)]
    assert tags_to_spans(["B-product-name", "I-product-name", "S-x-y"], "BIOES") == spans
    assert spans_to_tags([("product-name", 0, 2)], 3, "BIOES") == ["B-product-name", "E-product-name", "O"]


@pytest.mark.parametrize(
    "tag, hint",
    [
        ("PER", ""),
        ("o", "case-sensitive"),
        ("b-per", "case-sensitive"),
        ("B-", "type is missing"),
        ("B--", "cannot start or end with '-'"),
        ("B-PER-", "cannot start or end with '-'"),
        ("", ""),
        ("L-PER", ""),
    ],
)
def test_split_tag_refuses_malformed_tags_and_says_what_was_expected(tag, hint):
    with pytest.raises(SchemeError) as error:
        split_tag(tag)
    assert repr(tag) in str(error.value)
    assert "expected O or B-/I-/E-/S- followed by a type" in str(error.value)
    assert hint in str(error.value)


def test_is_span_tagset_tells_ner_from_pos():
    assert is_span_tagset(["O", "B-PER", "I-LOC", "E-X", "S-Y"])
    assert is_span_tagset(["O"])
    assert not is_span_tagset(["NOUN", "VERB"])
    assert not is_span_tagset(["NN", "PRP$", "-LRB-"])
    assert not is_span_tagset(["O", "_"])
    assert is_span_tagset(["O", "B-PER-X"])  # type "PER-X"
    assert not is_span_tagset(["O", "B-PER-"])


# --- detect_scheme -----------------------------------------------------------


@pytest.mark.parametrize(
    "seqs, expected",
    [
        ([IOB2], "IOB2"),
        ([BIOES], "BIOES"),
        ([IOB1], "IOB1"),
        ([["B-PER", "I-PER"], ["O", "I-LOC"]], "IOB1"),  # I-X after O in a later sentence
        ([["B-PER", "I-LOC"]], "IOB1"),  # I-X after another type
        ([["B-PER", "I-PER", "B-PER"]], "IOB2"),
        ([["O", "O"], []], "IOB2"),  # all-O data
        ([["NOUN", "VERB"], ["DET"]], "none"),
        ([["NN", "O"]], "none"),
    ],
)
def test_detect_scheme_on_handcrafted_examples(seqs, expected):
    assert detect_scheme(seqs) == expected


def test_detect_scheme_accepts_a_generator():
    assert detect_scheme(seq for seq in [IOB1]) == "IOB1"


# --- convert_tags ------------------------------------------------------------


def test_convert_between_all_schemes_on_a_fixed_example():
    assert convert_tags(IOB2, "IOB2", "BIOES") == BIOES
    assert convert_tags(BIOES, "BIOES", "IOB2") == IOB2
    assert convert_tags(IOB1, "IOB1", "IOB2") == IOB2
    assert convert_tags(IOB2, "IOB2", "IOB1") == IOB1
    assert convert_tags(IOB1, "IOB1", "BIOES") == BIOES


def test_iob1_to_iob2_starts_entities_where_iob1_implies_them():
    tags = ["I-PER", "I-LOC", "O", "I-PER", "B-PER", "I-PER"]
    assert convert_tags(tags, "IOB1", "IOB2") == ["B-PER", "B-LOC", "O", "B-PER", "B-PER", "I-PER"]


def test_convert_refuses_prefixes_the_source_scheme_lacks():
    with pytest.raises(SchemeError) as error:
        convert_tags(["B-PER", "E-PER"], "IOB2", "BIOES")
    assert error.value.index == 1


def test_unknown_scheme_names_list_the_valid_ones():
    with pytest.raises(SchemeError, match="IOB1, IOB2, BIOES"):
        convert_tags(["O"], "BILOU", "IOB2")
    with pytest.raises(SchemeError, match="IOB1, IOB2, BIOES"):
        tags_to_spans(["O"], "iob2")


def test_none_scheme_converts_only_to_itself():
    assert convert_tags(["NN", "VB"], "none", "none") == ["NN", "VB"]
    with pytest.raises(SchemeError):
        convert_tags(["NN"], "none", "IOB2")


@st.composite
def valid_sequences(draw, scheme):
    length = draw(st.integers(0, 12))
    spans, position = [], 0
    while position < length:
        size = draw(st.integers(0, 3))
        if size and position + size <= length:
            spans.append((draw(st.sampled_from(TYPES)), position, position + size))
        position += max(size, 1)
    return spans_to_tags(spans, length, scheme)


@settings(max_examples=200)
@given(st.data())
def test_valid_sequences_round_trip_through_every_scheme(data):
    source = data.draw(st.sampled_from(SCHEMES))
    target = data.draw(st.sampled_from(SCHEMES))
    tags = data.draw(valid_sequences(source))
    assert find_violations(tags, source) == []
    converted = convert_tags(tags, source, target)
    assert convert_tags(converted, target, source) == tags
    assert convert_tags(converted, target, target) == converted  # idempotent
    assert tags_to_spans(converted, target) == tags_to_spans(tags, source)


@settings(max_examples=200)
@given(st.data())
def test_convert_tags_always_gives_valid_target_sequences(data):
    source = data.draw(st.sampled_from(SCHEMES))
    target = data.draw(st.sampled_from(SCHEMES))
    tags = data.draw(st.lists(st.sampled_from(SOURCE_TAGS[source]), max_size=12))
    converted = convert_tags(tags, source, target)
    assert len(converted) == len(tags)
    assert find_violations(converted, target) == []


@settings(max_examples=200)
@given(st.data())
def test_per_tag_conversion_agrees_with_convert_tags_on_valid_sequences(data):
    """The tagger's fast path: where it offers a tag-by-tag table, the table must give convert_tags' answer."""
    source = data.draw(st.sampled_from(SCHEMES))
    target = data.draw(st.sampled_from(SCHEMES))
    labels = SOURCE_TAGS[source]
    table = per_tag_conversion(labels, source, target)
    if table is None:
        assert source != target and (source, target) != ("BIOES", "IOB2")
        return
    tags = data.draw(valid_sequences(source))
    assert [table[labels.index(tag)] for tag in tags] == convert_tags(tags, source, target)


# --- find_violations and repair_tags ---------------------------------------


def test_find_violations_in_strict_iob2():
    violations = find_violations(["I-PER", "O", "B-PER", "I-LOC", "O", "I-X"], "IOB2")
    assert [index for index, _ in violations] == [0, 3, 5]
    assert "I-LOC after B-PER" in violations[1][1]
    assert "I-X after O" in violations[2][1]


def test_find_violations_in_bioes():
    cases = {
        ("B-PER", "O"): [1],  # B without E
        ("O", "I-PER", "E-PER"): [1],  # I outside an entity
        ("E-PER",): [0],  # E without B
        ("B-PER", "I-PER"): [1],  # sentence ends inside an entity
        ("B-PER", "E-LOC"): [1],  # type changes inside an entity
        ("S-PER", "B-LOC", "I-LOC", "E-LOC"): [],
    }
    for tags, indices in cases.items():
        assert [index for index, _ in find_violations(list(tags), "BIOES")] == indices, tags


def test_find_violations_in_iob1_and_foreign_prefixes():
    assert [i for i, _ in find_violations(["B-PER", "I-PER", "B-PER"], "IOB1")] == [0]
    assert [i for i, _ in find_violations(["S-PER"], "IOB2")] == [0]


def test_find_violations_reports_malformed_tags_instead_of_raising():
    violations = find_violations(["B-PER", "PER", "O"], "IOB2")
    assert violations[0][0] == 1 and "'PER'" in violations[0][1]


def test_repair_iob2_follows_conlleval():
    assert repair_tags(["O", "I-PER", "I-PER", "I-LOC"], "IOB2") == (["O", "B-PER", "I-PER", "B-LOC"], 2)
    assert repair_tags(IOB2, "IOB2") == (IOB2, 0)


def test_repair_bioes_closes_and_singles_entities():
    assert repair_tags(["B-PER", "I-PER", "O", "I-LOC"], "BIOES") == (["B-PER", "E-PER", "O", "S-LOC"], 2)


@settings(max_examples=200)
@given(st.sampled_from(SCHEMES), st.lists(st.sampled_from(ANY_TAGS), max_size=12))
def test_repair_tags_always_gives_valid_sequences(scheme, tags):
    repaired, changed = repair_tags(tags, scheme)
    assert find_violations(repaired, scheme) == []
    assert changed == sum(a != b for a, b in zip(tags, repaired))
    assert tags_to_spans(repaired, scheme) == tags_to_spans(tags, scheme)  # same entities, fixed spelling


# --- spans -------------------------------------------------------------------


def test_tags_to_spans_reads_invalid_sequences_like_conlleval():
    assert tags_to_spans(["I-PER", "I-PER", "O", "B-LOC", "I-ORG"]) == [("PER", 0, 2), ("LOC", 3, 4), ("ORG", 4, 5)]
    assert tags_to_spans(BIOES, "BIOES") == [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 6), ("PER", 7, 8)]


@settings(max_examples=200)
@given(st.sampled_from(SCHEMES), st.data())
def test_spans_round_trip(scheme, data):
    tags = data.draw(valid_sequences(scheme))
    assert spans_to_tags(tags_to_spans(tags, scheme), len(tags), scheme) == tags


def test_spans_to_tags_refuses_overlapping_or_out_of_range_spans():
    with pytest.raises(SchemeError, match="overlaps"):
        spans_to_tags([("PER", 0, 2), ("LOC", 1, 3)], 4)
    with pytest.raises(SchemeError, match="does not fit"):
        spans_to_tags([("PER", 2, 5)], 4)
    with pytest.raises(SchemeError):
        spans_to_tags([("PER-", 0, 1)], 4)
    with pytest.raises(SchemeError):
        spans_to_tags([("PER X", 0, 1)], 4)


# --- allowed_transitions -----------------------------------------------------


def test_allowed_transitions_iob2():
    labels = ["<pad>", "O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    start, allowed, end = allowed_transitions(labels, "IOB2")
    index = {label: i for i, label in enumerate(labels)}
    assert start == [False, True, True, False, True, False]
    assert allowed[index["B-PER"]][index["I-PER"]]
    assert allowed[index["I-PER"]][index["I-PER"]]
    assert not allowed[index["O"]][index["I-PER"]]
    assert not allowed[index["B-LOC"]][index["I-PER"]]
    assert allowed[index["I-PER"]][index["B-LOC"]]
    assert not any(allowed[index["<pad>"]]) and not any(row[index["<pad>"]] for row in allowed)
    assert end == [False, True, True, True, True, True]


def test_allowed_transitions_bioes():
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    start, allowed, end = allowed_transitions(labels, "BIOES")
    assert start == [True, True, False, False, True]
    assert end == [True, False, False, True, True]
    assert allowed[1] == [False, False, True, True, False]  # B-PER -> I-PER, E-PER
    assert allowed[3] == [True, True, False, False, True]  # E-PER -> O, B-PER, S-PER


def test_allowed_transitions_none_allows_all_but_special_labels():
    start, allowed, end = allowed_transitions(["<pad>", "NN", "VB"], "none")
    assert start == end == [False, True, True]
    assert allowed == [[False, False, False], [False, True, True], [False, True, True]]


def test_allowed_transitions_refuses_labels_outside_the_scheme():
    with pytest.raises(SchemeError):
        allowed_transitions(["O", "S-PER"], "IOB2")
