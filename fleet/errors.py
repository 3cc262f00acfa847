"""Every error fleet raises on purpose derives from :class:`FleetError`.

FleetError
├── InputError              bad input from the user: exit 2; names file, line and field
│   ├── InventoryError      inventory YAML/CSV
│   ├── GoldenError         golden template
│   └── ConfigFileError     a configuration file given to `fleet audit`
├── DeviceError             one device could not be audited; the sweep goes on (status "error")
│   ├── Unreachable         no answer, refused, timed out (status "unreachable")
│   ├── AuthFailed          credentials refused (status "auth-failed")
│   ├── HttpStatusError     an HTTP status the vendor's interface does not answer with success
│   └── ProtocolError       the device answered, but not in its vendor's format
│       └── ResponseTooLarge  a body over the size cap
├── StoreError              the SQLite store could not be read or written
│   └── StoreBusy           another run holds the store
├── EmailError              the SMTP server refused the report or could not be reached
├── LabBusy                 no free loopback network for the simulated fleet
├── LabControlError         a running lab's rollout control did not answer
├── BrokerError             a distributed sweep's broker unreachable or lost: exit 2
└── DialPlanError           a dial plan that cannot be compiled
"""

from __future__ import annotations

from typing import Any


class FleetError(Exception):
    """Root of fleet's own errors."""


class InputError(FleetError):
    """Bad user input; the CLI exits 2 with this message."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file, self.line, self.field, self.reason = file, line, field, message
        self.more: list[InputError] = []  # the file's other problems (`fleet validate` lists them)
        where = file or ""
        if file and line:
            where = f"{file}:{line}"
        parts = [p for p in (where, field) if p]
        super().__init__(": ".join([*parts, message]))


class InventoryError(InputError):
    """The inventory is malformed."""


class GoldenError(InputError):
    """The golden template is malformed."""


class ConfigFileError(InputError):
    """A configuration file could not be read or recognised."""


class DeviceError(FleetError):
    """One device failed; the sweep reports it and goes on."""

    status = "error"


class Unreachable(DeviceError):
    status = "unreachable"


class AuthFailed(DeviceError):
    status = "auth-failed"


class ProtocolError(DeviceError):
    """The device answered with something its vendor's format does not allow."""


class ResponseTooLarge(ProtocolError):
    pass


class HttpStatusError(DeviceError):
    """An HTTP answer with a status that is neither success nor a refused login; 502-504 are
    transient (retried). ``reply`` is the :class:`fleet.collect.http.HttpReply`."""

    def __init__(self, reply: Any) -> None:
        self.reply = reply
        super().__init__(f"{reply.url}: HTTP {reply.status}{_redirect_note(reply)}")

    @property
    def transient(self) -> bool:
        return bool(self.reply.status in (502, 503, 504))


def _redirect_note(reply: Any) -> str:
    """Where a redirect pointed, and that fleet does not go there: following it would send
    the device's credentials to an address the inventory does not name."""
    if not 300 <= reply.status < 400:
        return ""
    import re

    location = reply.headers.get("location", "") if reply.headers is not None else ""
    if not location:
        return ": a redirect without a Location"
    location = re.sub(r"//[^/@]*@", "//", location)[:200]  # never a user:password@ in it
    return f": a redirect to {location!r}, not followed (give the device's own address)"


class EmailError(FleetError):
    """The SMTP server refused or could not be reached."""


class LabBusy(FleetError):
    """No free 127.x network for the simulated fleet."""


class LabControlError(FleetError):
    """`fleet lab rollout` could not reach the lab's control (the lab stopped?)."""


class StoreError(FleetError):
    pass


class StoreBusy(StoreError):
    pass


class BrokerError(FleetError):
    """The broker of a distributed sweep could not be reached, or was lost mid-sweep."""


class DialPlanError(FleetError):
    pass


def bug_text(stage: str, subject: str, e: BaseException) -> str:
    """An unexpected exception, reported without its own text (which may quote configuration,
    and so a secret): the stage, the exception's type and where it was raised."""
    import traceback
    from pathlib import Path

    frames = traceback.extract_tb(e.__traceback__)
    where = ""
    if frames:
        f = Path(frames[-1].filename)
        where = f" at {f.parent.name}/{f.name}:{frames[-1].lineno}"
    return (
        f"{stage} failed: fleet could not {stage} this device ({type(e).__name__}{where}; "
        f"a bug in fleet or its {subject} profile)"
    )
