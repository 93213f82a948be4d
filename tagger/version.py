"""The package's version, in a module of its own that imports nothing: modules inside the package read it here,
never from ``tagger/__init__.py``, whose lazy ``Tagger`` and ``load_tagger`` reach back into them."""

__version__ = "0.1.0"
