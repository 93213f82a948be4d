"""Which words should raw text be split into? tagger's tokenizer (spaCy's rules with hyphenated words kept whole)
against spaCy's as it is, on two questions:

1. an NER model tagging CoNLL-2003 sentences given as text (each sentence's words joined by spaces, so the text
   tells nothing of CoNLL's tokens): the entity F1 of its character spans against the gold entities' (a span is
   right when its start, end and label all are);
2. UD EWT test's own text (its ``# text`` lines): how many of its gold words each tokenizer finds exactly (word F1
   over character spans; multiword tokens such as ``don't`` count as their parts).

    python scripts/benchmarks/raw_text_words.py tagger/models/en-ner --conll ../shared/corpora/conll2003/eng.testb \\
        --benchmarks BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from markdown_section import replace_section  # noqa: E402

from tagger import Tagger  # noqa: E402
from tagger.corpus import read_corpus  # noqa: E402
from tagger.schemes import detect_scheme, tags_to_spans  # noqa: E402
from tagger.tokenize import load_tokenizer, raw_text_sentences, split_texts  # noqa: E402

EWT_TEST = ROOT / "corpora" / "ud_en_ewt" / "en_ewt-ud-test.conllu.gz"
MARK_START, MARK_END = "<!-- raw-text-words:start -->", "<!-- raw-text-words:end -->"


def spacy_as_is():
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def f1(found: set, gold: set) -> tuple[float, float, float]:
    right = len(found & gold)
    precision, recall = right / max(len(found), 1), right / max(len(gold), 1)
    return 100 * precision, 100 * recall, 200 * precision * recall / max(precision + recall, 1e-12)


def entity_f1(model: Path, conll: Path, nlp) -> tuple[int, tuple[float, float, float]]:
    """Words read and (P, R, F1) of the model's entities in the text of ``conll``'s sentences."""
    sentences = [s for s in read_corpus(conll)[0] if s.words]
    scheme = detect_scheme([s.tags for s in sentences])
    texts, gold = [], set()
    for number, sentence in enumerate(sentences):
        starts, position = [], 0
        for word in sentence.words:
            starts.append(position)
            position += len(word) + 1
        texts.append((0, " ".join(sentence.words)))
        for label, first, end in tags_to_spans(sentence.tags, scheme):
            gold.add((number, starts[first], starts[end - 1] + len(sentence.words[end - 1]), label))
    read = list(raw_text_sentences(texts, nlp))
    tagger = Tagger.load(model)
    tagged = tagger.tag_sentences(
        [s for _, s, _ in read], False, "IOB2", 256, [n for n, _, _ in read], [o for *_, o in read]
    )
    found = {(n, e["start"], e["end"], e["label"]) for (n, _, _), t in zip(read, tagged) for e in t.entities()}
    return sum(len(s.words) for _, s, _ in read), f1(found, gold)


def ewt_texts() -> tuple[list[str], list[set[tuple[int, int]]]]:
    """Each EWT test sentence's text and its gold words' character spans (sentences whose words cannot be found in
    order in the text are left out)."""
    texts, golds, text, words = [], [], None, []
    for line in gzip.open(EWT_TEST, "rt", encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("# text = "):
            text = line[len("# text = ") :]
        elif not line:
            spans, position = set(), 0
            for word in words:
                at = text.find(word, position) if text is not None else -1
                if at < 0:
                    break
                spans.add((at, at + len(word)))
                position = at + len(word)
            else:
                if text is not None and words:
                    texts.append(text)
                    golds.append(spans)
            text, words = None, []
        elif not line.startswith("#"):
            columns = line.split("\t")
            if "-" not in columns[0] and "." not in columns[0]:
                words.append(columns[1])
    return texts, golds


def word_f1(nlp, texts: list[str], golds: list[set[tuple[int, int]]]) -> tuple[float, float, float]:
    found, gold = set(), set()
    for number, (spans, sentences) in enumerate(zip(golds, split_texts(texts, nlp))):
        gold |= {(number, *span) for span in spans}
        found |= {(number, token.start, token.end) for sentence in sentences for token in sentence}
    return f1(found, gold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="an NER model trained on CoNLL-style words")
    parser.add_argument("--conll", type=Path, required=True, help="CoNLL-2003 sentences (eng.testb)")
    parser.add_argument("--benchmarks", type=Path, help="write the table into this Markdown file")
    args = parser.parse_args()

    texts, golds = ewt_texts()
    rows = []
    for name, nlp in (("tagger's (hyphenated words kept)", load_tokenizer()), ("spaCy's as it is", spacy_as_is())):
        words, (p, r, f) = entity_f1(args.model, args.conll, nlp)
        wp, wr, wf = word_f1(nlp, texts, golds)
        rows.append(f"| {name} | {words:,} | {f:.2f} (P {p:.2f}, R {r:.2f}) | {wf:.2f} (P {wp:.2f}, R {wr:.2f}) |")
        print(rows[-1], flush=True)
    gold_words = sum(len(s.words) for s in read_corpus(args.conll)[0])
    table = "\n".join(
        [
            f"Command: `python scripts/benchmarks/raw_text_words.py {args.model} --conll {args.conll}"
            f"{' --benchmarks ' + str(args.benchmarks) if args.benchmarks else ''}`",
            "",
            f"| tokenizer | words read from {args.conll.name}'s text ({gold_words:,} CoNLL words) | "
            f"{args.model.name} entity F1 on that text | UD EWT test gold words found ({len(texts):,} sentences) |",
            "| --- | ---: | ---: | ---: |",
            *rows,
        ]
    )
    if args.benchmarks:
        replace_section(args.benchmarks, table, MARK_START, MARK_END)


if __name__ == "__main__":
    main()
