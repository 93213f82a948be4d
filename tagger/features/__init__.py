"""The model's inputs, one ``InputFeature`` each (see base.py): words, characters, casing, and optionally
contextual features from a frozen encoder and character LMs. Which ones, and in what order, is the table of
features in ``tagger.feature_specs``; each row names its torch half, one file here."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import torch

from tagger.config import ModelConfig
from tagger.feature_specs import FeatureSpec, model_features
from tagger.features.base import ExportableFeature, FeatureModule, InputFeature
from tagger.vocab import Vocab

__all__ = ["ExportableFeature", "FeatureModule", "InputFeature", "build_features", "torch_half"]


def build_features(
    config: ModelConfig, vocab: Vocab, weights: Mapping[str, torch.Tensor] | None = None
) -> list[InputFeature]:
    """The inputs ``config`` asks for, in the order their embeddings are concatenated; ``weights``: a saved model's,
    for the features whose module holds what they need (character LMs)."""
    return [torch_half(spec).for_model(config, vocab, weights) for spec in model_features(config)]


def torch_half(spec: type[FeatureSpec]) -> type[InputFeature]:
    """The class ``spec.implementation`` names, imported now: a contextual encoder's or the character LMs' code is
    read only by the models that have them."""
    module, _, name = spec.implementation.rpartition(".")
    feature = getattr(importlib.import_module(module), name, None)
    if not (isinstance(feature, type) and issubclass(feature, spec) and issubclass(feature, InputFeature)):
        raise TypeError(f"{spec.__name__}.implementation: {spec.implementation} is not an InputFeature extending it")
    return feature
