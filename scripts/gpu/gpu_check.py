#!/usr/bin/env python3
"""The GPU check of issue 20: every CUDA path run once on a real GPU, with its figures, in one call.

    bash scripts/gpu/gpu_check.sh                         # on a lent GPU machine: about 8 minutes (docs/gpu.md)
    bash scripts/gpu/gpu_check.sh --device cpu --tiny     # dry run on a CPU-only machine: well under a minute

Stages, in this order, each in a process of its own under its own time cap (a crash, a hang or a CUDA error in
one loses none of the others' results), each writing its JSON file under --out as it goes:

    env       GPU, driver, torch, CUDA and cuDNN versions, a first CUDA kernel   -> summary.json ("env")
    pytest    pytest -m cuda tests/test_cuda.py, outcome of every test           -> pytest.json
    train     tagger train --preset fast on CoNLL-2003 under train.max_minutes   -> train.json
    tagging   Tagger.tag words/s on eng.testb replicated to >= 1M words, batch
              256..16,384, fp32 and bf16, with a host/device profile             -> tagging.json
    lstm      a bare nn.LSTM of the fast model's shape over as many tokens       -> lstm.json
    accurate  tagger train --preset accurate, 2 epochs: seconds per epoch        -> train_accurate.json

summary.json holds every stage's status (ok, partial, failed, timeout, skipped), its seconds and the headline
figures; gpu_check.log (written by gpu_check.sh) the whole output. That is 7 files: the device tool returns 8 at
most, so models and other scratch go to --work (a temporary folder), never to --out.

This file holds the orchestrator, and imports nothing beyond the standard library and gpu_common.py (the
settings and helpers every stage shares), so a broken torch or CUDA still leaves summary.json saying so; the
stages are in gpu_stages.py (env, pytest, train, accurate) and gpu_speed.py (tagging, lstm), which import
gpu_common.py, never this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gpu_common import (
    FILES,
    OPTIONAL,
    ROOT,
    STAGES,
    Context,
    error_text,
    make_context,
    now_utc,
    read_json,
    run_capped,
    say,
    write_json,
)


def child_environment(ctx: Context) -> dict[str, str]:
    """The stages' environment: the repository importable without installing it, unbuffered output, and (for
    --block-imports) packages that fail to import, as on the GPU image, which has no spaCy or datasets."""
    paths = [str(ROOT)]
    if ctx.args.block_imports:
        blocked = ctx.work / "blocked"
        for name in ctx.args.block_imports.split(","):
            package = blocked / name.strip()
            package.mkdir(parents=True, exist_ok=True)
            (package / "__init__.py").write_text(
                f"raise ImportError('{name.strip()} is blocked by gpu_check.py --block-imports (as on the GPU image)')\n"
            )
        paths.insert(0, str(blocked))
    existing = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p not in paths]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths + existing), "PYTHONUNBUFFERED": "1"}


# ---------------------------------------------------------------------------------------------- orchestrator


def orchestrate(ctx: Context) -> int:
    ctx.out.mkdir(parents=True, exist_ok=True)
    ctx.work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    deadline = started + ctx.args.budget
    selected = [s for s in STAGES if s in ctx.args.stages.split(",")]
    summary: dict[str, Any] = {
        "check": "scripts/gpu/gpu_check.py (issue 20)",
        "mode": "tiny" if ctx.args.tiny else "full",
        "device_requested": ctx.device,
        "started_utc": now_utc(),
        "budget_seconds": ctx.args.budget,
        "host": platform.node(),
        "out": str(ctx.out),
        "work": str(ctx.work),
        "corpus": {k: str(v) if isinstance(v, Path) else v for k, v in ctx.corpus.items()} if ctx.corpus else None,
        "corpus_looked_in": ctx.looked_in,
        "block_imports": ctx.args.block_imports or "",
        "env": {},
        "stages": {},
        "headline": {},
    }
    for name in selected:  # a file left by an earlier run into the same folder must not pass for this run's
        (ctx.out / FILES[name] if name in FILES else ctx.work / "env.json").unlink(missing_ok=True)
    write_json(ctx.out / "summary.json", summary)
    environment = child_environment(ctx)
    for index, name in enumerate(selected):
        budget = ctx.budgets[name]
        held_back = sum(ctx.budgets[s].minimum for s in selected[index + 1 :] if s not in OPTIONAL)
        allowed = min(budget.seconds, deadline - time.time() - held_back)
        if allowed < budget.minimum:
            summary["stages"][name] = {
                "status": "skipped",
                "seconds": 0,
                "note": f"only {max(0.0, allowed):.0f} s left of the {ctx.args.budget:.0f} s "
                f"budget for it (needs {budget.minimum:.0f})",
            }
            say(f"\n=== {name}: skipped, {summary['stages'][name]['note']}")
            write_json(ctx.out / "summary.json", summary)
            continue
        say(f"\n=== {name} (cap {allowed:.0f} s) {now_utc()}")
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            *forwarded_arguments(ctx),
            "--stage",
            name,
            "--stage-budget",
            f"{allowed:.1f}",
        ]
        run = run_capped(command, allowed + 10, environment, keep=40)  # the stage keeps its own time; 10 s grace
        result = read_json(ctx.out / FILES[name]) if name in FILES else read_json(ctx.work / "env.json")
        status = (result or {}).get("status", "ok")
        if run["timed_out"]:
            status = "timeout"
        elif run["returncode"] != 0:
            status = "failed"
        entry = {
            "status": status,
            "seconds": run["seconds"],
            "returncode": run["returncode"],
            "file": FILES.get(name, "summary.json"),
        }
        if result and result.get("note"):
            entry["note"] = result["note"]
        if status in ("failed", "timeout"):
            entry["output_tail"] = run["output_tail"][-3000:]
        summary["stages"][name] = entry
        if name == "env":
            summary["env"] = result or {}
        summary["headline"] = headline(ctx, summary)
        write_json(ctx.out / "summary.json", summary)
        say(f"=== {name}: {status} in {run['seconds']:.0f} s")
    summary["seconds"] = round(time.time() - started, 1)
    summary["finished_utc"] = now_utc()
    summary["headline"] = headline(ctx, summary)
    write_json(ctx.out / "summary.json", summary)
    say("\n=== headline\n" + json.dumps(summary["headline"], indent=1))
    say("stages: " + ", ".join(f"{n} {s['status']}" for n, s in summary["stages"].items()))
    say(f"results in {ctx.out}: " + ", ".join(sorted(p.name for p in ctx.out.iterdir() if p.is_file())))
    return 0 if all(s["status"] in ("ok", "skipped") for s in summary["stages"].values()) else 1


def forwarded_arguments(ctx: Context) -> list[str]:
    args = ctx.args
    forwarded = ["--device", args.device, "--out", str(ctx.out), "--work", str(ctx.work)]
    forwarded += ["--tiny"] if args.tiny else []
    forwarded += ["--conll", args.conll] if args.conll else []
    forwarded += ["--words", str(args.words)] if args.words else []
    forwarded += ["--batch-sizes", args.batch_sizes] if args.batch_sizes else []
    return forwarded


def headline(ctx: Context, summary: dict[str, Any]) -> dict[str, Any]:
    """The figures issue 20 asks for, gathered from the stages' files (None where a stage gave none)."""
    env = summary.get("env") or {}
    line: dict[str, Any] = {
        "gpu": env.get("gpu_name"),
        "torch": env.get("torch"),
        "cuda": env.get("torch_cuda"),
        "cudnn": env.get("cudnn"),
    }
    tests = read_json(ctx.out / FILES["pytest"]) or {}
    line["cuda_tests"] = tests.get("counts")
    trained = read_json(ctx.out / FILES["train"]) or {}
    line["fast_test_f1"] = trained.get("test_score")
    line["fast_seconds_per_epoch"] = trained.get("seconds_per_epoch_after_first", trained.get("seconds_per_epoch"))
    line["fast_epochs_run"] = trained.get("epochs_run")
    tagging = read_json(ctx.out / FILES["tagging"]) or {}
    for precision in ("fp32", "bf16"):
        rows = [r for r in tagging.get("sweep", []) if r.get("precision") == precision and r.get("words_per_second")]
        best = max(rows, key=lambda r: r["words_per_second"], default=None)
        line[f"tagging_best_{precision}"] = (
            {"words_per_second": best["words_per_second"], "batch_size": best["batch_size"]} if best else None
        )
    lstm = read_json(ctx.out / FILES["lstm"]) or {}
    for precision in ("fp32", "bf16"):
        rows = [
            r
            for r in lstm.get("sweep", [])
            if r.get("precision") == precision and r.get("module") == "nn.LSTM" and r.get("tokens_per_second")
        ]
        best = max(rows, key=lambda r: r["tokens_per_second"], default=None)
        line[f"bare_lstm_best_{precision}"] = (
            {"tokens_per_second": best["tokens_per_second"], "batch_size": best["batch_size"]} if best else None
        )
    accurate = read_json(ctx.out / FILES["accurate"]) or {}
    line["accurate_seconds_per_epoch"] = accurate.get("seconds_per_epoch")
    return line


def run_stage(ctx: Context, name: str) -> int:
    """One stage in this process: its result file is written whatever happens, with the error if one did."""
    deadline = time.time() + (ctx.args.stage_budget or ctx.budgets[name].seconds)
    path = ctx.out / FILES[name] if name in FILES else ctx.work / "env.json"
    started = time.perf_counter()
    try:
        import gpu_speed
        import gpu_stages

        functions = {
            "env": gpu_stages.stage_env,
            "pytest": gpu_stages.stage_pytest,
            "train": gpu_stages.stage_train,
            "accurate": gpu_stages.stage_accurate,
            "tagging": gpu_speed.stage_tagging,
            "lstm": gpu_speed.stage_lstm,
        }
        result = functions[name](ctx, deadline)
    except Exception as error:  # noqa: BLE001 - the whole point: write what is known, with the error
        result = read_json(path) or {}
        result.update(status="failed", error=error_text(error))
        say(error_text(error))
    result["stage_seconds"] = round(time.perf_counter() - started, 2)
    result["finished_utc"] = now_utc()
    write_json(path, result)
    return 0 if result.get("status") in ("ok", "partial", "skipped") else 1


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (a dry run)")
    parser.add_argument(
        "--tiny", action="store_true", help="tiny sizes and the corpus in corpora/sample_ner: a dry run"
    )
    parser.add_argument(
        "--out",
        default=os.environ.get("OUT") or str(ROOT / "gpu_out"),
        help="where the JSON files go (default $OUT, else ./gpu_out)",
    )
    parser.add_argument("--work", default=None, help="scratch folder for models (default: a new temporary folder)")
    parser.add_argument("--conll", default=None, help="folder with eng.train, eng.testa, eng.testb")
    parser.add_argument("--budget", type=float, default=None, help="seconds for all stages (default 465; tiny 300)")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset of " + ",".join(STAGES))
    parser.add_argument("--words", type=int, default=None, help="tagging words and LSTM tokens (default 1,000,000)")
    parser.add_argument("--batch-sizes", default=None, help="comma-separated tagging batch sizes")
    parser.add_argument(
        "--block-imports",
        default=None,
        help="comma-separated packages made unimportable in the stages (spacy,datasets: as on the GPU image)",
    )
    parser.add_argument("--stage", default=None, choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--stage-budget", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.stages.split(",")) - set(STAGES)
    if unknown:
        parser.error(f"--stages: unknown {', '.join(sorted(unknown))}; expected some of {', '.join(STAGES)}")
    if args.budget is None:
        args.budget = 300.0 if args.tiny else 465.0
    if args.work is None:
        args.work = tempfile.mkdtemp(prefix="gpu_check_")
    return args


def main(argv: list[str] | None = None) -> int:
    ctx = make_context(parse_arguments(argv))
    if ctx.args.stage:
        return run_stage(ctx, ctx.args.stage)
    return orchestrate(ctx)


if __name__ == "__main__":
    sys.exit(main())
