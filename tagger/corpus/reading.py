"""Format detection and the two entry points every caller uses: ``read_sentences`` (streaming,
raw tags) and ``read_corpus`` (everything in memory, span tags checked and converted to IOB2)."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from tagger.config import CorpusConfig
from tagger.corpus.conll import DOCSTART
from tagger.corpus.formats import RAW_TEXT, RAW_TEXT_SUFFIX, corpus_format, json_format, suffix, suffix_format
from tagger.corpus.lines import CORRUPT_GZIP, Repairs, is_blank, open_binary, read_lines
from tagger.corpus.saved_dataset import is_saved_dataset
from tagger.corpus.sentence import CorpusReport, Sentence, drop_empty, opens_document, word_line
from tagger.corpus.tagsets import TagProblem, normalize_tags
from tagger.errors import CorpusFormatError, setting

CONLLU_ID = re.compile(r"\d+(-\d+|\.\d+)?")
SNIFF_BYTES = 65536
SNIFF_LINES = 50


def detect_format(path: str | Path) -> str:
    """A corpus format's name (``corpus.formats``) or ``text`` (raw text), from the extension (``.gz`` stripped
    first), else from the content. ``.txt`` is raw text unless its content is clearly a corpus; files
    without a known extension (``eng.train``) default to CoNLL columns; a folder written by ``save_to_disk``
    is ``hf``. A JSON extension (``.json``, ``.jsonl``) is shared by JSON lines and the annotation tools' exports:
    the file's first JSON value tells them apart (``formats.json_format``)."""
    if is_saved_dataset(path):
        return "hf"
    known = suffix_format(path)
    if known and corpus_format(known).recognise is None:
        return known
    if known:
        return json_format("\n".join(_sample_lines(path))) or known
    sniffed = _sniff_format(_sample_lines(path))
    if sniffed:
        return sniffed
    return RAW_TEXT if suffix(path) == RAW_TEXT_SUFFIX else "conll"


def _sample_lines(path: str | Path) -> list[str]:
    try:
        with open_binary(path) as stream:
            head = stream.read(SNIFF_BYTES)
    except (CorpusFormatError, *CORRUPT_GZIP):
        return []  # the reader itself reports the problem with its line
    lines = head.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()
    lines = ["" if is_blank(line) else line for line in lines]  # a line of invisible characters is blank, as read
    # The last line may be cut short, and is left out, unless it is the only one: a JSON export on one line (Label
    # Studio's array of tasks) is still known by its start.
    return lines[:-1] if len(head) == SNIFF_BYTES and len(lines) > 1 else lines


def _sniff_format(lines: list[str]) -> str | None:
    content = [line for line in lines if line.strip()][:SNIFF_LINES]
    if not content:
        return None
    if content[0].lstrip().startswith(("{", "[")):
        found = json_format("\n".join(lines))
        if found or content[0].lstrip().startswith("{"):
            return found or "jsonl"
    words = [line for line in content if not line.startswith("#")]
    if any(_is_conllu_word_line(line) for line in words):
        return "conllu"
    if _looks_like_columns(lines[: SNIFF_LINES * 2]):
        return "conll"
    return None


def _is_conllu_word_line(line: str) -> bool:
    fields = line.split("\t")
    return len(fields) == 10 and CONLLU_ID.fullmatch(fields[0]) is not None


def _looks_like_columns(lines: list[str]) -> bool:
    # CoNLL: runs of short lines with the same number of fields; raw text: prose of varied length.
    if any(line.split(maxsplit=1)[:1] == [DOCSTART] for line in lines):
        return True
    content = [line for line in lines if line.strip()]
    counts = {len(line.split()) for line in content}
    has_run = any(a.strip() and b.strip() for a, b in zip(lines, lines[1:]))
    return has_run and len(counts) == 1 and 2 <= counts.pop() <= 12


def _resolve_format(path: str | Path, config: CorpusConfig) -> str:
    fmt = detect_format(path) if config.format == "auto" else config.format
    if fmt == RAW_TEXT:
        raise CorpusFormatError(
            str(path),
            0,
            "raw text (no word/tag columns)",
            "a CoNLL, CoNLL-U, JSONL or spaCy DocBin corpus",
            "raw text is tagged (tagger tag, Tagger.tag_texts), not read as a corpus; or pass "
            f"{setting('corpus.format', 'conll')} if it is one word per line",
        )
    corpus_format(fmt)  # known, or a ConfigError naming the formats
    return fmt


def _no_sentences(path: str | Path) -> CorpusFormatError:
    return CorpusFormatError(
        str(path),
        0,
        "no sentences (the file is empty or has only blank lines or -DOCSTART-)",
        "at least one sentence of words",
    )


def read_sentences(
    path: str | Path,
    config: CorpusConfig = CorpusConfig(),
    *,
    tags_required: bool = True,
    repairs: Counter[str] | None = None,
) -> Iterator[Sentence]:
    """Stream the sentences of a corpus file, tags exactly as written; zero-word sentences are skipped
    (a document they open starts at the next sentence).

    ``tags_required=False`` accepts files without tags (and ``_`` tags), for tagging raw input, and keeps its
    words as written (invisible characters included), so that each input word gets its prediction.
    ``repairs`` (a ``Repairs`` tally) counts what is read leniently, as ``read_corpus`` reports it.
    """
    fmt = _resolve_format(path, config)
    found = False
    read = corpus_format(fmt).read(path, config, tags_required=tags_required, repairs=repairs)
    for sentence in drop_empty(read):
        found = True
        yield sentence
    if not found:
        raise _no_sentences(path)


def read_corpus(
    path: str | Path, config: CorpusConfig = CorpusConfig(), *, tags_required: bool = True, strict: bool = False
) -> tuple[list[Sentence], CorpusReport]:
    """Read a whole corpus file: span tags validated, their scheme detected (or as declared in
    ``config.scheme``), converted to IOB2 and repaired; POS tags untouched (scheme ``none``).

    ``strict`` refuses what is otherwise accepted or repaired in the tags and words: a tag sequence
    invalid in its scheme, and a word not in Unicode NFC (kept as written otherwise).
    """
    fmt = _resolve_format(path, config)
    repaired_lines = Repairs()
    read = list(corpus_format(fmt).read(path, config, tags_required=tags_required, repairs=repaired_lines))
    sentences = list(drop_empty(read))
    skipped = len(read) - len(sentences)
    if not sentences:
        raise _no_sentences(path)
    if strict:
        _check_nfc(sentences, fmt, config.encoding)
    sentences, scheme, repaired = _normalize(sentences, fmt, config, strict)
    documents = sum(1 for s in sentences if opens_document(s))
    words = sum(len(s.words) for s in sentences)
    report = CorpusReport(
        str(path),
        fmt,
        len(sentences),
        words,
        max(documents, 1),
        scheme,
        repaired,
        skipped,
        dict(repaired_lines),
        repaired_lines.places(),
    )
    return sentences, report


def _check_nfc(sentences: list[Sentence], fmt: str, encoding: str) -> None:
    for sentence in sentences:
        for index, word in enumerate(sentence.words):
            if not unicodedata.is_normalized("NFC", word):
                line_no = _word_line(sentence, index, fmt, encoding)
                raise CorpusFormatError(
                    sentence.path,
                    line_no,
                    f"word {word!r} not in Unicode NFC",
                    f"its NFC form {unicodedata.normalize('NFC', word)!r}",
                    "normalise the file to NFC, or read it without strict",
                )


def _normalize(
    sentences: list[Sentence], fmt: str, config: CorpusConfig, strict: bool = False
) -> tuple[list[Sentence], str, int]:
    tagged = [s for s in sentences if s.tags]
    try:
        converted, scheme, repaired = normalize_tags([s.tags for s in tagged], config.scheme, strict)
    except TagProblem as problem:
        sentence = tagged[problem.sentence_index]
        word = sentence.words[problem.word_index]
        line_no = _word_line(sentence, problem.word_index, fmt, config.encoding)
        hint = f"fix the tag, or pass {setting('corpus.scheme', 'none')} if the tags are not spans"
        raise CorpusFormatError(
            sentence.path, line_no, f"word {word!r}: {problem.message}", "a valid span tag", hint
        ) from None
    new_tags = {id(s): tags for s, tags in zip(tagged, converted) if tags != s.tags}
    updated = [dataclasses.replace(s, tags=new_tags[id(s)]) if id(s) in new_tags else s for s in sentences]
    return updated, scheme, repaired


def _word_line(sentence: Sentence, index: int, fmt: str, encoding: str) -> int:
    if fmt == "conll":
        return word_line(sentence, index)  # one word per line, nothing in between but skipped rows
    if fmt != "conllu":
        return sentence.line  # a whole sentence (or document) per line or record; a DocBin has no lines (0)
    # CoNLL-U may interleave ranges and empty nodes: rescan, which only happens on the error path.
    seen = -1
    for line_no, text in read_lines(sentence.path, encoding):
        if line_no in sentence.skipped_lines:
            continue
        if line_no >= sentence.line and text.split("\t", 1)[0].isdigit():
            seen += 1
            if seen == index:
                return line_no
    return sentence.line
