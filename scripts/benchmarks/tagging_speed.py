"""Tagging speed of a trained model on a pre-tokenised corpus: words/s, median of several timed passes.

    python scripts/benchmarks/tagging_speed.py runs/ner ../shared/corpora/conll2003/eng.testb --runs 5

Run it on a quiet machine: another CPU-heavy process (even a niced one) changes the figure a lot.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def tagging_speed(model_dir: Path, data: Path, runs: int = 5, batch_size: int = 256) -> tuple[float, float, int]:
    """(median words/s, standard deviation, words per pass) after one warm-up pass."""
    from tagger import Tagger
    from tagger.benchmark import time_passes
    from tagger.corpus import document_ids, read_corpus

    tagger = Tagger.load(model_dir, device="cpu")
    corpus = read_corpus(data, tagger.config.corpus)[0]
    sentences, documents = [s.words for s in corpus], document_ids(corpus)
    words = sum(map(len, sentences))
    speed = time_passes(
        "pre-tokenised", lambda: tagger.tag(sentences, batch_size=batch_size, documents=documents), words, runs
    )
    return speed.median, speed.spread, words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    median, spread, words = tagging_speed(args.model, args.data, args.runs, args.batch_size)
    print(
        f"{median:,.0f} ± {spread:,.0f} words/s ({words:,} words, median of {args.runs} passes, batch {args.batch_size})"
    )


if __name__ == "__main__":
    main()
