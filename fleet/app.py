"""How a run ends, one way for sweep, audit, rollout verify, report and the demo: firmware
drift against the last snapshot of the same kind, staleness, save, emit, publish (email,
metrics). The use cases in fleet.commands produce a snapshot; this module finishes it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from fleet import drift, report
from fleet.check import staleness
from fleet.errors import InputError
from fleet.model import SEVERITY_RANK, Snapshot
from fleet.pipeline import now
from fleet.report import context as report_context
from fleet.report import csv_report, metrics
from fleet.report.context import ReportContext
from fleet.report.email import EmailOptions
from fleet.store import Store

# Snapshot ids this process stored, so a failure after the save says so (exit 2 all the same).
STORED: list[int] = []
# Signals that stopped this run (set by fleet.cli): a run stopped saves nothing after it.
STOPPED: list[int] = []


def stored_note() -> str:
    """What to add to a failure's message when this run stored a snapshot before it."""
    return f" (snapshot {STORED[-1]} was stored before this failed)" if STORED else ""


def interrupted_note() -> str:
    return (
        f"snapshot {STORED[-1]} was stored before it"
        if STORED
        else "nothing of this run was stored"
    )


@dataclass(slots=True)
class Publish:
    """Where a run's results go besides stdout: email, metrics, staleness."""

    email: EmailOptions | None = None
    metrics: Path | None = None
    max_age_s: float | None = None


@dataclass(slots=True, frozen=True)
class Output:
    """The report on stdout or in a file, and the severity that makes the exit code 1."""

    fmt: str = "table"
    path: Path | None = None
    fail_on: str = "high"
    show_all: bool = False  # --all: the table lists every device, the ok ones too
    numbers: bool = False  # `fleet report`: the table ends with each site's numbers' history


def writable(path: Path | None, option: str, *, store: bool = False) -> None:
    """Fail before any work when ``path`` cannot be written: its folder is missing or it is
    a folder itself. Exit 2 naming the path, not a traceback after a long sweep."""
    if path is None:
        return
    if path.is_dir():
        raise InputError("is a folder, not a file", file=str(path), field=option)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"folder {parent} does not exist", file=str(path), field=option)
    if not os.access(parent, os.W_OK) and not (store and path.exists()):
        raise InputError(f"folder {parent} is not writable", file=str(path), field=option)


def check_writable(store: Path | None, out: Output, pub: Publish) -> None:
    """Every path the run will write, checked before the run starts."""
    writable(store, "--store", store=True)
    writable(out.path, "--output")
    writable(pub.metrics, "--metrics")
    if pub.metrics is not None and pub.metrics.exists() and not pub.metrics.is_file():
        # metrics replace their file whole (a temporary file renamed over it): over a device
        # or a FIFO that would replace the device itself
        raise InputError("is not a regular file", file=str(pub.metrics), field="--metrics")


def exit_code(snap: Snapshot, fail_on: str) -> int:
    limit = SEVERITY_RANK[fail_on]
    bad = any(SEVERITY_RANK[f.severity] <= limit for r in snap.results for f in r.findings)
    return 1 if bad else 0


def settle(
    st: Store, snap: Snapshot, *, drift_kind: str | None, max_age_s: float | None, save: bool
) -> Snapshot:
    """Drift, staleness, save: what the stored snapshot holds. ``drift_kind``: compare
    firmware with the newest stored snapshot of that kind (a sweep with the last sweep)."""
    if drift_kind is not None:
        # like with like: the last snapshot of the same scope, else the last of the kind
        prev_id = st.previous_in_scope(drift.snapshot_scope(snap)) or st.previous(kind=drift_kind)
        # firmware is all it compares: the previous fleet's states are not parsed for it
        drift.firmware_drift(snap, st.load_light(prev_id) if prev_id else None)
    if max_age_s is not None:
        staleness.mark_stale(snap, st.last_proven(), max_age_s)
    if save:
        if STOPPED:  # the signal came as the sweep's async part ended: stop before the save
            raise KeyboardInterrupt
        STORED.append(st.save(snap))
    return snap


def finish(
    st: Store,
    snap: Snapshot,
    out: Output,
    pub: Publish,
    *,
    drift_kind: str | None,
    save: bool = True,
) -> int:
    """Settle the snapshot, emit the report, publish it; the run's exit code."""
    settle(st, snap, drift_kind=drift_kind, max_age_s=pub.max_age_s, save=save)
    emit(snap, out, st)
    publish(st, snap, pub)
    return exit_code(snap, out.fail_on)


def context_for(st: Store, snap: Snapshot) -> ReportContext:
    st.restore_raw(snap)  # a streamed sweep's raw configurations are in the store only
    # drift and trend compare like with like: a --select site=lon sweep is no dip in the whole
    scope = drift.snapshot_scope(snap)
    prev_id = st.previous_in_scope(scope, before=snap.id)
    same = {i for i, sc in st.scopes().items() if sc == scope}
    history = [
        h for h in st.snapshots() if h["id"] in same and (snap.id is None or h["id"] <= snap.id)
    ][-30:]
    ctx = report_context.build(
        snap,
        st.load(prev_id) if prev_id else None,
        history,
        staleness.site_unverified_since(snap, st.last_proven()),
        device_last_proven=st.last_proven_until(snap.id),
    )
    ctx.numbers = number_rows(st, snap.id)
    return ctx


def number_rows(st: Store, until: int | None) -> list[report_context.NumberRow]:
    """Per site and number: last proven, and the longest window open (fleet.timeline), as
    the store stood at snapshot ``until``."""
    from fleet import timeline

    ev = st.evidence()
    snaps = [s for s in ev.snapshots if until is None or s[0] <= until]
    devices = [d for d in ev.devices if until is None or d[0] <= until]
    findings = [f for f in ev.findings if until is None or f[0] <= until]
    last, _now = timeline.site_proofs(snaps, devices, findings)
    t = timeline.build(snaps, devices, findings)
    open_by: dict[tuple[str, str], timeline.Window] = {}
    for w in t.sites:
        key = (w.site or "-", w.number)
        if w.open and (key not in open_by or w.first_failed.at < open_by[key].first_failed.at):
            open_by[key] = w
    rows = []
    for (site, number), at in sorted(last.items()):
        found = open_by.get((site, number))
        rows.append(
            report_context.NumberRow(
                site,
                number,
                at,
                found.first_failed.at if found else None,
                found.last_proven.at if found and found.last_proven else None,
                len(found.devices) if found else 0,
            )
        )
    return rows


def render(snap: Snapshot, out: Output, st: Store) -> str:
    if out.fmt == "html":
        from fleet.report import html

        return html.render(context_for(st, snap))
    if out.fmt == "csv":
        return csv_report.render(snap)
    text = report.render(
        snap,
        out.fmt,
        color=False if out.path else None,
        fail_on=out.fail_on,
        show_all=out.show_all,
    )
    if out.fmt == "table" and out.numbers:
        text += numbers_text(number_rows(st, snap.id))
    return text


def numbers_text(rows: list[report_context.NumberRow]) -> str:
    """Per site and number, from the stored history: the longest open window, else when it
    was last proven at every device of the site."""
    if not rows:
        return ""
    import os
    import shutil
    import textwrap

    cols = os.environ.get("COLUMNS", "")
    width = int(cols) if cols.isdigit() else shutil.get_terminal_size((160, 24)).columns
    out = ["", "Emergency numbers by site (`fleet timeline` for the windows and their evidence):"]
    for n in rows:
        if n.open_since:
            devices = f"{n.open_devices} device{'s' if n.open_devices != 1 else ''}"
            before = n.open_last_proven or "never in the stored history"
            out.append(
                f"  {n.site} {n.number}: broken on {devices} since {n.open_since} "
                f"(last proven {before})"
            )
        else:
            when = n.last_proven or "never in the stored history"
            out.append(f"  {n.site} {n.number}: last proven {when}")
    wrapped = [
        textwrap.fill(line, width, subsequent_indent="      ") if line else line for line in out
    ]
    return "\n".join(wrapped) + "\n"


def emit(snap: Snapshot, out: Output, st: Store) -> None:
    write(render(snap, out, st), out.path, said="report written to")


def _naming(e: OSError, path: Path) -> OSError:
    """``e`` naming ``path``: a write's error carries no file name of its own."""
    return OSError(e.errno, e.strerror or str(e), str(path))


def write(text: str, path: Path | None, *, said: str = "written to") -> None:
    """``text`` to ``path`` (saying so on stderr), or to stdout."""
    if path is not None:
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as e:
            if path.is_file():  # a full disk: never leave a cut-off report for a whole one
                path.unlink(missing_ok=True)
            raise _naming(e, path) from e
        print(f"{said} {path}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def publish(st: Store, snap: Snapshot, pub: Publish) -> None:
    """Metrics and email after a run or for a stored snapshot."""
    if pub.metrics is not None:
        from fleet.report import emergency_metrics

        history = emergency_metrics.render(st.evidence())
        try:
            metrics.write(snap, pub.metrics, history)
        except OSError as e:  # named by the path given, not the temporary file's
            raise _naming(e, pub.metrics) from e
    if pub.email is None:
        return
    from fleet.report import email, html

    channel = "email:" + ",".join(sorted(pub.email.to))
    fp = email.fingerprint(snap)
    last = st.last_report(channel)
    if pub.email.only_on_change and last is not None and last[1] == fp:
        print(
            f"findings unchanged since the report of snapshot {last[0]}: no email sent",
            file=sys.stderr,
        )
        return
    ctx = context_for(st, snap)
    email.send(email.build(ctx, pub.email, html.render(ctx)), pub.email)
    assert snap.id is not None
    st.record_report(snap.id, channel, fp, now())
    print(f"report sent to {', '.join(pub.email.to)}: {ctx.verdict}", file=sys.stderr)
