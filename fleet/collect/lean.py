"""A lean httpx transport on asyncio streams: one connection per request, closed with it.

Every phone is a new origin with keep-alive off, so httpcore's pool, its per-request anyio
cancel scopes and task look-ups, and h11's event machinery bought nothing and cost most of a
sweep's CPU (bench/RESULTS.md). This opens a stream with asyncio, writes the request in one
write, and parses the HTTP/1.1 answer itself (``lean_wire``: the connection, the framing, and
httpx's exceptions worded as httpcore and h11 word them).

``LeanTransport`` serves any httpx client. fleet's own HttpHost goes one step further through
``Session`` (``lean_session``): it builds the request httpx's client would (the same bytes,
checked by tests/test_lean_transport.py) and answers Basic/Digest challenges itself
(``lean_auth``), without httpx's URL, Request and Response objects, which cost as much again
as the transport's own work.

The names this module always had are still importable from it.
"""

from __future__ import annotations

import ssl

import httpx

from fleet.collect.lean_auth import Digest
from fleet.collect.lean_session import Session
from fleet.collect.lean_wire import HEAD_LIMIT as HEAD_LIMIT
from fleet.collect.lean_wire import READ_SIZE as READ_SIZE
from fleet.collect.lean_wire import Answer, BodyStream, Timeouts, exchange, request_head
from fleet.collect.lean_wire import _one_error as _one_error

__all__ = ["Answer", "Digest", "LeanTransport", "Session", "Timeouts", "exchange", "request_head"]


class LeanTransport(httpx.AsyncBaseTransport):
    """One connection per request over ``ssl_context`` for https (shared by every request of
    one TLS setting, so its CA file is read once)."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl = ssl_context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}", request=request)
        timeouts = request.extensions.get("timeout") or {}
        https = url.scheme == "https"
        head = request_head(request.method, request.url.raw_path, request.headers.raw, request)
        answer = await exchange(
            url.host,
            url.port or (443 if https else 80),
            self._ssl if https else None,
            request.method,
            head + await _body(request),
            Timeouts(timeouts.get("connect"), timeouts.get("read"), timeouts.get("write")),
            request,
        )
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            stream=BodyStream(answer.conn, answer.framing),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason},
        )


async def _body(request: httpx.Request) -> bytes:
    try:
        body = request.content
    except httpx.RequestNotRead:
        body = await request.aread()
    if request.headers.get("transfer-encoding", "").lower() == "chunked":  # a streamed body
        return (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    return body
