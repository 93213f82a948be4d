"""The HTTP service: a FastAPI application over one ``Batcher`` per model.

``POST /v1/tag`` tags raw texts or pre-tokenised sentences; ``GET /health`` (the process answers), ``/ready``
(every model loaded and batching), ``/v1/models`` (labels, scores and settings of each), ``/metrics``
(Prometheus) and ``/docs`` (OpenAPI). Every refusal is a JSON ``{"detail": ...}`` with a 4xx (or 503) status;
a 500 means a bug, and its traceback goes to the server's log, never to the client."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from tagger.errors import TaggerError
from tagger.model_info import entity_types
from tagger.schemes import NO_SCHEME, SCHEMES
from tagger.serve.batcher import RETRY_AFTER, Batcher
from tagger.serve.observability import NOTE, Metrics, Observed, worker_exited
from tagger.serve.request import (
    RequestRefused,
    TagRequest,
    check_limits,
    is_json,
    parse_request,
    read_body,
    request_schema,
)
from tagger.serve.settings import ServeSettings
from tagger.serve.tagging import encode_answer
from tagger.tagging.base import TaggerBase
from tagger.tagging.loading import load_tagger
from tagger.threads import serving_threads
from tagger.version import __version__

TAG_PATH = "/v1/tag"
SETTINGS_ENV = "TAGGER_SERVE_SETTINGS"  # how the worker processes get their settings (app_from_environment)
TRIM_SECONDS = 5.0  # how often an idle server hands the heap a burst grew back to the system
log = logging.getLogger("tagger.serve")
router = APIRouter()


class Service:
    """What the routes share: the settings, each model's tagger and batcher, the metrics."""

    def __init__(self, settings: ServeSettings, taggers: dict[str, TaggerBase]):
        self.settings, self.taggers, self.metrics = settings, taggers, Metrics()
        self.batchers = {name: Batcher(name, tagger, settings, self.metrics) for name, tagger in taggers.items()}
        self.ready = False
        self.trimmer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for batcher in self.batchers.values():
            await batcher.start()
        # What is loaded by now (torch, spaCy, the models: ~200,000 objects) lives as long as the process. Frozen,
        # it is left out of the collector's full passes, which otherwise walked all of it every few seconds under
        # load and held every request for that long (the p99 latency).
        gc.collect()
        gc.freeze()
        self.trimmer = asyncio.create_task(self.release_memory())
        self.ready = True

    @property
    def full(self) -> bool:
        """Every model's queue is full: a tagging request, whichever model it names, would be refused."""
        return all(batcher.full for batcher in self.batchers.values())

    async def stop(self) -> None:
        self.ready = False
        if self.trimmer is not None:
            self.trimmer.cancel()
        for batcher in self.batchers.values():
            await batcher.stop()
        worker_exited()

    async def release_memory(self) -> None:
        """glibc keeps the free heap that a burst of requests grew (thousands of connections, bodies and answers)
        instead of returning it; once the burst is over, malloc_trim returns it, so that memory after an
        overload goes back to its level before. Elsewhere than glibc, nothing to do."""
        trim = malloc_trim()
        if trim is None:
            return
        tagged = 0
        while True:
            await asyncio.sleep(TRIM_SECONDS)
            now = sum(batcher.batches for batcher in self.batchers.values())
            idle = not any(batcher.pending for batcher in self.batchers.values())
            if now != tagged and idle:
                trim(0)
                tagged = now


def malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None


def load_taggers(settings: ServeSettings) -> dict[str, TaggerBase]:
    """Each model loaded once, in this process, on the runtime it needs (an export without importing torch). One
    worker has every CPU, fewer while other processes keep some busy; several keep their share
    (``threads.serving_threads``)."""
    threads = serving_threads(settings.workers)
    return {
        name: load_tagger(path, settings.device, settings.quantize, threads) for name, path in settings.models.items()
    }


def create_app(settings: ServeSettings, taggers: dict[str, TaggerBase] | None = None) -> FastAPI:
    """The application serving ``settings.models`` (loaded here unless ``taggers`` are given)."""
    service = Service(settings, taggers if taggers is not None else load_taggers(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.stop()

    app = FastAPI(
        title="tagger",
        version=__version__,
        description="Sequence labeling (NER, POS, chunking) over HTTP, with micro-batching. "
        "POST /v1/tag answers the records `tagger tag --output-format jsonl` writes.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.include_router(router)
    app.add_middleware(TagFront, service=service)
    app.add_middleware(Observed, metrics=service.metrics)  # outside TagFront: every request is counted and logged
    app.add_exception_handler(RequestRefused, refused)
    app.add_exception_handler(Exception, internal_error)
    return app


class TagFront:
    """ASGI middleware that serves ``POST /v1/tag``, the one route under load, in front of FastAPI's router.

    - While every model's queue is full, a request is answered 503 at once, before its body is read or parsed
      (the route would refuse it the same way after reading it). Past its capacity the server then spends next
      to nothing on what it cannot take and answers every request quickly, instead of falling behind on reading
      them while they wait, unread, in the socket buffers.
    - Otherwise it calls the route's function, ``tag``, itself: FastAPI documents the route (``/docs``) and
      answers its other methods (405), but its routing and dependency resolution per request cost ~0.1 ms, 40%
      of the event loop's work for a one-sentence request."""

    def __init__(self, app: Any, service: Service) -> None:
        self.app, self.service = app, service
        limit = service.settings.max_queue
        detail = f"every model has {limit} requests waiting, the server's limit max_queue; retry shortly"
        body = json.dumps({"detail": detail}).encode("ascii")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"retry-after", RETRY_AFTER.encode("ascii")),
        ]
        self.queue_full = (
            {"type": "http.response.start", "status": 503, "headers": headers},
            {"type": "http.response.body", "body": body},
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != TAG_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
        elif self.service.full:
            for message in self.queue_full:
                await send(message)
        else:
            request = Request(scope, receive)
            try:
                response = await tag(request)
            except RequestRefused as error:
                response = await refused(request, error)
            await response(scope, receive, send)  # another exception goes on to internal_error, as from a route


def app_from_environment() -> FastAPI:
    """The application of a worker process (``uvicorn --factory``), from the settings its parent left in the
    environment; each worker loads every model once."""
    return create_app(ServeSettings.from_json(os.environ[SETTINGS_ENV]))


async def refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestRefused)
    return JSONResponse({"detail": error.message, **error.fields}, error.status, headers=error.headers)


async def internal_error(request: Request, error: Exception) -> Response:
    log.error("bug: %s %s raised %r", request.method, request.url.path, error, exc_info=error)
    return JSONResponse({"detail": "internal error (a bug: the server's log has its traceback)"}, 500)


def service_of(request: Request) -> Service:
    return request.app.state.service


TAG_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": '`{"model": NAME, "texts": [[record, ...], ...]}` or `{"model": NAME, "sentences": '
        '[record, ...]}`; a record is `{"words", "tags", "probabilities"?, "entities"?}` as in `tagger tag '
        "--output-format jsonl`, entities with character offsets into their text"
    },
    404: {"description": "No model of that name"},
    408: {"description": "The request did not arrive within receive_timeout"},
    413: {"description": "Over a limit, named in `limit`"},
    415: {"description": "The body is not JSON"},
    422: {"description": "Malformed JSON or a wrong type; `problems` locates each"},
    503: {"description": "Queue full or request_timeout passed; see Retry-After"},
}


@router.post(
    TAG_PATH,
    summary="Tag raw texts or pre-tokenised sentences",
    responses=TAG_RESPONSES,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": request_schema()}}}},
)
async def tag(request: Request) -> Response:
    service = service_of(request)
    settings = service.settings
    if not is_json(request.headers.get("content-type")):
        raise RequestRefused(415, "the body must be JSON: send it with Content-Type: application/json")
    try:
        body = await read_body(
            request.headers.get("content-length"), request.stream(), settings.limits, settings.receive_timeout
        )
    except ClientDisconnect:
        raise RequestRefused(400, "the connection closed before the body was complete") from None
    parsed = parse_request(body)
    name = parsed.model or settings.default_model
    if name not in service.batchers:
        raise RequestRefused(
            404, f"no model named {name!r}; this server serves {', '.join(map(repr, service.batchers))}", field="model"
        )
    words = check_limits(parsed, settings.limits)
    note = request.scope.setdefault(NOTE, {})
    note.update(model=name, items=len(parsed.items))
    if not parsed.items:
        answer = encode_answer(service.taggers[name], name, parsed, [])
    else:
        try:
            answer = await service.batchers[name].submit(parsed, words)
        except TaggerError as error:  # raw text the tokenizer refuses, say: the client's to fix
            raise RequestRefused(422, str(error)) from None
    note["words"] = answer.words
    return Response(answer.body, media_type="application/json")


@router.get("/health", summary="The process is up and answering")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Every model is loaded and batching", responses={503: {"description": "Not ready"}})
async def ready(request: Request) -> Response:
    service = service_of(request)
    models = {name: batcher.alive for name, batcher in service.batchers.items()}
    ok = service.ready and all(models.values())
    return JSONResponse({"status": "ready" if ok else "not ready", "models": models}, 200 if ok else 503)


@router.get("/v1/models", summary="The served models: labels, scores and settings")
async def models(request: Request) -> dict[str, Any]:
    service = service_of(request)
    return {
        "default": service.settings.default_model,
        "models": [model_record(name, service.settings.models[name], t) for name, t in service.taggers.items()],
    }


def model_record(name: str, path: str, tagger: TaggerBase) -> dict[str, Any]:
    spans = tagger.task == "spans"
    return {
        "name": name,
        "path": path,
        "task": tagger.task,
        "labels": tagger.output_labels,
        "entity_types": entity_types(tagger.vocab.labels, tagger.vocab.scheme),
        "schemes": list(SCHEMES) if spans else [NO_SCHEME],
        "metrics": tagger.metrics,
        "config": tagger.config.to_dict(),
        "device": str(tagger.device),
        "quantize": tagger.quantize,
    }


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    text, content_type = service_of(request).metrics.exposition()
    return Response(text, media_type=content_type)


# What a request looks like, for the OpenAPI page and for Python callers building one.
__all__ = ["SETTINGS_ENV", "TagRequest", "app_from_environment", "create_app", "load_taggers"]
