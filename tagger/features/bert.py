"""A frozen BERT-style encoder read from a folder of safetensors weights, config.json and vocab.txt (as a
Hugging Face model folder holds them), with its WordPiece tokenizer: the lightest correct way to run a small
encoder offline. ~100 lines of torch instead of the transformers library, which would weigh more than all of
tagger's other dependencies; the output matches transformers' BertModel (tests/test_contextual.py).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from pathlib import Path

import torch
from torch import nn

from tagger.errors import ConfigError

REQUIRED = ("config.json", "vocab.txt", "model.safetensors")


class WordPiece:
    """BERT's tokenizer for text already split into words: lower case and accents stripped (uncased models),
    punctuation split off, then greedy longest-match-first pieces with ``##`` continuations."""

    def __init__(self, vocab: list[str], lowercase: bool = True, max_chars: int = 100):
        self.ids = {piece: i for i, piece in enumerate(vocab)}
        self.lowercase, self.max_chars = lowercase, max_chars
        self.unk, self.cls, self.sep = (self.ids[t] for t in ("[UNK]", "[CLS]", "[SEP]"))
        self._cache: dict[str, tuple[int, ...]] = {}

    def word_ids(self, word: str) -> tuple[int, ...]:
        ids = self._cache.get(word)
        if ids is None:
            if len(self._cache) > 500_000:
                self._cache.clear()
            ids = self._cache[word] = tuple(i for part in self._basic(word) for i in self._pieces(part))
        return ids

    def _basic(self, word: str) -> list[str]:
        if self.lowercase:
            word = "".join(c for c in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(c) != "Mn")
        parts: list[str] = []
        current = ""
        for char in word:
            if char.isspace() or unicodedata.category(char) in ("Cc", "Cf") or char in "\ufffd\x00":
                parts, current = parts + [current] if current else parts, ""
            elif _is_punctuation(char):
                parts, current = parts + ([current] if current else []) + [char], ""
            else:
                current += char
        return parts + [current] if current else parts

    def _pieces(self, text: str) -> list[int]:
        if len(text) > self.max_chars:
            return [self.unk]
        pieces, start = [], 0
        while start < len(text):
            end = len(text)
            while end > start and (("##" if start else "") + text[start:end]) not in self.ids:
                end -= 1
            if end == start:
                return [self.unk]
            pieces.append(self.ids[("##" if start else "") + text[start:end]])
            start = end
        return pieces


def _is_punctuation(char: str) -> bool:
    code = ord(char)  # BERT counts all non-alphanumeric ASCII as punctuation, "$" and "^" too
    return (
        33 <= code <= 47
        or 58 <= code <= 64
        or 91 <= code <= 96
        or 123 <= code <= 126
        or unicodedata.category(char).startswith("P")
    )


class Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.attention_out, self.attention_norm = nn.Linear(hidden, hidden), nn.LayerNorm(hidden, eps=eps)
        self.intermediate, self.out = nn.Linear(hidden, intermediate), nn.Linear(intermediate, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, hidden: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        batch_size, length, width = hidden.shape

        def split(x: torch.Tensor) -> torch.Tensor:  # (batch_size, heads, length, width / heads)
            return x.view(batch_size, length, self.heads, width // self.heads).transpose(1, 2)

        mask = padding[:, None, None, :]  # (batch_size, 1, 1, length): True where a key is padding
        scores = split(self.query(hidden)) @ split(self.key(hidden)).transpose(2, 3) / math.sqrt(width // self.heads)
        attended = scores.masked_fill(mask, float("-inf")).softmax(dim=-1) @ split(self.value(hidden))
        attended = attended.transpose(1, 2).reshape(batch_size, length, width)
        hidden = self.attention_norm(hidden + self.attention_out(attended))
        return self.out_norm(hidden + self.out(nn.functional.gelu(self.intermediate(hidden))))


class BertEncoder(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        hidden, eps = config["hidden_size"], config.get("layer_norm_eps", 1e-12)
        self.word_embeddings = nn.Embedding(config["vocab_size"], hidden)
        self.position_embeddings = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type_embeddings = nn.Embedding(config.get("type_vocab_size", 2), hidden)
        self.embedding_norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(
            Layer(hidden, config["num_attention_heads"], config["intermediate_size"], eps)
            for _ in range(config["num_hidden_layers"])
        )
        self.hidden_size, self.max_positions = hidden, config["max_position_embeddings"]

    def forward(self, piece_ids: torch.Tensor, padding: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output, (batch_size, length, hidden) each, for (batch_size, length) piece ids."""
        positions = torch.arange(piece_ids.shape[1], device=piece_ids.device)
        hidden = self.embedding_norm(
            self.word_embeddings(piece_ids) + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
        )
        outputs = []
        for layer in self.layers:
            hidden = layer(hidden, padding)
            outputs.append(hidden)
        return outputs


# Hugging Face BertModel's weight names -> ours, in this order (attention.output before output).
RENAMES = (
    (r"^embeddings\.LayerNorm\.", "embedding_norm."),
    (r"^embeddings\.", ""),
    (r"^encoder\.layer\.", "layers."),
    (r"\.attention\.self\.", "."),
    (r"\.attention\.output\.dense\.", ".attention_out."),
    (r"\.attention\.output\.LayerNorm\.", ".attention_norm."),
    (r"\.intermediate\.dense\.", ".intermediate."),
    (r"\.output\.dense\.", ".out."),
    (r"\.output\.LayerNorm\.", ".out_norm."),
)


def our_name(name: str) -> str:
    for pattern, replacement in RENAMES:
        name = re.sub(pattern, replacement, name)
    return name


def load_bert(folder: Path) -> tuple[BertEncoder, WordPiece]:
    """The encoder and tokenizer in ``folder``; weights are safetensors only, never a pickle."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file  # lazily: only a model with contextual features needs it here

    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if missing:
        raise ConfigError(
            f"encoder folder {folder} lacks {', '.join(missing)}; it needs {', '.join(REQUIRED)} "
            "(a BERT-style model as saved by Hugging Face, weights in safetensors)"
        )
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        encoder = BertEncoder(config)
        state = {
            our_name(name): tensor
            for name, tensor in load_file(str(folder / "model.safetensors")).items()
            if not name.startswith(("pooler.", "embeddings.position_ids"))
        }
        encoder.load_state_dict(state)
        vocab = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
        tokenizer_config = folder / "tokenizer_config.json"
        lowercase = (
            json.loads(tokenizer_config.read_text(encoding="utf-8")).get("do_lower_case", True)
            if tokenizer_config.is_file()
            else True
        )
        return encoder.eval().requires_grad_(False), WordPiece(vocab, lowercase)
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as error:
        reason = str(error).splitlines()[0][:200]
        raise ConfigError(f"encoder folder {folder} cannot be read as a BERT model ({reason})") from None
