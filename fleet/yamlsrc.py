"""YAML with line numbers, so a bad value can be reported as file:line: field.

Hostile input is refused in bounded time and memory: a file that is not a regular file or
is larger than :data:`MAX_BYTES`, alias expansion past :data:`MAX_EXPANSION` times the nodes
written (billion laughs), nesting deeper than :data:`MAX_DEPTH`.

The document is built into plain data straight from the parser's events (libyaml's, when
PyYAML has it), never as a tree of nodes: the tree cost about ten times the data it held
(100 MB for a 10,000-host inventory). Lines are not kept either: the first ``line_of`` (an
error being reported) reads the text again, the same way, recording them."""

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
    """Parsed YAML plus the line of every key path in it (``lines``: given, or read from
    ``text`` again the first time they are asked for)."""

    def __init__(
        self,
        file: str,
        data: Any,
        lines: dict[Path_, int] | None,
        text: str | None = None,
        error: type[InputError] = InputError,
    ) -> None:
        self.file, self.data = file, data
        self._lines, self._text, self._error = lines, text, error

    @property
    def lines(self) -> dict[Path_, int]:
        if self._lines is None:
            # the same text read the same way cannot fail now: it did not the first time
            self._lines = _events(self._text or "", self.file, self._error, record=True)[1]
            self._text = None
        assert self._lines is not None
        return self._lines

    @lines.setter
    def lines(self, value: dict[Path_, int]) -> None:
        self._lines = value

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        lines = self.lines
        p = tuple(path)
        while p:
            if p in lines:
                return lines[p]
            p = p[:-1]
        return lines.get((), None)


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
            # read what fstat says (not a MAX_BYTES buffer each time), then what it grew by
            size = os.fstat(f.fileno()).st_size
            data = f.read(min(size, MAX_BYTES) + 1)
            if len(data) > size:
                data += f.read(MAX_BYTES + 1 - len(data))
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


# "nodes": the composer before the event builder, whole node tree in memory. Only the
# benches set it (bench/inventory_load.py, bench/sweep_memory.py --old-loader), to measure
# against it in the same run.
LOADER = "events"


def loads(text: str, file: str, error: type[InputError] = InputError) -> Located:
    if LOADER == "nodes":
        return _loads_nodes(text, file, error)
    data, _ = _events(text, file, error, record=False)
    return Located(file, data, None, text, error)


def _malformed(e: yaml.YAMLError, file: str, error: type[InputError]) -> InputError:
    """The parser's complaint as fleet's error, at the line the parser names."""
    mark = getattr(e, "problem_mark", None)
    line = mark.line + 1 if mark else None
    problem = getattr(e, "problem", None) or str(e)
    if "nesting depth" in problem:  # libyaml's own limit, deeper than MAX_DEPTH in flow
        return error("nested too deeply to read", file=file, line=line)
    return error(f"malformed YAML: {problem}", file=file, line=line)


def _loads_nodes(text: str, file: str, error: type[InputError] = InputError) -> Located:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise error("nested too deeply to read", file=file) from None
    except yaml.YAMLError as e:
        raise _malformed(e, file, error) from e
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


MAX_DEPTH = 400  # collections inside collections; the node composer gave up near 490
_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"
_Parser: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, when PyYAML has it
_MERGE_ONLY = "a merge key (<<) takes a mapping or a list of mappings"


def _events(
    text: str, file: str, error: type[InputError], *, record: bool
) -> tuple[Any, dict[Path_, int] | None]:
    """The document's data (and, with ``record``, the line of every key path), built from
    the parser's events with the composer's meaning: aliases copied, merge keys resolved."""
    builder = _Builder(file, error, record)
    parser = _Parser(text)
    try:
        builder.document(parser)
    except RecursionError:
        raise error("nested too deeply to read", file=file) from None
    except yaml.YAMLError as e:
        raise _malformed(e, file, error) from e
    finally:
        parser.dispose()
    return builder.result, builder.lines if record else None


class _Anchor:
    """What an alias to an anchor gives: a fresh copy of its value, and the lines below it."""

    __slots__ = ("done", "kind", "line", "raw", "rel", "size", "tag", "value")

    def __init__(self, kind: str, line: int, raw: str = "", tag: str = "") -> None:
        self.kind, self.line, self.raw, self.tag = kind, line, raw, tag
        self.value: Any = None
        self.size = 1  # nodes one copy builds, for the alias budget
        self.rel: dict[Path_, int] = {}
        self.done = kind == "scalar"


class _Frame:
    """An open collection. ``rel`` is its path within ``sink``, the line record it writes
    to: the document's, or its own when it is anchored or merged (lines relative to it)."""

    __slots__ = (
        "anchor",
        "at",
        "built0",
        "key",
        "key_line",
        "kind",
        "merges",
        "merging",
        "path",
        "rel",
        "sink",
        "skip",
        "source",
        "value",
    )

    def __init__(self, kind: str, path: Path_, at: Path_, sink: dict[Path_, int]) -> None:
        self.kind, self.path, self.at, self.rel, self.sink = kind, path, at, at, sink
        self.value: Any = {} if kind == "map" else []
        self.anchor: _Anchor | None = None
        self.built0 = 0
        self.key: str | None = None  # a mapping's key waiting for its value
        self.key_line = 0
        self.skip = False  # a merged mapping's repeated key: the first one wins
        self.merging = False  # the key waiting for its value is a merge key (<<)
        self.merges: list[tuple[dict[str, Any], dict[Path_, int], bool]] = []
        self.source = False  # the value of a merge key: merged into the mapping below it


class _Builder:
    def __init__(self, file: str, error: type[InputError], record: bool) -> None:
        self.file, self.error, self.record = file, error, record
        self.stack: list[_Frame] = []
        self.anchors: dict[str, _Anchor] = {}
        self.lines: dict[Path_, int] = {}
        self.result: Any = None
        self.built = self.written = 0
        self.loader = yaml.SafeLoader("")  # its resolver and constructors, for scalars
        # repeated short strings (keys, sites, groups, models) kept once, not once per host
        self.strings: dict[str, str] = {}

    def document(self, parser: Any) -> None:
        parser.get_event()  # stream start
        if parser.check_event(yaml.StreamEndEvent):
            return
        parser.get_event()  # document start
        step: dict[type, Any] = {
            yaml.ScalarEvent: self.scalar,
            yaml.AliasEvent: self.alias,
            yaml.MappingStartEvent: self.open,
            yaml.SequenceStartEvent: self.open,
            yaml.MappingEndEvent: self.close,
            yaml.SequenceEndEvent: self.close,
        }
        while not parser.check_event(yaml.DocumentEndEvent):
            event = parser.get_event()
            step[type(event)](event)
        parser.get_event()
        if not parser.check_event(yaml.StreamEndEvent):
            raise yaml.composer.ComposerError(
                "expected a single document in the stream",
                None,
                "but found another document",
                parser.get_event().start_mark,
            )

    def fail(self, msg: str, line: int, path: Path_ | None = None) -> InputError:
        fld = None if path is None else _dotted(path)
        return self.error(msg, file=self.file, line=line, field=fld)

    def intern(self, s: str) -> str:
        if len(s) > 64:
            return s
        kept = self.strings.get(s)
        if kept is None:
            if len(self.strings) < 4096:  # ids, addresses, MACs are unique: not worth it
                self.strings[s] = s
            return s
        return kept

    # -- where the next node goes ------------------------------------------------------

    def position(self) -> tuple[_Frame | None, Path_, Path_]:
        """The frame the next value goes into, its path in the document, in the sink."""
        if not self.stack:
            return None, (), ()
        f = self.stack[-1]
        if f.kind == "seq":
            i = len(f.value)
            return f, (*f.path, i), (*f.rel, i)
        if f.kind == "map" and f.key is not None and not f.merging:
            return f, (*f.path, f.key), (*f.rel, f.key)
        return f, f.path, f.rel

    def key_wanted(self) -> bool:
        if not self.stack:
            return False
        f = self.stack[-1]
        return f.kind == "map" and f.key is None and not f.merging

    def merge_wanted(self) -> _Frame | None:
        """The mapping a merge source goes into, when the next node is one."""
        if not self.stack:
            return None
        f = self.stack[-1]
        if f.kind == "merge-list":
            return self.stack[-2]
        return f if f.kind == "map" and f.merging else None

    def spend(self, n: int, line: int) -> None:
        self.built += n
        if self.built > 10_000 and self.built > MAX_EXPANSION * self.written:
            raise self.fail("YAML aliases expand too far (an alias bomb?): refused", line)

    def register(self, name: str | None, anchor: _Anchor) -> None:
        if name is None:
            return
        if name in self.anchors:
            first = self.anchors[name].line
            raise self.fail(
                f"malformed YAML: found duplicate anchor {name!r} (first at line {first})",
                anchor.line,
            )
        self.anchors[name] = anchor

    # -- events ------------------------------------------------------------------------

    def scalar(self, ev: Any) -> None:
        line = ev.start_mark.line + 1
        if self.key_wanted():
            self.key(ev, line)
            return
        into = self.merge_wanted()
        if into is not None:
            raise self.fail(_MERGE_ONLY, line)
        _, path, _ = self.position()
        self.written += 1
        self.spend(1, line)
        value = self.construct(ev, path, line)
        if ev.anchor is not None:
            a = _Anchor("scalar", line, ev.value, _MERGE if _is_merge(ev) else "")
            a.value = value
            self.register(ev.anchor, a)
        self.deliver(value, line)

    def key(self, ev: Any, line: int) -> None:
        f = self.stack[-1]
        merge = _is_merge(ev)
        if ev.anchor is not None:
            a = _Anchor("scalar", line, ev.value, _MERGE if merge else "")
            a.value = self.construct(ev, f.path, line)
            self.register(ev.anchor, a)
        self.set_key(f, ev.value, line, merge)

    def set_key(self, f: _Frame, raw: str, line: int, merge: bool) -> None:
        if merge:
            f.merging = True
            return
        key = self.intern(str(raw))
        f.skip = key in f.value
        if f.skip and not f.source:
            raise self.fail("duplicate key", line, (*f.path, key))
        f.key, f.key_line = key, line
        if self.record and not f.skip:
            f.sink[(*f.rel, key)] = line

    def construct(self, ev: Any, path: Path_, line: int) -> Any:
        tag = ev.tag
        if tag is None or tag == "!":
            if not ev.implicit[0]:
                return self.intern(ev.value)  # quoted: text, whatever it looks like
            tag = self.loader.resolve(yaml.ScalarNode, ev.value, (True, False))
        if tag == _STR:
            return self.intern(ev.value)
        node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style)
        return _construct(self.loader, node, path, line, self.fail)

    def alias(self, ev: Any) -> None:
        line = ev.start_mark.line + 1
        a = self.anchors.get(ev.anchor)
        if a is None:
            raise self.fail(f"malformed YAML: found undefined alias {ev.anchor!r}", line)
        if not a.done:
            # an alias inside the collection it names: the composer recursed without end
            raise self.fail("nested too deeply to read: an alias inside what it names", line)
        if self.key_wanted():
            if a.kind != "scalar":
                raise self.fail("a key must be a plain value", a.line, self.stack[-1].path)
            self.set_key(self.stack[-1], a.raw, a.line, a.tag == _MERGE)
            return
        self.spend(a.size, line)
        into = self.merge_wanted()
        if into is not None:
            if a.kind != "map":
                raise self.fail(_MERGE_ONLY, a.line)
            into.merges.append((a.value, a.rel, True))
            self.after_merge()
            return
        f, _, rel = self.position()
        if self.record and f is not None:
            if f.kind == "seq":
                f.sink[rel] = a.line
            for p, ln in a.rel.items():
                f.sink[(*rel, *p)] = ln
        self.deliver(_copy(a.value), a.line)

    def open(self, ev: Any) -> None:
        line = ev.start_mark.line + 1
        kind = "map" if isinstance(ev, yaml.MappingStartEvent) else "seq"
        if self.key_wanted():
            raise self.fail("a key must be a plain value", line, self.stack[-1].path)
        if len(self.stack) >= MAX_DEPTH:
            raise self.fail("nested too deeply to read", line)
        into = self.merge_wanted()
        parent, path, at = self.position()
        if into is not None and kind == "seq" and parent is into:
            frame = _Frame("merge-list", into.path, at, into.sink)
            self.stack.append(frame)
            return
        if into is not None and kind == "seq":
            raise self.fail(_MERGE_ONLY, line)
        self.written += 1
        self.spend(1, line)
        source = into is not None
        own = source or ev.anchor is not None or parent is None
        sink = self.lines if parent is None else ({} if own else parent.sink)
        frame = _Frame(kind, into.path if into is not None else path, at, sink)
        if own:
            frame.rel = ()
        frame.source = source
        frame.built0 = self.built - 1
        if ev.anchor is not None:
            frame.anchor = _Anchor(kind, line)
            self.register(ev.anchor, frame.anchor)
        if self.record:
            if parent is None:
                self.lines[()] = line
            elif parent.kind == "seq":
                parent.sink[at] = line
        self.stack.append(frame)

    def close(self, _ev: yaml.Event) -> None:
        f = self.stack.pop()
        if f.kind == "merge-list":
            self.after_merge()
            return
        value = self.merged(f) if f.kind == "map" and f.merges else f.value
        if f.anchor is not None:
            f.anchor.value, f.anchor.size, f.anchor.done = value, self.built - f.built0, True
            f.anchor.rel = f.sink
        if f.source:
            into = self.merge_wanted()
            assert into is not None
            into.merges.append((value, f.sink, False))
            self.after_merge()
            return
        parent = self.stack[-1] if self.stack else None
        if self.record and parent is not None and f.sink is not parent.sink:
            for p, ln in f.sink.items():
                parent.sink[(*f.at, *p)] = ln
        self.deliver(value, 0)

    def after_merge(self) -> None:
        f = self.stack[-1]
        if f.kind == "map":
            f.key, f.merging = None, False

    def deliver(self, value: Any, line: int) -> None:
        if not self.stack:
            self.result = value
            if self.record and line:
                self.lines[()] = line
            return
        f = self.stack[-1]
        if f.kind == "seq":
            if self.record and line:
                f.sink.setdefault((*f.rel, len(f.value)), line)
            f.value.append(value)
            return
        if not f.skip:
            f.value[f.key] = value
        f.key, f.skip = None, False

    def merged(self, f: _Frame) -> dict[str, Any]:
        """A mapping's own keys after those merged into it: the first source with a key
        gives it, and its own keys win (what the composer's merge gave)."""
        own = f.value
        out: dict[str, Any] = {}
        taken: list[set[str]] = []
        for src, _, copy in f.merges:
            keys = set()
            for k, v in src.items():
                if k not in own and k not in out:
                    out[k] = _copy(v) if copy else v
                    keys.add(k)
            taken.append(keys)
        if self.record:
            for (_, rel, _), keys in zip(f.merges, taken, strict=True):
                for p, ln in rel.items():
                    if p and p[0] in keys:
                        f.sink[(*f.rel, *p)] = ln
        out.update(own)
        return out


def _is_merge(ev: Any) -> bool:
    """A merge key: ``<<`` written plain (quoted, it is text), or tagged ``!!merge``."""
    if ev.tag == _MERGE:
        return True
    return ev.tag in (None, "!") and bool(ev.implicit[0]) and ev.value == "<<"


def _construct(loader: Any, node: yaml.ScalarNode, path: Path_, line: int, fail: Any) -> Any:
    """A tagged or implicitly typed scalar (int, bool, null, timestamp...) as PyYAML's safe
    constructors read it; anything they cannot read, named."""
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise fail(problem, line, path) from e
    except (ValueError, TypeError, AttributeError, OverflowError):
        tag = node.tag.removeprefix("tag:yaml.org,2002:")
        raise fail(f"cannot read this value as !!{tag}", line, path) from None
    finally:
        loader.constructed_objects.clear()
        loader.recursive_objects.clear()


def _copy(value: Any) -> Any:
    """What a second build of an aliased node gave: new mappings and lists, same scalars."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


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
