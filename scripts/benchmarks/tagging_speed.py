"""Tagging speed of a trained model on a pre-tokenised corpus: words/s, median of several timed passes.

    python scripts/benchmarks/tagging_speed.py runs/ner ../shared/corpora/conll2003/eng.testb --runs 5
    python scripts/benchmarks/tagging_speed.py runs/default-ner eng.testb --batch-size 32 64 128 256

The model is loaded as a user loads it (``Tagger.load``: its carried export on onnxruntime where it has one and
``--quantize auto``). Without ``--batch-size`` it tags in its runtime's own batch size; with several, each pass
tags once in every size, in turn, so the sizes share the machine's moments. Run it on a quiet machine: another
CPU-heavy process (even a niced one) changes the figure a lot.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tagger.tagging.base import TaggerBase


def tagging_speed(
    model_dir: Path, data: Path, runs: int = 5, batch_size: int | None = None
) -> tuple[float, float, int]:
    """(median words/s, standard deviation, words per pass) after one warm-up pass."""
    from tagger import Tagger

    speeds, words = tagging_speeds(Tagger.load(model_dir, device="cpu"), data, runs, [batch_size])
    return statistics.median(speeds[batch_size]), statistics.pstdev(speeds[batch_size]), words


def tagging_speeds(
    tagger: TaggerBase, data: Path, runs: int, batch_sizes: list[int | None]
) -> tuple[dict[int | None, list[float]], int]:
    """Words/s of each pass per batch size (None: the runtime's own), the sizes interleaved; words per pass."""
    from tagger.corpus import document_ids, read_corpus

    corpus = read_corpus(data, tagger.config.corpus)[0]
    sentences, documents = [s.words for s in corpus], document_ids(corpus)
    words = sum(map(len, sentences))
    speeds: dict[int | None, list[float]] = {size: [] for size in batch_sizes}
    for size in batch_sizes:  # warm-up
        tagger.tag(sentences, batch_size=size, documents=documents)
    for _ in range(runs):
        for size in batch_sizes:
            start = time.perf_counter()
            tagger.tag(sentences, batch_size=size, documents=documents)
            speeds[size].append(words / (time.perf_counter() - start))
    return speeds, words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, nargs="+", help="sentences per batch (default: the runtime's own)")
    parser.add_argument("--quantize", default="auto", help="as tagger tag's --quantize")
    args = parser.parse_args()
    from tagger import Tagger
    from tagger.cpu import describe_cpu

    tagger = Tagger.load(args.model, device="cpu", quantize=args.quantize)
    sizes: list[int | None] = list(args.batch_size) if args.batch_size else [None]
    speeds, words = tagging_speeds(tagger, args.data, args.runs, sizes)
    print(f"{describe_cpu()}; {tagger.runtime}, {tagger.batch_workers} batches at once; {words:,} words per pass")
    for size, passes in speeds.items():
        print(
            f"batch {tagger.batch_size_for(size)}: {statistics.median(passes):,.0f} ± "
            f"{statistics.pstdev(passes):,.0f} words/s (median of {args.runs} passes)"
        )


if __name__ == "__main__":
    main()
