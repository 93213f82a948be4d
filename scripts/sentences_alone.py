"""Entity F1 of document-context models on a test set, by document and with every sentence tagged alone.

    python scripts/sentences_alone.py runs/ablation/ner/crf-document-layers-average/seed-1 [MODEL ...] \\
        --test ../shared/corpora/conll2003/eng.testb

A sentence "alone" is its own document: what a model sees when it gets one sentence at a time (a one-sentence
spaCy doc, lines of input without document marks).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--test", type=Path, required=True)
    args = parser.parse_args()

    from tagger import Tagger
    from tagger.corpus import document_ids, read_corpus
    from tagger.evaluation import evaluate_tags

    for model in args.models:
        tagger = Tagger.load(model, device="cpu")
        sentences, _ = read_corpus(args.test, tagger.config.corpus)
        words, gold = [s.words for s in sentences], [s.tags for s in sentences]
        scores = []
        for documents in (document_ids(sentences), list(range(len(sentences)))):
            evaluation = evaluate_tags(gold, tagger.tag(words, documents=documents), task="spans")
            scores.append(100 * evaluation.conlleval.micro.f1)
        print(f"{model}: by document {scores[0]:.2f}, each sentence alone {scores[1]:.2f}")


if __name__ == "__main__":
    main()
