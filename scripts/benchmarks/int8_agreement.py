"""How far an int8 export's tags are from its fp32 export's, on this CPU and on CPUs emulated by QEMU.

    python scripts/benchmarks/int8_agreement.py runs/default-ner /path/to/conll2003/eng.testb --tag-column 3 \\
        --exports /tmp/int8-exports --emulate EPYC-Milan --emulated-sentences 400

The model is exported twice into ``--exports`` (fp32 and ``--quantize int8``; reused when already there). Then the
corpus is tagged pre-tokenised (documents as the file marks them) by both exports with onnxruntime, once natively
and once per ``--emulate`` CPU model under ``qemu-x86_64 -cpu MODEL`` (Debian's qemu-user; ``EPYC-Milan`` is an
AMD Zen 3: AVX2, no AVX-512, no VNNI). Each row gives the share of words whose int8 tag equals the fp32 tag, and
both exports' scores against the gold tags (entity F1 for span tags, token accuracy otherwise).

Only onnxruntime runs under emulation, never PyTorch: QEMU 7.2's emulation changes some of PyTorch's fp32 results
(an fp32 export compared with PyTorch there differs by 3.3), while onnxruntime's fp32 emissions under emulation
equal the native ones to the last bit. What differs between CPUs is then what the int8 kernels compute.
Nothing is written to BENCHMARKS.md: paste the table printed (or ``--json``) there.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tagger.config import corpus_config  # noqa: E402
from tagger.corpus import document_ids, read_corpus  # noqa: E402
from tagger.cpu import describe_cpu  # noqa: E402

PRECISIONS = ("fp32", "int8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, nargs="?")
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--tag-column", type=int, default=-1)
    parser.add_argument("--exports", type=Path, default=Path("/tmp/int8-exports"))
    parser.add_argument("--emulate", action="append", default=[], help="a qemu-x86_64 CPU model, e.g. EPYC-Milan")
    parser.add_argument(
        "--emulated-sentences",
        type=int,
        default=0,
        help="tag only the corpus's first N sentences under emulation (QEMU runs onnxruntime 30-100x slower); "
        "their int8 tags are also compared with the native run's, word for word",
    )
    parser.add_argument("--json", type=Path, help="write the rows here too")
    parser.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(tag_both(args.exports, args.corpus, args.tag_column, args.limit)))
        return
    export_both(args.model, args.exports)
    native = run_child([], args, 0)
    rows = [{"cpu": str(describe_cpu()), **native}]
    for model in args.emulate:
        version = subprocess.run(["qemu-x86_64", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
        emulated = f"{model}, emulated by {version.split(' (')[0]} on the CPU above"
        row = run_child(["qemu-x86_64", "-cpu", model], args, args.emulated_sentences)
        # the same sentences natively: a document cut by the limit has other context than in the whole corpus
        reference = run_child([], args, args.emulated_sentences) if args.emulated_sentences else native
        pairs = list(zip(flat(row["tags"]["int8"]), flat(reference["tags"]["int8"]), strict=True))
        rows.append({"cpu": emulated, **row, "int8_equal_to_native": sum(a == b for a, b in pairs) / len(pairs)})
    print("| CPU | words | int8 tags equal to fp32 | fp32 score | int8 score | int8 tags equal to the native CPU's |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        native_share = row.get("int8_equal_to_native")
        print(
            f"| {row['cpu']} | {row['words']:,} | **{100 * row['agreement']:.2f}%** | "
            f"{100 * row['score']['fp32']:.2f} | {100 * row['score']['int8']:.2f} | "
            + (f"{100 * native_share:.2f}%" if native_share is not None else "(this is the native CPU)")
            + " |"
        )
    if args.json:
        without_tags = [{key: value for key, value in row.items() if key != "tags"} for row in rows]
        args.json.write_text(json.dumps(without_tags, indent=2) + "\n", encoding="utf-8")


def export_both(model: Path, exports: Path) -> None:
    from tagger.export import export_model

    for precision in PRECISIONS:
        out = exports / precision
        if not (out / "config.json").exists():
            export_model(model, out, quantize="int8" if precision == "int8" else "none", overwrite=True)


def run_child(prefix: list[str], args: argparse.Namespace, limit: int) -> dict:
    command = [*prefix, sys.executable, __file__, str(args.corpus), "--child", "--exports", str(args.exports)]
    command += ["--tag-column", str(args.tag_column), "--limit", str(limit)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def flat(tags: list[list[str]]) -> list[str]:
    return [tag for sentence in tags for tag in sentence]


def tag_both(exports: Path, corpus: Path, tag_column: int, limit: int) -> dict:
    """Runs in the child: onnxruntime only (tagger.portable imports no torch). ``limit``: the first sentences only."""
    from tagger.tagging.onnx_tagger import PortableTagger

    sentences, _ = read_corpus(corpus, corpus_config([f"corpus.tag_column={tag_column}"]))
    sentences = sentences[:limit] if limit else sentences
    documents = document_ids(sentences)
    tags, score = {}, {}
    for precision in PRECISIONS:
        tagger = PortableTagger.load(exports / precision, device="cpu")
        evaluation, _ = tagger.evaluate(sentences)
        score[precision] = evaluation.conlleval.micro.f1 if evaluation.conlleval else evaluation.token_accuracy
        tags[precision] = tagger.tag([s.words for s in sentences], documents=documents)
    pairs = [(a, b) for x, y in zip(tags["fp32"], tags["int8"]) for a, b in zip(x, y)]
    agreement = sum(a == b for a, b in pairs) / len(pairs)
    return {"words": len(pairs), "agreement": agreement, "score": score, "tags": tags}


if __name__ == "__main__":
    main()
