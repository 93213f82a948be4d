"""Tagging with a trained model, on either runtime: ``base`` (``TaggerBase``: everything around the network, shared),
``torch_tagger`` (``Tagger``: a model directory on PyTorch), ``onnx_tagger`` (``PortableTagger``: an export on
onnxruntime, torch-free), ``runtime_choice`` (the one place that chooses between them) and ``loading``
(``load_tagger``: a model on the runtime it needs, importing PyTorch only for a model directory).

Import the file that defines a name: this package's ``__init__`` imports nothing, so that importing one file never
loads the other runtime."""
