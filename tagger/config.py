"""Configuration: one frozen dataclass per concern; TOML in, JSON out; unknown keys are errors."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from tagger.errors import ConfigError, setting


@dataclass(frozen=True)
class CorpusConfig:
    format: str = "auto"  # auto, or a corpus format's name (tagger.corpus.formats; checked when a file is read)
    tag_column: int = -1  # CoNLL column holding the tag; -1 = last
    tag_field: str = "upos"  # CoNLL-U: upos | xpos
    encoding: str = "utf-8"
    scheme: str = "auto"  # tag scheme of the files: auto | IOB1 | IOB2 | BIOES | none
    # annotation-tool exports (labelstudio, doccano, prodigy): widen a span that cuts a word to whole words,
    # instead of refusing the file
    snap_spans: bool = False


@dataclass(frozen=True)
class VocabConfig:
    min_freq: int = 1
    lowercase: bool = True  # casing is carried by the char encoder and casing feature
    digits_to_zero: bool = True
    max_word_len: int = 30  # characters kept per word for the char encoder
    # pretrained word vectors: an installed package (glove-6b-50d, spacy-en-md), a GloVe/word2vec/fastText
    # text file (.gz ok) or spacy:PIPELINE
    vectors: str = ""
    # besides the training words (which find theirs in the whole table), the N most frequent vector words
    # join the vocabulary, so words first seen when tagging keep their vector; 0 = every vector word
    vectors_limit: int = 0


@dataclass(frozen=True)
class ModelConfig:
    word_dim: int = 100
    char_encoder: str = "cnn"  # cnn | lstm | none
    char_dim: int = 30
    char_filters: int = 50  # CNN filters, or LSTM hidden size per direction
    char_kernel: int = 3
    casing_dim: int = 8  # 0 disables the casing feature
    cell: str = "lstm"  # lstm | gru | rnn
    # One BiLSTM layer: on CoNLL-2003 it scored 85.29 test F1 against 84.60 for two (seed 1), trained in half
    # the time and tags twice as fast (BENCHMARKS.md, issue 6).
    layers: int = 1
    hidden: int = 200  # per direction
    bidirectional: bool = True
    embedding_dropout: float = 0.5  # on the word ⊕ char ⊕ casing input
    recurrent_dropout: float = 0.5  # between stacked recurrent layers
    output_dropout: float = 0.5  # before the output layer
    # the three dropouts above keep one mask per sentence for all its words (variational dropout, Gal &
    # Ghahramani 2016; Flair's locked dropout) instead of one per word; also far cheaper on thousands of inputs
    locked_dropout: bool = False
    head: str = "softmax"  # softmax (constrained decoding for span tags) | crf
    # the output layer also sees, for each word, the mean BiLSTM state of that word across its document
    document_context: bool = False
    context_between_layers: bool = False  # with document_context: each upper recurrent layer sees the pooled states too
    freeze_vectors: bool = False  # keep pretrained word vectors fixed during training
    # contextual features from a frozen encoder: an installed package (minilm-l6-v2) or a folder holding a
    # BERT-style model (config.json, vocab.txt, model.safetensors); "" = none
    contextual: str = ""
    # frozen character language models, stored in the model: names installed by `tagger lm install`
    # (news-forward-fast, news-backward-fast) or folders, comma-separated, at most one forward and one backward;
    # "" = none
    charlm: str = ""
    charlm_whitespace: bool = True  # each word's LM state at the space after (forward) / before (backward) it
    # a trained linear map of the LMs' states (2,048 wide for Flair's news LMs) to this width before the BiLSTM,
    # which then reads a few hundred inputs per word instead of thousands; 0 = the states as they are
    charlm_projection: int = 0
    # each LM reads the sentences of a document as one text (in windows of the document context's 128 sentences),
    # so a word's forward state carries the sentences before it and its backward state those after it;
    # false: each sentence is read alone, from zero states, as Flair reads it
    charlm_document: bool = False

    def __post_init__(self) -> None:
        names = [name.strip() for name in self.charlm.split(",")] if self.charlm else []
        if any(not name for name in names) or len(set(names)) < len(names):
            raise ConfigError(
                f"{setting('model.charlm', self.charlm)}: expected LM names or folders separated by commas, "
                "each named once"
            )


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 40
    patience: int = 8
    batch_size: int = 32
    optimizer: str = "adam"  # adam | sgd (with momentum)
    lr: float = 0.002
    momentum: float = 0.9  # sgd only
    # decay: lr / (1 + lr_decay * epoch) | plateau: halve lr when dev stops improving | linear: lr falls step by step
    # to zero at the end of train.epochs, so the last epochs settle into a minimum (the run's length must be known)
    schedule: str = "decay"
    lr_decay: float = 0.05
    plateau_patience: int = 2  # epochs without a better dev score before the plateau schedule halves lr
    weight_decay: float = 0.0
    clip_norm: float = 5.0  # gradient-norm clipping; 0 = none
    average: float = 0.0  # decay of an exponential moving average of the weights, scored and saved instead; 0 = off
    word_dropout: float = 0.05  # probability a training word is replaced by <unk>
    context_dropout: float = 0.0  # document context: chance a document's sentences are trained as separate documents
    singleton_unk: float = 0.0  # probability a word seen once in training is replaced by <unk> (Lample et al.: 0.5)
    scheme: str = "BIOES"  # internal training scheme for span tags: IOB2 | BIOES
    seed: int = 1
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch intra-op threads; 0 = this process's CPUs, fewer while other processes use some
    precision: str = "auto"  # forward pass: auto (bf16 autocast on a CUDA GPU that has bf16, else fp32) | fp32 | bf16
    max_minutes: float = 0.0  # stop before the epochs add up to more minutes (across --resume); 0 = no limit
    # a final model: the dev corpus joins the training data, so nothing stops early and each epoch's model is kept
    # (the last one is the model); dev is still scored, but on data the model was trained on
    with_dev: bool = False
    # at the end, the model's own ONNX export beside its weights (int8 where it tags dev as the model does, else
    # fp32), which loading runs on onnxruntime where that is installed; only for models it tags faster there
    # (no document context) and that can be exported (tagger.export.carried)
    carry_export: bool = True


@dataclass(frozen=True)
class Config:
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> Config:
        _reject_unknown(data, [f.name for f in dataclasses.fields(cls)], source)
        sections = {}
        for f in dataclasses.fields(cls):
            section_type = type(getattr(cls(), f.name))
            sections[f.name] = _build_section(section_type, f.name, data.get(f.name, {}), f"{source} [{f.name}]")
        return cls(**sections)


CHOICES = {
    ("corpus", "tag_field"): {"upos", "xpos"},
    ("corpus", "scheme"): {"auto", "IOB1", "IOB2", "BIOES", "none"},
    ("model", "char_encoder"): {"cnn", "lstm", "none"},
    ("model", "cell"): {"lstm", "gru", "rnn"},
    ("model", "head"): {"softmax", "crf"},
    ("train", "optimizer"): {"adam", "sgd"},
    ("train", "schedule"): {"decay", "plateau", "linear"},
    ("train", "scheme"): {"IOB2", "BIOES"},
    ("train", "device"): {"auto", "cpu", "cuda"},
    ("train", "precision"): {"auto", "fp32", "bf16"},
}


@dataclass(frozen=True)
class Limit:
    """The range of a number setting; ``zero_means``: what 0 means where the low end 0 has a meaning of its own."""

    low: float
    high: float | None = None
    low_included: bool = True
    high_included: bool = True
    zero_means: str = ""

    def admits(self, value: float) -> bool:
        above = value >= self.low if self.low_included else value > self.low
        below = self.high is None or (value <= self.high if self.high_included else value < self.high)
        return above and below

    def expected(self) -> str:
        if self.high is None:
            text = f"expected {'at least' if self.low_included else 'above'} {self.low:g}"
        else:
            ends = ((self.low, self.low_included), (self.high, self.high_included))
            excluded = [f"{end:g}" for end, included in ends if not included]
            text = f"expected {self.low:g} to {self.high:g}" + (
                f" ({' and '.join(excluded)} excluded)" if excluded else ""
            )
        return text + (f"; 0 means {self.zero_means}" if self.zero_means else "")


PROBABILITY = Limit(0.0, 1.0, high_included=False)  # a dropout of 1 would drop everything
# Every number setting has its range here (tests/test_config.py checks that none is missing): out of range, torch
# ended in a traceback (hidden=0, dropout 1.5, lr -1), Python divided by zero (word_dim=0), or worse, training ran
# with a meaning nobody asked for (layers=0 trained one layer, patience=0 stopped after the first epoch).
LIMITS: dict[tuple[str, str], Limit] = {
    ("vocab", "min_freq"): Limit(1),
    ("vocab", "max_word_len"): Limit(1),
    ("vocab", "vectors_limit"): Limit(0, zero_means="every vector word"),
    ("model", "word_dim"): Limit(1),
    ("model", "char_dim"): Limit(1),
    ("model", "char_filters"): Limit(1),
    ("model", "char_kernel"): Limit(1),
    ("model", "casing_dim"): Limit(0, zero_means="no casing feature"),
    ("model", "charlm_projection"): Limit(0, zero_means="the LM states as they are"),
    ("model", "layers"): Limit(1),
    ("model", "hidden"): Limit(1),
    ("model", "embedding_dropout"): PROBABILITY,
    ("model", "recurrent_dropout"): PROBABILITY,
    ("model", "output_dropout"): PROBABILITY,
    ("train", "epochs"): Limit(1),
    ("train", "patience"): Limit(1),
    ("train", "batch_size"): Limit(1),
    ("train", "lr"): Limit(0.0, low_included=False),
    ("train", "momentum"): PROBABILITY,
    ("train", "lr_decay"): Limit(0.0),
    ("train", "plateau_patience"): Limit(0),
    ("train", "weight_decay"): Limit(0.0),
    ("train", "clip_norm"): Limit(0.0, zero_means="no clipping"),
    ("train", "average"): Limit(0.0, 1.0, high_included=False, zero_means="no weight average"),
    ("train", "word_dropout"): PROBABILITY,
    ("train", "context_dropout"): Limit(0.0, 1.0),
    ("train", "singleton_unk"): Limit(0.0, 1.0),
    ("train", "threads"): Limit(0, zero_means="this process's CPUs, fewer while other processes use some"),
    ("train", "max_minutes"): Limit(0.0, zero_means="no limit"),
}
UNLIMITED = {("corpus", "tag_column"), ("train", "seed")}  # any integer means something (-1: the last column)


def _reject_unknown(data: dict[str, Any], valid: list[str], source: str) -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a table of settings, got {type(data).__name__}")
    for key in data:
        if key not in valid:
            raise ConfigError(
                f"{source}: unknown key '{key}'{did_you_mean(key, valid)} (valid keys: {', '.join(valid)})"
            )


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the valid name closest to a misspelt one, or "" when none is close."""
    close = difflib.get_close_matches(name, list(valid), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _build_section(section_type: type, section_name: str, values: dict[str, Any], source: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(section_type)}
    _reject_unknown(values, list(fields), source)
    checked = {
        key: _check_value(section_name, key, value, type(getattr(section_type(), key)), f"{source} {key}")
        for key, value in values.items()
    }
    return section_type(**checked)


def _check_value(section_name: str, key: str, value: Any, wanted: type, name: str) -> Any:
    """``value`` as the setting's type, within its choices and range; ``name`` is where it came from."""
    checked = _coerce(value, wanted, name)
    allowed = CHOICES.get((section_name, key))
    if allowed and checked not in allowed:
        raise ConfigError(f"{name}: '{value}' is not one of {', '.join(sorted(allowed))}")
    limit = LIMITS.get((section_name, key))
    if limit and not limit.admits(checked):
        raise ConfigError(f"{setting(f'{section_name}.{key}', value)}: {limit.expected()}")
    return checked


def _coerce(value: Any, wanted: type, name: str) -> Any:
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if wanted is bool and isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    if isinstance(value, str) and wanted in (int, float):
        try:
            return wanted(value)
        except ValueError:
            pass
    if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
        raise ConfigError(f"{name}: expected {wanted.__name__}, got {value!r}")
    return value


def parse_override(text: str) -> tuple[str, str, str]:
    """Split ``section.key=value`` into its parts."""
    path, sep, value = text.partition("=")
    section, dot, key = path.strip().partition(".")
    if not sep or not dot or not key:
        raise ConfigError(f"override '{text}': expected section.key=value, e.g. model.hidden=256")
    return section, key, value.strip()


def check_override(text: str) -> tuple[str, str, str]:
    """``section.key=value`` split and checked on its own, so that a mistake is named as the caller wrote it
    (`model.hiden=256`), not by the defaults or the config file it is merged into."""
    section, key, value = parse_override(text)
    named = setting(f"{section}.{key}", value)
    sections = {f.name: type(getattr(Config(), f.name)) for f in dataclasses.fields(Config)}
    if section not in sections:
        raise ConfigError(
            f"{named}: unknown setting '{section}.{key}'{_closest_setting(section, key, sections)} "
            f"(sections: {', '.join(sections)})"
        )
    keys = [f.name for f in dataclasses.fields(sections[section])]
    if key not in keys:
        raise ConfigError(
            f"{named}: unknown setting '{section}.{key}'"
            f"{did_you_mean(f'{section}.{key}', [f'{section}.{k}' for k in keys])} "
            f"(valid keys of [{section}]: {', '.join(keys)})"
        )
    _check_value(section, key, value, type(getattr(sections[section](), key)), named)
    return section, key, value


def _closest_setting(section: str, key: str, sections: dict[str, type]) -> str:
    """did-you-mean for a misspelt section: the closest section with the key, when that section has it
    (modle.hidden -> model.hidden), else the section alone."""
    close = difflib.get_close_matches(section, list(sections), n=1)
    if not close:
        return ""
    keys = {f.name for f in dataclasses.fields(sections[close[0]])}
    return f"; did you mean '{close[0]}.{key}'?" if key in keys else f"; did you mean section '{close[0]}'?"


# Named starting points, applied before a config file and --set overrides. ``accurate`` is the best
# configuration measured on CoNLL-2003 (scripts/benchmarks/ablation.py, BENCHMARKS.md); a wider BiLSTM with
# singleton -> <unk> did no better than the CRF alone and took 25% longer, so it is not part of it.
# Context dropout keeps the document score (87.16, seed 1) and lifts sentences tagged alone from 83.7 to 85.3.
# ``fast``: a narrower BiLSTM with the CRF head, which cost no tagging speed and, on one thread, scored 85.43
# (CoNLL-2003 seed 1, 3.5 min) where the softmax head scored 83.33.
PRESETS: dict[str, list[str]] = {
    "default": [],
    "fast": ["model.hidden=128", "model.char_filters=30", "model.head=crf", "train.epochs=30", "train.patience=6"],
    "accurate": [
        "model.layers=2",
        "model.head=crf",
        "model.document_context=true",
        "model.context_between_layers=true",
        "train.average=0.999",
        "train.context_dropout=0.25",
    ],
}
# Presets that use pretrained knowledge installed from the package index (docs/config.md): ``vectors`` adds
# frozen GloVe 6B 50d to ``accurate`` (the training words and the 100,000 most frequent GloVe words keep their
# rows), ``contextual`` adds the frozen MiniLM encoder's features to that.
PRESETS["vectors"] = PRESETS["accurate"] + [
    "vocab.vectors=glove-6b-50d",
    "vocab.vectors_limit=100000",
    "model.word_dim=50",
    "model.freeze_vectors=true",
]
PRESETS["contextual"] = PRESETS["vectors"] + ["model.contextual=minilm-l6-v2"]
# ``charlm``: ``vectors`` + Flair's two fast English news character LMs (`tagger lm install`), with Flair's
# BiLSTM width for them. Projecting the LM states to 256 before one layer trained 3.5x faster but scored 91.26
# against 92.20 on CoNLL-2003 (seed 1; BENCHMARKS.md), so the preset keeps the states and two layers. The LMs
# read each document whole, and dropout keeps one mask per sentence (Flair's locked dropout): over seeds 1-3,
# 92.56 against 92.26 sentence by sentence with element-wise dropout, each seed higher, at half the tagging speed.
PRESETS["charlm"] = PRESETS["vectors"] + [
    "model.charlm=news-forward-fast,news-backward-fast",
    "model.hidden=256",
    "model.charlm_document=true",
    "model.locked_dropout=true",
]


def load_config(path: str | Path | None = None, overrides: Sequence[str] = (), preset: str = "default") -> Config:
    """A preset, then a TOML config file, then ``section.key=value`` overrides, each over the one before."""
    if preset not in PRESETS:
        raise ConfigError(f"preset {preset!r}: expected one of {', '.join(PRESETS)}{did_you_mean(preset, PRESETS)}")
    for text in overrides:  # each named as written before it is merged with the preset and the file
        check_override(text)
    data = overrides_to_dict(PRESETS[preset])
    source = "defaults" if preset == "default" else f"preset {preset}"
    if path is not None:
        source = str(path)
        merge_settings(data, read_toml(Path(path)))
    merge_settings(data, overrides_to_dict(overrides))
    return Config.from_dict(data, source)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None


def overrides_to_dict(texts: Sequence[str]) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = {}
    for text in texts:
        section, key, value = parse_override(text)
        data.setdefault(section, {})[key] = value
    return data


def corpus_config(overrides: Sequence[str] = (), base: CorpusConfig | None = None) -> CorpusConfig:
    """How to read data: ``base`` (the defaults, or how a model's training data was read) with ``corpus.key=value``
    overrides on top. Reading data uses no other section, so another is refused rather than ignored."""
    settings = dataclasses.asdict(base or CorpusConfig())
    for text in overrides:
        section, key, value = parse_override(text)
        if section != "corpus":
            raise ConfigError(
                f"{setting(f'{section}.{key}', value)}: reading data takes corpus settings only; "
                "expected a corpus.* setting"
            )
        check_override(text)
        settings[key] = value
    return Config.from_dict({"corpus": settings}, "corpus settings").corpus


def merge_settings(data: dict[str, Any], updates: dict[str, Any]) -> None:
    for section, values in updates.items():
        if isinstance(values, dict) and isinstance(data.get(section, {}), dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values  # not a table: Config.from_dict reports it


def replace(config: Config, section: str, **changes: Any) -> Config:
    """A copy of ``config`` with some keys of one section changed."""
    updated = dataclasses.replace(getattr(config, section), **changes)
    return dataclasses.replace(config, **{section: updated})
