"""`tagger convert`: renders what ``tagger.corpus.convert_corpus`` did."""

from __future__ import annotations

from rich.console import Console

from tagger.corpus import Conversion


def print_conversion(console: Console, done: Conversion) -> None:
    report = done.report
    console.print(
        f"wrote {done.target}: {report.sentences:,} sentences, {report.documents:,} documents, "
        f"{report.words:,} words ({report.format} → {done.target_format})",
        highlight=False,
    )
