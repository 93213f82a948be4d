"""Same seed, same model, at the default settings: each check trains twice with the real CLI and compares the
bytes of model.safetensors (and the test score).

    python scripts/benchmarks/determinism_check.py                      # UD EWT 2 epochs (shipped corpus)
    python scripts/benchmarks/determinism_check.py --conll ../shared/corpora/conll2003   # + CoNLL-2003 --preset accurate 2 epochs

The second run of each check trains beside a busy process (``while True: pass`` in a session of its own), so
the two runs' thread counts follow different loads (docs/reliability.md, "A busy CPU"): the bytes must not differ.
Run it on an otherwise quiet machine to time it; the verdict does not depend on load.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EWT = ROOT / "corpora" / "ud_en_ewt"


def train(arguments: list[str], out: Path, busy: bool) -> tuple[str, float, float, bool]:
    """(sha256 of model.safetensors, test score, seconds, whether threads followed the load) of one `tagger train`
    run, beside a busy process when ``busy``."""
    competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True) if busy else None
    try:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "tagger", "train", *arguments, "--out", str(out), "--overwrite"],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - started
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["test"]
    score = test["conlleval"]["micro"]["f1"] if test.get("conlleval") else test["token_accuracy"]
    digest = hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
    return digest, score, seconds, metrics.get("threads_follow_load", False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conll", type=Path, help="folder with eng.train, eng.testa, eng.testb")
    args = parser.parse_args()
    checks = {
        "UD EWT UPOS, defaults, 2 epochs": [
            "--train",
            str(EWT / "en_ewt-ud-train.conllu.gz"),
            "--dev",
            str(EWT / "en_ewt-ud-dev.conllu.gz"),
            "--test",
            str(EWT / "en_ewt-ud-test.conllu.gz"),
            "--epochs",
            "2",
        ]
    }
    if args.conll:
        checks["CoNLL-2003 NER, --preset accurate, 2 epochs"] = [
            "--train",
            str(args.conll / "eng.train"),
            "--dev",
            str(args.conll / "eng.testa"),
            "--test",
            str(args.conll / "eng.testb"),
            "--tag-column",
            "3",
            "--preset",
            "accurate",
            "--epochs",
            "2",
        ]
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads by default")
    with tempfile.TemporaryDirectory() as folder:
        for name, arguments in checks.items():
            runs = [train(arguments, Path(folder) / f"run-{i}", busy=i == 2) for i in (1, 2)]
            same = runs[0][0] == runs[1][0]
            print(
                f"{name}: {'identical' if same else 'DIFFERENT'} model.safetensors "
                f"(sha256 {runs[0][0][:12]} / {runs[1][0][:12]}), test {100 * runs[0][1]:.2f} / "
                f"{100 * runs[1][1]:.2f}, {runs[0][2]:.0f} s alone / {runs[1][2]:.0f} s beside a busy process, "
                f"threads followed the load: {runs[0][3]} / {runs[1][3]}",
                flush=True,
            )


if __name__ == "__main__":
    main()
