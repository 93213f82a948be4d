"""spaCy DocBin (``.spacy``): the binary format of ``spacy train`` and ``spacy evaluate``.

A DocBin holds Docs; each Doc is one document, split into sentences when it has sentence
boundaries. Tags come from ``doc.ents`` (as IOB2) when the file has entity annotation, else from
``token.pos_`` (``corpus.tag_field=upos``) or ``token.tag_`` (``xpos``). Whitespace tokens are not
words and are dropped. The file is msgpack read by spaCy's own ``DocBin.from_bytes`` (no pickle);
spaCy is imported only when a DocBin is read or written, so ``import tagger.corpus`` stays fast.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING

from tagger.atomic import write_atomic
from tagger.config import CorpusConfig
from tagger.corpus.lines import CONTROL_CHARACTER, open_binary
from tagger.corpus.sentence import Sentence, document_ids, drop_empty, opens_document
from tagger.corpus.tagsets import not_universal_pos, spacy_attribute
from tagger.corpus.writing import check_sentence, text_problem, unencodable
from tagger.errors import ConfigError, CorpusFormatError, setting
from tagger.schemes import is_span_tag, is_span_tagset, tags_to_spans

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token
    from spacy.vocab import Vocab

ATTRIBUTES = ("auto", "ents", "tag", "pos")
ANNOTATION = {"ents": "ENT_IOB", "pos": "POS", "tag": "TAG"}  # doc.has_annotation names
TOKEN_FIELD = {"pos": "pos_", "tag": "tag_"}
DOC_ID_KEY = "doc_id"  # doc.user_data key keeping a CoNLL-U "# newdoc id" through a DocBin
NOT_A_DOCBIN = "not a spaCy DocBin (.spacy) file"
EXPECTED_DOCBIN = "a file written by spaCy's DocBin.to_disk or `tagger convert`"
# What DocBin.from_bytes and get_docs raise on bytes that are not a DocBin (bad zlib, msgpack or layout;
# AttributeError: a field of the wrong type, such as flags that are not a dict; OverflowError: a token
# attribute too large for its C type).
BROKEN_DOCBIN = (
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    ZeroDivisionError,
    AssertionError,
    AttributeError,
    OverflowError,
)


def read_docbin(
    path: str | Path,
    config: CorpusConfig = CorpusConfig(),
    *,
    tags_required: bool = True,
    repairs: Counter[str] | None = None,
) -> Iterator[Sentence]:
    """Yield the sentences of every Doc; the first sentence of each Doc opens a document.

    Sentences have ``line`` 0 (a binary file has no lines); errors name the doc and token instead.
    ``repairs`` is accepted like the other readers' and stays as it is: there are no lines to repair.
    """
    name = str(path)
    docs = _read_docs(path)
    attr = _tag_attribute(docs, config)
    annotated = any(doc.has_annotation(ANNOTATION[attr]) for doc in docs)
    if tags_required and not annotated:
        found = f"no entities and no token.{TOKEN_FIELD[attr]} annotation in {len(docs)} docs"
        raise CorpusFormatError(
            name,
            0,
            found,
            "doc.ents, token.pos_ (corpus.tag_field=upos) or token.tag_ (corpus.tag_field=xpos)",
            "tags are needed to train and evaluate",
        )
    for doc_index, doc in enumerate(docs):
        yield from _doc_sentences(doc, doc_index, name, attr if annotated else None, tags_required)


def _read_docs(path: str | Path) -> list[Doc]:
    from spacy.tokens import DocBin

    data = _read_bytes(path)
    try:
        return list(DocBin().from_bytes(data).get_docs(blank_vocab()))
    except BROKEN_DOCBIN:
        raise CorpusFormatError(
            str(path),
            0,
            NOT_A_DOCBIN,
            EXPECTED_DOCBIN,
            f"if it is a text corpus, pass {setting('corpus.format', 'conll')}, conllu or jsonl",
        ) from None


def _read_bytes(path: str | Path) -> bytes:
    with open_binary(path) as stream:
        try:
            return stream.read()
        except (OSError, EOFError, zlib.error) as error:
            raise CorpusFormatError(str(path), 0, f"corrupt compressed data ({error})", "a complete .gz file") from None


def blank_vocab() -> Vocab:
    import spacy

    # A language's vocab, not a bare Vocab(): token.is_space is a lexical attribute that a bare vocab lacks.
    return spacy.blank("xx").vocab


def _tag_attribute(docs: Sequence[Doc], config: CorpusConfig) -> str:
    if any(doc.has_annotation("ENT_IOB") for doc in docs):
        return "ents"
    return "pos" if config.tag_field == "upos" else "tag"


def _doc_sentences(doc: Doc, doc_index: int, path: str, attr: str | None, tags_required: bool) -> Iterator[Sentence]:
    metadata = {"newdoc id": _doc_id(doc, doc_index)}
    for span in doc.sents if doc.has_annotation("SENT_START") else [doc[:]]:
        tokens = [token for token in span if not token.is_space]
        if not tokens:
            continue  # only whitespace: no words, and the document mark moves to the next sentence
        words = [_word(token, doc_index, path) for token in tokens]
        tags = [_tag(token, attr, doc_index, path, tags_required) for token in tokens] if attr else []
        # As in CoNLL-U, an all-missing tag column is raw input, not a tag set.
        yield Sentence(words, tags if any(tag != "_" for tag in tags) else [], path, 0, metadata)
        metadata = {}


def _doc_id(doc: Doc, doc_index: int) -> str:
    value = doc.user_data.get(DOC_ID_KEY)
    return str(value) if isinstance(value, (str, int)) and str(value) else str(doc_index)


def _word(token: Token, doc_index: int, path: str) -> str:
    if CONTROL_CHARACTER.search(token.text):
        found = f"word {token.text!r} (doc {doc_index}, token {token.i}) has a control character"
        raise CorpusFormatError(path, 0, found, "words of printable text")
    return token.text


def _tag(token: Token, attr: str, doc_index: int, path: str, tags_required: bool) -> str:
    if attr == "ents":
        # Tokens without entity annotation are outside any entity.
        if token.ent_iob_ not in ("B", "I"):
            return "O"
        return f"{token.ent_iob_}-{_label(token, 'ent_type_', doc_index, path)}"
    tag = _label(token, TOKEN_FIELD[attr], doc_index, path)
    if tag:
        return tag
    if tags_required:
        found = f"missing token.{TOKEN_FIELD[attr]} for word {token.text!r} (doc {doc_index}, token {token.i})"
        raise CorpusFormatError(path, 0, found, "a tag on every word", "tags are needed to train and evaluate")
    return "_"


def _label(token: Token, field: str, doc_index: int, path: str) -> str:
    try:
        return getattr(token, field)
    except KeyError:  # spaCy looks a label's string up only now, and a damaged DocBin may lack it
        found = f"token.{field} of a string the file lacks (doc {doc_index}, token {token.i})"
        raise CorpusFormatError(path, 0, found, EXPECTED_DOCBIN) from None


def write_docbin(sentences: Iterable[Sentence], path: str | Path, attr: str = "auto") -> None:
    """Write one Doc per document (one per sentence when the corpus marks no documents), spacing unknown
    (spaCy renders it as single spaces), sentence starts set, tags in ``doc.ents`` (span tags, any scheme), ``token.pos_``
    (Universal POS) or ``token.tag_``. ``auto`` picks the attribute from the tags. The file is replaced
    only once it is complete. Refuses a word that is empty, only whitespace (read back as spaCy's
    whitespace tokens, which are not words) or holds a control character, and an empty tag."""
    from spacy.tokens import DocBin

    sentences = list(drop_empty(sentences))  # a Doc has no zero-word sentences; their document marks move on
    for sentence in sentences:
        check_sentence(sentence, "a DocBin", _word_problem, _tag_problem)
    chosen = _choose_attribute(sentences, attr)
    vocab = blank_vocab()
    docs = [sentences_to_doc(vocab, group, chosen) for group in _group_documents(sentences)]
    write_atomic(Path(path), DocBin(docs=docs, store_user_data=True).to_bytes())


def _word_problem(word: str) -> str:
    if not word:
        return "empty"
    return "only whitespace (read back as a whitespace token, not a word)" if word.isspace() else text_problem(word)


def _tag_problem(tag: str) -> str:
    return "empty" if not tag else unencodable(tag)  # an empty tag would read back as a missing one


def _choose_attribute(sentences: Sequence[Sentence], attr: str) -> str:
    if attr not in ATTRIBUTES:
        raise ConfigError(f"attr {attr!r}: expected one of {', '.join(ATTRIBUTES)}")
    labels = sorted({tag for s in sentences for tag in s.tags if tag != "_"})
    if attr == "auto":
        return spacy_attribute(labels, "spans" if is_span_tagset(labels) else "labels")
    if attr == "ents" and not is_span_tagset(labels):
        bad = next(tag for tag in labels if not is_span_tag(tag))
        raise ConfigError(
            f"attr 'ents': tag {bad!r} is not a span tag (O, B-X, I-X, E-X, S-X); "
            "use attr 'tag' or 'pos' for word labels"
        )
    if attr == "pos" and not_universal_pos(labels):
        bad = not_universal_pos(labels)[0]
        raise ConfigError(
            f"attr 'pos': tag {bad!r} is not a Universal POS tag (token.pos_ holds only those); "
            "use attr 'tag' for other tag sets"
        )
    return attr


def _group_documents(sentences: list[Sentence]) -> list[list[Sentence]]:
    if not any(opens_document(s) for s in sentences):
        return [[s] for s in sentences]  # as `spacy convert` does: without documents, a Doc per sentence
    pairs = zip(document_ids(sentences), sentences)
    return [[s for _, s in group] for _, group in groupby(pairs, key=lambda pair: pair[0])]


def sentences_to_doc(vocab: Vocab, sentences: list[Sentence], attr: str, spaces: list[bool] | None = None) -> Doc:
    """One Doc of the sentences' words with their sentence starts and tags in ``attr`` (ents, pos or tag);
    ``spaces`` says which words a space follows, when the input recorded it (raw text)."""
    from spacy.tokens import Doc

    words = [word for s in sentences for word in s.words]
    sent_starts: list[bool | int | None] = [index == 0 for s in sentences for index in range(len(s.words))]
    # No spaces given: the corpus does not record spacing, and spaCy then keeps these words as the tokens
    # of what it evaluates (`spacy evaluate` re-tokenizes the text of docs whose spacing is known).
    doc = Doc(vocab, words=words, spaces=spaces, sent_starts=sent_starts)
    if attr == "ents":
        _set_entities(doc, sentences)
    else:
        _set_token_tags(doc, sentences, TOKEN_FIELD[attr])
    doc_id = sentences[0].metadata.get("newdoc id", "")
    if doc_id:
        doc.user_data[DOC_ID_KEY] = doc_id
    return doc


def _set_entities(doc: Doc, sentences: list[Sentence]) -> None:
    from spacy.tokens import Span

    entities, missing, offset = [], [], 0
    for sentence in sentences:
        if sentence.tags:
            entities += [
                Span(doc, offset + start, offset + end, label=label)
                for label, start, end in tags_to_spans(sentence.tags)
            ]
        else:
            missing.append(doc[offset : offset + len(sentence.words)])  # untagged: unknown, not "O"
        offset += len(sentence.words)
    doc.set_ents(entities, missing=missing, default="outside")


def _set_token_tags(doc: Doc, sentences: list[Sentence], field: str) -> None:
    offset = 0
    for sentence in sentences:
        for index, tag in enumerate(sentence.tags):
            if tag != "_":  # "_" is a missing tag (raw input read without tags_required)
                setattr(doc[offset + index], field, tag)
        offset += len(sentence.words)
