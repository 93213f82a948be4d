"""The contract between the batch engine and each output format.

The engine calls ``begin()``, then ``write()`` once per chunk of sentences in file order, then ``end()``,
and concatenates what they return into the output file. Text writers return ``str``; only ``spacy``
returns ``bytes`` (and only from ``end()``, since a DocBin is written in one piece).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from tagger.errors import CorpusFormatError
from tagger.outputs.source import SourceLines
from tagger.outputs.tagged import TaggedSentence, WriterOptions, check_lengths


class Writer(Protocol):
    binary: bool  # True when the pieces are bytes (spacy)

    def begin(self) -> str | bytes: ...

    def write(self, tagged: Sequence[TaggedSentence]) -> str | bytes: ...

    def end(self) -> str | bytes: ...


class TextWriter:
    """A writer of text that streams: each chunk's text is returned as soon as it is tagged."""

    binary = False

    def begin(self) -> str:
        return ""

    def write(self, tagged: Sequence[TaggedSentence]) -> str:
        check_lengths(tagged)
        return "".join(self.format_sentence(item) for item in tagged)

    def format_sentence(self, tagged: TaggedSentence) -> str:
        raise NotImplementedError

    def end(self) -> str:
        return ""


class FaithfulWriter(TextWriter):
    """The input file's own text, read in step with its sentences: each sentence's part gets the predictions
    (``tag_sentence``), and whatever lies between sentences passes through (``pass_through``)."""

    def __init__(self, input_path: Path, options: WriterOptions):
        self.options = options
        self.source = SourceLines(input_path, options.encoding)

    def write(self, tagged: Sequence[TaggedSentence]) -> str:
        check_lengths(tagged)
        pieces = []
        for item in tagged:
            pieces += [self.pass_through(line) for line in self.source.take_before(item.sentence.line)]
            pieces.append(self.tag_sentence(item))
        return "".join(pieces)

    def tag_sentence(self, tagged: TaggedSentence) -> str:
        """The text of the sentence's own lines, taken from ``self.source``, with its predictions."""
        raise NotImplementedError

    def pass_through(self, line: str) -> str:
        return line + "\n"

    def end(self) -> str:
        return "".join(self.pass_through(line) for line in self.source.take_rest())


def join_lines(lines: Sequence[str]) -> str:
    """Lines with a newline after each, the last one included."""
    return "".join(line + "\n" for line in lines)


def check_column_words(tagged: TaggedSentence, output_format: str) -> None:
    """Refuse a word that would break a column file: JSONL and DocBin words may hold a tab or a line break
    (the readers accept them), which CoNLL and CoNLL-U lines cannot."""
    for word in tagged.words:
        if "\t" in word or "\n" in word:
            found = f"word {word!r} holds a tab or a line break"
            expected = f"words that {output_format} columns can hold"
            raise CorpusFormatError(
                tagged.sentence.path, tagged.sentence.line, found, expected, "write this file as jsonl, spacy or html"
            )
