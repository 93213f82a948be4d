"""Corpus diagnostics for `tagger data`: what a corpus holds, and where it will surprise a model, before training.

Everything works on sentences whose tags are exactly as the file writes them (``read_sentences``), so the scheme
and its violations are the file's own (IOB1 for CoNLL-2003 as shipped), not the repaired IOB2 that
``read_corpus`` makes of them. ``read_split`` is the one function that touches a file; the rest are pure.
A split is named by its role (train, dev, test); a file given without one is reported on its own.
"""

from __future__ import annotations

import dataclasses
import statistics
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagger.config import CorpusConfig
from tagger.corpus import Sentence, detect_format, document_ids, read_sentences
from tagger.corpus.lines import Repairs
from tagger.corpus.sentence import word_line as conll_word_line
from tagger.corpus.tagsets import is_span_intended
from tagger.errors import ConfigError, setting
from tagger.schemes import NO_SCHEME, SCHEMES, detect_scheme, find_violations, is_span_tag, tags_to_spans

EVALUATION_ROLES = ("dev", "test")
LENGTH_BINS = (1, 6, 11, 21, 41, 61, 101)  # lower bounds of the histogram's bins: 1-5, 6-10, ..., 101+
PREVIEW_WORDS = 12


@dataclass(frozen=True)
class RepairedLines:
    """Lines of one kind read leniently (a byte-order mark dropped, a line of invisible characters read as blank,
    a word of them skipped, ...): how many, and the first of them."""

    kind: str
    count: int
    path: str
    line: int


@dataclass(frozen=True)
class Split:
    """A corpus file as read for diagnostics; ``role`` is train, dev, test, or None for a file given alone."""

    role: str | None
    path: str
    format: str
    sentences: list[Sentence]
    repaired_lines: list[RepairedLines] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.role or self.path


@dataclass(frozen=True)
class Violation:
    path: str
    line: int  # the word's own line in CoNLL; the sentence's first line in other formats (0 in a DocBin)
    word_index: int
    word: str
    tag: str
    message: str


@dataclass(frozen=True)
class SchemeReport:
    scheme: str  # IOB1 | IOB2 | BIOES | none (not span tags)
    violations: int
    sentences_with_violations: int
    examples: list[Violation]
    # When the scheme is broken: the violations the file would have in each other span scheme. An IOB2 file
    # with one stray I-X is detected as IOB1 (as training will read it), with every B-X a violation of IOB1;
    # "IOB2: 1" says what the file really is.
    in_other_schemes: dict[str, int]


@dataclass(frozen=True)
class LongSentence:
    path: str
    line: int
    words: int
    preview: str


@dataclass(frozen=True)
class LengthReport:
    shortest: int
    longest: int
    mean: float
    median: float
    histogram: dict[str, int]  # "1-5", "6-10", ..., "101+" -> sentences
    longest_sentences: list[LongSentence]


@dataclass(frozen=True)
class Repeated:
    preview: str
    count: int
    path: str  # where it first occurs
    line: int
    taggings: int  # distinct tag sequences it has: more than one means the annotation disagrees with itself


@dataclass(frozen=True)
class DuplicateReport:
    sentences: int  # sentences that repeat, word for word, an earlier sentence of the same split
    distinct: int  # distinct sentences that occur more than once
    conflicting: int  # of those, tagged differently in different places
    examples: list[Repeated]


@dataclass(frozen=True)
class SplitReport:
    name: str
    role: str | None
    path: str
    format: str
    sentences: int
    words: int
    documents: int  # marked by -DOCSTART- / "# newdoc"; 1 when the file marks none
    scheme: SchemeReport
    tags: dict[str, int]  # tag as written -> words, most frequent first
    entities: dict[str, int] | None  # entity type -> entities, read in the file's own scheme; None for non-span tags
    lengths: LengthReport
    duplicates: DuplicateReport
    repaired_lines: list[RepairedLines]  # what training reads leniently too, and counts in its log


@dataclass(frozen=True)
class OovReport:
    split: str
    tokens: int
    oov_tokens: int
    token_rate: float
    types: int
    oov_types: int
    type_rate: float
    most_frequent: list[tuple[str, int]]


@dataclass(frozen=True)
class Shared:
    preview: str
    words: int
    path: str
    line: int
    train_path: str
    train_line: int


@dataclass(frozen=True)
class OverlapReport:
    split: str
    sentences: int
    shared: int  # sentences of the split that are, word for word, a training sentence
    rate: float
    distinct: int
    examples: list[Shared]  # longest first: a short sentence ("Reuters") is shared by chance, a long one is leaked


@dataclass(frozen=True)
class MissingLabel:
    label: str
    present_in: list[str]
    missing_from: list[str]


@dataclass(frozen=True)
class DataReport:
    splits: list[SplitReport]
    oov: list[OovReport]  # dev and test against the training vocabulary (words as written)
    overlap: list[OverlapReport]  # dev and test sentences found in train
    missing_tags: list[MissingLabel]  # across the splits named by role
    missing_entity_types: list[MissingLabel]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def report_corpora(
    inputs: Sequence[tuple[str | None, str | Path]], config: CorpusConfig = CorpusConfig(), examples: int = 5
) -> DataReport:
    """Read and report ``inputs``, (role, path) pairs: role train, dev or test, or None for a file reported on its
    own; ``examples`` per finding (violations, duplicates, ...)."""
    if not inputs:
        raise ConfigError("no corpus given; name corpus files, each reported on its own, or train, dev and test files")
    if examples < 0:
        raise ConfigError(f"{setting('examples', examples)}: expected 0 or more")
    return build_data_report([read_split(path, role, config) for role, path in inputs], config.scheme, examples)


def read_split(path: str | Path, role: str | None, config: CorpusConfig = CorpusConfig()) -> Split:
    """Read a corpus file with its tags exactly as written (no scheme conversion, no repair of tags); what is read
    leniently of its lines (as training reads them) is counted."""
    repairs = Repairs()
    sentences = list(read_sentences(path, config, repairs=repairs))
    fmt = detect_format(path) if config.format == "auto" else config.format
    repaired = [RepairedLines(kind, count, *repairs.first[kind]) for kind, count in sorted(repairs.items())]
    return Split(role, str(path), fmt, sentences, repaired)


def build_data_report(splits: Sequence[Split], declared_scheme: str = "auto", examples: int = 5) -> DataReport:
    """Every figure of `tagger data`; cross-split figures only between splits named by role."""
    reports = [build_split_report(split, declared_scheme, examples) for split in splits]
    by_role = {split.role: split for split in splits if split.role}
    train = by_role.get("train")
    evaluated = [by_role[role] for role in EVALUATION_ROLES if role in by_role]
    named = [report for report in reports if report.role]
    entities = {report.name: report.entities for report in named if report.entities is not None}
    return DataReport(
        splits=reports,
        oov=[find_oov(train, split, examples) for split in evaluated] if train else [],
        overlap=[find_overlap(train, split, examples) for split in evaluated] if train else [],
        missing_tags=find_missing_labels({report.name: report.tags for report in named}),
        missing_entity_types=find_missing_labels(entities),
    )


def build_split_report(split: Split, declared_scheme: str = "auto", examples: int = 5) -> SplitReport:
    tag_seqs = [sentence.tags for sentence in split.sentences]
    scheme = find_scheme(tag_seqs, declared_scheme)
    return SplitReport(
        name=split.name,
        role=split.role,
        path=split.path,
        format=split.format,
        sentences=len(split.sentences),
        words=sum(len(sentence.words) for sentence in split.sentences),
        documents=document_ids(split.sentences)[-1] + 1 if split.sentences else 0,
        scheme=check_scheme(split, scheme, examples),
        tags=dict(Counter(tag for tags in tag_seqs for tag in tags).most_common()),
        entities=None if scheme == NO_SCHEME else count_entities(tag_seqs, scheme),
        lengths=describe_lengths(split.sentences, examples),
        duplicates=find_duplicates(split.sentences, examples),
        repaired_lines=split.repaired_lines,
    )


def find_scheme(tag_seqs: Sequence[Sequence[str]], declared: str = "auto") -> str:
    """The file's scheme: as declared, else detected; ``none`` for tags that are not spans (POS).

    Span-ness is decided as ``read_corpus`` decides it, so one malformed tag among ``B-PER`` tags is a
    violation to report rather than a reason to call the corpus POS.
    """
    if not is_span_intended(tag_seqs, declared):
        return NO_SCHEME
    if declared != "auto":
        return declared
    return detect_scheme([readable_tags(tags) for tags in tag_seqs])


def readable_tags(tags: Sequence[str]) -> list[str]:
    """Malformed span tags read as ``O``, as ``find_violations`` reads them (it reports them)."""
    return [tag if is_span_tag(tag) else "O" for tag in tags]


def check_scheme(split: Split, scheme: str, examples: int = 5) -> SchemeReport:
    """Every place the split breaks its scheme (malformed tags included), with the first few as examples."""
    count, sentences = 0, 0
    shown: list[Violation] = []
    for sentence in split.sentences:
        violations = find_violations(sentence.tags, scheme)
        count += len(violations)
        sentences += bool(violations)
        for index, message in violations[: max(examples - len(shown), 0)]:
            shown.append(
                Violation(
                    sentence.path,
                    word_line(sentence, index, split.format),
                    index,
                    sentence.words[index],
                    sentence.tags[index],
                    message,
                )
            )
    others = {other: count_violations(split.sentences, other) for other in SCHEMES if other != scheme} if count else {}
    return SchemeReport(scheme, count, sentences, shown, others)


def count_violations(sentences: Sequence[Sentence], scheme: str) -> int:
    return sum(len(find_violations(sentence.tags, scheme)) for sentence in sentences)


def word_line(sentence: Sentence, index: int, fmt: str) -> int:
    # CoNLL has one word per line and nothing between (but the rows skipped); CoNLL-U may interleave multiword-token
    # lines, JSONL holds a sentence per line: there the sentence's line (and the word index) must do.
    return conll_word_line(sentence, index) if fmt == "conll" and sentence.line else sentence.line


def count_entities(tag_seqs: Iterable[Sequence[str]], scheme: str) -> dict[str, int]:
    """Entities per type, most frequent first, found the conlleval way in the file's own scheme.

    Counting ``B-`` tags would miss most entities of an IOB1 file, where an entity starts with ``I-``.
    """
    counts = Counter(type_ for tags in tag_seqs for type_, _, _ in tags_to_spans(readable_tags(tags), scheme))
    return dict(counts.most_common())


def describe_lengths(sentences: Sequence[Sentence], examples: int = 5) -> LengthReport:
    lengths = [len(sentence.words) for sentence in sentences]
    longest = sorted(sentences, key=lambda sentence: len(sentence.words), reverse=True)[:examples]
    return LengthReport(
        shortest=min(lengths, default=0),
        longest=max(lengths, default=0),
        mean=statistics.fmean(lengths) if lengths else 0.0,
        median=float(statistics.median(lengths)) if lengths else 0.0,
        histogram=length_histogram(lengths),
        longest_sentences=[LongSentence(s.path, s.line, len(s.words), preview(s.words)) for s in longest],
    )


def length_histogram(lengths: Iterable[int], bins: Sequence[int] = LENGTH_BINS) -> dict[str, int]:
    """Sentences per length bin; ``bins`` are the bins' lower bounds, the last bin is open."""
    counts = Counter(bisect_right(bins, length) - 1 for length in lengths)
    return {label: counts[index] for index, label in enumerate(bin_labels(bins))}


def bin_labels(bins: Sequence[int]) -> list[str]:
    labels = []
    for low, next_low in zip(bins, [*bins[1:], None]):
        if next_low is None:
            labels.append(f"{low}+")
        else:
            labels.append(str(low) if next_low - 1 == low else f"{low}-{next_low - 1}")
    return labels


def find_duplicates(sentences: Sequence[Sentence], examples: int = 5) -> DuplicateReport:
    """Sentences that occur more than once in one split, the most repeated first."""
    groups: dict[tuple[str, ...], list[Sentence]] = {}
    for sentence in sentences:
        groups.setdefault(tuple(sentence.words), []).append(sentence)
    repeated = sorted((group for group in groups.values() if len(group) > 1), key=len, reverse=True)
    taggings = [len({tuple(sentence.tags) for sentence in group}) for group in repeated]
    shown = [
        Repeated(preview(group[0].words), len(group), group[0].path, group[0].line, tag_count)
        for group, tag_count in zip(repeated[:examples], taggings)
    ]
    return DuplicateReport(
        sum(len(group) - 1 for group in repeated), len(repeated), sum(count > 1 for count in taggings), shown
    )


def find_overlap(train: Split, other: Split, examples: int = 5) -> OverlapReport:
    """Sentences of ``other`` that are, word for word, sentences of ``train``: what a model may have memorised."""
    in_train: dict[tuple[str, ...], Sentence] = {}
    for sentence in train.sentences:
        in_train.setdefault(tuple(sentence.words), sentence)
    shared = [sentence for sentence in other.sentences if tuple(sentence.words) in in_train]
    distinct: dict[tuple[str, ...], Sentence] = {}
    for sentence in sorted(shared, key=lambda s: len(s.words), reverse=True):
        distinct.setdefault(tuple(sentence.words), sentence)
    shown = [
        Shared(preview(s.words), len(s.words), s.path, s.line, in_train[key].path, in_train[key].line)
        for key, s in list(distinct.items())[:examples]
    ]
    return OverlapReport(
        other.name, len(other.sentences), len(shared), rate(len(shared), len(other.sentences)), len(distinct), shown
    )


def find_oov(train: Split, other: Split, examples: int = 5) -> OovReport:
    """Words of ``other`` never seen in ``train``, as written (case and digits kept), by token and by type."""
    vocabulary = {word for sentence in train.sentences for word in sentence.words}
    counts = Counter(word for sentence in other.sentences for word in sentence.words)
    unseen = Counter({word: count for word, count in counts.items() if word not in vocabulary})
    tokens, oov_tokens = sum(counts.values()), sum(unseen.values())
    return OovReport(
        other.name,
        tokens,
        oov_tokens,
        rate(oov_tokens, tokens),
        len(counts),
        len(unseen),
        rate(len(unseen), len(counts)),
        unseen.most_common(examples),
    )


def find_missing_labels(labels_by_split: Mapping[str, Iterable[str]]) -> list[MissingLabel]:
    """Labels that some splits have and others lack: a test tag never trained on, a type absent from dev."""
    label_sets = {name: set(labels) for name, labels in labels_by_split.items()}
    if len(label_sets) < 2:
        return []
    missing = []
    for label in sorted(set().union(*label_sets.values())):
        present = [name for name, labels in label_sets.items() if label in labels]
        if len(present) < len(label_sets):
            missing.append(MissingLabel(label, present, [name for name in label_sets if name not in present]))
    return missing


def rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def preview(words: Sequence[str]) -> str:
    """The first words of a sentence, enough to recognise it."""
    text = " ".join(words[:PREVIEW_WORDS])
    return text + " …" if len(words) > PREVIEW_WORDS else text
