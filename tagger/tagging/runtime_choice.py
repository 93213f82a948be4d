"""Which runtime runs a model, decided in one place: a directory written by ``tagger export`` runs on onnxruntime
(``PortableTagger``, no torch), any other model directory on PyTorch.

``Tagger.load`` and ``load_tagger`` both go through ``load_on_its_runtime``, each passing how it loads a model
directory on PyTorch: ``Tagger.load`` has the PyTorch tagger already, ``load_tagger`` imports it only for a model
directory. So this module never imports the PyTorch tagger, and neither it nor ``PortableTagger`` imports torch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tagger.portable.files import is_exported_dir
from tagger.tagging.base import TaggerBase
from tagger.tagging.onnx_tagger import PortableTagger

# (directory, device, quantize, threads) -> the model directory's tagger on PyTorch
LoadOnPyTorch = Callable[[str | Path, str, str, int | None], TaggerBase]


def load_on_its_runtime(
    directory: str | Path, device: str, quantize: str, threads: int | None, on_pytorch: LoadOnPyTorch
) -> TaggerBase:
    """The tagger of ``directory``: an export on onnxruntime, a model directory by ``on_pytorch``.

    ``threads``: the CPU threads it may use; None leaves the count to the runtime's policy (onnxruntime:
    OMP_NUM_THREADS when set, else its own; PyTorch: ``tagger.threads.set_tagging_threads``)."""
    if is_exported_dir(directory):
        return PortableTagger.load(directory, device, quantize, threads)
    return on_pytorch(directory, device, quantize, threads)
