"""Secrets never leave the collector: values of secret parameters, and passwords embedded in
URLs, are replaced before anything is stored, logged or printed."""

from __future__ import annotations

import re

from fleet.profiles import Profile

MASK = "********"
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)([^\s@/]+)@")
# SIP URIs carry no "//": sip:user:password@host (RFC 3261 19.1.1 allows the password)
_SIP_USERINFO = re.compile(r"(?i)\b(sips?:[^\s:@/;]+:)([^\s@;]+)@")
# Cisco profile rules carry secrets as options: "[--key abc --uid u --pwd p ]https://..."
_RULE_OPTION = re.compile(r"(?i)(--(?:key|pwd|password)\s+)([^\s\]]+)")


# Secrets inside configuration text (IOS, ACLI, AudioCodes CLI, ini): the word that names
# the secret, an optional IOS type digit, then the value.
_CONFIG_SECRET = re.compile(
    r"(?im)(\b(?:secret|password|passwd|pre-shared-key|key-string|auth-password|community"
    r"|(?:md5|sha)\s+key)\b\s*(?:=\s*)?(?:[0-9]\s+)?)(['\"]?)([^\s'\"]+)(['\"]?)"
)


def redact_text(text: str) -> str:
    text = _URL_USERINFO.sub(rf"\1{MASK}@", text)
    text = _SIP_USERINFO.sub(rf"\1{MASK}@", text)
    text = _RULE_OPTION.sub(rf"\1{MASK}", text)
    if "\n" in text:
        text = _CONFIG_SECRET.sub(rf"\1\2{MASK}\4", text)
    return text


def redact_params(params: dict[str, str], profile: Profile) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in params.items():
        if v and profile.is_secret(k):
            out[k] = MASK
        elif "://" in v or "--" in v or "\n" in v or "sip" in v.lower():
            out[k] = redact_text(v)
        else:
            out[k] = v
    return out
