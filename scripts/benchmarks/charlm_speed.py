"""How fast the character-LM feature runs, and what training keeps of it.

    python scripts/benchmarks/charlm_speed.py ../shared/corpora/conll2003/eng.testa --threads 1 2
    python scripts/benchmarks/charlm_speed.py eng.testa --lms news-forward-fast,news-backward-fast --sentences 1000 --bf16

Extraction (``CharLM.features``: both LMs over the sentences, batched by characters, as tagging computes them) is
timed on the first ``--sentences`` sentences of a corpus, per thread count, in wall and CPU time. ``--random-lms H`` times LMs of that
width with random weights (the speed of a float32 LSTM does not depend on its weights) where none is installed.
Training's kept features: every distinct sentence of the corpus at the feature's width in fp16.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tagger.config import CorpusConfig, load_config  # noqa: E402
from tagger.corpus import read_corpus  # noqa: E402
from tagger.features.charlm import CharLM  # noqa: E402


def random_lm_folders(root: Path, hidden: int) -> str:
    """A forward and a backward LM of Flair's sizes (275 characters, 100 wide) with random weights."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    from charlm_fixture import build_lm_folder

    forward = build_lm_folder(root / "forward", "forward", hidden=hidden, embedding=100)
    backward = build_lm_folder(root / "backward", "backward", hidden=hidden, embedding=100, seed=1)
    return f"{forward},{backward}"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--lms", default="news-forward-fast,news-backward-fast")
    parser.add_argument("--random-lms", type=int, default=0, metavar="H", help="random LMs of this width instead")
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per thread count; the best is kept")
    parser.add_argument("--bf16", action="store_true", help="also time the LMs in bfloat16")
    args = parser.parse_args()

    sentences = [s.words for s in read_corpus(args.corpus, CorpusConfig(tag_column=-1))[0]]
    with tempfile.TemporaryDirectory() as scratch:
        lms = random_lm_folders(Path(scratch), args.random_lms) if args.random_lms else args.lms
        feature = CharLM(load_config(None, [f"model.charlm={lms}"]).model)
    module = feature.build_module()
    sample = sentences[: args.sentences]
    words = sum(len(s) for s in sample)
    print(f"CPU: {cpu_model()}; torch {torch.__version__}; {len(sample)} sentences, {words} words, width {feature.dim}")
    for dtype in [torch.float32] + ([torch.bfloat16] if args.bf16 else []):
        module.to(dtype)
        for threads in args.threads:
            torch.set_num_threads(threads)
            feature.features(sample[:20])  # warm up the kernels
            wall, cpu = min(timed(feature, sample) for _ in range(args.repeat))
            name = str(dtype).removeprefix("torch.")
            print(f"{name}, {threads} thread(s): {words / wall:,.0f} words/s, {words / cpu:,.0f} words per CPU second")
    module.float()
    distinct = {tuple(s) for s in sentences}
    kept = sum(len(s) for s in distinct) * feature.dim * 2
    print(f"training keeps {len(distinct)} distinct sentences of {args.corpus.name}: {kept / 1e9:.2f} GB (fp16)")
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def timed(feature: CharLM, sentences: list[list[str]]) -> tuple[float, float]:
    """Wall and CPU seconds (on a shared machine the CPU time is what other processes do not change)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    feature.features(sentences)
    return time.perf_counter() - start, time.process_time() - start_cpu


if __name__ == "__main__":
    main()
