"""The encoding an XML declaration names, for the error when fleet cannot decode by it.

defusedxml hands the declared name to Python's codec registry: a name Python does not know
raises ``LookupError``, a multi-byte one (utf-32) ``ValueError``. A provisioning file may
declare anything, so either is the file's fault, reported against its first line."""

from __future__ import annotations

import re

from fleet.errors import ConfigFileError

_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']{0,40})""")


def declared(data: str | bytes) -> str | None:
    head = data[:512].encode("utf-8", "replace") if isinstance(data, str) else data[:512]
    m = _DECL.match(head)
    return m.group(1).decode("ascii", "replace") if m else None


def refused(name: str, data: str | bytes) -> ConfigFileError:
    """The error for a file whose declared encoding the XML parser cannot use."""
    enc = declared(data)
    what = f"encoding {enc!r}" if enc is not None else "an encoding"
    return ConfigFileError(
        f"the XML declaration names {what}, which fleet cannot decode (XML 1.0 section 4.3.3; "
        "provisioning files are UTF-8)",
        file=name,
        line=1,
    )
