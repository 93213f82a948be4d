"""PyTorch and onnxruntime tagging the same pre-tokenised corpus, side by side in one run, fp32 and int8.

    python scripts/benchmarks/onnx_side_by_side.py runs/default eng.testb --exports /tmp/exports --rounds 3
    python scripts/benchmarks/onnx_side_by_side.py runs/accurate eng.testb --json side_by_side.json

The model is exported twice into ``--exports`` (fp32 and ``--quantize int8``; kept and reused when already there
with ``--reuse``). Then each round runs every configuration in a fresh process of its own, one after the other:
PyTorch fp32, PyTorch int8 (``Tagger.load(..., quantize="int8")``), onnxruntime fp32 and onnxruntime int8 (the
onnxruntime processes import ``tagger.portable`` only, so no torch). Each process reports

- start-up: seconds from the moment it was started to its first tagged sentence (interpreter, imports, loading
  the model, one sentence), as a user of ``tagger tag`` waits for it;
- words/s pre-tokenised: the median of ``--runs`` passes over the whole corpus (after one warm-up pass) through
  ``tag(words, documents=...)``, the documents as the corpus marks them;
- peak memory: the process's peak resident set (VmHWM);

and its predictions, from which the parent computes, against PyTorch fp32, the share of words tagged alike, and the
entity F1 (conlleval-compatible; token accuracy for word labels) of each configuration against the gold tags.
Figures of all rounds are reduced to their medians. Every process uses ``--threads`` threads (default: the cores
this process may use). Nothing is written to BENCHMARKS.md: paste the table printed (or ``--json``) there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGURATIONS = (  # name -> (runtime, precision)
    ("PyTorch fp32", "pytorch", "none"),
    ("PyTorch int8", "pytorch", "int8"),
    ("onnxruntime fp32", "onnxruntime", "fp32"),
    ("onnxruntime int8", "onnxruntime", "int8"),
)


def child(args: argparse.Namespace) -> None:
    """One configuration in this fresh process: start-up, speed, memory, predictions (written to ``--result``)."""
    if args.runtime == "pytorch":
        import torch

        from tagger.tagging.torch_tagger import Tagger

        torch.set_num_threads(args.threads)
        tagger = Tagger.load(args.model, device="cpu", quantize=args.precision)
    else:
        from tagger.tagging.onnx_tagger import PortableTagger

        tagger = PortableTagger.load(args.model, device="cpu", threads=args.threads)
    from tagger.config import corpus_config
    from tagger.corpus import document_ids, read_corpus

    sentences, _ = read_corpus(args.data, corpus_config(args.set, tagger.config.corpus))
    words = [s.words for s in sentences]
    documents = document_ids(sentences)
    tagger.tag(words[:1], batch_size=args.batch_size)
    startup = time.time() - args.started
    predictions = tagger.tag(words, batch_size=args.batch_size, documents=documents)  # warm-up
    count = sum(len(w) for w in words)
    speeds = []
    for _ in range(args.runs):
        start = time.perf_counter()
        predictions = tagger.tag(words, batch_size=args.batch_size, documents=documents)
        speeds.append(count / (time.perf_counter() - start))
    peak_mb = peak_memory_mb()
    result = {
        "startup_seconds": startup,
        "words_per_second": statistics.median(speeds),
        "passes": speeds,
        "peak_memory_mb": peak_mb,
        "words": count,
        "torch_imported": "torch" in sys.modules,
        "predictions": predictions,
    }
    Path(args.result).write_text(json.dumps(result), encoding="utf-8")


def peak_memory_mb() -> float:
    """This process's peak resident set: VmHWM, which starts afresh at exec (Linux's ru_maxrss is inherited from
    the parent through fork and exec, so a child would report at least the exporting parent's peak)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(model: Path, runtime: str, precision: str, args: argparse.Namespace, result: Path) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--runtime",
        runtime,
        "--precision",
        precision,
        "--result",
        str(result),
        "--threads",
        str(args.threads),
        "--runs",
        str(args.runs),
        "--batch-size",
        str(args.batch_size),
        "--started",
        repr(time.time()),
        str(model),
        str(args.data),
    ]
    for setting in args.set:
        command += ["--set", setting]
    environment = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    subprocess.run(command, check=True, env=environment)
    return json.loads(result.read_text(encoding="utf-8"))


def export_both(model: Path, exports: Path, reuse: bool) -> dict[str, Path]:
    from tagger.export import export_model

    folders = {"fp32": exports / "fp32", "int8": exports / "int8"}
    for precision, folder in folders.items():
        if reuse and (folder / "config.json").is_file():
            continue
        quantize = "int8" if precision == "int8" else "none"
        result = export_model(model, folder, quantize=quantize, overwrite=True)
        print(
            f"exported {precision}: {sum(result.files.values()) / 1e6:.1f} MB, largest emission difference "
            f"{result.max_difference:.1e} on the check batch",
            file=sys.stderr,
        )
    return folders


def score(gold: list[list[str]], predictions: list[list[str]], task: str) -> float | None:
    from tagger.evaluation import evaluate_tags

    evaluation = evaluate_tags(gold, predictions, task=task)
    return evaluation.conlleval.micro.f1 if task == "spans" else evaluation.token_accuracy


def agreement(ours: list[list[str]], reference: list[list[str]]) -> float:
    pairs = [(a, b) for x, y in zip(ours, reference) for a, b in zip(x, y)]
    return sum(a == b for a, b in pairs) / max(len(pairs), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="A PyTorch model directory (tagger train); exported here.")
    parser.add_argument("data", type=Path, help="A labelled corpus, e.g. eng.testb.")
    parser.add_argument("--exports", type=Path, default=None, help="Where to export (default: a temporary folder).")
    parser.add_argument("--reuse", action="store_true", help="Keep exports already in --exports.")
    parser.add_argument("--rounds", type=int, default=1, help="Rounds of all configurations; medians reported.")
    parser.add_argument("--runs", type=int, default=3, help="Timed passes per process, after one warm-up.")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--set", action="append", default=[], help="Corpus reading override, corpus.key=value.")
    parser.add_argument("--json", type=Path, default=None, help="Also write every figure to this JSON file.")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runtime", default="pytorch", help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="none", help=argparse.SUPPRESS)
    parser.add_argument("--result", default="", help=argparse.SUPPRESS)
    parser.add_argument("--started", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from tagger.config import corpus_config
    from tagger.corpus import read_corpus
    from tagger.portable import read_exported

    with tempfile.TemporaryDirectory() as scratch:
        folders = export_both(args.model, args.exports or Path(scratch) / "exports", args.reuse)
        exported = read_exported(folders["fp32"])
        sentences, _ = read_corpus(args.data, corpus_config(args.set, exported.config.corpus))
        gold = [s.tags for s in sentences]
        task = exported.vocab.task
        rounds: dict[str, list[dict]] = {name: [] for name, _, _ in CONFIGURATIONS}
        for number in range(args.rounds):
            for name, runtime, precision in CONFIGURATIONS:
                model = args.model if runtime == "pytorch" else folders[precision]
                result = run_child(model, runtime, precision, args, Path(scratch) / "result.json")
                rounds[name].append(result)
                print(f"round {number + 1}: {name}: {result['words_per_second']:,.0f} words/s", file=sys.stderr)
    reference = rounds["PyTorch fp32"][-1]["predictions"]
    rows = []
    for name, runtime, precision in CONFIGURATIONS:
        results = rounds[name]
        predictions = results[-1]["predictions"]
        median = lambda key: statistics.median(r[key] for r in results)  # noqa: B023 (used at once)
        rows.append(
            {
                "configuration": name,
                "runtime": runtime,
                "precision": "fp32" if precision == "none" else precision,
                "words_per_second": median("words_per_second"),
                "startup_seconds": median("startup_seconds"),
                "peak_memory_mb": median("peak_memory_mb"),
                "torch_imported": results[-1]["torch_imported"],
                "tags_agree_percent": 100 * agreement(predictions, reference),
                "score": score(gold, predictions, task),
            }
        )
    base = rows[0]["words_per_second"]
    metric = "entity F1" if task == "spans" else "token accuracy"
    print(
        f"\n{args.model} on {args.data}: {sum(len(t) for t in gold):,} words, {args.threads} threads, "
        f"batch {args.batch_size}, {args.runs} passes x {args.rounds} rounds\n"
    )
    print(
        f"| configuration | words/s | × PyTorch fp32 | start-up (s) | peak memory (MB) | tags = PyTorch fp32 | {metric} |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        value = "undefined" if row["score"] is None else f"{100 * row['score']:.2f}"
        print(
            f"| {row['configuration']} | {row['words_per_second']:,.0f} | {row['words_per_second'] / base:.2f} | "
            f"{row['startup_seconds']:.2f} | {row['peak_memory_mb']:,.0f} | {row['tags_agree_percent']:.3f}% | "
            f"{value} |"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"model": str(args.model), "data": str(args.data), "threads": args.threads, "rows": rows}, indent=2
            ),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
