"""Words, characters and labels <-> ids, with the word normalisation the model was trained with."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tagger.config import VocabConfig
from tagger.errors import ModelDirError
from tagger.schemes import Task

PAD, UNK = "<pad>", "<unk>"
SPECIALS = (PAD, UNK)
PAD_ID, UNK_ID = 0, 1
DIGITS = re.compile(r"[0-9]")
WORD_CACHE_SIZE = 200_000  # distinct words whose encoding a vocabulary remembers

# Casing classes (Reimers & Gurevych): the word embedding is lowercased, so case comes back through this feature.
CASINGS = (
    "<pad>",
    "numeric",
    "mostly_numeric",
    "contains_digit",
    "lower",
    "upper",
    "initial_upper",
    "mixed",
    "punct",
    "other",
)
CASING_IDS = {name: i for i, name in enumerate(CASINGS)}


def word_to_casing(word: str) -> int:
    digits = sum(c.isdigit() for c in word)
    if word.isdigit():
        name = "numeric"
    elif digits / max(len(word), 1) > 0.5:
        name = "mostly_numeric"
    elif digits:
        name = "contains_digit"
    elif word.islower():
        name = "lower"
    elif word.isupper():
        name = "upper"
    elif word[:1].isupper():
        name = "initial_upper"
    elif any(c.isalpha() for c in word):
        name = "mixed"
    elif all(not c.isalnum() for c in word):
        name = "punct"
    else:
        name = "other"
    return CASING_IDS[name]


@dataclass(frozen=True)
class Vocab:
    words: tuple[str, ...]
    chars: tuple[str, ...]
    labels: tuple[str, ...]
    scheme: str  # scheme of `labels`: IOB2 | BIOES for span tasks, none for plain labels
    lowercase: bool = True
    digits_to_zero: bool = True
    max_word_len: int = 30
    _word_ids: dict[str, int] = field(init=False, repr=False, compare=False)
    _char_ids: dict[str, int] = field(init=False, repr=False, compare=False)
    _label_ids: dict[str, int] = field(init=False, repr=False, compare=False)
    # Zipf's law: a few thousand distinct words make up most of any text, so each is encoded once.
    _encoded_words: dict[str, tuple[str, int, int]] = field(init=False, repr=False, compare=False)
    _encoded_chars: dict[str, tuple[int, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_word_ids", {w: i for i, w in enumerate(self.words)})
        object.__setattr__(self, "_char_ids", {c: i for i, c in enumerate(self.chars)})
        object.__setattr__(self, "_label_ids", {t: i for i, t in enumerate(self.labels)})
        object.__setattr__(self, "_encoded_words", {})
        object.__setattr__(self, "_encoded_chars", {})

    @property
    def task(self) -> Task:
        return "labels" if self.scheme == "none" else "spans"

    def normalise(self, word: str) -> str:
        if self.lowercase:
            word = word.lower()
        if self.digits_to_zero:
            word = DIGITS.sub("0", word)
        return word

    def word_id(self, word: str) -> int:
        return self.form_id(self.normalise(word))

    def form_id(self, form: str) -> int:
        """The id of an already normalised word."""
        return self._word_ids.get(form, UNK_ID)

    def encode_word(self, word: str) -> tuple[str, int, int]:
        """(normalised form, word id, casing id) of a word, remembered for the next time it comes."""
        encoded = self._encoded_words.get(word)
        if encoded is None:
            if len(self._encoded_words) >= WORD_CACHE_SIZE:  # bounded: a stream of unique words never grows it
                self._encoded_words.clear()
            form = self.normalise(word)
            encoded = self._encoded_words[word] = (form, self.form_id(form), word_to_casing(word))
        return encoded

    def char_ids(self, word: str) -> tuple[int, ...]:
        ids = self._encoded_chars.get(word)
        if ids is None:
            if len(self._encoded_chars) >= WORD_CACHE_SIZE:
                self._encoded_chars.clear()
            ids = tuple(self._char_ids.get(c, UNK_ID) for c in word[: self.max_word_len]) or (UNK_ID,)
            self._encoded_chars[word] = ids
        return ids

    def label_id(self, label: str) -> int:
        return self._label_ids[label]

    def has_label(self, label: str) -> bool:
        return label in self._label_ids

    def to_dict(self) -> dict[str, Any]:
        return {
            "words": list(self.words),
            "chars": list(self.chars),
            "labels": list(self.labels),
            "scheme": self.scheme,
            "lowercase": self.lowercase,
            "digits_to_zero": self.digits_to_zero,
            "max_word_len": self.max_word_len,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str = "vocab.json") -> Vocab:
        try:
            vocab = cls(
                words=tuple(data["words"]),
                chars=tuple(data["chars"]),
                labels=tuple(data["labels"]),
                scheme=data["scheme"],
                lowercase=bool(data["lowercase"]),
                digits_to_zero=bool(data["digits_to_zero"]),
                max_word_len=int(data["max_word_len"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ModelDirError(
                path, f"vocabulary is incomplete or malformed ({error!r})", "re-save the model"
            ) from None
        for name, items in (("words", vocab.words), ("chars", vocab.chars), ("labels", vocab.labels)):
            if len(set(items)) != len(items):
                duplicate = next(x for x, n in Counter(items).items() if n > 1)
                raise ModelDirError(path, f"duplicate entry {duplicate!r} in {name}", "each entry must be unique")
        return vocab


def build_vocab(
    word_seqs: Iterable[Sequence[str]], labels: Iterable[str], scheme: str, config: VocabConfig = VocabConfig()
) -> Vocab:
    """The vocabulary of a training corpus: words seen at least ``min_freq`` times, every char, every label."""
    probe = Vocab((), (), (), scheme, config.lowercase, config.digits_to_zero, config.max_word_len)
    word_counts: Counter[str] = Counter()
    char_counts: Counter[str] = Counter()
    for words in word_seqs:
        word_counts.update(probe.normalise(w) for w in words)
        for word in words:
            char_counts.update(word[: config.max_word_len])
    kept_words = sorted(w for w, n in word_counts.items() if n >= config.min_freq)
    return Vocab(
        words=SPECIALS + tuple(kept_words),
        chars=SPECIALS + tuple(sorted(char_counts)),
        labels=tuple(sorted(set(labels), key=_label_order)),
        scheme=scheme,
        lowercase=config.lowercase,
        digits_to_zero=config.digits_to_zero,
        max_word_len=config.max_word_len,
    )


def _label_order(label: str) -> tuple[str, str]:
    # "O" first, then grouped by type so the label list reads naturally in vocab.json.
    prefix, _, kind = label.partition("-")
    return ("", "") if label == "O" else (kind or prefix, prefix)
