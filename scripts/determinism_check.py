"""Same seed, same model, at the default settings: each check trains twice with the real CLI and compares the
bytes of model.safetensors (and the test score).

    python scripts/determinism_check.py                      # UD EWT 2 epochs (shipped corpus)
    python scripts/determinism_check.py --conll ../shared/corpora/conll2003   # + CoNLL-2003 --preset accurate 2 epochs

Run it on a quiet machine to time it; the verdict does not depend on load.
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

ROOT = Path(__file__).resolve().parent.parent
EWT = ROOT / "corpora" / "ud_en_ewt"


def train(arguments: list[str], out: Path) -> tuple[str, float, float]:
    """(sha256 of model.safetensors, test score, seconds) of one `tagger train` run."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tagger", "train", *arguments, "--out", str(out), "--overwrite"],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    test = json.loads((out / "metrics.json").read_text())["test"]
    score = test["conlleval"]["micro"]["f1"] if test.get("conlleval") else test["token_accuracy"]
    return hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest(), score, seconds


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
            runs = [train(arguments, Path(folder) / f"run-{i}") for i in (1, 2)]
            same = runs[0][0] == runs[1][0]
            print(
                f"{name}: {'identical' if same else 'DIFFERENT'} model.safetensors "
                f"(sha256 {runs[0][0][:12]} / {runs[1][0][:12]}), test {100 * runs[0][1]:.2f} / "
                f"{100 * runs[1][1]:.2f}, {runs[0][2]:.0f} s / {runs[1][2]:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
