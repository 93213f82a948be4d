"""Output files of tagged sentences: CoNLL columns, CoNLL-U, JSON lines, spaCy DocBin and HTML.

Modules by concern: ``tagged`` (``TaggedSentence``, the one record of a tagged sentence, which the ``Tagger``
returns and every writer takes, with the text, spacing and entities derived from it), ``writer`` (the
``Writer`` protocol: ``begin()``, ``write(chunk)`` per chunk in file order, ``end()``), ``source`` (an input
file's lines read in step with its sentences), one module per format (``conll``,
``conllu``, ``jsonl``, ``docbin``, ``html``; spaCy is imported only by the last two, when they run), and
``formats`` (the one table of output formats, and ``make_writer``).

A CoNLL, CoNLL-U or JSONL input written in its own format is written faithfully: its lines are kept and
the predictions added (see each module for exactly how).
"""

from tagger.outputs.conll import format_conll, format_predictions
from tagger.outputs.formats import OUTPUT_FORMATS, default_output_format, make_writer, output_suffix
from tagger.outputs.jsonl import format_jsonl
from tagger.outputs.tagged import TaggedSentence, WriterOptions
from tagger.outputs.writer import Writer

__all__ = [
    "OUTPUT_FORMATS",
    "TaggedSentence",
    "Writer",
    "WriterOptions",
    "default_output_format",
    "format_conll",
    "format_jsonl",
    "format_predictions",
    "make_writer",
    "output_suffix",
]
