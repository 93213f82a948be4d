"""CoNLL columns out: the input's own lines with the prediction appended (CoNLL in), or ``word tag`` lines.

Faithful output keeps every line of a CoNLL input as it was, columns, separators, trailing whitespace and
``-DOCSTART-`` lines included, and appends the predicted tag (and its probability) as a new last column
with the line's own separator. Line endings become ``\\n``, a byte-order mark is dropped, and a missing
final newline is added: the text is otherwise byte for byte the input's.
"""

from __future__ import annotations

from collections.abc import Sequence

from tagger.corpus import opens_document
from tagger.corpus.conll import DOCSTART
from tagger.outputs.tagged import TaggedSentence, WriterOptions
from tagger.outputs.writer import FaithfulWriter, TextWriter, check_column_words, join_lines

DOCSTART_LINE = f"{DOCSTART}\tO\n\n"


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
    before each document the input marks (CoNLL ``-DOCSTART-``, CoNLL-U ``# newdoc``, a DocBin's Docs).

    Raw text makes each paragraph a document, but a ``-DOCSTART-`` line above the only paragraph of an output
    says nothing and trips tools that do not expect one (POS taggers' readers): raw text gets ``-DOCSTART-``
    lines only once a second paragraph shows there is more than one document (or other inputs share the
    output). Until then the first paragraph's lines are held, so memory holds one paragraph at most.
    """

    def __init__(self, options: WriterOptions):
        self.options = options
        deciding = options.input_format == "text" and not options.shared_output
        self.held: list[str] | None = [] if deciding else None  # the first paragraph, while it may be the only one

    def format_sentence(self, tagged: TaggedSentence) -> str:
        check_column_words(tagged, "CoNLL")
        opens = opens_document(tagged.sentence)
        scores = tagged.scores if self.options.probabilities else None
        lines = format_conll(tagged.words, tagged.tags, scores)
        if self.held is None:
            return (DOCSTART_LINE if opens else "") + lines
        if not opens or not self.held:  # still inside the first paragraph
            self.held.append(lines)
            return ""
        first, self.held = "".join(self.held), None  # a second paragraph: both are documents
        return DOCSTART_LINE + first + DOCSTART_LINE + lines

    def end(self) -> str:
        first, self.held = "".join(self.held or []), None  # the only paragraph: no -DOCSTART-
        return first


class FaithfulConllWriter(FaithfulWriter):
    """The input CoNLL file's lines, each word line with the prediction as a new last column."""

    def tag_sentence(self, tagged: TaggedSentence) -> str:
        # A CoNLL sentence is its words' lines, one after another.
        return join_lines(
            [self.append_prediction(self.take_word_line(word), tag, score) for word, tag, score in tagged.rows()]
        )

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
        return content + "".join(separator + column for column in columns) + line[len(content) :]
