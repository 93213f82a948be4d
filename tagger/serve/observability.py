"""What the server tells its operators: Prometheus metrics (``/metrics``) and one JSON access-log line per request,
both written by one ASGI middleware that sees every request and its answer.

With several workers the metrics are prometheus-client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``,
which the server sets for its workers), so ``/metrics`` from any worker reports the whole server."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import datetime, timezone
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess

NOTE = "tagger.note"  # the ASGI scope key where an endpoint leaves what the access log adds (model, words, items)
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
ROUTES = ("/v1/tag", "/v1/models", "/health", "/ready", "/metrics", "/docs", "/openapi.json")  # others: "other"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
WORD_BUCKETS = (16, 64, 256, 1024, 4096, 16384, 65536)
ACCESS_LOG = "tagger.serve.access"


class Metrics:
    """The server's metrics, in a registry of its own (an application made twice in one process, as tests do,
    does not register a name twice)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "tagger_http_requests",
            "HTTP requests answered, by route and status",
            ["route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "tagger_http_request_duration_seconds",
            "Time from a request's arrival to its answer",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "tagger_http_requests_in_flight",
            "Requests received and not yet answered, by route",
            ["route"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.batch_requests = Histogram(
            "tagger_batch_requests", "Requests per micro-batch", ["model"], buckets=BATCH_BUCKETS, registry=registry
        )
        self.batch_words = Histogram(
            "tagger_batch_words",
            "Words per micro-batch (estimated for raw text)",
            ["model"],
            buckets=WORD_BUCKETS,
            registry=registry,
        )
        self.queue_depth = Gauge(
            "tagger_queue_depth",
            "Requests waiting for a model",
            ["model"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.words = Counter("tagger_words_tagged", "Words tagged", ["model"], registry=registry)
        self.children: dict[tuple[Any, ...], Any] = {}  # labelled metrics by metric and labels, made once

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once: a hot path pays a dictionary lookup, not prometheus-client's
        checks and lock."""
        key = (id(metric), *labels)
        child = self.children.get(key)
        if child is None:
            child = self.children[key] = metric.labels(*labels)
        return child

    def observe_batch(self, model: str, requests: int, words: int) -> None:
        self.child(self.batch_requests, model).observe(requests)
        self.child(self.batch_words, model).observe(words)

    def exposition(self) -> tuple[bytes, str]:
        """The text ``/metrics`` answers, and its content type: this process's metrics, or every worker's."""
        if os.environ.get(MULTIPROCESS_DIR):
            registry = CollectorRegistry()
            prometheus_multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def worker_exited() -> None:
    """A worker's live gauges (queue depth) leave the sum when it exits."""
    if os.environ.get(MULTIPROCESS_DIR):
        prometheus_multiprocess.mark_process_dead(os.getpid())


def access_logger() -> logging.Logger:
    """One JSON object per line on standard output, apart from uvicorn's messages for people on standard error."""
    logger = logging.getLogger(ACCESS_LOG)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class Observed:
    """ASGI middleware: counts and times every HTTP request by route and status, and logs it as one JSON line."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics, self.log = app, metrics, access_logger()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        route = scope["path"] if scope["path"] in ROUTES else "other"
        in_flight = self.metrics.child(self.metrics.in_flight, route)
        in_flight.inc()
        answer = {"status": 500, "bytes": 0}  # 500 unless a response starts: an exception escaped the app
        note: dict[str, Any] = {}
        scope[NOTE] = note

        async def observed_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answer["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            seconds = time.perf_counter() - started
            in_flight.dec()
            self.metrics.child(self.metrics.requests, route, str(answer["status"])).inc()
            self.metrics.child(self.metrics.latency, route).observe(seconds)
            self.log.info(access_line(scope, answer["status"], answer["bytes"], seconds, note))


def access_line(scope: dict[str, Any], status: int, sent: int, seconds: float, note: dict[str, Any]) -> str:
    client = scope.get("client")
    record: dict[str, Any] = {
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "client": f"{client[0]}:{client[1]}" if client else None,
        "method": scope["method"],
        "path": scope["path"][:200],  # a hostile path is cut, not copied whole into every line
        "status": status,
        "ms": round(seconds * 1000, 2),
        "bytes_out": sent,
        **note,
    }
    return json.dumps(record)  # ASCII: a line any terminal or log pipeline reads, whatever the path held
