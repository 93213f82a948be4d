"""Load test of `tagger serve` on this machine (loopback only): requests/s, words/s and p50/p95/p99 latency at
1, 16, 64 and 256 concurrent clients, for one-sentence requests and for 500-word documents, then an overload run
at twice the measured capacity, with the server's memory before and after, and a check that it then serves
normally.

    python scripts/benchmarks/load_test.py MODEL_DIR                      # starts `tagger serve MODEL_DIR` on a free port
    python scripts/benchmarks/load_test.py MODEL_DIR --seconds 5 --overload-seconds 10 --levels 1 16   # a quick look
    python scripts/benchmarks/load_test.py MODEL_DIR --url http://127.0.0.1:8080 --server-pid PID     # a server you started
    python scripts/benchmarks/load_test.py MODEL_DIR --server-arg=--workers --server-arg=2 --json load.json

Every run is bounded in time (--seconds per level, --overload-seconds, --time-limit for all) and in requests
(--max-requests per level). The client is asyncio + aiohttp, in --client-processes processes; each run reports
the client's CPU use, so that a client near one full core (it would be the bottleneck) is seen. The texts are
sentences of the corpus given by --data (UD English EWT test by default), joined into ~15-word requests and
500-word documents. "in-process" is `Tagger.tag_texts` on the same documents (one text per document), for the
ratio of what HTTP passes through: without probabilities, as the requests ask, which the server is judged by, and
with them, `tagger benchmark`'s raw-text measure. The overload run counts apart the requests its client did not
send (at --max-outstanding open requests): the server is judged on those it was sent.

Run it on a quiet machine: another CPU-heavy process changes every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT / "corpora" / "ud_en_ewt" / "en_ewt-ud-test.conllu.gz"
LEVELS = (1, 16, 64, 256)
SENTENCE_WORDS = (10, 20)  # one-sentence requests: sentences of 10 to 20 words, ~15 on average
DOCUMENT_WORDS = 500
CLIENT_TIMEOUT = 60.0  # seconds; the server answers within its own --timeout (10 s), so a client timeout is a hang
JSON = {"Content-Type": "application/json"}


@dataclass
class Payload:
    body: bytes
    words: int  # as the server's tokenizer splits the text


@dataclass
class Run:
    """One measured run: what was sent, what came back, how fast."""

    kind: str  # sentence | document
    clients: int  # concurrent clients (closed loop), or 0 for an open-loop run
    seconds: float = 0.0
    sent: int = 0  # requests measured: answered within the window (closed loop), or sent (open loop)
    not_sent: int = 0  # open loop: requests due while the client already had --max-outstanding open (not sent)
    statuses: dict[str, int] = field(default_factory=dict)  # "200", "503", ... and errors by name
    words: int = 0  # in answered (200) requests
    latencies_ms: list[float] = field(default_factory=list)  # of 200 answers
    refused_ms: list[float] = field(default_factory=list)  # of 503 answers: a refusal should be quick
    client_cpu: float = 0.0  # client CPU seconds / wall seconds, summed over client processes

    @property
    def ok(self) -> int:
        return self.statuses.get("200", 0)

    def record(self, status: str, seconds: float, words: int) -> None:
        """One answer: its status, and its latency among the 200s (with its words) or the 503s."""
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == "200":
            self.latencies_ms.append(seconds * 1000)
            self.words += words
        elif status == "503":
            self.refused_ms.append(seconds * 1000)

    def percentile(self, p: float, refused: bool = False) -> float:
        values = self.refused_ms if refused else self.latencies_ms
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def summary(self) -> dict:
        return {
            "kind": self.kind,
            "clients": self.clients,
            "seconds": round(self.seconds, 2),
            "sent": self.sent,
            "not_sent": self.not_sent,
            "statuses": self.statuses,
            "requests_per_s": round(self.ok / self.seconds, 1) if self.seconds else 0,
            "words_per_s": round(self.words / self.seconds) if self.seconds else 0,
            "p50_ms": round(self.percentile(50), 2),
            "p95_ms": round(self.percentile(95), 2),
            "p99_ms": round(self.percentile(99), 2),
            "refused_p50_ms": round(self.percentile(50, refused=True), 2),
            "refused_p99_ms": round(self.percentile(99, refused=True), 2),
            "client_cpu": round(self.client_cpu, 2),
        }


# --- the texts


def make_payloads(data: Path, model_dir: Path) -> tuple[list[Payload], list[Payload], dict[str, float]]:
    """One-sentence requests and 500-word documents from the corpus, each with its word count as the server
    splits it; and the in-process raw-text words/s on the documents (``Tagger.tag_texts``, one text per
    document): without probabilities, as the requests ask (the reference the server is judged by), and with
    them (``tagger benchmark``'s measure)."""
    from tagger import Tagger
    from tagger.corpus import read_corpus

    sentences = [s.words for s in read_corpus(data)[0]]
    low, high = SENTENCE_WORDS
    short = [" ".join(words) for words in sentences if low <= len(words) <= high][:2000]
    documents, current = [], []
    for words in sentences:
        current += words
        if len(current) >= DOCUMENT_WORDS:
            documents.append(" ".join(current[:DOCUMENT_WORDS]))
            current = []
    tagger = Tagger.load(model_dir, device="cpu")
    counts = [sum(len(s.words) for s in text) for text in tagger.tag_texts(short)]
    document_counts = [sum(len(s.words) for s in text) for text in tagger.tag_texts(documents)]  # also a warm-up
    in_process = {}
    for name, scores in (("no probabilities", False), ("probabilities", True)):
        passes = []
        for _ in range(3):
            started = time.perf_counter()
            tagger.tag_texts(documents, scores=scores)
            passes.append(time.perf_counter() - started)
        in_process[name] = sum(document_counts) / statistics.median(passes)

    def payloads(texts: list[str], words: list[int]) -> list[Payload]:
        return [Payload(json.dumps({"texts": [t]}).encode(), n) for t, n in zip(texts, words)]

    return payloads(short, counts), payloads(documents, document_counts), in_process


# --- the client


def client_process(url: str, payloads: list[Payload], kind: str, clients: int, seconds: float, warmup: float,
                   max_requests: int, seed: int) -> dict:  # fmt: skip
    """A closed loop of ``clients`` concurrent clients in this process, each sending its next request as soon as
    its last is answered; the requests answered after ``warmup`` seconds, for ``seconds`` (or until
    ``max_requests``), are measured."""
    import uvloop  # the server's event loop too: the client must not be the slower side

    return uvloop.run(closed_loop(url, payloads, kind, clients, seconds, warmup, max_requests, seed))


async def closed_loop(url: str, payloads: list[Payload], kind: str, clients: int, seconds: float, warmup: float,
                      max_requests: int, seed: int) -> dict:  # fmt: skip
    import aiohttp

    order = random.Random(seed)
    loop = asyncio.get_running_loop()
    run = Run(kind, clients)
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = loop.time() + warmup
        end = start + seconds

        async def client() -> None:
            while loop.time() < end and run.sent < max_requests:
                payload = payloads[order.randrange(len(payloads))]
                began = time.perf_counter()
                status = await send(session, url, payload)
                answered = loop.time()
                # Counted when answered within the measured window: a request answered after it (sent at its
                # end) is not counted, nor is the time it takes, which would stretch the window.
                if start <= answered < end and run.sent < max_requests:
                    run.sent += 1
                    run.seconds = answered - start  # the window, or less if max_requests ends it
                    run.record(status, time.perf_counter() - began, payload.words)

        cpu, began = time.process_time(), loop.time()
        await asyncio.gather(*(client() for _ in range(clients)))
        run.seconds = seconds if run.sent < max_requests else max(run.seconds, 1e-9)
        run.client_cpu = (time.process_time() - cpu) / (loop.time() - began)
    return asdict(run)


async def send(session, url: str, payload: Payload) -> str:
    """The status of one request, or the name of the error that stood for one."""
    import aiohttp

    try:
        async with session.post(url, data=payload.body, headers=JSON) as response:
            await response.read()
            return str(response.status)
    except asyncio.TimeoutError:
        return "timeout"
    except aiohttp.ClientError as error:
        return type(error).__name__


def closed_loop_run(url: str, payloads: list[Payload], kind: str, clients: int, args: argparse.Namespace) -> Run:
    """``clients`` spread over the client processes; their figures merged."""
    processes = max(1, min(args.client_processes, clients))
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    jobs = [
        (url, payloads, kind, share, args.seconds, args.warmup, args.max_requests // processes, seed)
        for seed, share in enumerate(shares)
    ]
    if processes == 1:
        parts = [client_process(*jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            parts = pool.starmap(client_process, jobs)
    merged = Run(kind, clients)
    statuses: Counter[str] = Counter()
    for part in parts:
        merged.sent += part["sent"]
        merged.words += part["words"]
        merged.latencies_ms += part["latencies_ms"]
        merged.refused_ms += part["refused_ms"]
        merged.client_cpu += part["client_cpu"]
        merged.seconds = max(merged.seconds, part["seconds"])
        statuses.update(part["statuses"])
    merged.statuses = dict(statuses)
    return merged


async def open_loop(url: str, payloads: list[Payload], kind: str, rate: float, seconds: float,
                    max_outstanding: int) -> Run:  # fmt: skip
    """Requests sent at ``rate`` per second whatever the answers, for ``seconds``: an overload the server cannot
    slow down. Every request is waited for (up to the client timeout): a missing answer is counted, not lost. A
    request due while ``max_outstanding`` are open is not sent, and counted apart (``not_sent``): the server
    never saw it, so it says nothing of the server, only that the client's bound was reached."""
    import aiohttp

    loop = asyncio.get_running_loop()
    run = Run(kind, 0)
    connector = aiohttp.TCPConnector(limit=max_outstanding, limit_per_host=max_outstanding)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    order = random.Random(0)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks: set[asyncio.Task] = set()

        async def one(payload: Payload) -> None:
            began = time.perf_counter()
            status = await send(session, url, payload)
            run.record(status, time.perf_counter() - began, payload.words)

        cpu = time.process_time()
        start = loop.time()
        interval = 1 / rate
        while (now := loop.time()) < start + seconds:
            due = int((now - start) / interval) + 1
            while run.sent + run.not_sent < due:
                if len(tasks) >= max_outstanding:  # the client's bound, not the server's answer: counted apart
                    run.not_sent += 1
                    continue
                task = asyncio.ensure_future(one(payloads[order.randrange(len(payloads))]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                run.sent += 1
            await asyncio.sleep(min(interval, 0.005))
        sending = loop.time() - start
        if tasks:
            await asyncio.wait(tasks)
        run.seconds = sending
        run.client_cpu = (time.process_time() - cpu) / max(loop.time() - start, 1e-9)
    return run


# --- the server


def check_loopback(url: str) -> None:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        address = ipaddress.ip_address(socket.gethostbyname(host))
    except (OSError, ValueError):
        sys.exit(f"error: cannot resolve {host!r}")
    if not address.is_loopback:
        sys.exit(f"error: {url} is not a loopback address; this load test only runs against this machine")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    model_dir: Path, extra: list[str], log: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    """`tagger serve MODEL_DIR EXTRA...` on a free loopback port, with ``env`` added to the environment, once
    /ready answers 200; its standard error to ``log``."""
    port = free_port()
    command = [sys.executable, "-m", "tagger", "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as err:  # the access log (standard output) is written, as in service, and dropped
        process = subprocess.Popen(
            command + extra, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT, env={**os.environ, **(env or {})}
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"error: tagger serve exited with {process.returncode}:\n{log.read_text()}")
        if http_status(f"{url}/ready") == 200:
            return process, url
        time.sleep(0.3)
    process.kill()
    sys.exit(f"error: tagger serve was not ready within 180 s:\n{log.read_text()}")


def http_status(url: str) -> int | None:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except OSError:
        return None


def tree_rss_mb(pid: int | None) -> float | None:
    """Resident memory of ``pid`` and its descendants (the worker processes), from /proc."""
    if pid is None or not Path(f"/proc/{pid}").exists():
        return None
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    family, grew = {pid}, True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in family and child not in family:
                family.add(child)
                grew = True
    total = 0
    for member in family:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


# --- the report


def print_run(run: Run) -> None:
    s = run.summary()
    clients = f"{s['clients']:>4}" if s["clients"] else "open"
    print(
        f"{s['kind']:<9} {clients} {s['requests_per_s']:>10,.1f} {s['words_per_s']:>11,} "
        f"{s['p50_ms']:>8.1f} {s['p95_ms']:>8.1f} {s['p99_ms']:>8.1f} {s['client_cpu']:>6.2f}  {statuses(run)}",
        flush=True,
    )


def statuses(run: Run) -> str:
    text = ", ".join(f"{name}: {count:,}" for name, count in sorted(run.statuses.items()))
    if run.refused_ms:
        text += f" (503 in p50 {run.percentile(50, True):,.1f} ms, p99 {run.percentile(99, True):,.1f} ms)"
    if run.not_sent:
        text += f"; not sent, the client at its --max-outstanding: {run.not_sent:,}"
    return text


HEADER = f"{'requests':<9} {'cli.':>4} {'requests/s':>10} {'words/s':>11} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'cpu':>6}  answers"


def targets(runs: list[Run], overload: Run | None, in_process: float, memory: dict, recovered: Run | None) -> list[str]:
    """The issue's Done-when, each with what this run measured."""
    lines = []
    at64 = [r for r in runs if r.kind == "sentence" and r.clients == 64]
    if at64:
        s = at64[0].summary()
        ok = s["requests_per_s"] >= 1000 and s["p99_ms"] <= 100
        lines.append(f"{'met' if ok else 'NOT met'}: sentences at 64 clients >= 1,000 requests/s with p99 <= 100 ms "
                     f"({s['requests_per_s']:,} requests/s, p99 {s['p99_ms']} ms)")  # fmt: skip
    documents = [r.summary()["words_per_s"] for r in runs if r.kind == "document"]
    if documents:
        best = max(documents)
        lines.append(f"{'met' if best >= in_process / 2 else 'NOT met'}: documents through HTTP >= 50% of in-process "
                     f"raw-text words/s without probabilities ({best:,} of {in_process:,.0f}: {best / in_process:.0%})")  # fmt: skip
    if overload is not None:
        answered = overload.statuses.get("200", 0) + overload.statuses.get("503", 0)
        ok = answered == overload.sent and overload.sent > 0
        lines.append(f"{'met' if ok else 'NOT met'}: at twice capacity every request sent answered 200 or 503 "
                     f"({answered:,} of {overload.sent:,}; {statuses(overload)})")  # fmt: skip
    if memory.get("before") and memory.get("after"):
        grown = memory["after"] / memory["before"] - 1
        lines.append(f"{'met' if grown <= 0.10 else 'NOT met'}: memory back to its level before the overload "
                     f"({memory['before']:,.0f} MB before, {memory['after']:,.0f} MB after: {grown:+.0%})")  # fmt: skip
    if recovered is not None:
        ok = recovered.ok == recovered.sent and recovered.sent > 0
        lines.append(f"{'met' if ok else 'NOT met'}: serves normally afterwards ({statuses(recovered)}, "
                     f"p99 {recovered.summary()['p99_ms']} ms)")  # fmt: skip
    return lines


# --- the whole test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="the model directory the server serves")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="corpus whose sentences make the requests")
    parser.add_argument("--url", help="a running server's URL (loopback only); default: start one")
    parser.add_argument("--server-pid", type=int, help="with --url: the server's process, for its memory")
    parser.add_argument("--server-arg", action="append", default=[], help="an option for the server it starts")
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS), help="concurrent clients")
    parser.add_argument("--kinds", nargs="+", default=["sentence", "document"], choices=["sentence", "document"])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each level")
    parser.add_argument("--max-requests", type=int, default=200_000, help="requests per level at most")
    parser.add_argument("--client-processes", type=int, default=1, help="processes the clients are spread over")
    parser.add_argument("--overload-seconds", type=float, default=60.0, help="0: no overload run")
    parser.add_argument("--overload-kind", default="sentence", choices=["sentence", "document"])
    parser.add_argument("--max-outstanding", type=int, default=4096, help="open requests of the overload at most")
    parser.add_argument("--time-limit", type=float, default=900.0, help="seconds for everything; then it stops")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: sys.exit(f"error: over --time-limit of {args.time_limit:g} s"))
    signal.alarm(int(args.time_limit))

    print(f"texts from {args.data}; in-process reference with {args.model} ...", flush=True)
    sentence_payloads, document_payloads, in_process = make_payloads(args.data, args.model)
    payloads = {"sentence": sentence_payloads, "document": document_payloads}
    words = {kind: statistics.mean(p.words for p in items) for kind, items in payloads.items()}
    print(f"{len(sentence_payloads):,} one-sentence requests ({words['sentence']:.1f} words on average), "
          f"{len(document_payloads):,} documents ({words['document']:.0f} words); in-process raw text on the "
          f"documents: {in_process['no probabilities']:,.0f} words/s without probabilities (as the requests), "
          f"{in_process['probabilities']:,.0f} with them (tagger benchmark's measure)", flush=True)  # fmt: skip

    process, log = None, Path(tempfile.mkdtemp(prefix="tagger-load-")) / "server.log"
    if args.url:
        url, pid = args.url.rstrip("/"), args.server_pid
    else:
        process, url = start_server(args.model, args.server_arg, log)
        pid = process.pid
        print(f"started tagger serve {' '.join(args.server_arg)} at {url} (pid {pid}, log {log})", flush=True)
    check_loopback(url)
    tag_url = f"{url}/v1/tag"
    report: dict = {"url": url, "in_process_words_per_s": {k: round(v) for k, v in in_process.items()}, "runs": []}
    try:
        print(HEADER, flush=True)
        runs = []
        for kind in args.kinds:
            for clients in args.levels:
                run = closed_loop_run(tag_url, payloads[kind], kind, clients, args)
                print_run(run)
                runs.append(run)
        report["runs"] = [r.summary() for r in runs]
        overload = recovered = None
        memory: dict = {}
        if args.overload_seconds > 0:
            measured = [r.summary()["requests_per_s"] for r in runs if r.kind == args.overload_kind]
            capacity = max(measured) if measured else 100.0
            rate = 2 * capacity
            memory["before"] = tree_rss_mb(pid)
            print(f"overload: {rate:,.0f} {args.overload_kind} requests/s (twice {capacity:,.0f}) for "
                  f"{args.overload_seconds:g} s", flush=True)  # fmt: skip
            overload = asyncio.run(
                open_loop(
                    tag_url,
                    payloads[args.overload_kind],
                    args.overload_kind,
                    rate,
                    args.overload_seconds,
                    args.max_outstanding,
                )  # fmt: skip
            )
            print_run(overload)
            time.sleep(5)  # what the overload left behind is freed
            memory["after"] = tree_rss_mb(pid)
            recovered = closed_loop_run(tag_url, payloads["sentence"], "sentence", 16, argparse.Namespace(
                **{**vars(args), "seconds": min(args.seconds, 5.0), "warmup": 0.5}))  # fmt: skip
            print("afterwards:")
            print_run(recovered)
            report.update(overload=overload.summary(), memory_mb=memory, afterwards=recovered.summary(),
                          overload_rate=rate)  # fmt: skip
        print()
        reference = in_process["no probabilities"]
        for line in targets(runs, overload, reference, memory, recovered):
            print(line)
        report["targets"] = targets(runs, overload, reference, memory, recovered)
        busy = [r for r in runs if r.client_cpu > 0.8 * max(1, args.client_processes)]
        if busy:
            print(f"note: the client used over 80% of a core per process in {len(busy)} runs; "
                  "more --client-processes may show more")  # fmt: skip
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
