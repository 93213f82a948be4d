"""JSON Lines: one ``{"words": [...], "tags": [...]}`` object per line (``tokens`` is an alias of ``words``)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from tagger.config import CorpusConfig
from tagger.corpus.lines import CONTROL_CHARACTER, LONE_SURROGATE, clean_word, is_invisible, read_lines
from tagger.corpus.sentence import Sentence
from tagger.corpus.writing import check_sentence, invisible_start, refuse, text_problem, unencodable
from tagger.errors import CorpusFormatError

WORD_KEYS = ("words", "tokens")
WRITTEN_KEYS = ("words", "tags")  # what write_jsonl writes itself: metadata of these names is not written
EXPECTED = 'one JSON object per line like {"words": ["Paris"], "tags": ["B-LOC"]}'


def read_jsonl(
    path: str | Path,
    config: CorpusConfig = CorpusConfig(),
    *,
    tags_required: bool = True,
    repairs: Counter[str] | None = None,
) -> Iterator[Sentence]:
    """Yield one sentence per non-blank line; other string or number fields go to metadata;
    ``repairs`` as for ``read_lines``.

    Where tags are read, invisible characters that start a word are dropped, and a word of nothing else is
    taken out of ``words`` with its tag at the same place in ``tags``. Read for tagging, words stay as written,
    so that the output record's words are the input's.
    """
    name = str(path)
    for line_no, text in read_lines(path, config.encoding, repairs):
        if not text.strip():
            continue
        sentence = _record_to_sentence(load_json_line(text, name, line_no, EXPECTED), name, line_no, tags_required)
        yield _clean_words(sentence, repairs) if tags_required else sentence


def _clean_words(sentence: Sentence, repairs: Counter[str] | None) -> Sentence:
    cleaned = [clean_word(word, repairs, sentence.path, sentence.line) for word in sentence.words]
    if cleaned == sentence.words:
        return sentence
    kept = [index for index, word in enumerate(cleaned) if word]
    tags = [sentence.tags[index] for index in kept] if sentence.tags else []
    return replace(sentence, words=[cleaned[index] for index in kept], tags=tags)


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
    metadata = {
        key: str(value)
        for key, value in record.items()
        if key not in (word_key, "tags") and isinstance(value, (str, int, float))
    }
    _check_encodable([*words, *tags, *metadata, *metadata.values()], path, line_no)
    return Sentence(words, tags, path, line_no, metadata)


def _check_encodable(texts: list[str], path: str, line_no: int) -> None:
    # JSON can escape half a UTF-16 pair ("\ud800"); kept, it would fail whatever writes it out later.
    bad = next((text for text in texts if LONE_SURROGATE.search(text)), None)
    if bad is not None:
        raise CorpusFormatError(path, line_no, f"{bad!r}, a lone surrogate escape", "text that UTF-8 can encode")


def _read_tags(record: dict, words: list[str], path: str, line_no: int, tags_required: bool) -> list[str]:
    if "tags" not in record:
        if tags_required:
            raise CorpusFormatError(
                path,
                line_no,
                f"keys {sorted(record)}",
                f'a "tags" list; {EXPECTED}',
                "tags are needed to train and evaluate",
            )
        return []
    tags = _string_list(record["tags"], "tags", path, line_no)
    if len(tags) != len(words):
        raise CorpusFormatError(path, line_no, f"{len(words)} words but {len(tags)} tags", "one tag per word")
    # a word of only invisible characters is skipped, tag and all (_clean_words)
    missing = [word for word, tag in zip(words, tags) if tag in ("", "_") and not is_invisible(word)]
    if tags_required and missing:
        raise CorpusFormatError(
            path,
            line_no,
            f"a missing tag for word {missing[0]!r}",
            "a tag for every word",
            "tags are needed to train and evaluate",
        )
    return tags


def _string_list(value: Any, key: str, path: str, line_no: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CorpusFormatError(path, line_no, f'"{key}": {json.dumps(value)[:60]}', f'"{key}" as a list of strings')
    return value


def write_jsonl(sentences: Iterable[Sentence], stream: TextIO) -> None:
    """Write ``{"words": [...], "tags": [...]}`` per line, then the metadata as string fields (the reader's
    metadata: document marks and CoNLL-U comments survive), UTF-8 kept readable (no \\u escapes).

    An untagged sentence gets no "tags" (the reader would refuse an empty list as one tag short per word).
    Refuses what the reader refuses: an empty word or one with a control character, a lone surrogate anywhere.
    """
    for sentence in sentences:
        _check_writable(sentence)
        record: dict[str, Any] = {"words": sentence.words}
        if sentence.tags or not sentence.words:  # a zero-word sentence keeps [], read back when tags are required
            record["tags"] = sentence.tags
        record.update((key, value) for key, value in sentence.metadata.items() if key not in WRITTEN_KEYS)
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")


def _check_writable(sentence: Sentence) -> None:
    check_sentence(sentence, "JSONL", _word_problem, unencodable)
    for key, value in sentence.metadata.items():
        problem = unencodable(key + value)
        if problem:
            refuse(sentence, f"metadata {key!r}: {value!r}: {problem}", "metadata that UTF-8 can encode")


def _word_problem(word: str) -> str:
    return "empty" if not word else text_problem(word) or invisible_start(word)  # JSON escapes a tab or line break


def load_json_line(text: str, path: str, line_no: int, expected: str) -> Any:
    """One JSON value from a line of a JSON Lines file; what cannot be read is refused at its line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CorpusFormatError(
            path, line_no, f"invalid JSON ({error.msg} at column {error.colno})", expected
        ) from None
    except RecursionError:  # valid JSON, but nested deeper than Python's recursion limit
        raise CorpusFormatError(path, line_no, "JSON nested too deeply to read", expected) from None
    except ValueError as error:  # valid JSON, but an integer longer than Python converts (4,300 digits)
        raise CorpusFormatError(path, line_no, f"JSON Python cannot read ({error})", expected) from None
