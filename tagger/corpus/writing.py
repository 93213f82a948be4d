"""What the writers refuse: a sentence their format cannot hold. Written anyway, it would give a file that
its reader refuses, or reads back as other words, tags or documents; the error names the place the
sentence was read from (``path:line``), where it can be fixed."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from tagger.corpus.lines import CONTROL_CHARACTER, INVISIBLE, LONE_SURROGATE
from tagger.corpus.sentence import Sentence
from tagger.errors import CorpusFormatError

SEPARATORS = {"\t": "a tab", "\n": "a line break", " ": "a space"}
# Says what a format cannot hold in a word or tag, or "" when it can hold it.
Problem = Callable[[str], str]


def unencodable(text: str) -> str:
    """A lone surrogate: no UTF-8 file (nor spaCy's msgpack) can hold one."""
    found = LONE_SURROGATE.search(text)
    return f"a lone surrogate U+{ord(found.group()):04X}" if found else ""


def text_problem(text: str, separators: str = "") -> str:
    """What keeps ``text`` out of a file: a lone surrogate, a control character (every reader refuses one)
    or one of the format's ``separators`` (tab, line break, space)."""
    control = CONTROL_CHARACTER.search(text)
    if control:
        return f"a control character U+{ord(control.group()):04X}"
    return unencodable(text) or next((SEPARATORS[char] for char in separators if char in text), "")


def invisible_start(word: str) -> str:
    """An invisible character first: the readers drop it (and skip a word of nothing else) where tags are read."""
    if not word or word[0] not in INVISIBLE:
        return ""
    return f"U+{ord(word[0]):04X} first (an invisible character, dropped when read)"


def check_sentence(sentence: Sentence, fmt: str, word_problem: Problem, tag_problem: Problem) -> None:
    """Raise CorpusFormatError for a sentence ``fmt`` cannot hold: a tag count other than the word count
    (a writer would drop or invent tags), or a word or tag the problem functions object to."""
    if sentence.tags and len(sentence.tags) != len(sentence.words):
        refuse(sentence, f"{len(sentence.words)} words with {len(sentence.tags)} tags", "one tag per word")
    for kind, values, problem_of in (("word", sentence.words, word_problem), ("tag", sentence.tags, tag_problem)):
        for value in values:
            problem = problem_of(value)
            if problem:
                refuse(sentence, f"{kind} {value!r}: {problem}", f"{kind}s that {fmt} can hold")


def refuse(sentence: Sentence, found: str, expected: str) -> NoReturn:
    raise CorpusFormatError(sentence.path, sentence.line, f"cannot write {found}", expected)
