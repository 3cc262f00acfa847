"""HTTP Basic and Digest authentication for fleet's lean HTTP path (``lean_session.Session``),
answered as httpx's BasicAuth and DigestAuth answer them: the same header bytes, and, once a
device has challenged, every later request of that device authorised at once."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from collections.abc import Iterable
from urllib.request import parse_http_list, parse_keqv_list

import httpx

__all__ = ["Challenges", "Digest", "basic"]

_HASHES = {
    "MD5": hashlib.md5,
    "SHA": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-512": hashlib.sha512,
}


class Digest:
    """HTTP Digest authentication (RFC 7616, qop=auth or none) as httpx's DigestAuth answers
    it: the same fields in the same order, and, once challenged, every later request
    authorised at once with the next nonce count."""

    __slots__ = (
        "_algorithm",
        "_count",
        "_ha1",
        "_nonce",
        "_opaque",
        "_qop",
        "_realm",
        "_sess",
        "_user",
    )

    def __init__(self, username: str, password: str, challenge: str) -> None:
        """``challenge``: a WWW-Authenticate value starting "Digest "; ValueError when it
        lacks a realm or nonce or names an algorithm or qop fleet cannot answer."""
        fields = parse_keqv_list(parse_http_list(challenge.partition(" ")[2]))
        try:
            realm, nonce = fields["realm"], fields["nonce"]
        except KeyError as e:
            raise ValueError("Malformed Digest WWW-Authenticate header") from e
        self._algorithm = fields.get("algorithm", "MD5")
        name = self._algorithm.upper()
        sess = name.endswith("-SESS")
        hash_name = name[:-5] if sess else name
        if hash_name not in _HASHES:
            raise ValueError(f"unsupported Digest algorithm {self._algorithm!r}")
        qop = fields.get("qop")
        if qop is not None and "auth" not in re.split(r", ?", qop):
            raise ValueError(f"unsupported Digest qop {qop!r}")
        self._user, self._realm, self._nonce = username, realm, nonce
        self._opaque = fields.get("opaque")
        self._qop = qop
        self._count = 1
        self._ha1 = self._hash(f"{username}:{realm}:{password}")
        self._sess = sess

    def _hash(self, text: str) -> str:
        name = self._algorithm.upper().removesuffix("-SESS")
        return _HASHES[name](text.encode()).hexdigest()

    def _cnonce(self) -> str:
        seed = f"{self._count}{self._nonce}{time.ctime()}".encode() + os.urandom(8)
        return hashlib.sha1(seed).hexdigest()[:16]

    def header(self, method: str, uri: str) -> str:
        """The Authorization value for one request (each takes the next nonce count)."""
        ha2 = self._hash(f"{method}:{uri}")
        nc, cnonce = f"{self._count:08x}", self._cnonce()
        self._count += 1
        ha1 = self._hash(f"{self._ha1}:{self._nonce}:{cnonce}") if self._sess else self._ha1
        if self._qop is None:  # RFC 2069
            response = self._hash(f"{ha1}:{self._nonce}:{ha2}")
        else:
            response = self._hash(f"{ha1}:{self._nonce}:{nc}:{cnonce}:auth:{ha2}")
        parts = [
            f'username="{self._user}"',
            f'realm="{self._realm}"',
            f'nonce="{self._nonce}"',
            f'uri="{uri}"',
            f'response="{response}"',
            f"algorithm={self._algorithm}",
        ]
        if self._opaque:
            parts.append(f'opaque="{self._opaque}"')
        if self._qop is not None:
            parts += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        return "Digest " + ", ".join(parts)


def basic(username: str, password: str) -> bytes:
    """The Authorization value for Basic credentials, as httpx's BasicAuth encodes them."""
    return b"Basic " + base64.b64encode(f"{username}:{password}".encode())


class Challenges:
    """What one device asked for: nothing until its first 401, then Basic or Digest,
    whichever it offered (Digest when it offered both), as httpx's auth flow answers."""

    __slots__ = ("_digest", "_password", "_scheme", "_user")

    def __init__(self, username: str, password: str) -> None:
        self._user, self._password = username, password
        self._scheme: str | None = None  # "basic" or "digest", once the device challenged
        self._digest: Digest | None = None

    def learn(self, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        """Take the challenge of a 401 (its headers); True when it is one to answer (again).
        A Digest challenge fleet cannot answer raises httpx.ProtocolError."""
        if self._scheme == "basic":
            return False  # Basic credentials were sent and refused: nothing else to try
        offered = [v.decode("latin-1") for k, v in headers if k.lower() == b"www-authenticate"]
        digest = next((h for h in offered if h.lower().startswith("digest")), None)
        if digest is not None:
            try:
                self._digest = Digest(self._user, self._password, digest)
            except ValueError as e:
                raise httpx.ProtocolError(str(e)) from e
            self._scheme = "digest"
            return True
        if self._scheme is None and any(h.lower().startswith("basic") for h in offered):
            self._scheme = "basic"
            return True
        return False

    @property
    def digest(self) -> bool:
        """Whether the device asked for Digest (whose retry carries the 401's cookies too)."""
        return self._scheme == "digest"

    def header(self, method: str, target: bytes) -> bytes | None:
        """The Authorization value for the next request; None before any challenge."""
        if self._scheme == "digest" and self._digest is not None:
            return self._digest.header(method, target.decode("ascii")).encode()
        if self._scheme == "basic":
            return basic(self._user, self._password)
        return None
