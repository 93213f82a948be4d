"""`tagger serve`: a real server on a free loopback port, serving the tiny model trained for the session.

The answers are the records of `tagger tag --output-format jsonl`; concurrent requests are batched and each gets
its own answer; hostile requests get a clear 4xx, never a 500; overload is answered 200 or 503 and leaves the
server serving; SIGTERM under load finishes what is in flight, refuses what is new and exits in time."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server is an optional extra: pip install 'bilstm-tagger[serve]'")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from tagger.batch import BatchOptions, tag_to_stream  # noqa: E402
from tagger.cli import app  # noqa: E402
from tagger.errors import ConfigError  # noqa: E402
from tagger.serve import Limits, ServeSettings, create_app, parse_model_specs  # noqa: E402
from tagger.serve import batcher as batcher_module  # noqa: E402
from tagger.serve.batcher import Batcher  # noqa: E402
from tagger.serve.observability import Metrics  # noqa: E402
from tagger.serve.request import RequestRefused, TagRequest  # noqa: E402
from tagger.serve.tagging import Answer, Tokenizing, tag_requests  # noqa: E402
from tagger.tagging.torch_tagger import Tagger  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEXT = "John Smith lives in Paris. Mary works for Acme Corp in Berlin.\n\nThe EU rejects German call."
SENTENCES = [["John", "Smith", "lives", "in", "Paris", "."], ["Anna", "likes", "German", "beer", "."]]
HEAVY = "Peter visited London and Rome . " * 800  # 4,800 words: one request per batch, tens of milliseconds
STARTUP_SECONDS = 120  # a busy 2-core machine: torch, spaCy and the model in a fresh process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path  # standard error: uvicorn's messages
    access: Path  # standard output: the JSON access log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples with these labels, from /metrics."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(model: Path, folder: Path, *options: object) -> Server:
    """``tagger serve MODEL`` in a process of its own, on a free loopback port, once it answers /ready."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log, access = folder / "server.log", folder / "access.jsonl"
    command = [sys.executable, "-m", "tagger", "serve", str(model), "--port", str(port), "--device", "cpu"]
    with log.open("wb") as err, access.open("wb") as out:
        process = subprocess.Popen(
            command + [str(o) for o in options],
            stdout=out,
            stderr=err,
            cwd=ROOT,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    server = Server(process, port, log, access)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"tagger serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.url}/ready", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    pytest.fail(f"tagger serve was not ready within {STARTUP_SECONDS} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(trained_model, tmp_path_factory):
    # A small queue, so that overload is reached with few requests; a long batching wait, so that concurrent
    # requests surely share batches; a short receive timeout, so that a trickling request is refused quickly.
    started = start_server(
        trained_model,
        tmp_path_factory.mktemp("serve"),
        "--max-queue", 32, "--max-wait-ms", 20, "--receive-timeout", 1, "--timeout", 30,
    )  # fmt: skip
    yield started
    started.stop()


def post(server: Server, body: object, **options: object) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/tag", json=body, timeout=30, **options)


async def post_all(server: Server, bodies: list[object], timeout: float = 60) -> list[httpx.Response | Exception]:
    """Every body at once, each on a connection of its own."""
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        return await asyncio.gather(
            *(client.post(f"{server.url}/v1/tag", json=body) for body in bodies), return_exceptions=True
        )


def same_records(served: list[dict], written: list[dict]) -> None:
    """Equal, probabilities to within rounding (the server's torch may run another number of threads)."""
    assert len(served) == len(written)
    for a, b in zip(served, written):
        assert {k: v for k, v in a.items() if k != "probabilities"} == {
            k: v for k, v in b.items() if k != "probabilities"
        }
        assert a.get("probabilities") == pytest.approx(b.get("probabilities"), abs=2e-4)


# --- what it answers


def test_texts_and_sentences_come_back_as_the_records_of_tagger_tag_jsonl(server, trained_model, tmp_path):
    text_file = tmp_path / "news.txt"
    text_file.write_text(TEXT, encoding="utf-8")
    words_file = tmp_path / "words.jsonl"
    words_file.write_text("".join(json.dumps({"words": s}) + "\n" for s in SENTENCES), encoding="utf-8")
    options = BatchOptions(output_format="jsonl", probabilities=True, device="cpu", workers=1)
    for source in (text_file, words_file):
        tag_to_stream(trained_model, [str(source)], tmp_path / f"{source.name}.out", options)

    def written(source: Path) -> list[dict]:
        lines = (tmp_path / f"{source.name}.out").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    texts = post(server, {"texts": [TEXT], "probabilities": True})
    assert texts.status_code == 200 and texts.headers["content-type"] == "application/json"
    assert texts.json()["model"] == "ner"
    same_records(texts.json()["texts"][0], written(text_file))
    assert texts.json()["texts"][0][0]["entities"][0] == {
        "label": "PER", "start": 0, "end": 10, "start_word": 0, "end_word": 2, "text": "John Smith"
    }  # fmt: skip
    sentences = post(server, {"sentences": SENTENCES, "probabilities": True})
    assert sentences.status_code == 200
    same_records(sentences.json()["sentences"], written(words_file))
    plain = post(server, {"sentences": SENTENCES[:1], "scheme": "BIOES", "model": "ner"}).json()["sentences"][0]
    assert plain["tags"] == ["B-PER", "E-PER", "O", "O", "S-LOC", "O"] and "probabilities" not in plain


def test_health_ready_models_docs_and_metrics(server):
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/ready").json() == {"status": "ready", "models": {"ner": True}}
    models = httpx.get(f"{server.url}/v1/models").json()
    assert models["default"] == "ner"
    (model,) = models["models"]
    assert (
        model["task"] == "spans"
        and "B-PER" in model["labels"]
        and model["entity_types"] == ["LOC", "MISC", "ORG", "PER"]
    )
    assert model["metrics"]["dev"]["token_accuracy"] == 1.0 and model["config"]["model"]["hidden"] == 16
    assert "swagger" in httpx.get(f"{server.url}/docs").text.lower()
    schema = httpx.get(f"{server.url}/openapi.json").json()["paths"]["/v1/tag"]["post"]["requestBody"]
    assert {"texts", "sentences", "model", "probabilities", "scheme"} <= set(
        schema["content"]["application/json"]["schema"]["properties"]
    )
    post(server, {"texts": ["Anna visited London."]})
    for name in (
        "tagger_http_requests_total",
        "tagger_http_request_duration_seconds_bucket",
        "tagger_batch_requests_count",
        "tagger_words_tagged_total",
    ):
        assert server.metric(name) > 0, name
    assert server.metric("tagger_queue_depth", model="ner") == 0
    lines = [json.loads(line) for line in server.access.read_text(encoding="utf-8").splitlines()]
    tagged = [line for line in lines if line["path"] == "/v1/tag" and line["status"] == 200]
    assert tagged and {"time", "client", "method", "ms", "bytes_out", "model", "items", "words"} <= set(tagged[-1])


def test_concurrent_requests_share_batches_and_each_gets_its_own_answer(server):
    bodies: list[dict] = []
    for n in range(24):
        words = SENTENCES[n % 2] + [f"w{n}"]
        bodies.append({"texts": [" ".join(words)]} if n % 3 else {"sentences": [words], "probabilities": bool(n % 2)})
        bodies[-1]["scheme"] = "BIOES" if n % 4 == 0 else "IOB2"
    alone = [post(server, body).json() for body in bodies]
    batches_before = server.metric("tagger_batch_requests_count", model="ner")
    together = asyncio.run(post_all(server, bodies))
    batches = server.metric("tagger_batch_requests_count", model="ner") - batches_before
    for body, single, response in zip(bodies, alone, together):
        assert not isinstance(response, Exception) and response.status_code == 200, response
        kind = "texts" if "texts" in body else "sentences"
        served = response.json()[kind]
        same_records(served[0] if kind == "texts" else served, single[kind][0] if kind == "texts" else single[kind])
    assert batches < len(bodies), f"{len(bodies)} concurrent requests were tagged in {batches} batches"


# --- hostile requests: each a clear 4xx, never a 500

HOSTILE = [  # (what, request options, status, words the answer must hold)
    ("invalid JSON", {"content": b'{"texts": ["a"'}, 422, "body: Invalid JSON"),
    ("not an object", {"json": ["a", "b"]}, 422, "body"),
    ("texts not a list", {"json": {"texts": "John lives in Paris."}}, 422, "body.texts"),
    ("a text not a string", {"json": {"texts": ["a", 7]}}, 422, "body.texts.1"),
    ("a word not a string", {"json": {"sentences": [["John", None]]}}, 422, "body.sentences.0.1"),
    ("an empty word", {"json": {"sentences": [["John", ""]]}}, 422, "body.sentences.0.1"),
    (
        "an empty sentence",
        {"json": {"sentences": [["John"], []]}},
        422,
        "body.sentences.1: List should have at least 1",
    ),
    ("texts and sentences", {"json": {"texts": ["a"], "sentences": [["a"]]}}, 422, "not both or neither"),
    ("no input", {"json": {}}, 422, "not both or neither"),
    ("a misspelt option", {"json": {"texts": ["a"], "probabilites": True}}, 422, "body.probabilites"),
    ("a string for a boolean", {"json": {"texts": ["a"], "probabilities": "yes"}}, 422, "body.probabilities"),
    ("an unknown scheme", {"json": {"texts": ["a"], "scheme": "IOB3"}}, 422, "body.scheme"),
    ("a number for a model", {"json": {"texts": ["a"], "model": 3}}, 422, "body.model"),
    ("an unknown model", {"json": {"texts": ["a"], "model": "nope"}}, 404, "no model named 'nope'"),
    ("invalid UTF-8", {"content": b'{"texts": ["caf\xe9"]}'}, 422, "body: Invalid JSON"),
    ("a lone surrogate", {"content": b'{"texts": ["\\ud800"]}'}, 422, "body: Invalid JSON"),
    ("JSON nested 100,000 deep", {"content": b"[" * 100_000}, 422, "body: Invalid JSON"),
    ("an empty body", {"content": b""}, 422, "body: Invalid JSON"),
    ("a 10 MB body", {"content": b'{"texts": ["' + b"a " * 5_000_000 + b'"]}'}, 413, "max_body_bytes"),
    ("a 100,000-word sentence", {"json": {"sentences": [["w"] * 100_000]}}, 413, "max_words"),
    ("a 200,000-character text", {"json": {"texts": ["ab " * 66_667]}}, 413, "max_chars"),
    ("1,001 texts", {"json": {"texts": ["a"] * 1_001}}, 413, "max_items"),
    ("10,001 words over many sentences", {"json": {"sentences": [["w"] * 100] * 100 + [["w"]]}}, 413, "max_words"),
    ("1,001 one-word sentences", {"json": {"sentences": [["w"]] * 1_001}}, 413, "max_items"),
    ("form data", {"data": {"texts": "a"}}, 415, "Content-Type: application/json"),
]


@pytest.mark.parametrize("options, status, expected", [case[1:] for case in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_a_hostile_request_gets_a_clear_4xx(server, options, status, expected):
    if "content" in options:
        options = {**options, "headers": {"Content-Type": "application/json"}}
    response = httpx.post(f"{server.url}/v1/tag", timeout=30, **options)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert expected in (detail if isinstance(detail, str) else json.dumps(detail)), detail
    if status == 413:
        assert response.json()["limit"] in expected


def exchange(port: int, pieces: list[bytes], pause: float = 0.0) -> bytes:
    """Send ``pieces`` over a raw connection, ``pause`` seconds apart, stopping as soon as the server answers;
    return all it sent before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for piece in pieces:
            if select.select([sock], [], [], 0)[0]:
                break  # answered already
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(pause)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


HEAD = b"POST /v1/tag HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"
RAW = [  # (what, pieces sent one by one, pause between them, status line start)
    ("a body arriving byte by byte", [HEAD] + [b" "] * 40, 0.1, b"HTTP/1.1 408"),
    ("a body shorter than its Content-Length", [HEAD, b'{"texts": []}'], 0, b"HTTP/1.1 408"),
    ("headers arriving byte by byte", [bytes([b]) for b in HEAD], 0.05, b"HTTP/1.1 408"),
    (
        "a 1 MB header",
        [b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 1_000_000 + b"\r\n\r\n"],
        0,
        b"HTTP/1.1 431",
    ),
    ("a garbled request line", [b"\x00\x01 nonsense\r\n\r\n"], 0, b"HTTP/1.1 400"),
    (
        "a Content-Length that is no number",
        [b"POST /v1/tag HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n"],
        0,
        b"HTTP/1.1 400",
    ),
    (
        "2 MB chunked, with no Content-Length",
        [b"POST /v1/tag HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"]
        + [b"10000\r\n" + b" " * 0x10000 + b"\r\n"] * 32
        + [b"0\r\n\r\n"],
        0,
        b"HTTP/1.1 413",
    ),
]


@pytest.mark.parametrize("pieces, pause, status", [case[1:] for case in RAW], ids=[c[0] for c in RAW])
def test_a_hostile_connection_gets_a_clear_4xx(server, pieces, pause, status):
    assert exchange(server.port, pieces, pause).startswith(status)


def test_other_methods_and_paths(server):
    assert httpx.get(f"{server.url}/v1/tag").status_code == 405
    assert httpx.get(f"{server.url}/nowhere").status_code == 404
    odd = post(server, {"texts": ["", "a\u0000b Paris \u202e\U0001f600", "\n\n\n"], "sentences": None})
    assert odd.status_code == 200 and [len(t) for t in odd.json()["texts"]] == [0, 1, 0]
    # A word of 50,000 characters is tagged like any other (the char encoder reads the first max_word_len)
    long = post(server, {"texts": ["See " + "x" * 50_000 + " in Paris."]})
    assert long.status_code == 200 and len(long.json()["texts"][0][0]["words"][1]) == 50_000


def test_no_hostile_request_left_a_traceback(server):
    """Run after the hostile requests (pytest keeps the file's order): the server answers, and logged no bug."""
    assert post(server, {"texts": ["Anna visited London."]}).status_code == 200
    assert server.metric("tagger_http_requests_total", status="500") == 0
    assert "Traceback" not in server.log.read_text(encoding="utf-8")


# --- overload


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's memory from /proc")
def test_overload_is_answered_200_or_503_and_the_server_recovers(server):
    bodies = [{"texts": [HEAVY]}] * 100
    asyncio.run(post_all(server, bodies[:4]))  # warm: the sizes of heavy batches are allocated once
    before = resident_mb(server.process.pid)
    started = time.monotonic()
    answers = asyncio.run(post_all(server, bodies))
    seconds = time.monotonic() - started
    assert not [a for a in answers if isinstance(a, Exception)], "a request was lost or hung"
    statuses = [a.status_code for a in answers]
    assert set(statuses) == {200, 503}, statuses
    refused = [a for a in answers if a.status_code == 503]
    assert all(a.headers["Retry-After"] == "1" and "max_queue" in a.json()["detail"] for a in refused)
    assert seconds < 30
    assert server.metric("tagger_queue_depth", model="ner") == 0
    assert post(server, {"texts": ["Anna visited London."]}).status_code == 200
    assert resident_mb(server.process.pid) - before < 150, "memory grew under overload and stayed"


# --- what a request costs, in process


def test_texts_pay_for_probabilities_only_when_they_ask(trained_model):
    """Raw texts without "probabilities" are tagged without them (a CRF's marginals cost a third of its time);
    with them, each word has its probability, and the tags are the same."""
    tagger = Tagger.load(trained_model, device="cpu")
    asked: list[bool] = []
    predict = tagger.predict

    def spy(sentences, batch_size=256, documents=None, scores=True):
        asked.append(scores)
        return predict(sentences, batch_size, documents, scores)

    tagger.predict = spy  # type: ignore[method-assign]
    requests = [TagRequest(texts=[TEXT]), TagRequest(texts=[TEXT], probabilities=True)]
    plain, scored = (json.loads(a.body)["texts"][0] for a in tag_requests(tagger, "ner", requests, Tokenizing()))
    assert asked == [False, True]
    assert all("probabilities" not in record for record in plain)
    assert [len(r["probabilities"]) for r in scored] == [len(r["words"]) for r in scored]
    assert [r["tags"] for r in plain] == [r["tags"] for r in scored]


SERVE_AN_EXPORT = """
import importlib.abc, json, sys

class NoTorch(importlib.abc.MetaPathFinder):  # as if torch were not installed
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

export, workers, without_torch, body = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "without-torch", sys.argv[4]
if without_torch:
    sys.meta_path.insert(0, NoTorch())
from starlette.testclient import TestClient
from tagger.serve import ServeSettings, create_app

app = create_app(ServeSettings(models={"ner": export}, device="cpu", workers=workers))  # the models are loaded here
loaded_torch = "torch" in sys.modules
with TestClient(app) as client:
    models = client.get("/v1/models")
    answer = client.post("/v1/tag", json=json.loads(body))
print(json.dumps({"loaded_torch": loaded_torch, "status": [models.status_code, answer.status_code], "answer": answer.json()}))
"""


def serve_an_export(export: Path, workers: int, torch_installed: bool, body: dict) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SERVE_AN_EXPORT,
            str(export),
            str(workers),
            "with-torch" if torch_installed else "without-torch",
            json.dumps(body),
        ],
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_server_of_an_export_never_imports_torch(trained_model, tmp_path):
    """The server loads an export on onnxruntime through load_tagger, as the command line does: loading its models
    imports no torch, and where torch cannot be imported at all the server starts (its warm-up loads spaCy, whose
    thinc imports torch only where it is installed), lists its model and answers sentences and texts, with the tags
    of the PyTorch model the export was made from."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tagger.export import export_model

    export = export_model(trained_model, tmp_path / "onnx").out_dir
    expected = Tagger.load(trained_model, device="cpu").tag(SENTENCES)
    served = serve_an_export(export, 1, torch_installed=True, body={"sentences": SENTENCES})
    assert served["loaded_torch"] is False and served["status"] == [200, 200]
    assert [record["tags"] for record in served["answer"]["sentences"]] == expected
    for body in ({"sentences": SENTENCES}, {"texts": [TEXT]}):  # two workers: each its share of the CPUs
        served = serve_an_export(export, 2, torch_installed=False, body=body)
        assert served["loaded_torch"] is False and served["status"] == [200, 200], body
    assert [r["tags"] for r in served["answer"]["texts"][0]] == [
        t.tags for t in Tagger.load(trained_model, device="cpu").tag_texts([TEXT])[0]
    ]


def test_a_request_to_full_queues_is_refused_before_its_body_is_read(trained_model, monkeypatch):
    """Past its capacity the server spends next to nothing on a request it cannot take: 503 with Retry-After
    before the body is read. The same request with room in the queue is read and tagged. And once started, what
    the server loaded is frozen out of the garbage collector's passes (they held every request under load)."""
    app = create_app(ServeSettings(models={"ner": str(trained_model)}, device="cpu"))
    body = b'{"texts": ["Anna visited London."]}'
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/tag", "raw_path": b"/v1/tag", "query_string": b"", "root_path": "", "state": {},
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080),
    }  # fmt: skip
    read: list[int] = []

    async def receive() -> dict:
        read.append(len(body))
        return {"type": "http.request", "body": body, "more_body": False}

    async def answer() -> tuple[int, dict[bytes, bytes], dict]:
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        await asyncio.wait_for(app(dict(scope), receive, send), 30)
        return sent[0]["status"], dict(sent[0]["headers"]), json.loads(b"".join(m.get("body", b"") for m in sent[1:]))

    async def scenario():
        service = app.state.service
        await service.start()
        try:
            frozen = gc.get_freeze_count()
            with monkeypatch.context() as patched:
                patched.setattr(Batcher, "full", property(lambda self: True))
                refused = await answer()
            unread = list(read)
            return frozen, refused, unread, await answer()
        finally:
            await service.stop()
            gc.unfreeze()

    frozen, (status, headers, detail), unread, (tagged_status, _, tagged) = asyncio.run(scenario())
    assert status == 503 and headers[b"retry-after"] == b"1" and "max_queue" in detail["detail"]
    assert unread == [], "the body of a refused request was read"
    assert tagged_status == 200 and tagged["texts"][0][0]["words"] == ["Anna", "visited", "London", "."]
    assert read and frozen > 0


# --- SIGTERM under load


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_finishes_requests_in_flight_refuses_new_ones_and_exits_in_time(trained_model, tmp_path, workers):
    drain = 15
    server = start_server(trained_model, tmp_path, "--workers", workers, "--drain-timeout", drain, "--timeout", 60)
    try:
        count = 16
        answers: list = []
        load = threading.Thread(
            target=lambda: answers.extend(asyncio.run(post_all(server, [{"texts": [HEAVY]}] * count)))
        )
        load.start()
        deadline = time.monotonic() + 60
        while True:  # until every request has reached the server and at least two are still being answered
            in_flight = server.metric("tagger_http_requests_in_flight", route="/v1/tag")
            done = server.metric("tagger_http_requests_total", route="/v1/tag")
            if in_flight + done >= count and in_flight >= 2:
                break
            assert time.monotonic() < deadline and done < count - 1, "the load finished before SIGTERM could be sent"
            time.sleep(0.05)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        refused_after = wait_refused(server.port, signalled + 5)
        server.process.wait(drain + 5)
        exited_after = time.monotonic() - signalled
        load.join(60)
    finally:
        server.stop()
    assert refused_after < 2, "new connections were still accepted after SIGTERM"
    assert exited_after < drain, f"exited {exited_after:.1f} s after SIGTERM; the drain timeout is {drain} s"
    assert server.process.returncode in (0, -signal.SIGTERM)
    assert len(answers) == count and all(not isinstance(a, Exception) and a.status_code == 200 for a in answers), (
        answers
    )
    assert "Traceback" not in server.log.read_text(encoding="utf-8")


def wait_refused(port: int, deadline: float) -> float:
    """Seconds from now until a connection to ``port`` is refused (a failed test past ``deadline``)."""
    started = time.monotonic()
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except (ConnectionRefusedError, ConnectionResetError):
            return time.monotonic() - started
        time.sleep(0.05)
    return time.monotonic() - started


# --- the batcher alone, with a stand-in for the model


def run_batcher(monkeypatch, tag, scenario, **settings):
    """``scenario(batcher)`` against a Batcher whose model call is ``tag(requests)``."""
    monkeypatch.setattr(batcher_module, "tag_requests", lambda tagger, name, requests, tokenizing: tag(requests))
    chosen = ServeSettings(models={"m": "unused"}, **settings)

    async def main():
        batcher = Batcher("m", None, chosen, Metrics())  # type: ignore[arg-type]
        await batcher.start()
        try:
            return await scenario(batcher)
        finally:
            await batcher.stop()

    return asyncio.run(main())


REQUEST = TagRequest(sentences=[["w"]])


def test_batcher_tags_waiting_requests_together(monkeypatch):
    calls: list[int] = []

    def tag(requests):
        calls.append(len(requests))
        return [Answer(b"{}", 1)] * len(requests)

    async def scenario(batcher):
        return await asyncio.gather(*(batcher.submit(REQUEST, 1) for _ in range(6)))

    answers = run_batcher(monkeypatch, tag, scenario, max_wait_ms=200)
    assert len(answers) == 6 and calls[1:] == [6]  # calls[0]: the warm-up


def test_batcher_refuses_beyond_its_queue_and_past_the_timeout(monkeypatch):
    hold, release = threading.Event(), threading.Event()

    def tag(requests):
        if hold.is_set():
            release.wait(5)
        return [Answer(b"{}", 1)] * len(requests)

    async def scenario(batcher):
        hold.set()
        running = asyncio.ensure_future(batcher.submit(REQUEST, 1))  # taken into a batch, held there
        await asyncio.sleep(0.05)
        waiting = [asyncio.ensure_future(batcher.submit(REQUEST, 1)) for _ in range(2)]
        await asyncio.sleep(0.01)
        with pytest.raises(RequestRefused) as full:
            await batcher.submit(REQUEST, 1)
        results = await asyncio.gather(running, *waiting, return_exceptions=True)
        release.set()
        return full.value, results

    full, results = run_batcher(monkeypatch, tag, scenario, max_queue=2, max_wait_ms=0, request_timeout=0.3)
    assert full.status == 503 and full.headers == {"Retry-After": "1"} and "max_queue" in full.message
    assert all(isinstance(r, RequestRefused) and r.status == 503 and "request_timeout" in r.message for r in results)


def test_a_failing_batch_fails_its_requests_and_the_batcher_goes_on(monkeypatch):
    def tag(requests):
        if any(r.sentences == [["boom"]] for r in requests):
            return [ValueError("boom")] * len(requests)
        return [Answer(b"{}", 1)] * len(requests)

    async def scenario(batcher):
        with pytest.raises(ValueError, match="boom"):
            await batcher.submit(TagRequest(sentences=[["boom"]]), 1)
        return await batcher.submit(REQUEST, 1), batcher.alive

    answer, alive = run_batcher(monkeypatch, tag, scenario, max_wait_ms=0)
    assert answer.body == b"{}" and alive


# --- settings and the command line


def test_settings_are_checked_when_made():
    assert parse_model_specs(["models/ner", "pos=models/en-upos/"]) == {"ner": "models/ner", "pos": "models/en-upos/"}
    for bad in (
        lambda: parse_model_specs(["a/ner", "b/ner"]),
        lambda: ServeSettings(models={}),
        lambda: ServeSettings(models={"bad name": "x"}),
        lambda: ServeSettings(models={"m": "x"}, max_queue=0),
        lambda: ServeSettings(models={"m": "x"}, request_timeout=0),
        lambda: ServeSettings(models={"m": "x"}, limits=Limits(max_words=-1)),
    ):
        with pytest.raises(ConfigError):
            bad()
    settings = ServeSettings(models={"m": "x"}, workers=2, limits=Limits(max_items=5))
    assert ServeSettings.from_json(settings.to_json()) == settings


def test_a_bad_model_or_a_port_in_use_is_one_line_and_exit_2(trained_model, tmp_path):
    missing = CliRunner().invoke(app, ["serve", str(tmp_path / "nothing"), "--port", str(free_port())])
    assert missing.exit_code == 2 and "error:" in missing.output and "Traceback" not in missing.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = CliRunner().invoke(
            app, ["serve", str(trained_model), "--port", str(taken.getsockname()[1]), "--device", "cpu"]
        )
    assert busy.exit_code == 2 and "cannot listen on 127.0.0.1" in busy.output, busy.output
