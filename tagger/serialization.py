"""The model directory: config.json, vocab.json, model.safetensors, metrics.json, README.md, ...

Files are data, never code: weights are safetensors, everything else JSON or Markdown. A directory is saved
all or nothing: each file is written atomically (temp file + rename), and config.json, written last, is the
manifest that names every file of the model with its SHA-256. A reader checks the files that decide the tags
against it and ignores files it does not name, so a directory caught between two writes is refused as a whole,
never loaded as a mix of two saves; the saver then deletes the files of the model it replaced that the new one
lacks (only files that model's manifest named: never a file the user put there).
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

from tagger.atomic import write_atomic
from tagger.config import Config
from tagger.errors import ConfigError, ModelDirError, TaggerError, setting
from tagger.model import BiLSTMTagger, build_model
from tagger.portable.files import CARRIED_FILES, MODEL_MANIFEST
from tagger.shipped import model_path, shipped_names_hint
from tagger.version import __version__
from tagger.vocab import Vocab

FORMAT_VERSION = 1
REQUIRED_FILES = ("config.json", "vocab.json", "model.safetensors")
# Written in this order: config.json last, since it is the manifest (each file's checksum), so a reader never
# pairs it with other files.
MODEL_FILES = (
    "model.safetensors",
    "vocab.json",
    "metrics.json",
    "README.md",
    "train_log.jsonl",
    "training.png",
    *CARRIED_FILES,  # the model's own export (model.onnx, onnx.json), when it carries one: checked when it runs
    "config.json",
)
WHAT_A_MODEL_DIR_HOLDS = (
    "a model directory holds config.json, vocab.json and model.safetensors, as written by `tagger train`"
)
PICKLE_SIGNATURES = (b"\x80", b"PK\x03\x04")  # pickle protocol 2+ opcode; zip archive as written by torch.save
MANIFEST = MODEL_MANIFEST  # config.json's map of every other file of the model to its SHA-256
# The files that decide the tags, checked byte for byte against the manifest. The others describe the model
# (scores, card, log, curves) or carry its export, which is checked when it runs (portable.files): a person may
# edit or delete them without the model being refused, and a save never rewrites them without first rewriting
# the weights, unless the weights stay the same (same model).
CHECKED_FILES = ("model.safetensors", "vocab.json")
DESCRIPTIVE_FILES = set(MODEL_FILES) - set(CHECKED_FILES) - {"config.json"}  # added after a save (add_model_files)
RESUME_FIX = (
    "retrain the model; if its training was stopped, run the same training again with "
    f"{setting('resume', True)} to go on"
)


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
    """Save a model into ``directory`` all or nothing (``write_model_files``)."""
    directory = Path(directory)
    files = {
        "model.safetensors": pack_tensors(compact_state(model.state_dict(), config)),
        "vocab.json": to_json_bytes(vocab.to_dict()),
    }
    if metrics is not None:
        files["metrics.json"] = to_json_bytes(metrics)
    if card is not None:
        files["README.md"] = card.encode("utf-8")
    header = {"format_version": FORMAT_VERSION, "tagger_version": __version__, "config": config.to_dict()}
    files["config.json"] = to_json_bytes(with_manifest(header, files))  # the format version lives in config.json
    write_model_files(directory, files)
    return directory


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def with_manifest(header: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
    """``header`` (config.json) naming every file of ``files`` but config.json with its checksum; the weights'
    checksum also as ``weights_sha256``, which tagger versions before the manifest check."""
    listed = {name: sha256(files[name]) for name in MODEL_FILES if name in files and name != "config.json"}
    return {**header, "weights_sha256": listed["model.safetensors"], MANIFEST: listed}


def write_model_files(directory: str | Path, files: dict[str, bytes]) -> None:
    """Write a model's files (from ``save_model`` or ``read_model_files``) into ``directory``, all or nothing.

    Each file is written atomically, config.json (the manifest) last: until it is replaced, the manifest of the
    model there before no longer matches the new weights, and a reader refuses the directory. Then the files of
    the replaced model that this one lacks are deleted (a card or scores of the old model beside the new one);
    only files the replaced manifest named, never another file in the directory.
    """
    directory = Path(directory)
    replaced = committed_names(directory)
    for name in MODEL_FILES:
        if name in files and name != "config.json":
            write_atomic(directory / name, files[name])
    write_atomic(directory / "config.json", files["config.json"])
    for name in sorted(replaced - files.keys()):
        (directory / name).unlink(missing_ok=True)


def add_model_files(directory: str | Path, added: dict[str, bytes]) -> None:
    """Add files that describe the model (metrics, card, log, curves) to the model committed in ``directory``:
    each written atomically, then config.json naming them. The model must be whole: a torn directory is
    refused here, never blessed by a manifest computed from whatever lies there."""
    directory = Path(directory)
    if not set(added) <= DESCRIPTIVE_FILES:
        raise ValueError(f"add_model_files adds only {sorted(DESCRIPTIVE_FILES)}, not {sorted(added)}")
    files = read_model_files(directory)
    header = parse_json(files["config.json"], directory / "config.json")
    read_config(header, directory / "config.json")
    check_manifest(header, files, directory)
    read_weights(files["model.safetensors"], directory / "model.safetensors", expected_weights(header))
    for name, data in added.items():
        write_atomic(directory / name, data)
    if MANIFEST in header:
        listed = {**header[MANIFEST], **{name: sha256(data) for name, data in added.items()}}
        header = {**header, MANIFEST: {name: listed[name] for name in MODEL_FILES if name in listed}}
    else:  # saved before the manifest: its weights are checked (check_manifest), the rest is taken as it is
        header = with_manifest(header, {**files, **added})
    write_atomic(directory / "config.json", to_json_bytes(header))


def committed_names(directory: Path) -> set[str]:
    """The files the manifest in ``directory`` names (our files, safe to replace); none without a manifest."""
    try:
        listed = json.loads((directory / "config.json").read_bytes()).get(MANIFEST)
    except (OSError, ValueError, AttributeError):
        return set()
    return set(listed) & set(MODEL_FILES) if isinstance(listed, dict) else set()


def load_model(directory: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load and validate a model directory; every problem is one ModelDirError saying what to do."""
    directory = Path(directory)
    return load_model_files(read_model_files(directory), directory, device)


def read_model_files(directory: str | Path) -> dict[str, bytes]:
    """The bytes of every file of a model directory that its manifest names (every model file there, for a
    model saved before the manifest), by name: for loading, or copying a model verbatim. A shipped model's name
    (``en-ner``) names its folder."""
    directory = model_path(directory)
    check_is_model_dir(directory)
    config = read_bytes(directory / "config.json")
    names = manifest_names(config)
    files = {"config.json": config}
    for name in MODEL_FILES:
        if name in names and name != "config.json" and (directory / name).is_file():
            files[name] = read_bytes(directory / name)
    return files


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ModelDirError(str(path), f"cannot be read ({error.strerror or error})", "check its permissions") from None


def manifest_names(config: bytes) -> set[str]:
    """The files config.json names; every model file when it names none (or cannot be read: load says why)."""
    try:
        listed = json.loads(config).get(MANIFEST)
    except (ValueError, AttributeError):
        listed = None
    return set(listed) | set(CHECKED_FILES) if isinstance(listed, dict) else set(MODEL_FILES)


def load_model_files(files: dict[str, bytes], source: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model from its files' bytes (as ``read_model_files`` gives them); ``source`` names it in errors."""
    source = Path(source)
    missing = [name for name in REQUIRED_FILES if not isinstance(files.get(name), bytes)]
    if missing:
        raise ModelDirError(str(source), f"missing {', '.join(missing)}", WHAT_A_MODEL_DIR_HOLDS)
    header = parse_json(files["config.json"], source / "config.json")
    config = read_config(header, source / "config.json")  # the format version first: it says how to read the rest
    vocab = Vocab.from_dict(parse_json(files["vocab.json"], source / "vocab.json"), str(source / "vocab.json"))
    files = check_manifest(header, files, source)  # after the files were found readable: a damaged one said so
    state = read_weights(files["model.safetensors"], source / "model.safetensors", expected_weights(header))
    state = widen_compact_tensors(upgrade_weight_names(state))
    model = build_model(config.model, vocab, state)  # a character LM is built from the weights it is saved in
    check_weights(state, model, source / "model.safetensors")
    model.load_state_dict(state)
    metrics = parse_json(files["metrics.json"], source / "metrics.json") if "metrics.json" in files else {}
    return LoadedModel(config, vocab, model.to(device).eval(), metrics)


def check_manifest(header: dict[str, Any], files: dict[str, bytes], source: Path) -> dict[str, bytes]:
    """The files config.json's manifest names, once vocab.json matches its checksum there (the weights' is
    checked when they are read, after a pickle or a damaged file has been named as such)."""
    listed = header.get(MANIFEST)
    if listed is None:
        return files  # saved before the manifest: the weights' checksum alone
    if not isinstance(listed, dict) or not all(isinstance(listed.get(name), str) for name in CHECKED_FILES):
        raise ModelDirError(
            str(source / "config.json"),
            f"'{MANIFEST}' does not give the checksum of {' and '.join(CHECKED_FILES)}",
            "restore config.json from the original model, or retrain it",
        )
    if sha256(files["vocab.json"]) != listed["vocab.json"]:
        raise torn(source / "vocab.json")
    return {name: data for name, data in files.items() if name in listed or name == "config.json"}


def expected_weights(header: dict[str, Any]) -> list[str]:
    """The weights' checksums config.json gives: in its manifest, and as ``weights_sha256``."""
    manifest = header.get(MANIFEST)
    listed = manifest if isinstance(manifest, dict) else {}
    return [s for s in (listed.get("model.safetensors"), header.get("weights_sha256")) if isinstance(s, str) and s]


def torn(path: Path) -> ModelDirError:
    return ModelDirError(
        str(path),
        "checksum does not match config.json: this file and config.json come from different saves "
        "(a save into the directory was stopped before it finished, or is still going on, or a file was replaced)",
        RESUME_FIX,
    )


def check_is_model_dir(directory: Path) -> None:
    if not directory.exists():
        raise ModelDirError(str(directory), "no such model directory", WHAT_A_MODEL_DIR_HOLDS + shipped_names_hint())
    if not directory.is_dir():
        raise ModelDirError(str(directory), "is a file, not a model directory", WHAT_A_MODEL_DIR_HOLDS)
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if "config.json" in missing and len(missing) < len(REQUIRED_FILES):
        raise ModelDirError(
            str(directory),
            "missing config.json, which a save writes last: the model was never completely saved "
            "(a save was stopped before it finished)",
            RESUME_FIX,
        )
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
# test F1 at two decimals (scripts/benchmarks/vector_rows.py, BENCHMARKS.md issue 15). Weights are trained and used in fp32.
COMPACT_TENSORS = ("word_embedding.weight",)
# Frozen character LMs (features/charlm.py) are stored in fp16 too: training rounds them to fp16 before using
# them, so the stored LM is exactly the one the model was trained with. (The feature's trained projection is not
# one of them: it is kept in fp32 like every trained weight.)
COMPACT_PREFIXES = ("charlm.forward_lm.", "charlm.backward_lm.")


def compact_state(state: dict[str, torch.Tensor], config: Config) -> dict[str, torch.Tensor]:
    def compact(name: str, tensor: torch.Tensor) -> bool:
        if name.startswith(COMPACT_PREFIXES):
            return tensor.is_floating_point()
        return bool(config.vocab.vectors) and name in COMPACT_TENSORS

    return {name: t.half() if compact(name, t) else t for name, t in state.items()}


def widen_compact_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    def compact(name: str) -> bool:
        return name in COMPACT_TENSORS or name.startswith(COMPACT_PREFIXES)

    return {name: t.float() if compact(name) and t.dtype == torch.float16 else t for name, t in state.items()}


def read_weights(data: bytes, path: Path, expected_sha256: list[str] | str | None) -> dict[str, torch.Tensor]:
    """The tensors of ``data``, once it is known to be no pickle and to have the checksum config.json gives."""
    if data.startswith(PICKLE_SIGNATURES):
        raise ModelDirError(
            str(path),
            "is a pickle or torch.save archive, not safetensors; refusing to load it",
            "pickles can run code: only load models saved by tagger",
        )
    expected = [expected_sha256] if isinstance(expected_sha256, str) else expected_sha256 or []
    try:
        state = load(data)
    except (SafetensorError, ValueError, OSError) as error:
        raise ModelDirError(
            str(path), f"corrupt model file ({error})", "it was truncated or damaged; restore or retrain the model"
        ) from None
    if any(sha256(data) != sha for sha in expected):
        raise torn(path)  # whole safetensors, but not the weights config.json was saved with
    return state


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
