"""tagger: BiLSTM sequence labeling for NER and POS tagging."""

__version__ = "0.1.0"
__all__ = ["Tagger", "__version__"]


def __getattr__(name: str):
    # Lazy, so `import tagger` (and `tagger --help`) does not pay for torch.
    if name == "Tagger":
        from tagger.annotate import Tagger

        return Tagger
    raise AttributeError(f"module 'tagger' has no attribute {name!r}")
