"""`tagger benchmark`: prints what ``tagger.benchmark.benchmark_model`` measured, as a table or JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from tagger.cli.tables import number, print_table, text


def print_benchmark(console: Console, report: dict[str, Any], json_output: bool) -> None:
    if json_output:
        print(json.dumps(report, indent=2))
        return
    threads = f"{report['threads']} threads, " if report["threads"] else ""
    table = Table(
        title=f"{report['model']} on {report['data']} ({report['runtime']}, {report['device']}, {threads}"
        f"{report['batches_at_once']} batches of {report['batch_size']} at once)"
    )
    text(table, "input")
    for column in ("words", "words/s (median)", "spread", "passes", "share of compute bound"):
        number(table, column)
    bound = report["compute_bound"]
    for speed in report["speeds"]:
        table.add_row(
            speed["name"],
            f"{speed['words']:,}",
            f"{speed['median']:,.0f}",
            f"± {speed['spread']:,.0f}",
            str(len(speed["passes"])),
            compute_share(speed["median"], bound),
        )
    print_table(console, table)
    cpu, versions = report["cpu"], report["versions"]
    flags = ", ".join(cpu["flags"]) or "no AVX2"
    console.print(
        f"CPU: {cpu['model']} ({flags}; {cpu['cores']} cores usable); torch {versions['torch']}"
        + (f", onnxruntime {versions['onnxruntime']}" if versions["onnxruntime"] else ""),
        highlight=False,
    )
    startup = report["startup_seconds"]
    if bound["flops_per_word"] is not None:
        console.print(
            f"compute bound: {bound['flops_per_word'] / 1e6:.2f} MFLOP per word (the network's matrix products), "
            f"matmul {bound['matmul_flops_per_second'] / 1e9:,.0f} GFLOP/s on {report['cpus']} threads",
            highlight=False,
        )
    console.print(
        f"peak memory {report['peak_memory_mb']:,.0f} MB"
        + (f"; tagger tag: first output {startup:.2f} s after process start" if startup is not None else "")
    )


def compute_share(words_per_second: float, bound: dict[str, Any]) -> str:
    """words/s × FLOPs per word ÷ the measured matmul rate, as a percentage; "n/a" where the network's FLOPs are not
    counted (a model with character LMs)."""
    if bound["flops_per_word"] is None:
        return "n/a"
    return f"{100 * words_per_second * bound['flops_per_word'] / bound['matmul_flops_per_second']:.0f}%"
