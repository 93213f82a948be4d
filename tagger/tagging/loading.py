"""A model with the runtime it needs, for callers that may run without PyTorch.

``load_tagger`` takes the one runtime choice (``runtime_choice``): an export runs on onnxruntime (``PortableTagger``,
no torch), a model directory on PyTorch (``tagger.tagging.torch_tagger.Tagger``), which is imported only then. So a
deployment without PyTorch loads an export through here, and a PyTorch model there is refused with one line saying
what to install (``tagger.dependencies``), never an ImportError's traceback. The command line, batch annotation, the
HTTP service, the spaCy component and ``evaluation.model.evaluate_model`` load models this way.
"""

from __future__ import annotations

from pathlib import Path

from tagger.dependencies import needs_pytorch
from tagger.portable.files import is_exported_dir, read_export_files, write_export_files
from tagger.tagging.base import TaggerBase
from tagger.tagging.onnx_tagger import PROVIDERS, import_onnxruntime
from tagger.tagging.runtime_choice import files_on_their_runtime, is_export_files, load_on_its_runtime


def load_tagger(
    directory: str | Path, device: str = "auto", quantize: str = "auto", threads: int | None = None
) -> TaggerBase:
    """The tagger of ``directory``: an export on onnxruntime, a model directory on PyTorch (imported here).

    ``threads``: the CPU threads it may use (worker processes share the cores); default: onnxruntime's own
    (OMP_NUM_THREADS when set, else every core), PyTorch's as ``Tagger.from_files`` says (this process's CPUs, fewer
    while other processes keep some busy)."""
    return load_on_its_runtime(directory, device, quantize, threads, load_on_pytorch, pytorch_has_gpu)


def load_on_pytorch(directory: str | Path, device: str, quantize: str, threads: int | None) -> TaggerBase:
    """A model directory's tagger on PyTorch, which is imported here: where it is not installed, one line saying
    what to install."""
    with needs_pytorch(directory):
        from tagger.tagging.torch_tagger import Tagger
    return Tagger.from_directory(directory, device, quantize, threads)


def pytorch_has_gpu() -> bool:
    """Whether PyTorch, where it is installed, sees a CUDA GPU."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def gpu_available(directory: str | Path) -> bool:
    """Whether ``device="auto"`` puts the model of ``directory`` on a GPU: onnxruntime's CUDA provider for an
    export, PyTorch's CUDA for a model directory."""
    if is_exported_dir(directory):
        return PROVIDERS["cuda"] in import_onnxruntime().get_available_providers()
    with needs_pytorch(directory):
        import torch
    return torch.cuda.is_available()


def read_tagger_files(directory: str | Path) -> dict[str, bytes]:
    """The bytes of a model directory's or an export's files, by name, to load (``tagger_from_files``) or to copy
    verbatim (``write_tagger_files``), as the spaCy component carries a model inside a pipeline."""
    if is_exported_dir(directory):
        return read_export_files(directory)
    with needs_pytorch(directory):
        from tagger.serialization import read_model_files
    return read_model_files(directory)


def tagger_from_files(
    files: dict[str, bytes], source: str | Path, device: str = "auto", quantize: str = "auto"
) -> TaggerBase:
    """The tagger of ``read_tagger_files``' bytes: an export's on onnxruntime, a model directory's on PyTorch
    (imported here), as ``runtime_choice`` decides."""
    return files_on_their_runtime(files, source, device, quantize, files_on_pytorch, pytorch_has_gpu)


def files_on_pytorch(files: dict[str, bytes], source: str | Path, device: str, quantize: str) -> TaggerBase:
    """A model directory's files on PyTorch, which is imported here: where it is not installed, one line saying
    what to install."""
    with needs_pytorch(source):
        from tagger.tagging.torch_tagger import Tagger
    return Tagger.from_files(files, source, device, quantize)


def write_tagger_files(directory: str | Path, files: dict[str, bytes]) -> None:
    """Write ``read_tagger_files``' bytes into ``directory``, each file atomically, config.json last."""
    if is_export_files(files):
        write_export_files(directory, files)
        return
    with needs_pytorch(directory):
        from tagger.serialization import write_model_files
    write_model_files(directory, files)
