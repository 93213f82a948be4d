"""What pretrained features know about entities: a linear probe per choice of word vectors and encoder layers.

    python scripts/probe.py --train eng.train --dev eng.testa --tag-column 3 --sentences 4000
    python scripts/probe.py ... --vectors glove-6b-50d spacy-en-md glove-6b-50d,spacy-en-md --encoder none

Word vectors (each ``--vectors`` as ``vocab.vectors`` names them; the word's own form, else its lower case; zeros
where a source has neither) carry no context. The encoder's features are each word's mean of its word pieces, as
``model.contextual`` computes them (the models use the mean of the last four layers), per choice of layers: each
alone, the mean of the last four, the mean of all six, all six side by side. On the first ``--sentences`` training
sentences, one linear softmax layer over the IOB2 tags is trained per choice and scored on dev: token accuracy
and conlleval entity F1 of the argmax tags. A probe is no tagger; what it shows is how much each choice knows,
and where in the encoder the entity knowledge is, so whether the models' layer mix leaves any behind.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tagger.config import CorpusConfig  # noqa: E402
from tagger.corpus import read_corpus  # noqa: E402
from tagger.evaluation.scoring import evaluate_tags  # noqa: E402
from tagger.features.contextual import LAST_LAYERS, Contextual  # noqa: E402
from tagger.vocab import CASINGS, word_to_casing  # noqa: E402


class EveryLayer(Contextual):
    """The encoder's features with every layer side by side, (num_words, layers * width), pooled as the models'
    are: a word's mean over its pieces commutes with taking or averaging layers."""

    def __init__(self, spec: str):
        super().__init__(spec)
        self.width = self.dim
        self.layers = len(self.encoder.layers)
        self.dim = self.layers * self.width

    def mix_layers(self, layers: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(layers, dim=-1)


def choices(width: int, layers: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """name -> features of that choice from the (num_words, layers * width) side-by-side features."""

    def layer(i: int) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: x[:, i * width : (i + 1) * width]

    def mean(first: int) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: x.view(len(x), layers, width)[:, first:].mean(dim=1)

    named = {f"layer {i + 1}": layer(i) for i in range(layers)}
    named[f"mean of the last {LAST_LAYERS} (the models')"] = mean(layers - LAST_LAYERS)
    named[f"mean of all {layers}"] = mean(0)
    named[f"all {layers} side by side"] = lambda x: x
    return named


def train_probe(features: torch.Tensor, labels: torch.Tensor, classes: int, epochs: int, seed: int) -> torch.nn.Linear:
    """A linear softmax layer on standardised features, Adam, minibatches of 256 words; each probe starts from
    ``seed``, whatever was probed before it."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    probe = torch.nn.Linear(features.shape[1], classes)
    optimiser = torch.optim.Adam(probe.parameters(), lr=1e-3)
    for _ in range(epochs):
        for batch in torch.randperm(len(features), generator=generator).split(256):
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(probe(features[batch]), labels[batch]).backward()
            optimiser.step()
    return probe


def vector_features(spec: str, sentences: list[list[str]], lowercase: bool) -> torch.Tensor:
    """(num_words, width): each word's vectors from the sources ``spec`` names, side by side, looked up as written
    (else in lower case) or, as a model with vocab.lowercase does, in lower case only."""
    from tagger.vectors import load_vectors, vector_sources

    columns = []
    for source in vector_sources(spec):
        vectors = load_vectors(source)
        index: dict[str, int] = {}
        for i, word in enumerate(vectors.words):
            index.setdefault(word, i)
        table = {}
        for word in {w for words in sentences for w in words}:
            row = index.get(word.lower()) if lowercase else index.get(word, index.get(word.lower()))
            table[word] = torch.zeros(vectors.dim) if row is None else torch.from_numpy(vectors.vector(row))
        columns.append(torch.stack([table[w] for words in sentences for w in words]))
    return torch.cat(columns, dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", required=True)
    parser.add_argument("--dev", required=True)
    parser.add_argument("--tag-column", type=int, default=-1)
    parser.add_argument("--sentences", type=int, default=4000, help="training sentences the probes learn from")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--vectors", nargs="*", default=["glove-6b-50d"], help="vocab.vectors values to probe")
    parser.add_argument("--encoder", default="minilm-l6-v2", help="model.contextual value to probe, or none")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    corpus = CorpusConfig(tag_column=args.tag_column)
    train = read_corpus(args.train, corpus)[0][: args.sentences]
    dev = read_corpus(args.dev, corpus)[0]
    tags = sorted({tag for s in train + dev for tag in s.tags})
    tag_ids = {tag: i for i, tag in enumerate(tags)}

    labels = torch.tensor([tag_ids[t] for s in train for t in s.tags])
    gold = [s.tags for s in dev]
    lengths = [len(s.words) for s in dev]

    def score(name: str, train_x: torch.Tensor, dev_x: torch.Tensor) -> None:
        mean, std = train_x.mean(dim=0), train_x.std(dim=0).clamp(min=1e-6)
        probe = train_probe((train_x - mean) / std, labels, len(tags), args.epochs, args.seed)
        with torch.no_grad():
            predicted = probe((dev_x - mean) / std).argmax(dim=1).tolist()
        rows, at = [], 0
        for length in lengths:
            rows.append([tags[i] for i in predicted[at : at + length]])
            at += length
        result = evaluate_tags(gold, rows, "spans")
        f1 = result.conlleval.micro.f1
        print(f"| {name} | {train_x.shape[1]} | {100 * result.token_accuracy:.2f} | {100 * f1:.2f} |", flush=True)

    print(f"\nLinear probes, {len(train):,} training sentences, {args.epochs} epochs, dev {args.dev}\n")
    print("| features | width | dev token accuracy | dev entity F1 (conlleval, argmax tags) |")
    print("| --- | --- | --- | --- |")
    train_words = len(labels)
    words = [s.words for s in train + dev]
    # the models' casing feature, one-hot: with lower-case lookups it is where case comes back
    casing = torch.nn.functional.one_hot(torch.tensor([word_to_casing(w) for ws in words for w in ws]), len(CASINGS))
    for spec in args.vectors:
        for lowercase, how in ((False, "as written"), (True, "in lower case, + casing")):
            features = vector_features(spec, words, lowercase)
            if lowercase:
                features = torch.cat([features, casing.float()], dim=1)
            score(f"{spec}, {how} (no context)", features[:train_words], features[train_words:])
    if args.encoder == "none":
        return
    start = time.perf_counter()
    encoder = EveryLayer(args.encoder)
    train_x, dev_x = (torch.cat(encoder.features([s.words for s in split])).float() for split in (train, dev))
    words = sum(len(s.words) for s in train + dev)
    print(f"(encoded {words:,} words in {time.perf_counter() - start:.0f} s, {torch.get_num_threads()} threads)")
    for name, pick in choices(encoder.width, encoder.layers).items():
        score(f"{args.encoder} {name}", pick(train_x), pick(dev_x))


if __name__ == "__main__":
    main()
