"""CoNLL column files: one word per line, ``word ... tag`` columns, blank lines between sentences.

Columns are tab-separated when the file's first word line uses tabs (then words may contain
spaces) and separated by runs of spaces otherwise. Only ASCII spaces separate: a non-breaking
or ideographic space stays inside its word.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tagger.config import CorpusConfig
from tagger.corpus.lines import INVISIBLE, clean_word, is_blank, read_lines
from tagger.corpus.sentence import Sentence, opens_document
from tagger.corpus.writing import check_sentence, invisible_start, refuse, text_problem
from tagger.errors import CorpusFormatError, setting

DOCSTART = "-DOCSTART-"
MISSING_TAGS = ("", "_")


@dataclass(frozen=True)
class _Columns:
    """The column layout fixed by the file's first word line; every other line must match it."""

    path: str
    tabs: bool
    count: int
    tag_index: int | None  # None: words only
    first_line: int
    tags_required: bool
    repairs: Counter[str] | None = None

    def split(self, text: str, line_no: int) -> tuple[str, str | None]:
        """The row's word and tag; the word is ``""`` when the row is to be skipped (``clean_word``)."""
        fields = self._fields(text, line_no)
        if len(fields) != self.count:
            self._wrong_count(fields, text, line_no)
        word = fields[0].strip(" ") if self.tabs else fields[0]
        if not word:
            raise CorpusFormatError(self.path, line_no, f"an empty word in {text!r}", "a word in column 0")
        if self.tags_required:  # tagged output keeps every row of the input, as written: see read_conll
            word = clean_word(word, self.repairs, self.path, line_no)
            if not word:
                return "", None
        if self.tag_index is None:
            return word, None
        tag = fields[self.tag_index].strip(" ")
        if self.tags_required and tag in MISSING_TAGS:
            found = f"missing tag {tag!r} for word {word!r}"
            raise CorpusFormatError(
                self.path, line_no, found, f"a tag in column {self.tag_index}", "tags are needed to train and evaluate"
            )
        return word, tag

    def _fields(self, text: str, line_no: int) -> list[str]:
        if self.tabs:
            fields = text.rstrip(" ").split("\t")
            while len(fields) > self.count and not fields[-1].strip(" "):
                fields.pop()  # trailing whitespace, not an extra column
            return fields
        if "\t" in text.strip(" \t"):
            raise CorpusFormatError(
                self.path,
                line_no,
                f"a tab in {text!r}",
                f"columns separated by spaces as on line {self.first_line}",
                "use one separator throughout the file",
            )
        return _space_fields(text)

    def _wrong_count(self, fields: list[str], text: str, line_no: int) -> None:
        hint = ""
        if text.startswith("#"):
            hint = "a comment line? CoNLL column files have none; CoNLL-U allows comments before a sentence"
        elif not self.tabs and len(fields) > self.count:
            hint = "a word may contain a space; separate columns with tabs"
        elif self.tabs and len(fields) == 1 and " " in text.strip(" "):
            hint = "this line uses spaces where the file uses tabs"
        found = f"{len(fields)} columns in {text!r}"
        expected = f"{self.count} columns as on line {self.first_line}"
        raise CorpusFormatError(self.path, line_no, found, expected, hint)


def _build_columns(
    text: str, line_no: int, path: str, config: CorpusConfig, tags_required: bool, repairs: Counter[str] | None
) -> _Columns:
    tabs = "\t" in text.strip(" \t")
    fields = text.rstrip(" \t").split("\t") if tabs else _space_fields(text)
    count = len(fields)
    if count == 1:
        if tags_required:
            raise CorpusFormatError(
                path,
                line_no,
                f"1 column in {text!r} (no tag column)",
                "word and tag columns",
                "tags are needed to train and evaluate",
            )
        return _Columns(path, tabs, count, None, line_no, tags_required, repairs)
    tag_index = config.tag_column if config.tag_column >= 0 else count + config.tag_column
    if not 0 < tag_index < count:
        raise CorpusFormatError(
            path,
            line_no,
            f"{count} columns (no tag column {config.tag_column})",
            f"a tag column between 1 and {count - 1}",
            f"choose the column with {setting('corpus.tag_column', 'N')}",
        )
    return _Columns(path, tabs, count, tag_index, line_no, tags_required, repairs)


def _space_fields(text: str) -> list[str]:
    # Leading and trailing tabs are whitespace around the line, not separators: never part of a tag.
    return [field for field in text.strip(" \t").split(" ") if field]


def _is_docstart(text: str) -> bool:
    return text.startswith(DOCSTART) and text.split(maxsplit=1)[0] == DOCSTART


def read_conll(
    path: str | Path,
    config: CorpusConfig = CorpusConfig(),
    *,
    tags_required: bool = True,
    repairs: Counter[str] | None = None,
) -> Iterator[Sentence]:
    """Yield the sentences of a CoNLL column file, tags exactly as written; ``repairs`` as for ``read_lines``.

    Where tags are read (``tags_required``: training, evaluation, ``tagger data``), invisible characters that
    start a word are dropped, and a row whose word holds nothing else is skipped with its tag. Read for
    tagging, words stay as written, so that every row of the input gets its prediction.
    """
    name = str(path)
    columns: _Columns | None = None
    words: list[str] = []
    tags: list[str] = []
    skipped: list[int] = []
    metadata: dict[str, str] = {}
    start = 0
    for line_no, text in read_lines(path, config.encoding, repairs):
        if not text.strip() or _is_docstart(text):
            if words:
                yield Sentence(words, tags, name, start, metadata, tuple(skipped))
                words, tags, skipped, metadata = [], [], [], {}
            if text.strip():
                metadata = {"docstart": "1"}
            continue
        if columns is None:
            columns = _build_columns(text, line_no, name, config, tags_required, repairs)
        word, tag = columns.split(text, line_no)
        if not word:
            if words:  # a skipped line before the first word moves the sentence's start instead
                skipped.append(line_no)
            continue
        if not words:
            start = line_no
        words.append(word)
        if tag is not None:
            tags.append(tag)
    if words:
        yield Sentence(words, tags, name, start, metadata, tuple(skipped))


def write_conll(sentences: Iterable[Sentence], stream: TextIO, *, docstart: bool = True) -> None:
    """Write ``word tag`` lines (words only when untagged), a blank line after each sentence.

    Columns are tab-separated when any word contains a space, so the file reads back the same.
    With ``docstart``, documents marked in metadata (CoNLL ``docstart``, CoNLL-U ``newdoc``)
    are opened with a ``-DOCSTART-`` line. Refuses what would not read back the same (``_word_problem``),
    and tagged sentences mixed with untagged ones (a column file has one layout).
    """
    sentences = list(sentences)
    _check_writable(sentences)
    separator = "\t" if any(" " in word for s in sentences for word in s.words) else " "
    for sentence in sentences:
        if docstart and opens_document(sentence):
            stream.write(f"{DOCSTART}{separator}O\n\n" if sentence.tags else f"{DOCSTART}\n\n")
        if sentence.tags:
            stream.writelines(f"{w}{separator}{t}\n" for w, t in zip(sentence.words, sentence.tags))
        else:
            stream.writelines(f"{w}\n" for w in sentence.words)
        stream.write("\n")


def _check_writable(sentences: list[Sentence]) -> None:
    tagged = any(sentence.tags for sentence in sentences)
    for sentence in sentences:
        if tagged and sentence.words and not sentence.tags:
            refuse(sentence, "a sentence without tags among tagged ones", "tags on every sentence or on none")
        word_problem = _word_problem if sentence.tags else _untagged_word_problem
        check_sentence(sentence, "CoNLL columns", word_problem, _tag_problem)


def _word_problem(word: str) -> str:
    if not word:
        return "empty"
    if word.strip(" ") != word:
        return "a space at either end (a tab-separated reader strips it)"
    if word[0] in INVISIBLE:
        return invisible_start(word)
    if _is_docstart(word):
        return f"read as a {DOCSTART} line"
    return text_problem(word, "\t\n")


def _untagged_word_problem(word: str) -> str:
    # Alone on its line, a word of only whitespace reads as a blank line (a sentence boundary), and a
    # space separates columns: without a tag column, no tab says that columns are tab-separated.
    if word and is_blank(word):
        return "only whitespace or invisible characters (read as a blank line)"
    return "a space (read as a column separator without a tag column)" if " " in word else _word_problem(word)


def _tag_problem(tag: str) -> str:
    return "empty" if not tag else text_problem(tag, "\t\n ")
