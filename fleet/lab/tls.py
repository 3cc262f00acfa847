"""Throw-away certificates for the lab's HTTPS phones, made at start-up, and the broken ones
a real fleet has (expired, self-signed, issued for another host, signed by a private CA) for
the tests of what fleet says about them."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Cert", "make_ca", "make_cert", "server_context", "server_context_for"]


@dataclass(frozen=True, slots=True)
class Cert:
    cert_pem: bytes
    key_pem: bytes
    _key: ec.EllipticCurvePrivateKey
    _name: x509.Name

    def write(self, folder: Path, stem: str) -> tuple[Path, Path]:
        """The certificate and its key as PEM files in ``folder``."""
        cp, kp = folder / f"{stem}.pem", folder / f"{stem}.key"
        cp.write_bytes(self.cert_pem)
        kp.write_bytes(self.key_pem)
        return cp, kp


def _san(a: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(a))
    except ValueError:
        return x509.DNSName(a)


def _build(
    name: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: Cert | None,
    hosts: list[str],
    days: tuple[int, int],
    ca: bool,
) -> Cert:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer._name if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=days[0]))
        .not_valid_after(now + dt.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_san(a) for a in hosts]), critical=False
        )
    cert = builder.sign(issuer._key if issuer else key, hashes.SHA256())
    return Cert(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        key,
        name,
    )


def make_ca(common_name: str = "fleet lab CA") -> Cert:
    """A certificate authority that signs ``make_cert`` certificates."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return _build(name, ec.generate_private_key(ec.SECP256R1()), None, [], (-1, 30), ca=True)


def make_cert(
    hosts: list[str],
    *,
    issuer: Cert | None = None,
    valid_days: tuple[int, int] = (-1, 30),
    common_name: str = "fleet lab phone",
) -> Cert:
    """A server certificate for ``hosts`` (IP addresses or names), self-signed unless
    ``issuer``; valid from ``valid_days[0]`` to ``valid_days[1]`` days from now (``(-30, -1)``:
    expired yesterday)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    key = ec.generate_private_key(ec.SECP256R1())
    return _build(name, key, issuer, hosts, valid_days, ca=False)


def server_context_for(cert: Cert) -> ssl.SSLContext:
    """A TLS server context presenting ``cert``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as d:
        cp, kp = cert.write(Path(d), "server")
        ctx.load_cert_chain(cp, kp)
    return ctx


def server_context(addresses: list[str]) -> ssl.SSLContext:
    """The lab's one self-signed certificate for its HTTPS phones (the first 1,000 addresses
    named: fleet's lab inventory does not verify it)."""
    return server_context_for(make_cert(sorted(set(addresses))[:1000]))
