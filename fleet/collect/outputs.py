"""CLI outputs through the profile, for the transports that run commands (ssh, netmiko)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleet.errors import ConfigFileError, ProtocolError

if TYPE_CHECKING:
    from fleet.model import Collected
    from fleet.profiles import Profile


def parse_outputs(prof: Profile, outputs: dict[str, str]) -> Collected:
    """CLI outputs through the profile: its parse_cli, else parse_files on the first."""
    try:
        if prof.parse_cli is not None:
            return prof.parse_cli(outputs)
        assert prof.parse_files is not None
        cmd, text = next(iter(outputs.items()))
        return prof.parse_files(cmd, text, lambda _name: None)
    except ConfigFileError as e:
        raise ProtocolError(f"the device's output could not be read: {e}") from e
