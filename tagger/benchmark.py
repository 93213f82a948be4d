"""How fast a model tags: words/s on pre-tokenised sentences and on raw text, peak memory, and the time
from process start to the first output of `tagger tag`. Figures are medians of several timed passes
after a warm-up pass, so one-off costs (allocation, spaCy's first load) do not count."""

from __future__ import annotations

import importlib.metadata
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tagger.config import corpus_config
from tagger.corpus import Sentence, document_ids, read_corpus
from tagger.cpu import describe_cpu
from tagger.model import build_model
from tagger.runtime import usable_cpus
from tagger.tagging.base import TaggerBase
from tagger.tagging.loading import load_tagger

STARTUP_INPUT = b"EU rejects German call to boycott British lamb.\n"


@dataclass(frozen=True)
class Speed:
    name: str
    words: int  # per pass
    median: float  # words/s
    spread: float  # standard deviation of the passes' words/s
    passes: list[float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def time_passes(name: str, work: Callable[[], Any], words: int, runs: int) -> Speed:
    work()  # warm-up
    speeds = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        speeds.append(words / (time.perf_counter() - start))
    return Speed(name, words, statistics.median(speeds), statistics.pstdev(speeds), speeds)


def tagging_speeds(
    tagger: TaggerBase, sentences: Sequence[Sentence], runs: int = 5, batch_size: int | None = None
) -> list[Speed]:
    """Pre-tokenised (``Tagger.tag``, documents kept) and raw text (``Tagger.tag_texts``: spaCy's tokenizer
    and sentencizer included; each document one text, its words joined by spaces)."""
    words = [s.words for s in sentences]
    documents = document_ids(sentences)
    count = sum(map(len, words))
    by_document: dict[int, list[str]] = {}
    for sentence, document in zip(words, documents):
        by_document.setdefault(document, []).extend(sentence)
    texts = [" ".join(document) for document in by_document.values()]
    return [
        time_passes(
            "pre-tokenised", lambda: tagger.tag(words, batch_size=batch_size, documents=documents), count, runs
        ),
        time_passes("raw text", lambda: tagger.tag_texts(texts, batch_size=batch_size), count, runs),
    ]


def flops_per_word(model: nn.Module, chars_per_word: float) -> float:
    """Floating-point operations (two per multiply-add) of the network's matrix products per word: each recurrent
    layer's input projection and recurrence, each linear layer, and the character encoder's per character. These
    bound its speed; lookups, elementwise work and decoding are not counted, nor a frozen encoder outside the network
    (contextual features, character LMs)."""
    total = 0.0
    for name, module in model.named_modules():
        per_word = chars_per_word if name.split(".")[0] == "char_encoder" else 1.0
        if isinstance(module, nn.RNNBase):
            gates = {"LSTM": 4, "GRU": 3}.get(module.mode, 1)
            directions = 2 if module.bidirectional else 1
            inputs = module.input_size
            for _ in range(module.num_layers):
                total += per_word * 2 * directions * gates * module.hidden_size * (inputs + module.hidden_size)
                inputs = directions * module.hidden_size
        elif isinstance(module, nn.Linear):
            total += per_word * 2 * module.in_features * module.out_features
        elif isinstance(module, nn.Conv1d):
            total += per_word * 2 * module.in_channels * module.out_channels * module.kernel_size[0]
    return total


def matmul_flops_per_second(size: int = 1024, runs: int = 10) -> float:
    """The rate of fp32 matrix products on one thread per CPU this process may use (the best of ``runs`` square
    products), the compute bound that a tagger's figure is compared with, however the tagger spreads its work."""
    left, right = torch.randn(size, size), torch.randn(size, size)
    best, threads = float("inf"), torch.get_num_threads()
    torch.set_num_threads(usable_cpus())
    try:
        for _ in range(runs + 1):  # the first warms the threads up
            start = time.perf_counter()
            torch.mm(left, right)
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return 2 * size**3 / best


def compute_bound(tagger: TaggerBase, sentences: Sequence[Sentence]) -> dict[str, float | None]:
    """FLOPs per word of ``tagger``'s network on ``sentences`` and this machine's matmul rate: the achieved share
    of the bound is words/s × flops_per_word ÷ matmul_flops_per_second. A model with character LMs has no such
    figure (None): the LMs, which flops_per_word does not count, do most of its work."""
    flops = None
    if not tagger.config.model.charlm:
        max_chars = tagger.vocab.max_word_len
        chars = [min(len(word), max_chars) for sentence in sentences for word in sentence.words]
        network = build_model(tagger.config.model, tagger.vocab)  # the shapes only: no weights are read
        flops = flops_per_word(network, sum(chars) / max(1, len(chars)))
    return {"flops_per_word": flops, "matmul_flops_per_second": matmul_flops_per_second()}


def peak_memory_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def startup_seconds(model_dir: Path, device: str = "cpu", runs: int = 3) -> float:
    """Median time from starting ``tagger tag MODEL -`` to its first byte of output."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "tagger", "tag", str(model_dir), "-", "--device", device],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        stdin, stdout = process.stdin, process.stdout
        assert stdin is not None and stdout is not None  # both pipes
        stdin.write(STARTUP_INPUT)
        stdin.close()
        stdout.read(1)
        times.append(time.perf_counter() - start)
        stdout.read()
        process.wait()
    return statistics.median(times)


def benchmark_model(
    model_dir: str | Path,
    data: str | Path,
    runs: int = 5,
    batch_size: int | None = None,
    device: str = "auto",
    quantize: str = "auto",
    overrides: Sequence[str] = (),
    startup: bool = True,
) -> dict[str, Any]:
    """Every figure of ``tagger benchmark`` for the model in ``model_dir`` tagging ``data`` (read as the model's
    training data was, with ``corpus.key=value`` ``overrides``), as JSON-ready data."""
    tagger = load_tagger(model_dir, device=device, quantize=quantize)
    sentences, _ = read_corpus(data, corpus_config(overrides, tagger.config.corpus), tags_required=False)
    speeds = tagging_speeds(tagger, sentences, runs, batch_size)
    return {
        "model": str(model_dir),
        "data": str(data),
        "device": str(tagger.device),
        "cpu": describe_cpu().to_dict(),
        "versions": runtime_versions(),
        "runtime": tagger.runtime,  # what ran the network, in which precision (quantize auto chooses)
        "batches_at_once": tagger.batch_workers,
        "threads": torch.get_num_threads() if tagger.runtime_name == "PyTorch" else None,
        "cpus": usable_cpus(),
        "batch_size": tagger.batch_size_for(batch_size),
        "runs": runs,
        "quantize": quantize,
        "speeds": [speed.to_dict() for speed in speeds],
        "compute_bound": compute_bound(tagger, sentences),
        "peak_memory_mb": peak_memory_mb(),
        "startup_seconds": startup_seconds(Path(model_dir), device) if startup else None,
    }


def runtime_versions() -> dict[str, str | None]:
    """What computed the figures beside the CPU: torch, and onnxruntime where it is installed (an export runs on
    it), read from the installed distribution without importing it."""
    try:
        onnx_runtime: str | None = importlib.metadata.version("onnxruntime")
    except importlib.metadata.PackageNotFoundError:
        onnx_runtime = None
    return {"torch": torch.__version__, "onnxruntime": onnx_runtime}
