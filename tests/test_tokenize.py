"""The words raw text is split into (tokenize.py): spaCy's rules, with hyphenated words kept whole."""

from __future__ import annotations

import pytest

from tagger.tokenize import load_tokenizer, split_texts


def words(text: str, lang: str = "en") -> list[list[str]]:
    return [[token.text for token in sentence] for sentence in next(split_texts([text], load_tokenizer(lang)))]


def test_hyphenated_words_dates_and_scores_stay_one_word_as_conll_writes_them():
    assert words("West Indian all-rounder Anglo-Dutch won 3-1 in LONDON 1996-08-30.") == [
        ["West", "Indian", "all-rounder", "Anglo-Dutch", "won", "3-1", "in", "LONDON", "1996-08-30", "."]
    ]


def test_dashes_and_other_infixes_still_split():
    assert words("peace—at last--and 2+2 or 10*3 (x/y)") == [
        ["peace", "—", "at", "last", "--", "and", "2", "+", "2", "or", "10", "*", "3", "(", "x", "/", "y", ")"]
    ]
    assert words("Mr. Smith's well-known x-ray. It's done.") == [
        ["Mr.", "Smith", "'s", "well-known", "x-ray", "."],
        ["It", "'s", "done", "."],
    ]


@pytest.mark.parametrize("lang", ["de", "fr", "nl"])
def test_other_languages_keep_hyphenated_words_too(lang):
    assert "Nord-Süd" in words("Die Nord-Süd Achse.", lang)[0]
