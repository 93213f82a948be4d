"""A toy input feature, added as a new one is: this torch-free half, which in the package would be a class and a row
in tagger/feature_specs.py; its torch half (``WordLength`` in tests/test_feature_contract.py, in the package a file
in tagger/features/); and the setting that turns it on (none here: registered, it is always on; in the package a
field of ModelConfig in tagger/config.py). Nothing of the export or the portable tagger names it. No torch here: the
portable tagger encodes with this half where torch cannot be imported."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tagger.config import ModelConfig
from tagger.feature_specs import PER_WORD, ExportableSpec, GraphInput, padded

MAX_LENGTH = 12
NUM_IDS = MAX_LENGTH + 2  # 0 is padding; 1 + a length of 0 .. MAX_LENGTH (longer words count as MAX_LENGTH)


class WordLengthSpec(ExportableSpec):
    """Each word's length in characters, capped at MAX_LENGTH."""

    name, module_name = "word_length", "word_length_embedding"
    implementation = "test_feature_contract.WordLength"
    graph_inputs = (GraphInput("word_length", PER_WORD),)  # 1 + the capped length, 0 at padding

    @staticmethod
    def enabled(config: ModelConfig) -> bool:
        return True

    def encode(self, sentences: Sequence[Sequence[str]]) -> list[tuple[int, ...]]:
        return [tuple(1 + min(len(word), MAX_LENGTH) for word in words) for words in sentences]

    def arrays(self, values: Sequence[Sequence[int]], mask: np.ndarray) -> tuple[np.ndarray, ...]:
        return (padded(values, mask),)
