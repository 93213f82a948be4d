"""Does choosing what to annotate by the model's uncertainty (``tagger select``) beat choosing at random? A learning
curve simulation on CoNLL-2003, whose training set stands for the pool an annotator labels.

    python scripts/benchmarks/active_learning.py --work /tmp/active-learning \\
        --benchmarks BENCHMARKS.md --plot docs/active-learning.png

For each seed, ``--start`` (500) sentences of eng.train drawn at random are the first labelled set; each of
``--rounds`` (5) rounds adds ``--step`` (500) more from the rest of eng.train (the pool), chosen either at random or
by ``tagger.selection.select_sentences`` with the model of the round before (``--strategy`` least-confidence,
``--aggregate`` sum, near-duplicates at ``--max-similarity`` 0.8 skipped, as ``tagger select`` chooses by default).
Both curves of a seed start from the same 500 sentences and train with the same settings: ``--preset fast`` (its CRF
gives the posterior marginals select ranks by), at most ``--epochs`` 25 epochs with patience ``--patience`` 5 on
eng.testa's entity F1, ``train.threads=1`` and the seed; each model is scored once on eng.testb. The table gives
each round's mean ± sd over the seeds of test F1 and of the words labelled (uncertainty picks longer sentences),
and where the uncertainty curve first reaches the random curve's last F1.

Resumable, to run in pieces: each round ends by writing WORK/seed-S/STRATEGY/round-R.json (its labelled sentences,
scores and times); a round whose file exists is skipped, and one cut short is trained again. ``--seeds 1`` runs one
seed; ``--report-only`` rebuilds the table and the plot from the rounds done. WORK holds copies of CoNLL-2003's
sentences (the training files of each round), so it is refused inside this repository: CoNLL-2003 is not
redistributable.

``--train``, ``--dev`` and ``--test`` replace CoNLL-2003 (any corpus tagger reads): a smoke run on a tiny corpus is
``--start 20 --step 20 --rounds 2 --seeds 1 --epochs 2``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from markdown_section import replace_section  # noqa: E402

from tagger.atomic import write_atomic  # noqa: E402
from tagger.corpus import CORPUS_FORMATS, Sentence, read_corpus  # noqa: E402
from tagger.cpu import describe_cpu  # noqa: E402

MARK_START, MARK_END = "<!-- active-learning:start -->", "<!-- active-learning:end -->"
STRATEGIES = ("random", "uncertainty")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = ROOT.parent / "shared" / "corpora" / "conll2003"
    parser.add_argument("--work", type=Path, required=True, help="folder of the rounds (outside this repository)")
    parser.add_argument("--train", type=Path, default=data / "eng.train", help="the pool and the first sentences")
    parser.add_argument("--dev", type=Path, default=data / "eng.testa", help="early stopping")
    parser.add_argument("--test", type=Path, default=data / "eng.testb", help="each model's score")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--start", type=int, default=500, help="sentences labelled at random before round 1")
    parser.add_argument("--step", type=int, default=500, help="sentences added per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="another config override")
    parser.add_argument("--strategy", default="least-confidence", help="tagger select's --strategy")
    parser.add_argument("--aggregate", default="sum", help="tagger select's --aggregate")
    parser.add_argument("--max-similarity", type=float, default=0.8, help="tagger select's --max-similarity")
    parser.add_argument(
        "--report-only", action="store_true", help="train nothing: the table and plot of the rounds done"
    )
    parser.add_argument("--benchmarks", type=Path, help="replace this script's table in this Markdown file")
    parser.add_argument("--plot", type=Path, help="the learning curves as a PNG (default: WORK/active_learning.png)")
    return parser.parse_args()


def settings(args: argparse.Namespace, seed: int) -> list[str]:
    return [
        f"train.epochs={args.epochs}",
        f"train.patience={args.patience}",
        "train.threads=1",
        "train.device=cpu",
        f"train.seed={seed}",
        *args.overrides,
    ]


def round_file(args: argparse.Namespace, seed: int, strategy: str, number: int) -> Path:
    """Round 0, the random start, is shared by both strategies of a seed."""
    folder = args.work / f"seed-{seed}" / ("start" if number == 0 else strategy)
    return folder / f"round-{number}.json"


def train_round(
    args: argparse.Namespace, sentences: list[Sentence], labelled: list[int], seed: int, done: Path
) -> dict:
    """Train on the labelled sentences; the round's record, without its choice."""
    from tagger.config import load_config
    from tagger.training import DataSource, train

    folder = done.with_suffix("")
    train_file = folder / "train.conll"
    chosen = [dataclasses.replace(sentences[i], metadata={}) for i in labelled]  # no document marks: sentences
    CORPUS_FORMATS["conll"].write(chosen, train_file, "auto")
    config = load_config(None, settings(args, seed), args.preset)
    started = time.process_time()
    result = train(config, DataSource(train_file, args.dev, args.test), folder / "model", overwrite=True, keep="model")
    assert result.test is not None and result.dev.conlleval is not None and result.test.conlleval is not None
    return {
        "sentences": len(labelled),
        "words": sum(len(sentences[i].words) for i in labelled),
        "dev_f1": round(100 * result.dev.conlleval.micro.f1, 2),
        "test_f1": round(100 * result.test.conlleval.micro.f1, 2),
        "best_epoch": result.best_epoch,
        "epochs": result.metrics.get("epochs_run"),
        "stopped_by": result.stopped_by,
        "train_seconds": round(result.seconds, 1),
        "train_cpu_seconds": round(time.process_time() - started, 1),
    }


def choose(
    args: argparse.Namespace,
    sentences: list[Sentence],
    labelled: list[int],
    strategy: str,
    seed: int,
    number: int,
    previous: Path,
) -> tuple[list[int], float]:
    """The ``--step`` sentences of the pool this round adds, and the CPU seconds choosing them took."""
    taken = set(labelled)
    pool = [i for i in range(len(sentences)) if i not in taken]
    started = time.process_time()
    if strategy == "random":
        added = random.Random(seed * 1000 + number).sample(pool, min(args.step, len(pool)))
        return sorted(added), time.process_time() - started
    from tagger.selection import select_sentences
    from tagger.tagging.torch_tagger import Tagger

    model = previous.with_suffix("") / "model"
    if not (model / "config.json").exists():
        raise SystemExit(f"{model}: the model of the round before is gone; delete {previous} to train it again")
    tagger = Tagger.load(model, device="cpu", threads=1)
    selection = select_sentences(
        tagger,
        [sentences[i] for i in pool],
        args.step,
        args.strategy,
        args.aggregate,
        "sentence",
        args.max_similarity,
    )
    return sorted(pool[chosen.item] for chosen in selection.chosen), time.process_time() - started


def run_curve(args: argparse.Namespace, sentences: list[Sentence], seed: int, strategy: str) -> None:
    first = round_file(args, seed, strategy, 0)
    labelled = sorted(random.Random(seed).sample(range(len(sentences)), args.start))
    for number in range(args.rounds + 1):
        done = round_file(args, seed, strategy, number)
        if done.exists():
            labelled = json.loads(done.read_text(encoding="utf-8"))["labelled"]
            continue
        select_seconds = 0.0
        if number:
            previous = round_file(args, seed, strategy, number - 1) if number > 1 else first
            added, select_seconds = choose(args, sentences, labelled, strategy, seed, number, previous)
            labelled = sorted(labelled + added)
        print(f"seed {seed}, {strategy}, round {number}: training on {len(labelled):,} sentences", flush=True)
        record = {"seed": seed, "strategy": strategy if number else "start", "round": number}
        record.update(train_round(args, sentences, labelled, seed, done))
        record.update(select_cpu_seconds=round(select_seconds, 1), settings=settings(args, seed), preset=args.preset)
        record.update(
            selection={"strategy": args.strategy, "aggregate": args.aggregate, "max_similarity": args.max_similarity}
        )
        record["labelled"] = labelled
        write_atomic(done, json.dumps(record).encode("utf-8"))  # last: the round is done
        print(
            f"  test F1 {record['test_f1']:.2f} ({record['words']:,} words, {record['train_seconds']:.0f} s)",
            flush=True,
        )


def read_rounds(args: argparse.Namespace) -> dict[str, dict[int, list[dict]]]:
    """strategy -> round -> the records of the seeds done; round 0 belongs to both curves."""
    curves: dict[str, dict[int, list[dict]]] = {strategy: {} for strategy in STRATEGIES}
    for seed in args.seeds:
        for strategy in STRATEGIES:
            for number in range(args.rounds + 1):
                done = round_file(args, seed, strategy, number)
                if done.exists():
                    curves[strategy].setdefault(number, []).append(json.loads(done.read_text(encoding="utf-8")))
    return curves


def mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def reached_at(curves: dict[str, dict[int, list[dict]]]) -> str:
    """Where the uncertainty curve's mean test F1 first reaches the random curve's last mean."""
    last = max(curves["random"], default=None)
    if last is None or not curves["uncertainty"]:
        return "not yet known: the random curve's last round is not done"
    target = statistics.fmean(r["test_f1"] for r in curves["random"][last])
    size = statistics.fmean(r["sentences"] for r in curves["random"][last])
    for number in sorted(curves["uncertainty"]):
        records = curves["uncertainty"][number]
        if statistics.fmean(r["test_f1"] for r in records) >= target:
            sentences = statistics.fmean(r["sentences"] for r in records)
            words = statistics.fmean(r["words"] for r in records)
            return (
                f"uncertainty reaches random's F1 at {size:,.0f} sentences ({target:.2f}) with {sentences:,.0f} "
                f"sentences ({words:,.0f} words)"
            )
    return f"uncertainty does not reach random's F1 at {size:,.0f} sentences ({target:.2f}) within the rounds done"


def build_table(args: argparse.Namespace, curves: dict[str, dict[int, list[dict]]]) -> str:
    rows = [
        "| round | labelled sentences | random: test F1 | random: words | uncertainty: test F1 | uncertainty: words |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for number in range(args.rounds + 1):
        cells = [str(number), f"{args.start + number * args.step:,}"]
        for strategy in STRATEGIES:
            records = curves[strategy].get(number, [])
            if not records:
                cells += ["not run", "—"]
                continue
            f1, f1_sd = mean_sd([r["test_f1"] for r in records])
            words, words_sd = mean_sd([r["words"] for r in records])
            seeds = f"{len(records)} seed" + "s" * (len(records) > 1)
            cells += [f"{f1:.2f} ± {f1_sd:.2f} ({seeds})", f"{words:,.0f} ± {words_sd:,.0f}"]
        rows.append("| " + " | ".join(cells) + " |")
    # round 0 is in both curves: each training once
    records = [
        r
        for strategy, rounds in curves.items()
        for n, done in rounds.items()
        for r in done
        if n or strategy == "random"
    ]
    cpu = describe_cpu()
    seconds = sum(r["train_cpu_seconds"] + r["select_cpu_seconds"] for r in records)
    first = records[0] if records else {"settings": settings(args, 0), "preset": args.preset}
    notes = [
        "",
        f"- {reached_at(curves)}.",
        f"- Settings: `--preset {first['preset']}`, "
        + ", ".join(f"`{s}`" for s in first["settings"] if not s.startswith("train.seed"))
        + f"; seeds {', '.join(map(str, args.seeds))}; uncertainty = `tagger select --strategy {args.strategy} "
        f"--aggregate {args.aggregate} --max-similarity {args.max_similarity}` with the round before's model. "
        f"Test F1: conlleval entity F1 on {args.test.name} of the model best on {args.dev.name}; words: the words "
        "of the labelled sentences.",
        f"- CPU: {cpu.model}, one thread; {seconds / 3600:.1f} CPU hours for the {len(records)} trainings done "
        "(round 0 is shared by both curves of a seed).",
        "- Command: `python scripts/benchmarks/active_learning.py --work WORK --benchmarks BENCHMARKS.md "
        "--plot docs/active-learning.png`.",
    ]
    return "\n".join(rows + notes)


def draw(args: argparse.Namespace, curves: dict[str, dict[int, list[dict]]], path: Path) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    for strategy, color in zip(STRATEGIES, ("#4c72b0", "#c44e52")):
        numbers = sorted(curves[strategy])
        if not numbers:
            continue
        sizes = [args.start + n * args.step for n in numbers]
        stats = [mean_sd([r["test_f1"] for r in curves[strategy][n]]) for n in numbers]
        means = [m for m, _ in stats]
        axes.plot(sizes, means, marker="o", color=color, label=strategy)
        axes.fill_between(sizes, [m - s for m, s in stats], [m + s for m, s in stats], color=color, alpha=0.15)
    axes.set(
        xlabel="labelled sentences", ylabel="test entity F1", title=f"choosing what to annotate from {args.train.name}"
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=110, metadata={"Software": None})
    pyplot.close(figure)
    write_atomic(path, png.getvalue())


def main() -> None:
    args = parse_args()
    if args.work.resolve().is_relative_to(ROOT):
        raise SystemExit(
            f"{args.work}: inside this repository; WORK holds copies of the corpus: choose a folder outside"
        )
    if not args.report_only:
        for path in (args.train, args.dev, args.test):
            if not path.exists():
                raise SystemExit(f"{path} not found (CoNLL-2003 is not redistributable: see the README)")
        sentences = read_corpus(args.train)[0]
        if args.start + args.rounds * args.step > len(sentences):
            raise SystemExit(f"{args.train} has {len(sentences):,} sentences, fewer than the rounds need")
        for seed in args.seeds:
            for strategy in STRATEGIES:
                run_curve(args, sentences, seed, strategy)
    curves = read_rounds(args)
    table = build_table(args, curves)
    print(table)
    draw(args, curves, args.plot or args.work / "active_learning.png")
    if args.benchmarks:
        replace_section(args.benchmarks, table, MARK_START, MARK_END)


if __name__ == "__main__":
    main()
