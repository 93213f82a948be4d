"""Peak memory of `tagger tag` on one large raw-text file: streaming must keep it bounded whatever the size.

    python scripts/benchmarks/memory_benchmark.py runs/ablation/ner/crf/seed-1 --size-mb 500

The text is the UD English EWT sentences the project ships (corpora/), in paragraphs of five sentences,
repeated until the file has the size asked for. Peak memory is the tagging process's maximum resident set
size (getrusage), wall time from process start to the last output written.
"""

from __future__ import annotations

import argparse
import gzip
import resource
import subprocess
import tempfile
import time
from pathlib import Path

EWT = Path(__file__).resolve().parents[2] / "corpora" / "ud_en_ewt" / "en_ewt-ud-train.conllu.gz"
PARAGRAPH_SENTENCES = 5


def ewt_sentences() -> list[str]:
    with gzip.open(EWT, "rt", encoding="utf-8") as stream:
        return [line.removeprefix("# text = ").strip() for line in stream if line.startswith("# text = ")]


def write_text(path: Path, size: int) -> None:
    sentences = ewt_sentences()
    paragraphs = [
        " ".join(sentences[i : i + PARAGRAPH_SENTENCES]) for i in range(0, len(sentences), PARAGRAPH_SENTENCES)
    ]
    block = ("\n\n".join(paragraphs) + "\n\n").encode("utf-8")
    with open(path, "wb") as stream:
        written = 0
        while written < size:
            stream.write(block[: size - written])
            written += min(len(block), size - written)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "tagger-memory")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    text = args.work / f"text-{args.size_mb}mb.txt"
    if not text.exists() or text.stat().st_size != args.size_mb * 10**6:
        write_text(text, args.size_mb * 10**6)
    command = [
        "tagger",
        "tag",
        str(args.model),
        str(text),
        "--out",
        str(args.work / "out"),
        "--overwrite",
        "--quiet",
        "--device",
        "cpu",
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB
    output = args.work / "out" / (text.name + ".conll")
    words = sum(1 for line in open(output, encoding="utf-8") if line.strip())
    print(
        f"{args.size_mb} MB of raw text, {words:,} words: {wall / 60:.1f} min, {words / wall:,.0f} words/s, "
        f"peak memory {peak_mb:,.0f} MB"
    )
    print("command:", " ".join(command))


if __name__ == "__main__":
    main()
