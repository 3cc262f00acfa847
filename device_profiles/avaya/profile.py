"""Avaya J100 series IP phones in SIP mode: ``46xxsettings.txt`` and the files it GETs.

The J100 has no documented interface that answers its running settings (its web UI is for
people; README.md, "Interface"). What it runs is what it pulled from its file server at boot:
``J100Supgrade.txt``, which ends ``GET 46xxsettings.txt``, and any file those GET. A sweep
therefore reads the file server exactly as the phone does (HTTP GET, no login unless the
server asks), and an audit reads the same files from disk; both run the script for a J100.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from device_profiles.avaya import dialplan, script
from fleet.collect.http import HttpHost
from fleet.errors import ConfigFileError, DeviceError, ProtocolError
from fleet.model import Collected, DeviceState, EmergencyEntry, Finding, Line, Location
from fleet.profiles import Profile

UPGRADE = "J100Supgrade.txt"
SETTINGS = "46xxsettings.txt"
MODELS = ("J129", "J139", "J159", "J169", "J179", "J189")
ASSUMED_MODEL = "J179"  # the model a script is run for when the device's own is unknown
# The settings that decide how an emergency call is dialled and where it goes: where they
# differ between models, the model a file is read for matters.
DECISIVE = (
    "DIALPLAN",
    "INTER_DIGIT_TIMEOUT",
    "PHNEMERGNUM",
    "PHNMOREEMERGNUMS",
    "SIP_CONTROLLER_LIST",
    "SIPPROXYSRVR",
    "ENABLE_AVAYA_ENVIRONMENT",
)
DETECT = re.compile(
    r"(?im)^\s*(?:SET\s+(?:SIP_CONTROLLER_LIST|PHNEMERGNUM|PHNMOREEMERGNUMS|DIALPLAN|"
    r"ENABLE_AVAYA_ENVIRONMENT|DISCOVER_AVAYA_ENVIRONMENT|SIPDOMAIN|SIPPROXYSRVR|HTTPSRVR|"
    r"TLSSRVR|APPNAME|FORCE_SIP_\w+|SIP_USER_\w+|ENHDIALSTAT)\b|IF\s+\$(?:MODEL4|SIG_IN_USE|SIG)"
    r"\s+SEQ\b)"
)
# The per-phone file: <MAC>.cfg (wazo-provd's J100 plugin) or <MAC>.txt (Issabel), named by
# the ``GET $MACADDR.<ext>`` line of the boot files.
MAC_NAME = re.compile(r"(?i)^([0-9a-f]{12})\.(?:cfg|txt)$")
BOOT = (UPGRADE, SETTINGS)
CONTROLLER = re.compile(
    r"^\s*(\[[^\]]+\]|[^:;\s]+)(?::([^;\s]*))?\s*(?:;\s*transport=(\w+))?", re.I
)
# A J100 firmware image: FW_S_J179_R4_1_3_0_6.bin (J189A: the J189's newer hardware).
IMAGE = re.compile(r"(?i)(?:^|/)FW_S_(J\d{3})A?_R(\d+(?:_\d+)+)\.bin$")
MAX_FILES = 16  # files one sweep reads from a file server
DEFAULT_TRANSPORT = "tls"  # "If a transport type is not specified, a default value of tls"


def detect(text: str) -> bool:
    return bool(DETECT.search(text[:65536]))


def _identity_from_name(name: str) -> dict[str, str]:
    m = MAC_NAME.match(name.rsplit("/", 1)[-1])
    return {"mac": m.group(1).lower(), "macaddr": m.group(1)} if m else {}


def _variables(identity: dict[str, str], model: str) -> dict[str, str]:
    v = {"MODEL4": model[:4], "MODEL": model, "SIG_IN_USE": "SIP", "SIG": "2", "GROUP": "0"}
    if identity.get("macaddr"):
        v["MACADDR"] = identity["macaddr"]  # as the file is named: the name the GET asks for
    return v


def _image(appname: str) -> dict[str, str]:
    """The model and release of the one image every phone of this script must run: "If the
    firmware version stored on the file server and that of the phone match, the phone downloads
    the 46xxsettings.txt file" (README.md, "Interface"), so a booted phone runs APPNAME's."""
    m = IMAGE.search(appname.strip())
    return {"model": m.group(1).upper(), "firmware": m.group(2).replace("_", ".")} if m else {}


def _run(
    name: str, text: str, read_sibling: Callable[[str], str | None], variables: dict[str, str]
) -> script.Run:
    run = script.Run(variables=variables, read_sibling=read_sibling)
    script.execute(run, script.compile_text(name, text))
    return run


def _model_notice(name: str, runs: dict[str, script.Run]) -> Finding | None:
    picked = runs[ASSUMED_MODEL].params
    differ = [k for k in DECISIVE if any(r.params.get(k) != picked.get(k) for r in runs.values())]
    if not differ:
        return None
    groups: dict[tuple[str | None, ...], list[str]] = {}
    for model, r in runs.items():
        groups.setdefault(tuple(r.params.get(k) for k in differ), []).append(model)
    split = " | ".join(", ".join(g) for g in groups.values())
    return Finding(
        "coverage.uncertain",
        "high",
        "$MODEL4",
        f"{name} gives J100 models different {', '.join(differ)} (IF $MODEL4 branches: "
        f"{split}); fleet does not know this phone's model and audited it as a "
        f"{ASSUMED_MODEL}: audit each model's phones with their own per-phone file",
        expected="one model, or the same emergency settings for every model",
        actual=split,
    )


def _boot(name: str, text: str, read_sibling: Callable[[str], str | None]) -> tuple[str, str]:
    """Where the phone starts reading: for a per-phone file, the boot file beside it (the
    per-phone file is read when a GET in the chain names it), else the file itself."""
    if MAC_NAME.match(name.rsplit("/", 1)[-1]):
        for boot in BOOT:
            if (body := read_sibling(boot)) is not None:
                return boot, body
    return name, text


def _unreached(name: str, start: str) -> Finding:
    return Finding(
        "coverage.uncertain",
        "high",
        name,
        f"no GET in {start} and the files it GETs names {name}: a phone booting from this "
        f"server never reads it; fleet audited {start}'s settings alone",
        expected=f"GET $MACADDR.{name.rsplit('.', 1)[-1]} in the boot files",
        actual="not reached",
    )


def parse_files(name: str, text: str, read_sibling: Callable[[str], str | None]) -> Collected:
    return _parse(name, text, read_sibling, {})


def _firmware(identity: dict[str, str], appname: str, branched: bool) -> None:
    """Model and firmware from the image the script names: with the model unknown, only when
    no IF $MODEL4 decides it; with the model known, the release when the image is that
    model's (the script was run for it)."""
    image = _image(appname)
    model = identity.get("model")
    if model is None and not branched:
        identity.update(image)
    elif model is not None and image.get("model") == model[:4].upper():
        identity["firmware"] = image["firmware"]


def _parse(
    name: str, text: str, read_sibling: Callable[[str], str | None], known: dict[str, str]
) -> Collected:
    """``known``: what the inventory says of the phone (``mac``, ``model``), over what the
    file's name says."""
    prog = script.compile_text(name, text)
    if not prog.commands:
        first = prog.malformed[0] if prog.malformed else None
        raise ConfigFileError("no SET, IF, GOTO or GET command in the file", file=name, line=first)
    identity = _identity_from_name(name) | known
    start, body = _boot(name, text, read_sibling)
    model = identity.get("model")
    run = _run(start, body, read_sibling, _variables(identity, (model or ASSUMED_MODEL).upper()))
    notices = list(run.notices)
    if name not in run.sources:
        notices.append(_unreached(name, start))
    branched = bool(run.used & {"MODEL4", "MODEL"})
    if model is None and branched:
        runs = {m: _run(start, body, read_sibling, _variables(identity, m)) for m in MODELS}
        if (n := _model_notice(start, runs)) is not None:
            notices.append(n)
    _firmware(identity, run.params.get("APPNAME", ""), branched)
    identity.pop("macaddr", None)
    return Collected(params=run.params, identity=identity, sources=run.sources, notices=notices)


def includes(name: str, text: str) -> list[str]:
    """What a file pulls in; a per-phone file is read after the boot files beside it."""
    boot = [b for b in BOOT if MAC_NAME.match(name.rsplit("/", 1)[-1])]
    return [*boot, *(g for g in script.gets(text) if g not in boot)]


# ---- over the file server, as the phone reads it --------------------------------------


async def _get(host: HttpHost, name: str) -> str | None:
    reply = await host.request("GET", "/" + name, ok=(200, 404))
    return reply.text if reply.status == 200 else None


async def fetch(host: HttpHost, wanted: Sequence[str]) -> Collected:
    # Every parameter the script sets is read, so each name in ``wanted`` is already there.
    start = UPGRADE
    body = await _get(host, UPGRADE)
    if body is None:
        start, body = SETTINGS, await _get(host, SETTINGS)
    if body is None:
        raise DeviceError(
            f"{host.base_url}: neither /{UPGRADE} nor /{SETTINGS} on this file server (HTTP "
            "404): it is not the server these phones provision from (HTTPSRVR)"
        )
    if not detect(body):
        # Never quote the body: it may hold SIP passwords.
        raise ProtocolError(f"{host.base_url}/{start}: answer is not an Avaya settings script")
    known = _known(host)
    files: dict[str, str | None] = {start: body}  # None: the server has no such file (404)
    while True:
        # Run the script as the phone would, with what is fetched so far; every file it GETs
        # that is not fetched yet (``$MACADDR.cfg`` once the MAC is known, a model's branch)
        # is fetched, and the script run again, until it asks for nothing new.
        read = _Reader(files)
        c = _parse(start, body, read, known)
        if not read.asked or len(files) >= MAX_FILES:
            break
        for name in read.asked[: MAX_FILES - len(files)]:
            files[name] = await _get(host, name)
    c.sources = [f"{host.base_url}/{s}" for s in c.sources]
    return c


@dataclass(slots=True)
class _Reader:
    """``read_sibling`` over the files fetched so far, noting the ones not fetched yet."""

    files: dict[str, str | None]
    asked: list[str] = field(default_factory=list)

    def __call__(self, name: str) -> str | None:
        if name not in self.files and name not in self.asked:
            self.asked.append(name)
        return self.files.get(name)


def _known(host: HttpHost) -> dict[str, str]:
    """What the inventory says of the phone: its MAC names the per-phone file (lower case, no
    separators: wazo-provd's J100 naming, README.md), its model decides IF $MODEL4."""
    known: dict[str, str] = {}
    if host.mac:
        known["mac"] = known["macaddr"] = host.mac.lower()
    if host.model:
        known["model"] = host.model
    return known


# ---- the model ----------------------------------------------------------------------


def _controller(value: str | None) -> tuple[str | None, str | None]:
    """The first SIP controller as ``host[:port]``, and its transport."""
    first = (value or "").split(",", 1)[0].strip()
    m = CONTROLLER.match(first) if first else None
    if m is None:
        return None, None
    hostport = m.group(1) + (f":{m.group(2)}" if m.group(2) else "")
    return hostport, (m.group(3) or DEFAULT_TRANSPORT).lower()


def _registrar(p: dict[str, str], notices: list[Finding]) -> tuple[str | None, str | None]:
    hostport, transport = _controller(p.get("SIP_CONTROLLER_LIST"))
    if hostport or not p.get("SIPPROXYSRVR", "").strip():
        return hostport, transport
    host = p["SIPPROXYSRVR"].split(",", 1)[0].strip()
    port = p.get("SIPPORT", "").strip()
    notices.append(
        Finding(
            "coverage.uncertain",
            "high",
            "SIP_CONTROLLER_LIST",
            "no SIP_CONTROLLER_LIST: fleet took the SIP server from SIPPROXYSRVR, an older "
            "parameter whose use by J100 firmware is not confirmed by Avaya's J100 documentation",
            expected="SIP_CONTROLLER_LIST",
            actual=f"SIPPROXYSRVR = {host}",
        )
    )
    return (f"{host}:{port}" if port else host), None


HELD_URL = "HELD_URL"


def _location(p: dict[str, str]) -> Location:
    """README "Location and callback": the J100's Nomadic Emergency Services send a HELD
    request to HELD_URL (the Location Information Server) for a PIDF-LO location."""
    url = re.sub(r"//[^/@]*@", "//", p.get(HELD_URL, "").strip())  # never a user:pw@
    if url:
        return Location("held", url, [f"{HELD_URL} = {url}"])
    said = f"{HELD_URL} = " if HELD_URL in p else f"{HELD_URL} (unset)"
    return Location("none", f"{HELD_URL} (Location Information Server) is not set", [said])


def _user_key(p: dict[str, str]) -> str | None:
    for key in ("SIP_USER_ACCOUNT", "FORCE_SIP_EXTENSION", "FORCE_SIP_USERNAME", "SIP_USER_ID"):
        if p.get(key, "").strip():
            return key
    return None


def _user(p: dict[str, str]) -> str | None:
    account = p.get("SIP_USER_ACCOUNT", "").strip()
    if account:
        return account.split("@", 1)[0] or None
    for key in ("FORCE_SIP_EXTENSION", "FORCE_SIP_USERNAME", "SIP_USER_ID"):
        if p.get(key, "").strip():
            return p[key].strip()
    return None


def numbers(p: dict[str, str]) -> list[tuple[str, str]]:
    """The emergency numbers, each with the parameter it comes from."""
    out: list[tuple[str, str]] = []
    for key in ("PHNEMERGNUM", "PHNMOREEMERGNUMS"):
        for n in re.split(r"[,\s]+", p.get(key, "")):
            if n and n not in (x for x, _ in out):
                out.append((n, key))
    return out


def _plan_notices(p: dict[str, str]) -> list[Finding]:
    bad = dialplan.translate(p.get("DIALPLAN", "")).bad
    return [
        Finding(
            "coverage.uncertain",
            "high",
            "DIALPLAN",
            f"DIALPLAN format string {entry!r}: {why}; Avaya's documentation does not say what "
            "the phone does with it, and fleet left it out of the plan",
            expected="digits, *, leading #, x, Z, [..], +",
            actual=entry,
        )
        for entry, why in bad
    ]


def _aura_notice(p: dict[str, str]) -> list[Finding]:
    value = p.get("ENABLE_AVAYA_ENVIRONMENT", "").strip()
    if value == "0":
        return []
    return [
        Finding(
            "coverage.uncertain",
            "high",
            "ENABLE_AVAYA_ENVIRONMENT",
            f"ENABLE_AVAYA_ENVIRONMENT is {value or 'not set (default 1)'}: in an Avaya Aura "
            "environment the phone uses the emergency numbers from System Manager and the "
            "settings file's only while the Aura proxies are unavailable; fleet audited the file's",
            expected="ENABLE_AVAYA_ENVIRONMENT 0 (third-party SIP), or the SMGR numbers audited",
            actual=value or "not set",
        )
    ]


def provisioning_server(p: dict[str, str]) -> str | None:
    """The file server the phone provisions from: FILE_SERVER_URL, else HTTPSRVR (with
    HTTPPORT, HTTPDIR), else TLSSRVR (with TLSPORT) over HTTPS."""
    if p.get("FILE_SERVER_URL", "").strip():
        return p["FILE_SERVER_URL"].strip()
    for key, scheme, port_key, default in (
        ("HTTPSRVR", "http", "HTTPPORT", "80"),
        ("TLSSRVR", "https", "TLSPORT", "443"),
    ):
        host = p.get(key, "").split(",", 1)[0].strip()
        if host:
            port = p.get(port_key, "").strip()
            folder = p.get("HTTPDIR", "").strip().strip("/") if scheme == "http" else ""
            base = f"{scheme}://{host}" + (f":{port}" if port and port != default else "")
            return f"{base}/{folder}" if folder else base
    return None


def to_state(c: Collected) -> DeviceState:
    p = c.params
    notices: list[Finding] = [*_plan_notices(p), *_aura_notice(p)]
    registrar, transport = _registrar(p, notices)
    user = _user(p)
    plan = dialplan.plan(p.get("DIALPLAN", ""), p.get("INTER_DIGIT_TIMEOUT"))
    route_source = "SIP_CONTROLLER_LIST" if p.get("SIP_CONTROLLER_LIST") else "SIPPROXYSRVR"
    entries = [EmergencyEntry(n, registrar, key, route_source) for n, key in numbers(p)]
    lines = []
    if registrar or user:
        # The SIP controller takes every request the phone sends: it is the outbound proxy too.
        ln = Line(1, registrar, registrar, transport, user, plan, entries)
        # the line's own extension is the only callback identity a 46xxsettings file sets
        ln.callback, ln.callback_source = (user, _user_key(p)) if user else (None, None)
        lines.append(ln)
    mac = c.identity.get("mac")
    loc = _location(p)
    return DeviceState(
        vendor="Avaya",
        profile="avaya",
        model=c.identity.get("model"),
        firmware=c.identity.get("firmware"),
        mac=mac if mac and len(mac) == 12 else None,
        lines=lines,
        provisioning_server=provisioning_server(p),
        location_source=f"HELD {loc.detail}" if loc.source == "held" else None,
        location=loc,
        raw=dict(p),
        dialplan=None if lines else plan,
        emergency=[] if lines else [EmergencyEntry(n, None, k) for n, k in numbers(p)],
        notices=notices,
    )


PROFILE = Profile(
    name="avaya",
    vendor="Avaya",
    role="phone",
    transport="http",
    default_scheme="http",
    default_username=None,
    fetch=fetch,
    detect=detect,
    parse_files=parse_files,
    includes=includes,
    to_state=to_state,
    # FORCE_SIP_PASSWORD, FORCE_WEB_ADMIN_PASSWORD, ADMIN_PASSWORD, PROCPSWD (craft menu),
    # ESMPASSWORD/ACSPASSWORD/DIRPASSWORD, SNMPSTRING (community), *_PIN
    secret_keys=re.compile(r"(?i)(PASSWORD|PSWD|PASSWD|^SNMPSTRING$|_PIN$|^PIN)"),
    dialplan_syntax=dialplan.SYNTAX,
)
