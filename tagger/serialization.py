"""The model directory: config.json, vocab.json, model.safetensors, metrics.json, README.md.

Files are data, never code: weights are safetensors, everything else JSON or Markdown. Saving is
atomic per file (temp file + rename) and config.json, written last, holds the checksum of the
weights, so a directory caught half-written is refused rather than half-loaded.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from tagger import __version__
from tagger.atomic import write_atomic
from tagger.config import Config
from tagger.errors import ConfigError, ModelDirError, TaggerError
from tagger.model import BiLSTMTagger, build_model
from tagger.vocab import Vocab

FORMAT_VERSION = 1
REQUIRED_FILES = ("config.json", "vocab.json", "model.safetensors")
# Written in this order: config.json last, since it carries the weights' checksum, so a reader never
# pairs it with other weights.
MODEL_FILES = (
    "model.safetensors",
    "vocab.json",
    "metrics.json",
    "README.md",
    "train_log.jsonl",
    "training.png",
    "config.json",
)
WHAT_A_MODEL_DIR_HOLDS = (
    "a model directory holds config.json, vocab.json and model.safetensors, as written by `tagger train`"
)
PICKLE_SIGNATURES = (b"\x80", b"PK\x03\x04")  # pickle protocol 2+ opcode; zip archive as written by torch.save


@dataclass
class LoadedModel:
    config: Config
    vocab: Vocab
    model: BiLSTMTagger
    metrics: dict[str, Any]


def to_json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def pack_tensors(tensors: dict[str, torch.Tensor]) -> bytes:
    """safetensors bytes of CPU copies of ``tensors``; the same tensors always give the same bytes."""
    # One metadata key only: safetensors writes the metadata map in hash order.
    return save({name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}, metadata={"format": "pt"})


def unpack_tensors(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    try:
        return load(data)
    except (SafetensorError, ValueError, OSError) as error:
        raise ModelDirError(
            str(path), f"corrupt tensor file ({error})", "restore it, or delete it and start afresh"
        ) from None


def save_model(
    directory: str | Path,
    config: Config,
    vocab: Vocab,
    model: BiLSTMTagger,
    metrics: dict[str, Any] | None = None,
    card: str | None = None,
) -> Path:
    directory = Path(directory)
    weights = pack_tensors(compact_state(model.state_dict(), config))  # the format version lives in config.json
    write_atomic(directory / "model.safetensors", weights)
    write_atomic(directory / "vocab.json", to_json_bytes(vocab.to_dict()))
    if metrics is not None:
        write_atomic(directory / "metrics.json", to_json_bytes(metrics))
    if card is not None:
        write_atomic(directory / "README.md", card.encode("utf-8"))
    header = {
        "format_version": FORMAT_VERSION,
        "tagger_version": __version__,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "config": config.to_dict(),
    }
    write_atomic(directory / "config.json", to_json_bytes(header))
    return directory


def load_model(directory: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load and validate a model directory; every problem is one ModelDirError saying what to do."""
    directory = Path(directory)
    return load_model_files(read_model_files(directory), directory, device)


def read_model_files(directory: str | Path) -> dict[str, bytes]:
    """The bytes of every file of a model directory, by name (for loading, or copying a model verbatim)."""
    directory = Path(directory)
    check_is_model_dir(directory)
    return {name: (directory / name).read_bytes() for name in MODEL_FILES if (directory / name).is_file()}


def write_model_files(directory: str | Path, files: dict[str, bytes]) -> None:
    """Write a model's files (from ``read_model_files``) into ``directory``, each atomically."""
    for name in MODEL_FILES:
        if name in files:
            write_atomic(Path(directory) / name, files[name])


def load_model_files(files: dict[str, bytes], source: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model from its files' bytes (as ``read_model_files`` gives them); ``source`` names it in errors."""
    source = Path(source)
    missing = [name for name in REQUIRED_FILES if not isinstance(files.get(name), bytes)]
    if missing:
        raise ModelDirError(str(source), f"missing {', '.join(missing)}", WHAT_A_MODEL_DIR_HOLDS)
    header = parse_json(files["config.json"], source / "config.json")
    config = read_config(header, source / "config.json")
    vocab = Vocab.from_dict(parse_json(files["vocab.json"], source / "vocab.json"), str(source / "vocab.json"))
    state = read_weights(files["model.safetensors"], source / "model.safetensors", header.get("weights_sha256"))
    model = build_model(config.model, vocab)
    state = widen_compact_tensors(upgrade_weight_names(state))
    check_weights(state, model, source / "model.safetensors")
    model.load_state_dict(state)
    metrics = parse_json(files["metrics.json"], source / "metrics.json") if "metrics.json" in files else {}
    return LoadedModel(config, vocab, model.to(device).eval(), metrics)


def check_is_model_dir(directory: Path) -> None:
    if not directory.exists():
        raise ModelDirError(str(directory), "no such model directory", WHAT_A_MODEL_DIR_HOLDS)
    if not directory.is_dir():
        raise ModelDirError(str(directory), "is a file, not a model directory", WHAT_A_MODEL_DIR_HOLDS)
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise ModelDirError(str(directory), f"missing {', '.join(missing)}", WHAT_A_MODEL_DIR_HOLDS)


def parse_json(data: bytes, path: Path) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelDirError(
            str(path), f"not valid JSON ({error})", "restore the file from the original model"
        ) from None


def read_config(header: Any, path: Path) -> Config:
    if not isinstance(header, dict) or "format_version" not in header:
        raise ModelDirError(str(path), "has no format_version", "this is not a tagger model config")
    version = header["format_version"]
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ModelDirError(
            str(path),
            f"format_version {version!r} is not supported by tagger {__version__} "
            f"(reads format_version 1..{FORMAT_VERSION})",
            "upgrade tagger to load this model",
        )
    try:
        return Config.from_dict(upgrade_config(header.get("config", {})), "config")
    except ConfigError as error:
        raise ModelDirError(
            str(path),
            str(error),
            "the model was saved by another tagger version, or edited; retrain it, or restore config.json",
        ) from None


def upgrade_config(config: Any) -> Any:
    """Settings renamed since tagger 0.1.0, mapped to their new names so older models keep loading.

    0.1.0 had one ``model.dropout``, used at all three places the model now sets apart.
    """
    model = config.get("model") if isinstance(config, dict) else None
    if not isinstance(model, dict) or "dropout" not in model:
        return config
    model = dict(model)
    rate = model.pop("dropout")
    for key in ("embedding_dropout", "recurrent_dropout", "output_dropout"):
        model.setdefault(key, rate)
    return {**config, "model": model}


# tagger 0.1.0 kept the recurrent layers in one stacked nn.LSTM ("rnn.weight_ih_l1_reverse") or, with
# context between layers, in one bidirectional module per layer ("rnn.1.weight_ih_l0_reverse").
OLD_RECURRENT_NAME = re.compile(r"rnn\.(?:(\d+)\.)?(weight|bias)_(ih|hh)_l(\d+)(_reverse)?")


def upgrade_weight_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Recurrent weights of 0.1.0 models under today's names: ``rnn.layers.LAYER.DIRECTION.weight_ih_l0``."""

    def rename(name: str) -> str:
        old = OLD_RECURRENT_NAME.fullmatch(name)
        if old is None:
            return name
        per_layer, kind, gate, stacked_layer, reverse = old.groups()
        return f"rnn.layers.{per_layer or stacked_layer}.{1 if reverse else 0}.{kind}_{gate}_l0"

    return {rename(name): tensor for name, tensor in state.items()}


# Pretrained vectors make the word embedding the bulk of a model (100,000 words x 50 is 5 million values beside
# the BiLSTM's few million); fp16 halves it and rounds each value to 1 part in 2,000, which changed no CoNLL-2003
# test F1 at two decimals (scripts/vector_rows.py, BENCHMARKS.md issue 15). Weights are trained and used in fp32.
COMPACT_TENSORS = ("word_embedding.weight",)


def compact_state(state: dict[str, torch.Tensor], config: Config) -> dict[str, torch.Tensor]:
    if not config.vocab.vectors:
        return state
    return {name: t.half() if name in COMPACT_TENSORS else t for name, t in state.items()}


def widen_compact_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: t.float() if name in COMPACT_TENSORS and t.dtype == torch.float16 else t for name, t in state.items()}


def read_weights(data: bytes, path: Path, expected_sha256: str | None) -> dict[str, torch.Tensor]:
    if data.startswith(PICKLE_SIGNATURES):
        raise ModelDirError(
            str(path),
            "is a pickle or torch.save archive, not safetensors; refusing to load it",
            "pickles can run code: only load models saved by tagger",
        )
    if expected_sha256 and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ModelDirError(
            str(path),
            "corrupt model file: checksum does not match config.json",
            "the weights were changed or truncated; restore or retrain the model",
        )
    try:
        return load(data)
    except (SafetensorError, ValueError, OSError) as error:
        raise ModelDirError(str(path), f"corrupt model file ({error})", "restore or retrain the model") from None


def check_weights(state: dict[str, torch.Tensor], model: BiLSTMTagger, path: Path) -> None:
    expected = model.state_dict()
    for name in expected.keys() - state.keys():
        raise ModelDirError(str(path), f"tensor {name!r} is missing", "config.json and the weights do not match")
    for name in state.keys() - expected.keys():
        raise ModelDirError(str(path), f"unexpected tensor {name!r}", "config.json and the weights do not match")
    for name, tensor in state.items():
        want = expected[name]
        if tensor.shape != want.shape or tensor.dtype != want.dtype:
            raise ModelDirError(
                str(path),
                f"tensor {name!r} has shape {tuple(tensor.shape)} {tensor.dtype}, "
                f"expected {tuple(want.shape)} {want.dtype} from config.json and vocab.json",
                "config, vocabulary and weights must come from the same model",
            )
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ModelDirError(str(path), f"tensor {name!r} contains NaN or Inf", "the model diverged; retrain it")


def is_model_dir(directory: str | Path) -> bool:
    try:
        check_is_model_dir(Path(directory))
    except TaggerError:
        return False
    return True
