"""A tiny character LM folder in the converted format (lm.safetensors + lm.json, as ``tagger lm install`` writes
them), with random weights from a seed, so the character-LM feature is tested without Flair's LMs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save

# <unk> first, as in Flair's dictionaries; "é" and the capitals of the fixtures' names are left out on purpose
CHARACTERS = ["<unk>", "\n", " ", *"abcdefghijklmnopqrstuvwxyz", *"JMPS", ".,'-0123456789"]


def build_lm_folder(
    folder: Path, direction: str = "forward", hidden: int = 12, embedding: int = 6, seed: int = 0, projection: int = 0
) -> Path:
    rng = np.random.default_rng(seed)

    def random(*shape: int) -> np.ndarray:
        return rng.normal(0.0, 0.5, size=shape).astype(np.float32)

    chars = len(CHARACTERS)
    arrays = {
        "embedding.weight": random(chars, embedding),
        "rnn.weight_ih_l0": random(4 * hidden, embedding),
        "rnn.weight_hh_l0": random(4 * hidden, hidden),
        "rnn.bias_ih_l0": random(4 * hidden),
        "rnn.bias_hh_l0": random(4 * hidden),
        "decoder.weight": random(chars, projection or hidden),
        "decoder.bias": random(chars),
    }
    if projection:
        arrays |= {"proj.weight": random(projection, hidden), "proj.bias": random(projection)}
    weights = save(arrays)
    metadata = {
        "format": "tagger-charlm",
        "format_version": 1,
        "name": folder.name,
        "direction": direction,
        "hidden_size": hidden,
        "embedding_size": embedding,
        "layers": 1,
        "characters": CHARACTERS,
        "unk_id": 0,
        "document_delimiter": "\n",
        "source": {"test": "random weights"},
        "flair_settings": {},
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lm.safetensors").write_bytes(weights)
    (folder / "lm.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return folder
