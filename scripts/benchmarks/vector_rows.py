"""How many pretrained vector rows a model needs: test F1 and model size when only the training words and the
N most frequent vector words keep their rows, and when the embedding is stored in fp16.

    python scripts/benchmarks/vector_rows.py runs/glove50-s1 --train eng.train --test eng.testb --tag-column 3 \\
        --vectors glove-6b-50d --limits 0 10000 50000 100000 200000 400000

The model must have been trained with every vector word in its vocabulary (vocab.vectors_limit = 0). Rows a
training run never updates (words absent from the training data) keep their pretrained values, so dropping
them after training gives the model that a run with ``vocab.vectors_limit = N`` would have trained, up to the
random draws of its initialisation.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tagger import Tagger  # noqa: E402
from tagger.config import CorpusConfig  # noqa: E402
from tagger.corpus import read_corpus  # noqa: E402
from tagger.model import build_model  # noqa: E402
from tagger.vectors import load_vectors  # noqa: E402
from tagger.vocab import SPECIALS  # noqa: E402


def trimmed(tagger: Tagger, keep: set[str], half: bool) -> Tagger:
    """The tagger with only the vocabulary words in ``keep`` (and the specials), fp16-rounded if ``half``."""
    ids = [i for i, word in enumerate(tagger.vocab.words) if i < len(SPECIALS) or word in keep]
    vocab = replace(tagger.vocab, words=tuple(tagger.vocab.words[i] for i in ids))
    state = dict(tagger.model.state_dict())
    embedding = state["word_embedding.weight"][ids]
    state["word_embedding.weight"] = embedding.half().float() if half else embedding
    model = build_model(tagger.config.model, vocab)
    model.load_state_dict(state)
    return Tagger(model, vocab, tagger.config, "cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--tag-column", type=int, default=-1)
    parser.add_argument("--vectors", required=True, help="the vocab.vectors the model was trained with")
    parser.add_argument("--limits", type=int, nargs="+", default=[0, 10_000, 50_000, 100_000, 200_000, 400_000])
    parser.add_argument(
        "--save",
        nargs=2,
        metavar=("LIMIT", "DIR"),
        help="also save the model trimmed to LIMIT vector words into DIR (as model.safetensors etc.)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    tagger = Tagger.load(args.model, device="cpu")
    corpus = CorpusConfig(tag_column=args.tag_column)
    train_forms = {tagger.vocab.normalise(w) for s in read_corpus(args.train, corpus)[0] for w in s.words}
    test = read_corpus(args.test, corpus)[0]
    vector_forms = [tagger.vocab.normalise(w) for w in load_vectors(args.vectors).words]
    dim = tagger.config.model.word_dim
    other_params = sum(p.numel() for n, p in tagger.model.state_dict().items() if n != "word_embedding.weight")
    print(
        "| vector words kept beside the training words | vocabulary | test F1 fp32 | test F1 fp16 "
        "| weights MB fp32 | weights MB fp16 |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for limit in args.limits:
        keep = train_forms | set(vector_forms[:limit])
        scores = [trimmed(tagger, keep, half).evaluate(test)[0].conlleval.micro.f1 for half in (False, True)]
        rows = len(trimmed(tagger, keep, False).vocab.words)
        sizes = [(other_params * 4 + rows * dim * width) / 1e6 for width in (4, 2)]
        print(
            f"| {limit:,} | {rows:,} | {100 * scores[0]:.2f} | {100 * scores[1]:.2f} "
            f"| {sizes[0]:.1f} | {sizes[1]:.1f} |",
            flush=True,
        )
    if args.save:
        from dataclasses import replace as with_changes

        from tagger.serialization import save_model

        limit = int(args.save[0])
        small = trimmed(tagger, train_forms | set(vector_forms[:limit]), False)
        config = with_changes(small.config, vocab=with_changes(small.config.vocab, vectors_limit=limit))
        save_model(args.save[1], config, small.vocab, small.model, tagger.metrics)
        print(f"saved the model with {len(small.vocab.words):,} words in {args.save[1]}")


if __name__ == "__main__":
    main()
