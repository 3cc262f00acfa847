"""The direct path to one device over the lean wire (``lean_wire.exchange``): what
httpx.AsyncClient does for fleet's HttpHost, without its models.

``Session`` builds the request httpx's client would (the same bytes, checked by
tests/test_lean_transport.py) and answers Basic/Digest challenges itself (``lean_auth``),
without httpx's URL, Request and Response objects, which cost as much again as the
transport's own work.
"""

from __future__ import annotations

import json as jsonlib
import re
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

import httpx

from fleet.collect.lean_auth import Challenges
from fleet.collect.lean_wire import Answer, Timeouts, check_header, exchange

__all__ = ["Session"]

_PLAIN_TARGET = re.compile(r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
_BODY_METHODS = ("POST", "PUT", "PATCH")


class Session:
    """One device's requests over ``LeanTransport``'s exchange, built as httpx's client
    builds them for fleet (the same headers, target, body encoding and Basic/Digest answers
    to a challenge) with none of its URL, Request and Response objects, which were most of
    what was left of fleet's CPU per request."""

    __slots__ = (
        "_base_path",
        "_base_url",
        "_challenges",
        "_ctx",
        "_defaults",
        "_host",
        "_netloc",
        "_port",
        "_timeouts",
    )

    def __init__(
        self,
        base_url: str,
        ctx: ssl.SSLContext,
        defaults: list[tuple[bytes, bytes, bytes]],
        timeouts: Timeouts,
        username: str | None,
        password: str | None,
    ) -> None:
        """``defaults``: the client's own headers, as ``Session.defaults`` makes them."""
        url = httpx.URL(base_url)  # once per device: its host, port and Host header as httpx
        https = url.scheme == "https"
        self._base_url = base_url
        self._host, self._port = url.host, url.port or (443 if https else 80)
        self._netloc = url.netloc
        self._base_path = url.path.rstrip("/")
        self._ctx = ctx if https else None
        self._defaults = defaults
        self._timeouts = timeouts
        # None: the device's requests go without credentials (the inventory gave none)
        self._challenges = Challenges(username, password or "") if username else None

    @staticmethod
    def defaults(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes, bytes]]:
        """A client's own headers (httpx.AsyncClient.headers.raw), checked once for every
        session of the client: name, value, and the name in lower case."""
        for k, v in raw:
            check_header(k, v)
        return [(k, v, k.lower()) for k, v in raw]

    @staticmethod
    def usable(base_url: str) -> bool:
        """Whether the direct path serves this address: http(s), and no user:password@ in
        it (httpx's client answers with those itself; the inventory keeps credentials apart)."""
        scheme, sep, rest = base_url.partition("://")
        return bool(sep) and scheme in ("http", "https") and "@" not in rest.split("/", 1)[0]

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        json: Any,
        data: Any,
        content: bytes | str | None,
        headers: dict[str, str],
        auth: bool,
    ) -> Answer:
        """The device's final answer, a challenge answered once as httpx's auth flow does;
        its body still to read, the connection the caller's to close."""
        target = self._target(path, params)
        body, body_headers = _encode(json, data, content)
        head = self._headers(method, headers, body_headers)
        user = self._challenges if auth else None
        authorization = user.header(method, target) if user is not None else None
        retried = False
        start = b"%s %s HTTP/1.1\r\n" % (method.encode("ascii"), target)
        while True:
            # fleet's own headers are valid by construction: only the caller's are checked
            lines = head if authorization is None else [*head, (b"Authorization", authorization)]
            data_ = start + b"".join(k + b": " + v + b"\r\n" for k, v in lines) + b"\r\n"
            answer = await exchange(
                self._host, self._port, self._ctx, method, data_ + body, self._timeouts
            )
            if user is None or answer.status != 401 or retried or not _learn(user, answer):
                return answer
            answer.close()
            retried = True
            authorization = user.header(method, target)
            if "cookie" not in {k.lower() for k in headers}:  # as DigestAuth: its cookies too
                jar = _set_cookies(answer.headers)
                if jar and user.digest:
                    cookie = (b"Cookie", jar.encode())
                    check_header(*cookie)
                    head = [*head, cookie]

    def _target(self, path: str, params: dict[str, Any] | None) -> bytes:
        full = self._base_path + path
        if params is not None:  # httpx: given params replace the path's own query
            full = full.partition("?")[0]
            query = urlencode(
                [(k, _primitive(x)) for k, v in params.items() for x in _items(v)], doseq=True
            )
            if query:
                full += "?" + query
        if _PLAIN_TARGET.fullmatch(full) and "/." not in full:
            return full.encode("ascii")
        # anything httpx would quote or normalise: let httpx say what it sends
        return httpx.URL(self._base_url + path, params=params).raw_path

    def _headers(
        self, method: str, given: dict[str, str], body_headers: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        names = {k.lower().encode() for k in given}
        out = [(b"Host", self._netloc)]
        out += [(k, v) for k, v, lk in self._defaults if lk not in names]
        for k, v in given.items():
            kv = (k.encode(), v.encode())
            check_header(*kv)
            out.append(kv)
        out += [(k, v) for k, v in body_headers if k.lower() not in names]
        if (
            method in _BODY_METHODS
            and not body_headers
            and b"content-length" not in names
            and b"transfer-encoding" not in names
        ):
            out.insert(1, (b"Content-Length", b"0"))  # httpx's, for a body method sent empty
        return out


def _learn(challenges: Challenges, answer: Answer) -> bool:
    """Take the challenge of a 401; True when it is one to answer (again). An answer whose
    challenge fleet cannot answer is closed before the error goes up."""
    try:
        return challenges.learn(answer.headers)
    except httpx.ProtocolError:
        answer.close()
        raise


def _items(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list | tuple) else [v]


def _primitive(v: Any) -> str:
    # httpx's primitive_value_to_str: JSON's spelling of booleans, None as empty
    if v is True:
        return "true"
    if v is False:
        return "false"
    return "" if v is None else str(v)


def _encode(
    json: Any, data: Any, content: bytes | str | None
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The body and its headers, as httpx's encode_request makes them."""
    if content is not None:
        body = content.encode() if isinstance(content, str) else bytes(content)
        return body, [(b"Content-Length", b"%d" % len(body))] if body else []
    if data:
        form = [(k, _primitive(x)) for k, v in data.items() for x in _items(v)]
        body = urlencode(form, doseq=True).encode()
        return body, [
            (b"Content-Length", b"%d" % len(body)),
            (b"Content-Type", b"application/x-www-form-urlencoded"),
        ]
    if json is not None:
        text = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        body = text.encode()
        return body, [
            (b"Content-Length", b"%d" % len(body)),
            (b"Content-Type", b"application/json"),
        ]
    return b"", []


def _set_cookies(headers: list[tuple[bytes, bytes]]) -> str:
    pairs = []
    for k, v in headers:
        if k.lower() == b"set-cookie":
            name, _, rest = v.decode("latin-1").partition("=")
            pairs.append(f"{name.strip()}={rest.split(';', 1)[0].strip()}")
    return "; ".join(pairs)
