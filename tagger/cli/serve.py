"""`tagger serve`: announces where ``serve.run_server`` listens, then leaves the terminal to its logs."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from tagger.serve import ServeSettings, run_server


def run_serve(console: Console, settings: ServeSettings) -> None:
    def listening(url: str) -> None:
        names = ", ".join(f"{name} ({path})" for name, path in settings.models.items())
        workers = f", {settings.workers} workers" if settings.workers > 1 else ""
        console.print(f"serving {escape(names)} at [bold]{url}[/]{workers}", highlight=False, soft_wrap=True)
        console.print(
            f"  POST {url}/v1/tag   GET {url}/ready   docs {url}/docs   metrics {url}/metrics",
            highlight=False,
            soft_wrap=True,
        )

    run_server(settings, listening)
