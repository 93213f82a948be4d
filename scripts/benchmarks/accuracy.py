"""Train and evaluate `tagger` on the shared corpora and record the figures in BENCHMARKS.md.

    python scripts/benchmarks/accuracy.py --task ner     # CoNLL-2003 English NER: train eng.train, dev eng.testa, test eng.testb
    python scripts/benchmarks/accuracy.py --task upos    # UD English EWT UPOS

Training runs through the real CLI (`tagger train`) so the figure is what a user gets; tagging speed is
the median of several timed passes of `Tagger.tag` over the pre-tokenised test set after a warm-up.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "tools"))  # conlleval.py, the independent scorer
from conlleval import evaluate_lines  # noqa: E402
from tagging_speed import tagging_speed  # noqa: E402

SHARED = Path(os.environ.get("TAGGER_SHARED_CORPORA", ROOT.parent / "shared" / "corpora"))

EWT = {
    split: SHARED / "ud_en_ewt" / f"en_ewt-ud-{name}.conllu"
    for split, name in (("train", "train"), ("dev", "dev"), ("test", "test"))
}
TASKS = {
    "ner": {
        "title": "CoNLL-2003 English NER (IOB1 as shipped; test = eng.testb)",
        "train": SHARED / "conll2003" / "eng.train",
        "dev": SHARED / "conll2003" / "eng.testa",
        "test": SHARED / "conll2003" / "eng.testb",
        "settings": ["corpus.tag_column=3"],
    },
    "upos": {"title": "UD English EWT UPOS", **EWT, "settings": []},
    "xpos": {"title": "UD English EWT XPOS (Penn Treebank tags)", **EWT, "settings": ["corpus.tag_field=xpos"]},
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, torch {torch.__version__}"


def train_command(task: dict, out: Path, extra: list[str]) -> list[str]:
    command = [
        "tagger",
        "train",
        "--train",
        str(task["train"]),
        "--dev",
        str(task["dev"]),
        "--test",
        str(task["test"]),
        "--out",
        str(out),
        "--overwrite",
    ]
    for setting in task["settings"] + extra:
        command += ["--set", setting]
    return command


def conlleval_agreement(model_dir: Path, test: Path) -> tuple[float, float]:
    """Headline F1 of `tagger evaluate` and of the independent scripts/tools/conlleval.py on its --predictions."""
    predictions = model_dir / "test_predictions.txt"
    shown = subprocess.run(
        ["tagger", "evaluate", str(model_dir), str(test), "--json", "--predictions", str(predictions)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    with open(predictions, encoding="utf-8") as lines:
        independent = evaluate_lines(lines)
    return 100 * json.loads(shown)["conlleval"]["micro"]["f1"], independent["f1"]


def run(name: str, out_root: Path, extra: list[str]) -> dict:
    task = TASKS[name]
    for split in ("train", "dev", "test"):
        if not task[split].exists():
            sys.exit(f"{task[split]} not found: benchmarks read ../shared/corpora (or $TAGGER_SHARED_CORPORA)")
    out = out_root / name
    command = train_command(task, out, extra)
    start = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - start
    metrics = json.loads((out / "metrics.json").read_text())
    speed, spread, _ = tagging_speed(out, task["test"])
    agreement = conlleval_agreement(out, task["test"]) if metrics["task"] == "spans" else None
    return {
        "conlleval_agreement": agreement,
        "task": name,
        "title": task["title"],
        "command": shlex.join(command),
        "wall_seconds": wall,
        "metrics": metrics,
        "words_per_second": speed,
        "words_per_second_sd": spread,
    }


def markdown(result: dict, when: str, host: str) -> str:
    test = result["metrics"]["test"]
    if test["task"] == "spans":
        score = (
            f"test entity F1 **{100 * test['conlleval']['micro']['f1']:.2f}** (conlleval-compatible), "
            f"strict IOB2 {100 * test['strict']['micro']['f1']:.2f}, token accuracy {100 * test['token_accuracy']:.2f}"
        )
    else:
        score = f"test accuracy **{100 * test['token_accuracy']:.2f}**"
    return "\n".join(
        [
            f"### {result['title']} — {when}",
            "",
            f"- machine: {host}",
            f"- command: `{result['command']}`",
            f"- {score}",
            f"- best epoch {result['metrics']['best_epoch']} of {result['metrics']['epochs_run']}; "
            f"training wall time {result['wall_seconds'] / 60:.1f} min (whole command, including data reading and scoring)",
            f"- tagging speed (pre-tokenised test set, CPU, median of 5 after warm-up): "
            f"{result['words_per_second']:,.0f} ± {result['words_per_second_sd']:,.0f} words/s",
            *(
                [
                    f"- `tagger evaluate` F1 {result['conlleval_agreement'][0]:.4f} vs independent `scripts/tools/conlleval.py` "
                    f"on its `--predictions` {result['conlleval_agreement'][1]:.4f}"
                ]
                if result["conlleval_agreement"]
                else []
            ),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=[*TASKS, "all"], default="all")
    parser.add_argument("--out", type=Path, default=ROOT / "runs", help="Where the trained models go.")
    parser.add_argument("--set", action="append", default=[], help="Extra config overrides for tagger train.")
    parser.add_argument("--record", type=Path, default=ROOT / "BENCHMARKS.md", help="Markdown file to append to.")
    args = parser.parse_args()
    when = datetime.date.today().isoformat()
    host = machine()
    for name in ("ner", "upos") if args.task == "all" else [args.task]:
        result = run(name, args.out, args.set)
        text = markdown(result, when, host)
        print(text)
        (args.out / name / "benchmark.json").write_text(json.dumps(result, indent=2))
        with open(args.record, "a", encoding="utf-8") as record:
            record.write(text + "\n")


if __name__ == "__main__":
    main()
