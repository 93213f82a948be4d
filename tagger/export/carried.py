"""A model directory's own export (``portable.files.CARRIED_FILES``: model.onnx and onnx.json beside the weights),
written at the end of training. Loading runs it on onnxruntime where that is installed and the caller leaves the
precision to us (``tagging.runtime_choice``): onnxruntime tags a sentence-level model faster than PyTorch does.

It is int8 where int8 tags the dev corpus as the model does (its score within ``MAX_SCORE_CHANGE``, at least
``MIN_TAGS_EQUAL`` of its words tagged alike), else fp32, whose emissions match PyTorch's within the export's
tolerance; both are checked on dev, and what the check found is kept in onnx.json (``checked_on_dev``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tagger.config import Config
from tagger.corpus import Sentence
from tagger.export.onnx_export import FP32_TOLERANCE, BuiltExport, build_export, compare, unexportable_feature
from tagger.portable.files import CARRIED_HEADER, ONNX_FILE, exported_from_files, to_json_bytes
from tagger.serialization import add_model_files, parse_json, read_config, read_model_files
from tagger.tagging.base import TaggerBase
from tagger.tagging.onnx_tagger import PortableTagger
from tagger.tagging.torch_tagger import Tagger

MAX_SCORE_CHANGE = 0.001  # 0.1 points of dev F1 (accuracy for labels): issue 27's bound for int8 by default
MIN_TAGS_EQUAL = 0.995  # of dev's words tagged as PyTorch fp32 tags them


@dataclass(frozen=True)
class CarriedExport:
    """What ``carry_export`` did: the precision carried ("" for none) and one line saying what and why."""

    precision: str
    line: str


def why_not_carried(config: Config) -> str | None:
    """Why a model gets no export of its own, None when it gets one."""
    if config.model.document_context:
        # measured: the shipped en-ner on onnxruntime tagged at 0.31x (fp32) and 0.50x (int8) of PyTorch's speed
        return (
            "document context: onnxruntime tags it slower than PyTorch, which runs each layer over groups of "
            "sentences of similar length"
        )
    unexportable = unexportable_feature(config)
    if unexportable is not None:
        return f"its {unexportable[0]} input cannot be exported"
    if importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None:
        return "onnx and onnxruntime are not installed (pip install 'bilstm-tagger[onnx]')"
    return None


def carry_export(model_dir: Path, dev: Sequence[Sentence], threads: int | None = None) -> CarriedExport:
    """Add the model's own export to ``model_dir`` (int8 where dev allows it, else fp32), or say why not."""
    files = read_model_files(model_dir)
    config = read_config(parse_json(files["config.json"], model_dir / "config.json"), model_dir)
    reason = why_not_carried(config)
    if reason is not None:
        return CarriedExport("", f"no onnxruntime export carried: {reason}")
    reference = Tagger.from_files(files, model_dir, "cpu", "none", threads)
    expected = DevCheck.of(reference, dev)
    rejected = ""
    for precision in ("int8", "fp32") if dev else ("fp32",):  # int8 only where dev can vouch for it
        built = build_export(files, model_dir, "int8" if precision == "int8" else "none")
        portable = PortableTagger(exported_from_files(built.files(), model_dir), model_dir, "cpu", "auto", threads)
        if precision == "fp32":  # int8 is judged on dev alone; fp32 must also give PyTorch's emissions
            difference = compare(built, portable)[0]
            if difference > FP32_TOLERANCE:
                return CarriedExport(
                    "", f"no onnxruntime export carried: its fp32 emissions differ by {difference:.1e}"
                )
        got = DevCheck.of(portable, dev)
        equal, change = got.tags_equal(expected), abs(got.score - expected.score)
        if precision == "int8" and (change > MAX_SCORE_CHANGE or equal < MIN_TAGS_EQUAL):
            rejected = f" (int8 moved dev by {100 * change:.2f} points, {100 * equal:.2f}% of tags equal)"
            continue
        checked = {
            "sentences": len(dev),
            "words": got.words,
            "tags_equal": equal,
            "score": got.score if dev else None,
            "pytorch_fp32_score": expected.score if dev else None,
        }
        write_carried(model_dir, built, checked)
        found = (
            f"dev {100 * expected.score:.2f} → {100 * got.score:.2f}, {100 * equal:.2f}% of tags equal"
            if dev
            else "no dev corpus to check it on"
        )
        return CarriedExport(
            precision,
            f"carries its {precision} onnxruntime export ({found}){rejected}: used where onnxruntime is installed",
        )
    raise AssertionError("the fp32 export is carried when int8 is not")


@dataclass(frozen=True)
class DevCheck:
    """A tagger's score and tags on the dev corpus (none: score 0, no tags)."""

    score: float
    tags: list[list[str]]

    @classmethod
    def of(cls, tagger: TaggerBase, dev: Sequence[Sentence]) -> DevCheck:
        if not dev:
            return cls(0.0, [])
        evaluation, tags = tagger.evaluate(dev)
        return cls(evaluation.score, tags)

    @property
    def words(self) -> int:
        return sum(len(tags) for tags in self.tags)

    def tags_equal(self, other: DevCheck) -> float:
        """The share of words this check tagged as ``other`` did (1.0 with no words)."""
        same = sum(a == b for ours, theirs in zip(self.tags, other.tags) for a, b in zip(ours, theirs))
        return same / self.words if self.words else 1.0


def write_carried(model_dir: Path, built: BuiltExport, checked: dict[str, Any]) -> None:
    """The export's network and its header (with the dev check) into the model's manifest."""
    header = {**built.header, "checked_on_dev": checked}
    add_model_files(model_dir, {ONNX_FILE: built.onnx_bytes, CARRIED_HEADER: to_json_bytes(header)})
