"""``export_model``: a trained model directory -> an exported directory (ONNX network + JSON) that the portable
tagger (``tagger.portable``) runs with onnxruntime, and that other runtimes can load (docs/onnx.md).

The network is traced once with PyTorch's TorchScript-based ONNX exporter on a small batch made from the model's
own vocabulary, with every axis dynamic, checked with ``onnx.checker``, optionally quantised to int8 by
onnxruntime's dynamic quantisation, and finally run side by side with the PyTorch model on that batch: an export
whose fp32 emissions differ from PyTorch's is never written as done.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tagger.atomic import check_output_folder, write_atomic
from tagger.batching import build_batch, encode_sentences
from tagger.config import Config
from tagger.decoding import TransitionMask
from tagger.errors import ConfigError, setting
from tagger.export.network import ExportableNetwork
from tagger.feature_specs import PER_WORD, GraphInput, model_features
from tagger.model import BiLSTMTagger
from tagger.portable.encoding import encode_batch
from tagger.portable.files import (
    EMISSIONS,
    EXPORT_FORMAT,
    EXPORT_FORMAT_VERSION,
    ONNX_FILE,
    OPTIONAL_FILES,
    Decoding,
    graph_inputs,
    to_json_bytes,
)
from tagger.serialization import LoadedModel, load_model_files, parse_json, read_config, read_model_files
from tagger.tagging.onnx_tagger import PortableTagger
from tagger.tagging.torch_tagger import Tagger
from tagger.version import __version__
from tagger.vocab import Vocab

EXPORT_TARGETS = ("onnx",)
EXPORT_QUANTIZE = ("none", "int8")
DEFAULT_OPSET = 17  # ScatterElements with reduction="add" (document context) needs 16
# int8: the weights of the recurrent and linear layers, as PyTorch's dynamic quantisation (tagger.model.quantize)
QUANTIZED_OPS = ("LSTM", "MatMul", "Gemm")
FP32_TOLERANCE = 1e-3  # largest emission difference from PyTorch an fp32 export may show on the check batch
CHECK_SENTENCES = 24
TRACED_SENTENCES = 3


@dataclass(frozen=True)
class ExportResult:
    """What ``export_model`` wrote and how its network compared with PyTorch's on the check batch."""

    out_dir: Path
    precision: str
    opset: int
    inputs: list[str]
    files: dict[str, int]  # file name -> size in bytes
    check_sentences: int
    check_words: int
    max_difference: float  # largest |emission ONNX - emission PyTorch| on the check batch
    tags_agreement: float  # share of the check batch's words tagged alike by onnxruntime and PyTorch


def import_onnx() -> Any:
    try:
        import onnx
        import onnxruntime  # noqa: F401 (needed to quantise and check the export)
    except ImportError:
        raise ConfigError("exporting to ONNX needs onnx and onnxruntime: pip install 'bilstm-tagger[onnx]'") from None
    return onnx


def export_model(
    model_dir: str | Path,
    out_dir: str | Path,
    target: str = "onnx",
    quantize: str = "none",
    opset: int = DEFAULT_OPSET,
    overwrite: bool = False,
) -> ExportResult:
    """Export the model in ``model_dir`` into ``out_dir``: ``target`` onnx, ``quantize`` none (fp32) or int8."""
    if target not in EXPORT_TARGETS:
        raise ConfigError(f"{setting('target_format', repr(target))}: expected one of {', '.join(EXPORT_TARGETS)}")
    if quantize not in EXPORT_QUANTIZE:
        raise ConfigError(f"{setting('quantize', repr(quantize))}: expected one of {', '.join(EXPORT_QUANTIZE)}")
    if opset < 16:
        raise ConfigError(f"`opset={opset}`: expected 16 or more (ScatterElements with reduction)")
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    check_out_dir(out_dir, model_dir, overwrite)
    files = read_model_files(model_dir)
    check_exportable(read_config(parse_json(files["config.json"], model_dir / "config.json"), model_dir), model_dir)
    built = build_export(files, model_dir, quantize, opset)
    written = built.files()
    for name, data in written.items():
        write_atomic(out_dir / name, data)

    difference, agreement, words = compare(built, PortableTagger.load(out_dir, device="cpu"))
    if quantize == "none" and difference > FP32_TOLERANCE:
        (out_dir / "config.json").unlink()  # the commit file: without it the folder is no export to load
        raise fp32_mismatch(difference)
    return ExportResult(
        out_dir,
        built.precision,
        opset,
        built.inputs,
        {name: len(data) for name, data in written.items()},
        len(built.sentences),
        words,
        difference,
        agreement,
    )


@dataclass(frozen=True)
class BuiltExport:
    """An export in memory: the network's ONNX bytes, the header that describes them (an export's config.json),
    the model it came from and the check batch it is compared on."""

    loaded: LoadedModel
    source_files: dict[str, bytes]  # the model directory's files
    onnx_bytes: bytes
    header: dict[str, Any]
    sentences: list[list[str]]
    documents: list[int]

    @property
    def precision(self) -> str:
        return str(self.header["onnx"]["precision"])

    @property
    def inputs(self) -> list[str]:
        return list(self.header["onnx"]["inputs"])

    def files(self) -> dict[str, bytes]:
        """The export's files by name, in the order they are written (config.json, the commit file, last)."""
        written = {ONNX_FILE: self.onnx_bytes, "vocab.json": self.source_files["vocab.json"]}
        written.update({name: self.source_files[name] for name in OPTIONAL_FILES if name in self.source_files})
        written["config.json"] = to_json_bytes(self.header)
        return written


def build_export(files: dict[str, bytes], model_dir: Path, quantize: str, opset: int = DEFAULT_OPSET) -> BuiltExport:
    """The network of a model directory's files traced to ONNX, checked, quantised when asked, and described."""
    loaded = load_model_files(files, model_dir, "cpu")
    onnx = import_onnx()

    network = ExportableNetwork(loaded.model)
    sentences, documents = check_batch(loaded.vocab)
    inputs = graph_inputs(loaded.config.model)
    names = [graph_input.name for graph_input in inputs]
    # traced on a few sentences, compared on all of them: shapes other than the traced ones must work too
    example = encode_batch(sentences[:TRACED_SENTENCES], documents[:TRACED_SENTENCES], loaded.vocab, names)
    proto = onnx.load_from_string(trace(network, example, inputs, opset))
    describe(proto, names, "fp32")
    onnx.checker.check_model(proto, full_check=True)
    if quantize == "int8":
        proto = quantize_int8(proto, onnx)
        describe(proto, names, "int8")
        onnx.checker.check_model(proto)
    onnx_bytes = proto.SerializeToString()

    source_header = json.loads(files["config.json"].decode("utf-8"))
    header: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "tagger_version": __version__,
        "exported_with": exporter_versions(onnx),
        "source": {
            "model_dir": str(model_dir),
            "weights_sha256": source_header.get("weights_sha256"),
            "tagger_version": source_header.get("tagger_version"),
            "parameters": sum(parameter.numel() for parameter in loaded.model.parameters()),
        },
        "onnx": {
            "file": ONNX_FILE,
            "sha256": hashlib.sha256(onnx_bytes).hexdigest(),
            "opset": opset,
            "precision": "int8" if quantize == "int8" else "fp32",
            "quantized_ops": list(QUANTIZED_OPS) if quantize == "int8" else [],
            "inputs": names,
            "outputs": [EMISSIONS],
        },
        "decoding": decoding_scores(loaded.model, loaded.vocab).to_dict(),
        "config": loaded.config.to_dict(),
    }
    return BuiltExport(loaded, files, onnx_bytes, header, sentences, documents)


def fp32_mismatch(difference: float) -> RuntimeError:
    return RuntimeError(
        f"the exported network's emissions differ from PyTorch's by {difference:.2e} (more than "
        f"{FP32_TOLERANCE:.0e}) on the check batch: a bug in the export of this model's settings"
    )


def check_exportable(config: Config, model_dir: Path) -> None:
    """Refused before the model is built (building it would load an encoder, which may not be installed): the first
    input feature that cannot be exported says why, in one line."""
    unexportable = unexportable_feature(config)
    if unexportable is not None:
        raise ConfigError(f"{model_dir} {unexportable[1]}")


def unexportable_feature(config: Config) -> tuple[str, str] | None:
    """The first input feature of ``config`` that cannot be exported, as (its name, why); None when all can."""
    for spec in model_features(config.model):
        refusal = spec.export_refusal(config.model)
        if refusal is not None:
            return spec.name, refusal
    return None


def check_out_dir(out_dir: Path, model_dir: Path, overwrite: bool) -> None:
    """Before the model is read: ``out_dir`` can be a folder of ours (a file in the way, a folder this process may
    not write, a model directory or, without ``overwrite``, a folder that holds files are refused)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir} is a file; an export is a folder of files: choose another {setting('out_dir')}")
    check_output_folder(out_dir, "out_dir")
    if out_dir.resolve() == model_dir.resolve() or (out_dir / "model.safetensors").exists():
        raise ConfigError(f"{out_dir} holds a PyTorch model; export into another {setting('out_dir')}")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise ConfigError(
            f"{out_dir} is not empty; pass {setting('overwrite', True)} to replace an export there, or "
            f"choose another {setting('out_dir')}"
        )


def check_batch(vocab: Vocab) -> tuple[list[list[str]], list[int]]:
    """Sentences of varied lengths from the model's own words (capitalised, with digits, unknown), in three
    documents with repeated words: the batch the network is traced with and compared on."""
    rng = random.Random(0)
    known = [w for w in vocab.words[2:] if w] or ["word"]
    extra = ["Xq", "ZZZ", "3.14", "--", "McDonald", "unknownish"]
    sentences = []
    for index in range(CHECK_SENTENCES):
        length = 1 + (index * 7) % 23
        words = []
        for _ in range(length):
            word = rng.choice(known) if rng.random() < 0.85 else rng.choice(extra)
            words.append(word.capitalize() if rng.random() < 0.3 else word)
        sentences.append(words)
    return sentences, [index // 8 for index in range(CHECK_SENTENCES)]


def trace(network: ExportableNetwork, example: dict[str, np.ndarray], inputs: list[GraphInput], opset: int) -> bytes:
    """The network as ONNX bytes, every axis dynamic (legacy TorchScript exporter: ONNX LSTM nodes, no onnxscript)."""
    names = [graph_input.name for graph_input in inputs]
    args = tuple(torch.from_numpy(example[name]) for name in names)
    axes = {graph_input.name: dict(enumerate(graph_input.axes)) for graph_input in inputs}
    axes[EMISSIONS] = dict(enumerate(PER_WORD))
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice, and LSTM batch_first notes
        torch.onnx.export(
            network,
            args,
            buffer,  # type: ignore[arg-type]  # typed as a path, but the exporter writes into a file object too
            input_names=names,
            output_names=[EMISSIONS],
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    return buffer.getvalue()


def describe(proto: Any, names: list[str], precision: str) -> None:
    """Metadata that marks the file as this tagger's export (the portable tagger refuses an ONNX file without it)."""
    proto.producer_name, proto.producer_version = "tagger", __version__
    proto.doc_string = "tagger BiLSTM network: input features -> per-word emissions (see docs/onnx.md)"
    del proto.metadata_props[:]
    for key, value in (
        ("tagger_format", EXPORT_FORMAT),
        ("tagger_version", __version__),
        ("inputs", ",".join(names)),
        ("precision", precision),
    ):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def quantize_int8(proto: Any, onnx: Any) -> Any:
    """onnxruntime's dynamic quantisation: int8 weights, activations quantised per batch at run time.

    Weights in 7 bits (``reduce_range``), as onnxruntime already quantises an LSTM's: on a CPU without VNNI (AVX2,
    AVX-512 before Cascade Lake) its uint8 x int8 products go through vpmaddubsw, which adds pairs into int16 and
    saturates on full-range weights. The export's tags would then depend on the CPU that runs it (on an AMD Zen 3,
    up to 2.1 emission difference and most tags of a test model changed); 7-bit weights give every CPU the same
    integers (docs/onnx.md)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "fp32.onnx", Path(folder) / "int8.onnx"
        source.write_bytes(proto.SerializeToString())
        with warnings.catch_warnings(), quiet_root_logger():
            warnings.simplefilter("ignore")
            quantize_dynamic(
                source, target, op_types_to_quantize=list(QUANTIZED_OPS), weight_type=QuantType.QInt8, reduce_range=True
            )
        return onnx.load_from_string(target.read_bytes())


@contextmanager
def quiet_root_logger() -> Iterator[None]:
    """onnxruntime's quantiser logs advice to the root logger (pre-processing): not for a user of `tagger export`."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def decoding_scores(model: BiLSTMTagger, vocab: Vocab) -> Decoding:
    """The additive scores the PyTorch tagger decodes with: the CRF's learned scores plus its constraints, the
    scheme's constraints for a softmax head over span tags, none for plain labels."""
    as_list = lambda tensor: tensor.detach().float().cpu().tolist()
    if model.crf is not None:
        crf = model.crf
        return Decoding(
            "crf",
            as_list(crf.start + crf.constraint_start),
            as_list(crf.transitions + crf.constraint_middle),
            as_list(crf.end + crf.constraint_end),
        )
    if vocab.task == "spans":
        mask = TransitionMask(vocab.labels, vocab.scheme)
        return Decoding("constrained", as_list(mask.start), as_list(mask.middle), as_list(mask.end))
    return Decoding("argmax", [], [], [])


def exporter_versions(onnx: Any) -> dict[str, str]:
    import onnxruntime

    return {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def compare(built: BuiltExport, portable: PortableTagger) -> tuple[float, float, int]:
    """The export, as a user will read it (``portable``), run beside PyTorch on the check batch: the largest
    emission difference and the share of words tagged alike."""
    loaded, sentences, documents = built.loaded, built.sentences, built.documents
    features = loaded.model.features
    batch = build_batch(
        encode_sentences(sentences, features, loaded.vocab, documents=documents),
        features,
        loaded.config.model.document_context,
    )
    with torch.inference_mode():
        expected = loaded.model.eval()(batch).float().numpy()
    got = portable.emissions(encode_batch(sentences, documents, loaded.vocab, portable.input_names))
    mask = batch.mask.numpy()
    difference = float(np.abs(expected - got)[mask].max())
    reference = Tagger(loaded.model, loaded.vocab, loaded.config, "cpu", loaded.metrics, quantize="none")
    tags_torch: Sequence[Sequence[object]] = reference.tag(sentences, documents=documents)
    tags_portable: Sequence[Sequence[object]] = portable.tag(sentences, documents=documents)
    words = sum(len(s) for s in sentences)
    same = sum(a == b for ours, theirs in zip(tags_portable, tags_torch) for a, b in zip(ours, theirs))
    return difference, same / words, words
