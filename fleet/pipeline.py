"""inventory -> collect -> parse -> check: the engine behind `fleet sweep` and `fleet audit`,
with the one per-device task boundary both share (:func:`device_result`).

Storing and reporting are the caller's next steps (see fleet.app)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from fleet import check, profiles
from fleet.check.golden import Golden
from fleet.collect.crawler import CrawlOptions, Fetched, crawl, crawl_into
from fleet.errors import ConfigFileError, DeviceError, ProtocolError, bug_text
from fleet.inventory import Host
from fleet.model import Collected, DeviceResult, DeviceState, Snapshot
from fleet.redact import redact_params, redact_text


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wanted_keys(golden: Golden | None) -> dict[str, list[str]]:
    """The raw vendor parameters golden rules name, for profiles that fetch by name."""
    keys = [
        r.key[4:] for r in (golden.rules if golden else []) if r.key and r.key.startswith("raw:")
    ]
    return {name: keys for name in profiles.registry()}


def finished(
    kind: str, started: str, t0: float, golden: Golden, results: list[DeviceResult], tag: str | None
) -> Snapshot:
    """The snapshot of a sweep or audit begun at ``started`` (``t0`` on the monotonic clock),
    its ``results`` checked against ``golden``: how every kind of run ends the same way."""
    return Snapshot(
        kind=kind,
        started_at=started,
        finished_at=now(),
        golden=golden.name,
        results=results,
        tag=tag,
        duration_s=round(time.monotonic() - t0, 3),
        numbers=list(golden.emergency.numbers),
    )


def to_result(
    host: Host,
    collected: Collected | None,
    error: DeviceError | None,
    elapsed: float = 0.0,
    attempts: int = 0,
) -> DeviceResult:
    """Redact and normalise one device's configuration, with no checks (`fleet sbc route`)."""
    return device_result(
        host, None, collected=collected, error=error, elapsed=elapsed, attempts=attempts
    )


def device_result(
    host: Host,
    golden: Golden | None,
    *,
    collected: Collected | None = None,
    error: DeviceError | None = None,
    read: Callable[[], Collected] | None = None,
    elapsed: float = 0.0,
    attempts: int = 0,
    from_file: bool = False,
) -> DeviceResult:
    """The per-device task boundary, one for sweep and audit: (file read →) redact → parse →
    device checks. Whatever goes wrong in it, a profile's bug included, becomes this device's
    ``error`` with a ``coverage.error`` finding naming the stage; the run goes on."""
    res = DeviceResult(
        id=host.id,
        site=host.site,
        role=host.role,
        profile=host.profile,
        address=host.address,
        status="audited",
        elapsed_s=round(elapsed, 3),
        attempts=attempts,
        mac=host.mac,
    )
    stage = "read"
    try:
        if read is not None:
            try:
                collected = read()
            except ConfigFileError as e:
                error = ProtocolError(str(e))
            except DeviceError as e:
                error = e
        if collected is not None:
            stage = "parse"
            error = _parse(res, host, collected) or error
        if res.state is None:
            res.status = (error or DeviceError("nothing was read")).status
            res.error = redact_text(str(error or "nothing was read"))
        if golden is not None:
            stage = "check"
            check.check_device(res, golden, host.facts(), from_file)
    except Exception as e:  # a bug on one device must not stop the run, nor pass silently
        res.state, res.status = None, "error"
        res.error = bug_text(stage, host.profile, e)
        if golden is not None:
            check.check_device(res, golden, host.facts(), from_file)
    return res


# The longest value any sample or conformance file holds is about 5,000 characters (an
# AudioCodes ini table row). Far longer is no configuration a device accepts, and the engines
# fed one (a dial plan of 3.5 million brackets) would spend minutes or gigabytes on it.
MAX_VALUE = 64 * 1024


def _oversized(collected: Collected) -> ProtocolError | None:
    where = ", ".join(collected.sources)
    where = f"{where}: " if len(collected.sources) < 2 else f"one of {where}: "
    for key, value in collected.params.items():
        if len(key) > MAX_VALUE:  # not quoted: a name that long is a value run into it
            return ProtocolError(
                f"{where}a parameter name of {len(key):,} characters, over the {MAX_VALUE:,} "
                "fleet reads; fleet did not evaluate this device"
            )
        if len(value) > MAX_VALUE:
            return ProtocolError(
                f"{where}{key}: a value of {len(value):,} characters, over the {MAX_VALUE:,} "
                "fleet reads; fleet did not evaluate this device"
            )
    return None


# Dial-plan engines are not linear in every shape a plan can take (a Grandstream plan of
# 20,000 nested "(" took 64 s and 3 GB), so a plan far over any vendor's own limit is not
# evaluated. The limits found: Poly SIP 2.1 dialplan.digitmap "String is limited to 768
# characters and 30 segments" (Technical Bulletin, SoundPoint IP SIP 2.1, dialplan.digitmap,
# https://manualsdump.com/en/manuals/polycom-version_2.0.3b/283616/26); other vendors' are
# UNCONFIRMED, the longest plan in any sample or conformance file is under 200 characters.
MAX_DIALPLAN = 4096


def _plan_too_long(state: DeviceState, sources: list[str]) -> ProtocolError | None:
    plans = [
        ("the device", state.dialplan),
        *((f"line {ln.index}", ln.dialplan) for ln in state.lines),
    ]
    for where, plan in plans:
        if plan is None:
            continue
        size = max([len(plan.text), *(len(v) for v in plan.options.values())])
        if size > MAX_DIALPLAN:
            src = f"{', '.join(sources)}: " if sources else ""
            return ProtocolError(
                f"{src}{plan.source}: the dial plan of {where} is {size:,} characters, over the "
                f"{MAX_DIALPLAN:,} fleet evaluates (Poly SIP 2.1 allows 768); fleet did not "
                "evaluate this device"
            )
    return None


def _parse(res: DeviceResult, host: Host, collected: Collected) -> DeviceError | None:
    prof = profiles.get(host.profile)
    if too_long := _oversized(collected):
        return too_long
    collected.params = redact_params(collected.params, prof)
    try:
        assert prof.to_state is not None
        state = prof.to_state(collected)
    except ProtocolError as e:
        return ProtocolError(f"configuration could not be read: {e}")
    except (ValueError, KeyError) as e:
        # Python's own text ("invalid literal for int() ...: 'hunter2'") may quote a value
        return ProtocolError(f"configuration could not be read: {bug_text('parse', prof.name, e)}")
    if too_long := _plan_too_long(state, collected.sources):
        return too_long
    state.raw = collected.params
    state.notices = [*collected.notices, *state.notices]
    for n in state.notices:
        n.message = redact_text(n.message)
    res.state = state
    return None


async def sweep(
    hosts: list[Host],
    golden: Golden,
    opts: CrawlOptions,
    *,
    progress: bool | None = None,
    tag: str | None = None,
    path_sbcs: list[Host] | None = None,
    on_pulled: Callable[[list[str]], None] | None = None,
    on_done: Callable[[Fetched], None] | None = None,
    stage: Callable[[DeviceResult], None] | None = None,
) -> Snapshot:
    """``path_sbcs``: the inventory's SBCs a selection left out. Those the selected phones'
    emergency calls go through are read too (``on_pulled`` hears which): a path not walked
    must not read as proven. The rest stay out, and a path through one is unproven.
    ``on_done`` hears each of ``hosts`` as it is read (the CLI's progress bar); ``progress``
    is accepted for old callers and ignored: the engine draws nothing itself.

    ``stage`` (the store's :meth:`~fleet.store.Store.stage`): each of ``hosts`` is parsed and
    checked as it arrives and handed to it, then its raw configuration is dropped: what the
    sweep keeps per device is the normalised state and the findings, which the fleet-level
    checks and the report read. Without it every result is made once all are read."""
    del progress
    started, t0 = now(), time.monotonic()
    if stage is None:
        fetched = await crawl(hosts, wanted_keys(golden), opts, on_done=on_done)
        results = [fetched_result(f, golden) for f in fetched]
    else:
        keep = _staged(golden, stage)
        results = await crawl_into(hosts, wanted_keys(golden), opts, keep, on_done)
    spare = list(path_sbcs or [])
    pulled: list[DeviceResult] = []
    if spare:
        pulled, spare = await _pull_path_sbcs(results, spare, golden, opts)
        if pulled and on_pulled:
            on_pulled([r.id for r in pulled])
    every = [*hosts, *(h for h in path_sbcs or [] if h.id in {r.id for r in pulled})]
    outside = {h.hostname: h.id for h in spare}
    results += pulled
    check.check_fleet(
        results, golden, {h.id: h.hostname for h in every}, outside, {h.id: h.notify for h in every}
    )
    return finished("sweep", started, t0, golden, results, tag)


# Off only for the memory bench's "before" (bench/sweep_memory.py --old-loader).
SHARE_STRINGS = True
_SHARED_MAX = 65_536  # distinct strings kept to share; the unique ones (MACs, users) fill it


def _staged(
    golden: Golden, stage: Callable[[DeviceResult], None]
) -> Callable[[Fetched], DeviceResult]:
    strings: dict[str, str] = {}

    def keep(f: Fetched) -> DeviceResult:
        r = fetched_result(f, golden)
        stage(r)
        if r.state is not None:
            r.state.raw = {}  # stored by ``stage``; golden rules on raw keys have run
            if SHARE_STRINGS:
                _share_state(r, strings)
        return r

    return keep


def _share_state(r: DeviceResult, strings: dict[str, str]) -> None:
    """Each string a kept device holds (dial plans, routes, sources, firmware, messages)
    replaced by the sweep's one copy of it: every device parses its own, and a site's
    phones hold the same ones (3.8 KB per kept phone, 1.4 KB shared). The values are
    equal, so nothing reads differently. An SBC's routing data is left as it is (profiles
    key typed caches on it, and SBCs are few)."""
    assert r.state is not None
    for f in dataclasses.fields(r.state):
        if f.name not in ("sbc", "raw"):
            setattr(r.state, f.name, _share(getattr(r.state, f.name), strings))
    _share(r.findings, strings)


def _share(obj: Any, strings: dict[str, str]) -> Any:
    if isinstance(obj, str):
        kept = strings.get(obj)
        if kept is None and len(strings) < _SHARED_MAX:
            strings[obj] = obj
        return obj if kept is None else kept
    if isinstance(obj, list):
        obj[:] = [_share(v, strings) for v in obj]
    elif isinstance(obj, dict):
        items = [(_share(k, strings), _share(v, strings)) for k, v in obj.items()]
        obj.clear()
        obj.update(items)
    elif _mutable_dataclass(obj):
        for f in dataclasses.fields(obj):
            setattr(obj, f.name, _share(getattr(obj, f.name), strings))
    return obj


def _mutable_dataclass(obj: Any) -> bool:
    params = getattr(type(obj), "__dataclass_params__", None)
    return params is not None and not params.frozen


def fetched_result(f: Fetched, golden: Golden) -> DeviceResult:
    """One crawled host's result: parsed and checked, or the error it ended in."""
    return device_result(
        f.host,
        golden,
        collected=f.collected,
        error=f.error,
        elapsed=f.elapsed_s,
        attempts=f.attempts,
    )


def _route_hosts(results: list[DeviceResult]) -> set[str]:
    """The servers the audited phones send emergency calls to (host part, lower case)."""
    from fleet.check.emergency import split_hostport

    out = set()
    for r in results:
        if r.role != "phone" or r.state is None:
            continue
        for ln in r.state.lines:
            for e in ln.emergency if ln.enabled else []:
                if e.route:
                    out.add(split_hostport(e.route)[0])
            if ln.enabled and not r.state.emergency_setting:
                for server in (ln.outbound_proxy, ln.registrar):
                    if server:
                        out.add(split_hostport(server)[0])
    return out


def _owns(r: DeviceResult, hostname: str, wanted: set[str]) -> bool:
    mine = {hostname.lower()}
    if r.state is not None and r.state.sbc is not None:
        from fleet.check.emergency import split_hostport

        mine |= {split_hostport(a)[0] for a in r.state.sbc.addresses}
    return bool(mine & wanted)


async def _pull_path_sbcs(
    results: list[DeviceResult], spare: list[Host], golden: Golden, opts: CrawlOptions
) -> tuple[list[DeviceResult], list[Host]]:
    """Read the left-out SBCs on the phones' paths: first those whose inventory address is a
    phone's server; if some server is still nobody's, the rest, keeping only the SBCs that
    turn out to own one (an SBC's own SIP addresses are known once it is read)."""
    wanted = _route_hosts(results)
    for r in results:
        if r.role == "sbc":
            wanted -= {a for a in wanted if _owns(r, "", {a})}
    first = [h for h in spare if h.hostname.lower() in wanted]
    rest = [h for h in spare if h not in first]
    got = [fetched_result(f, golden) for f in await crawl(first, wanted_keys(golden), opts)]
    owned = {
        a for r, h in zip(got, first, strict=True) for a in wanted if _owns(r, h.hostname, {a})
    }
    if wanted - owned and rest:
        more = [fetched_result(f, golden) for f in await crawl(rest, wanted_keys(golden), opts)]
        keep = [
            (r, h) for r, h in zip(more, rest, strict=True) if _owns(r, h.hostname, wanted - owned)
        ]
        got += [r for r, _ in keep]
        first += [h for _, h in keep]
    return got, [h for h in spare if h not in first]
