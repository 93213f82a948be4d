"""Make a trained model directory one of the models that ship inside the package (``tagger/models/NAME/``).

    python scripts/tools/ship_model.py runs/en-ner en-ner --data "CoNLL-2003 English ..." --licence "..." \\
        --train-command "tagger train ..." --test-file eng.testb --test-settings corpus.tag_column=3

What decides the tags is copied byte for byte (config.json, whose manifest holds the weights' SHA-256,
vocab.json, model.safetensors, and the model's own onnxruntime export when it carries one) with metrics.json; the training's checkpoint, last epoch, log and curves stay
behind. The model card (README.md) is the training's card under a head that says what a user of the shipped model
needs first: the data and its licence, the test score with the command that reproduces it, the speed on the CPU
it was measured on, and the size. The model's tags for a fixed set of sentences (tests/fixtures/shipped/NAME.json)
let tests/test_shipped_models.py check that the shipped copy tags as the directory it was made from.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tagger.benchmark import benchmark_model  # noqa: E402
from tagger.config import corpus_config  # noqa: E402
from tagger.corpus import read_corpus  # noqa: E402
from tagger.cpu import describe_cpu  # noqa: E402
from tagger.portable.files import CARRIED_FILES, carries_export  # noqa: E402
from tagger.shipped import SHIPPED_FOLDER  # noqa: E402
from tagger.tagging.torch_tagger import Tagger  # noqa: E402

COPIED = ("config.json", "vocab.json", "model.safetensors", "metrics.json")
SIZE_LIMIT = 25_000_000
CHECK_SENTENCES = [
    "EU rejects German call to boycott British lamb .".split(),
    "Peter Blackburn , the spokesman for the European Commission in Brussels , said on Thursday .".split(),
    "Angela Merkel met Emmanuel Macron in Paris before flying to New York with Lufthansa .".split(),
    "The quick brown fox jumps over the lazy dog .".split(),
    "Shares of Apple Inc. rose 3 % on the Nasdaq after the iPhone launch in Cupertino , California .".split(),
    ["Zürich", "McDonald's", "3.14", "--", "PARIS", "paris"],
    ["Washington"],
]
FIXTURES = REPO / "tests" / "fixtures" / "shipped"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("name")
    parser.add_argument("--data", required=True, help="what it was trained on")
    parser.add_argument("--licence", required=True, help="the data's licence, and what it means for the model")
    parser.add_argument("--train-command", required=True)
    parser.add_argument("--test-file", type=Path, required=True, help="scored with tagger evaluate for the card")
    parser.add_argument("--test-settings", nargs="*", default=[], help="corpus.key=value to read the test file")
    parser.add_argument("--test-file-name", help="how the card names the test file (default: its file name)")
    parser.add_argument("--load", default="", help="what else ran on the machine while the speed was measured")
    args = parser.parse_args()

    out = SHIPPED_FOLDER / args.name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    copied = COPIED + (CARRIED_FILES if carries_export(args.model) else ())
    for name in copied:
        shutil.copyfile(args.model / name, out / name)

    speed = benchmark_model(out, args.test_file, runs=1, device="cpu", overrides=args.test_settings, startup=False)
    pre_tokenised = next(s for s in speed["speeds"] if s["name"] == "pre-tokenised")["median"]
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    test = metrics["test"]
    score = test["conlleval"]["micro"]["f1"] if test.get("conlleval") else test["token_accuracy"]
    measure = "entity F1 (conlleval)" if test.get("conlleval") else "token accuracy"
    settings = " ".join(f"--set {s}" for s in args.test_settings)
    test_name = args.test_file_name or args.test_file.name
    runtime_note = ""
    if carries_export(out):  # the default runtime is then its own export: the card gives both scores
        settings = f"{settings} --quantize none".strip()
        default = Tagger.load(out, device="cpu")
        test_sentences, _ = read_corpus(args.test_file, corpus_config(args.test_settings, default.config.corpus))
        default_score = default.evaluate(test_sentences)[0].score
        runtime_note = (
            f" By default it runs on its own {default.runtime} export where onnxruntime is installed, which scores "
            f"{100 * default_score:.2f} (`tagger evaluate {args.name} {test_name}`)."
        )
    size = sum((out / name).stat().st_size for name in copied)
    head = "\n".join(
        [
            f"# {args.name}: shipped with tagger",
            "",
            f'- **Use**: `tagger tag {args.name} news.txt`, `Tagger.load("{args.name}")`, `tagger serve {args.name}`, '
            f'spaCy `nlp.add_pipe("bilstm_tagger", config={{"model": "{args.name}"}})`.',
            f"- **Data**: {args.data}",
            f"- **Licence**: {args.licence}",
            f"- **Test {measure}**: **{100 * score:.2f}** on {test_name}; reproduce with "
            f"`{f'tagger evaluate {args.name} {test_name} {settings}'.rstrip()}`.{runtime_note}",
            f"- **Trained with**: `{args.train_command}` (train split only; dev for early stopping).",
            f"- **Speed**: {pre_tokenised:,.0f} words/s pre-tokenised ({test_name}, batches of {speed['batch_size']}, "
            f"{speed['runtime']}, {speed['batches_at_once']} at once) on {describe_cpu()}, torch {speed['versions']['torch']}, "
            f"onnxruntime {speed['versions']['onnxruntime'] or 'not installed'}"
            + (f"; {args.load}." if args.load else "."),
            f"- **Size**: {size / 1e6:.1f} MB ({', '.join(copied)}).",
            "",
            "The card written by training follows.",
            "",
        ]
    )
    card = (args.model / "README.md").read_text(encoding="utf-8")
    (out / "README.md").write_text(head + "\n" + card, encoding="utf-8")
    if size > SIZE_LIMIT:
        raise SystemExit(f"{out}: {size:,} bytes, over the {SIZE_LIMIT:,} a shipped model may take")

    source_tags = Tagger.load(args.model, device="cpu").tag(CHECK_SENTENCES)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    fixture = {"sentences": CHECK_SENTENCES, "tags": source_tags, "source": str(args.model), "test_score": score}
    (FIXTURES / f"{args.name}.json").write_text(json.dumps(fixture, indent=1) + "\n", encoding="utf-8")
    print(head)


if __name__ == "__main__":
    main()
