"""Kept while the lab simulator still imports it: the reading lives in parse.py."""

from device_profiles.audiocodes.parse import (
    CLI_SCALARS,
    TEMPLATE,
    check_cli_layout,
    is_cli,
    is_ini,
    parse_ini,
    scalar,
    split_row,
    tables,
    unquote,
)
from device_profiles.audiocodes.parse import read_cli as parse_cli

__all__ = [
    "CLI_SCALARS",
    "TEMPLATE",
    "check_cli_layout",
    "is_cli",
    "is_ini",
    "parse_cli",
    "parse_ini",
    "scalar",
    "split_row",
    "tables",
    "unquote",
]
