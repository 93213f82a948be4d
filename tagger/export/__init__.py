"""Exporting a trained model for other runtimes: ``tagger export MODEL --to onnx --out DIR``. The network goes to
ONNX (``network.py``: the model as one traceable function of plain tensors), vocabulary, labels, decoding scores
and settings to JSON beside it (``onnx_export.py``); ``tagger.portable`` runs the result without PyTorch."""

from tagger.export.onnx_export import EXPORT_QUANTIZE, EXPORT_TARGETS, ExportResult, export_model

__all__ = ["EXPORT_QUANTIZE", "EXPORT_TARGETS", "ExportResult", "export_model"]
