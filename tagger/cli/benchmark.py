"""`tagger benchmark`: a model's tagging speed, peak memory and startup time on a corpus."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from tagger.annotate import Tagger
from tagger.benchmark import peak_memory_mb, startup_seconds, tagging_speeds
from tagger.cli.evaluate import reading_config
from tagger.corpus import read_corpus


def run_benchmark(console: Console, model_dir: Path, data: Path, runs: int, batch_size: int, device: str,
                  quantize: str, settings: list[str], startup: bool, json_output: bool) -> None:
    tagger = Tagger.load(model_dir, device=device, quantize=quantize)
    sentences, _ = read_corpus(data, reading_config(tagger.config, settings), tags_required=False)
    speeds = tagging_speeds(tagger, sentences, runs, batch_size)
    report = {
        "model": str(model_dir), "data": str(data), "device": str(tagger.device), "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(), "batch_size": batch_size, "runs": runs, "quantize": quantize,
        "speeds": [s.to_dict() for s in speeds], "peak_memory_mb": peak_memory_mb(),
        "startup_seconds": startup_seconds(model_dir, device) if startup else None,
    }
    if json_output:
        print(json.dumps(report, indent=2))
        return
    table = Table(title=f"{model_dir} on {data} ({report['device']}, {report['threads']} threads, batch {batch_size}"
                  + (f", {quantize})" if quantize != "none" else ")"))
    for column in ("input", "words", "words/s (median)", "spread", "passes"):
        table.add_column(column, justify="left" if column == "input" else "right")
    for speed in speeds:
        table.add_row(speed.name, f"{speed.words:,}", f"{speed.median:,.0f}", f"± {speed.spread:,.0f}", str(len(speed.passes)))
    console.print(table)
    console.print(f"peak memory {report['peak_memory_mb']:,.0f} MB"
                  + (f"; tagger tag: first output {report['startup_seconds']:.2f} s after process start" if startup else ""))
