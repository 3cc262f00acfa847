"""Yealink provisioning files: ``#!version:1.0.0.1`` then ``key = value`` lines.

Sources: Yealink T2/T4/T5 Administrator Guide (V84) and the templates in
wazo-platform/wazo-provd-plugins ``plugins/wazo-yealink/v84/templates/base.tpl``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from fleet.errors import ConfigFileError
from fleet.model import Collected, Finding

HEADER = "#!version:1.0.0.1"
# The phone treats a blank value as "leave as is" and %NULL% as "set to blank".
NULL = "%NULL%"
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_MAC_FILE = re.compile(r"^([0-9a-fA-F]{12})(-local)?\.cfg$")
# Model-wide common files (y0000000000xx.cfg, xx = the first field of the model's firmware
# version) a MAC file is layered on: the admin guide's list, plus every firmware family in
# wazo-provd-plugins' Yealink plugins (v80..v86 entry.py MODEL_INFO versions).
_FAMILIES: tuple[int, ...] = (0, 25, 28, 29, 35, 36, 37, 44, 45, 46, 51, 52, 53, 54, 58, 65, 66)
_FAMILIES += (67, 68, 69, 70, 73, 76, 77, 78, 95, 96, 97, 103, 108, 123, 124, 130, 143, 146)
_FAMILIES += (148, 150, 175, 180)
COMMON_FILES = tuple(f"y{n:012d}.cfg" for n in _FAMILIES)
# Boot files (firmware 81+): ``include:config "x.cfg"`` or ``include:config <x.cfg>`` lines
# name the .cfg files the phone downloads in order, later ones overriding earlier ones;
# ``[T46U, T48U]`` starts a section that applies to those models only (V86 guide).
_INCLUDE = re.compile(r"^include:config\s*[<\"\u201c](.+?)[>\"\u201d]\s*$")
_MODEL_SECTION = re.compile(r"^\[\s*\$?[A-Za-z0-9_]+(\s*,\s*[A-Za-z0-9_]+)*\s*\]$")
_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://[^/@:]*):[^/@]*@")


def detect(text: str) -> bool:
    return text.lstrip("\ufeff \t\r\n").startswith("#!version:")


def parse_text(name: str, text: str) -> dict[str, str]:
    """Flat params as the phone applies them: blank values skipped, %NULL% becomes ""."""
    return parse_lines(name, text)[0]


def is_boot(name: str) -> bool:
    return name.rsplit("/", 1)[-1].lower().endswith(".boot")


def boot_includes(text: str) -> list[tuple[str, str]]:
    """(file as named, model section or "") for each ``include:config`` line, in order."""
    out: list[tuple[str, str]] = []
    section = ""
    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.strip()
        if _MODEL_SECTION.match(line):
            section = line
        elif m := _INCLUDE.match(line):
            out.append((m.group(1).strip(), section))
    return out


def included_name(ref: str) -> str:
    """The file a boot file's reference names, as it sits in the provisioning folder."""
    return ref.replace("\\", "/").rsplit("/", 1)[-1]


def parse_lines(name: str, text: str) -> tuple[dict[str, str], list[Finding]]:
    """Params and the notices of lines the phone skips.

    A line that is not ``key = value`` (a stray word, a key without ``=``, a key with
    characters no parameter name has) is skipped by the phone, which applies the rest of the
    file (Yealink Auto Provisioning Guide: the phone reads the parameters it recognises and
    ignores the others). fleet does the same and says so with a ``config.malformed`` notice
    naming the file and line number: never the line's text, which may be
    ``account.1.password`` with its value."""
    if not detect(text):
        raise ConfigFileError(
            "not a Yealink file: the first line must be '#!version:'", file=name, line=1
        )
    params: dict[str, str] = {}
    skipped: list[int] = []
    boot = is_boot(name)
    for n, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if boot and (_INCLUDE.match(line) or _MODEL_SECTION.match(line)):
            continue  # boot-file structure, read by boot_includes
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _KEY.match(key):
            skipped.append(n)
            continue
        if value == "":
            continue
        params[key] = mask_url(key, "" if value.upper() == NULL else value)
    notices = [
        Finding(
            "config.malformed",
            "medium",
            f"{name} line {n}",
            f"{name} line {n} is not 'key = value': the phone skips it and applies the rest "
            "of the file, and so does fleet (the line is not quoted: it may hold a secret)",
            expected="key = value",
            actual="skipped",
            evidence=[f"{name}:{n}"],
        )
        for n in skipped
    ]
    return params, notices


def mask_url(key: str, value: str) -> str:
    """Hide a password embedded in the provisioning URL (user:pass@host)."""
    if key.endswith("auto_provision.server.url"):
        return _URL_PASSWORD.sub(r"\1:***@", value)
    return value


def mac_of(name: str) -> str | None:
    m = _MAC_FILE.match(name.rsplit("/", 1)[-1])
    return m.group(1).lower() if m else None


def parse_files(name: str, text: str, read_sibling: Callable[[str], str | None]) -> Collected:
    """One file; a MAC file is layered on the folder's common file when exactly one is there;
    a boot file is the files it includes, in order."""
    if is_boot(name):
        return _parse_boot(name, text, read_sibling)
    params, notices = parse_lines(name, text)
    sources = [name]
    identity: dict[str, str] = {}
    mac = mac_of(name)
    if mac:
        identity["mac"] = mac
        commons = [(f, t) for f in COMMON_FILES if (t := read_sibling(f)) is not None]
        if len(commons) == 1:
            cname, ctext = commons[0]
            cparams, cnotices = parse_lines(cname, ctext)
            params = {**cparams, **params}
            notices = cnotices + notices
            sources.insert(0, cname)
        elif commons:
            names = ", ".join(f for f, _ in commons)
            notices.append(
                Finding(
                    "coverage.uncertain",
                    "high",
                    name,
                    f"{name}: several model-wide common files sit beside it ({names}) and the "
                    "phone loads only its own model's one; fleet cannot tell which, so it read "
                    "the MAC file alone and the phone's settings may differ",
                    expected="one y0000000000xx.cfg for the phone's model",
                    actual=names,
                )
            )
    return Collected(params=params, identity=identity, sources=sources, notices=notices)


def includes(name: str, text: str) -> list[str]:
    """The files the phone loads with this one: a boot file's ``include:config`` files; for
    a MAC file, the model-wide common file (whichever of COMMON_FILES is the phone's)."""
    if is_boot(name):
        return list(dict.fromkeys(included_name(ref) for ref, _ in boot_includes(text)))
    return list(COMMON_FILES) if mac_of(name) else []


def _parse_boot(name: str, text: str, read_sibling: Callable[[str], str | None]) -> Collected:
    own, notices = parse_lines(name, text)
    params: dict[str, str] = {}
    sources = [name]
    identity: dict[str, str] = {}
    sections = set()
    # A file included again is applied again (its values win over those read since), but
    # read once: a boot file repeating one include thousands of times must stay cheap.
    read: dict[str, dict[str, str] | None] = {}
    for ref, section in boot_includes(text):
        fname = included_name(ref)
        if section:
            sections.add(section)
        if fname in read:
            params.update(read[fname] or {})
            continue
        read[fname] = None
        ftext = read_sibling(fname)
        if ftext is None or not detect(ftext):
            notices.append(
                Finding(
                    "coverage.uncertain",
                    "high",
                    name,
                    f"{name} includes {fname}, which is not beside it as a Yealink .cfg file: "
                    "the phone loads it, fleet could not, so the phone's settings may differ",
                    expected=f"{fname} readable",
                    actual="missing",
                )
            )
            continue
        fparams, fnotices = parse_lines(fname, ftext)
        read[fname] = fparams
        params.update(fparams)  # later files override earlier ones (admin guide)
        notices += fnotices
        sources.append(fname)
        if mac := mac_of(fname):
            identity["mac"] = mac
    if sections:
        notices.append(
            Finding(
                "coverage.uncertain",
                "high",
                name,
                f"{name} has model sections ({', '.join(sorted(sections))}) and fleet does not "
                "know the phone's model from the files: it read every section's files",
                expected="no model sections",
                actual=", ".join(sorted(sections)),
            )
        )
    params.update({k: v for k, v in own.items() if k not in params})
    return Collected(params=params, identity=identity, sources=sources, notices=notices)


def render(params: Mapping[str, str], comment: str = "") -> str:
    lines = [HEADER]
    if comment:
        lines.append(f"# {comment}")
    lines += [f"{k} = {v if v != '' else NULL}" for k, v in params.items()]
    return "\n".join(lines) + "\n"
