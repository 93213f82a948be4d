"""The GPU check's settings and helpers, shared by the orchestrator (scripts/gpu/gpu_check.py) and its stages
(gpu_stages.py, gpu_speed.py): sizes and time budgets, the stage files, the corpus found, the ``Context`` every
stage gets, and the JSON and subprocess helpers. Standard library only, so a broken torch or CUDA still leaves
summary.json saying so."""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("env", "pytest", "train", "tagging", "lstm", "accurate")
FILES = {
    "pytest": "pytest.json",
    "train": "train.json",
    "tagging": "tagging.json",
    "lstm": "lstm.json",
    "accurate": "train_accurate.json",
}
OPTIONAL = {"accurate"}  # run only with the time the others leave; no time is held back for it


@dataclass(frozen=True)
class Budget:
    seconds: float  # the stage's cap
    minimum: float  # below this it is skipped, and this much is held back for it while earlier stages run


# Full run: 465 s in all by default, inside the 8 minutes issue 20 gives and a device call's 600 s limit.
FULL_BUDGETS = {
    "env": Budget(45, 15),
    "pytest": Budget(150, 40),
    "train": Budget(160, 60),
    "tagging": Budget(110, 40),
    "lstm": Budget(35, 15),
    "accurate": Budget(90, 45),
}
TINY_BUDGETS = {
    "env": Budget(60, 5),
    "pytest": Budget(90, 10),
    "train": Budget(90, 10),
    "tagging": Budget(90, 10),
    "lstm": Budget(60, 5),
    "accurate": Budget(90, 10),
}


@dataclass(frozen=True)
class Sizes:
    words: int  # tagging: the corpus is replicated to at least this many words
    batch_sizes: tuple[int, ...]
    lstm_tokens: int  # bare LSTM: tokens per timed configuration
    train_overrides: tuple[str, ...]  # --set for the fast training
    accurate_overrides: tuple[str, ...]  # --set for the accurate training
    profile_words: int  # the slice profiled


FULL = Sizes(1_000_000, (256, 512, 1024, 2048, 4096, 8192, 16384), 1_000_000, (), ("train.epochs=2",), 200_000)
TINY = Sizes(4_000, (256, 1024), 20_000, ("train.epochs=2",), ("train.epochs=1",), 2_000)
PROFILE_BATCH = 4096  # the batch size profiled (the largest swept below it, in a tiny run)


# ---------------------------------------------------------------------------------------------- small helpers


def now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Written whole or not at all: a stage killed while writing leaves the previous version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def error_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))[-4000:]


def say(text: str) -> None:
    print(text, flush=True)


def run_capped(
    command: list[str], timeout: float, env: dict[str, str] | None = None, cwd: Path = ROOT, keep: int = 150
) -> dict[str, Any]:
    """Run ``command`` in its own process group, echoing its output; kill the whole group at ``timeout``.
    Returns rc, timed_out, seconds and the last ``keep`` lines of output."""
    start = time.perf_counter()
    lines: collections.deque[str] = collections.deque(maxlen=keep)
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )

    def pump() -> None:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            sys.stdout.write(line)
            sys.stdout.flush()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        process.wait(timeout=max(1.0, timeout))
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    reader.join(timeout=5)
    return {
        "command": command,
        "returncode": process.returncode,
        "timed_out": timed_out,
        "seconds": round(time.perf_counter() - start, 2),
        "output_tail": "\n".join(lines),
    }


# ---------------------------------------------------------------------------------------------- the settings


@dataclass
class Context:
    """What every stage knows: the arguments, resolved once the same way in the orchestrator and each stage."""

    args: argparse.Namespace
    out: Path
    work: Path
    sizes: Sizes
    budgets: dict[str, Budget]
    corpus: dict[str, Any] | None  # training corpus (train/dev/test paths, tag column); None when absent
    looked_in: list[str]

    @property
    def device(self) -> str:
        return self.args.device

    @property
    def fast_model(self) -> Path:
        return self.work / "fast"


def find_corpus(args: argparse.Namespace) -> tuple[dict[str, Any] | None, list[str]]:
    """CoNLL-2003 from --conll, $GPU_CHECK_CONLL, ../shared/corpora/conll2003 or .whl/conll2003 (where
    scripts/gpu/gpu_prepare.sh copies it for the device: ../shared does not travel); a tiny run uses the invented
    corpus shipped in corpora/sample_ner unless --conll is given."""
    if args.tiny and not args.conll:
        folder = ROOT / "corpora" / "sample_ner"
        return (
            {
                "name": "sample_ner (tiny dry run)",
                "train": folder / "train.conll",
                "dev": folder / "dev.conll",
                "test": folder / "dev.conll",
                "tag_column": None,
            },
            [str(folder)],
        )
    candidates = [
        args.conll,
        os.environ.get("GPU_CHECK_CONLL"),
        ROOT.parent / "shared" / "corpora" / "conll2003",
        ROOT / ".whl" / "conll2003",
    ]
    looked = []
    for candidate in candidates:
        if not candidate:
            continue
        folder = Path(candidate).expanduser().resolve()
        looked.append(str(folder))
        if all((folder / name).is_file() for name in ("eng.train", "eng.testa", "eng.testb")):
            return (
                {
                    "name": "CoNLL-2003",
                    "train": folder / "eng.train",
                    "dev": folder / "eng.testa",
                    "test": folder / "eng.testb",
                    "tag_column": 3,
                },
                looked,
            )
    return None, looked


def fallback_corpus() -> dict[str, Any]:
    """For the tagging figures when CoNLL-2003 is absent: UD English EWT, shipped in the repository."""
    folder = ROOT / "corpora" / "ud_en_ewt"
    return {
        "name": "UD English EWT (CoNLL-2003 absent)",
        "train": folder / "en_ewt-ud-dev.conllu.gz",
        "dev": folder / "en_ewt-ud-dev.conllu.gz",
        "test": folder / "en_ewt-ud-test.conllu.gz",
        "tag_column": None,
    }


def make_context(args: argparse.Namespace) -> Context:
    sizes = TINY if args.tiny else FULL
    if args.words or args.batch_sizes:
        sizes = Sizes(
            args.words or sizes.words,
            tuple(int(b) for b in args.batch_sizes.split(",")) if args.batch_sizes else sizes.batch_sizes,
            args.words or sizes.lstm_tokens,
            sizes.train_overrides,
            sizes.accurate_overrides,
            min(sizes.profile_words, args.words or sizes.profile_words),
        )
    corpus, looked = find_corpus(args)
    return Context(
        args,
        Path(args.out).resolve(),
        Path(args.work).resolve(),
        sizes,
        TINY_BUDGETS if args.tiny else FULL_BUDGETS,
        corpus,
        looked,
    )
