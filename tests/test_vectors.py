"""Tests for tagger.vectors: the text formats and their bad inputs, spaCy tables, embedding rows, coverage."""

from __future__ import annotations

import gzip
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tagger.errors import ConfigError, CorpusFormatError
from tagger.vectors import (
    Coverage,
    VectorIndex,
    WordVectors,
    build_embedding_matrix,
    load_vectors,
    measure_coverage,
    read_word_vectors,
    spacy_vectors,
    words_to_add,
)

GLOVE = "the 0.1 0.2 0.3\n, -1 2.5e-1 3\nParis 1 2 3\n"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def read_error(path: Path, **kwargs) -> CorpusFormatError:
    with pytest.raises(CorpusFormatError) as info:
        read_word_vectors(path, **kwargs)
    return info.value


def assert_at(error: CorpusFormatError, path: Path, line_no: int) -> None:
    assert error.line_no == line_no
    assert f"{path}:{line_no}:" in str(error)


def lower_digits(word: str) -> str:  # what Vocab.normalise does with its default settings
    return "".join("0" if c.isdigit() else c for c in word.lower())


def digits_only(word: str) -> str:  # Vocab.normalise with lowercase=False
    return "".join("0" if c.isdigit() else c for c in word)


def vectors_of(rows: dict[str, list[float]]) -> WordVectors:
    return WordVectors(list(rows), np.array(list(rows.values()), dtype=np.float32), "test")


# --- text formats ---------------------------------------------------------------------------------


def test_glove_file_without_header(tmp_path):
    path = write(tmp_path, "glove.txt", GLOVE)
    vectors = read_word_vectors(path)
    assert vectors.words == ["the", ",", "Paris"]
    assert vectors.matrix.dtype == np.float32 and vectors.matrix.shape == (3, 3) and vectors.dim == 3
    np.testing.assert_allclose(vectors.matrix[1], [-1.0, 0.25, 3.0])
    assert vectors.source == str(path)


def test_fasttext_file_with_header_and_trailing_spaces(tmp_path):
    path = write(tmp_path, "wiki.vec", "3 2\nthe 0.5 -0.5 \n</s> 1 1 \nberlin 2 3 \n")
    vectors = read_word_vectors(path)
    assert vectors.words == ["the", "</s>", "berlin"]
    np.testing.assert_allclose(vectors.matrix, [[0.5, -0.5], [1, 1], [2, 3]])


def test_gzipped_file_crlf_and_byte_order_mark(tmp_path):
    path = write(tmp_path, "glove.txt.gz", "\ufeff" + GLOVE.replace("\n", "\r\n"))
    vectors = read_word_vectors(path)
    assert vectors.words == ["the", ",", "Paris"]
    np.testing.assert_allclose(vectors.matrix[2], [1, 2, 3])


def test_words_containing_spaces_take_all_but_the_last_dim_fields(tmp_path):
    path = write(tmp_path, "glove.840B.txt", "the 1 2\nat name@domain.com 3 4\n. . . 5 6\n")
    vectors = read_word_vectors(path)
    assert vectors.words == ["the", "at name@domain.com", ". . ."]
    np.testing.assert_allclose(vectors.matrix, [[1, 2], [3, 4], [5, 6]])


def test_duplicate_words_keep_their_first_vector(tmp_path):
    vectors = read_word_vectors(write(tmp_path, "dup.txt", "a 1 1\nb 2 2\na 3 3\n"))
    assert vectors.words == ["a", "b"]
    np.testing.assert_allclose(vectors.matrix, [[1, 1], [2, 2]])


def test_limit_keeps_the_first_words_and_stops_reading(tmp_path):
    # The broken last line proves reading stopped; the duplicate proves the limit counts distinct words.
    path = write(tmp_path, "big.vec", "5 2\na 1 1\na 9 9\nb 2 2\nc 3 3\nbroken 1\n")
    vectors = read_word_vectors(path, limit=2)
    assert vectors.words == ["a", "b"]
    np.testing.assert_allclose(vectors.matrix, [[1, 1], [2, 2]])


def test_other_encoding_when_asked(tmp_path):
    path = write(tmp_path, "latin.txt", "café 1 2\n".encode("latin-1"))
    assert read_word_vectors(path, encoding="latin-1").words == ["café"]


def test_reading_50k_lines_is_fast(tmp_path):
    values = " ".join(["-0.123456"] * 100)
    path = write(tmp_path, "fast.txt", "".join(f"w{i} {values}\n" for i in range(50_000)))
    start = time.perf_counter()
    vectors = read_word_vectors(path)
    assert vectors.matrix.shape == (50_000, 100)
    assert time.perf_counter() - start < 5.0  # about 1 s here


# --- bad input ------------------------------------------------------------------------------------


def test_bad_input_too_few_values(tmp_path):
    path = write(tmp_path, "short.txt", GLOVE + "Rome 1 2\n")
    error = read_error(path)
    assert_at(error, path, 4)
    assert "2 values for 'Rome'" in str(error) and "expected 3 values" in str(error)


def test_bad_input_too_many_values(tmp_path):
    path = write(tmp_path, "long.txt", GLOVE + "Rome 1 2 3 4\n")
    error = read_error(path)
    assert_at(error, path, 4)
    assert "4 values for 'Rome'" in str(error) and "expected 3 values" in str(error)


def test_bad_input_line_shorter_than_the_header_dimension(tmp_path):
    path = write(tmp_path, "cut.vec", "2 300\nthe " + " ".join(["0.1"] * 300) + "\nof " + " ".join(["0.1"] * 299))
    error = read_error(path)
    assert_at(error, path, 3)
    assert "299 values for 'of'" in str(error) and "expected 300 values" in str(error)


def test_bad_input_value_that_is_not_a_number(tmp_path):
    path = write(tmp_path, "nan.txt", "the 1 2\nof 1 x2\n")
    error = read_error(path)
    assert_at(error, path, 2)
    assert "'x2'" in str(error)


def test_bad_input_value_that_is_not_finite(tmp_path):
    path = write(tmp_path, "inf.txt", "the 1 2\nof 1 2\nand nan 2\n")
    assert_at(read_error(path), path, 3)


def test_bad_input_empty_file(tmp_path):
    for content in ("", "\n\n"):
        path = write(tmp_path, "empty.txt", content)
        error = read_error(path)
        assert_at(error, path, 1)
        assert "empty file" in str(error)


def test_bad_input_header_without_vectors(tmp_path):
    path = write(tmp_path, "header.vec", "10 300\n")
    error = read_error(path)
    assert_at(error, path, 1)
    assert "a header but no vectors" in str(error)


def test_bad_input_file_shorter_than_its_header_says(tmp_path):
    path = write(tmp_path, "truncated.vec", "3 2\na 1 1\nb 2 2\n")
    error = read_error(path)
    assert_at(error, path, 3)
    assert "ends after 2 vectors" in str(error) and "truncated" in str(error)


def test_bad_input_word_without_values(tmp_path):
    path = write(tmp_path, "words.txt", "the\nof\n")
    assert_at(read_error(path), path, 1)


def test_bad_input_invalid_utf8(tmp_path):
    path = write(tmp_path, "latin.txt", b"the 1 2\n" + "café 1 2\n".encode("latin-1"))
    error = read_error(path)
    assert_at(error, path, 2)
    assert "`encoding=" in str(error)


def test_bad_input_corrupt_gzip(tmp_path):
    path = tmp_path / "broken.txt.gz"
    path.write_bytes(gzip.compress(GLOVE.encode() * 50)[:-30])
    assert "a complete .gz file" in str(read_error(path))


def test_bad_input_binary_file_unknown_encoding_and_bad_limit(tmp_path):
    path = write(tmp_path, "glove.txt", GLOVE)
    with pytest.raises(ConfigError, match="binary"):
        read_word_vectors(write(tmp_path, "model.bin", b"\x00\x01"))
    with pytest.raises(ConfigError, match="unknown encoding"):
        read_word_vectors(path, encoding="no-such-codec")
    with pytest.raises(ConfigError, match="positive"):
        read_word_vectors(path, limit=0)


# --- spaCy and dispatch ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spacy_dirs(tmp_path_factory) -> tuple[Path, Path]:
    spacy = pytest.importorskip("spacy")
    with_vectors, without = tmp_path_factory.mktemp("with_vectors"), tmp_path_factory.mktemp("without")
    nlp = spacy.blank("en")
    for i, word in enumerate(["the", "Paris", "of"]):
        nlp.vocab.set_vector(word, np.full(4, i + 1, dtype=np.float32))
    nlp.to_disk(with_vectors)
    spacy.blank("en").to_disk(without)
    return with_vectors, without


def test_spacy_vectors_from_a_saved_pipeline(spacy_dirs):
    vectors = spacy_vectors(str(spacy_dirs[0]))
    assert vectors.words == ["the", "Paris", "of"]
    # Many words can share one row of a spaCy table, so words reach theirs through vector().
    np.testing.assert_allclose([vectors.vector(i) for i in range(3)], [[1] * 4, [2] * 4, [3] * 4])
    assert vectors.matrix.dtype == np.float32 and vectors.source == f"spacy:{spacy_dirs[0]}"


def test_bad_input_spacy_pipeline_not_installed():
    with pytest.raises(ConfigError, match="'no_such_pipeline_xyz' is neither an installed package"):
        spacy_vectors("no_such_pipeline_xyz")


def test_bad_input_spacy_pipeline_without_vectors(spacy_dirs):
    with pytest.raises(ConfigError, match="has no word vectors"):
        spacy_vectors(str(spacy_dirs[1]))


def test_load_vectors_dispatches_on_spacy_prefix_and_applies_the_limit(tmp_path, spacy_dirs):
    assert load_vectors(str(write(tmp_path, "glove.txt", GLOVE)), limit=2).words == ["the", ","]
    vectors = load_vectors(f"spacy:{spacy_dirs[0]}")
    assert vectors.words == ["the", "Paris", "of"] and not vectors.by_frequency
    np.testing.assert_allclose(vectors.vector(1), [2] * 4)
    # spaCy's tables are in row order, which is no frequency order (en_core_web_md 3.8.0 lists "the" 448,159th)
    with pytest.raises(ConfigError, match="no frequency order, so the 2 most frequent cannot be kept"):
        load_vectors(f"spacy:{spacy_dirs[0]}", limit=2)


def test_bad_input_load_vectors_missing_file_or_directory(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_vectors(str(tmp_path / "missing.txt"))
    with pytest.raises(ConfigError, match="spacy:"):
        load_vectors(str(tmp_path))


# --- embedding matrix, added words, coverage ------------------------------------------------------

VECTORS = vectors_of({"the": [1, 1], "Paris": [2, 2], "1999": [3, 3], "The": [4, 4], "berlin": [5, 5]})


def test_embedding_rows_follow_the_vocabulary():
    vocab_words = ["<pad>", "<unk>", "the", "paris", "0000", "unseen"]
    matrix, found = build_embedding_matrix(vocab_words, VectorIndex(VECTORS, lower_digits), np.random.default_rng(0))
    assert matrix.shape == (6, 2) and matrix.dtype == np.float32
    assert found.tolist() == [False, False, True, True, True, False]
    np.testing.assert_array_equal(matrix[0], [0, 0])
    np.testing.assert_array_equal(matrix[2:5], [[1, 1], [2, 2], [3, 3]])  # exact, normalised, digits
    scale = math.sqrt(3 / 2)
    assert np.all(np.abs(matrix[[1, 5]]) <= scale + 1e-6) and np.all(matrix[[1, 5]] != 0)


def test_embedding_prefers_exact_form_then_normalised_then_lower_case():
    vocab_words = ["<pad>", "<unk>", "The", "Berlin", "Paris0"]
    matrix, found = build_embedding_matrix(vocab_words, VectorIndex(VECTORS, digits_only), np.random.default_rng(0))
    np.testing.assert_array_equal(matrix[2:4], [[4, 4], [5, 5]])  # "The" exact, not "the"; "Berlin" lower case
    assert found.tolist() == [False, False, True, True, False]
    # Two vector words normalise to "the": the first (most frequent) one wins.
    matrix, _ = build_embedding_matrix(
        ["<pad>", "<unk>", "tHE"], VectorIndex(VECTORS, lower_digits), np.random.default_rng(0)
    )
    np.testing.assert_array_equal(matrix[2], [1, 1])


def test_embedding_random_rows_are_reproducible_and_within_range():
    vocab_words = ["<pad>", "<unk>"] + [f"w{i}" for i in range(500)]
    first, _ = build_embedding_matrix(vocab_words, VectorIndex(VECTORS, lower_digits), np.random.default_rng(7))
    again, _ = build_embedding_matrix(vocab_words, VectorIndex(VECTORS, lower_digits), np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)
    assert np.abs(first[1:]).max() <= math.sqrt(3 / 2) + 1e-6
    assert np.abs(first[1:]).max() > 0.9 * math.sqrt(3 / 2)  # uses the whole range, not a narrower one


def test_bad_input_embedding_vocabulary_without_specials():
    with pytest.raises(ValueError, match="<pad>"):
        build_embedding_matrix(["the"], VectorIndex(VECTORS, lower_digits), np.random.default_rng(0))


def test_words_to_add_are_normalised_new_and_sorted():
    vectors = vectors_of({"the": [0], "Paris": [0], "1999": [0], "<unk>": [0], "zebra": [0], "THE": [0]})
    assert words_to_add(Counter({"The": 3, "cat": 1}), vectors, lower_digits) == ["0000", "paris", "zebra"]
    assert words_to_add(["<pad>", "<unk>", "the", "paris"], vectors, lower_digits) == ["0000", "zebra"]


def test_coverage_on_a_hand_computed_example():
    counts = {"the": 10, "Paris": 3, "Berlin": 2, "1998": 1, "Xyzzy": 4}
    # the: exact; Paris: exact; Berlin: via "berlin" (lower case only); 1998: via "1999" (digits); Xyzzy: none.
    coverage = measure_coverage(counts, VectorIndex(VECTORS, lower_digits))
    assert coverage == Coverage(types=5, types_found=4, tokens=20, tokens_found=16, lowercase_matches=1)
    assert (
        coverage.summary() == "vectors cover 80.0% of training words (80.0% of word types; 1 found only in lower case)"
    )
    assert "1,234 found" in Coverage(2000, 1000, 4000, 3000, 1234).summary()
    assert measure_coverage({}, VectorIndex(VECTORS, lower_digits)).summary().startswith("vectors cover 0.0%")


@pytest.mark.parametrize(
    ("spec", "message"),
    [("glove-6b-50d,", "an empty name between commas"), ("a.txt, a.txt", "names a source twice")],
)
def test_bad_input_vector_sources(spec, message):
    from tagger.vectors import vector_sources

    with pytest.raises(ConfigError, match=message):
        vector_sources(spec)


def test_vector_sources_in_order():
    from tagger.vectors import vector_sources

    assert vector_sources("glove-6b-50d") == ["glove-6b-50d"]
    assert vector_sources("glove-6b-50d, spacy-en-md") == ["glove-6b-50d", "spacy-en-md"]


def test_a_source_in_no_frequency_order_gives_its_vectors_to_the_words_of_one_in_frequency_order():
    """GloVe's first N words join the vocabulary; a spaCy table beside it cannot say which of its words are
    frequent, so it adds none and fills its columns for the words there are (all of its own with no limit)."""
    from tagger.vectors import WordVectors, pretrained_embedding

    glove = vectors_of({"the": [1, 1], "berlin": [2, 2], "rare": [3, 3]})
    table = WordVectors(["zzz", "berlin", "the"], np.array([[7.0], [8.0], [9.0]], dtype=np.float32), "t", None, False)
    vocab_words = ["<pad>", "<unk>", "the"]
    rng = np.random.default_rng(0)
    both = pretrained_embedding(vocab_words, {"the": 1}, [glove, table], lower_digits, 2, rng)
    assert both.words == ("<pad>", "<unk>", "the", "berlin")  # "rare" is beyond the limit, "zzz" unordered
    np.testing.assert_allclose(both.matrix[2:], [[1, 1, 9], [2, 2, 8]])
    unlimited = pretrained_embedding(vocab_words, {"the": 1}, [glove, table], lower_digits, None, rng)
    assert unlimited.words == ("<pad>", "<unk>", "the", "berlin", "rare", "zzz")
    with pytest.raises(ConfigError, match="'t' list their words in no frequency order"):
        pretrained_embedding(vocab_words, {"the": 1}, [table], lower_digits, 2, rng)
