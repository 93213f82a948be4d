"""The HTTP/1.1 protocol the server runs: uvicorn's (on httptools) with the two bounds it lacks on a request's
head (its request line and headers). Without them one client could hold a connection open forever by sending
nothing, or a byte a minute, and grow the server's memory without end with one endless header.

- The head must arrive within ``head_timeout`` seconds of the connection opening (or of its first byte, for
  the next request on a kept-alive connection): else 408 and the connection is closed.
- The head may be at most ``MAX_HEAD_BYTES``: else 431 and the connection is closed."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

MAX_HEAD_BYTES = 65_536  # 64 KiB: nginx allows 4 x 8 KiB of headers, and clients send well under 8 KiB
HEAD_TIMEOUT = "tagger_head_timeout"  # the attribute of uvicorn's Config that carries it to each worker
DEFAULT_HEAD_TIMEOUT = 10.0


class BoundedHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timeout: float = getattr(self.config, HEAD_TIMEOUT, DEFAULT_HEAD_TIMEOUT)
        self.head_bytes = 0
        self.head_done = False
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Counted only while the head is still incomplete after this chunk: a chunk that ends the head (and may
        # carry a body) is not the head's.
        if not self.head_done and not self.transport.is_closing():
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD_BYTES:
                self.refuse(431, f"request line and headers over {MAX_HEAD_BYTES:,} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_bytes, self.head_done = 0, False
        if self.head_timer is None:
            self.start_head_timer()

    def on_headers_complete(self) -> None:
        self.head_done = True
        self.stop_head_timer()
        super().on_headers_complete()

    def start_head_timer(self) -> None:
        self.head_timer = self.loop.call_later(self.head_timeout, self.head_too_slow)

    def stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def head_too_slow(self) -> None:
        self.head_timer = None
        if not self.head_done and not self.transport.is_closing():
            self.refuse(408, f"request line and headers not received within {self.head_timeout:g} s")

    def refuse(self, status: int, message: str) -> None:
        """Answer in plain text, as uvicorn answers a request it cannot parse, and close the connection; no
        answer where another request's response is still being written on it."""
        self.stop_head_timer()
        if self.cycle is None or self.cycle.response_complete:
            body = message.encode("ascii")
            head = [
                STATUS_LINE[status],
                *(name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers),
            ]
            head += [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n\r\n",
            ]
            self.transport.write(b"".join(head) + body)
        self.logger.warning("refused a request: %s", message)
        self.transport.close()
