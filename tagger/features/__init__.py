"""The model's inputs, one ``InputFeature`` each (see base.py): words, characters, casing, and optionally
contextual features from a frozen encoder."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from tagger.config import ModelConfig
from tagger.features.base import FeatureModule, InputFeature
from tagger.features.casing import Casing
from tagger.features.chars import Characters
from tagger.features.words import WordIds
from tagger.vocab import Vocab

__all__ = ["FeatureModule", "InputFeature", "build_features"]


def build_features(
    config: ModelConfig, vocab: Vocab, weights: Mapping[str, torch.Tensor] | None = None
) -> list[InputFeature]:
    """The inputs ``config`` asks for, in the order their embeddings are concatenated; ``weights``: a saved model's,
    for the features whose module holds what they need (character LMs)."""
    features: list[InputFeature] = [WordIds(vocab, config.word_dim)]
    if config.char_encoder != "none":
        features.append(Characters(vocab, config))
    if config.casing_dim:
        features.append(Casing(vocab, config.casing_dim))
    if config.contextual:
        from tagger.features.contextual import Contextual  # lazily: only such models need the encoder's code

        features.append(Contextual(config.contextual))
    if config.charlm:
        from tagger.features.charlm import CharLM  # lazily, as Contextual

        features.append(CharLM(config, weights))
    return features
