"""The GPU check's stages that run commands: the environment, the cuda tests, and trainings (scripts/gpu/gpu_check.py
runs each in a process of its own; every function returns the stage's JSON record)."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gpu_common import FILES, ROOT, Context, read_json, run_capped, say, write_json


def stage_env(ctx: Context, deadline: float) -> dict[str, Any]:
    """The machine, the versions, the packages the check needs (and those the GPU image lacks), a first kernel."""
    result: dict[str, Any] = {
        "status": "ok",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "executable": sys.executable,
        "variables": {k: os.environ.get(k) for k in ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "PYTHONPATH", "OUT")},
    }
    path = ctx.work / "env.json"
    write_json(path, result)
    with contextlib.suppress(Exception):
        result["git_commit"] = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or None
        )
    with contextlib.suppress(Exception):
        smi = subprocess.run(
            [
                "nvidia-smi",
                "--query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit",
                "--format=csv,noheader",
            ],
            capture_output=True,
            text=True,
            timeout=20,
        )
        result["nvidia_smi"] = (smi.stdout or smi.stderr).strip()
    import importlib.metadata

    packages = {}
    for name in ("numpy", "seqeval", "scikit-learn", "safetensors", "typer", "rich", "matplotlib", "spacy", "datasets"):
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    for module in ("seqeval", "spacy", "datasets"):  # a package folder on PYTHONPATH has no metadata
        try:
            packages[f"{module}_importable"] = str(Path(__import__(module).__file__).parent)
        except Exception as error:  # noqa: BLE001 - ImportError, or whatever a half-installed package raises
            packages[f"{module}_importable"] = f"no: {error}"[:200]
    result["packages"] = packages
    started = time.perf_counter()
    import torch

    result["torch_import_seconds"] = round(time.perf_counter() - started, 2)
    result.update(
        torch=torch.__version__,
        torch_cuda=torch.version.cuda,
        cuda_available=torch.cuda.is_available(),
        cudnn=torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        torch_threads=torch.get_num_threads(),
    )
    say(
        f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {result['cudnn']}, "
        f"cuda available: {torch.cuda.is_available()}"
    )
    if torch.cuda.is_available():
        started = time.perf_counter()
        properties = torch.cuda.get_device_properties(0)
        x = torch.randn(4096, 4096, device="cuda")
        (x @ x).sum().item()
        torch.cuda.synchronize()
        result.update(
            gpu_name=properties.name,
            gpu_count=torch.cuda.device_count(),
            gpu_memory_gib=round(properties.total_memory / 2**30, 1),
            gpu_multiprocessors=properties.multi_processor_count,
            gpu_capability=f"{properties.major}.{properties.minor}",
            bf16_supported=torch.cuda.is_bf16_supported(),
            first_kernel_seconds=round(time.perf_counter() - started, 2),
            tf32={"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32},
            cudnn_benchmark=torch.backends.cudnn.benchmark,
        )
        say(f"GPU: {properties.name} ({result['gpu_memory_gib']} GiB, capability {result['gpu_capability']})")
    else:
        result["gpu_name"] = None
        say("GPU: none (torch.cuda.is_available() is False)")
        if ctx.device.startswith("cuda"):
            result["status"] = "failed"
            result["note"] = "--device cuda but torch sees no CUDA device"
    return result


def stage_pytest(ctx: Context, deadline: float) -> dict[str, Any]:
    """The tests marked cuda; each test's outcome from the JUnit XML, or from pytest's -v lines after a kill."""
    junit = ctx.work / "pytest.xml"
    junit.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "cuda",
        "tests/test_cuda.py",
        "-v",
        "-rA",
        "-p",
        "no:cacheprovider",
        f"--junitxml={junit}",
        f"--basetemp={ctx.work / 'pytest'}",
    ]
    # deterministic cuBLAS for the test that turns torch's deterministic algorithms on (harmless for the others)
    environment = {**os.environ, "CUBLAS_WORKSPACE_CONFIG": os.environ.get("CUBLAS_WORKSPACE_CONFIG", ":4096:8")}
    run = run_capped(command, deadline - time.time() - 5, environment, keep=400)
    tests = parse_junit(junit) if junit.is_file() else parse_verbose(run["output_tail"])
    counts = dict(collections.Counter(t["outcome"] for t in tests))
    failed = counts.get("failed", 0) + counts.get("error", 0)
    status = "failed" if failed or run["timed_out"] or run["returncode"] not in (0, 5) else "ok"
    note = "timed out: outcomes from the tests that finished" if run["timed_out"] else None
    if not tests and not run["timed_out"]:
        note = "no test ran (collection error?)"
        status = "failed"
    return {
        "status": status,
        "note": note,
        "counts": counts,
        "tests": tests,
        **run,
        "output_tail": "\n".join(run["output_tail"].splitlines()[-120:]),
    }


def parse_junit(path: Path) -> list[dict[str, Any]]:
    import xml.etree.ElementTree as ElementTree

    tests = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", None
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                message = ((child.get("message") or "") + "\n" + (child.text or "")).strip()[-2500:]
        tests.append(
            {"name": case.get("name"), "outcome": outcome, "seconds": float(case.get("time") or 0), "message": message}
        )
    return tests


def parse_verbose(output: str) -> list[dict[str, Any]]:
    tests = []
    for line in output.splitlines():
        if "tests/test_cuda.py::" in line:
            for word, outcome in (
                ("PASSED", "passed"),
                ("FAILED", "failed"),
                ("SKIPPED", "skipped"),
                ("ERROR", "error"),
            ):
                if f" {word}" in line:
                    tests.append({"name": line.split("::", 1)[1].split(" ")[0], "outcome": outcome})
                    break
    return tests


def train_command(
    ctx: Context, corpus: dict[str, Any], out: Path, preset: str, max_minutes: float, overrides: tuple[str, ...]
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "tagger",
        "train",
        "--train",
        str(corpus["train"]),
        "--dev",
        str(corpus["dev"]),
        "--test",
        str(corpus["test"]),
        "--out",
        str(out),
        "--preset",
        preset,
        "--device",
        ctx.device,
        "--overwrite",
        "--set",
        f"train.max_minutes={max_minutes:.2f}",
    ]
    if corpus.get("tag_column") is not None:
        command += ["--set", f"corpus.tag_column={corpus['tag_column']}"]
    for override in overrides:
        command += ["--set", override]
    return command


def stage_train(ctx: Context, deadline: float, preset: str = "fast", name: str = "train") -> dict[str, Any]:
    """``tagger train --preset PRESET`` under train.max_minutes (the stage's budget less start-up, the test
    scoring and the model card), then its log and scores."""
    if ctx.corpus is None:
        return {
            "status": "skipped",
            "note": "CoNLL-2003 not found in "
            + ", ".join(ctx.looked_in)
            + " (give --conll DIR or GPU_CHECK_CONLL; ../shared does not travel to the device: copy it into "
            ".whl/conll2003 with scripts/gpu/gpu_prepare.sh and carry it)",
        }
    out = ctx.fast_model if preset == "fast" else ctx.work / preset
    seconds = deadline - time.time()
    max_minutes = max(0.1, (seconds - 45) / 60) if not ctx.args.tiny else max(0.1, seconds / 60)
    overrides = ctx.sizes.train_overrides if preset == "fast" else ctx.sizes.accurate_overrides
    command = train_command(ctx, ctx.corpus, out, preset, max_minutes, overrides)
    result: dict[str, Any] = {
        "status": "partial",
        "preset": preset,
        "corpus": ctx.corpus["name"],
        "max_minutes": round(max_minutes, 2),
        "overrides": list(overrides),
    }
    write_json(ctx.out / FILES[name], result)
    run = run_capped(command, seconds - 5, keep=60)
    result.update(run)
    result.update(training_figures(out))
    if run["returncode"] == 0 and not run["timed_out"]:
        result["status"] = "ok"
    else:
        result["status"] = "failed"
        result["note"] = (
            "killed at the stage's time cap" if run["timed_out"] else f"exit code {run['returncode']}"
        ) + (f" after {result.get('epochs_run', 0)} epoch(s)")
    return result


def training_figures(out: Path) -> dict[str, Any]:
    """Seconds per epoch (EpochRecord.seconds: training and dev scoring) and scores from a model directory."""
    figures: dict[str, Any] = {}
    log_path = out / "train_log.jsonl"
    records = []
    if log_path.is_file():
        records = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    elapsed = 0.0
    epochs = []
    for record in records:
        elapsed += record["seconds"]
        epochs.append(
            {
                "epoch": record["epoch"],
                "seconds": round(record["seconds"], 2),
                "cumulative_seconds": round(elapsed, 1),
                "train_words_per_second": round(record["words_per_second"]),
                "dev_score": record["dev_score"],
                "loss": record["loss"],
                "lr": record["lr"],
            }
        )
    figures["epochs"] = epochs
    figures["epochs_run"] = len(epochs)
    if epochs:
        figures["seconds_per_epoch"] = round(sum(e["seconds"] for e in epochs) / len(epochs), 2)
        if len(epochs) > 1:
            figures["seconds_per_epoch_after_first"] = round(
                sum(e["seconds"] for e in epochs[1:]) / (len(epochs) - 1), 2
            )
        figures["best_dev_score"] = max(e["dev_score"] for e in epochs)
    metrics = read_json(out / "metrics.json")
    if metrics:
        figures.update(
            device=metrics.get("device"),
            train_seconds=metrics.get("train_seconds"),
            best_epoch=metrics.get("best_epoch"),
            task=metrics.get("task"),
        )
        for split in ("dev", "test"):
            scores = metrics.get(split) or {}
            if metrics.get("task") == "spans" and scores:
                figures[f"{split}_score"] = scores["conlleval"]["micro"]["f1"]
                figures[f"{split}_strict_f1"] = scores["strict"]["micro"]["f1"]
            elif scores:
                figures[f"{split}_score"] = scores.get("token_accuracy")
            if scores:
                figures[f"{split}_token_accuracy"] = scores.get("token_accuracy")
        figures["score_is"] = "conlleval entity F1" if metrics.get("task") == "spans" else "token accuracy"
    config = read_json(out / "config.json")
    if config:
        figures["settings"] = {"model": config["config"]["model"], "train": config["config"]["train"]}
    return figures


def stage_accurate(ctx: Context, deadline: float) -> dict[str, Any]:
    return stage_train(ctx, deadline, preset="accurate", name="accurate")
