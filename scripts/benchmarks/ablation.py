"""Ablation: train each configuration with several seeds on the shared corpora; mean ± sd table.

    python scripts/benchmarks/ablation.py --task ner --seeds 3                    # every configuration below
    python scripts/benchmarks/ablation.py --task upos --seeds 3 --only softmax crf

Each (task, configuration, seed) run lives in runs/ablation/TASK/CONFIG/seed-N and is skipped when its
metrics.json exists, so an interrupted ablation resumes where it stopped. The table (scores as mean ± sd over
seeds, training wall time, tagging words/s of the best-on-dev seed) is printed and, with --record, appended
to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import ROOT, TASKS, machine, train_command  # noqa: E402
from tagging_speed import tagging_speed  # noqa: E402

# The ablation was run on the defaults of tagger 0.1.0, which stacked two BiLSTM layers; the rows keep them.
BASE = ["model.layers=2"]
CONFIGURATIONS = {  # name: (what it tests, settings on top of BASE and the defaults)
    "softmax": ("softmax head, char-CNN, casing, BIOES inside, 2 BiLSTM layers (the default before issue 6)", []),
    "one-layer": ("one BiLSTM layer (the default since issue 6)", ["model.layers=1"]),
    "crf": ("CRF head", ["model.head=crf"]),
    "document": ("document context (pooled word states)", ["model.document_context=true"]),
    "crf-document": ("CRF head + document context", ["model.head=crf", "model.document_context=true"]),
    "crf-document-layers-average": (
        "CRF + document context, also between BiLSTM layers, + weight average 0.999 "
        "(--preset accurate before context dropout)",
        ["model.head=crf", "model.document_context=true", "model.context_between_layers=true", "train.average=0.999"],
    ),
    "document-layers-average": (
        "the accurate settings with the softmax head",
        ["model.document_context=true", "model.context_between_layers=true", "train.average=0.999"],
    ),
    "accurate-context-dropout": (
        "= --preset accurate: crf-document-layers-average + context dropout 0.25 (sentences also trained alone)",
        [
            "model.head=crf",
            "model.document_context=true",
            "model.context_between_layers=true",
            "train.average=0.999",
            "train.context_dropout=0.25",
        ],
    ),
    "crf-256-singleton": (
        "CRF head, BiLSTM 256, singleton → <unk> 0.5, ≤ 60 epochs, patience 10",
        ["model.head=crf", "model.hidden=256", "train.singleton_unk=0.5", "train.epochs=60", "train.patience=10"],
    ),
    "char-lstm": ("char-BiLSTM instead of char-CNN", ["model.char_encoder=lstm", "model.char_filters=25"]),
    "no-casing": ("without the casing feature", ["model.casing_dim=0"]),
    "iob2-inside": ("IOB2 instead of BIOES inside", ["train.scheme=IOB2"]),
    "fast": ("--preset fast", ["--preset", "fast", "model.layers=1"]),
    # Pretrained knowledge installed from the package index (issue 15): each row is the accurate settings plus it.
    "vectors": ("= --preset vectors: accurate + GloVe 6B 50d, frozen, 100,000 rows", ["--preset", "vectors"]),
    "vectors-finetuned": (
        "accurate + GloVe 6B 50d, fine-tuned, 100,000 rows",
        ["--preset", "vectors", "model.freeze_vectors=false"],
    ),
    "spacy-md": (
        "accurate + spaCy md 300d, frozen, every word (its table has no frequency order to limit by)",
        ["--preset", "vectors", "vocab.vectors=spacy-en-md", "vocab.vectors_limit=0", "model.word_dim=300"],
    ),
    "glove-and-spacy-md": (
        "accurate + GloVe 6B 50d and spaCy md 300d side by side, frozen, GloVe's 100,000 rows",
        ["--preset", "vectors", "vocab.vectors=glove-6b-50d,spacy-en-md", "model.word_dim=350"],
    ),
    "contextual": ("= --preset contextual: vectors + frozen MiniLM-L6 features", ["--preset", "contextual"]),
}


def run_seed(task: str, name: str, seed: int, out_root: Path, overrides: list[str] = ()) -> dict:
    out = out_root / task / name / f"seed-{seed}"
    if (out / "metrics.json").exists() and (out / "wall.json").exists():
        metrics, wall = json.loads((out / "metrics.json").read_text()), json.loads((out / "wall.json").read_text())
        return {**metrics, **wall, "seed": seed}
    settings = CONFIGURATIONS[name][1]
    extra = BASE + [s for s in settings if "=" in s] + list(overrides)
    command = train_command(TASKS[task], out, extra) + ["--seed", str(seed)]
    command += [s for s in settings if "=" not in s]  # flags such as --preset accurate
    start = time.perf_counter()
    subprocess.run(command, check=True)
    (out / "wall.json").write_text(json.dumps({"wall_seconds": time.perf_counter() - start, "command": command}))
    return run_seed(task, name, seed, out_root, overrides)


def score(split: dict, mode: str = "conlleval") -> float:
    return 100 * (split[mode]["micro"]["f1"] if split["task"] == "spans" else split["token_accuracy"])


def summarise(task: str, name: str, runs: list[dict], out_root: Path) -> str:
    dev, test = [score(r["dev"]) for r in runs], [score(r["test"]) for r in runs]
    walls = [r["wall_seconds"] / 60 for r in runs]
    best = max(range(len(runs)), key=lambda i: dev[i])
    speed, _, _ = tagging_speed(out_root / task / name / f"seed-{runs[best]['seed']}", TASKS[task]["test"])

    def mean_sd(values: list[float]) -> str:
        return f"{statistics.mean(values):.2f} ± {statistics.stdev(values) if len(values) > 1 else 0:.2f}"

    strict = [score(r["test"], "strict") for r in runs]
    return (
        f"| {name} | {CONFIGURATIONS[name][0]} | {len(runs)} | {mean_sd(dev)} | {mean_sd(test)} | {mean_sd(strict)} | "
        f"{', '.join(f'{t:.2f}' for t in test)} | {statistics.mean(walls):.1f} | {speed:,.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=list(TASKS), required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed-list", type=int, nargs="*", help="Train only these seeds (e.g. one per process).")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        help="Extra override for every run, e.g. train.threads=1 when runs share the CPU.",
    )
    parser.add_argument("--only", nargs="*", choices=list(CONFIGURATIONS), help="A subset of the configurations.")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "ablation")
    parser.add_argument("--record", action="store_true", help="Append the table to BENCHMARKS.md.")
    parser.add_argument(
        "--finished-only", action="store_true", help="Train nothing: tabulate the finished seeds of each configuration."
    )
    args = parser.parse_args()
    rows = []
    for name in args.only or CONFIGURATIONS:
        seeds = args.seed_list or range(1, args.seeds + 1)
        if args.finished_only:
            seeds = [seed for seed in seeds if (args.out / args.task / name / f"seed-{seed}" / "wall.json").exists()]
        runs = [run_seed(args.task, name, seed, args.out, args.set) for seed in seeds]
        if runs:
            rows.append(summarise(args.task, name, runs, args.out))
    metric = "entity F1 (conlleval)" if args.task == "ner" else "accuracy"
    table = "\n".join(
        [
            f"### Ablation: {TASKS[args.task]['title']} — {datetime.date.today().isoformat()}",
            "",
            f"- machine: {machine()}",
            f"- command: `python scripts/benchmarks/ablation.py {' '.join(sys.argv[1:])}`",
            "",
            f"| config | what | seeds | dev {metric} | test {metric} | test strict IOB2 | test per seed | train min | tag words/s |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )
    print(table)
    if args.record:
        with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as record:
            record.write("\n" + table)


if __name__ == "__main__":
    main()
