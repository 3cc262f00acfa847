"""What a lab device is meant to be, in vendor-neutral terms; simulators render it into the
vendor's own parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fleet.model import Collected


@dataclass(slots=True)
class LabPhone:
    id: str
    profile: str
    site: str
    address: str
    port: int
    model: str
    firmware: str
    mac: str
    admin_user: str
    admin_password: str  # what the device accepts
    sip_user: str
    sip_password: str
    registrar: str
    outbound_proxy: str
    emergency_numbers: list[str]
    emergency_route: str
    provisioning_server: str
    scheme: str = "http"
    # None, or one of: down, auth (inventory holds another password), http<status> (every
    # request answers that status), garbage, huge, slow
    fault: str | None = None
    extra: dict[str, str] = field(default_factory=dict)  # vendor params to force (faults)


@dataclass(slots=True)
class LabRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.body.decode("utf-8", "replace")))


@dataclass(slots=True)
class LabResponse:
    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/plain"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, obj: Any, status: int = 200) -> LabResponse:
        import json

        return cls(status, json.dumps(obj), "application/json")


@dataclass(slots=True)
class LabDevice:
    """A running lab device: the spec, the configuration it holds, and its web sessions."""

    spec: LabPhone
    config: Collected
    sessions: dict[str, Any] = field(default_factory=dict)
    requests: int = 0


@dataclass(slots=True)
class LabSbc:
    """A simulated SBC: routes the lab phones' calls; emergency numbers to its emergency
    trunk, the rest to its normal trunk (unless a fault says otherwise)."""

    id: str
    profile: str
    site: str
    address: str  # its own loopback address; SIP on :5060 (configuration only), SSH on port
    port: int
    hostname: str
    admin_user: str
    admin_password: str
    enable_password: str
    phone_networks: list[str]  # source networks of the phones it serves, CIDR
    emergency_numbers: list[str]
    fault: str | None = None  # None, down, auth, or a vendor fault from the simulator
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class LabSbcDevice:
    spec: LabSbc
    config: str  # what `show running-config` prints
    sessions: int = 0
    commands: list[str] = field(default_factory=list)
