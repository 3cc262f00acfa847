"""YAML with line numbers, so a bad value can be reported as file:line: field.

Hostile input is refused in bounded time and memory: a file that is not a regular file or
is larger than :data:`MAX_BYTES`, alias expansion past :data:`MAX_EXPANSION` times the nodes
written (billion laughs), nesting deeper than the parser can follow."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from fleet.errors import InputError

Path_ = tuple[str | int, ...]

MAX_BYTES = 32 * 1024 * 1024  # an inventory of 100,000 hosts is well under this
MAX_EXPANSION = 50  # nodes built per node written; aliases beyond that are a bomb


class Located:
    """Parsed YAML plus the line of every key path in it."""

    def __init__(self, file: str, data: Any, lines: dict[Path_, int]) -> None:
        self.file, self.data, self.lines = file, data, lines

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)


def load(path: str | Path, error: type[InputError] = InputError) -> Located:
    file = str(path)
    return loads(read_text(path, error), file, error)


def read_text(path: str | Path, error: type[InputError] = InputError) -> str:
    """A regular file's text, at most :data:`MAX_BYTES` (``/dev/zero`` would never end)."""
    file = str(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise error("not a regular file", file=file)
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise error(f"cannot read: {e.strerror}", file=file) from e
    if len(data) > MAX_BYTES:
        raise error(f"larger than {MAX_BYTES} bytes", file=file)
    if b"\0" in data:
        raise error("binary data, not text", file=file)
    try:
        return data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as e:
        raise error("not UTF-8 text", file=file) from e


def loads(text: str, file: str, error: type[InputError] = InputError) -> Located:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise error("nested too deeply to read", file=file) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(e, "problem", None) or str(e)
        raise error(f"malformed YAML: {problem}", file=file, line=line) from e
    lines: dict[Path_, int] = {}
    if node is None:
        return Located(file, None, lines)
    lines[()] = node.start_mark.line + 1
    budget = _Budget(file, error)
    try:
        data = _build(node, (), lines, file, error, budget)
    except RecursionError:
        raise error("nested too deeply to read", file=file) from None
    return Located(file, data, lines)


class _Budget:
    """Nodes built against nodes written: an alias may be used, not multiplied without end."""

    def __init__(self, file: str, error: type[InputError]) -> None:
        self.file, self.error = file, error
        self.built = 0
        self.seen: set[int] = set()

    def spend(self, node: yaml.Node) -> None:
        self.built += 1
        self.seen.add(id(node))
        if self.built > 10_000 and self.built > MAX_EXPANSION * len(self.seen):
            raise self.error(
                "YAML aliases expand too far (an alias bomb?): refused",
                file=self.file,
                line=node.start_mark.line + 1,
            )


def _merge_keys(
    node: yaml.MappingNode, budget: _Budget, file: str, error: type[InputError]
) -> list[tuple[yaml.Node, yaml.Node]]:
    """The mapping's pairs with YAML merge keys (``<<: *defaults``) resolved: the merged
    mapping's pairs first, the node's own after them, so its own keys win."""
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    own: list[tuple[yaml.Node, yaml.Node]] = []
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.tag == "tag:yaml.org,2002:merge":
            sources = v.value if isinstance(v, yaml.SequenceNode) else [v]
            for src in sources:
                if not isinstance(src, yaml.MappingNode):
                    raise error(
                        "a merge key (<<) takes a mapping or a list of mappings",
                        file=file,
                        line=src.start_mark.line + 1,
                    )
                budget.spend(src)
                merged += _merge_keys(src, budget, file, error)
        else:
            own.append((k, v))
    keys = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
    first: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for k, v in merged:  # with several mappings merged, the first that has a key wins
        if k.value not in keys:
            first.setdefault(k.value, (k, v))
    return [*first.values(), *own]


def _build(
    node: yaml.Node,
    path: Path_,
    lines: dict[Path_, int],
    file: str,
    error: type[InputError],
    budget: _Budget,
) -> Any:
    budget.spend(node)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for k, v in _merge_keys(node, budget, file, error):
            if not isinstance(k, yaml.ScalarNode):
                raise error(
                    "a key must be a plain value",
                    file=file,
                    line=k.start_mark.line + 1,
                    field=_dotted(path),
                )
            key = str(k.value)
            sub = (*path, key)
            if key in out:
                raise error(
                    "duplicate key", file=file, line=k.start_mark.line + 1, field=_dotted(sub)
                )
            lines[sub] = k.start_mark.line + 1
            out[key] = _build(v, sub, lines, file, error, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, v in enumerate(node.value):
            lines[(*path, i)] = v.start_mark.line + 1
            items.append(_build(v, (*path, i), lines, file, error, budget))
        return items
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise error(problem, file=file, line=node.start_mark.line + 1, field=_dotted(path)) from e
    except (ValueError, TypeError, AttributeError, OverflowError):
        # PyYAML's constructors fail this way on a tagged value they cannot read
        # (``!!timestamp not-a-date``, ``!!int ten``)
        tag = node.tag.removeprefix("tag:yaml.org,2002:")
        raise error(
            f"cannot read this value as !!{tag}",
            file=file,
            line=node.start_mark.line + 1,
            field=_dotted(path),
        ) from None
    finally:
        loader.dispose()


ANCHOR_PREFIX = "x-"


def without_anchor_keys(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without its top-level ``x-`` keys: the place to write YAML anchors that
    merge keys (``<<: *base``) take, as Compose files do; fleet reads nothing there."""
    return {k: v for k, v in data.items() if not str(k).startswith(ANCHOR_PREFIX)}


def _dotted(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def pydantic_error(
    located: Located,
    exc: Any,
    error: type[InputError],
    prefix: Path_ = (),
    allowed: dict[str, list[str]] | None = None,
) -> InputError:
    """The most specific pydantic validation error as an InputError with file, line, field;
    the document's other problems in its ``more``."""
    errs = [
        (_in_document(located.data, (*prefix, *e["loc"]), e["type"] == "missing"), e)
        for e in exc.errors()
    ]
    best = None
    for loc, err in errs:
        # longest path first; on a tie a misspelt key explains a "missing" one
        if (
            best is None
            or len(loc) > len(best[0])
            or (
                len(loc) == len(best[0])
                and err["type"] == "extra_forbidden"
                and best[1]["type"] != "extra_forbidden"
            )
        ):
            best = (loc, err)
    assert best is not None
    first = _one_error(located, *best, error, allowed)
    seen = {best[0]}
    for loc, err in errs:
        # a union's failing alternative (its path a prefix of another error's) is no
        # problem of its own: ``hosts`` is a mapping, not the CSV file name it might be
        if loc in seen or any(len(o) > len(loc) and o[: len(loc)] == loc for o, _ in errs):
            continue
        seen.add(loc)
        first.more.append(_one_error(located, loc, err, error, allowed))
    first.more.sort(key=lambda e: e.line or 0)
    return first


def _one_error(
    located: Located,
    loc: Path_,
    err: Any,
    error: type[InputError],
    allowed: dict[str, list[str]] | None,
) -> InputError:
    msg = plain_message(err)
    if err["type"] == "extra_forbidden" and (keys := _allowed_at(loc, allowed or {})):
        msg += f" (allowed: {', '.join(keys)})"
    return error(msg, file=located.file, line=located.line_of(loc), field=_dotted(loc))


def _allowed_at(loc: Path_, allowed: dict[str, list[str]]) -> list[str] | None:
    """The keys allowed beside ``loc``'s last: by its parent's name, or ``NAME.*`` for the
    entries of a mapping named NAME (``hosts.*``: what a host may have)."""
    if len(loc) > 2 and f"{loc[-3]}.*" in allowed:
        return allowed[f"{loc[-3]}.*"]
    if len(loc) > 1 and str(loc[-2]) in allowed:
        return allowed[str(loc[-2])]
    return allowed.get("") if len(loc) == 1 else None  # "": the document's own keys


# pydantic's own wording names fleet's classes ("a valid dictionary or instance of HostIn");
# a user reads what the file should hold instead.
_PLAIN = {
    "extra_forbidden": "unknown key",
    "missing": "required field is missing",
    "model_type": "expected a mapping (key: value lines)",
    "model_attributes_type": "expected a mapping (key: value lines)",
    "dict_type": "expected a mapping (key: value lines)",
    "list_type": "expected a list ([a, b] or '- ' lines)",
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "finite_number": "expected a finite number",
}


def plain_message(err: Any) -> str:
    """One pydantic error in the file's own terms, never pydantic's class names."""
    kind = err.get("type", "")
    if kind in _PLAIN:
        return _PLAIN[kind]
    if kind == "literal_error":
        expected = (err.get("ctx") or {}).get("expected", "")
        return f"expected {expected}" if expected else "not an allowed value"
    if kind in ("value_error", "assertion_error"):
        return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind.startswith(("greater_than", "less_than")):
        return str(err["msg"]).lower()
    return str(err["msg"]).replace("Input should be", "expected")


def _in_document(data: Any, loc: tuple[Any, ...], missing: bool = True) -> Path_:
    """``loc`` without the parts pydantic adds (union branches, validator names)."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = node[part]
            out.append(part)
        elif missing and last and isinstance(node, dict) and isinstance(part, str):
            out.append(part)  # a missing field: named, though not in the file
    return tuple(out)


dotted = _dotted
