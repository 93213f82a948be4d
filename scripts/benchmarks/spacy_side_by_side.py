"""tagger and spaCy tagging the same pre-tokenised NER test set in one run, A/B interleaved.

    python scripts/benchmarks/spacy_side_by_side.py runs/default runs/fast --data ../shared/corpora/conll2003 \\
        --quantize none int8 --benchmarks BENCHMARKS.md

spaCy is an efficiency NER pipeline (``spacy init config --pipeline ner --optimize efficiency``) trained on
the same CoNLL-2003 train/dev files with ``spacy train``; it is trained once and cached in ``--spacy-cache``.
Each round times spaCy and then every tagger configuration on the same words: spaCy through ``nlp.pipe`` on Docs
made from the words (its tokenizer skipped), one Doc per document and one Doc per sentence, each in one process
and with ``n_process`` = cores; the "× best spaCy" column divides by the fastest of them; tagger through
``Tagger.tag``, as loaded by default (``--quantize auto``: an export directory, or a model directory's own export
where onnxruntime is installed, runs on onnxruntime; each row names the runtime and precision that ran). Each system's F1 is scored by the
same scorer (conlleval-compatible, seqeval). The "compute bound" column is words/s × the network's FLOPs per word
(``tagger.benchmark.flops_per_word``) ÷ the fp32 matmul rate measured in the same run on the same threads.

``--isa avx2`` runs PyTorch on its AVX2 kernels only (oneDNN, MKL and ATen limited by their environment
variables) on a CPU that has more: an approximation of an AVX2-only CPU's instruction set, not of its cores or
memory. onnxruntime has no such setting: its rows there still use every instruction set the CPU has. spaCy is not limited, so tagger's ratio to it there is, if anything, understated.
With ``--benchmarks``, the table replaces the one between this script's markers (per ``--isa``) in that file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

# Environment variables that keep PyTorch's kernels to AVX2, read when torch is first imported.
AVX2_ONLY = {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


def markers(isa: str) -> tuple[str, str]:
    name = "spacy-side-by-side" + ("" if isa == "native" else f"-{isa}")
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def train_spacy(data: Path, cache: Path) -> Path:
    """spaCy's efficiency NER trained on ``data``/eng.train (dev eng.testa), unless ``cache`` has it already."""
    from tagger.corpus import read_corpus, write_docbin

    best = cache / "model-best"
    if best.is_dir():
        return best
    cache.mkdir(parents=True, exist_ok=True)
    for split, name in (("train", "eng.train"), ("dev", "eng.testa")):
        write_docbin(read_corpus(data / name)[0], cache / f"{split}.spacy", attr="ents")
    spacy = [sys.executable, "-m", "spacy"]
    subprocess.run(
        spacy
        + [
            "init",
            "config",
            str(cache / "config.cfg"),
            "--lang",
            "en",
            "--pipeline",
            "ner",
            "--optimize",
            "efficiency",
            "--force",
        ],
        check=True,
    )
    start = time.perf_counter()
    subprocess.run(
        spacy
        + [
            "train",
            str(cache / "config.cfg"),
            "--output",
            str(cache),
            "--paths.train",
            str(cache / "train.spacy"),
            "--paths.dev",
            str(cache / "dev.spacy"),
        ],
        check=True,
    )
    (cache / "train_seconds.json").write_text(json.dumps({"seconds": time.perf_counter() - start}))
    return best


def spacy_tags(docs: list, sentence_lengths: list[list[int]]) -> list[list[str]]:
    """IOB2 tags per sentence from each doc's entities (a doc is one document of sentences)."""
    tags = []
    for doc, lengths in zip(docs, sentence_lengths):
        doc_tags = [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ in "BI" and t.ent_type_ else "O" for t in doc]
        start = 0
        for length in lengths:
            tags.append(doc_tags[start : start + length])
            start += length
    return tags


def median_speed(timings: list[float], words: int) -> tuple[float, float]:
    speeds = [words / t for t in timings]
    return statistics.median(speeds), statistics.pstdev(speeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", type=Path, nargs="+", help="tagger model directories")
    parser.add_argument("--data", type=Path, default=Path("../shared/corpora/conll2003"))
    parser.add_argument("--spacy-cache", type=Path, default=Path("runs/spacy-ner"))
    parser.add_argument(
        "--quantize", nargs="+", default=["auto"], help="tagger modes to time: auto (the default path) none int8 bf16"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, help="sentences per batch (default: each runtime's own)")
    parser.add_argument("--benchmarks", type=Path, help="replace this script's table in this Markdown file")
    parser.add_argument("--isa", choices=["native", "avx2"], default="native", help="PyTorch's instruction sets")
    args = parser.parse_args()
    if args.isa == "avx2":
        os.environ.update(AVX2_ONLY)  # before torch's first import, below

    import spacy
    import torch
    from spacy.tokens import Doc

    from tagger import Tagger
    from tagger.benchmark import compute_bound, runtime_versions
    from tagger.corpus import document_ids, read_corpus
    from tagger.cpu import describe_cpu
    from tagger.evaluation import evaluate_tags

    nlp = spacy.load(train_spacy(args.data, args.spacy_cache))
    test = read_corpus(args.data / "eng.testb")[0]
    sentences, documents, gold = [s.words for s in test], document_ids(test), [s.tags for s in test]
    by_document: dict[int, list[int]] = {}
    for index, document in enumerate(documents):
        by_document.setdefault(document, []).append(index)
    doc_words = [[w for i in members for w in sentences[i]] for members in by_document.values()]
    doc_lengths = [[len(sentences[i]) for i in members] for members in by_document.values()]
    words = sum(map(len, sentences))
    cores = os.cpu_count() or 1

    systems: dict[str, Callable[[], list[list[str]]]] = {}

    # spaCy gets both input forms a user could give it, and is compared in its faster one: one Doc per document
    # (-DOCSTART- to -DOCSTART-, long Docs) and one Doc per sentence (short Docs, which its batching prefers).
    forms = {"document Docs": (doc_words, doc_lengths), "sentence Docs": (sentences, [[len(s)] for s in sentences])}

    def spacy_run(processes: int, form: str) -> Callable[[], list[list[str]]]:
        words_per_doc, lengths = forms[form]

        def run() -> list[list[str]]:
            docs = [Doc(nlp.vocab, words=w) for w in words_per_doc]
            return spacy_tags(list(nlp.pipe(docs, batch_size=256, n_process=processes)), lengths)

        return run

    for form in forms:
        systems[f"spaCy, {form} (1 process)"] = spacy_run(1, form)
        if cores > 1:
            systems[f"spaCy, {form} ({cores} processes)"] = spacy_run(cores, form)
    bounds: dict[str, dict[str, float | None]] = {}
    for model in args.models:
        for mode in args.quantize:
            # As a user loads it, the threads as the thread policy chooses them (``tagger.threads``): the default
            # is what the table is about.
            tagger = Tagger.load(model, device="cpu", quantize=mode)
            batch_size = tagger.batch_size_for(args.batch_size)
            name = (
                f"tagger {model}"
                + (f" --quantize {mode}" if mode != "auto" else "")
                + f" ({tagger.runtime}, batches of {batch_size})"
            )
            systems[name] = lambda tagger=tagger: tagger.tag(sentences, batch_size=args.batch_size, documents=documents)
            bounds[name] = compute_bound(tagger, test)

    f1 = {name: evaluate_tags(gold, run(), task="spans").conlleval.micro.f1 for name, run in systems.items()}  # warm-up
    timings: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(args.rounds):
        for name, run in systems.items():
            start = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - start)

    spacy_best = max(median_speed(timings[n], words)[0] for n in systems if n.startswith("spaCy"))

    def share(name: str, speed: float) -> str:
        bound = bounds.get(name)
        if bound is None or bound["flops_per_word"] is None or not bound["matmul_flops_per_second"]:
            return "—"
        return f"{100 * speed * bound['flops_per_word'] / bound['matmul_flops_per_second']:.0f}%"

    rows = []
    for name, t in timings.items():
        speed, spread = median_speed(t, words)
        rows.append(
            f"| {name} | {speed:,.0f} ± {spread:,.0f} | {speed / spacy_best:.2f}× | {share(name, speed)} | "
            f"{100 * f1[name]:.2f} |"
        )
    versions = runtime_versions()
    rates = {b["matmul_flops_per_second"] for b in bounds.values() if b["matmul_flops_per_second"]}
    isa = (
        "PyTorch limited to its AVX2 kernels (" + ", ".join(f"{k}={v}" for k, v in AVX2_ONLY.items()) + ")"
        if args.isa == "avx2"
        else "PyTorch on every instruction set the CPU has"
    )
    table = "\n".join(
        [
            f"{date.today()}, {describe_cpu()}; {isa}; torch {torch.__version__} (threads as Tagger.load sets them), "
            f"onnxruntime {versions['onnxruntime'] or 'not installed'}, spaCy {spacy.__version__}; "
            f"eng.testb pre-tokenised ({words:,} words), median of {args.rounds} interleaved rounds after a warm-up; "
            f"fp32 matmul {max(rates, default=0) / 1e9:,.0f} GFLOP/s.",
            "",
            f"Command: `python {' '.join(sys.argv)}`",
            "",
            "| system | words/s | × best spaCy | compute bound | test F1 |",
            "| --- | --- | --- | --- | --- |",
            *rows,
        ]
    )
    print(table)
    if args.benchmarks:
        from markdown_section import replace_section

        replace_section(args.benchmarks, table, *markers(args.isa))


if __name__ == "__main__":
    main()
