"""What fleet says when a phone's name, TCP port or TLS fails: what happened, in an
operator's words, never the OS's reading of an OpenSSL or resolver code ("unknown error -2",
"operation not permitted", "no such file or directory").

Real servers on loopback with certificates made by ``fleet.lab.tls``; the TLS-version and
cipher refusals use a blocking server in a thread, since OpenSSL there sends the alert a real
device sends (asyncio's server just drops the connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import warnings
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from fleet.collect.http import HttpHost, HttpPool, _why
from fleet.collect.options import TlsOptions
from fleet.errors import DeviceError, Unreachable
from fleet.lab import tls

CONNECT_S = 0.5
NEVER = ("unknown error", "operation not permitted", "no such file or directory", "errno")


def _request(url: str, opts: TlsOptions) -> DeviceError:
    async def run() -> DeviceError:
        async with HttpPool(connect_timeout=CONNECT_S, read_timeout=0.6) as pool:
            try:
                await HttpHost(pool, url, None, None, opts).request("GET", "/")
            except DeviceError as e:
                return e
        raise AssertionError(f"{url} answered")

    return asyncio.run(run())


@contextlib.contextmanager
def _tls_server(ctx: ssl.SSLContext | None, raw: bool = False) -> Iterator[int]:
    """A blocking server in a thread: ``ctx`` handshakes each connection and answers 200;
    ``raw``: reads the ClientHello and then says nothing (a stalled handshake)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    if raw or ctx is None:
                        conn.recv(4096)
                        stop.wait(3)
                        continue
                    with ctx.wrap_socket(conn, server_side=True) as tconn:
                        tconn.recv(4096)
                        tconn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                except (OSError, ssl.SSLError):
                    pass  # the failed handshake is the point; the client reports it

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        sock.close()


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[tls.Cert, str]:
    authority = tls.make_ca()
    path, _ = authority.write(Path(tmp_path_factory.mktemp("ca")), "ca")
    return authority, str(path)


def _old_tls_only(cert: tls.Cert) -> ssl.SSLContext:
    ctx = tls.server_context_for(cert)
    with warnings.catch_warnings():  # the point: a device that still speaks only TLS 1.0/1.1
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def _sha1_cipher_only(cert: tls.Cert) -> ssl.SSLContext:
    ctx = tls.server_context_for(cert)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA")  # a SHA-1 suite Python's client never offers
    return ctx


Case = Callable[[tls.Cert, str], tuple[ssl.SSLContext, TlsOptions]]
CASES: dict[str, tuple[Case, str]] = {
    "expired": (
        lambda ca, p: (
            tls.server_context_for(tls.make_cert(["127.0.0.1"], issuer=ca, valid_days=(-30, -1))),
            TlsOptions(True, p),
        ),
        "TLS failed: the device's certificate has expired",
    ),
    "not-yet-valid": (
        lambda ca, p: (
            tls.server_context_for(tls.make_cert(["127.0.0.1"], issuer=ca, valid_days=(2, 30))),
            TlsOptions(True, p),
        ),
        "TLS failed: the device's certificate is not valid yet (check the device's clock)",
    ),
    "self-signed": (
        lambda ca, p: (tls.server_context_for(tls.make_cert(["127.0.0.1"])), TlsOptions(True)),
        "TLS failed: the device's certificate is self-signed (trust it with tls.ca, "
        "or set tls.verify: false)",
    ),
    "another-host": (
        lambda ca, p: (
            tls.server_context_for(tls.make_cert(["127.0.0.99"], issuer=ca)),
            TlsOptions(True, p),
        ),
        "TLS failed: the device's certificate is for another host",
    ),
    "unknown-ca": (
        lambda ca, p: (
            tls.server_context_for(tls.make_cert(["127.0.0.1"], issuer=tls.make_ca("other"))),
            TlsOptions(True, p),
        ),
        "TLS failed: the device's certificate is not signed by a CA fleet trusts "
        "(give its CA in tls.ca)",
    ),
    "tls-1.1-only": (
        lambda ca, p: (_old_tls_only(tls.make_cert(["127.0.0.1"])), TlsOptions(False)),
        "TLS failed: no protocol version in common",
    ),
    "no-common-cipher": (
        lambda ca, p: (_sha1_cipher_only(tls.make_cert(["127.0.0.1"])), TlsOptions(False)),
        "TLS failed: the handshake was refused (no cipher or key strength in common)",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_tls_failure_says_what_happened(case: str, ca: tuple[tls.Cert, str]) -> None:
    make, expected = CASES[case]
    ctx, opts = make(*ca)
    with _tls_server(ctx) as port:
        err = _request(f"https://127.0.0.1:{port}", opts)
    assert isinstance(err, Unreachable)
    assert str(err).startswith(f"https://127.0.0.1:{port}/: {expected}"), str(err)
    assert not any(w in str(err).lower() for w in NEVER)


def test_the_same_certificate_is_accepted_when_trusted(ca: tuple[tls.Cert, str]) -> None:
    """The control: the servers above fail for their certificate, not for the harness."""
    ctx = tls.server_context_for(tls.make_cert(["127.0.0.1"], issuer=ca[0]))

    async def run(port: int) -> int:
        async with HttpPool() as pool:
            host = HttpHost(pool, f"https://127.0.0.1:{port}", None, None, TlsOptions(True, ca[1]))
            return (await host.request("GET", "/")).status

    with _tls_server(ctx) as port:
        assert asyncio.run(run(port)) == 200


def test_a_stalled_tls_handshake_says_so() -> None:
    with _tls_server(None, raw=True) as port:
        err = _request(f"https://127.0.0.1:{port}", TlsOptions(False))
    assert isinstance(err, Unreachable)
    assert str(err).endswith(
        f"TLS handshake timed out (connected, but no handshake within {CONNECT_S:g} s)"
    )


def _asyncio_server(
    answer: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
):
    return asyncio.start_server(answer, "127.0.0.1", 0)


def test_plain_http_on_an_https_address_says_so() -> None:
    async def run() -> DeviceError:
        async def plain(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await r.read(4096)
            w.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await w.drain()
            w.close()

        server = await _asyncio_server(plain)
        port = server.sockets[0].getsockname()[1]
        async with server, HttpPool() as pool:
            try:
                await HttpHost(
                    pool, f"https://127.0.0.1:{port}", None, None, TlsOptions(False)
                ).request("GET", "/")
            except DeviceError as e:
                return e
        raise AssertionError("answered")

    err = asyncio.run(run())
    assert str(err).endswith("TLS failed: the device answered without encryption")


def test_a_closed_port_is_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: the kernel refuses connections
        err = _request(f"http://127.0.0.1:{port}", TlsOptions())
    assert isinstance(err, Unreachable)
    assert str(err) == f"http://127.0.0.1:{port}/: connection refused"


def test_a_name_that_does_not_exist_is_name_not_found() -> None:
    """The real resolver on a name RFC 6761 reserves as never existing. This machine's
    resolver answers it at once (EAI_NONAME); one with no DNS server at all answers
    EAI_AGAIN, worded as a failed lookup (checked below without the network)."""
    err = _request("http://phone-1.invalid", TlsOptions())
    assert isinstance(err, Unreachable)
    assert str(err) in (
        "http://phone-1.invalid/: name not found (no such host in DNS or /etc/hosts)",
        "http://phone-1.invalid/: name lookup failed: no answer from the DNS server",
    ), str(err)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (socket.EAI_NONAME, "name not found (no such host in DNS or /etc/hosts)"),
        (socket.EAI_AGAIN, "name lookup failed: no answer from the DNS server"),
        (socket.EAI_FAIL, "name lookup failed: the DNS server refused or failed"),
    ],
)
def test_resolver_codes_are_worded_not_read_as_os_errors(code: int, words: str) -> None:
    """The lowest layer without a network: a resolver error as httpx raises it."""
    err = httpx.ConnectError(f"[Errno {code}] x")
    err.__cause__ = socket.gaierror(code, "whatever the C library says")
    assert _why(err) == words


def test_a_phone_that_stops_answering_says_so() -> None:
    """It takes the connection and the request, then says nothing: the read timer ends it."""
    with _tls_server(None, raw=True) as port:
        err = _request(f"http://127.0.0.1:{port}", TlsOptions())
    assert isinstance(err, Unreachable)
    assert str(err) == f"http://127.0.0.1:{port}/: the device stopped answering (read timed out)"
