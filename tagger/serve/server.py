"""``run_server``: the models loaded and checked, the port opened, and the application served by uvicorn, in
this process or in ``workers`` processes sharing the port (uvicorn's supervisor), each loading every model once.

SIGTERM (or Ctrl-C) stops accepting at once, lets the requests in flight finish for up to ``drain_timeout``
seconds, then exits."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from tagger.errors import ConfigError, setting
from tagger.serve.app import SETTINGS_ENV, create_app, load_taggers
from tagger.serve.observability import MULTIPROCESS_DIR
from tagger.serve.protocol import HEAD_TIMEOUT, BoundedHttpProtocol
from tagger.serve.settings import ServeSettings
from tagger.tagging.loading import gpu_available
from tagger.threads import auto_workers

BACKLOG = 2048  # connections the kernel holds for accept(): a burst of clients is queued, not refused
KEEP_ALIVE = 5  # seconds an idle connection stays open (uvicorn's default)


def serving_workers(settings: ServeSettings) -> int:
    """The worker processes: as many as asked, else one per CPU this process may use (at most
    ``threads.MAX_AUTO_WORKERS``) on the CPU, one on a GPU. Python's share of each request (HTTP, JSON, encoding and
    decoding) holds one process's lock whatever its threads: a second process on 2 cores took one-sentence requests
    from 1,406 to 2,501 per second (BENCHMARKS.md, Serving)."""
    if settings.workers:
        return settings.workers
    on_gpu = settings.device.startswith("cuda") or (
        settings.device == "auto" and gpu_available(settings.models[settings.default_model])
    )
    return auto_workers(on_gpu)


def run_server(settings: ServeSettings, listening: Callable[[str], None] = lambda url: None) -> None:
    """Serve until SIGTERM or SIGINT. Every model is loaded (and so checked) before the port opens, so a bad
    model directory or a port in use is one clear error; ``listening`` hears the URL once the port is open."""
    settings = replace(settings, workers=serving_workers(settings))
    taggers = load_taggers(settings)
    sock = listen(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    config: dict[str, Any] = dict(  # uvicorn.Config's settings, the same in one process and in workers
        http=BoundedHttpProtocol,  # uvicorn's httptools protocol, with a request's head bounded in time and size
        lifespan="on",
        access_log=False,  # ours is the JSON line of observability.Observed
        timeout_graceful_shutdown=settings.drain_timeout,
        timeout_keep_alive=KEEP_ALIVE,
        backlog=BACKLOG,
        log_level="info",
    )
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    if settings.workers == 1:
        server = uvicorn.Server(bounded(uvicorn.Config(create_app(settings, taggers), **config), settings))
        listening(url)
        server.run(sockets=[sock])
        return
    del taggers  # checked; each worker loads its own
    with worker_environment(settings):
        workers = bounded(
            uvicorn.Config("tagger.serve.app:app_from_environment", factory=True, workers=settings.workers, **config),
            settings,
        )
        listening(url)
        Supervisor(workers, sockets=[sock]).run()


def bounded(config: uvicorn.Config, settings: ServeSettings) -> uvicorn.Config:
    """uvicorn's settings with the time a request's head may take, which its Config has no field for: an attribute
    of its own travels with it to every worker (``protocol.BoundedHttpProtocol`` reads it)."""
    setattr(config, HEAD_TIMEOUT, settings.receive_timeout)
    return config


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, opened here so that a port in use is a clear error rather than a worker's exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as error:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({error.strerror or error}); choose another {setting('port')} or {setting('host')}"
        ) from None
    sock.set_inheritable(True)  # the worker processes serve from it
    return sock


@contextmanager
def worker_environment(settings: ServeSettings) -> Iterator[None]:
    """The workers' settings, and a folder for their metrics files (prometheus-client's multiprocess mode), in the
    environment they are started with; the folder goes when the server stops."""
    folder = tempfile.mkdtemp(prefix="tagger-serve-metrics-")
    saved = {name: os.environ.get(name) for name in (SETTINGS_ENV, MULTIPROCESS_DIR)}
    os.environ[SETTINGS_ENV] = settings.to_json()
    os.environ[MULTIPROCESS_DIR] = folder
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(folder, ignore_errors=True)


class Supervisor(Multiprocess):
    """uvicorn's supervisor of worker processes, which on SIGTERM or SIGINT closes its own copy of the listening
    socket, and on SIGTERM passes it on to the workers, in the signal handler itself. While any copy is open the
    kernel goes on accepting connections that no worker will serve; and uvicorn's loop reads the signals it queues
    only between its health checks of the workers, each of which can wait seconds for a busy worker's answer."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self.stop_at_once)

    def stop_at_once(self, number: int, frame: object) -> None:
        for sock in self.sockets:
            sock.close()
        if number == signal.SIGINT:  # a terminal sends it to the workers too
            self.handle_int()
            return
        for process in self.processes:
            if process.pid is not None and process.exitcode is None:
                os.kill(process.pid, signal.SIGTERM)  # each closes its copy and drains; uvicorn's loop repeats it
        # uvicorn's own handling, here rather than when its loop gets to it: a log line, and the loop restarts no
        # worker from now on (one that has drained would otherwise be replaced, on a closed socket) and waits
        self.handle_term()
