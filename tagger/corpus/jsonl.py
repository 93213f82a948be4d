"""JSON Lines: one ``{"words": [...], "tags": [...]}`` object per line (``tokens`` is an alias of ``words``)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from tagger.config import CorpusConfig
from tagger.corpus.lines import CONTROL_CHARACTER, read_lines
from tagger.corpus.sentence import Sentence
from tagger.errors import CorpusFormatError

WORD_KEYS = ("words", "tokens")
EXPECTED = 'one JSON object per line like {"words": ["Paris"], "tags": ["B-LOC"]}'


def read_jsonl(path: str | Path, config: CorpusConfig = CorpusConfig(), *,
               tags_required: bool = True, repairs: Counter[str] | None = None) -> Iterator[Sentence]:
    """Yield one sentence per non-blank line; other string or number fields go to metadata;
    ``repairs`` as for ``read_lines``."""
    name = str(path)
    for line_no, text in read_lines(path, config.encoding, repairs):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise CorpusFormatError(name, line_no, f"invalid JSON ({error.msg} at column {error.colno})",
                                    EXPECTED) from None
        yield _record_to_sentence(record, name, line_no, tags_required)


def _record_to_sentence(record: Any, path: str, line_no: int, tags_required: bool) -> Sentence:
    if not isinstance(record, dict):
        raise CorpusFormatError(path, line_no, f"a JSON {type(record).__name__}", EXPECTED)
    word_key = next((key for key in WORD_KEYS if key in record), None)
    if word_key is None:
        raise CorpusFormatError(path, line_no, f"keys {sorted(record)}", f'a "words" (or "tokens") list; {EXPECTED}')
    words = _string_list(record[word_key], word_key, path, line_no)
    for word in words:
        if not word or CONTROL_CHARACTER.search(word):
            raise CorpusFormatError(path, line_no, f"word {word!r}", "a non-empty word without control characters")
    tags = _read_tags(record, words, path, line_no, tags_required)
    metadata = {key: str(value) for key, value in record.items()
                if key not in (word_key, "tags") and isinstance(value, (str, int, float))}
    return Sentence(words, tags, path, line_no, metadata)


def _read_tags(record: dict, words: list[str], path: str, line_no: int, tags_required: bool) -> list[str]:
    if "tags" not in record:
        if tags_required:
            raise CorpusFormatError(path, line_no, f"keys {sorted(record)}", f'a "tags" list; {EXPECTED}',
                                    "tags are needed to train and evaluate")
        return []
    tags = _string_list(record["tags"], "tags", path, line_no)
    if len(tags) != len(words):
        raise CorpusFormatError(path, line_no, f"{len(words)} words but {len(tags)} tags", "one tag per word")
    missing = [word for word, tag in zip(words, tags) if tag in ("", "_")]
    if tags_required and missing:
        raise CorpusFormatError(path, line_no, f"a missing tag for word {missing[0]!r}", "a tag for every word",
                                "tags are needed to train and evaluate")
    return tags


def _string_list(value: Any, key: str, path: str, line_no: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CorpusFormatError(path, line_no, f'"{key}": {json.dumps(value)[:60]}', f'"{key}" as a list of strings')
    return value


def write_jsonl(sentences: Iterable[Sentence], stream: TextIO) -> None:
    """Write ``{"words": [...], "tags": [...]}`` per line, UTF-8 kept readable (no \\u escapes)."""
    for sentence in sentences:
        stream.write(json.dumps({"words": sentence.words, "tags": sentence.tags}, ensure_ascii=False) + "\n")
