"""HTML out: a self-contained page for a person to read, one section per document (or paragraph
of raw text), one paragraph per sentence.

Entities are highlighted by spaCy's displaCy: its entity renderer, as ``displacy.render(..., style="ent",
manual=True)`` uses it, one sentence at a time so that the page does not depend on how the sentences were
chunked. Word labels such as POS tags, which displaCy's entity style does not fit, are written under each
word. Every word and label is escaped (displaCy escapes the text but not labels, so labels are escaped
before they reach it). Probabilities are not shown. A sentence reads as its words joined by spaces, or for
raw text spaced as the input was.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagger.corpus import opens_document
from tagger.outputs.tagged import TaggedSentence, WriterOptions, check_lengths
from tagger.outputs.writer import TextWriter

if TYPE_CHECKING:
    from spacy.displacy.render import EntityRenderer

# displaCy colours its own labels (ORG, LOC, PERSON, ...); CoNLL-2003's PER and MISC get theirs here.
COLORS = {"PER": "#aa9cfc", "MISC": "#e4e7d2"}
STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; max-width: 60em;
       margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; word-break: break-all; }
h2 { font-size: 1.1em; color: #555; border-bottom: 1px solid #ddd; }
.sentence { line-height: 2.8; margin: 0 0 1em; }
.entities { margin: 0 0 1em; }
.word { display: inline-block; text-align: center; line-height: 1.3; margin: 0 0.15em; }
.tag { display: block; font-size: 0.7em; font-weight: bold; color: #2a6ebb; }
""".strip()


class HtmlWriter(TextWriter):
    def __init__(self, input_path: Path | None, options: WriterOptions):
        self.options = options
        self.title = input_path.name if input_path is not None else "tagged text"
        self.documents = 0  # sections opened so far
        self.renderer: EntityRenderer | None = None  # displaCy's, built at the first entity sentence

    def begin(self) -> str:
        title = html.escape(self.title)
        return (
            '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
        )

    def write(self, tagged: Sequence[TaggedSentence]) -> str:
        check_lengths(tagged)
        pieces = []
        for item in tagged:
            if self.documents == 0 or opens_document(item.sentence):
                pieces.append(self.open_section(item))
            pieces.append(self.render(item) + "\n")
        return "".join(pieces)

    def open_section(self, first: TaggedSentence) -> str:
        """Close the section before, if any, and open the next, titled when the input marks documents (the
        paragraphs of raw text, documents of their own, need no title)."""
        closing = "</section>\n" if self.documents else ""
        self.documents += 1
        heading = ""
        if opens_document(first.sentence) and self.options.input_format != "text":
            name = html.escape(first.sentence.metadata.get("newdoc id", ""))
            heading = f"<h2>Document {self.documents}{': ' + name if name else ''}</h2>\n"
        return f'{closing}<section class="document">\n{heading}'

    def render(self, tagged: TaggedSentence) -> str:
        if self.options.task == "labels":
            return render_labels(tagged)
        if self.renderer is None:
            self.renderer = build_renderer()
        return render_entities(self.renderer, tagged, self.options.scheme)

    def end(self) -> str:
        closing = "</section>\n" if self.documents else ""
        return f"{closing}</body>\n</html>\n"


def render_entities(renderer: EntityRenderer, tagged: TaggedSentence, scheme: str) -> str:
    """One sentence with its entities highlighted by displaCy."""
    starts = tagged.word_starts()
    entities = []
    for label, start, end in tagged.spans(scheme):
        first, last = tagged.text_span(starts, start, end)
        entities.append({"start": first, "end": last, "label": html.escape(label)})
    sentence: dict[str, Any] = {"text": tagged.text(), "ents": entities}
    return renderer.render([sentence], page=False, minify=False).strip()


def build_renderer() -> EntityRenderer:
    """What ``displacy.render(..., style="ent", manual=True)`` builds on every call; built once here, since
    building it (a registry lookup) costs ten times the rendering of a sentence."""
    from spacy.displacy.render import EntityRenderer

    return EntityRenderer(options={"colors": COLORS})


def render_labels(tagged: TaggedSentence) -> str:
    """One sentence, each word with its tag underneath."""
    words = [
        f'<span class="word">{html.escape(word)}<span class="tag">{html.escape(tag)}</span></span>'
        for word, tag in zip(tagged.words, tagged.tags)
    ]
    return f'<p class="sentence">{" ".join(words)}</p>'
