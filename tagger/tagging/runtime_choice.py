"""Which runtime runs a model, decided in one place. A directory written by ``tagger export`` (or its files' bytes,
as a spaCy pipeline carries them) runs on onnxruntime (``PortableTagger``, no torch). A model directory runs on
PyTorch, unless it carries its own export (``portable.files.CARRIED_FILES``, written by training) and the caller
leaves the precision to us (``quantize="auto"``) on a CPU where onnxruntime is installed: that export then runs on
onnxruntime, which tags the default model faster than PyTorch does (BENCHMARKS.md, issue 27).

``Tagger.load`` and ``load_tagger`` both go through ``load_on_its_runtime``, each passing how it loads a model
directory on PyTorch: ``Tagger.load`` has the PyTorch tagger already, ``load_tagger`` imports it only for a model
directory, and whether there is a GPU (``HasGPU``: asked only where the device is left to us). So this module
never imports the PyTorch tagger, and neither it nor ``PortableTagger`` imports torch."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from tagger.portable.files import (
    ONNX_FILE,
    ExportedModel,
    carried_from_files,
    carries_export,
    has_carried_files,
    is_exported_dir,
    read_carried_export,
)
from tagger.shipped import model_path
from tagger.tagging.base import TaggerBase
from tagger.tagging.onnx_tagger import PortableTagger

# (directory, device, quantize, threads) -> the model directory's tagger on PyTorch
LoadOnPyTorch = Callable[[str | Path, str, str, int | None], TaggerBase]
# (files, source, device, quantize) -> the tagger of a model directory's files on PyTorch
FilesOnPyTorch = Callable[[dict[str, bytes], str | Path, str, str], TaggerBase]
# () -> whether PyTorch sees a CUDA GPU, where ``device="auto"`` puts a model directory
HasGPU = Callable[[], bool]


def load_on_its_runtime(
    directory: str | Path,
    device: str,
    quantize: str,
    threads: int | None,
    on_pytorch: LoadOnPyTorch,
    has_gpu: HasGPU,
) -> TaggerBase:
    """The tagger of ``directory``: an export, or the export a model directory carries where it may run (``runs_its
    export``), on onnxruntime; any other model directory by ``on_pytorch``.

    ``threads``: the CPU threads it may use; None leaves the count to the thread policy (``tagger.threads``)."""
    if is_exported_dir(directory):
        return PortableTagger.load(directory, device, quantize, threads)
    folder = model_path(directory)  # a shipped model's name, or the path
    if carries_export(folder) and runs_its_export(device, quantize, has_gpu):
        return carried_tagger(read_carried_export(folder), directory, threads)
    return on_pytorch(directory, device, quantize, threads)


def files_on_their_runtime(
    files: dict[str, bytes],
    source: str | Path,
    device: str,
    quantize: str,
    on_pytorch: FilesOnPyTorch,
    has_gpu: HasGPU,
) -> TaggerBase:
    """The tagger of a model's files by name (``loading.read_tagger_files``), as ``load_on_its_runtime`` chooses
    for a directory; ``source`` names them in errors."""
    if is_export_files(files):
        return PortableTagger.from_files(files, source, device, quantize)
    if has_carried_files(files) and runs_its_export(device, quantize, has_gpu):
        return carried_tagger(carried_from_files(files, source), source, None)
    return on_pytorch(files, source, device, quantize)


def is_export_files(files: dict[str, bytes]) -> bool:
    """Whether files by name are an export's (a network, no PyTorch weights) rather than a model directory's."""
    return ONNX_FILE in files and "model.safetensors" not in files


def runs_its_export(device: str, quantize: str, has_gpu: HasGPU) -> bool:
    """Whether a model directory that carries its export runs it: the precision left to us, on a CPU (asked for,
    or no CUDA GPU where the device is left to us), with onnxruntime installed. Anything else asked for (fp32 as
    trained, int8 or bf16 on PyTorch, a GPU) runs on PyTorch, as does every model where onnxruntime is missing."""
    if quantize != "auto" or importlib.util.find_spec("onnxruntime") is None:
        return False
    return device == "cpu" or (device == "auto" and not has_gpu())


def carried_tagger(exported: ExportedModel, source: str | Path, threads: int | None) -> PortableTagger:
    return PortableTagger(exported, source, "cpu", "auto", threads)
