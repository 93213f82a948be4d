"""Tagging without PyTorch: a model exported by ``tagger export`` (ONNX network + JSON), run by onnxruntime, with
the words encoded and the tags decoded in numpy. Nothing here imports torch (the layer test keeps this package
in layer 1, below torch); ``tagger.annotate.Tagger.load`` hands an exported directory to ``PortableTagger``."""

from tagger.portable.files import is_exported_dir, read_export_files, read_exported, write_export_files
from tagger.portable.tagger import PortableTagger

__all__ = ["PortableTagger", "is_exported_dir", "read_export_files", "read_exported", "write_export_files"]
