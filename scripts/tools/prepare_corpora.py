"""Build the corpora shipped in ``corpora/``.

* ``corpora/ud_en_ewt/``: UD English EWT (CC BY-SA 4.0) gzipped deterministically (mtime 0,
  no file name in the header) so re-running gives byte-identical files, with its licence,
  source commit and attribution.
* ``corpora/sample_ner/``: a tiny invented NER corpus (CC0) for demos and tests, generated from
  templates with a fixed seed. It contains no CoNLL-2003 text, which must never be copied here.

Usage: python scripts/tools/prepare_corpora.py [--source ../shared/corpora/ud_en_ewt] [--out corpora]
"""

from __future__ import annotations

import argparse
import gzip
import random
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UD_SPLITS = ("train", "dev", "test")
UD_README = """# UD English EWT

Universal Dependencies English Web Treebank, as CoNLL-U (gzipped; `tagger` reads `.gz` directly):
`en_ewt-ud-{{train,dev,test}}.conllu.gz`, UPOS in column 4 and XPOS (Penn Treebank) in column 5.

- Source: https://github.com/UniversalDependencies/UD_English-EWT at commit {commit}
- Reference: Natalia Silveira, Timothy Dozat, Marie-Catherine de Marneffe, Samuel Bowman,
  Miriam Connor, John Bauer and Christopher D. Manning (2014). A Gold Standard Dependency
  Corpus for English. LREC 2014.
- License: CC BY-SA 4.0 (LICENSE.txt). Changes: none to the content; files compressed.

Rebuild with `python scripts/tools/prepare_corpora.py`.
"""
SAMPLE_README = """# sample_ner: a tiny invented NER corpus

`train.conll` ({train} sentences) and `dev.conll` ({dev} sentences): `word tag` columns,
IOB2 tags for PER, LOC, ORG and MISC, a `-DOCSTART-` line opening each file.
Every sentence is invented, generated from templates by `scripts/tools/prepare_corpora.py`
(fixed seed); no text comes from CoNLL-2003 or any other corpus. For demos and tests only:
far too small to train a useful model.

License: CC0 1.0 (public domain dedication).
"""

PEOPLE = [
    "Mara Olsen",
    "Tobias Wren",
    "Ines Karvo",
    "Lev Duarte",
    "Amara Quist",
    "Piet",
    "Yuki Tanabe-Rhys",
    "Halden Moor",
    "Sefa Ilunga",
    "Orla Brandt",
]
PLACES = ["Velmora", "Port Ashby", "the Kessel Valley", "Northmere", "Lake Orvin", "Tarrow", "New Halvard"]
ORGS = [
    "Brightwell Labs",
    "the Velmora Council",
    "Ostrand Rail",
    "Kite & Finch",
    "Harbor Union",
    "Norrland Institute of Maps",
]
MISC = ["Orvish", "Lantern Festival", "Tarrowian", "Glass Cup", "Northmere Marathon"]
TEMPLATES = [
    "{PER} visited {LOC} on Tuesday .",
    "{ORG} opened a new office in {LOC} .",
    "{PER} , who works for {ORG} , won the {MISC} .",
    "The {MISC} starts next week in {LOC} .",
    "According to {PER} , {ORG} will hire forty people .",
    "{PER} and {PER} met at the {MISC} .",
    "Rain is expected in {LOC} and {LOC} tomorrow .",
    "{ORG} said profits rose in the third quarter .",
    "Nothing unusual happened today .",
    "{PER} speaks fluent {MISC} and lives near {LOC} .",
]


def write_gzip(source: Path, target: Path) -> None:
    """Gzip deterministically: fixed mtime and no name in the header."""
    with open(source, "rb") as raw, open(target, "wb") as out:
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as packed:
            shutil.copyfileobj(raw, packed)


def prepare_ud(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for split in UD_SPLITS:
        write_gzip(source / f"en_ewt-ud-{split}.conllu", out / f"en_ewt-ud-{split}.conllu.gz")
    shutil.copyfile(source / "LICENSE.txt", out / "LICENSE.txt")
    shutil.copyfile(source / "SOURCE_COMMIT", out / "SOURCE_COMMIT")
    commit = (source / "SOURCE_COMMIT").read_text(encoding="utf-8").split()[0]
    (out / "README.md").write_text(UD_README.format(commit=commit), encoding="utf-8")


def fill_template(template: str, rng: random.Random) -> list[tuple[str, str]]:
    """Words and IOB2 tags for one template with its {TYPE} slots filled."""
    choices = {"PER": PEOPLE, "LOC": PLACES, "ORG": ORGS, "MISC": MISC}
    pairs: list[tuple[str, str]] = []
    for piece in template.split():
        if piece.startswith("{") and piece.endswith("}"):
            type_ = piece[1:-1]
            words = rng.choice(choices[type_]).split()
            # A leading "the" stays outside the entity, as in most NER guidelines.
            if words[0] == "the":
                pairs.append(("the", "O"))
                words = words[1:]
            pairs += [(word, f"{'B' if i == 0 else 'I'}-{type_}") for i, word in enumerate(words)]
        else:
            pairs.append((piece, "O"))
    return pairs


def write_sample(path: Path, sentences: list[list[tuple[str, str]]]) -> None:
    lines = ["-DOCSTART- O", ""]
    for pairs in sentences:
        lines += [f"{word} {tag}" for word, tag in pairs] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")


def prepare_sample(out: Path, train_size: int = 48, dev_size: int = 16) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(13)
    sentences = [fill_template(TEMPLATES[i % len(TEMPLATES)], rng) for i in range(train_size + dev_size)]
    rng.shuffle(sentences)
    write_sample(out / "train.conll", sentences[:train_size])
    write_sample(out / "dev.conll", sentences[train_size:])
    (out / "README.md").write_text(SAMPLE_README.format(train=train_size, dev=dev_size), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "corpora" / "ud_en_ewt")
    parser.add_argument("--out", type=Path, default=ROOT / "corpora")
    args = parser.parse_args()
    prepare_ud(args.source, args.out / "ud_en_ewt")
    prepare_sample(args.out / "sample_ner")
    for path in sorted(args.out.rglob("*")):
        if path.is_file():
            print(f"{path.stat().st_size:>10,}  {path.relative_to(args.out)}")


if __name__ == "__main__":
    main()
