"""Dynamic micro-batching for one model: requests wait in a bounded queue, and whenever the model is free the
waiting ones (up to ``max_batch_words``) are tagged together in the model's own thread, off the event loop.

While the model works the queue fills, so under load batches form without waiting; when it is idle the first
request waits at most ``max_wait_ms`` for others to join. A full queue answers 503 at once (never a hang), and a
request not answered within ``request_timeout`` gets 503 too and is dropped from the queue if still there."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from tagger.serve.observability import Metrics
from tagger.serve.request import RequestRefused, TagRequest
from tagger.serve.settings import ServeSettings
from tagger.serve.tagging import Answer, Tokenizing, tag_requests
from tagger.tagging.base import TaggerBase

RETRY_AFTER = "1"  # seconds: a batch takes milliseconds, so a full queue has room again within one
WARM_UP = (
    TagRequest(texts=["Warm up the tokenizer, the kernels and the caches."]),
    TagRequest(texts=["With probabilities."], probabilities=True),
    TagRequest(sentences=[["Warm"]]),
)
log = logging.getLogger("tagger.serve")


@dataclass(eq=False)
class Job:
    request: TagRequest
    words: int  # its size in the batch budget (estimated for raw text)
    future: asyncio.Future[Answer | Exception]
    enqueued: float  # event-loop time
    abandoned: bool = field(default=False)  # its client was answered (or went away): if still queued, not tagged


class Batcher:
    def __init__(self, name: str, tagger: TaggerBase, settings: ServeSettings, metrics: Metrics):
        self.name, self.tagger, self.metrics = name, tagger, metrics
        self.max_batch_words, self.max_queue = settings.max_batch_words, settings.max_queue
        self.max_wait, self.timeout = settings.max_wait_ms / 1000, settings.request_timeout
        self.tokenizing = Tokenizing(settings.lang, settings.spacy_model, settings.batch_size)
        # One thread per model: torch's own threads do the parallel work inside it, and requests never run
        # two batches of one model at once.
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"tagger-{name}")
        self.pending: deque[Job] = deque()
        self.pending_words = 0
        self.batches = 0  # tagged so far
        self.arrived: asyncio.Event | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Warm the model up (spaCy's tokenizer loads, kernels are built) before the first request, then batch."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executor, tag_requests, self.tagger, self.name, WARM_UP, self.tokenizing)
        self.arrived = asyncio.Event()
        self.task = asyncio.create_task(self.run(), name=f"batcher-{self.name}")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self.executor.shutdown(wait=False, cancel_futures=True)

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done()

    @property
    def full(self) -> bool:
        return len(self.pending) >= self.max_queue

    def queue_full(self) -> RequestRefused:
        return RequestRefused(
            503,
            f"model {self.name!r} has {len(self.pending)} requests waiting, the server's limit max_queue; "
            "retry shortly",
            {"Retry-After": RETRY_AFTER},
        )

    async def submit(self, request: TagRequest, words: int) -> Answer:
        """The request's answer, once its batch is tagged; 503 when the queue is full or the answer is late."""
        if self.full:
            raise self.queue_full()
        loop = asyncio.get_running_loop()
        job = Job(request, words, loop.create_future(), loop.time())
        self.pending.append(job)
        self.pending_words += words
        self.metrics.child(self.metrics.queue_depth, self.name).set(len(self.pending))
        assert self.arrived is not None, "Batcher.start() was not awaited"
        self.arrived.set()
        late = loop.call_later(self.timeout, self.expire, job)
        try:
            result = await job.future
        finally:
            late.cancel()
            job.abandoned = True  # answered, late or cancelled: if still queued, the batch loop drops it
        if isinstance(result, Exception):
            raise result
        return result

    def expire(self, job: Job) -> None:
        """A job not answered within request_timeout: 503, and it is not tagged if it is still waiting."""
        if not job.future.done():
            job.future.set_result(
                RequestRefused(
                    503,
                    f"not tagged within the server's request_timeout of {self.timeout:g} s; retry shortly",
                    {"Retry-After": RETRY_AFTER},
                )
            )

    async def run(self) -> None:
        """Forever: wait for a batch to form, tag it in the model's thread, answer each request. A failure is
        answered to the requests of its batch and the loop goes on: no request can stop it."""
        loop = asyncio.get_running_loop()
        while True:
            await self.gather()
            jobs = self.take()
            if not jobs:
                continue
            self.metrics.observe_batch(self.name, len(jobs), sum(job.words for job in jobs))
            requests = [job.request for job in jobs]
            try:
                answers = await loop.run_in_executor(
                    self.executor, tag_requests, self.tagger, self.name, requests, self.tokenizing
                )
            except Exception as error:  # noqa: BLE001 - tag_requests keeps failures per request; this is a bug
                log.exception("batch of model %r failed", self.name)
                answers = [error] * len(jobs)
            self.batches += 1
            for job, answer in zip(jobs, answers):
                if not isinstance(answer, Exception):
                    self.metrics.child(self.metrics.words, self.name).inc(answer.words)
                if not job.abandoned and not job.future.done():
                    job.future.set_result(answer)  # an exception is a result too: ``submit`` raises it

    async def gather(self) -> None:
        """Until there is a request, then until the batch is full or the first request has waited max_wait."""
        assert self.arrived is not None
        while not self.pending:
            self.arrived.clear()
            await self.arrived.wait()
        deadline = self.pending[0].enqueued + self.max_wait
        loop = asyncio.get_running_loop()
        while self.pending_words < self.max_batch_words and (remaining := deadline - loop.time()) > 0:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def take(self) -> list[Job]:
        """The waiting requests, oldest first, up to max_batch_words (a larger one goes alone); abandoned ones
        are dropped."""
        jobs: list[Job] = []
        words = 0
        while self.pending:
            job = self.pending[0]
            if not job.abandoned and jobs and words + job.words > self.max_batch_words:
                break
            self.pending.popleft()
            self.pending_words -= job.words
            if not job.abandoned:
                jobs.append(job)
                words += job.words
        self.metrics.child(self.metrics.queue_depth, self.name).set(len(self.pending))
        return jobs
