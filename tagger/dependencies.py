"""What to install when a dependency is missing: tagger can be installed without most of its dependencies (an
export is tagged with onnxruntime alone, docs/onnx.md), so a command or input that needs one that is not there is
refused with one line naming the pip command, never an ImportError's traceback."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tagger.errors import ConfigError

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
