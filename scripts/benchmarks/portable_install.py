"""What leaving PyTorch out saves: install size and cold start of `tagger tag`, runtime-only venv beside a PyTorch one.

    python scripts/benchmarks/portable_install.py
    python scripts/benchmarks/portable_install.py --model runs/default --input eng.testb --runs 5 --work /tmp/portable

Builds two fresh virtual environments (``python -m venv``, no system site-packages), each with tagger installed
``--no-deps`` from a copy of this repository plus the dependencies one path needs, from the package index:

- runtime only: pyproject's ``portable`` extra (onnxruntime, numpy, typer, rich), and ``tagger tag EXPORT``;
- PyTorch: ``--torch`` (default torch==2.13.0; ``--torch-index`` adds an index such as PyTorch's CPU one), safetensors,
  numpy, typer and rich, and ``tagger tag MODEL`` (what tagging pre-tokenised text needs of tagger's dependencies).

It then reports, for each, the size of its site-packages (``du``), the distributions installed, and the cold start
of ``tagger tag``: seconds from starting the process to its first line of tagged output (interpreter, imports,
loading the model, tagging the first file), median of ``--runs`` fresh processes after one untimed run (which
leaves the bytecode and the files in the page cache, as on a machine that has run it once). Both paths tag the same
``--input`` file, and their tags are checked to agree. The model is ``--model`` (a model directory), or one trained
here for ten epochs on corpora/sample_ner; it is exported with ``tagger export`` by this environment, which needs
torch and onnx. Prints a markdown table; nothing is written to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "corpora" / "sample_ner"
SOURCE_FILES = ("pyproject.toml", "README.md", "tagger")
PORTABLE = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"][
    "portable"
]
PYTORCH_RUNTIME = ["safetensors>=0.4", "numpy>=1.24", "typer>=0.12", "rich>=13"]  # beside --torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="A trained model directory (default: train a small one here).")
    parser.add_argument("--input", type=Path, default=SAMPLE / "dev.conll", help="The file both paths tag.")
    parser.add_argument("--runs", type=int, default=5, help="Timed cold starts per path (the median is reported).")
    parser.add_argument("--torch", default="torch==2.13.0", help="The PyTorch requirement of the PyTorch venv.")
    parser.add_argument("--torch-index", help="An extra package index for --torch, e.g. PyTorch's CPU wheels.")
    parser.add_argument("--work", type=Path, help="Folder for the model, export and venvs (default: a temporary one).")
    parser.add_argument("--json", type=Path, help="Also write every figure as JSON to this file.")
    args = parser.parse_args()
    if args.work is None:
        with tempfile.TemporaryDirectory(prefix="portable-install-") as work:
            report(args, Path(work))
    else:
        args.work.mkdir(parents=True, exist_ok=True)
        report(args, args.work)


def report(args: argparse.Namespace, work: Path) -> None:
    model = args.model or train_small_model(work / "model")
    export = work / "export"
    if not (export / "config.json").is_file():
        tagger_command("export", model, "--out", export, "--overwrite")
    source = copy_source(work / "source")
    torch_requirements = [args.torch] + (["--extra-index-url", args.torch_index] if args.torch_index else [])
    paths = [
        ("runtime only (onnxruntime)", "portable", [*PORTABLE], export),
        ("PyTorch", "pytorch", [*torch_requirements, *PYTORCH_RUNTIME], model),
    ]
    results = []
    for label, name, requirements, model_dir in paths:
        print(f"building the {label} venv ...", file=sys.stderr)
        venv = build_venv(work / f"venv-{name}", requirements, source)
        starts, tags = cold_starts(venv, model_dir, args.input, args.runs, work)
        site = site_packages(venv)
        results.append(
            {
                "path": label,
                "model": str(model_dir),
                "requirements": [r for r in requirements if not r.startswith("--") and r != args.torch_index],
                "distributions": len(list(site.glob("*.dist-info"))),
                "site_packages_mb": disk_usage_mb(site),
                "torch": module_version(venv, "torch"),
                "cold_start_seconds": statistics.median(starts),
                "cold_starts": starts,
                "tags": tags,
            }
        )
    if results[0]["tags"] != results[1]["tags"]:
        sys.exit("the two paths tagged the input differently: see tests/test_export.py")
    print(markdown_table(results, args))
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.items() if k != "tags"} for r in results], indent=2))


def tagger_command(*arguments: object) -> None:
    """A tagger command in this environment (which trains and exports; it needs torch and onnx)."""
    subprocess.run([sys.executable, "-m", "tagger", *map(str, arguments)], check=True, cwd=REPO)


def train_small_model(out: Path) -> Path:
    if not (out / "config.json").is_file():
        tagger_command(
            "train", "--train", SAMPLE / "train.conll", "--dev", SAMPLE / "dev.conll", "--out", out, "--epochs", 10,
            "--overwrite",
        )  # fmt: skip
    return out


def copy_source(folder: Path) -> Path:
    """What building tagger's wheel reads, copied, so that the build leaves nothing in the repository."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in SOURCE_FILES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, folder / name)
    return folder


def build_venv(venv: Path, requirements: list[str], source: Path) -> Path:
    """A fresh venv (no pip of its own: this environment's pip installs into it) with ``requirements`` from the
    package index and tagger without its dependencies."""
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    for arguments in (requirements, ["--no-deps", str(source)]):
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet", *arguments],
            check=True,
            stderr=subprocess.DEVNULL,  # the package index's own warnings; a failure still stops the script
        )
    return venv


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def cold_starts(venv: Path, model_dir: Path, data: Path, runs: int, cwd: Path) -> tuple[list[float], list[str]]:
    """Seconds to the first line of ``tagger tag``'s output, per fresh process (one untimed run first); the tags."""
    seconds, tags = [], []
    for run in range(runs + 1):
        with tempfile.TemporaryFile("w+") as errors:  # a file, not a pipe: it never fills up and blocks the child
            start = time.perf_counter()
            process = subprocess.Popen(
                [str(venv / "bin" / "tagger"), "tag", str(model_dir), str(data.resolve()), "--format", "jsonl"],
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                cwd=cwd,
                env=clean_environment(),
            )
            first = process.stdout.readline()
            elapsed = time.perf_counter() - start
            output = first + process.stdout.read()
            if process.wait() != 0 or not first:
                errors.seek(0)
                sys.exit(f"{venv.name}: tagger tag failed ({process.returncode}): {errors.read().strip()}")
        if run:
            seconds.append(elapsed)
        tags = [tag for line in output.splitlines() if line.strip() for tag in json.loads(line)["tags"]]
    return seconds, tags


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def disk_usage_mb(folder: Path) -> float:
    done = subprocess.run(["du", "-sk", str(folder)], check=True, capture_output=True, text=True)
    return int(done.stdout.split()[0]) / 1024


def module_version(venv: Path, module: str) -> str | None:
    """The version of ``module`` importable in ``venv``, or None where it is not installed."""
    code = f"import importlib.util as u; print(__import__('{module}').__version__ if u.find_spec('{module}') else '')"
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, env=clean_environment()
    )
    return done.stdout.strip() or None


def markdown_table(results: list[dict], args: argparse.Namespace) -> str:
    rows = [
        "| path | model | installed beside `pip install --no-deps bilstm-tagger` | distributions | site-packages | "
        f"`tagger tag` cold start, median of {args.runs} |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for result in results:
        model = "export (model.onnx)" if result["path"].startswith("runtime") else "model directory"
        installed = ", ".join(result["requirements"]) + (f" (torch {result['torch']})" if result["torch"] else "")
        rows.append(
            f"| {result['path']} | {model} | {installed} | {result['distributions']} | "
            f"{result['site_packages_mb']:,.0f} MB | {result['cold_start_seconds']:.2f} s |"
        )
    portable, pytorch = results
    rows.append("")
    rows.append(
        f"Runtime only: {portable['site_packages_mb'] / pytorch['site_packages_mb']:.0%} of the PyTorch install's size, "
        f"cold start {pytorch['cold_start_seconds'] / portable['cold_start_seconds']:.1f}x faster; torch importable "
        f"there: {'yes' if portable['torch'] else 'no'}; the same tags for all {len(portable['tags']):,} words of "
        f"{args.input.name}. OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, Python "
        f"{sys.version.split()[0]}."
    )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
