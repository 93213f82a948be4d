"""A tiny BERT-style encoder folder (random weights from a fixed seed, Hugging Face names and files), so the
contextual features are tested without the real package; importable without tagger (its golden values were
computed with transformers' BertModel from this same folder)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

PIECES = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "john",
    "smith",
    "lives",
    "in",
    "paris",
    ".",
    "mary",
    "works",
    "for",
    "ac",
    "##me",
    "corp",
    "berlin",
    "the",
    "eu",
    "rejects",
    "german",
    "call",
    "peter",
    "visited",
    "london",
    "and",
    "rome",
    "hired",
    "anna",
    "lee",
    "is",
    "big",
    "likes",
    "beer",
    "are",
    "cities",
    "'",
    "s",
    "cafe",
    "##s",
    ",",
    "$",
    "5",
    "##0",
]
CONFIG = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "hidden_size": 8,
    "num_hidden_layers": 4,
    "num_attention_heads": 2,
    "intermediate_size": 16,
    "hidden_act": "gelu",
    "max_position_embeddings": 12,
    "type_vocab_size": 2,
    "vocab_size": len(PIECES),
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
}


def weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    hidden, inner = CONFIG["hidden_size"], CONFIG["intermediate_size"]

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.5, size=shape).astype(np.float32)

    tensors = {
        "embeddings.word_embeddings.weight": normal(len(PIECES), hidden),
        "embeddings.position_embeddings.weight": normal(CONFIG["max_position_embeddings"], hidden),
        "embeddings.token_type_embeddings.weight": normal(2, hidden),
        "embeddings.LayerNorm.weight": 1 + normal(hidden),
        "embeddings.LayerNorm.bias": normal(hidden),
        "pooler.dense.weight": normal(hidden, hidden),
        "pooler.dense.bias": normal(hidden),
    }
    for layer in range(CONFIG["num_hidden_layers"]):
        prefix = f"encoder.layer.{layer}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            tensors[prefix + name + ".weight"], tensors[prefix + name + ".bias"] = (
                normal(hidden, hidden),
                normal(hidden),
            )
        tensors[prefix + "intermediate.dense.weight"] = normal(inner, hidden)
        tensors[prefix + "intermediate.dense.bias"] = normal(inner)
        tensors[prefix + "output.dense.weight"], tensors[prefix + "output.dense.bias"] = (
            normal(hidden, inner),
            normal(hidden),
        )
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            tensors[prefix + norm + ".weight"], tensors[prefix + norm + ".bias"] = 1 + normal(hidden), normal(hidden)
    return tensors


def build_encoder_folder(folder: Path) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    (folder / "vocab.txt").write_text("\n".join(PIECES) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}), encoding="utf-8")
    save_file(weights(), str(folder / "model.safetensors"))
    return folder
