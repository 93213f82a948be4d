"""A model with the runtime it needs, and what to install when that runtime is missing.

A directory written by ``tagger export`` runs on onnxruntime (``PortableTagger``, no torch); a model directory runs
on PyTorch (``tagger.annotate.Tagger``), which is imported only then. So a deployment without PyTorch loads an
export through here, and a PyTorch model there is refused with one line saying what to install, never an
ImportError's traceback. Batch annotation, the spaCy component and the command line load models this way, and
``evaluate_model`` (``tagger evaluate``) scores either kind.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tagger.atomic import check_output_file, check_output_folder, write_atomic
from tagger.config import corpus_config
from tagger.corpus import Sentence, read_corpus
from tagger.errors import ConfigError, setting
from tagger.evaluation import Evaluation, write_evaluation_report
from tagger.evaluation.report import written_by_us
from tagger.outputs import format_predictions
from tagger.portable import PortableTagger, is_exported_dir, read_export_files, write_export_files
from tagger.portable.base import TaggerBase
from tagger.portable.files import ONNX_FILE
from tagger.portable.tagger import PROVIDERS, QUANTIZE_MODES, import_onnxruntime

__all__ = [
    "INSTALL",
    "QUANTIZE_MODES",
    "ModelEvaluation",
    "evaluate_model",
    "gpu_available",
    "load_tagger",
    "missing_dependency",
    "needs_pytorch",
    "read_tagger_files",
    "tagger_from_files",
    "write_tagger_files",
]

# A module that may be missing where tagger was installed without its dependencies (docs/onnx.md) -> what it is
# and what installs it. Tagging an export needs onnxruntime alone of them; the others, the commands and inputs
# that use them.
INSTALL = {
    "torch": ("PyTorch", "pip install torch"),
    "safetensors": ("safetensors", "pip install safetensors"),
    "onnxruntime": ("onnxruntime", "pip install onnxruntime"),
    "onnx": ("onnx", "pip install 'bilstm-tagger[onnx]'"),
    "spacy": ("spaCy (for raw text, .spacy files and HTML output)", "pip install spacy"),
    "seqeval": ("seqeval (for entity scores)", "pip install seqeval"),
    "datasets": ("datasets", "pip install 'bilstm-tagger[datasets]'"),
    "matplotlib": ("matplotlib", "pip install matplotlib"),
    "ray": ("Ray", "pip install 'bilstm-tagger[ray]'"),
    **{name: (name, "pip install 'bilstm-tagger[serve]'") for name in ("fastapi", "starlette", "uvicorn", "pydantic")},
    "prometheus_client": ("prometheus_client", "pip install 'bilstm-tagger[serve]'"),
}


def load_tagger(
    directory: str | Path, device: str = "auto", quantize: str = "none", threads: int | None = None
) -> TaggerBase:
    """The tagger of ``directory``: an export on onnxruntime, a model directory on PyTorch (imported here).

    ``threads``: the CPU threads it may use (worker processes share the cores); default: onnxruntime's own
    (OMP_NUM_THREADS when set, else every core), PyTorch's as ``Tagger.load`` says (this process's CPUs, fewer
    while other processes keep some busy)."""
    if is_exported_dir(directory):
        return PortableTagger.load(directory, device, quantize, threads)
    with needs_pytorch(directory):
        from tagger.annotate import Tagger
    return Tagger.load(directory, device, quantize, threads)


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
    files: dict[str, bytes], source: str | Path, device: str = "auto", quantize: str = "none"
) -> TaggerBase:
    """The tagger of ``read_tagger_files``' bytes: an export's on onnxruntime, a model directory's on PyTorch."""
    if ONNX_FILE in files:
        return PortableTagger.from_files(files, source, device, quantize)
    with needs_pytorch(source):
        from tagger.annotate import Tagger
    return Tagger.from_files(files, source, device, quantize)


def write_tagger_files(directory: str | Path, files: dict[str, bytes]) -> None:
    """Write ``read_tagger_files``' bytes into ``directory``, each file atomically, config.json last."""
    if ONNX_FILE in files:
        write_export_files(directory, files)
        return
    with needs_pytorch(directory):
        from tagger.serialization import write_model_files
    write_model_files(directory, files)


@dataclass(frozen=True)
class ModelEvaluation:
    """A model scored on gold data: the scores, the sentences as read and the predictions, and the page written."""

    evaluation: Evaluation
    sentences: list[Sentence]
    predictions: list[list[str]]
    report: Path | None = None  # the HTML report's index.html, when one was asked for


def evaluate_model(
    model_dir: str | Path,
    data: str | Path,
    overrides: Sequence[str] = (),
    device: str = "auto",
    batch_size: int = 256,
    quantize: str = "none",
    predictions_path: str | Path | None = None,
    report_dir: str | Path | None = None,
) -> ModelEvaluation:
    """Score the model in ``model_dir`` (a model directory, or an export: then without PyTorch) on the gold corpus
    ``data``, read as the model's training data was (with ``corpus.key=value`` ``overrides``); also write
    conlleval's ``word gold pred`` lines to ``predictions_path`` and the HTML error report into ``report_dir`` when
    given. Both are checked before the model is loaded: neither may replace the gold data or a file of the user's,
    and neither fails only after the tagging."""
    check_evaluation_outputs(Path(data), predictions_path, report_dir)
    tagger = load_tagger(model_dir, device=device, quantize=quantize)
    if tagger.task == "spans":
        check_installed("seqeval", f"scoring the entities of {model_dir}")
    sentences, _ = read_corpus(data, corpus_config(overrides, tagger.config.corpus))
    evaluation, predictions = tagger.evaluate(sentences, batch_size=batch_size)
    if predictions_path is not None:
        text = "".join(format_predictions(s.words, s.tags, p) for s, p in zip(sentences, predictions))
        write_atomic(Path(predictions_path), text.encode("utf-8"))
    report = None
    if report_dir is not None:
        report = write_evaluation_report(Path(report_dir), f"{model_dir} on {data}", sentences, predictions, evaluation)
    return ModelEvaluation(evaluation, sentences, predictions, report)


def check_evaluation_outputs(data: Path, predictions_path: str | Path | None, report_dir: str | Path | None) -> None:
    """Refuse, before any work, outputs that would replace the gold ``data`` or a page not written by us, or that
    cannot be written (a file in the way, a folder for a file, a folder this process may not write)."""
    if predictions_path is not None:
        check_output_file(Path(predictions_path), "predictions_path", [data])
    if report_dir is not None:
        check_output_folder(Path(report_dir), "report_dir")
        index = Path(report_dir) / "index.html"
        if index.is_dir() or (index.exists() and not written_by_us(index)):
            raise ConfigError(
                f"{index} exists and was not written by tagger evaluate --report; "
                f"remove it or choose another {setting('report_dir')} folder"
            )


def check_installed(module: str, what: str) -> None:
    """Refuse, before the work that needs it, a dependency that is not installed (one line naming the pip
    command) rather than fail at its import after the work."""
    if importlib.util.find_spec(module) is None:
        raise not_installed(module, what)


@contextmanager
def needs_pytorch(model: str | Path) -> Iterator[None]:
    """Around the imports of the PyTorch path: without PyTorch (or safetensors), one ConfigError naming what
    to install, and that an export of the model needs neither."""
    try:
        yield
    except ModuleNotFoundError as error:
        refused = missing_dependency(
            error,
            f"the model directory {model}",
            f"an export of it runs without PyTorch: tagger export {model} --out DIR, where PyTorch is installed",
        )
        if refused is None:
            raise
        raise refused from None


def missing_dependency(error: ModuleNotFoundError, what: str, hint: str = "") -> ConfigError | None:
    """The one-line error for a dependency that is not installed, naming the command that installs it; None for
    a module that is not one of tagger's dependencies (a bug, which keeps its traceback)."""
    module = (error.name or "").split(".")[0]
    if module not in INSTALL:
        return None
    return not_installed(module, what, hint)


def not_installed(module: str, what: str, hint: str = "") -> ConfigError:
    """``what`` needs ``module`` (one of ``INSTALL``), which is not installed: the one line saying what installs it."""
    name, command = INSTALL[module]
    return ConfigError(f"{what} needs {name}, which is not installed here: {command}" + (f" ({hint})" if hint else ""))
