"""Does storing the character LMs in fp16 change a score? A model is trained on states from the LMs in float32,
then scored on dev twice: with the LMs as its directory stores them (fp16, widened) and with the float32 LMs.

    python scripts/benchmarks/charlm_fp16.py --train eng.train --dev eng.testa --sentences 2000 --epochs 5 --out /tmp/fp16

The model directory always stores the LMs in fp16 (training rounds them first, so by default train and tag
see the same LM); here the rounding at training is turned off, so the scores differ by exactly what fp16
storage changes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tagger.config import CorpusConfig, load_config  # noqa: E402
from tagger.corpus import read_corpus  # noqa: E402
from tagger.features import charlm  # noqa: E402
from tagger.tagging.torch_tagger import Tagger  # noqa: E402
from tagger.training import DataSource, train  # noqa: E402


def float32_lms(tagger: Tagger, spec: str) -> None:
    """The tagger's LMs replaced by the float32 ones they were rounded from."""
    module = next(f.module for f in tagger.features if isinstance(f, charlm.CharLM))
    for direction, buffers in charlm.lms_from_folders(spec).items():
        lm = getattr(module, f"{direction}_lm")
        for name, tensor in buffers.items():
            getattr(lm, name).copy_(tensor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--lms", default="news-forward-fast,news-backward-fast")
    parser.add_argument("--sentences", type=int, default=2000, help="training sentences (the first N)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    torch.set_num_threads(1)
    charlm.STORED_DTYPE = torch.float32  # training sees the float32 LMs; the directory stores fp16 all the same
    config = load_config(
        None,
        [
            f"model.charlm={args.lms}",
            "model.head=crf",
            "model.hidden=128",
            f"train.epochs={args.epochs}",
            "train.threads=1",
            "train.device=cpu",
        ],
    )
    with tempfile.TemporaryDirectory() as scratch:
        subset = Path(scratch) / "train.conll"
        sentences, _ = read_corpus(args.train, CorpusConfig())
        blocks = ["\n".join(f"{w} {t}" for w, t in zip(s.words, s.tags, strict=True)) for s in sentences]
        subset.write_text("\n\n".join(blocks[: args.sentences]) + "\n", encoding="utf-8")
        train(config, DataSource(subset, args.dev), args.out, overwrite=True)
    dev, _ = read_corpus(args.dev, CorpusConfig())
    tagger = Tagger.load(args.out, device="cpu", threads=1)
    stored, stored_tags = tagger.evaluate(dev)
    float32_lms(tagger, args.lms)
    widened, widened_tags = tagger.evaluate(dev)
    words = sum(len(tags) for tags in stored_tags)
    same = sum(a == b for x, y in zip(stored_tags, widened_tags, strict=True) for a, b in zip(x, y, strict=True))
    print(f"dev F1, LMs stored in fp16: {100 * stored.conlleval.micro.f1:.2f}")
    print(f"dev F1, LMs in float32:     {100 * widened.conlleval.micro.f1:.2f}")
    print(f"same tag for {same} of {words} words")


if __name__ == "__main__":
    main()
