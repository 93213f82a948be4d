"""What `tagger info` shows of a trained model directory, or of its export: card, scores, labels, sizes, settings.

A model directory is read and fully validated by ``serialization`` (which needs PyTorch), an export by the
portable reader (which does not), so a bad one fails here with the same one-line error as loading it for tagging
would.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tagger.config import PRESETS, Config, load_config
from tagger.dependencies import needs_pytorch
from tagger.portable import is_exported_dir, read_exported
from tagger.portable.files import carried_from_files, has_carried_files
from tagger.schemes import NO_SCHEME, Task, split_tag
from tagger.vocab import Vocab


@dataclass(frozen=True)
class ModelInfo:
    path: str
    format_version: int
    tagger_version: str  # the version that trained the model
    weights_sha256: str
    task: Task
    scheme: str  # scheme of the labels inside the model (output is IOB2): IOB2 | BIOES | none
    labels: list[str]
    entity_types: list[str]  # empty for a model of plain labels (POS)
    vocabulary_words: int  # including <pad> and <unk>
    vocabulary_chars: int
    parameters: int | None  # None: an export made before exports recorded it
    metrics: dict[str, Any]  # metrics.json as written by training; {} when the directory has none
    config: dict[str, Any]
    card: str | None  # README.md, None when the directory has none
    preset: str | None  # the preset whose model settings the model has; None: settings of its own
    runtime: str = "pytorch"  # pytorch (a model directory) or onnxruntime (an export, written by tagger export)
    precision: str = "fp32"  # an export's: fp32 or int8 (tagger export --quantize int8)
    export: dict[str, Any] | None = None  # an export's config.json but its configuration and decoding scores
    # a model directory's own export (onnx.json but its configuration and decoding scores, with its check on dev),
    # which loading runs on onnxruntime where that is installed; None when it carries none
    carried: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_model_info(directory: str | Path) -> ModelInfo:
    """A model directory's or an export's description; an export is read without PyTorch."""
    if is_exported_dir(directory):
        return read_export_info(directory)
    with needs_pytorch(directory):  # a model directory's weights are read with PyTorch
        from tagger.serialization import load_model_files, read_model_files

    files = read_model_files(directory)
    loaded = load_model_files(files, directory)
    header = json.loads(files["config.json"].decode("utf-8"))  # already validated by load_model_files
    vocab, model = loaded.vocab, loaded.model
    card = files.get("README.md")
    return ModelInfo(
        path=str(directory),
        format_version=header["format_version"],
        tagger_version=header.get("tagger_version", "?"),
        weights_sha256=header.get("weights_sha256", ""),
        **vocabulary_fields(vocab),
        parameters=sum(p.numel() for p in model.parameters()),
        metrics=loaded.metrics,
        config=loaded.config.to_dict(),
        card=card.decode("utf-8", errors="replace") if card is not None else None,
        preset=matching_preset(loaded.config),
        carried=carried_info(files, directory),
    )


def carried_info(files: dict[str, bytes], directory: str | Path) -> dict[str, Any] | None:
    """The export a model directory carries, checked as loading checks it; None when it carries none."""
    if not has_carried_files(files):
        return None
    header = carried_from_files(files, directory).header
    return {key: value for key, value in header.items() if key not in ("config", "decoding")}


def vocabulary_fields(vocab: Vocab) -> dict[str, Any]:
    """What ``ModelInfo`` says of a vocabulary, the same for a model directory and an export."""
    return {
        "task": vocab.task,
        "scheme": vocab.scheme,
        "labels": list(vocab.labels),
        "entity_types": entity_types(vocab.labels, vocab.scheme),
        "vocabulary_words": len(vocab.words),
        "vocabulary_chars": len(vocab.chars),
    }


def read_export_info(directory: str | Path) -> ModelInfo:
    """An export as ``tagger.portable`` reads and checks it (onnxruntime is not needed to describe it)."""
    exported = read_exported(directory)
    header, vocab = exported.header, exported.vocab
    source = header.get("source", {})
    card_path = Path(directory) / "README.md"
    return ModelInfo(
        path=str(directory),
        format_version=header["format_version"],
        tagger_version=source.get("tagger_version") or "?",
        weights_sha256=source.get("weights_sha256") or "",
        **vocabulary_fields(vocab),
        parameters=source.get("parameters"),
        metrics=exported.metrics,
        config=exported.config.to_dict(),
        card=card_path.read_text(encoding="utf-8", errors="replace") if card_path.is_file() else None,
        preset=matching_preset(exported.config),
        runtime="onnxruntime",
        precision=exported.precision,
        export={key: value for key, value in header.items() if key not in ("config", "decoding")},
    )


def matching_preset(config: Config) -> str | None:
    """The preset (``tagger train --preset``) whose model and vocabulary settings ``config`` has, if any: what the
    network is, whatever the training settings were."""
    for name in PRESETS:
        preset = load_config(None, [], name)
        if preset.model == config.model and preset.vocab == config.vocab:
            return name
    return None


def entity_types(labels: list[str] | tuple[str, ...], scheme: str) -> list[str]:
    if scheme == NO_SCHEME:
        return []
    return sorted({split_tag(label)[1] for label in labels if label != "O"})
