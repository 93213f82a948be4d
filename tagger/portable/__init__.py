"""An exported model (``tagger export``: ONNX network + JSON) as data: its files read and checked (``files``), words
encoded into the network's inputs (``encoding``) and emissions decoded into tags (``decoding``), in numpy. Nothing
here imports torch (the layer test keeps this package in layer 1, below torch); ``tagger.tagging.onnx_tagger``'s
``PortableTagger`` runs the network with onnxruntime."""

from tagger.portable.files import is_exported_dir, read_export_files, read_exported, write_export_files

__all__ = ["is_exported_dir", "read_export_files", "read_exported", "write_export_files"]
