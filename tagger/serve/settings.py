"""What a server runs with: the models it serves by name, how it batches, and the limits that keep one request,
or many, from taking it down. Checked when made, from Python as from the command line."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagger.errors import ConfigError, setting
from tagger.tagging.onnx_tagger import QUANTIZE_MODES  # what a caller may ask of either runtime

# A name a client can send in "model" and a URL or a metric label can carry unquoted.
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Per request. A request over one is refused with 413 naming it, before it reaches a model."""

    max_body_bytes: int = 1_048_576  # 1 MiB: ~300 documents of 500 words; a 10 MB body is refused unread
    max_items: int = 1_000  # texts or sentences in one request
    max_words: int = 10_000  # words of pre-tokenised sentences in one request (one sentence of 100,000 is refused)
    max_chars: int = 100_000  # characters of raw text in one request (PARAGRAPH_CHARS: what spaCy gets at once)

    def check(self) -> None:
        for name, value in dataclasses.asdict(self).items():
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{setting(name, value)}: expected a whole number of at least 1")


@dataclass(frozen=True, kw_only=True)
class ServeSettings:
    """``models``: name -> model directory, in order; the first is the default a request without "model" gets."""

    models: dict[str, str]
    host: str = "127.0.0.1"  # loopback: exposing the service is a choice (--host 0.0.0.0), not a default
    port: int = 8080
    # processes, each loading every model once and serving from the same port; 0: as many as the server chooses
    # (serve.server.serving_workers: one per CPU on the CPU, one on a GPU)
    workers: int = 0
    # Micro-batching: requests waiting for a model are tagged together, up to max_batch_words words (estimated
    # for raw text), waiting at most max_wait_ms after the first for others to join. Under load the queue
    # fills while the model works, so batches form without waiting; idle, one request waits max_wait_ms.
    max_batch_words: int = 4_096  # ~ the 256 sentences a Tagger batch holds: bounds each batch's latency
    max_wait_ms: float = 2.0
    max_queue: int = 256  # requests waiting per model (per worker); beyond it 503 with Retry-After
    request_timeout: float = 10.0  # seconds from a request's body being read to its answer; then 503
    receive_timeout: float = 10.0  # seconds to receive a request's head, then as many for its body; else 408
    drain_timeout: float = 20.0  # seconds after SIGTERM for requests in flight, then the process exits
    limits: Limits = field(default_factory=Limits)
    device: str = "auto"
    quantize: str = "auto"
    lang: str = "en"  # spaCy language that splits raw text; a server setting, so a client cannot load languages
    spacy_model: str | None = None
    batch_size: int | None = None  # sentences per model batch inside one micro-batch; None: the runtime's fastest

    def __post_init__(self) -> None:
        if not self.models:
            raise ConfigError(f"no model to serve: name at least one model directory in {setting('models')}")
        for name in self.models:
            if not name or not set(name) <= NAME_CHARACTERS:
                raise ConfigError(
                    f"model name {name!r}: expected letters, digits, '.', '_' or '-' (NAME=MODEL_DIR names a model)"
                )
        if self.quantize not in QUANTIZE_MODES:
            raise ConfigError(
                f"{setting('quantize', repr(self.quantize))}: expected one of {', '.join(QUANTIZE_MODES)}"
            )
        whole = ("port", "workers", "max_batch_words", "max_queue", "batch_size")
        for name in whole:
            value = getattr(self, name)
            if name == "batch_size" and value is None:  # the runtime's fastest
                continue
            least = 0 if name in ("port", "workers") else 1
            if not isinstance(value, int) or value < least or (name == "port" and value > 65535):
                raise ConfigError(f"{setting(name, value)}: expected a whole number of at least {least}")
        for name in ("max_wait_ms", "request_timeout", "receive_timeout", "drain_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0 or (value == 0 and name != "max_wait_ms"):
                raise ConfigError(f"{setting(name, value)}: expected a positive number of seconds (milliseconds)")
        self.limits.check()

    @property
    def default_model(self) -> str:
        return next(iter(self.models))

    def to_json(self) -> str:
        """For the worker processes, which read their settings from the environment (``from_json``)."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        data: dict[str, Any] = json.loads(text)
        return cls(**{**data, "limits": Limits(**data["limits"])})


def parse_model_specs(specs: list[str]) -> dict[str, str]:
    """``MODEL_DIR`` or ``NAME=MODEL_DIR`` -> name -> directory; a bare directory is named after its folder."""
    models: dict[str, str] = {}
    for spec in specs:
        name, equals, path = spec.partition("=")
        if not equals:
            name, path = Path(spec.rstrip("/")).name or spec, spec
        if name in models:
            raise ConfigError(f"two models are named {name!r}: name them apart as NAME=MODEL_DIR")
        models[name] = path
    return models
