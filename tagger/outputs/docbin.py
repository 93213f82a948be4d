"""spaCy DocBin out: one Doc per document with the predictions in ``doc.ents`` (span tags), ``token.pos_``
(Universal POS) or ``token.tag_`` (any other tag set).

A DocBin is written in one piece, so this writer keeps its Docs until ``end()``. Documents are as the
input marks them; a sentence outside any marked document is a Doc of its own, as ``write_docbin`` does.
Raw text keeps its spacing (a space after a word wherever the input had whitespace); other inputs have
unknown spacing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tagger.corpus import opens_document
from tagger.corpus.docbin import blank_vocab, sentences_to_doc
from tagger.corpus.tagsets import spacy_attribute
from tagger.outputs.tagged import TaggedSentence, WriterOptions, check_lengths, spaces_after

if TYPE_CHECKING:
    from spacy.tokens import Doc
    from spacy.vocab import Vocab


class DocBinWriter:
    binary = True

    def __init__(self, options: WriterOptions):
        self.options = options
        self.vocab = blank_vocab()
        self.docs: list[Doc] = []
        self.document: list[TaggedSentence] = []  # the document being read; it may go on in the next chunk
        self.in_marked_document = False
        self.labels: set[str] = set()

    def begin(self) -> bytes:
        return b""

    def write(self, tagged: Sequence[TaggedSentence]) -> bytes:
        check_lengths(tagged)
        for item in tagged:
            self.labels.update(item.tags)
            if opens_document(item.sentence) or not self.in_marked_document:
                self.finish_document()
            self.in_marked_document |= opens_document(item.sentence)
            self.document.append(item)
        return b""

    def finish_document(self) -> None:
        if not self.document:
            return
        # Span tags go to doc.ents; word labels to token.tag_ for now, and to token.pos_ at the end if every
        # label turns out to be a Universal POS tag (only the whole file tells).
        attr = "ents" if self.options.task == "spans" else "tag"
        self.docs.append(build_doc(self.vocab, self.document, attr))
        self.document = []

    def end(self) -> bytes:
        from spacy.tokens import DocBin

        self.finish_document()
        if self.options.task == "labels" and spacy_attribute(sorted(self.labels), "labels") == "pos":
            for doc in self.docs:
                move_tags_to_pos(doc)
        # user_data holds only document ids; storing it costs a msgpack call per Doc, so only when there are some
        store_user_data = any(doc.user_data for doc in self.docs)
        return DocBin(docs=self.docs, store_user_data=store_user_data).to_bytes()


def build_doc(vocab: Vocab, document: list[TaggedSentence], attr: str) -> Doc:
    """A Doc of the document's words, sentence starts and predicted tags."""
    sentences = [dataclasses.replace(item.sentence, tags=item.tags) for item in document]
    spaces = None
    if all(item.offsets is not None for item in document):
        spaces = spaces_after([span for item in document for span in item.offsets or []])
    return sentences_to_doc(vocab, sentences, attr, spaces)  # it also keeps a CoNLL-U "# newdoc id"


def move_tags_to_pos(doc: Doc) -> None:
    for token in doc:
        token.pos_, token.tag_ = token.tag_, ""
