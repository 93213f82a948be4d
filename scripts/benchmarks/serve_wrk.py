"""`tagger serve` under wrk, as a user measures a server: one-sentence requests, `wrk -t1 -cN` on the same machine,
requests/s and latency percentiles, then an overload run that must answer only 200 or 503.

    python scripts/benchmarks/serve_wrk.py runs/default --data ../shared/corpora/conll2003/eng.testb \\
        --config default: --config "OMP_NUM_THREADS=1:" --benchmarks BENCHMARKS.md

Each ``--config`` is ``ENV=VALUE,...:SERVER ARGS`` (either part may be empty): the server is started with that
environment and those arguments, and every configuration is measured in turn, ``--rounds`` times, interleaved.
Requests are the test set's sentences of 5 to 40 words, pre-tokenised, one per request, cycled by wrk's Lua
script. wrk (https://github.com/wg/wrk, Debian package ``wrk``) must be installed; the client shares the CPUs with
the server, as in the figures it is compared with. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_test import http_status, start_server  # noqa: E402 (the script's folder, above)

MARK_START, MARK_END = "<!-- serve-wrk:start -->", "<!-- serve-wrk:end -->"

# wrk's Lua: cycle through the request bodies, count the statuses in each thread (its own Lua state), and print
# their sums and the latency percentiles when done.
LUA = """
local bodies = {}
for line in io.lines(BODIES) do bodies[#bodies + 1] = line end
local next_body = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end
ok, unavailable, other = 0, 0, 0
response = function(status, headers, body)
  if status == 200 then ok = ok + 1 elseif status == 503 then unavailable = unavailable + 1 else other = other + 1 end
end
local threads = {}
setup = function(thread) threads[#threads + 1] = thread end
done = function(summary, latency, requests)
  local counts = {0, 0, 0}
  for _, thread in ipairs(threads) do
    counts[1] = counts[1] + thread:get("ok")
    counts[2] = counts[2] + thread:get("unavailable")
    counts[3] = counts[3] + thread:get("other")
  end
  io.write(string.format('STATUSES {"200": %d, "503": %d, "other": %d}\\n', counts[1], counts[2], counts[3]))
  io.write(string.format("PERCENTILES %d %d %d\\n", latency:percentile(50), latency:percentile(90),
                         latency:percentile(99)))
end
"""


@dataclass
class WrkRun:
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    statuses: dict[str, int]
    socket_errors: str


def write_bodies(data: Path, folder: Path) -> Path:
    from tagger.corpus import read_corpus

    sentences = [s.words for s in read_corpus(data, tags_required=False)[0] if 5 <= len(s.words) <= 40]
    bodies = folder / "bodies.jsonl"
    bodies.write_text("".join(json.dumps({"sentences": [words]}) + "\n" for words in sentences), encoding="utf-8")
    return bodies


def run_wrk(url: str, lua: Path, connections: int, seconds: float) -> WrkRun:
    result = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(lua), f"{url}/v1/tag"],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50, p90, p99 = (int(v) / 1000 for v in re.search(r"PERCENTILES (\d+) (\d+) (\d+)", out).groups())  # type: ignore[union-attr]
    statuses = json.loads(re.search(r"STATUSES (\{.*\})", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Socket errors: (.*)", out)
    return WrkRun(rate, p50, p90, p99, statuses, errors.group(1) if errors else "none")


def parse_config(text: str) -> tuple[dict[str, str], list[str]]:
    env_part, _, args_part = text.partition(":")
    env = dict(item.split("=", 1) for item in env_part.split(",") if "=" in item)
    return env, args_part.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, default=ROOT / "corpora/ud_en_ewt/en_ewt-ud-test.conllu")
    parser.add_argument("--config", action="append", default=[], help="ENV=VALUE,...:SERVER ARGS (repeatable)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--overload-connections", type=int, default=1024)
    parser.add_argument("--benchmarks", type=Path, help="replace this script's table in this Markdown file")
    args = parser.parse_args()
    configs = args.config or [":"]

    from tagger.benchmark import runtime_versions
    from tagger.cpu import describe_cpu

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0].strip()
    results: dict[str, list[WrkRun]] = {config: [] for config in configs}
    overloads: dict[str, WrkRun] = {}
    with tempfile.TemporaryDirectory() as folder:
        bodies = write_bodies(args.data, Path(folder))
        lua = Path(folder) / "post.lua"
        lua.write_text(LUA.replace("BODIES", json.dumps(str(bodies))), encoding="utf-8")
        for round_ in range(args.rounds + 1):  # the first round warms the machine up and is not counted
            for config in configs:
                env, server_args = parse_config(config)
                server, url = start_server(args.model, server_args, Path(folder) / "server.log", env)
                try:
                    run_wrk(url, lua, args.connections, 2)  # each server's own warm-up
                    run = run_wrk(url, lua, args.connections, args.seconds)
                    if round_:
                        results[config].append(run)
                        print(config, run, flush=True)
                    if round_ == args.rounds:
                        overloads[config] = run_wrk(url, lua, args.overload_connections, args.seconds)
                        ready = http_status(f"{url}/ready")
                        print("overload", config, overloads[config], "ready after:", ready, flush=True)
                finally:
                    server.terminate()
                    server.wait(30)

    versions = runtime_versions()
    rows = []
    for config, runs in results.items():
        best = max(runs, key=lambda r: r.requests_per_second)
        over = overloads[config]
        rows.append(
            f"| `{config}` | {statistics.median(r.requests_per_second for r in runs):,.0f} "
            f"({', '.join(f'{r.requests_per_second:,.0f}' for r in runs)}) | {best.p50_ms:.1f} / {best.p90_ms:.1f} / "
            f"{best.p99_ms:.1f} | {over.requests_per_second:,.0f}: "
            + ", ".join(f"{count:,} × {status}" for status, count in sorted(over.statuses.items()))
            + f"; socket errors: {over.socket_errors} |"
        )
    table = "\n".join(
        [
            f"{date.today()}, {describe_cpu()}; torch {versions['torch']}, {wrk_version}; client and server on the "
            f"same CPUs; one pre-tokenised sentence of 5–40 words per request (from {args.data.name}); "
            f"`wrk -t1 -c{args.connections} -d{args.seconds:g}s`, {args.rounds} rounds after a warm-up round, "
            f"configurations interleaved; overload: `-c{args.overload_connections}`.",
            "",
            f"Command: `python {' '.join(sys.argv)}`",
            "",
            "| configuration (`ENV:ARGS`) | requests/s, median (rounds) | latency p50 / p90 / p99, ms (best round) "
            "| overload: requests/s and statuses |",
            "| --- | --- | --- | --- |",
            *rows,
        ]
    )
    print(table)
    if args.benchmarks:
        from markdown_section import replace_section

        replace_section(args.benchmarks, table, MARK_START, MARK_END)


if __name__ == "__main__":
    main()
