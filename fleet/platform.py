"""A CLI platform (``device_profiles/<name>/platform.yaml``): prompts, enable, paging, the
commands that print the configuration and the strings that mark a rejected command.

The file is validated once, when it is loaded, so a typo in a vendor folder is reported as
``file:line: field: why`` at start-up instead of as a confusing failure on the first device.
A platform is data, not a class (scrapli's idea).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from fleet import yamlsrc
from fleet.errors import ConfigFileError


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as e:
        raise ValueError(f"not a regular expression: {e}") from None
    return value


Regex = Annotated[str, AfterValidator(_regex)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnableIn(_Strict):
    command: str = "enable"
    password_prompt: Regex
    prompt: Regex


class PlatformIn(_Strict):
    """The schema of platform.yaml."""

    prompt: Regex
    commands: list[str] = Field(min_length=1)
    setup: list[str] = []
    more: Regex | None = None
    enable: EnableIn | None = None
    errors: list[str] = []
    exit: str = "exit"


_ALLOWED = {"enable": list(EnableIn.model_fields)}


@dataclass(frozen=True, slots=True)
class Enable:
    password_prompt: str
    prompt: str
    command: str = "enable"


@dataclass(frozen=True, slots=True)
class Platform:
    prompt: str
    commands: tuple[str, ...]
    setup: tuple[str, ...] = ()
    more: str | None = None
    enable: Enable | None = None
    errors: tuple[str, ...] = ()
    exit: str = "exit"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | Platform, source: str = "platform") -> Platform:
        """A platform from already-parsed data (a profile's ``platform`` dict), validated."""
        if isinstance(d, Platform):
            return d
        located = yamlsrc.Located(source, dict(d), {})
        return _build(located)


def load_platform(path: Path) -> Platform:
    """Read and validate one platform.yaml; ConfigFileError names the file, line and field."""
    located = yamlsrc.load(path, ConfigFileError)
    if not isinstance(located.data, dict):
        raise ConfigFileError("a platform is a mapping with prompt: and commands:", file=str(path))
    return _build(located)


def _build(located: yamlsrc.Located) -> Platform:
    try:
        model = PlatformIn.model_validate(located.data)
    except ValidationError as e:
        err = yamlsrc.pydantic_error(located, e, ConfigFileError, allowed=_ALLOWED)
        if err.reason == "unknown key" and err.field and "." not in err.field:
            err = ConfigFileError(
                f"unknown key (allowed: {', '.join(PlatformIn.model_fields)})",
                file=err.file,
                line=err.line,
                field=err.field,
            )
        raise err from None
    en = model.enable
    return Platform(
        prompt=model.prompt,
        commands=tuple(model.commands),
        setup=tuple(model.setup),
        more=model.more,
        enable=Enable(en.password_prompt, en.prompt, en.command) if en else None,
        errors=tuple(model.errors),
        exit=model.exit,
    )
