"""A model's card (README.md, with its training plot) as an HTML page, to read it in a browser.

    python scripts/tools/render_card.py models/ner card.html

Uses markdown-it-py, which rich (a tagger dependency) already installs; the plot is embedded, so the page is
one self-contained file.
"""

from __future__ import annotations

import argparse
import base64
from pathlib import Path

from markdown_it import MarkdownIt

STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}
pre{background:#f5f5f5;padding:.6rem;overflow:auto;max-height:16rem}img{max-width:100%}code{font-size:90%}"""


def render(model_dir: Path) -> str:
    card = (model_dir / "README.md").read_text(encoding="utf-8")
    plot = model_dir / "training.png"
    if plot.is_file():  # inline the image so the page stands alone
        card = card.replace("(training.png)", f"(data:image/png;base64,{base64.b64encode(plot.read_bytes()).decode()})")
    body = MarkdownIt("commonmark").enable("table").render(card)
    return f"<!doctype html><meta charset=utf-8><title>{model_dir.name}</title><style>{STYLE}</style>{body}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    args.output.write_text(render(args.model), encoding="utf-8")


if __name__ == "__main__":
    main()
