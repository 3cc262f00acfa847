"""Inventories: hosts, groups and defaults merged; secret references; selection.

Layering: defaults < each group in the host's ``groups`` (in order) < the host itself.
"""

from __future__ import annotations

import csv
import fnmatch
import functools
import io
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from fleet import profiles, yamlsrc
from fleet.collect.options import SshOptions, TlsOptions
from fleet.errors import InventoryError

ROLES = ("phone", "sbc", "other")
TRANSPORTS = ("http", "ssh", "netmiko")
SECRET_REF = re.compile(r"^\$\{(env|file):([^}]+)\}$")
MAC_SEPARATORS = re.compile(r"[^0-9A-Za-z]")  # c8:1f:ea:00:00:01, c8-1f-ea..., c81f.ea00.0001
NOTIFY_TARGET = re.compile(
    r"[^@\s]+@[^@\s]+\.[^@\s]+|(?:sips?|tel|mailto|https?):\S+|\+?[0-9][0-9 ()-]{1,20}[0-9]"
)


def normalise_mac(value: str) -> str:
    """A MAC as 12 lower-case hex digits, whatever separators it was written with."""
    digits = MAC_SEPARATORS.sub("", value)
    if not re.fullmatch(r"[0-9A-Fa-f]{12}", digits):
        raise ValueError(
            f"mac {value!r} is not a MAC address: 12 hex digits, any separators "
            "(c8:1f:ea:00:00:01, c81fea000001)"
        )
    return digits.lower()


def _check_model(value: str) -> str:
    if not value.strip():
        raise ValueError("model is empty: leave it out when it is not known")
    return value.strip()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CredentialsIn(_Strict):
    username: str | None = None
    password: str | None = None
    enable: str | None = None  # enable / privileged-mode password (a secret reference)


class SshIn(_Strict):
    known_hosts: str | None = None
    accept_unknown_host_keys: bool | None = None


class TlsIn(_Strict):
    verify: bool | None = None
    ca: str | None = None


class CommonIn(_Strict):
    site: str | None = None
    role: str | None = None
    profile: str | None = None
    credentials: CredentialsIn | None = None
    tls: TlsIn | None = None
    tags: list[str] | None = None
    timeout: float | None = None
    transport: str | None = None  # http | ssh | netmiko (default: the profile's)
    device_type: str | None = None  # netmiko's device type, with transport: netmiko
    commands: list[str] | None = None  # what netmiko runs to read the configuration
    ssh: SshIn | None = None
    # Who is told when someone at this site dials an emergency number (Kari's Law on-site
    # notification, the `us` pack): e-mail addresses, sip:/sips:/tel:/mailto:/https: URIs or
    # numbers. Usually set once on the site's group; a host's own value replaces it.
    notify: list[str] | None = None

    @field_validator("notify", mode="before")
    @classmethod
    def _notify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("notify")
    @classmethod
    def _notify_targets(cls, v: list[str] | None) -> list[str] | None:
        for t in v or []:
            if not NOTIFY_TARGET.fullmatch(t.strip()):
                raise ValueError(
                    f"notify target {t!r} is not an e-mail address, a sip:/sips:/tel:/mailto:/"
                    "https: URI or a number"
                )
        return [t.strip() for t in v] if v is not None else None

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float | None) -> float | None:
        if v is not None and not 0 < v <= 3600:
            raise ValueError("timeout is seconds per device: more than 0, at most 3600")
        return v

    @field_validator("transport")
    @classmethod
    def _transport(cls, v: str | None) -> str | None:
        if v is not None and v not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}")
        return v

    @field_validator("role")
    @classmethod
    def _role(cls, v: str | None) -> str | None:
        if v is not None and v not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        return v


class HostIn(CommonIn):
    address: str
    groups: list[str] = []
    # What the device is, when the inventory knows it: a profile's fetch may need it (an
    # Avaya file server holds one file per phone, named by its MAC, with IF $MODEL4 branches).
    mac: str | None = None
    model: str | None = None

    @field_validator("mac")
    @classmethod
    def _mac(cls, v: str | None) -> str | None:
        return None if v is None else normalise_mac(v)

    @field_validator("model")
    @classmethod
    def _model(cls, v: str | None) -> str | None:
        return None if v is None else _check_model(v)


class InventoryIn(_Strict):
    # The documented opt-in for passwords written into the inventory itself; each is
    # still named on stderr (see :data:`PLAINTEXT_HINT`).
    allow_plaintext_passwords: bool = False
    # `fleet sweep` through collectors (docs/scale.md) without --broker: the broker's URL,
    # or a ${env:} / ${file:} reference to it (a URL holding a password is a secret)
    broker: str | None = None
    defaults: CommonIn = CommonIn()
    groups: dict[str, CommonIn] = {}
    hosts: dict[str, HostIn] | str = {}


@dataclass(slots=True)
class Secret:
    """A resolved secret; its repr never shows the value."""

    value: str = field(repr=False)
    ref: str = ""

    def __str__(self) -> str:
        return "********"


@dataclass(slots=True)
class Host:
    id: str
    address: str
    scheme: str
    hostname: str
    port: int
    profile: str
    role: str
    site: str | None
    groups: list[str]
    tags: list[str]
    username: str | None
    password: Secret | None
    tls: TlsOptions
    timeout: float | None = None
    transport: str = "http"
    enable: Secret | None = None
    device_type: str | None = None
    commands: list[str] = field(default_factory=list)
    ssh: SshOptions = field(default_factory=SshOptions)
    mac: str | None = None  # 12 lower-case hex digits, when the inventory says
    model: str | None = None
    notify: list[str] = field(default_factory=list)  # emergency-call notification targets

    @property
    def base_url(self) -> str:
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"{self.scheme}://{host}:{self.port}"

    def facts(self) -> dict[str, list[str]]:
        """What --select and rule scopes match on."""
        return {
            "id": [self.id],
            "site": [self.site or ""],
            "role": [self.role],
            "profile": [self.profile],
            "group": list(self.groups),
            "tag": list(self.tags),
            "address": [self.hostname],
        }


@dataclass(slots=True)
class Inventory:
    file: str
    hosts: list[Host]
    # What the user should hear though the inventory loaded (plaintext passwords allowed)
    warnings: list[str] = field(default_factory=list)
    broker: str | None = None  # resolved; None: sweep in this process unless --broker

    def select(self, exprs: list[str] | None) -> list[Host]:
        if not exprs:
            return list(self.hosts)
        sel = [parse_select(e) for e in exprs]
        return [h for h in self.hosts if any(matches(h.facts(), terms) for terms in sel)]

    def by_address(self) -> dict[str, Host]:
        return {h.hostname: h for h in self.hosts}


SELECT_KEYS = ("id", "site", "role", "profile", "group", "tag", "address")


def parse_select(expr: str) -> list[tuple[str, bool, str]]:
    """``site=lon,role=phone,profile!=yealink`` → AND of terms; values are shell globs."""
    terms = []
    for raw in expr.split(","):
        raw = raw.strip()
        if not raw:
            continue
        m = re.fullmatch(r"([a-z]+)\s*(!=|=)\s*(.+)", raw)
        if not m or m.group(1) not in SELECT_KEYS:
            raise InventoryError(
                f"bad --select term {raw!r}: use KEY=GLOB or KEY!=GLOB with KEY one of "
                + ", ".join(SELECT_KEYS),
                field="--select",
            )
        terms.append((m.group(1), m.group(2) == "=", m.group(3).strip()))
    return terms


def matches(facts: dict[str, list[str]], terms: list[tuple[str, bool, str]]) -> bool:
    for key, positive, pattern in terms:
        hit = any(fnmatch.fnmatchcase(v, pattern) for v in facts.get(key, []))
        if hit != positive:
            return False
    return True


GOLDEN_KEYS = ("fleet_golden", "policy", "emergency", "rules", "waivers", "firmware")


def load(path: str | Path, *, resolve_secrets: bool = True) -> Inventory:
    """The inventory at ``path``. With ``resolve_secrets`` False (``fleet validate``) every
    secret reference is checked for form and place but not read: a host's secrets are
    placeholders, and the environment the sweep will run in need not be this one."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        hosts, rows = _csv_hosts(path)
        doc = yamlsrc.Located(str(path), {"hosts": hosts}, {})
        rows_in = _csv_each(path, hosts, rows)
        return _resolve(doc, InventoryIn(), path.parent, str(path), rows, resolve_secrets, rows_in)
    doc = yamlsrc.load(path, InventoryError)
    if not isinstance(doc.data, dict):
        raise InventoryError("an inventory is a mapping with hosts:", file=str(path), line=1)
    doc.data = yamlsrc.without_anchor_keys(doc.data)
    _not_a_golden(doc)
    if isinstance(doc.data.get("hosts"), dict) and yamlsrc.LOADER != "nodes":  # (the benches'
        # "before": the node composer with the whole document validated at once)
        return _resolve_streamed(doc, path.parent, resolve_secrets)
    try:
        model = InventoryIn.model_validate(doc.data)
    except ValidationError as e:
        raise yamlsrc.pydantic_error(doc, e, InventoryError, allowed=_ALLOWED) from None
    csv_file = None
    rows = {}
    each: Iterator[tuple[str, HostIn]] | None = None
    if isinstance(model.hosts, str):
        csv_path = (path.parent / model.hosts).resolve()
        csv_file = str(csv_path)
        hosts, rows = _csv_hosts(csv_path)
        model.hosts, each = {}, _csv_each(csv_path, hosts, rows)
    return _resolve(doc, model, path.parent, csv_file, rows, resolve_secrets, each)


def _not_a_golden(doc: yamlsrc.Located) -> None:
    """A golden template given where the inventory goes is named as one (not as a pile of
    unknown keys): the two files sit side by side and are easily swapped."""
    assert isinstance(doc.data, dict)
    if "hosts" in doc.data and "fleet_golden" not in doc.data:
        return
    key = next((k for k in GOLDEN_KEYS if k in doc.data), None)
    if key is not None:
        raise InventoryError(
            "this looks like a golden template, not an inventory: pass it as --golden "
            "(the inventory is the file with hosts:)",
            file=doc.file,
            line=doc.line_of((key,)),
            field=key,
        )


_ALLOWED = {
    "hosts": [],
    "groups": [],
    "credentials": list(CredentialsIn.model_fields),
    "tls": list(TlsIn.model_fields),
    "ssh": list(SshIn.model_fields),
    "defaults": list(CommonIn.model_fields),
    "": [*InventoryIn.model_fields, "x-... (ignored: for YAML anchors)"],
    "hosts.*": list(HostIn.model_fields),
    "groups.*": list(CommonIn.model_fields),
}


def _csv_models(
    path: Path, hosts: dict[str, dict[str, Any]], rows: dict[str, int]
) -> dict[str, HostIn]:
    """Each CSV row validated on its own, so an error names its line and column."""
    out: dict[str, HostIn] = {}
    for hid, h in hosts.items():
        lineno = rows.get(hid)
        try:
            out[hid] = HostIn.model_validate(h)
        except ValidationError as e:
            err = e.errors()[0]
            column = ".".join(str(x) for x in err["loc"]) or "row"
            msg = yamlsrc.plain_message(err)
            raise InventoryError(
                msg, file=str(path), line=lineno, field=f"{hid}.{column}"
            ) from None
    return out


def _csv_each(
    path: Path, hosts: dict[str, dict[str, Any]], rows: dict[str, int]
) -> Iterator[tuple[str, HostIn]]:
    """:func:`_csv_models` one row at a time, each row's mapping dropped once validated (the
    models of every row at once cost 1.6 KB per host). The first invalid row raises, as
    there; the caller resolves the rows before it meanwhile and drops what it found."""
    for hid in list(hosts):
        yield hid, _csv_models(path, {hid: hosts.pop(hid)}, rows)[hid]


def _csv_hosts(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """CSV with the inventory's column names: id, address, profile, role, site, groups
    (``;``-separated), tags, username, password, tls_verify, tls_ca, timeout, mac, model.
    Returns the hosts and the line each host's row starts on."""
    # read as YAML files are: a regular file, bounded, text (not /dev/zero, not binary)
    text = yamlsrc.read_text(path, InventoryError)
    try:
        return _csv_rows(path, text)
    except _CsvError as e:
        raise InventoryError(f"malformed CSV: {e.why}", file=str(path), line=e.line) from None


class _CsvError(Exception):
    def __init__(self, why: str, line: int) -> None:
        self.why, self.line = why, line


class _Rows:
    """csv.reader whose syntax errors carry the line the bad row starts on."""

    def __init__(self, text: str) -> None:
        self.reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        self.line_num = 0

    def __iter__(self) -> _Rows:
        return self

    def __next__(self) -> list[str]:
        start = self.reader.line_num + 1
        try:
            row = next(self.reader)
        except csv.Error as e:
            raise _CsvError(str(e), start) from None
        self.line_num = self.reader.line_num
        return row


def _csv_rows(path: Path, text: str) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    reader = _Rows(text)
    header = next(reader, None)
    if not header or not any(c.strip() for c in header):
        raise InventoryError(
            "empty CSV: the first line names the columns (id,address,profile,...)",
            file=str(path),
            line=1,
        )
    header = [c.strip() for c in header]
    known = {
        "id",
        "name",
        "address",
        "profile",
        "role",
        "site",
        "groups",
        "tags",
        "username",
        "password",
        "tls_verify",
        "tls_ca",
        "timeout",
        "mac",
        "model",
    }
    unknown = [c for c in header if c not in known]
    if unknown:
        raise InventoryError(
            f"unknown column (allowed: {', '.join(sorted(known))})",
            file=str(path),
            line=1,
            field=unknown[0] or f"column {header.index(unknown[0]) + 1}",
        )
    hosts: dict[str, dict[str, Any]] = {}
    lines: dict[str, int] = {}
    lineno = reader.line_num + 1
    for cells in reader:
        if not any(c.strip() for c in cells):
            lineno = reader.line_num + 1
            continue
        if len(cells) > len(header):
            raise InventoryError(
                f"{len(cells)} cells where the header names {len(header)} columns",
                file=str(path),
                line=lineno,
                field="row",
            )
        row = dict(zip(header, cells, strict=False))
        hid = (row.get("id") or row.get("name") or "").strip()
        if not hid:
            raise InventoryError(
                "required field is missing", file=str(path), line=lineno, field="id"
            )
        h = _csv_host(row, path, lineno, hid)
        if hid in hosts:
            raise InventoryError(
                f"duplicate host id (also line {lines[hid]})",
                file=str(path),
                line=lineno,
                field="id",
            )
        hosts[hid], lines[hid] = h, lineno
        lineno = reader.line_num + 1
    return hosts, lines


_CSV_BOOLS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _csv_host(row: dict[str, str], path: Path, lineno: int, hid: str) -> dict[str, Any]:
    """One CSV row as an inventory host mapping."""
    if not (row.get("address") or "").strip():
        raise InventoryError(
            "required field is missing", file=str(path), line=lineno, field=f"{hid}.address"
        )
    h: dict[str, Any] = {"address": row["address"].strip()}
    for k in ("profile", "role", "site", "model"):
        if (row.get(k) or "").strip():
            h[k] = row[k].strip()
    if (row.get("mac") or "").strip():
        try:
            h["mac"] = normalise_mac(row["mac"].strip())
        except ValueError as e:
            raise InventoryError(str(e), file=str(path), line=lineno, field=f"{hid}.mac") from None
    for k in ("groups", "tags"):
        if (row.get(k) or "").strip():
            h[k] = [g.strip() for g in row[k].split(";") if g.strip()]
    creds = {k: row[k] for k in ("username", "password") if (row.get(k) or "").strip()}
    if creds:
        h["credentials"] = creds
    tls: dict[str, Any] = {}
    if (verify := (row.get("tls_verify") or "").strip().lower()) in _CSV_BOOLS:
        tls["verify"] = _CSV_BOOLS[verify]
    elif verify:
        raise InventoryError(
            "expected true or false (also yes/no, 1/0)",
            file=str(path),
            line=lineno,
            field=f"{hid}.tls_verify",
        )
    if (row.get("tls_ca") or "").strip():
        tls["ca"] = row["tls_ca"].strip()
    if tls:
        h["tls"] = tls
    if (row.get("timeout") or "").strip():
        h["timeout"] = row["timeout"].strip()  # validated with the YAML hosts' (a number > 0)
    return h


def _resolve(
    doc: yamlsrc.Located,
    model: InventoryIn,
    base: Path,
    csv_file: str | None = None,
    rows: dict[str, int] | None = None,
    resolve_secrets: bool = True,
    each: Iterable[tuple[str, HostIn]] | None = None,
) -> Inventory:
    """``each``: the hosts, validated as they are read (else ``model.hosts``)."""
    assert isinstance(model.hosts, dict)
    secrets = _SecretCache(base, read=resolve_secrets, plaintext_ok=model.allow_plaintext_passwords)
    known_profiles = profiles.registry()
    out: list[Host] = []
    problems: list[InventoryError] = []
    for hid, h in model.hosts.items() if each is None else each:
        reader = _HostReader(doc, csv_file, hid, base, secrets, (rows or {}).get(hid))
        try:
            out.append(reader.host(model, h, known_profiles))
        except InventoryError as e:  # every host read: `fleet validate` lists them all
            problems.append(e)
    if problems:
        problems[0].more += problems[1:]
        raise problems[0]
    broker = _broker(model.broker, doc, secrets) if model.broker else None
    return Inventory(csv_file or doc.file, out, secrets.warnings, broker)


class _Invalid:
    """Validation errors gathered host by host, read as one ValidationError of the whole
    document (``errors()``, with its locations) so they are reported the same way."""

    def __init__(self, errors: list[Any]) -> None:
        self.list = errors

    def errors(self) -> list[Any]:
        return self.list


def _resolve_streamed(doc: yamlsrc.Located, base: Path, resolve_secrets: bool) -> Inventory:
    """A YAML inventory whose hosts are a mapping, one host at a time: each validated,
    resolved and its mapping dropped before the next, so that no more than one host's
    validated model is held beside the Hosts (all of them at once cost 1.6 KB per host).
    What is reported is what validating the whole document at once reported: every
    validation error first (and no host resolved then), else every host's problem."""
    assert isinstance(doc.data, dict)
    raw: dict[str, Any] = doc.data["hosts"]
    invalid: list[Any] = []
    try:
        model = InventoryIn.model_validate({k: v for k, v in doc.data.items() if k != "hosts"})
    except ValidationError as e:
        invalid += e.errors()
        model = InventoryIn()
    secrets = _SecretCache(base, read=resolve_secrets, plaintext_ok=model.allow_plaintext_passwords)
    known_profiles = profiles.registry()
    out: list[Host] = []
    problems: list[InventoryError] = []
    for hid in list(raw):
        try:
            h = HostIn.model_validate(raw[hid])
        except ValidationError as e:
            invalid += [{**err, "loc": ("hosts", hid, *err["loc"])} for err in e.errors()]
            continue
        del raw[hid]  # validated: an error report needs only the invalid ones' data
        if invalid:
            continue
        try:
            out.append(_HostReader(doc, None, hid, base, secrets).host(model, h, known_profiles))
        except InventoryError as e:
            problems.append(e)
    if invalid:
        raise yamlsrc.pydantic_error(doc, _Invalid(invalid), InventoryError, allowed=_ALLOWED)
    if problems:
        problems[0].more += problems[1:]
        raise problems[0]
    broker = _broker(model.broker, doc, secrets) if model.broker else None
    return Inventory(doc.file, out, secrets.warnings, broker)


BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps")


def _broker(value: str, doc: yamlsrc.Located, secrets: _SecretCache) -> str:
    """The broker URL the inventory names, its reference resolved; a URL with a password in
    it written as is, refused like any plaintext password."""
    from urllib.parse import urlsplit

    def error(msg: str) -> InventoryError:
        return InventoryError(msg, file=doc.file, line=doc.line_of(("broker",)), field="broker")

    text = value.strip()
    if SECRET_REF.match(text):
        text = secrets.resolve(text, error).value.strip() or text
    elif urlsplit(text).password and not secrets.plaintext_ok:
        raise error(
            "the broker URL holds a password: give it as a reference, ${env:NAME} or "
            "${file:PATH}, or opt in with allow_plaintext_passwords: true"
        )
    if not secrets.read and SECRET_REF.match(value.strip()):
        return value.strip()  # `fleet validate`: the reference's form and place are checked
    scheme = urlsplit(text).scheme
    if scheme not in BROKER_SCHEMES:
        raise error(f"a broker URL starts with {', '.join(s + '://' for s in BROKER_SCHEMES)}")
    return text


_Origin = dict[str, tuple[str, ...]]
_MERGED_SCALARS = (
    "site",
    "role",
    "profile",
    "timeout",
    "transport",
    "device_type",
    "commands",
    "notify",
)


def _merge(layers: list[tuple[tuple[str, ...], CommonIn]]) -> tuple[dict[str, Any], _Origin]:
    """The layers folded in order, with the layer each value came from (for error lines)."""
    merged: dict[str, Any] = {}
    origin: _Origin = {}
    for lw, layer in layers:
        for k in _MERGED_SCALARS:
            v = getattr(layer, k)
            if v is not None:
                merged[k], origin[k] = v, lw
        if layer.tags:
            merged.setdefault("tags", [])
            merged["tags"] += [t for t in layer.tags if t not in merged["tags"]]
        for sub in ("credentials", "tls", "ssh"):
            part = getattr(layer, sub)
            if part is not None:
                for k, v in part.model_dump(exclude_none=True).items():
                    merged[f"{sub}.{k}"], origin[f"{sub}.{k}"] = v, lw
    return merged, origin


class _HostReader:
    """One host of the inventory resolved into a Host; errors point at its lines."""

    def __init__(
        self,
        doc: yamlsrc.Located,
        csv_file: str | None,
        hid: str,
        base: Path,
        secrets: _SecretCache,
        row: int | None = None,
    ) -> None:
        self.doc = doc
        self.csv_file = csv_file
        self.row = row
        self.hid = hid
        self.base = base
        self.secrets = secrets

    def fail(self, msg: str, fld: str) -> InventoryError:
        return self.at((*where_of(self.hid), *fld.split(".")), msg)

    def at(self, path: tuple[str, ...], msg: str) -> InventoryError:
        if self.csv_file and path[: len(where_of(self.hid))] == where_of(self.hid):
            return InventoryError(
                msg, file=self.csv_file, line=self.row, field=f"{self.hid}.{path[-1]}"
            )
        return _error(self.doc, None, self.hid, path, msg)

    def host(
        self, model: InventoryIn, h: HostIn, known_profiles: dict[str, profiles.Profile]
    ) -> Host:
        layers: list[tuple[tuple[str, ...], CommonIn]] = [(("defaults",), model.defaults)]
        for g in h.groups:
            if g not in model.groups:
                raise self.fail(f"unknown group {g!r}", "groups")
            layers.append((("groups", g), model.groups[g]))
        layers.append((where_of(self.hid), h))
        merged, origin = _merge(layers)
        prof = self.profile(merged, origin, known_profiles)
        transport = merged.get("transport") or prof.transport
        if transport == "netmiko" and not merged.get("device_type"):
            raise self.fail(
                "transport netmiko needs a device_type (netmiko's name, e.g. cisco_ios)",
                "device_type",
            )
        try:
            scheme, hostname, port = _split_address(
                h.address, "ssh" if transport in ("ssh", "netmiko") else prof.default_scheme
            )
        except ValueError as e:
            raise self.fail(str(e), "address") from None
        password = self.secret(merged, origin, "password")
        enable = self.secret(merged, origin, "enable")
        known_hosts = self.existing_file(
            merged.get("ssh.known_hosts"), "known_hosts file", "ssh.known_hosts", expand=True
        )
        ca = self.existing_file(merged.get("tls.ca"), "CA file", "tls.ca", expand=False)
        return Host(
            id=self.hid,
            address=h.address,
            scheme=scheme,
            hostname=hostname,
            port=port,
            profile=prof.name,
            role=merged.get("role") or prof.role,
            site=merged.get("site"),
            groups=list(h.groups),
            tags=merged.get("tags", []),
            username=merged.get("credentials.username") or prof.default_username,
            password=password,
            tls=_tls(bool(merged.get("tls.verify", True)), ca),
            timeout=merged.get("timeout"),
            transport=transport,
            enable=enable,
            device_type=merged.get("device_type"),
            commands=list(merged.get("commands") or []),
            ssh=_ssh(known_hosts, bool(merged.get("ssh.accept_unknown_host_keys"))),
            mac=h.mac,
            model=h.model,
            notify=list(merged.get("notify") or []),
        )

    def profile(
        self, merged: dict[str, Any], origin: _Origin, known: dict[str, profiles.Profile]
    ) -> profiles.Profile:
        pname = merged.get("profile")
        if not pname and merged.get("transport") == "netmiko":
            pname = "netmiko"  # any device netmiko knows, checked against raw: rules
        if not pname:
            raise self.fail(
                "no profile for this host (set profile: on the host, a group or defaults)",
                "profile",
            )
        if pname not in known:
            raise self.at(
                (*origin["profile"], "profile"),
                f"unknown profile {pname!r} (known: {', '.join(known)})",
            )
        return known[pname]

    def secret(self, merged: dict[str, Any], origin: _Origin, name: str) -> Secret | None:
        key = f"credentials.{name}"
        if key not in merged:
            return None
        path = (*origin[key], "credentials", name)
        return self.secrets.resolve(
            merged[key], lambda msg: self.at(path, msg), lambda: str(self.at(path, "")).rstrip(": ")
        )

    def existing_file(self, value: str | None, what: str, fld: str, *, expand: bool) -> str | None:
        if not value:
            return value
        found = str((self.base / (os.path.expanduser(value) if expand else value)).resolve())
        if Path(found).is_dir():
            raise self.fail(f"{found} is a folder, not a {what}", fld)
        if Path(found).exists() and not Path(found).is_file():  # /dev/zero would never end
            raise self.fail(f"{found} is not a regular file, so not a {what}", fld)
        if not Path(found).is_file():
            raise self.fail(f"{what} not found: {found}", fld)
        why = _not_a(what, Path(found))
        if why:
            raise self.fail(f"{found} is not a {what}: {why}", fld)
        return found


@functools.lru_cache(maxsize=256)
def _tls(verify: bool, ca: str | None) -> TlsOptions:
    """One frozen TlsOptions for every host with the same settings, not one per host."""
    return TlsOptions(verify=verify, ca=ca)


@functools.lru_cache(maxsize=256)
def _ssh(known_hosts: str | None, accept_unknown: bool) -> SshOptions:
    return SshOptions(known_hosts=known_hosts, accept_unknown_host_keys=accept_unknown)


def _not_a(what: str, path: Path) -> str | None:
    """Why ``path`` is not the kind of file ``what`` names (checked now, not on the first
    device an hour into a sweep); None when it is, or when fleet has no test for the kind."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)
    except OSError as e:
        return f"cannot read: {e.strerror}"
    text = head.decode("utf-8", errors="replace")
    if what == "CA file":
        return None if "-----BEGIN CERTIFICATE-----" in text else "no PEM certificate in it"
    if what == "known_hosts file":
        for n, line in enumerate(text.splitlines(), start=1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if parts[0].startswith("@"):
                parts = parts[1:]
            if len(parts) < 3 or not (parts[1].startswith(("ssh-", "ecdsa-", "sk-"))):
                return f"line {n} is not 'host key-type key'"
    return None


def where_of(hid: str) -> tuple[str, ...]:
    return ("hosts", hid)


def _error(
    doc: yamlsrc.Located, csv_file: str | None, hid: str, path: tuple[str, ...], msg: str
) -> InventoryError:
    if csv_file:
        return InventoryError(msg, file=csv_file, field=f"{hid}.{path[-1]}")
    return InventoryError(msg, file=doc.file, line=doc.line_of(path), field=yamlsrc.dotted(path))


def _split_address(address: str, default_scheme: str) -> tuple[str, str, int]:
    m = re.fullmatch(
        r"(?:(?P<scheme>https?|ssh)://)?(?P<host>\[[0-9a-fA-F:.]+\]|[^:/\s\[\]]+)"
        r"(?::(?P<port>\d{1,5}))?/?",
        address.strip(),
    )
    if not m:
        if "@" in address:
            # never echo it: the part before @ is a user and, often, a password
            raise ValueError(
                "an address with a user (user:password@host) is refused: give host, host:port "
                "or a URL without it, and the login under credentials:"
            )
        raise ValueError(f"cannot read address {address!r}: use host, host:port or a URL")
    scheme = sys.intern(m.group("scheme") or default_scheme)  # one "https" for every host
    port = (
        int(m.group("port")) if m.group("port") else {"http": 80, "https": 443, "ssh": 22}[scheme]
    )
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {address!r}")
    return scheme, m.group("host").strip("[]"), port


PLAINTEXT_HINT = (
    "a plaintext password: give a reference, ${env:NAME} or ${file:PATH}, or opt in with "
    "allow_plaintext_passwords: true at the top of the inventory"
)
SECRET_DIRS_ENV = "FLEET_SECRETS_DIRS"
MAX_SECRET_BYTES = 64 * 1024


def secret_dirs(base: Path) -> list[Path]:
    """Where a ``${file:PATH}`` reference may point: the inventory's own folder (and below),
    the folders container runtimes and systemd hand secrets in (``/run/secrets``, Docker and
    Kubernetes; ``$CREDENTIALS_DIRECTORY``, systemd's LoadCredential=) and any folder listed
    in ``$FLEET_SECRETS_DIRS`` (``:``-separated). A reference is read and sent to a device
    as its password, so an inventory from elsewhere must not be able to send the device
    ``/etc/shadow`` or ``~/.ssh/id_rsa`` (by path or by ``../``)."""
    dirs = [base.resolve(), Path("/run/secrets")]
    for var in ("CREDENTIALS_DIRECTORY", SECRET_DIRS_ENV):
        dirs += [Path(d).resolve() for d in os.environ.get(var, "").split(os.pathsep) if d]
    return dirs


class _SecretCache:
    def __init__(self, base: Path, *, read: bool = True, plaintext_ok: bool = False) -> None:
        self.base = base
        self.read = read
        self.plaintext_ok = plaintext_ok
        self.cache: dict[str, Secret] = {}
        self.warnings: list[str] = []

    def resolve(self, value: str, error: Any, where: Any = None) -> Secret:
        if value in self.cache:
            return self.cache[value]
        m = SECRET_REF.match(value.strip())
        if not m:
            if "${" in value:
                raise error("bad secret reference: use ${env:NAME} or ${file:PATH}")
            if not self.plaintext_ok:
                raise error(PLAINTEXT_HINT)  # the value itself is never echoed
            self.warnings.append(
                f"{where() if where else 'inventory'}: a plaintext password "
                "(allowed by allow_plaintext_passwords: true); use ${env:NAME} or ${file:PATH}"
            )
            return Secret(value, "literal")  # not cached: each place is named
        if m.group(1) == "env":
            secret = self._env(m.group(2), value, error)
        else:
            secret = self._file(m.group(2), value, error)
        self.cache[value] = secret
        return secret

    def _env(self, name: str, ref: str, error: Any) -> Secret:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise error(f"bad environment variable name {name!r} in ${{env:...}}")
        if not self.read:
            return Secret("", ref)
        if name not in os.environ:
            raise error(f"environment variable {name} is not set")
        return Secret(os.environ[name], ref)

    def _file(self, name: str, ref: str, error: Any) -> Secret:
        p = (self.base / os.path.expanduser(name)).resolve()  # symlinks and ../ followed
        dirs = secret_dirs(self.base)
        if not any(p.is_relative_to(d) for d in dirs):
            raise error(
                f"secret file {p} is outside the folders secrets are read from (the "
                f"inventory's folder, /run/secrets, $CREDENTIALS_DIRECTORY, ${SECRET_DIRS_ENV})"
            )
        if not self.read:
            return Secret("", ref)
        try:
            if not stat.S_ISREG(os.stat(p).st_mode):
                raise error(f"secret file {p} is not a regular file")
            with open(p, "rb") as f:
                data = f.read(MAX_SECRET_BYTES + 1)
        except OSError as e:
            raise error(f"cannot read secret file {p}: {e.strerror}") from None
        if len(data) > MAX_SECRET_BYTES:
            raise error(f"secret file {p} is larger than {MAX_SECRET_BYTES} bytes")
        try:
            return Secret(data.decode("utf-8").rstrip("\r\n"), ref)
        except UnicodeDecodeError:
            raise error(f"secret file {p} is not UTF-8 text") from None


def resolve_secret_ref(value: str, field_name: str, base: Path | None = None) -> Secret:
    """A secret given on the command line (e.g. --smtp-password-ref '${env:SMTP_PW}')."""

    def error(msg: str) -> InventoryError:
        return InventoryError(msg, field=field_name)

    return _SecretCache(base or Path.cwd()).resolve(value, error)
