"""What a model costs to use, side by side: tagging words/s on a pre-tokenised corpus (rounds interleaved across
the models, so a busy machine slows them alike), load time in a fresh process, and size on disk.

    python scripts/benchmarks/model_costs.py runs/accurate runs/vectors runs/contextual --data eng.testb --rounds 5
    python scripts/benchmarks/model_costs.py tagger/models/en-ner runs/contextual --data eng.testb --quantize none auto

``--quantize`` loads each model in each of these precisions (``Tagger.load``'s; default: auto, as a user gets it).

Contextual features are computed afresh in every round, as for new text (only training keeps them).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

LOAD = (
    "import time; t = time.perf_counter(); from tagger import Tagger; Tagger.load({!r}, device='cpu'); "
    "print(time.perf_counter() - t)"
)


def load_seconds(model: Path, runs: int = 3) -> float:
    """Median seconds from a fresh interpreter to a loaded model (imports included)."""
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", LOAD.format(str(model))], capture_output=True, text=True, check=True, cwd=ROOT
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(times)


def size_mb(model: Path) -> float:
    return sum(p.stat().st_size for p in model.iterdir() if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 = torch's default")
    parser.add_argument("--quantize", nargs="+", default=["auto"], help="precisions to load each model in")
    args = parser.parse_args()
    import torch

    from tagger import Tagger
    from tagger.corpus import document_ids, read_corpus

    if args.threads:
        torch.set_num_threads(args.threads)
    loads = [(model, mode) for model in args.models for mode in args.quantize]
    taggers = [Tagger.load(model, device="cpu", quantize=mode) for model, mode in loads]
    corpus = read_corpus(args.data, taggers[0].config.corpus)[0]
    sentences, documents = [s.words for s in corpus], document_ids(corpus)
    words = sum(map(len, sentences))
    speeds: list[list[float]] = [[] for _ in taggers]
    for round_ in range(args.rounds + 1):  # round 0 warms up
        for index, tagger in enumerate(taggers):
            started = time.perf_counter()
            tagger.tag(sentences, documents=documents)
            if round_:
                speeds[index].append(words / (time.perf_counter() - started))
    print(f"{words:,} words, median of {args.rounds} interleaved rounds, torch threads {torch.get_num_threads()}")
    print("| model | --quantize (runs in) | words/s | load s (fresh process) | size MB |")
    print("| --- | --- | --- | --- | --- |")
    for (model, mode), tagger, speed in zip(loads, taggers, speeds):
        print(
            f"| {model} | {mode} ({tagger.quantize}) | {statistics.median(speed):,.0f} | {load_seconds(model):.2f} "
            f"| {size_mb(model):.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
