"""``PortableTagger``: an exported model (``tagger export``) run by onnxruntime, with numpy encoding and decoding.
No torch is imported on this path; the public methods are those of ``tagger.tagging.torch_tagger.Tagger``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tagger.errors import ConfigError, setting
from tagger.portable.decoding import Decoder
from tagger.portable.encoding import encode_batch
from tagger.portable.files import (
    EMISSIONS,
    EXPORT_FORMAT,
    ONNX_FILE,
    ExportedModel,
    exported_from_files,
    read_exported,
    refuse,
)
from tagger.portable.files import LENGTHS as LENGTHS_INPUT
from tagger.runtime import usable_cpus
from tagger.tagging.base import TaggerBase

QUANTIZE_MODES = ("auto", "none", "int8", "bf16")  # as tagger.model.QUANTIZE_MODES: what callers may ask for
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(
            "an exported model runs with onnxruntime, which is not installed: pip install onnxruntime "
            "(or pip install 'bilstm-tagger[onnx]')"
        ) from None
    return onnxruntime


class PortableTagger(TaggerBase):
    """Tags like ``tagger.tagging.torch_tagger.Tagger`` from an exported directory, on onnxruntime."""

    runtime_name = "onnxruntime"

    def __init__(
        self,
        exported: ExportedModel,
        source: str | Path,
        device: str = "auto",
        quantize: str = "auto",
        threads: int | None = None,
    ):
        super().__init__(exported.vocab, exported.config, exported.metrics)
        self.header, self.source = exported.header, Path(source)  # not the network's bytes: the session has them
        self.precision = exported.precision
        check_quantize(quantize, self.precision, self.source)
        self.quantize = "int8" if self.precision == "int8" else "none"  # as Tagger.quantize names it
        self.input_names = exported.inputs
        self.decoder = Decoder(exported.decoding)
        session_threads, self.batch_workers = onnx_threads(threads, device)
        self.session, self.device = open_session(exported, self.source, device, session_threads)
        if self.device != "cpu":
            self.batch_workers = 1

    @classmethod
    def load(
        cls, directory: str | Path, device: str = "auto", quantize: str = "auto", threads: int | None = None
    ) -> PortableTagger:
        """``quantize``: auto or none (the export's precision), or int8 when the export was quantised
        (``tagger export --quantize int8``);
        ``threads``: onnxruntime's intra-op threads, one batch at a time. By default, as on PyTorch, one batch per
        CPU this process may use, each on one thread (OMP_NUM_THREADS, when set, is the thread count instead)."""
        return cls(read_exported(directory), directory, device, quantize, threads)

    @classmethod
    def from_files(
        cls,
        files: dict[str, bytes],
        source: str | Path,
        device: str = "auto",
        quantize: str = "auto",
        threads: int | None = None,
    ) -> PortableTagger:
        """A tagger from the bytes of an export's files (``read_export_files``); ``source`` names them in errors."""
        return cls(exported_from_files(files, source), source, device, quantize, threads)

    @property
    def default_batch_size(self) -> int:
        """onnxruntime's int8 and fp32 CPU kernels tag fastest in batches of about 64 sentences (eng.testb, two
        batches at once on two cores: 158,967 words/s at 64 against 142,060 at 256; 32 and 128 in between); on a
        GPU, PyTorch's 256."""
        return 64 if self.device == "cpu" else super().default_batch_size

    def predict_batch(
        self, sentences: Sequence[Sequence[str]], documents: Sequence[int], scores: bool
    ) -> tuple[list[list[int]], list[list[float]] | None]:
        inputs = encode_batch(sentences, documents, self.vocab, self.input_names)
        emissions = self.emissions(inputs)
        lengths = inputs[LENGTHS_INPUT]
        mask = np.arange(emissions.shape[1])[None, :] < lengths[:, None]
        best, probabilities = self.decoder(emissions, mask, scores)
        return best.tolist(), probabilities.tolist() if scores and probabilities is not None else None

    def distributions_batch(
        self, sentences: Sequence[Sequence[str]], documents: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        inputs = encode_batch(sentences, documents, self.vocab, self.input_names)
        emissions = self.emissions(inputs)
        mask = np.arange(emissions.shape[1])[None, :] < inputs[LENGTHS_INPUT][:, None]
        return self.decoder.distributions(emissions, mask)

    def emissions(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """(batch_size, seq_len, num_labels) float32 emissions for the network's inputs."""
        return self.session.run([EMISSIONS], inputs)[0]


def check_quantize(quantize: str, precision: str, source: Path) -> None:
    """The precision is the export's: asking for int8 needs an int8 export; bf16 has no onnxruntime kernels here."""
    if quantize not in QUANTIZE_MODES:
        raise ConfigError(f"{setting('quantize', repr(quantize))}: expected one of {', '.join(QUANTIZE_MODES)}")
    if quantize == "bf16":
        raise ConfigError(
            f"{setting('quantize', 'bf16')} is for PyTorch models; {source} is exported and runs in its "
            f"export's precision ({precision}): use {setting('quantize', 'none')}"
        )
    if quantize == "int8" and precision != "int8":
        raise ConfigError(
            f"{setting('quantize', 'int8')}: {source} was exported in {precision}; int8 is chosen when exporting "
            "(tagger export MODEL --quantize int8)"
        )


def threads_from_environment() -> int:
    """OMP_NUM_THREADS when set to a number (onnxruntime does not read it itself), else 0: onnxruntime's default."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else 0


def onnx_threads(threads: int | None, device: str) -> tuple[int, int]:
    """(intra-op threads of the session, batches tagged at once), the thread policy of ``tagger.threads`` for
    onnxruntime: ``threads`` when given, one batch at a time; OMP_NUM_THREADS when set, likewise; else one batch per
    CPU, each on one thread. onnxruntime's threads split one batch's LSTM poorly: on two cores one batch on both
    threads tagged no faster than PyTorch, two one-thread batches at once (a session runs them concurrently and
    leaves the GIL while it computes) overlap each batch's Python (encoding, decoding) with the other's network."""
    if threads is not None:
        return threads, 1
    if "OMP_NUM_THREADS" in os.environ or device.startswith("cuda"):
        return threads_from_environment(), 1
    return 1, usable_cpus()


def open_session(exported: ExportedModel, source: Path, device: str, threads: int | None) -> tuple[Any, str]:
    """The onnxruntime session of the export's network, checked to be the network its config.json describes."""
    ort = import_onnxruntime()
    available = ort.get_available_providers()
    if device == "auto":
        device = "cuda" if PROVIDERS["cuda"] in available else "cpu"
    device = "cuda" if device.startswith("cuda") else device
    if device not in PROVIDERS:
        raise ConfigError(f"{setting('device', repr(device))}: expected auto, cpu or cuda")
    if PROVIDERS[device] not in available:
        raise ConfigError(
            f"{setting('device', 'cuda')}: this onnxruntime has no CUDA provider (it has {', '.join(available)}); "
            f"install onnxruntime-gpu, or use {setting('device', 'cpu')}"
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads_from_environment() if threads is None else threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: a refused file is reported once, as a ModelDirError
    onnx_path = source / ONNX_FILE
    try:
        session = ort.InferenceSession(
            exported.onnx_bytes,
            options,
            providers=[PROVIDERS[device]] + ([] if device == "cpu" else [PROVIDERS["cpu"]]),
        )
    except Exception as error:  # noqa: BLE001 (onnxruntime's own exception types: the file cannot be a model)
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise refuse(onnx_path, f"is not a valid ONNX model ({reason})") from None
    check_session(session, exported, onnx_path)
    return session, device


def check_session(session: Any, exported: ExportedModel, path: Path) -> None:
    """A valid ONNX model that is not this export's network (another model put in its place) is refused."""
    metadata = session.get_modelmeta().custom_metadata_map
    if metadata.get("tagger_format") != EXPORT_FORMAT:
        raise refuse(path, f"is an ONNX model, but not one exported by tagger (no tagger_format={EXPORT_FORMAT})")
    inputs = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    if inputs != exported.inputs or outputs != [EMISSIONS]:
        raise refuse(
            path,
            f"takes {inputs} and gives {outputs}, but config.json describes {exported.inputs} -> [{EMISSIONS!r}]",
        )
    width = session.get_outputs()[0].shape[-1]
    if isinstance(width, int) and width != len(exported.vocab.labels):
        raise refuse(path, f"scores {width} labels, but vocab.json has {len(exported.vocab.labels)}")
