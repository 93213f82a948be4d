"""CoNLL-U out: the input's own lines with the prediction in UPOS, XPOS or MISC (CoNLL-U in), or minimal
valid CoNLL-U.

Faithful output keeps comments, multiword-token ranges (``3-4``), empty nodes (``8.1``) and every column;
only word lines (an integer ID) change, in one column: UPOS (4) or XPOS (5) replaced by the prediction, or
MISC (10) given ``Tag=B-PER`` (a ``Tag``/``TagProb`` left by an earlier run is replaced, not repeated).
A probability goes to MISC as ``TagProb=0.9876`` whatever the field. As for CoNLL, line endings become
``\\n``, a byte-order mark is dropped and a missing final newline is added.
"""

from __future__ import annotations

from tagger.corpus import opens_document
from tagger.corpus.conllu import COLUMNS, TAG_INDEX
from tagger.outputs.tagged import TaggedSentence, WriterOptions
from tagger.outputs.writer import FaithfulWriter, TextWriter, check_column_words, join_lines

CONLLU_FIELDS = ("upos", "xpos", "misc")
MISC_INDEX = 9
MISC_KEYS = ("Tag", "TagProb")


def place_prediction(fields: list[str], tag: str, score: float | None, options: WriterOptions) -> list[str]:
    """The 10 fields of a word line with the prediction in the chosen column (and the probability in MISC)."""
    fields, misc = list(fields), []
    if options.conllu_field == "misc":
        misc.append(f"Tag={tag}")
    else:
        fields[TAG_INDEX[options.conllu_field]] = tag
    if options.probabilities:
        misc.append(f"TagProb={score:.4f}")
    if misc:
        fields[MISC_INDEX] = _add_to_misc(fields[MISC_INDEX], misc)
    return fields


def _add_to_misc(misc: str, items: list[str]) -> str:
    kept = [item for item in misc.split("|") if item and item != "_" and item.partition("=")[0] not in MISC_KEYS]
    return "|".join(kept + items)


class ConlluWriter(TextWriter):
    """``# sent_id``, ``# text`` and ten columns: ID, FORM, the prediction where asked, ``_`` elsewhere."""

    def __init__(self, options: WriterOptions):
        self.options = options
        self.sentences = 0

    def format_sentence(self, tagged: TaggedSentence) -> str:
        check_column_words(tagged, "CoNLL-U")
        self.sentences += 1
        comments = []
        if opens_document(tagged.sentence):
            doc_id = tagged.sentence.metadata.get("newdoc id", "")
            comments.append(f"# newdoc id = {doc_id}" if doc_id else "# newdoc")
        comments += [f"# sent_id = {self.sentences}", f"# text = {tagged.text()}"]
        rows = []
        for index, (word, tag, score) in enumerate(tagged.rows(), start=1):
            fields = [str(index), word] + ["_"] * (COLUMNS - 2)
            rows.append("\t".join(place_prediction(fields, tag, score, self.options)))
        return join_lines(comments + rows) + "\n"


class FaithfulConlluWriter(FaithfulWriter):
    """The input CoNLL-U file's lines, each word line with the prediction placed per ``conllu_field``."""

    def tag_sentence(self, tagged: TaggedSentence) -> str:
        # Comments and a range before the first word passed through; the sentence runs to its blank line.
        return join_lines(self.tag_block(self.source.take_block(), tagged))

    def tag_block(self, block: list[str], tagged: TaggedSentence) -> list[str]:
        predictions = iter(tagged.rows())
        lines = []
        for line_no, line in enumerate(block, start=tagged.sentence.line):
            if _is_word_line(line):  # ranges, empty nodes and comments are kept as they are
                lines.append(self.place(line, line_no, next(predictions, None)))
            else:
                lines.append(line)
        if next(predictions, None) is not None:
            raise ValueError(f"{self.source.path}:{tagged.sentence.line}: more predictions than word lines")
        return lines

    def place(self, line: str, line_no: int, prediction: tuple[str, str, float | None] | None) -> str:
        content = line.rstrip(" ")
        fields = content.split("\t")
        if prediction is None or fields[1] != prediction[0]:
            # Sentences out of step with the file would put every prediction on the wrong word.
            raise ValueError(f"{self.source.path}:{line_no}: word line {line!r} does not match the sentence's words")
        _, tag, score = prediction
        return "\t".join(place_prediction(fields, tag, score, self.options)) + line[len(content) :]


def _is_word_line(line: str) -> bool:
    token_id = line.split("\t", 1)[0]
    return token_id.isascii() and token_id.isdigit()
