"""Do Label Studio and doccano exports made from CoNLL-2003's dev set train the model its CoNLL file trains?

    python scripts/benchmarks/annotation_roundtrip.py --out /tmp/roundtrip          # ../shared/corpora/conll2003
    python scripts/benchmarks/annotation_roundtrip.py --out /tmp/roundtrip --check  # the conversion only, no training

eng.testa is converted to character spans as ``tagger convert --to labelstudio`` and ``--to doccano`` write them (a
record per sentence, its words joined by spaces, the words and the sentence also given as ``tokens`` and ``sents``)
and read back. A copy of each export keeps the text and spans alone, as from a tool that dropped the fields tagger
added: it is read through the tokenizer ``tagger tag`` uses, which splits some CoNLL words (``1999-03-04``,
``Anglo-Dutch``) and sentences; the script counts them. A model is then trained on each file with the same
settings and seed, selected and scored on eng.testb (the files are compared with one another, so eng.testb serves
as their common dev set; the scores are no test scores), and the F1s are compared with the CoNLL file's (the
issue asks for the exports' within 0.1). Training runs ``--epochs`` epochs of the ``--preset`` (default: the
default preset, 30 epochs) on ``--threads`` threads.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tagger.config import load_config  # noqa: E402
from tagger.corpus import ConvertOptions, Sentence, convert_corpus, opens_document, read_corpus  # noqa: E402
from tagger.schemes import tags_to_spans  # noqa: E402

FORMATS = {"labelstudio": ".json", "doccano": ".jsonl"}


def entities(sentences: list[Sentence]) -> list[tuple[str, str]]:
    """(entity text without spaces, label) of every entity, in order: what survives a change of words."""
    return [("".join(s.words[a:b]), label) for s in sentences for label, a, b in tags_to_spans(s.tags)]


def compare(conll: list[Sentence], exported: list[Sentence]) -> dict:
    """How the sentences read back from an export (a record, and so a document, per CoNLL sentence) differ from the
    CoNLL file's: records whose words the tokenizer split otherwise, records the sentencizer split in more than one."""
    records: list[list[Sentence]] = []
    for sentence in exported:
        if opens_document(sentence) or not records:
            records.append([])
        records[-1].append(sentence)
    words = [[word for sentence in record for word in sentence.words] for record in records]
    changed = [" ".join(other) for sentence, other in zip(conll, words) if sentence.words != other]
    return {
        "records": len(records),
        "sentences": [len(conll), len(exported)],
        "words": [sum(len(s.words) for s in conll), sum(len(s.words) for s in exported)],
        "records_with_other_words": len(changed),
        "records_split_into_sentences": sum(len(record) > 1 for record in records),
        "examples": changed[:5],
        "same_entities": entities(conll) == entities(exported),
        "entities": [len(entities(conll)), len(entities(exported))],
    }


def text_only(export: Path, fmt: str, out: Path) -> Path:
    """A copy of ``export`` without the words and sentences tagger gives beside each record's text."""
    if fmt == "labelstudio":
        tasks = json.loads(export.read_text(encoding="utf-8"))
        for task in tasks:
            task["data"] = {"text": task["data"]["text"]}
        out.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    else:
        lines = export.read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines]
        kept = [{key: value for key, value in r.items() if key not in ("tokens", "sents")} for r in records]
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "corpora" / "conll2003")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--check", action="store_true", help="convert and compare the words; train nothing")
    args = parser.parse_args()

    dev, test = args.data / "eng.testa", args.data / "eng.testb"
    if not dev.exists() or not test.exists():
        sys.exit(f"{args.data} lacks eng.testa or eng.testb (CoNLL-2003 is not redistributable: see the README)")
    args.out.mkdir(parents=True, exist_ok=True)
    conll = read_corpus(dev)[0]
    files = {"conll": dev}
    report: dict = {"alignment": {}, "f1": {}}
    for fmt, suffix in FORMATS.items():
        files[fmt] = args.out / f"eng.testa{suffix}"
        convert_corpus(dev, files[fmt], ConvertOptions(target_format=fmt, overwrite=True))
        files[f"{fmt}, text only"] = text_only(files[fmt], fmt, args.out / f"eng.testa.text-only{suffix}")
    for name, path in files.items():
        if name != "conll":
            report["alignment"][name] = compare(conll, read_corpus(path)[0])
    if not args.check:
        from tagger.training import DataSource, train

        settings = [f"train.epochs={args.epochs}", f"train.seed={args.seed}", f"train.threads={args.threads}"]
        config = load_config(None, settings, preset=args.preset)
        for name, path in files.items():
            out = args.out / f"model-{name.replace(', ', '-').replace(' ', '-')}"
            result = train(config, DataSource(path, test), out, overwrite=True)
            report["f1"][name] = round(100 * result.dev.conlleval.micro.f1, 2)
            print(f"{name}: F1 {report['f1'][name]:.2f} on eng.testb", flush=True)
        report["within_0.1"] = {
            name: abs(report["f1"][name] - report["f1"]["conll"]) <= 0.1 for name in files if name != "conll"
        }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
