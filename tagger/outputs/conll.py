"""CoNLL columns out: the input's own lines with the prediction appended (CoNLL in), or ``word tag`` lines.

Faithful output keeps every line of a CoNLL input as it was, columns, separators, trailing whitespace and
``-DOCSTART-`` lines included, and appends the predicted tag (and its probability) as a new last column
with the line's own separator. Line endings become ``\\n``, a byte-order mark is dropped, and a missing
final newline is added: the text is otherwise byte for byte the input's.
"""

from __future__ import annotations

from typing import Sequence

from tagger.corpus import opens_document
from tagger.corpus.conll import DOCSTART
from tagger.outputs.tagged import TaggedSentence, WriterOptions
from tagger.outputs.writer import FaithfulWriter, TextWriter, check_column_words, join_lines


def format_conll(words: Sequence[str], tags: Sequence[str], scores: Sequence[float] | None = None) -> str:
    """``word<TAB>tag[<TAB>probability]`` lines and a blank line; tabs, so words may hold spaces."""
    lines = []
    for i, (word, tag) in enumerate(zip(words, tags)):
        lines.append(f"{word}\t{tag}\t{scores[i]:.4f}" if scores is not None else f"{word}\t{tag}")
    return "\n".join(lines) + "\n\n"


def format_predictions(words: Sequence[str], gold: Sequence[str], predicted: Sequence[str]) -> str:
    """``word gold predicted`` lines as conlleval reads them (spaces inside words become underscores)."""
    rows = [f"{w.replace(' ', '_') or '_'} {g} {p}" for w, g, p in zip(words, gold, predicted)]
    return "\n".join(rows) + "\n\n"


class ConllWriter(TextWriter):
    """``word<TAB>tag[<TAB>probability]`` per word, a blank line after each sentence, and ``-DOCSTART-``
    before each document the input marks (CoNLL ``-DOCSTART-``, CoNLL-U ``# newdoc``, a DocBin's Docs)."""

    def __init__(self, options: WriterOptions):
        self.options = options

    def format_sentence(self, tagged: TaggedSentence) -> str:
        check_column_words(tagged, "CoNLL")
        docstart = f"{DOCSTART}\tO\n\n" if opens_document(tagged.sentence) else ""
        scores = tagged.scores if self.options.probabilities else None
        return docstart + format_conll(tagged.words, tagged.tags, scores)


class FaithfulConllWriter(FaithfulWriter):
    """The input CoNLL file's lines, each word line with the prediction as a new last column."""

    def tag_sentence(self, tagged: TaggedSentence) -> str:
        # A CoNLL sentence is its words' lines, one after another.
        return join_lines([self.append_prediction(self.take_word_line(word), tag, score)
                           for word, tag, score in tagged.rows()])

    def take_word_line(self, word: str) -> str:
        line = self.source.take()
        fields = line.split("\t") if "\t" in line.strip(" \t") else [field for field in line.split(" ") if field]
        if not fields or fields[0].strip(" ") != word:
            # Sentences out of step with the file would put every prediction on the wrong word.
            raise ValueError(f"{self.source.path}:{self.source.line_no}: expected word {word!r}, found {line!r}")
        return line

    def append_prediction(self, line: str, tag: str, score: float | None) -> str:
        separator = "\t" if "\t" in line.strip(" \t") else " "
        columns = [tag, f"{score:.4f}"] if self.options.probabilities else [tag]
        content = line.rstrip(" \t")
        # Trailing whitespace stays at the end of the line, so the new column is the last one.
        return content + "".join(separator + column for column in columns) + line[len(content):]
