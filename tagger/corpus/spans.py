"""Character spans, as annotation tools export them, aligned to words: what the Label Studio, doccano and
spaCy/Prodigy readers share, and what their writers share.

Each record is one document. Its text is split into sentences and words by the tokenizer ``tagger tag`` uses on
raw text (``tokenize``: spaCy's rules for English and its sentencizer), so that a model trained on the spans sees
the words it will be given when tagging. A record may give its own words and sentences instead, in every format:
``tokens`` (``[{"text": "Paris", "start": 0, "end": 5}, ...]``, as Prodigy saves them) and ``sents``
(``[{"start": 0, "end": 12}, ...]``, character ranges, as spaCy's ``Doc.to_json`` writes them); the sentencizer
splits given tokens where ``sents`` is missing, and ``sents`` alone splits the tokenizer's words. tagger's own
writers give both, because the tools keep a record's other fields through an export (Label Studio in the task's
``data``, doccano beside ``text``): words that go out to be annotated come back as the same words and sentences,
which the text alone cannot promise (the tokenizer splits ``1996-08-30``, and the sentencizer a quote). A span
becomes IOB2 tags on the words it covers:

- a span that cuts a word (starts or ends inside it) is refused, all such spans of the file counted and the first
  few shown, once the whole file is read; with ``corpus.snap_spans`` each is widened to whole words (counted);
- overlapping spans are refused, naming both; a span repeated on the same words with the same label is read once
  (counted); a span over whitespace only is refused;
- a span the sentencizer cut in two joins the two sentences (counted), so no entity is split.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from tagger.corpus.jsonl import load_json_line
from tagger.corpus.lines import CONTROL_CHARACTER, LONE_SURROGATE, count_repair, read_lines
from tagger.corpus.sentence import Sentence
from tagger.corpus.writing import invisible_start, refuse, text_problem, unencodable
from tagger.errors import CorpusFormatError, SchemeError, setting
from tagger.schemes import split_tag, tags_to_spans

if TYPE_CHECKING:
    from tagger.tokenize import Token

# Keys of the ``repairs`` tally (CorpusReport.repaired_lines), beside those of corpus.lines.
SPAN_WIDENED = "span cutting a word widened to whole words"
SPAN_REPEATED = "span repeated on the same words read once"
SENTENCES_JOINED = "sentences joined where a span crossed their boundary"
CUT_EXAMPLES = 3  # spans shown in the message refusing the spans that cut words
SNAP_HINT = f"pass {setting('corpus.snap_spans', 'true')} to widen each to whole words, or fix the spans"


@dataclass(frozen=True)
class CharSpan:
    """A labelled span of a record's text: characters ``start`` to ``end`` (exclusive), in Python's count of
    characters (code points); readers convert a tool's own count first."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class SpanRecord:
    """One record of an export: a document's text, its spans, and where it was read."""

    text: str
    spans: list[CharSpan] | None  # None: read for tagging, where spans are not needed
    path: str
    line: int  # of the record (a JSON line, or where a task of a JSON array starts)
    name: str = ""  # how messages name the record beside its line: "task 3 (id 17)"; "" for a JSON line
    tokens: list[Token] | None = None  # the record's own tokens (``tokens``); None: the tokenizer's
    # its own sentences' character ranges (``sents``); None: the sentencizer's
    sentences: list[tuple[int, int]] | None = None
    metadata: dict[str, str] = field(default_factory=dict)  # given to its first sentence: the document mark

    def problem(self, found: str, expected: str, hint: str = "") -> CorpusFormatError:
        """An error at this record: its line, and its name first where it has one."""
        return CorpusFormatError(self.path, self.line, f"{self.name}: {found}" if self.name else found, expected, hint)

    def quote(self, span: CharSpan) -> str:
        return f"[{span.start}, {span.end}) {clip(self.text[span.start : span.end])!r} ({span.label})"


def clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_record_lines(
    path: str,
    encoding: str,
    repairs: Counter[str] | None,
    to_record: Callable[[Any, int], SpanRecord | None],
    expected: str,
    skipped: str,
) -> Iterator[SpanRecord]:
    """The span records of a JSON Lines export, one per non-blank line; a line ``to_record`` finds without an
    annotation (None) is counted as ``skipped`` in ``repairs``."""
    for line_no, text in read_lines(path, encoding, repairs):
        if text.strip():
            record = to_record(load_json_line(text, path, line_no, expected), line_no)
            if record is None:
                count_repair(repairs, skipped, path, line_no)
            else:
                yield record


def offset(value: Any) -> int | None:
    """A character offset as JSON gives it: an integer (never a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def check_label(label: Any, record: SpanRecord) -> str:
    """A span's label as the type of its tags (``B-LABEL``): a string without whitespace that neither starts nor
    ends with a hyphen."""
    try:
        if not isinstance(label, str) or unencodable(label):
            raise SchemeError("not a string of text")
        split_tag(f"B-{label}")
    except SchemeError:
        raise record.problem(
            f"span label {label!r}",
            "a label without whitespace that does not start or end with '-' (it becomes the tags B-LABEL, I-LABEL)",
            "rename the label in the tool, or in the export",
        ) from None
    return label


TOKENS_EXPECTED = 'tokens like {"text": "Paris", "start": 0, "end": 5}, each the text at its offsets, in order'
SENTS_EXPECTED = 'sentences like {"start": 0, "end": 12}, character ranges of the text, in order'


def with_given_words(fields: dict[str, Any], record: SpanRecord) -> SpanRecord:
    """The record with the words and sentences ``fields`` give (``tokens``, ``sents``), where it gives them."""
    if "tokens" in fields:
        record = replace(record, tokens=read_tokens(fields["tokens"], record))
    if "sents" in fields:
        record = replace(record, sentences=read_sentences(fields["sents"], record))
    return record


def read_tokens(items: Any, record: SpanRecord) -> list[Token]:
    """The record's tokens, each the text at its offsets."""
    from tagger.tokenize import Token  # lazily: tokenize imports corpus modules

    if not isinstance(items, list):
        raise record.problem(f'"tokens": {json.dumps(items)[:60]}', TOKENS_EXPECTED)
    tokens: list[Token] = []
    for item in items:
        fields = item if isinstance(item, dict) else {}
        start, end, text = offset(fields.get("start")), offset(fields.get("end")), fields.get("text")
        if start is None or end is None or not text or not isinstance(text, str) or record.text[start:end] != text:
            raise record.problem(f"token {json.dumps(item, ensure_ascii=False)[:80]}", TOKENS_EXPECTED)
        if tokens and start < tokens[-1].end:
            raise record.problem(f"token {text!r} at {start}, before the end of {tokens[-1].text!r}", TOKENS_EXPECTED)
        tokens.append(Token(text, start, end))
    return tokens


def read_sentences(items: Any, record: SpanRecord) -> list[tuple[int, int]]:
    """The record's sentences as character ranges within its text, in order and apart."""
    if not isinstance(items, list):
        raise record.problem(f'"sents": {json.dumps(items)[:60]}', SENTS_EXPECTED)
    ranges: list[tuple[int, int]] = []
    for item in items:
        fields = item if isinstance(item, dict) else {}
        start, end = offset(fields.get("start")), offset(fields.get("end"))
        previous_end = ranges[-1][1] if ranges else 0
        if start is None or end is None or not previous_end <= start <= end <= len(record.text):
            raise record.problem(f"sentence {json.dumps(item)[:60]}", SENTS_EXPECTED)
        ranges.append((start, end))
    return ranges


def split_by_ranges(tokens: list[Token], ranges: list[tuple[int, int]]) -> list[list[Token]]:
    """Tokens into the sentences whose ranges they start in; tokens before the first range open a sentence of
    their own, and a token between two ranges joins the one before."""
    starts = [start for start, _ in ranges]
    sentences: dict[int, list[Token]] = {}
    for token in tokens:
        sentences.setdefault(bisect_right(starts, token.start), []).append(token)
    return list(sentences.values())


def given_words_fields(words: Sequence[str], starts: Sequence[int], sentence_lengths: Sequence[int]) -> dict[str, Any]:
    """``tokens`` and ``sents`` for a record whose words start at ``starts`` in its text, ``sentence_lengths``
    words to a sentence: what ``with_given_words`` reads back (``id`` and ``ws`` as Prodigy writes tokens)."""
    ends = [start + len(word) for word, start in zip(words, starts, strict=True)]
    tokens = [
        {
            "text": word,
            "start": start,
            "end": end,
            "id": index,
            "ws": index + 1 < len(words) and starts[index + 1] > end,
        }
        for index, (word, start, end) in enumerate(zip(words, starts, ends))
    ]
    sents, first = [], 0
    for length in sentence_lengths:
        if length:
            sents.append({"start": starts[first], "end": ends[first + length - 1]})
        first += length
    return {"tokens": tokens, "sents": sents}


@cache
def _tokenizer() -> Any:
    from tagger.tokenize import load_tokenizer  # lazily: tokenize imports corpus modules, and spaCy takes a second

    return load_tokenizer()


class Alignment:
    """The records of one file into sentences of words and IOB2 tags. Spans that cut a word are collected
    across the file and refused by ``finish`` (unless ``snap``), so that the message counts them all."""

    def __init__(self, path: str, snap: bool, repairs: Counter[str] | None = None):
        self.path, self.snap, self.repairs = path, snap, repairs
        self.cuts: list[tuple[SpanRecord, str]] = []  # (record, description) of each span that cuts a word
        self.first_cut_line = 0

    def sentences(self, records: Iterable[SpanRecord]) -> Iterator[Sentence]:
        """Every record's sentences (a record without words gives one empty sentence, skipped and counted by
        the corpus readers), then the refusal of spans that cut words, if any."""
        for record in records:
            yield from self.record_sentences(record)
        self.finish()

    def record_sentences(self, record: SpanRecord) -> list[Sentence]:
        check_text(record)
        sentences = record_tokens(record)
        words = [token for sentence in sentences for token in sentence]
        if not words:
            return [Sentence([], [], record.path, record.line, dict(record.metadata))]
        if record.spans is None:
            tags: list[str] = []
            groups = [len(sentence) for sentence in sentences]
        else:
            ranges = self.word_ranges(record, words)
            tags = ranges_to_tags(ranges, len(words))
            groups = self.join_sentences(record, [len(sentence) for sentence in sentences], ranges)
        return build_sentences(record, words, tags, groups)

    def word_ranges(self, record: SpanRecord, words: list[Token]) -> list[tuple[int, int, str]]:
        """``(first word, end word exclusive, label)`` of each span, in order, repeats read once."""
        starts, ends = [w.start for w in words], [w.end for w in words]
        ranges: dict[tuple[int, int], tuple[str, CharSpan]] = {}
        for span in sorted(record.spans or [], key=lambda s: (s.start, s.end)):
            if not 0 <= span.start < span.end <= len(record.text):
                raise record.problem(
                    f"span [{span.start}, {span.end}) ({span.label})",
                    f"0 <= start < end <= {len(record.text)}, the length of the text",
                )
            first, last = bisect_right(ends, span.start), bisect_left(starts, span.end) - 1
            if first > last:
                raise record.problem(f"span {record.quote(span)} covers no word", "a span over at least one word")
            if words[first].start < span.start or words[last].end > span.end:
                self.cut(record, span, words[first] if words[first].start < span.start else words[last])
            key = (first, last + 1)
            if key in ranges and ranges[key][0] == span.label:
                count_repair(self.repairs, SPAN_REPEATED, record.path, record.line)
                continue
            check_overlap(record, ranges, key, span)
            ranges[key] = (span.label, span)
        return sorted((first, end, label) for (first, end), (label, _) in ranges.items())

    def cut(self, record: SpanRecord, span: CharSpan, word: Token) -> None:
        if self.snap:
            count_repair(self.repairs, SPAN_WIDENED, record.path, record.line)
            return
        if not self.cuts:
            self.first_cut_line = record.line
        if len(self.cuts) < CUT_EXAMPLES:
            place = f"line {record.line}" + (f", {record.name}" if record.name else "")
            self.cuts.append((record, f"{place}: {record.quote(span)} cuts {word.text!r}"))
        else:
            self.cuts.append((record, ""))

    def join_sentences(self, record: SpanRecord, lengths: list[int], ranges: list[tuple[int, int, str]]) -> list[int]:
        """The sentence lengths once every span lies within one sentence: sentences a span crosses are joined."""
        ends = list(accumulate(lengths))  # the word index where each sentence ends
        joined: set[int] = set()  # the boundaries a span crosses, each by the index of the sentence before it
        for first, end, _ in ranges:
            joined |= set(range(bisect_right(ends, first), bisect_left(ends, end)))
        for _ in joined:
            count_repair(self.repairs, SENTENCES_JOINED, record.path, record.line)
        groups: list[int] = []
        for index, length in enumerate(lengths):
            if index and index - 1 in joined:
                groups[-1] += length
            else:
                groups.append(length)
        return groups

    def finish(self) -> None:
        if not self.cuts:
            return
        count = len(self.cuts)
        shown = "; ".join(description for _, description in self.cuts if description)
        more = f"; and {count - CUT_EXAMPLES} more" if count > CUT_EXAMPLES else ""
        raise CorpusFormatError(
            self.path,
            self.first_cut_line,
            f"{count} span{'s' if count > 1 else ''} cut{'' if count > 1 else 's'} a word: {shown}{more}",
            "spans on word boundaries, as the tokenizer of `tagger tag` splits the text",
            SNAP_HINT,
        )


def check_overlap(
    record: SpanRecord, ranges: dict[tuple[int, int], tuple[str, CharSpan]], key: tuple[int, int], span: CharSpan
) -> None:
    for (first, end), (_, other) in ranges.items():
        if first < key[1] and key[0] < end:
            raise record.problem(
                f"overlapping spans {record.quote(other)} and {record.quote(span)}",
                "spans that do not overlap (each word is in at most one entity)",
                "remove or shorten one of them",
            )


def ranges_to_tags(ranges: list[tuple[int, int, str]], count: int) -> list[str]:
    tags = ["O"] * count
    for first, end, label in ranges:
        tags[first:end] = [f"B-{label}"] + [f"I-{label}"] * (end - first - 1)
    return tags


def build_sentences(record: SpanRecord, words: list[Token], tags: list[str], groups: list[int]) -> list[Sentence]:
    sentences: list[Sentence] = []
    start = 0
    for length in groups:
        metadata = dict(record.metadata) if not sentences else {}
        chunk = [w.text for w in words[start : start + length]]
        sentences.append(Sentence(chunk, tags[start : start + length], record.path, record.line, metadata))
        start += length
    return sentences


def check_text(record: SpanRecord) -> None:
    # JSON can escape half a UTF-16 pair ("\ud800") or a control character; neither belongs in a word. Control
    # characters that are whitespace (a CR of CRLF line breaks, a form feed) only separate words.
    for pattern, what in ((LONE_SURROGATE, "a lone surrogate"), (CONTROL_CHARACTER, "a control character")):
        found = next((m for m in pattern.finditer(record.text) if not m.group().isspace()), None)
        if found:
            raise record.problem(
                f"text with {what} U+{ord(found.group()):04X} at character {found.start()}",
                "text of printable characters (tabs and line breaks are whitespace)",
            )


def record_tokens(record: SpanRecord) -> list[list[Token]]:
    """The record's sentences of words: the tokenizer's (as ``tagger tag`` splits raw text), or the record's own
    tokens; split into the record's own sentences where it gives them, else by the same sentencizer."""
    from tagger.tokenize import split_texts, visible_token

    if record.tokens is None:
        sentences = next(split_texts([record.text], _tokenizer()))
        if record.sentences is None:
            return sentences
        return split_by_ranges([token for sentence in sentences for token in sentence], record.sentences)
    tokens = [t for token in record.tokens if token.text.strip() and (t := visible_token(token.text, token.start))]
    if not tokens:
        return []
    if record.sentences is not None:
        return split_by_ranges(tokens, record.sentences)
    from spacy.tokens import Doc

    nlp = _tokenizer()
    spaces = [a.end < b.start for a, b in zip(tokens, tokens[1:])] + [False]
    doc = Doc(nlp.vocab, words=[t.text for t in tokens], spaces=spaces)
    for _, component in nlp.pipeline:
        doc = component(doc)
    return [tokens[sentence.start : sentence.end] for sentence in doc.sents]


# --- writing ---------------------------------------------------------------------------------------------------


def sentence_spans(sentence: Sentence, fmt: str) -> tuple[str, list[tuple[int, int, str]], dict[str, Any]]:
    """A sentence as an annotation tool's record: its words joined by spaces, the character span and label of each
    entity its IOB2 tags mark, and its words and its one sentence as ``tokens`` and ``sents`` (``given_words_fields``).
    Refused: a word the text cannot keep apart (whitespace inside it, or an invisible character first, which reading
    drops) and tags that are not spans."""
    for word in sentence.words:
        problem = "empty" if not word else text_problem(word, " \t\n") or invisible_start(word) or unencodable(word)
        if not problem and word.strip() != word:
            problem = "whitespace at its edge"
        if problem:
            refuse(sentence, f"word {word!r}: {problem}", f"words that {fmt} can keep apart in a text")
    for tag in sentence.tags:
        try:
            split_tag(tag)
        except SchemeError:
            refuse(sentence, f"tag {tag!r}", f"span tags (O, B-TYPE, I-TYPE): {fmt} holds entities, not word labels")
    text, starts = words_text(sentence.words)
    spans = (
        [
            (starts[first], starts[end - 1] + len(sentence.words[end - 1]), label)
            for label, first, end in tags_to_spans(sentence.tags, "IOB2")
        ]
        if sentence.tags
        else []
    )
    return text, spans, given_words_fields(sentence.words, starts, [len(sentence.words)])


def words_text(words: Sequence[str]) -> tuple[str, list[int]]:
    """Words joined by spaces, and where each starts in the text."""
    starts, position = [], 0
    for word in words:
        starts.append(position)
        position += len(word) + 1
    return " ".join(words), starts
