"""What ``--quantize auto`` (the default) changes against ``--quantize none``: tagging speed, side by side, and the
tags and F1 on a corpus. ``auto`` is bf16 for models whose features come from frozen networks (character LMs, a
contextual encoder) on a CPU with native bf16, fp32 otherwise (``tagger.precision.tagging_mode``).

    python scripts/benchmarks/auto_precision.py runs/charlm-s2 runs/charlm-minilm-s1 \\
        --corpus ../shared/corpora/conll2003/eng.testb --tag-column 3 --threads 1

Speed: the first ``--sentences`` sentences, tagged by each precision in turn for ``--rounds`` rounds on
``--threads`` threads (pre-tokenised, documents as the file marks them); the best round of each. Agreement: every
sentence of the corpus tagged in both precisions; F1 is conlleval's (``Tagger.evaluate``). On a CPU without native
bf16 (AVX-512 BF16 or AMX) ``auto`` is ``none``, and the script says so instead of timing the same thing twice;
a model ``auto`` keeps in fp32 is shown as such.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tagger import Tagger  # noqa: E402
from tagger.config import CorpusConfig  # noqa: E402
from tagger.corpus import document_ids, read_corpus  # noqa: E402
from tagger.cpu import describe_cpu  # noqa: E402
from tagger.precision import tagging_mode  # noqa: E402

MODES = ("none", "auto")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--tag-column", type=int, default=-1)
    parser.add_argument("--sentences", type=int, default=300, help="sentences timed per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    cpu = describe_cpu()
    print(f"{cpu}; torch {torch.__version__}; {args.threads} thread(s)")
    if tagging_mode("auto", torch.device("cpu"), frozen_networks=True) == "none":
        print("this CPU has no native bf16: --quantize auto is --quantize none here")
        return
    sentences = read_corpus(args.corpus, CorpusConfig(tag_column=args.tag_column))[0]
    words = [s.words for s in sentences]
    documents = document_ids(sentences)
    timed = words[: args.sentences]
    timed_words = sum(len(w) for w in timed)
    print("| model | words/s, none | words/s, auto | speed-up | tags equal | F1 none | F1 auto |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for model in args.models:
        taggers = {mode: Tagger.load(model, device="cpu", quantize=mode, threads=args.threads) for mode in MODES}
        if taggers["auto"].quantize == "none":
            print(f"| {model} | auto keeps it in fp32 (no character LMs or contextual features) | | | | | |")
            continue
        best = dict.fromkeys(MODES, float("inf"))
        for _ in range(args.rounds):
            for mode in MODES:
                start = time.perf_counter()
                taggers[mode].tag(timed, documents=documents[: len(timed)])
                best[mode] = min(best[mode], time.perf_counter() - start)
        tags, f1 = {}, {}
        for mode in MODES:
            tags[mode] = [t for sentence in taggers[mode].tag(words, documents=documents) for t in sentence]
            conll = taggers[mode].evaluate(sentences)[0].conlleval
            f1[mode] = f"{100 * conll.micro.f1:.2f}" if conll is not None else "—"
        same = sum(a == b for a, b in zip(tags["none"], tags["auto"], strict=True))
        speed = {mode: timed_words / best[mode] for mode in MODES}
        print(
            f"| {model} | {speed['none']:,.0f} | {speed['auto']:,.0f} | {speed['auto'] / speed['none']:.2f}× | "
            f"{same:,} of {len(tags['none']):,} | {f1['none']} | {f1['auto']} |"
        )


if __name__ == "__main__":
    main()
