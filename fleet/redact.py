"""Secrets never leave the collector: values of secret parameters, and passwords embedded in
URLs, are replaced before anything is stored, logged or printed."""

from __future__ import annotations

import re

from fleet.profiles import Profile

MASK = "********"
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)([^\s@/]+)@")


def redact_text(text: str) -> str:
    return _URL_USERINFO.sub(rf"\1{MASK}@", text)


def redact_params(params: dict[str, str], profile: Profile) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in params.items():
        if v and profile.is_secret(k):
            out[k] = MASK
        elif "://" in v:
            out[k] = redact_text(v)
        else:
            out[k] = v
    return out
