"""Which runtime runs a model, decided in one place: a directory written by ``tagger export`` (or its files' bytes,
as a spaCy pipeline carries them) runs on onnxruntime (``PortableTagger``, no torch), any other model on PyTorch.

``Tagger.load`` and ``load_tagger`` both go through ``load_on_its_runtime``, each passing how it loads a model
directory on PyTorch: ``Tagger.load`` has the PyTorch tagger already, ``load_tagger`` imports it only for a model
directory. So this module never imports the PyTorch tagger, and neither it nor ``PortableTagger`` imports torch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tagger.portable.files import ONNX_FILE, is_exported_dir
from tagger.tagging.base import TaggerBase
from tagger.tagging.onnx_tagger import PortableTagger

# (directory, device, quantize, threads) -> the model directory's tagger on PyTorch
LoadOnPyTorch = Callable[[str | Path, str, str, int | None], TaggerBase]
# (files, source, device, quantize) -> the tagger of a model directory's files on PyTorch
FilesOnPyTorch = Callable[[dict[str, bytes], str | Path, str, str], TaggerBase]


def load_on_its_runtime(
    directory: str | Path, device: str, quantize: str, threads: int | None, on_pytorch: LoadOnPyTorch
) -> TaggerBase:
    """The tagger of ``directory``: an export on onnxruntime, a model directory by ``on_pytorch``.

    ``threads``: the CPU threads it may use; None leaves the count to the runtime's policy (onnxruntime:
    OMP_NUM_THREADS when set, else its own; PyTorch: ``tagger.threads.set_tagging_threads``)."""
    if is_exported_dir(directory):
        return PortableTagger.load(directory, device, quantize, threads)
    return on_pytorch(directory, device, quantize, threads)


def files_on_their_runtime(
    files: dict[str, bytes], source: str | Path, device: str, quantize: str, on_pytorch: FilesOnPyTorch
) -> TaggerBase:
    """The tagger of a model's files by name (``loading.read_tagger_files``): an export's on onnxruntime, a model
    directory's by ``on_pytorch``; ``source`` names them in errors."""
    if ONNX_FILE in files:
        return PortableTagger.from_files(files, source, device, quantize)
    return on_pytorch(files, source, device, quantize)
