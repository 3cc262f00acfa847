"""The vendor-neutral shape every profile turns its vendor's configuration into.

Dataclasses with slots: a sweep builds thousands of these, and they are plain data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Collected:
    """What a profile read from a device or from files, before normalising.

    ``params`` are the vendor's own parameter names and values, flat, as the device holds
    them (redacted by the engine before anything is stored). ``identity`` holds what the
    device reports apart from its configuration (model, firmware, mac) when it does.
    """

    params: dict[str, str]
    identity: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    # What the profile noticed while reading and the device would also notice or ignore: a
    # line the phone skips (``config.malformed``), a vendor fact fleet could not confirm
    # (``coverage.uncertain``), what this firmware cannot be configured to do
    # (``config.limitation``). The engine moves them to ``DeviceState.notices``; they become
    # findings of that device. Never put a parameter value that may be a secret in one.
    notices: list[Finding] = field(default_factory=list)


@dataclass(slots=True)
class DialPlan:
    """A dial plan as the phone holds it, with the syntax its engine evaluates it in.

    ``options`` carries the companion parameters the engine needs (timers, no-match handling,
    Yealink dial-now/replace/block-out rules), keyed by the vendor's parameter names.
    """

    syntax: str
    text: str
    source: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class EmergencyEntry:
    """One number the phone treats as an emergency number, and where it sends it."""

    number: str
    route: str | None
    source: str
    route_source: str = ""


@dataclass(slots=True)
class Location:
    """Where a phone's emergency calls take the caller's location from (RAY BAUM'S Act,
    Ofcom GC A3.5), as its configuration says; the profile README cites each parameter."""

    source: str = "none"  # lldp-med | held | static | none
    detail: str = ""  # the HELD server, the ELIN or civic address, what LLDP-MED supplies
    # "parameter = value" (or "parameter (default) = value") each reading came from, so a
    # finding can name what to change
    evidence: list[str] = field(default_factory=list)
    # why the reading is not confirmed by the vendor's documentation ("" = confirmed): the
    # location check then reports coverage.uncertain rather than pass or fail on a guess
    uncertain: str = ""


@dataclass(slots=True)
class Line:
    index: int
    registrar: str | None = None
    outbound_proxy: str | None = None
    transport: str | None = None
    user: str | None = None
    dialplan: DialPlan | None = None
    # Emergency numbers as this line applies them. Where the vendor has no separate emergency
    # route, the profile fills ``route`` with the line's outbound proxy or registrar.
    emergency: list[EmergencyEntry] = field(default_factory=list)
    enabled: bool = True
    # The emergency callback identity the line presents (its number, or a configured ELIN /
    # callback number) and the parameter it comes from; None where the profile reads none.
    callback: str | None = None
    callback_source: str | None = None


@dataclass(slots=True)
class SbcRoute:
    """One routing rule as the SBC holds it, in the order the SBC evaluates its rules."""

    name: str  # as an operator would name it: "IP2IPRouting 3 (Emergency)", "dial-peer 911"
    match: dict[str, str] = field(default_factory=dict)  # what it matches, readable
    target: str | None = None  # trunk / IP group / session target / next-hop
    priority: str | None = None  # emergency priority the rule marks, if any


@dataclass(slots=True)
class SbcElin:
    """An ELIN the SBC puts in place of the calling number of an emergency call: for callers
    in ``subnets`` (a Cisco emergency response location), on the routes named in ``routes``
    (``SbcRoute.name``; empty: every route the SBC marks as emergency)."""

    elin: str
    subnets: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    name: str = ""  # the location as the configuration names it


@dataclass(slots=True)
class SbcLocation:
    """How the SBC carries the caller's location on emergency calls, per its configuration.

    ``mode``: ``elin`` (it sends the ELIN of the caller's network, ``elins``, as the calling
    number), ``elin-gateway`` (it turns the ELINs the call already carries, a PIDF-LO from a
    location server or a Lync priority list, into the calling number: it adds none of its
    own) or ``none`` (no location handling configured); ``unproven``: the configuration
    holds a step the profile does not evaluate that may add one (``source`` says which)."""

    mode: str = "none"
    source: str = ""  # the settings it was read from, as an operator finds them
    elins: list[SbcElin] = field(default_factory=list)
    # what answers a PSAP's callback to an ELIN (CUBE dial-peers with emergency response
    # callback, AudioCodes E911CallbackTimeout), as readable settings
    callback: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SbcState:
    """An SBC's routing, vendor-neutral where it can be; ``data`` holds what the profile's
    ``route`` function needs to evaluate it exactly as the box does (JSON-serialisable)."""

    routes: list[SbcRoute] = field(default_factory=list)
    trunks: list[str] = field(default_factory=list)  # trunks / IP groups / peers it knows
    addresses: list[str] = field(default_factory=list)  # its SIP addresses (host or host:port)
    emergency_numbers: list[str] = field(default_factory=list)  # numbers it treats as such
    data: dict[str, Any] = field(default_factory=dict)
    # trunk -> the other names the SBC gives it (a CUBE dial-peer's description, tag and
    # session target), any of which a golden's ``sbc_trunks`` may use
    trunk_aliases: dict[str, list[str]] = field(default_factory=dict)
    # caller location on emergency calls; None where the profile does not read it (and in
    # snapshots stored before it was read)
    location: SbcLocation | None = None


@dataclass(slots=True)
class RouteDecision:
    """What an SBC does with one called number from one source."""

    number: str
    source: str | None
    # routed | no-route | rejected; or ambiguous: the box's own rules leave the decision
    # open, and ``alternatives`` holds one full decision per possibility: per candidate
    # source (``source`` names it: an AudioCodes IP group, an Acme realm) or per tied rule
    # (``route`` names it: CUBE dial-peers equal in match length and preference). `fleet sbc
    # route` alone says unproven, for an SBC whose routing fleet does not read (netmiko).
    outcome: str
    route: str | None = None  # the winning rule, as SbcRoute.name
    sent: str | None = None  # the called number as it leaves
    trunk: str | None = None  # where it leaves
    priority: str | None = None
    steps: list[str] = field(default_factory=list)
    alternatives: list[RouteDecision] = field(default_factory=list)
    # why fleet cannot prove where a routed call goes although the box's rules pick this
    # route (an Acme next hop that is a local route table file, say); empty: it can
    unproven: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if not d["alternatives"]:
            del d["alternatives"]
        for x in (d, *d.get("alternatives", ())):  # a key added later: absent when unset
            if not x["unproven"]:
                del x["unproven"]
        return d


@dataclass(slots=True)
class DeviceState:
    vendor: str
    profile: str
    model: str | None = None
    firmware: str | None = None
    mac: str | None = None
    lines: list[Line] = field(default_factory=list)
    provisioning_server: str | None = None
    location_source: str | None = None
    raw: dict[str, str] = field(default_factory=dict)
    sbc: SbcState | None = None
    # The plan the device applies where a line has none of its own: a site or common file's
    # plan, checked even when the file configures no line (a factory sip.cfg whose plan turns
    # 112 into 11 must be flagged before any phone loads it).
    dialplan: DialPlan | None = None
    # The device-wide emergency numbers of a file that configures no line (a factory sip.cfg
    # that lists only 911): checked as such, since every phone loading it inherits them.
    emergency: list[EmergencyEntry] = field(default_factory=list)
    notices: list[Finding] = field(default_factory=list)
    # False where the firmware has no emergency-number setting at all (older Cisco SPA):
    # every number is then an ordinary call to the line's server, and the checks follow
    # that instead of reporting "not one of the phone's emergency numbers".
    emergency_setting: bool = True
    # What the location source is, read per vendor (None: the profile does not read it;
    # ``location_source`` stays the short form shown before this existed).
    location: Location | None = None

    def normalised(self) -> dict[str, Any]:
        """The normalised keys golden rules may name (SPEC: Golden template)."""
        first = next((ln for ln in self.lines if ln.enabled), None)
        numbers: list[str] = []
        routes: list[str] = []
        for ln in self.lines:
            for e in ln.emergency:
                if e.number not in numbers:
                    numbers.append(e.number)
                if e.route and e.route not in routes:
                    routes.append(e.route)
        return {
            "vendor": self.vendor,
            "firmware": self.firmware,
            "model": self.model,
            "mac": self.mac,
            "sip.registrar": first.registrar if first else None,
            "sip.outbound_proxy": first.outbound_proxy if first else None,
            "sip.transport": first.transport if first else None,
            "provisioning.server": self.provisioning_server,
            "dialplan": first.dialplan.text
            if first and first.dialplan
            else (self.dialplan.text if self.dialplan else None),
            "emergency.numbers": ",".join(numbers) if numbers else None,
            "emergency.route": ",".join(routes) if routes else None,
            "emergency.location": self.location_source,
            "lines": str(sum(1 for ln in self.lines if ln.enabled)),
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        # Omitted when empty: the shape samples and snapshots stored before them have.
        for key in ("sbc", "dialplan", "location"):
            if d[key] is None:
                del d[key]
        for ln in d["lines"]:
            for key in ("callback", "callback_source"):
                if ln[key] is None:
                    del ln[key]
        if d.get("sbc") is not None and not d["sbc"]["trunk_aliases"]:
            del d["sbc"]["trunk_aliases"]
        if d.get("sbc") is not None and d["sbc"]["location"] is None:
            del d["sbc"]["location"]
        for key in ("notices", "emergency"):
            if not d[key]:
                del d[key]
        if d["emergency_setting"]:
            del d["emergency_setting"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeviceState:
        lines = []
        for ln in d.get("lines", []):
            ln = dict(ln)
            dp = ln.pop("dialplan", None)
            em = ln.pop("emergency", [])
            lines.append(
                Line(
                    **ln,
                    dialplan=DialPlan(**dp) if dp else None,
                    emergency=[EmergencyEntry(**e) for e in em],
                )
            )
        rest = {
            k: v
            for k, v in d.items()
            if k not in ("lines", "sbc", "dialplan", "notices", "location")
        }
        sbc = None
        if d.get("sbc"):
            sd = dict(d["sbc"])
            sd["routes"] = [SbcRoute(**r) for r in sd.get("routes", [])]
            # snapshots stored before the typed field kept the aliases in data
            if "trunk_aliases" not in sd and "trunk_aliases" in sd.get("data", {}):
                sd["trunk_aliases"] = sd["data"]["trunk_aliases"]
            if sd.get("location") is not None:
                loc = dict(sd["location"])
                loc["elins"] = [SbcElin(**e) for e in loc.get("elins", [])]
                sd["location"] = SbcLocation(**loc)
            sbc = SbcState(**sd)
        plan = DialPlan(**d["dialplan"]) if d.get("dialplan") else None
        notices = [Finding(**f) for f in d.get("notices", [])]
        emergency = [EmergencyEntry(**e) for e in d.get("emergency", [])]
        location = Location(**d["location"]) if d.get("location") else None
        return cls(
            **rest,
            lines=lines,
            sbc=sbc,
            dialplan=plan,
            notices=notices,
            emergency=emergency,
            location=location,
        )


SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(slots=True)
class Finding:
    rule: str
    severity: str
    subject: str
    message: str
    expected: str | None = None
    actual: str | None = None
    evidence: list[str] = field(default_factory=list)

    def sort_key(self) -> tuple[int, int, str, str]:
        emergency_first = 0 if self.rule.startswith("emergency.") else 1
        return (SEVERITY_RANK[self.severity], emergency_first, self.rule, self.subject)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class DeviceResult:
    """One inventory host at the end of a sweep or audit."""

    id: str
    site: str | None
    role: str
    profile: str
    address: str | None
    status: str  # audited | unreachable | auth-failed | error
    state: DeviceState | None = None
    error: str | None = None
    findings: list[Finding] = field(default_factory=list)
    elapsed_s: float = 0.0
    attempts: int = 0
    # `fleet audit`: the files this device was read from, the master first, then the files
    # it includes (shown as parts of this device, never as skipped)
    files: list[str] = field(default_factory=list)
    # the inventory's MAC (12 lower-case hex digits), to find a phone fleet could not read;
    # the device's own is ``state.mac``
    mac: str | None = None


@dataclass(slots=True)
class Snapshot:
    """One sweep or audit: every device's result, as stored and reported."""

    kind: str  # sweep | audit
    started_at: str
    finished_at: str
    golden: str | None
    results: list[DeviceResult]
    tag: str | None = None
    id: int | None = None
    duration_s: float = 0.0
    inventory: str | None = None  # what it was made from, to sweep the same again
    golden_file: str | None = None
    selection: list[str] = field(default_factory=list)
    # the emergency numbers its checks required of every phone (the golden's policy), so
    # `fleet timeline` knows what each snapshot proved and what it never looked at
    numbers: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        counts = dict.fromkeys(SEVERITIES, 0)
        for r in self.results:
            for f in r.findings:
                counts[f.severity] += 1
        status = [r.status for r in self.results]
        failing = sum(
            1 for r in self.results if any(f.rule.startswith("emergency.") for f in r.findings)
        )
        return {
            "devices": len(self.results),
            "failing": failing,
            "audited": status.count("audited"),
            "unreachable": status.count("unreachable"),
            "auth_failed": status.count("auth-failed"),
            "errors": status.count("error"),
            "findings": counts,
        } | self._files()

    def _files(self) -> dict[str, Any]:
        """`fleet audit`: every file given or found, accounted for."""
        if self.kind != "audit":
            return {}
        files = sum(len(r.files) or 1 for r in self.results)
        return {
            "unrecognised": sum(1 for r in self.results if r.status == "unrecognised"),
            "files": files,
            "parts": sum(max(len(r.files) - 1, 0) for r in self.results),
        }

    def worst(self) -> str | None:
        ranks = [SEVERITY_RANK[f.severity] for r in self.results for f in r.findings]
        return SEVERITIES[min(ranks)] if ranks else None
