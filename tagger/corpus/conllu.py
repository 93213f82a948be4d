"""CoNLL-U (Universal Dependencies): 10 tab-separated columns, ``#`` comments before each sentence.

Multiword-token ranges (``3-4``) and empty nodes (``8.1``) are checked but are not words to tag,
and the minimal writer does not reproduce them. A comment line inside a sentence (CoNLL-U puts them
before its first word line) is read as one of the sentence's comments and counted as a repair.

Where tags are read, invisible characters starting a FORM are dropped, and a word whose FORM holds nothing else
is left out of the sentence (counted). Its id still counts: the ids are checked as the file writes them (1, 2,
3, ... with ranges and empty nodes among them), so the file's own numbering stays valid and consistent; what the
minimal writer writes of the sentence is numbered afresh.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from tagger.config import CorpusConfig
from tagger.corpus.lines import clean_word, count_repair, read_lines
from tagger.corpus.sentence import Sentence
from tagger.corpus.writing import check_sentence, invisible_start, refuse, text_problem
from tagger.errors import CorpusFormatError

COLUMNS = 10
TAG_INDEX = {"upos": 3, "xpos": 4}
COMMENT_INSIDE_SENTENCE = "comment inside a sentence read as its comment"  # a key of the repairs tally


class _SentenceBuilder:
    """Collects one sentence's lines and checks that word ids run 1, 2, 3, ... with sane ranges."""

    def __init__(self, path: str, tag_index: int, tags_required: bool, repairs: Counter[str] | None):
        self.path, self.tag_index, self.tags_required, self.repairs = path, tag_index, tags_required, repairs
        self.words: list[str] = []
        self.tags: list[str] = []
        self.metadata: dict[str, str] = {}
        self.last_id = 0  # the last word id read, its word skipped or not
        self.skipped: list[int] = []  # lines of words skipped after the first word
        self.start = 0
        self.range_end = 0  # last word id covered by a multiword range seen so far
        self.range_line = 0
        self.started = False
        self.in_word_lines = False

    def add_comment(self, text: str, line_no: int) -> None:
        if self.in_word_lines:
            count_repair(self.repairs, COMMENT_INSIDE_SENTENCE, self.path, line_no)
        key, sep, value = text[1:].partition("=")
        self.metadata[key.strip()] = value.strip() if sep else ""
        self.started = True

    def add_word_line(self, text: str, line_no: int) -> None:
        self.started = self.in_word_lines = True
        fields = text.rstrip(" ").split("\t")
        if len(fields) != COLUMNS:
            raise CorpusFormatError(
                self.path,
                line_no,
                f"{len(fields)} columns in {text!r}",
                f"{COLUMNS} tab-separated columns",
                "CoNLL-U separates columns with tabs",
            )
        token_id = fields[0]
        if token_id.isascii() and token_id.isdigit():
            self._add_word(int(token_id), fields, line_no)
        elif "-" in token_id:
            self._check_range(token_id, line_no)
        elif "." in token_id:
            self._check_empty_node(token_id, line_no)
        else:
            self._bad_id(token_id, line_no, "an integer id, a range like 3-4 or an empty node like 8.1")

    def _add_word(self, token_id: int, fields: list[str], line_no: int) -> None:
        if token_id != self.last_id + 1:
            self._bad_id(str(token_id), line_no, f"id {self.last_id + 1} (ids start at 1 and go up by 1)")
        self.last_id = token_id
        form, tag = fields[1], fields[self.tag_index]
        if not form:
            raise CorpusFormatError(self.path, line_no, f"an empty FORM for id {token_id}", "a word in column 2")
        if self.tags_required:  # tagged output keeps every word line of the input, as written
            form = clean_word(form, self.repairs, self.path, line_no)
            if not form:
                if self.words:
                    self.skipped.append(line_no)
                return
        if self.tags_required and tag in ("", "_"):
            column = "UPOS" if self.tag_index == 3 else "XPOS"
            raise CorpusFormatError(
                self.path,
                line_no,
                f"missing {column} {tag!r} for word {form!r}",
                f"a tag in the {column} column",
                "tags are needed to train and evaluate",
            )
        if not self.words:
            self.start = line_no
        self.words.append(form)
        self.tags.append(tag)

    def _check_range(self, token_id: str, line_no: int) -> None:
        first, _, last = token_id.partition("-")
        if not (first.isdigit() and last.isdigit()):
            self._bad_id(token_id, line_no, "a range of two integers like 3-4")
        first_id, last_id = int(first), int(last)
        if last_id <= first_id:
            self._bad_id(token_id, line_no, "a range whose end is after its start")
        if first_id <= self.range_end:  # checked before the next-id rule, which overlaps can pass
            self._bad_id(
                token_id,
                line_no,
                f"a range after id {self.range_end}, where the range on line "
                f"{self.range_line} ends (ranges cannot overlap)",
            )
        if first_id != self.last_id + 1:
            self._bad_id(token_id, line_no, f"a range starting at the next word id {self.last_id + 1}")
        self.range_end, self.range_line = last_id, line_no

    def _check_empty_node(self, token_id: str, line_no: int) -> None:
        word_id, _, sub_id = token_id.partition(".")
        if not (word_id.isdigit() and sub_id.isdigit()) or int(word_id) != self.last_id:
            self._bad_id(token_id, line_no, f"an empty node {self.last_id}.N after word {self.last_id}")

    def _bad_id(self, token_id: str, line_no: int, expected: str) -> None:
        raise CorpusFormatError(self.path, line_no, f"id {token_id!r}", expected)

    def finish(self) -> Sentence:
        if self.range_end > self.last_id:
            found = f"a range ending at id {self.range_end} in a sentence of {self.last_id} words"
            raise CorpusFormatError(self.path, self.range_line, found, "ranges over existing words")
        # An all-"_" tag column is raw input for tagging, not a tag set.
        tags = self.tags if any(tag != "_" for tag in self.tags) else []
        return Sentence(self.words, tags, self.path, self.start, self.metadata, tuple(self.skipped))


def read_conllu(
    path: str | Path,
    config: CorpusConfig = CorpusConfig(),
    *,
    tags_required: bool = True,
    repairs: Counter[str] | None = None,
) -> Iterator[Sentence]:
    """Yield every sentence (zero-word ones too; callers skip them), tags from UPOS or XPOS;
    ``repairs`` counts what is read leniently (see ``read_lines``, and comments inside a sentence)."""
    name = str(path)
    tag_index = TAG_INDEX[config.tag_field]
    sentence = _SentenceBuilder(name, tag_index, tags_required, repairs)
    for line_no, text in read_lines(path, config.encoding, repairs):
        if not text.strip():
            if sentence.started:
                yield sentence.finish()
                sentence = _SentenceBuilder(name, tag_index, tags_required, repairs)
        elif text.startswith("#"):
            sentence.add_comment(text, line_no)
        else:
            sentence.add_word_line(text, line_no)
    if sentence.started:
        yield sentence.finish()


def write_conllu(sentences: Iterable[Sentence], stream: TextIO) -> None:
    """Write minimal valid CoNLL-U: id, FORM, UPOS = tag, ``_`` elsewhere; metadata as comments.
    Refuses a word or tag that is empty or holds a tab or line break, and a comment on more than one line."""
    for sentence in sentences:
        _check_writable(sentence)
        for key, value in sentence.metadata.items():
            stream.write(f"# {key} = {value}\n" if value else f"# {key}\n")
        tags = sentence.tags or ["_"] * len(sentence.words)
        for index, (word, tag) in enumerate(zip(sentence.words, tags), start=1):
            stream.write(f"{index}\t{word}\t_\t{tag}\t_\t_\t_\t_\t_\t_\n")
        stream.write("\n")


def _check_writable(sentence: Sentence) -> None:
    check_sentence(sentence, "CoNLL-U", _word_problem, _field_problem)
    for key, value in sentence.metadata.items():
        problem = text_problem(key + value, "\n")
        if problem:
            refuse(sentence, f"comment {key!r} = {value!r}: {problem}", "comments of one line")


def _word_problem(word: str) -> str:
    return _field_problem(word) or invisible_start(word)


def _field_problem(text: str) -> str:
    return "empty" if not text else text_problem(text, "\t\n")
