"""tagger: BiLSTM sequence labeling for NER and POS tagging."""

from tagger.version import __version__

__all__ = ["Tagger", "__version__", "load_tagger"]


def __getattr__(name: str):
    # Lazy, so `import tagger` (and `tagger --help`) does not pay for torch; `load_tagger` (a model directory on
    # PyTorch, an export on onnxruntime) imports torch only for a model directory.
    if name == "Tagger":
        from tagger.tagging.torch_tagger import Tagger

        return Tagger
    if name == "load_tagger":
        from tagger.tagging.loading import load_tagger

        return load_tagger
    raise AttributeError(f"module 'tagger' has no attribute {name!r}")
