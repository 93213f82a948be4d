"""A tagging request from its bytes to a checked ``TagRequest``: the body read within its size and time limits,
parsed and validated as JSON (422 naming the field), then held to the per-request limits (413 naming the limit).

The body is read here, not by FastAPI, so that a 10 MB body or one that trickles in byte by byte is refused
before it is held in memory, and so that every refusal names what was wrong."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Coroutine
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tagger.schemes import SCHEMES
from tagger.serve.settings import Limits

DRAIN_BYTES = 64 * 1_048_576  # an oversized body is read and dropped up to this, so the client sees its 413


class RequestRefused(Exception):
    """A request the server answers with a 4xx (or 503) and a JSON body ``{"detail": message, **fields}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, **fields: Any):
        super().__init__(message)
        self.status, self.message, self.headers, self.fields = status, message, headers or {}, fields


Word = Annotated[str, Field(min_length=1)]
# A sentence of no words is refused like an empty word, with its place (body.sentences.N): it holds nothing to tag.
WordList = Annotated[list[Word], Field(min_length=1)]


class TagRequest(BaseModel):
    """Raw texts (split into sentences and words by the server, as ``tagger tag`` splits a .txt file) or
    pre-tokenised sentences, exactly one of the two."""

    # strict: "true" is not a boolean nor 1 a string; forbid: a misspelt option is an error, not ignored
    model_config = ConfigDict(extra="forbid", strict=True)

    texts: list[str] | None = Field(
        default=None, description="Raw texts; each comes back as its sentences, with character offsets into the text."
    )
    sentences: list[WordList] | None = Field(
        default=None, description="Pre-tokenised sentences: non-empty lists of words."
    )
    model: str | None = Field(default=None, description="A served model's name (GET /v1/models); default: the first.")
    probabilities: bool = Field(default=False, description="Also return each tag's probability.")
    scheme: Literal[SCHEMES] = Field(default="IOB2", description="Scheme of span tags in the answer.")  # type: ignore[valid-type]

    @model_validator(mode="after")
    def one_kind_of_input(self) -> TagRequest:
        if (self.texts is None) == (self.sentences is None):
            raise ValueError('send either "texts" (raw text) or "sentences" (lists of words), not both or neither')
        return self

    @property
    def items(self) -> list[str] | list[list[str]]:
        return self.texts if self.texts is not None else self.sentences  # type: ignore[return-value]


def is_json(content_type: str | None) -> bool:
    if content_type is None:
        return True  # a client that names no type is taken at its word that the body is JSON
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def read_body(declared_length: str | None, chunks: AsyncIterator[bytes], limits: Limits, timeout: float) -> bytes:
    """The whole body, or ``RequestRefused``: 413 past ``max_body_bytes`` (declared or counted), 408 when it
    does not arrive within ``timeout`` seconds."""
    too_large = RequestRefused(
        413,
        f"the body is larger than the server's limit max_body_bytes={limits.max_body_bytes:,}; "
        "send fewer texts per request",
        {"Connection": "close"},  # what is left of it is not read: the connection cannot carry another request
        limit="max_body_bytes",
        value=limits.max_body_bytes,
    )
    declared = parse_length(declared_length)
    if declared is not None and declared > limits.max_body_bytes:
        await drain(chunks, timeout)
        raise too_large
    received: list[bytes] = []
    size = 0

    async def collect() -> None:
        nonlocal size
        async for chunk in chunks:
            size += len(chunk)
            if size > limits.max_body_bytes:
                return
            received.append(chunk)

    try:
        await within(collect(), timeout)
    except asyncio.TimeoutError:
        raise RequestRefused(
            408,
            f"the body did not arrive within the server's receive_timeout of {timeout:g} s",
            {"Connection": "close"},
        ) from None
    if size > limits.max_body_bytes:
        await drain(chunks, timeout)
        raise too_large
    return b"".join(received)


async def within(step: Coroutine[Any, Any, None], seconds: float) -> None:
    """``step``, or ``asyncio.TimeoutError`` after ``seconds``: from Python 3.11 with ``asyncio.timeout``, a timer,
    rather than ``wait_for``'s task of its own per request (and the turn of the event loop it waits for)."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            await step
    else:
        await asyncio.wait_for(step, seconds)


def parse_length(value: str | None) -> int | None:
    """Content-Length as a number; the HTTP parser has already refused one that is not."""
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def drain(chunks: AsyncIterator[bytes], timeout: float) -> None:
    """Read and drop what is left of a refused body, up to ``DRAIN_BYTES`` and ``timeout``: a client that is still
    sending when the server answers and closes would otherwise see a reset connection instead of the 413."""

    async def discard() -> None:
        dropped = 0
        async for chunk in chunks:
            dropped += len(chunk)
            if dropped > DRAIN_BYTES:
                return

    try:
        await within(discard(), timeout)
    except asyncio.TimeoutError:
        pass


def parse_request(body: bytes) -> TagRequest:
    """The body as a ``TagRequest``, or 422 with each problem located: ``["body", "texts", 0]``."""
    try:
        return TagRequest.model_validate_json(body)
    except ValidationError as error:
        problems = [
            {
                "loc": ["body", *problem["loc"]],
                "msg": problem["msg"].removeprefix("Value error, "),
                "type": problem["type"],
            }
            for problem in error.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise RequestRefused(422, problems_message(problems), problems=problems) from None


def problems_message(problems: list[dict[str, Any]]) -> str:
    """One line for a person: ``body.texts.0: Input should be a valid string`` (and how many more)."""
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def check_limits(request: TagRequest, limits: Limits) -> int:
    """Refuse with 413 what is over a limit; returns the request's size in words (estimated for raw text: runs
    of non-whitespace), which is what batches are measured in."""
    items = request.items
    over("max_items", len(items), limits.max_items, "texts or sentences", "send fewer per request")
    if request.texts is not None:
        chars = sum(len(text) for text in request.texts)
        over("max_chars", chars, limits.max_chars, "characters of text", "split the text over several requests")
        return sum(len(text.split()) for text in request.texts)  # a word is at least a run without whitespace
    words = sum(len(sentence) for sentence in request.sentences or [])
    over("max_words", words, limits.max_words, "words", "split the sentences over several requests")
    return words


def over(limit: str, value: int, maximum: int, what: str, hint: str) -> None:
    if value > maximum:
        raise RequestRefused(
            413,
            f"the request has {value:,} {what}; the server's limit {limit} is {maximum:,} ({hint})",
            limit=limit,
            value=maximum,
        )


def request_schema() -> dict[str, Any]:
    """The request body's JSON schema, for the OpenAPI page (``/docs``): FastAPI does not read this body itself."""
    return TagRequest.model_json_schema()
