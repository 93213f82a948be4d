"""Fuzzing of the corpus readers and writers, shared by ``tests/test_fuzz.py`` (a few hundred cases, in CI)
and ``scripts/tools/fuzz.py`` (10,000 or more cases per reader).

A case is a file given to one reader; its outcome is *accepted* (the reader returned), *refused* (it raised
a ``TaggerError``, which the CLI prints as one line) or *unexpected* (any other exception, which the user
would see as a traceback; or, for a round trip, sentences that differ from those written). Cases come from
three sources:

* ``random``: random bytes, sometimes biased towards the characters the formats care about;
* ``mutated``: small valid files (written by our writers, the test fixtures, ``corpora/``) with byte flips,
  deletions, insertions of tabs, newlines, NULs and invalid UTF-8, truncation and line duplication;
* ``roundtrip``: corpora drawn from the Hypothesis strategies below, written by our writer and read back.

Everything is seeded: the same seed and count give the same cases.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import random
import tempfile
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from tagger.config import CorpusConfig
from tagger.corpus import (
    Sentence,
    document_ids,
    read_conll,
    read_conllu,
    read_corpus,
    read_docbin,
    read_jsonl,
    write_conll,
    write_conllu,
    write_docbin,
    write_jsonl,
)
from tagger.corpus.conll import DOCSTART
from tagger.corpus.lines import INVISIBLE, is_blank
from tagger.errors import TaggerError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
UD_DEV = ROOT / "corpora" / "ud_en_ewt" / "en_ewt-ud-dev.conllu.gz"
SAMPLE_NER = ROOT / "corpora" / "sample_ner" / "dev.conll"

READERS = ("conll", "conllu", "jsonl", "docbin", "auto")  # "auto": read_corpus with corpus.format=auto
FORMAT_READERS = {"conll": read_conll, "conllu": read_conllu, "jsonl": read_jsonl, "docbin": read_docbin}
SUFFIXES = {"conll": ".conll", "conllu": ".conllu", "jsonl": ".jsonl", "docbin": ".spacy"}
# Names read_corpus sees: known extensions, and names whose format is sniffed from the content.
AUTO_SUFFIXES = (".conll", ".conllu", ".jsonl", ".spacy", ".conll.gz", ".conllu.gz", ".jsonl.gz", ".txt", "", ".train")


# --- outcomes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One input: the bytes of a file, its name's suffix and how it is read."""

    reader: str
    source: str  # random | mutated:<seed file> | roundtrip:<format>
    data: bytes
    suffix: str
    config: CorpusConfig = CorpusConfig()
    tags_required: bool = True
    strict: bool = False


@dataclass(frozen=True)
class Failure:
    """An unexpected outcome: the exception (or the round trip's difference) and the case that caused it."""

    case: Case
    kind: str  # the exception's type, or "RoundTripMismatch"
    message: str
    trace: str = ""


@dataclass
class Tally:
    """Counts of one reader's cases by outcome."""

    reader: str
    cases: int = 0
    accepted: int = 0
    refused: int = 0
    failures: list[Failure] = field(default_factory=list)
    by_source: Counter[tuple[str, str]] = field(default_factory=Counter)  # (random|mutated|roundtrip, outcome)

    @property
    def unexpected(self) -> int:
        return len(self.failures)

    def add(self, case: Case, failure: Failure | None, refused: bool) -> None:
        outcome = "unexpected" if failure is not None else "refused" if refused else "accepted"
        self.cases += 1
        self.by_source[case.source.split(":")[0], outcome] += 1
        if failure is not None:
            self.failures.append(failure)
        elif refused:
            self.refused += 1
        else:
            self.accepted += 1

    def merge(self, other: Tally) -> None:
        self.cases += other.cases
        self.accepted += other.accepted
        self.refused += other.refused
        self.failures += other.failures
        self.by_source.update(other.by_source)


def read_file(case: Case, path: Path) -> list[Sentence]:
    """Read ``path`` as ``case`` says, to the end (the readers are lazy)."""
    if case.reader == "auto":
        return read_corpus(path, case.config, tags_required=case.tags_required, strict=case.strict)[0]
    reader = FORMAT_READERS[case.reader]
    return list(reader(path, case.config, tags_required=case.tags_required, repairs=Counter()))


def run_case(case: Case, folder: Path) -> tuple[Failure | None, bool]:
    """``(failure or None, refused)``: ``refused`` when the reader raised one of our errors."""
    path = folder / f"case{case.suffix}"
    path.write_bytes(case.data)
    try:
        read_file(case, path)
    except TaggerError:
        return None, True
    except Exception as error:  # the point of fuzzing: anything else is a bug
        return Failure(case, type(error).__name__, str(error)[:500], traceback.format_exc()), False
    return None, False


# --- random and mutated inputs -------------------------------------------------------------------

# Pieces the formats give meaning to, and bytes that are not text: inserted by the mutations.
INTERESTING = [
    b"\t",
    b"\n",
    b"\r",
    b"\r\n",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"\xc2\x85",
    b" ",
    b"  ",
    b"#",
    b"# newdoc id = x",
    b"-DOCSTART-",
    b"-DOCSTART- O",
    b"_",
    b"-",
    b".",
    b"1",
    b"0",
    b"99999",
    b"1-2",
    b"1.1",
    b"B-PER",
    b"I-",
    b"O",
    b"{",
    b"}",
    b"[",
    b"]",
    b'"',
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b":",
    b",",
    b'"words"',
    b'"tags"',
    b'"tokens"',
    b"null",
    b"1e999",
    b"9" * 5000,
    b"[" * 3000,
    "\u3000".encode(),
    "\u2028".encode(),
    "é".encode(),
    "東".encode(),
    "😀".encode(),
    b"\x80",
    b"\x1b",
    b"\x7f",
]


def random_bytes(rng: random.Random) -> bytes:
    """Random bytes: uniform, or drawn from the pieces the formats give meaning to."""
    size = rng.choice((0, 1, 2, 8, 64, 256, 1024))
    if rng.random() < 0.5:
        return rng.randbytes(size)
    out = bytearray()
    while len(out) < size:
        out += rng.choice(INTERESTING) if rng.random() < 0.6 else bytes([rng.choice(b"abcXYZ 09\t\n")])
        if len(out) > 4 * size + 8:
            break
    return bytes(out)


def flip(rng: random.Random, data: bytearray) -> None:
    if data:
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)


def replace_byte(rng: random.Random, data: bytearray) -> None:
    if data:
        data[rng.randrange(len(data))] = rng.randrange(256)


def delete(rng: random.Random, data: bytearray) -> None:
    if data:
        start = rng.randrange(len(data))
        del data[start : start + rng.choice((1, 1, 2, 5, 40))]


def insert(rng: random.Random, data: bytearray) -> None:
    position = rng.randrange(len(data) + 1)
    data[position:position] = rng.choice(INTERESTING)


def truncate(rng: random.Random, data: bytearray) -> None:
    del data[rng.randrange(len(data) + 1) :]


def duplicate_line(rng: random.Random, data: bytearray) -> None:
    lines = bytes(data).split(b"\n")
    index = rng.randrange(len(lines))
    lines.insert(rng.randrange(len(lines) + 1), lines[index])
    data[:] = b"\n".join(lines)


def delete_line(rng: random.Random, data: bytearray) -> None:
    lines = bytes(data).split(b"\n")
    del lines[rng.randrange(len(lines))]
    data[:] = b"\n".join(lines)


def swap_lines(rng: random.Random, data: bytearray) -> None:
    lines = bytes(data).split(b"\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    data[:] = b"\n".join(lines)


MUTATIONS: list[Callable[[random.Random, bytearray], None]] = [
    flip,
    replace_byte,
    delete,
    insert,
    insert,
    truncate,
    duplicate_line,
    delete_line,
    swap_lines,
]


def mutate(rng: random.Random, data: bytes, rounds: int | None = None) -> bytes:
    """``data`` after 1 to 4 random mutations (or ``rounds``)."""
    out = bytearray(data)
    for _ in range(rounds if rounds is not None else rng.choice((1, 1, 2, 3, 4))):
        rng.choice(MUTATIONS)(rng, out)
    return bytes(out)


def mutate_docbin(rng: random.Random, data: bytes) -> bytes:
    """A mutated DocBin: its compressed bytes, its msgpack payload or one of its fields, recompressed so
    that the mutation reaches spaCy's unpacking (and our reading of the Docs) instead of stopping at zlib."""
    choice = rng.random()
    if choice < 0.3:
        return mutate(rng, data)
    if choice < 0.6:
        return zlib.compress(mutate(rng, zlib.decompress(data)))
    return zlib.compress(mutate_docbin_field(rng, zlib.decompress(data)))


# Values put in a DocBin's fields: other types, odd strings (spaCy's strings are the words and labels).
ODD_VALUES = [
    None,
    0,
    -1,
    2**63,
    1.5,
    "",
    " ",
    "\u3000",
    "a\x00b",
    "\x85",
    "é",
    [],
    {},
    [1, 2],
    {"doc_id": 7},
    b"",
    b"\x81\xa6doc_id\xa2d9",
    b"\x81\xa6doc_id\x92\x01\x02",
    b"\x81\xa6doc_id\xa0",
    b"\x90",
    b"\xc1",
]


def mutate_docbin_field(rng: random.Random, payload: bytes) -> bytes:
    """The msgpack payload of a DocBin with one field changed: a value replaced or deleted, a string or
    user_data entry replaced, or the bytes of an array (tokens, spaces, lengths) mutated."""
    import srsly

    message = srsly.msgpack_loads(payload)
    key = rng.choice(sorted(message))
    value = message[key]
    action = rng.random()
    if action < 0.1:
        del message[key]
    elif isinstance(value, bytes) and action < 0.7:
        message[key] = mutate(rng, value)
    elif isinstance(value, list) and value and action < 0.8:
        value[rng.randrange(len(value))] = rng.choice(ODD_VALUES)
    elif isinstance(value, list) and action < 0.9:
        value.insert(rng.randrange(len(value) + 1), rng.choice(ODD_VALUES))
    else:
        message[key] = rng.choice(ODD_VALUES)
    return srsly.msgpack_dumps(message)


# --- seed files ----------------------------------------------------------------------------------

SEED_SENTENCES = [
    Sentence(
        ["Ada", "Quell", "lives", "in", "São Paulo", "."],
        ["B-PER", "I-PER", "O", "O", "B-LOC", "O"],
        metadata={"newdoc id": "d1", "sent_id": "1"},
    ),
    Sentence(["東京", "is", "big", "😀"], ["B-LOC", "O", "O", "O"], metadata={"sent_id": "2"}),
    Sentence(["Keld", "Amsel", "left"], ["B-PER", "I-PER", "O"], metadata={"newdoc id": "d2", "sent_id": "3"}),
]
SEED_POS = [
    Sentence(["Do", "n't", "panic"], ["AUX", "PART", "VERB"], metadata={"newdoc id": "p1"}),
    Sentence(["Zürich", "."], ["PROPN", "PUNCT"]),
]
SEED_PTB = [Sentence(["Time", "flies", "."], ["NN", "VBZ", "."], metadata={"newdoc id": "t1"})]


def _text(writer: Callable[..., None], sentences: list[Sentence], **options) -> bytes:
    stream = io.StringIO()
    writer(sentences, stream, **options)
    return stream.getvalue().encode("utf-8")


def _docbin(sentences: list[Sentence], folder: Path, name: str) -> bytes:
    path = folder / name
    write_docbin(sentences, path)
    return path.read_bytes()


def _ud_slice() -> bytes:
    """A few sentences of UD English EWT: the first two, and the first with a multiword range and with an
    empty node (the whole file is 30,000 lines; mutating it would be slow and add nothing)."""
    if not UD_DEV.exists():
        return b""
    blocks = gzip.decompress(UD_DEV.read_bytes()).decode("utf-8").split("\n\n")

    def first_with(mark: str) -> str:  # the first sentence with a word line whose id holds ``mark``
        return next(
            block
            for block in blocks
            if any(mark in line.split("\t", 1)[0] for line in block.splitlines() if not line.startswith("#"))
        )

    return ("\n\n".join([*blocks[:2], first_with("-"), first_with(".")]) + "\n\n").encode("utf-8")


@lru_cache(maxsize=1)
def seed_files() -> dict[str, dict[str, bytes]]:
    """Valid small files by format (``conll``, ``conllu``, ``jsonl``, ``docbin``), by name."""
    spaced = [dataclasses.replace(s, words=[w.replace(" ", "_") for w in s.words]) for s in SEED_SENTENCES]
    seeds: dict[str, dict[str, bytes]] = {
        "conll": {
            "written-tabs": _text(write_conll, SEED_SENTENCES),
            "written-spaces": _text(write_conll, spaced),
            "written-pos": _text(write_conll, SEED_POS, docstart=False),
        },
        "conllu": {"written": _text(write_conllu, SEED_SENTENCES), "written-pos": _text(write_conllu, SEED_POS)},
        "jsonl": {"written": _text(write_jsonl, SEED_SENTENCES), "written-pos": _text(write_jsonl, SEED_POS)},
    }
    for name, fmt in (
        ("conll2003_style.conll", "conll"),
        ("tabs_with_spaces.conll", "conll"),
        ("sample.conllu", "conllu"),
        ("sample.jsonl", "jsonl"),
    ):
        seeds[fmt][f"fixture-{name}"] = (FIXTURES / name).read_bytes()
    if SAMPLE_NER.exists():
        head = SAMPLE_NER.read_bytes()[:1500]
        seeds["conll"]["sample_ner-dev"] = head[: head.rindex(b"\n\n") + 2]  # whole sentences
    ud = _ud_slice()
    if ud:
        seeds["conllu"]["ud_en_ewt-dev-slice"] = ud
    with tempfile.TemporaryDirectory() as folder:
        seeds["docbin"] = {
            "written-ents": _docbin(SEED_SENTENCES, Path(folder), "ents.spacy"),
            "written-pos": _docbin(SEED_POS, Path(folder), "pos.spacy"),
            "written-tag": _docbin(SEED_PTB, Path(folder), "tag.spacy"),
        }
    return seeds


# --- cases ---------------------------------------------------------------------------------------


def random_config(rng: random.Random) -> tuple[CorpusConfig, bool, bool]:
    """A reading configuration, mostly the default: ``(config, tags_required, strict)``."""
    if rng.random() < 0.5:
        return CorpusConfig(), True, False
    config = CorpusConfig(
        tag_column=rng.choice((-1, -1, -1, -1, 1, 2, 3, 0, -2)),
        tag_field=rng.choice(("upos", "upos", "xpos")),
        encoding=rng.choice(("utf-8",) * 8 + ("latin-1", "utf-16", "utf-8-sig")),
        scheme=rng.choice(("auto",) * 4 + ("IOB1", "IOB2", "BIOES", "none")),
    )
    return config, rng.random() < 0.75, rng.random() < 0.2


def _suffix(rng: random.Random, reader: str) -> str:
    if reader == "auto":
        return rng.choice(AUTO_SUFFIXES)
    if reader != "docbin" and rng.random() < 0.1:
        return SUFFIXES[reader] + ".gz"
    return SUFFIXES[reader]


def _mutated(rng: random.Random, reader: str) -> tuple[str, bytes]:
    """A mutated seed file: mostly of the reader's own format (any format for ``auto``)."""
    seeds = seed_files()
    fmt = reader if reader != "auto" and rng.random() < 0.8 else rng.choice(sorted(seeds))
    name = rng.choice(sorted(seeds[fmt]))
    data = mutate_docbin(rng, seeds[fmt][name]) if fmt == "docbin" else mutate(rng, seeds[fmt][name])
    return f"{fmt}/{name}", data


def make_case(rng: random.Random, reader: str, source: str) -> Case:
    """One ``random`` or ``mutated`` case for ``reader``; a ``.gz`` name gets gzip data, sometimes mutated."""
    if source == "random":
        origin, data = "random", random_bytes(rng)
    else:
        seed_name, data = _mutated(rng, reader)
        origin = f"mutated:{seed_name}"
    suffix = _suffix(rng, reader)
    if suffix.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
        if rng.random() < 0.3:
            data = mutate(rng, data, rounds=1)
    config, tags_required, strict = random_config(rng)
    return Case(reader, origin, data, suffix, config, tags_required, strict)


def fuzz_inputs(
    reader: str, cases: int, seed: int, folder: Path, on_failure: Callable[[Failure], None] | None = None
) -> Tally:
    """Feed ``cases`` random and mutated inputs (one in four random) to ``reader``; files go to ``folder``."""
    rng = random.Random(f"{seed}:{reader}")
    tally = Tally(reader)
    for index in range(cases):
        case = make_case(rng, reader, "random" if index % 4 == 0 else "mutated")
        failure, refused = run_case(case, folder)
        tally.add(case, failure, refused)
        if failure is not None and on_failure is not None:
            on_failure(failure)
    return tally


# --- round-trip corpora: strategies --------------------------------------------------------------

# Words a tokeniser produces in many scripts, and strings the formats give meaning to.
REAL_WORDS = [
    "Paris",
    "São",
    "Zürich",
    "naïve",
    "Ærøskøbing",
    "Łódź",
    "東京",
    "北京大学",
    "ソニー",
    "서울",
    "Москва",
    "القاهرة",
    "עברית",
    "😀",
    "👩\u200d💻",
    "🇫🇷",
    "e\u0301",
    "O",
    "_",
    "#",
    "# x",
    "{",
    "}",
    "[",
    '"',
    "\\",
    "'",
    "-",
    "--",
    ".",
    "...",
    "1",
    "3.14",
    "1-2",
    "1.1",
    "-DOCSTART-x",
    "B-PER",
    "null",
    "=",
    "10\u00a0000",
]
# Any character but controls (every reader refuses them), surrogates (not text) and the ASCII space,
# which the word strategies place themselves.
CHARACTERS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters=" ")
PIECES = st.one_of(st.sampled_from(REAL_WORDS), st.text(CHARACTERS, min_size=1, max_size=6))
ENTITY_TYPES = ["PER", "LOC", "ORG", "MISC", "人名", "GPE_X", "Ö"]
UPOS = [
    "ADJ",
    "ADP",
    "ADV",
    "AUX",
    "CCONJ",
    "DET",
    "INTJ",
    "NOUN",
    "NUM",
    "PART",
    "PRON",
    "PROPN",
    "PUNCT",
    "SCONJ",
    "SYM",
    "VERB",
    "X",
]
PTB = [
    "NN",
    "NNS",
    "NNP",
    "VBZ",
    "VBD",
    "IN",
    "DT",
    "JJ",
    "PRP$",
    ".",
    ",",
    ":",
    "-LRB-",
    "-RRB-",
    "``",
    "''",
    "$",
    "#",
    "名詞",
]
TAG_KINDS = ("ner", "upos", "ptb", "none")  # none: untagged, raw input read without tags_required


def spaced_words(pieces: st.SearchStrategy[str] = PIECES) -> st.SearchStrategy[str]:
    """Words of 1 to 3 pieces joined by ASCII spaces: spaces inside, never at either end."""
    return st.lists(pieces, min_size=1, max_size=3).map(" ".join)


def conll_words(tagged: bool = True) -> st.SearchStrategy[str]:
    """What CoNLL columns can hold: no tab or line break (they separate columns and lines), no ASCII space
    at either end (a tab-separated reader strips them), spaces inside (the writer then separates columns
    with tabs), not starting with an invisible character such as U+FEFF or U+200B (dropped when read), never a
    ``-DOCSTART-`` line. Without tags (one column, no tab to mark columns as tab-separated) no space at
    all, and not only whitespace and invisible characters (a blank line). Control characters are refused by
    every format."""
    words = spaced_words() if tagged else PIECES.filter(lambda w: " " not in w and not is_blank(w))
    return words.filter(lambda w: not w.startswith(tuple(INVISIBLE)) and w.split(maxsplit=1)[:1] != [DOCSTART])


def conllu_words(tagged: bool = True) -> st.SearchStrategy[str]:
    """What a CoNLL-U FORM can hold: spaces anywhere (even a word of only spaces), no tab or line break, no
    invisible character first (dropped when read)."""
    edges = st.sampled_from(["", "", "", " ", "  "])
    forms = st.one_of(st.tuples(edges, spaced_words(), edges).map("".join), st.just(" "))
    return forms.filter(lambda w: not w.startswith(tuple(INVISIBLE)))


def jsonl_words(tagged: bool = True) -> st.SearchStrategy[str]:
    """What a JSON string can hold: anything CoNLL-U can, and tabs and line breaks (JSON escapes them)."""
    return st.one_of(
        conllu_words(),
        st.lists(PIECES, min_size=2, max_size=3).map("\t".join),
        st.lists(PIECES, min_size=2, max_size=3).map("\n".join),
    ).filter(lambda w: not w.startswith(tuple(INVISIBLE)))


def docbin_words(tagged: bool = True) -> st.SearchStrategy[str]:
    """What a spaCy token can hold and the reader keeps: anything JSONL can but a word of only whitespace
    (the reader drops those as spaCy's whitespace tokens)."""
    return jsonl_words().filter(lambda w: not w.isspace())


# By format. Each takes ``tagged``; only CoNLL columns hold less in a sentence without tags.
WORDS = {"conll": conll_words, "conllu": conllu_words, "jsonl": jsonl_words, "docbin": docbin_words}


@st.composite
def iob2_tags(draw: st.DrawFn, length: int) -> list[str]:
    """A valid IOB2 sequence: ``I-X`` only inside an entity of type X. A DocBin keeps entities, not tags,
    so an invalid sequence would read back repaired."""
    tags: list[str] = []
    for _ in range(length):
        previous = tags[-1][2:] if tags and tags[-1] != "O" else None
        choice = draw(st.sampled_from(["O", "B", "I"] if previous else ["O", "B"]))
        if choice == "O":
            tags.append("O")
        elif choice == "I":
            tags.append(f"I-{previous}")
        else:
            tags.append(f"B-{draw(st.sampled_from(ENTITY_TYPES))}")
    return tags


def tag_sequences(kind: str, length: int) -> st.SearchStrategy[list[str]]:
    if kind == "none":
        return st.just([])
    if kind == "ner":
        return iob2_tags(length)
    return st.lists(st.sampled_from(UPOS if kind == "upos" else PTB), min_size=length, max_size=length)


@dataclass(frozen=True)
class Corpus:
    """Documents of sentences of ``(words, tags)``; ``marked``: documents are marked (else one document)."""

    documents: list[list[tuple[list[str], list[str]]]]
    marked: bool
    kind: str  # ner | upos | ptb | none

    def sentences(self, fmt: str) -> list[Sentence]:
        """As the writers take them: the first sentence of a marked document carries the format's mark, an
        empty marked document is one zero-word sentence, and CoNLL-U sentences carry a sent_id (so that its
        writer keeps zero-word sentences)."""
        out = []
        for doc_index, document in enumerate(self.documents):
            for index, (words, tags) in enumerate((document or [([], [])]) if self.marked else document):
                metadata = _document_mark(fmt, doc_index) if self.marked and index == 0 else {}
                if fmt == "conllu":
                    metadata["sent_id"] = f"{doc_index}-{index}"
                out.append(Sentence(list(words), list(tags), metadata=metadata))
        return out

    def reading_config(self, fmt: str) -> CorpusConfig:
        """Where the tags are read from: a DocBin keeps PTB tags in ``token.tag_`` (read as XPOS) and
        Universal POS tags in ``token.pos_`` (UPOS); the CoNLL-U writer puts every tag in UPOS."""
        return CorpusConfig(tag_field="xpos" if fmt == "docbin" and self.kind == "ptb" else "upos")


def _document_mark(fmt: str, doc_index: int) -> dict[str, str]:
    return {"docstart": "1"} if fmt == "conll" else {"newdoc id": f"doc{doc_index}"}


@st.composite
def corpora(draw: st.DrawFn, fmt: str, max_documents: int = 3, max_sentences: int = 3, max_words: int = 5) -> Corpus:
    """A corpus of one tag kind (IOB2 NER, Universal POS, PTB or none), with empty documents and zero-word
    sentences, of words ``fmt`` can hold (``WORDS``)."""
    kind = draw(st.sampled_from(TAG_KINDS))
    words = WORDS[fmt](tagged=kind != "none")
    marked = draw(st.booleans())
    documents = []
    for _ in range(draw(st.integers(1, max_documents)) if marked else 1):
        document = []
        for _ in range(draw(st.integers(0, max_sentences))):
            length = draw(st.integers(0, max_words))
            document.append(
                (draw(st.lists(words, min_size=length, max_size=length)), draw(tag_sequences(kind, length)))
            )
        documents.append(document)
    return Corpus(documents, marked, kind)


# --- round trips ---------------------------------------------------------------------------------


def documents(sentences: Sequence[Sentence], keep_empty: bool = True) -> list[list[tuple[list[str], list[str]]]]:
    """``(words, tags)`` grouped by document; without ``keep_empty``, zero-word sentences are dropped and so
    are documents left empty (a dropped sentence's document mark then opens the document's next sentence)."""
    groups: dict[int, list[tuple[list[str], list[str]]]] = {}
    for doc_id, sentence in zip(document_ids(sentences), sentences):
        if sentence.words or keep_empty:
            groups.setdefault(doc_id, []).append((sentence.words, sentence.tags))
    return list(groups.values())


def expected_documents(corpus: Corpus, fmt: str, reader: str) -> list[list[tuple[list[str], list[str]]]]:
    """What reading back what ``fmt``'s writer wrote must give, by what each format can represent:
    CoNLL-U and JSONL keep zero-word sentences and empty documents (read_corpus skips them); CoNLL and
    DocBin drop them; a DocBin holds a Doc per sentence when the corpus marks no documents."""
    sentences = corpus.sentences(fmt)
    if fmt == "docbin" and not corpus.marked:
        return [[(s.words, s.tags)] for s in sentences if s.words]
    return documents(sentences, keep_empty=fmt in ("conllu", "jsonl") and reader != "auto")


def write_corpus(sentences: list[Sentence], fmt: str, path: Path) -> None:
    """Write with our writer for ``fmt``; text as UTF-8 (gzip-compressed when the name ends in .gz)."""
    if fmt == "docbin":
        write_docbin(sentences, path)
        return
    writer = {"conll": write_conll, "conllu": write_conllu, "jsonl": write_jsonl}[fmt]
    data = _text(writer, sentences)
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)


def write_case(corpus: Corpus, fmt: str, reader: str, path: Path) -> Case:
    """Write ``corpus`` in ``fmt`` to ``path``: the case of reading it back with ``reader``."""
    sentences = corpus.sentences(fmt)
    write_corpus(sentences, fmt, path)
    has_words = any(s.words for s in sentences)
    # Untagged corpora are raw input; so is an empty DocBin, which has no annotation to find.
    return Case(
        reader,
        f"roundtrip:{fmt}",
        path.read_bytes(),
        "".join(path.suffixes),
        corpus.reading_config(fmt),
        tags_required=corpus.kind != "none" and (has_words or fmt != "docbin"),
    )


def round_trip(corpus: Corpus, fmt: str, reader: str, path: Path) -> list[Sentence]:
    """Write ``corpus`` in ``fmt`` to ``path`` and read it back with ``reader`` (``fmt``'s, or ``auto``)."""
    return read_file(write_case(corpus, fmt, reader, path), path)


def check_round_trip(corpus: Corpus, fmt: str, reader: str, path: Path) -> tuple[Failure | None, bool]:
    """Round-trip ``corpus`` and compare: ``(failure or None, refused)``. Refused is right only for a
    corpus without words read by read_corpus ("no sentences"); any other error is a failure: the writer
    refusing a valid corpus, or the reader refusing what the writer wrote."""
    case = Case(reader, f"roundtrip:{fmt}", b"", "".join(path.suffixes))
    try:
        case = write_case(corpus, fmt, reader, path)
        back = read_file(case, path)
    except TaggerError as error:
        no_words = not any(words for document in corpus.documents for words, _ in document)
        if reader == "auto" and no_words:
            return None, True
        return Failure(case, type(error).__name__, f"{error} (corpus {corpus!r})"[:4000]), False
    except Exception as error:
        return Failure(case, type(error).__name__, f"{error} (corpus {corpus!r})"[:4000], traceback.format_exc()), False
    expected, found = expected_documents(corpus, fmt, reader), documents(back)
    if found != expected:
        message = f"expected {expected!r}, read back {found!r} (corpus {corpus!r})"[:4000]
        return Failure(case, "RoundTripMismatch", message), False
    return None, False


def round_trip_path(folder: Path, fmt: str, gz: bool = False) -> Path:
    return folder / f"corpus{SUFFIXES[fmt]}{'.gz' if gz else ''}"


def fuzz_round_trips(
    reader: str, cases: int, seed: int, folder: Path, on_failure: Callable[[Failure], None] | None = None
) -> Tally:
    """``cases`` corpora drawn by Hypothesis (seeded), written by our writer and read back by ``reader``
    (``auto``: in a random format, named by its extension). Failures are counted, not raised, so that
    every case runs."""
    tally = Tally(reader)
    formats = list(SUFFIXES) if reader == "auto" else [reader]

    @hypothesis_seed(seed)
    @settings(
        max_examples=cases,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        fmt = data.draw(st.sampled_from(formats))
        corpus = data.draw(corpora(fmt))
        gz = fmt != "docbin" and data.draw(st.booleans())
        failure, refused = check_round_trip(corpus, fmt, reader, round_trip_path(folder, fmt, gz))
        tally.add(Case(reader, f"roundtrip:{fmt}", b"", ""), failure, refused)
        if failure is not None and on_failure is not None:
            on_failure(failure)

    run()
    return tally


def fuzz_reader(
    reader: str,
    cases: int,
    seed: int,
    folder: Path,
    round_trips: float = 0.25,
    on_failure: Callable[[Failure], None] | None = None,
) -> Tally:
    """All the fuzzing of one reader: ``cases`` in all, ``round_trips`` of them round-trip corpora and the
    rest random (a quarter) and mutated inputs."""
    trips = int(cases * round_trips)
    tally = fuzz_inputs(reader, cases - trips, seed, folder, on_failure)
    tally.merge(fuzz_round_trips(reader, trips, seed, folder, on_failure))
    return tally


def all_readers(cases: int, seed: int, folder: Path) -> Iterator[Tally]:
    for reader in READERS:
        sub = folder / reader
        sub.mkdir(parents=True, exist_ok=True)
        yield fuzz_reader(reader, cases, seed, sub)
