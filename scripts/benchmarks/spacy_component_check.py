"""The spaCy component (with an NER model) checked against the tagger it wraps, on a labelled corpus, in one run:

1. ``nlp.pipe(..., batch_size=256)`` equals one document at a time, and equals ``Tagger.tag`` on the same words;
2. words/s of ``Tagger.tag`` (what ``tagger tag`` runs), of the component on pre-tokenised Docs and on raw texts,
   interleaved, median of ``--runs``; and ``tagger tag`` end to end (process start to last line written);
3. ``nlp.to_disk`` → ``spacy.load`` in a new process (original model moved away) gives identical entities on
   ``--docs`` raw texts;
4. ``python -m spacy evaluate`` (as is, and with --gold-preproc) on a DocBin made by ``tagger convert``, against
   ``tagger evaluate`` on the file.

    python scripts/benchmarks/spacy_component_check.py runs/ablation/ner/crf-document-layers-average/seed-2 \\
        ../shared/corpora/conll2003/eng.testb

Run it on a quiet machine: the speeds are only comparable within one run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def load_documents(model: Path, data: Path) -> list[list[list[str]]]:
    """The corpus's documents, each a list of sentences (word lists), read as the model was trained."""
    from tagger import Tagger
    from tagger.corpus import document_ids, read_corpus

    sentences = read_corpus(data, Tagger.load(model, device="cpu").config.corpus)[0]
    documents: list[list[list[str]]] = []
    for sentence, number in zip(sentences, document_ids(sentences)):
        if number == len(documents):
            documents.append([])
        documents[-1].append(sentence.words)
    return documents


def make_docs(nlp: Any, documents: list[list[list[str]]]) -> list[Any]:
    from spacy.tokens import Doc

    return [
        Doc(nlp.vocab, words=[w for s in d for w in s], sent_starts=[i == 0 for s in d for i in range(len(s))])
        for d in documents
    ]


def entities(docs: list[Any]) -> list[list[tuple[int, int, str]]]:
    return [[(e.start, e.end, e.label_) for e in doc.ents] for doc in docs]


def entities_from_tags(documents: list[list[list[str]]], tags: list[list[str]]) -> list[list[tuple[int, int, str]]]:
    """Tagger.tag's IOB2 tags as each document's (start, end, label) token spans."""
    from tagger.schemes import tags_to_spans

    sentence_tags, found = iter(tags), []
    for document in documents:
        offset, spans = 0, []
        for sentence in document:
            spans += [(offset + start, offset + end, label) for label, start, end in tags_to_spans(next(sentence_tags))]
            offset += len(sentence)
        found.append(spans)
    return found


def check_equal(name: str, first: list, second: list) -> str:
    differing = sum(a != b for a, b in zip(first, second)) + abs(len(first) - len(second))
    print(f"{name}: {'identical' if not differing else f'{differing} documents differ'}")
    if differing:
        sys.exit(1)
    return "identical"


def words_per_second(work: Callable[[], Any], words: int) -> float:
    start = time.perf_counter()
    work()
    return words / (time.perf_counter() - start)


def time_interleaved(tasks: dict[str, Callable[[], Any]], words: int, runs: int) -> dict[str, float]:
    """Median words/s of each task, the tasks taking turns so that machine noise hits them alike."""
    for work in tasks.values():
        work()  # warm-up
    speeds: dict[str, list[float]] = {name: [] for name in tasks}
    for _ in range(runs):
        for name, work in tasks.items():
            speeds[name].append(words_per_second(work, words))
    return {name: statistics.median(values) for name, values in speeds.items()}


def check_saved_pipeline(nlp_factory: Callable[[Path], Any], model: Path, texts: list[str], scratch: Path) -> str:
    copy = scratch / "model-copy"
    shutil.copytree(model, copy)
    nlp = nlp_factory(copy)
    expected = [[[e.start, e.end, e.label_] for e in doc.ents] for doc in nlp.pipe(texts)]
    nlp.to_disk(scratch / "pipeline")
    shutil.rmtree(copy)  # spacy.load must not need the original model
    (scratch / "texts.json").write_text(json.dumps(texts))
    program = (
        "import json, spacy, sys; nlp = spacy.load(sys.argv[1]); texts = json.load(open(sys.argv[2])); "
        "print(json.dumps([[[e.start, e.end, e.label_] for e in d.ents] for d in nlp.pipe(texts)]))"
    )
    output = subprocess.run(
        [sys.executable, "-c", program, str(scratch / "pipeline"), str(scratch / "texts.json")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return check_equal(f"to_disk → spacy.load in a new process, {len(texts):,} texts", json.loads(output), expected)


def compare_evaluations(model: Path, data: Path, scratch: Path) -> dict[str, float]:
    """Entity F1 (%) of ``tagger evaluate`` on the file and of ``spacy evaluate`` on the DocBin ``tagger convert``
    made of it (one Doc per document, sentence starts set, the corpus's tokens), as is and with --gold-preproc."""
    docbin = scratch / "test.spacy"
    subprocess.run(["tagger", "convert", str(data), str(docbin), "--tag-column", "3"], check=True)
    ours = subprocess.run(
        ["tagger", "evaluate", str(model), str(data), "--json"], capture_output=True, text=True, check=True
    ).stdout
    scores = {"tagger evaluate": 100 * json.loads(ours)["conlleval"]["micro"]["f1"]}
    scores["nlp.evaluate, whole documents with sentence starts"] = evaluate_documents(scratch / "pipeline", docbin)
    for flags in ([], ["--gold-preproc"]):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "spacy",
                "evaluate",
                str(scratch / "pipeline"),
                str(docbin),
                "--output",
                str(scratch / "spacy.json"),
                *flags,
            ],
            check=True,
            capture_output=True,
        )
        scores[" ".join(["spacy evaluate", *flags])] = 100 * json.loads((scratch / "spacy.json").read_text())["ents_f"]
    return scores


def evaluate_documents(pipeline: Path, docbin: Path) -> float:
    """Entity F1 (%) of ``nlp.evaluate`` when each predicted Doc is a whole document with its sentence starts."""
    import spacy
    from spacy.tokens import Doc, DocBin
    from spacy.training import Example

    nlp = spacy.load(pipeline)
    references = list(DocBin().from_disk(docbin).get_docs(nlp.vocab))
    examples = [
        Example(Doc(nlp.vocab, words=[t.text for t in ref], sent_starts=[t.is_sent_start for t in ref]), ref)
        for ref in references
    ]
    return 100 * nlp.evaluate(examples)["ents_f"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--docs", type=int, default=1000, help="Raw texts for the to_disk/spacy.load check.")
    args = parser.parse_args()

    import spacy

    from tagger import Tagger

    def make_nlp(model: Path) -> Any:
        nlp = spacy.blank("en")
        nlp.add_pipe("bilstm_tagger", config={"model": str(model), "device": "cpu"})
        return nlp

    documents = load_documents(args.model, args.data)
    words = sum(len(s) for d in documents for s in d)
    nlp, tagger = make_nlp(args.model), Tagger.load(args.model, device="cpu")
    component = nlp.get_pipe("bilstm_tagger")
    texts = [" ".join(w for s in d for w in s) for d in documents]
    sentences = [s for d in documents for s in d]
    numbers = [n for n, d in enumerate(documents) for _ in d]
    print(f"{len(documents):,} documents, {len(sentences):,} sentences, {words:,} words")

    batched = entities(list(nlp.pipe(make_docs(nlp, documents), batch_size=256)))
    check_equal(
        "nlp.pipe(docs, batch_size=256) vs one doc at a time",
        batched,
        entities([component(doc) for doc in make_docs(nlp, documents)]),
    )
    check_equal(
        "nlp.pipe(docs, batch_size=256) vs Tagger.tag",
        batched,
        entities_from_tags(documents, tagger.tag(sentences, documents=numbers)),
    )
    check_equal(
        "nlp.pipe(texts, batch_size=256) vs one text at a time",
        entities(list(nlp.pipe(texts, batch_size=256))),
        entities([nlp(text) for text in texts]),
    )

    speeds = time_interleaved(
        {
            "Tagger.tag (pre-tokenised; what tagger tag runs)": lambda: tagger.tag(sentences, documents=numbers),
            "component, nlp.pipe(pre-tokenised Docs, batch_size=256)": lambda: list(
                nlp.pipe(make_docs(nlp, documents), batch_size=256)
            ),
            "component, nlp.pipe(raw texts, batch_size=256) incl. tokenizer": lambda: list(
                nlp.pipe(texts, batch_size=256)
            ),
        },
        words,
        args.runs,
    )
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        start = time.perf_counter()
        subprocess.run(
            ["tagger", "tag", str(args.model), str(args.data), "-o", str(scratch / "out.conll"), "--device", "cpu"],
            check=True,
            capture_output=True,
        )
        speeds["tagger tag (CLI, process start to output written)"] = words / (time.perf_counter() - start)
        raw = [" ".join(s) for s in sentences[: args.docs]]
        check_saved_pipeline(make_nlp, args.model, raw, scratch)
        scores = compare_evaluations(args.model, args.data, scratch)
    for name, speed in speeds.items():
        print(f"| {name} | {speed:,.0f} |")
    for name, score in scores.items():
        print(f"entity F1, {name}: {score:.2f}")


if __name__ == "__main__":
    main()
