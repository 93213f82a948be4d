"""The exported model directory, as ``tagger export`` writes it and the portable tagger reads it.

    model.onnx    the network: input features -> per-word emissions (dynamic batch and length axes)
    vocab.json    words, characters and labels, as in a model directory
    config.json   written last: format, versions, the onnx file's SHA-256 and inputs, the decoding scores,
                  the training configuration
    metrics.json  and README.md, copied from the model directory when it has them

A PyTorch model directory may carry its own export (``CARRIED_FILES``): the same model.onnx, and the export's
config.json as onnx.json, both named in the model's manifest; loading then runs it on onnxruntime where that is
installed (``tagging.runtime_choice``). Training writes it (``tagger.export.carried``).

Everything another runtime (C#, Java, JavaScript) needs is in these files: the inputs are described in docs/onnx.md
(each input feature's with the feature, in ``tagger.feature_specs``; the model's below), the decoding scores are
plain JSON. No torch here: this module is imported by the portable tagger.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tagger.atomic import write_atomic
from tagger.config import Config, ModelConfig
from tagger.errors import ConfigError, ModelDirError, TaggerError
from tagger.feature_specs import PER_WORD, ExportableSpec, GraphInput, model_features
from tagger.version import __version__
from tagger.vocab import Vocab

EXPORT_FORMAT = "tagger-onnx"  # config.json's "format", and the ONNX model's metadata "tagger_format"
EXPORT_FORMAT_VERSION = 1
ONNX_FILE = "model.onnx"
REQUIRED_FILES = ("config.json", "vocab.json", ONNX_FILE)
OPTIONAL_FILES = ("metrics.json", "README.md")
EXPORT_FILES = (ONNX_FILE, "vocab.json", *OPTIONAL_FILES, "config.json")  # in the order they are written
WHAT_AN_EXPORT_HOLDS = (
    "an exported model directory holds config.json, vocab.json and model.onnx, as written by `tagger export`"
)
PRECISIONS = ("fp32", "int8")
CARRIED_HEADER = "onnx.json"  # a model directory's own export: its config.json under this name, beside model.onnx
CARRIED_FILES = (ONNX_FILE, CARRIED_HEADER)
MODEL_MANIFEST = "files"  # a model directory's config.json: every other file's SHA-256 (tagger.serialization)
DECODING_METHODS = ("argmax", "constrained", "crf")

# The network's inputs beyond its input features' (int64), and its output
LENGTHS = "lengths"  # (batch_size,) words per sentence, each at least 1
CONTEXT_INDEX = "context_index"  # (batch_size, seq_len) one id per (document, normalised word) of the batch, 0 padding
EMISSIONS = "emissions"  # the one output: (batch_size, seq_len, num_labels) float32


def graph_inputs(config: ModelConfig) -> list[GraphInput]:
    """The network's inputs for a model configuration, in the order the graph takes them: each input feature's, in
    the order of the features, then the sentences' lengths and, with document context, the context ids."""
    inputs = [
        graph_input
        for spec in model_features(config)
        if issubclass(spec, ExportableSpec)
        for graph_input in spec.graph_inputs
    ]
    inputs.append(GraphInput(LENGTHS, ("batch",)))
    if config.document_context:
        inputs.append(GraphInput(CONTEXT_INDEX, PER_WORD))
    return inputs


def input_names(config: ModelConfig) -> list[str]:
    """The names of ``graph_inputs(config)``."""
    return [graph_input.name for graph_input in graph_inputs(config)]


@dataclass(frozen=True)
class Decoding:
    """How emissions become tags: ``argmax`` (plain labels), ``constrained`` (softmax head: Viterbi over the log
    probabilities with the scheme's transitions) or ``crf`` (Viterbi and posteriors with the learned scores).
    ``start``, ``transitions`` (from -> to) and ``end`` are additive scores: learned plus constraints (-1e4 where
    the scheme forbids), exactly as the PyTorch model adds them; empty for argmax."""

    method: str
    start: list[float]
    transitions: list[list[float]]
    end: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "start": self.start, "transitions": self.transitions, "end": self.end}


@dataclass(frozen=True)
class ExportedModel:
    """An exported directory, read and checked: everything but the network's session."""

    config: Config
    vocab: Vocab
    decoding: Decoding
    header: dict[str, Any]
    onnx_bytes: bytes
    metrics: dict[str, Any]

    @property
    def precision(self) -> str:
        return self.header["onnx"]["precision"]

    @property
    def inputs(self) -> list[str]:
        return list(self.header["onnx"]["inputs"])


def to_json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def carries_export(directory: str | Path) -> bool:
    """Whether a model directory holds its own export (``CARRIED_FILES``) beside its weights."""
    directory = Path(directory)
    return (directory / "model.safetensors").is_file() and all((directory / name).is_file() for name in CARRIED_FILES)


def has_carried_files(files: dict[str, bytes]) -> bool:
    """Whether a model directory's files by name include the export it carries."""
    return all(name in files for name in CARRIED_FILES)


def read_carried_export(directory: str | Path) -> ExportedModel:
    """A model directory's own export, read and checked without PyTorch (``carried_from_files``)."""
    directory = Path(directory)
    names = ("config.json", "vocab.json", "metrics.json", *CARRIED_FILES)
    files = {name: (directory / name).read_bytes() for name in names if (directory / name).is_file()}
    return carried_from_files(files, directory)


def carried_from_files(files: dict[str, bytes], source: str | Path) -> ExportedModel:
    """The export a model directory carries, from the directory's files by name: both carried files named with
    their checksums in the model's manifest, and exported from the weights the manifest names. One
    ``ModelDirError`` otherwise, saying how to go on."""
    source = Path(source)
    fix = f"delete {' and '.join(CARRIED_FILES)} from the model directory, which then tags on PyTorch"
    model_header = parse_json(files["config.json"], source / "config.json")
    listed = model_header.get(MODEL_MANIFEST) if isinstance(model_header, dict) else None
    for name in CARRIED_FILES:
        if not isinstance(listed, dict) or listed.get(name) != hashlib.sha256(files[name]).hexdigest():
            raise ModelDirError(str(source / name), "is not the model's: config.json does not name its checksum", fix)
    export_files = {
        "config.json": files[CARRIED_HEADER],
        "vocab.json": files["vocab.json"],
        ONNX_FILE: files[ONNX_FILE],
    }
    if "metrics.json" in files:
        export_files["metrics.json"] = files["metrics.json"]
    exported = exported_from_files(export_files, source)
    if exported.header.get("source", {}).get("weights_sha256") != model_header.get("weights_sha256"):
        raise ModelDirError(str(source / CARRIED_HEADER), "was exported from other weights than the model's", fix)
    return exported


def is_exported_dir(directory: str | Path) -> bool:
    """Whether ``directory`` looks like an export (holds model.onnx) rather than a PyTorch model directory: the
    portable tagger then reads it and says what is wrong with it, if anything."""
    directory = Path(directory)
    return (directory / ONNX_FILE).is_file() and not (directory / "model.safetensors").is_file()


def read_exported(directory: str | Path) -> ExportedModel:
    """Read and check an exported directory; every problem is one ModelDirError saying what to do."""
    return exported_from_files(read_export_files(directory), directory)


def read_export_files(directory: str | Path) -> dict[str, bytes]:
    """The bytes of every file of an exported directory, by name (to load it, or to copy it verbatim)."""
    directory = Path(directory)
    if not directory.is_dir():
        problem = "is a file, not a model directory" if directory.exists() else "no such model directory"
        raise ModelDirError(str(directory), problem, WHAT_AN_EXPORT_HOLDS)
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise ModelDirError(str(directory), f"missing {', '.join(missing)}", WHAT_AN_EXPORT_HOLDS)
    return {name: (directory / name).read_bytes() for name in EXPORT_FILES if (directory / name).is_file()}


def write_export_files(directory: str | Path, files: dict[str, bytes]) -> None:
    """Write an export's files (from ``read_export_files``) into ``directory``, each atomically, config.json
    (which holds the network's checksum) last."""
    for name in EXPORT_FILES:
        if name in files:
            write_atomic(Path(directory) / name, files[name])


def exported_from_files(files: dict[str, bytes], source: str | Path) -> ExportedModel:
    """An export from its files' bytes, checked; ``source`` names them in errors."""
    source = Path(source)
    missing = [name for name in REQUIRED_FILES if not isinstance(files.get(name), bytes)]
    if missing:
        raise ModelDirError(str(source), f"missing {', '.join(missing)}", WHAT_AN_EXPORT_HOLDS)
    header = parse_json(files["config.json"], source / "config.json")
    check_header(header, source / "config.json")
    try:
        config = Config.from_dict(header["config"], "config")
    except ConfigError as error:
        raise ModelDirError(
            str(source / "config.json"), str(error), "export the model again with this tagger version"
        ) from None
    vocab = Vocab.from_dict(parse_json(files["vocab.json"], source / "vocab.json"), str(source / "vocab.json"))
    decoding = read_decoding(header, len(vocab.labels), source / "config.json")
    expected_inputs = input_names(config.model)
    if list(header["onnx"]["inputs"]) != expected_inputs:
        raise ModelDirError(
            str(source / "config.json"),
            f"lists the inputs {header['onnx']['inputs']}, but its model settings need {expected_inputs}",
            "config.json was edited; export the model again",
        )
    onnx_bytes = files[ONNX_FILE]
    if hashlib.sha256(onnx_bytes).hexdigest() != header["onnx"]["sha256"]:
        raise ModelDirError(
            str(source / ONNX_FILE),
            "damaged or replaced: its checksum does not match config.json",
            "export the model again with `tagger export`",
        )
    metrics = parse_json(files["metrics.json"], source / "metrics.json") if "metrics.json" in files else {}
    return ExportedModel(config, vocab, decoding, header, onnx_bytes, metrics)


def parse_json(data: bytes, path: Path) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelDirError(str(path), f"not valid JSON ({error})", "export the model again") from None


def check_header(header: Any, path: Path) -> None:
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise ModelDirError(
            str(path), f'is not the config of an exported model (no "format": "{EXPORT_FORMAT}")', WHAT_AN_EXPORT_HOLDS
        )
    version = header.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= EXPORT_FORMAT_VERSION:
        raise ModelDirError(
            str(path),
            f"export format_version {version!r} is not supported by tagger {__version__} "
            f"(reads 1..{EXPORT_FORMAT_VERSION})",
            "upgrade tagger, or export the model with this version",
        )
    onnx = header.get("onnx")
    if (
        not isinstance(onnx, dict)
        or not isinstance(onnx.get("sha256"), str)
        or onnx.get("precision") not in PRECISIONS
        or not isinstance(onnx.get("inputs"), list)
        or not isinstance(header.get("config"), dict)
    ):
        raise ModelDirError(
            str(path), "is incomplete (onnx.sha256, onnx.precision, onnx.inputs, config)", "export the model again"
        )


def read_decoding(header: dict[str, Any], num_labels: int, path: Path) -> Decoding:
    data: Any = header.get("decoding")  # any JSON value: its shape is checked by reading it
    try:
        decoding = Decoding(
            str(data["method"]),
            [float(x) for x in data["start"]],
            [[float(x) for x in row] for row in data["transitions"]],
            [float(x) for x in data["end"]],
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ModelDirError(
            str(path), f"decoding scores are incomplete or malformed ({error!r})", "export again"
        ) from None
    sizes = (len(decoding.start), len(decoding.transitions), len(decoding.end), *map(len, decoding.transitions))
    if decoding.method not in DECODING_METHODS or (decoding.method != "argmax" and set(sizes) != {num_labels}):
        raise ModelDirError(
            str(path),
            f"decoding {decoding.method!r} with scores for {sizes[:3]} labels does not fit the {num_labels} labels",
            "config.json and vocab.json must come from the same export",
        )
    return decoding


def refuse(path: Path, problem: str) -> TaggerError:
    """The error for a model.onnx that is not the network this export describes."""
    return ModelDirError(str(path), problem, "export the model again with `tagger export`")
