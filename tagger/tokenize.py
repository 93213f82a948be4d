"""Raw text -> sentences of words with character offsets, using spaCy's tokenizer and sentencizer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from tagger.errors import ConfigError, CorpusFormatError


@dataclass(frozen=True)
class Token:
    text: str
    start: int  # character offset in the text it came from
    end: int


def load_tokenizer(lang: str = "en", pipeline: str | None = None) -> Any:
    """``spacy.blank(lang)`` with a rule-based sentencizer, or an installed pipeline by name."""
    import spacy  # lazily: spaCy takes a second to import and only raw text needs it

    if pipeline:
        try:
            return spacy.load(pipeline, exclude=["ner", "tagger", "lemmatizer", "attribute_ruler"])
        except OSError as error:
            raise ConfigError(f"spaCy pipeline {pipeline!r} is not installed ({error}); "
                              f"install it or leave --spacy-model out to use spacy.blank('{lang}')") from None
    try:
        nlp = spacy.blank(lang)
    except (ImportError, KeyError) as error:
        raise ConfigError(f"spaCy has no language {lang!r} ({error})") from None
    nlp.add_pipe("sentencizer")
    return nlp


def split_texts(texts: Iterable[str], nlp: Any, batch_size: int = 64) -> Iterator[list[list[Token]]]:
    """For each text, its sentences as lists of tokens; whitespace tokens are dropped."""
    for doc in nlp.pipe(texts, batch_size=batch_size):
        yield [
            [Token(t.text, t.idx, t.idx + len(t.text)) for t in sentence if not t.is_space]
            for sentence in doc.sents
            if any(not t.is_space for t in sentence)
        ]


def read_text_blocks(path: str | Path, encoding: str = "utf-8", max_chars: int = 100_000) -> Iterator[tuple[int, str]]:
    """Paragraphs of a text file (split at blank lines, or every ``max_chars``) with their character offsets.

    Lines are decoded one by one so a bad byte is reported with its line number; memory stays bounded.
    """
    offset, block_start, block = 0, 0, []
    size = 0
    with open(path, "rb") as stream:
        for line_no, raw in enumerate(stream, 1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as error:
                raise CorpusFormatError(str(path), line_no, f"bytes that are not {encoding} ({error.reason})",
                                        f"text in {encoding}", "pass --encoding with the file's encoding") from None
            if line_no == 1:
                line = line.removeprefix("\ufeff")
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
