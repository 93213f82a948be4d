"""Raw text -> sentences of words with character offsets, using spaCy's tokenizer (hyphenated words kept whole) and
sentencizer: one rule for files and strings, each paragraph (text between blank lines) a document."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tagger.corpus.lines import INVISIBLE, binary_file_error, looks_binary
from tagger.corpus.sentence import Sentence
from tagger.errors import ConfigError, CorpusFormatError, setting

# Raw text goes to spaCy in pieces of at most this many characters (and never over its nlp.max_length):
# a paragraph of 1.8 MB without a line break used to stop the run with spaCy's error E088.
PIECE_CHARS = 100_000
PARAGRAPH_CHARS = 100_000  # a "paragraph" without a blank line (a file that is one long text) is cut after this many
SENTENCE_END = re.compile(r"[.!?][\"')\]\u2019\u201d]*\s+")


@dataclass(frozen=True)
class Token:
    text: str
    start: int  # character offset in the text it came from
    end: int


def load_tokenizer(lang: str = "en", pipeline: str | None = None) -> Any:
    """``spacy.blank(lang)`` with a rule-based sentencizer and hyphenated words kept whole (``keep_hyphenated_words``),
    or an installed pipeline by name, with its own tokenizer as it is."""
    import spacy  # lazily: spaCy takes a second to import and only raw text needs it

    if pipeline:
        try:
            return spacy.load(pipeline, exclude=["ner", "tagger", "lemmatizer", "attribute_ruler"])
        except OSError as error:
            raise ConfigError(
                f"spaCy pipeline {pipeline!r} is not installed ({error}); "
                f"install it or leave {setting('spacy_model')} out to use spacy.blank('{lang}')"
            ) from None
    try:
        nlp = spacy.blank(lang)
    except (ImportError, KeyError) as error:
        raise ConfigError(f"spaCy has no language {lang!r} ({error})") from None
    keep_hyphenated_words(nlp)
    nlp.add_pipe("sentencizer")
    return nlp


def keep_hyphenated_words(nlp: Any) -> None:
    """Drop the plain hyphen from the tokenizer's infixes, so ``all-rounder``, ``Anglo-Dutch``, ``1996-08-30`` and
    ``3-1`` stay one word each, as CoNLL-2003 writes them, where spaCy's rules split them; dashes (``–``, ``—``,
    ``--``) still split. The shipped NER model, trained on CoNLL-2003, scored 89.74 instead of 86.25 entity F1 on
    eng.testb's sentences given as text; UD EWT's gold words, which split some hyphens and not others, were matched
    at 97.42 instead of 97.48 word F1 (scripts/benchmarks/raw_text_words.py, BENCHMARKS.md)."""
    from spacy.lang.char_classes import HYPHENS
    from spacy.util import compile_infix_regex

    dashes = "|".join(dash for dash in HYPHENS.split("|") if dash != "-")
    infixes = [
        pattern.replace(HYPHENS, dashes).replace(r"[+\-\*^]", r"[+\*^]").replace("(?=[0-9-])", "(?=[0-9])")
        for pattern in nlp.Defaults.infixes or ()
    ]
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer


def split_texts(texts: Iterable[str], nlp: Any, batch_size: int = 64) -> Iterator[list[list[Token]]]:
    """For each text, its sentences as lists of tokens; whitespace tokens are dropped, and so are invisible
    characters (``corpus.lines.INVISIBLE``) that start a token, or make it up, as the corpus readers drop them.

    A text longer than ``PIECE_CHARS`` (or than ``nlp.max_length``, spaCy's own limit: error E088) is given to
    spaCy in pieces cut at safe points (``cut_point``) and its sentences rejoined, with offsets into the whole text.
    """
    limit = min(PIECE_CHARS, nlp.max_length)
    pieces = ((piece, (start, last)) for text in texts for start, piece, last in cut_text(text, limit))
    sentences: list[list[Token]] = []
    for doc, (start, last) in nlp.pipe(pieces, batch_size=batch_size, as_tuples=True):
        for sentence in doc.sents:
            tokens = [token for t in sentence if not t.is_space and (token := visible_token(t.text, start + t.idx))]
            if tokens:
                sentences.append(tokens)
        if last:
            yield sentences
            sentences = []


def visible_token(text: str, start: int) -> Token | None:
    """The token without the invisible characters that start it (its offsets on what is left), or None when
    nothing is left: spaCy keeps a zero-width space or a byte-order mark between spaces as a word of its own."""
    visible = text.lstrip(INVISIBLE)
    return Token(visible, start + len(text) - len(visible), start + len(text)) if visible else None


def cut_text(text: str, limit: int) -> Iterator[tuple[int, str, bool]]:
    """``(offset, piece, is_last)`` for pieces of ``text`` of at most ``limit`` characters; an empty text is
    one empty piece, so that every text has its result."""
    start = 0
    while len(text) - start > limit:
        end = cut_point(text, start, start + limit)
        yield start, text[start:end], False
        start = end
    yield start, text[start:], True


def cut_point(text: str, start: int, end: int) -> int:
    """Where to end the piece ``text[start:end]`` so that no word, and if possible no sentence, is cut: after
    the last sentence end (``.``, ``!`` or ``?``, closing quotes or brackets, then whitespace) in its second
    half, else after its last whitespace, else (one "word" as long as the piece) at ``end``. spaCy splits
    words at whitespace first, so a cut after whitespace tokenizes the text as a whole would be."""
    last = None
    for match in SENTENCE_END.finditer(text, (start + end) // 2, end):
        last = match
    if last is not None:
        return last.end()
    for index in range(end - 1, start, -1):
        if text[index].isspace():
            return index + 1
    return end


def read_text_blocks(
    path: str | Path, encoding: str = "utf-8", max_chars: int = PARAGRAPH_CHARS, stream: IO[bytes] | None = None
) -> Iterator[tuple[int, str]]:
    """The paragraphs of a text file (``paragraphs``) with their character offsets in the file; read from
    ``stream`` instead when given (standard input), ``path`` then only naming it.

    Lines are decoded one by one so a bad byte is reported with its line number; memory stays bounded.
    """
    return paragraphs(decoded_lines(path, encoding, stream), max_chars)


def text_paragraphs(text: str, max_chars: int = PARAGRAPH_CHARS) -> Iterator[tuple[int, str]]:
    """The paragraphs of a text held in memory (``paragraphs``), with their character offsets in it."""
    lines = text.split("\n")
    return paragraphs([line + "\n" for line in lines[:-1]] + [lines[-1]], max_chars)


def decoded_lines(path: str | Path, encoding: str, stream: IO[bytes] | None = None) -> Iterator[str]:
    """The lines of a text file (or of ``stream``, named ``path``), line endings kept and a byte-order mark
    dropped; a line that does not decode, or a binary file, is refused with its place."""
    with open(path, "rb") if stream is None else nullcontext(stream) as lines:
        for line_no, raw in enumerate(lines, 1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as error:
                if stream is None and looks_binary(path):  # a stream cannot be read again from its start
                    raise binary_file_error(path) from None
                raise CorpusFormatError(
                    str(path),
                    line_no,
                    f"bytes that are not {encoding} ({error.reason})",
                    f"text in {encoding}",
                    f"pass {setting('encoding')} with the file's encoding",
                ) from None
            if "\x00" in line:  # decodes (NUL is ASCII), but no text holds it: spaCy would tag the bytes as words
                raise binary_file_error(path)
            yield line.removeprefix("\ufeff") if line_no == 1 else line


def paragraphs(lines: Iterable[str], max_chars: int = PARAGRAPH_CHARS) -> Iterator[tuple[int, str]]:
    """The one rule for raw text, a file or a string: a paragraph (lines between blank lines, cut every
    ``max_chars``) is a document. Yields ``(offset, paragraph)``, the offset of its first character."""
    offset, block_start = 0, 0
    block: list[str] = []
    size = 0
    for line in lines:
        if block and (not line.strip() or size >= max_chars):
            yield block_start, "".join(block)
            block, size = [], 0
        if not block:
            block_start = offset
        if line.strip():
            block.append(line)
            size += len(line)
        offset += len(line)
    if block:
        yield block_start, "".join(block)


def raw_text_sentences(
    blocks: Iterable[tuple[int, str]], nlp: Any, path: str = "<memory>"
) -> Iterator[tuple[int, Sentence, list[tuple[int, int]]]]:
    """The one reader of raw text, for ``tagger tag`` and ``Tagger.tag_texts`` alike: each paragraph of
    ``blocks`` (``(offset, paragraph)``, see ``paragraphs``) is a document, split into sentences and words by
    spaCy (``nlp``). Yields ``(paragraph number, sentence, offsets)``: the first sentence of each paragraph
    marked as opening a document, and each word's character span in the whole text."""
    starts: deque[int] = deque()  # spaCy reads a few paragraphs ahead of what it yields

    def texts() -> Iterator[str]:
        for start, text in blocks:
            starts.append(start)
            yield text

    for number, sentences in enumerate(split_texts(texts(), nlp)):
        start = starts.popleft()
        for index, tokens in enumerate(sentences):
            metadata = {"newdoc": str(number)} if index == 0 else {}
            yield (
                number,
                Sentence([t.text for t in tokens], [], path, 0, metadata),
                [(start + t.start, start + t.end) for t in tokens],
            )
