"""Yealink provisioning files: ``#!version:1.0.0.1`` then ``key = value`` lines.

Sources: Yealink T2/T4/T5 Administrator Guide (V84) and the templates in
wazo-platform/wazo-provd-plugins ``plugins/wazo-yealink/v84/templates/base.tpl``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from fleet.errors import ConfigFileError
from fleet.model import Collected

HEADER = "#!version:1.0.0.1"
# The phone treats a blank value as "leave as is" and %NULL% as "set to blank".
NULL = "%NULL%"
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_MAC_FILE = re.compile(r"^([0-9a-fA-F]{12})(-local)?\.cfg$")
# Model-wide common files (y0000000000xx.cfg) a MAC file is layered on, per the admin guide.
COMMON_FILES = tuple(
    f"y{n:012d}.cfg"
    for n in (0, 28, 29, 35, 36, 44, 45, 46, 58, 65, 66, 67, 68, 69, 95, 96, 97, 108, 123, 150)
)
_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://[^/@:]*):[^/@]*@")


def detect(text: str) -> bool:
    return text.lstrip("\ufeff \t\r\n").startswith("#!version:")


def parse_text(name: str, text: str) -> dict[str, str]:
    """Flat params as the phone applies them: blank values skipped, %NULL% becomes ""."""
    if not detect(text):
        raise ConfigFileError(
            "not a Yealink file: the first line must be '#!version:'", file=name, line=1
        )
    params: dict[str, str] = {}
    for n, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _KEY.match(key):
            raise ConfigFileError("expected 'key = value'", file=name, line=n, field=key or None)
        if value == "":
            continue
        params[key] = mask_url(key, "" if value.upper() == NULL else value)
    return params


def mask_url(key: str, value: str) -> str:
    """Hide a password embedded in the provisioning URL (user:pass@host)."""
    if key.endswith("auto_provision.server.url"):
        return _URL_PASSWORD.sub(r"\1:***@", value)
    return value


def mac_of(name: str) -> str | None:
    m = _MAC_FILE.match(name.rsplit("/", 1)[-1])
    return m.group(1).lower() if m else None


def parse_files(name: str, text: str, read_sibling: Callable[[str], str | None]) -> Collected:
    """One file; a MAC file is layered on the folder's common file when exactly one is there."""
    params = parse_text(name, text)
    sources = [name]
    identity: dict[str, str] = {}
    mac = mac_of(name)
    if mac:
        identity["mac"] = mac
        commons = [(f, t) for f in COMMON_FILES if (t := read_sibling(f)) is not None]
        if len(commons) == 1:
            cname, ctext = commons[0]
            params = {**parse_text(cname, ctext), **params}
            sources.insert(0, cname)
    return Collected(params=params, identity=identity, sources=sources)


def render(params: Mapping[str, str], comment: str = "") -> str:
    lines = [HEADER]
    if comment:
        lines.append(f"# {comment}")
    lines += [f"{k} = {v if v != '' else NULL}" for k, v in params.items()]
    return "\n".join(lines) + "\n"
