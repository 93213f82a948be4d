"""Corpora: read and write CoNLL columns, CoNLL-U, JSONL (``.gz`` transparent) and spaCy DocBin, and load
local files or Hugging Face datasets as a ``datasets.DatasetDict``.

Modules by concern: ``lines`` (bytes -> checked lines), ``conll``, ``conllu``, ``jsonl``, ``docbin``
(one format each, reader and writer; ``docbin`` imports spacy only when called), ``formats`` (the one table
of formats: names, readers, writers, extensions), ``tagsets`` (span-tag checks and IOB2 conversion),
``reading`` (format detection and the public readers), ``convert`` (``convert_corpus``), ``hub``
(``load_corpus``; the only importer of ``datasets``).
Text is kept as written: no Unicode normalisation (NFC or otherwise) is applied; ``read_corpus(strict=True)``
refuses a word not in NFC, and a tag sequence invalid in its scheme, instead of reading it leniently.
"""

from tagger.corpus.conll import read_conll, write_conll
from tagger.corpus.conllu import read_conllu, write_conllu
from tagger.corpus.convert import Conversion, ConvertOptions, convert_corpus
from tagger.corpus.docbin import read_docbin, write_docbin
from tagger.corpus.formats import CORPUS_FORMATS, INPUT_FORMATS, RAW_TEXT, CorpusFormat
from tagger.corpus.hub import load_corpus, read_dataset_splits
from tagger.corpus.jsonl import read_jsonl, write_jsonl
from tagger.corpus.reading import detect_format, read_corpus, read_sentences
from tagger.corpus.sentence import CorpusReport, Sentence, document_ids, opens_document

__all__ = [
    "CORPUS_FORMATS",
    "INPUT_FORMATS",
    "RAW_TEXT",
    "Conversion",
    "ConvertOptions",
    "CorpusFormat",
    "convert_corpus",
    "read_dataset_splits",
    "CorpusReport",
    "Sentence",
    "detect_format",
    "document_ids",
    "opens_document",
    "load_corpus",
    "read_conll",
    "read_conllu",
    "read_corpus",
    "read_docbin",
    "read_jsonl",
    "read_sentences",
    "write_conll",
    "write_conllu",
    "write_docbin",
    "write_jsonl",
]
