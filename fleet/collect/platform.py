"""The CLI platform schema lives in :mod:`fleet.platform` (the profile registry loads it, and
the registry must not depend on the transports); this name stays for old imports."""

from fleet.platform import Enable, Platform, PlatformIn, load_platform

__all__ = ["Enable", "Platform", "PlatformIn", "load_platform"]
