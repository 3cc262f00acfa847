"""The `fleet` command: options in, one call out. No logic lives here."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from fleet.errors import FleetError, InputError, StoreError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Audit IP phones and SBCs so that emergency calling never breaks silently.",
)
lab_app = typer.Typer(no_args_is_help=True, help="The simulated fleet on loopback.")
store_app = typer.Typer(no_args_is_help=True, help="Snapshots in the store.")
app.add_typer(lab_app, name="lab")
dialplan_app = typer.Typer(no_args_is_help=True, help="Dial plans, evaluated as phones do.")
app.add_typer(store_app, name="store")
app.add_typer(dialplan_app, name="dialplan")
sbc_app = typer.Typer(no_args_is_help=True, help="SBC routing, evaluated as the box does.")
app.add_typer(sbc_app, name="sbc")


class Fmt(StrEnum):
    table = "table"
    json = "json"
    junit = "junit"
    html = "html"
    csv = "csv"


class Sev(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
    info = "info"


StoreOpt = Annotated[Path, typer.Option("--store", help="SQLite store")]
FmtOpt = Annotated[Fmt, typer.Option("--format", help="table, json, junit, html or csv")]
WaitOpt = Annotated[
    float, typer.Option("--store-wait", help="seconds to wait for another run that holds the store")
]
OutOpt = Annotated[Path | None, typer.Option("--output", help="write the report here")]
FailOpt = Annotated[Sev, typer.Option("--fail-on", help="exit 1 at or above this severity")]
TagOpt = Annotated[str | None, typer.Option("--tag", help="label the snapshot")]
GoldenOpt = Annotated[Path, typer.Option("--golden", help="golden template (YAML)")]


EmailOpt = Annotated[
    list[str] | None,
    typer.Option("--email", "--report-email", help="send the report to this address (repeatable)"),
]
SmtpOpt = Annotated[str, typer.Option("--smtp", help="SMTP server HOST:PORT")]
StartTlsOpt = Annotated[bool, typer.Option("--starttls", help="upgrade SMTP with STARTTLS")]
SmtpUserOpt = Annotated[str | None, typer.Option("--smtp-user", help="SMTP login")]
SmtpPwOpt = Annotated[
    str | None,
    typer.Option(
        "--smtp-password-ref", help="SMTP password as a secret reference: ${env:X} or ${file:P}"
    ),
]
SenderOpt = Annotated[str, typer.Option("--email-from", help="sender address")]
OnChangeOpt = Annotated[
    bool,
    typer.Option(
        "--only-on-change", help="send only when the findings changed since the last report"
    ),
]
MetricsOpt = Annotated[
    Path | None,
    typer.Option(
        "--metrics", help="write Prometheus text exposition here (node_exporter textfile)"
    ),
]
MaxAgeOpt = Annotated[
    str | None,
    typer.Option(
        "--max-age", help="coverage.stale when a path was last proven longer ago (24h, 7d)"
    ),
]


def _publish(
    email: list[str] | None,
    smtp: str,
    starttls: bool,
    smtp_user: str | None,
    smtp_password_ref: str | None,
    email_from: str,
    only_on_change: bool,
    metrics: Path | None,
    max_age: str | None,
):  # type: ignore[no-untyped-def]
    from fleet.check.staleness import parse_age
    from fleet.commands import Publish
    from fleet.inventory import SECRET_REF, resolve_secret_ref
    from fleet.report.email import EmailOptions

    opts = None
    if smtp_password_ref is not None and not SECRET_REF.match(smtp_password_ref.strip()):
        # a password typed on the command line would sit in shell history and `ps`
        raise InputError(
            "not a secret reference: give ${env:NAME} or ${file:PATH}, never the password "
            "itself (in a systemd unit write $${env:NAME})",
            field="--smtp-password-ref",
        )
    if email:
        password = (
            resolve_secret_ref(smtp_password_ref, "--smtp-password-ref").value
            if smtp_password_ref is not None
            else None
        )
        opts = EmailOptions(
            list(email), smtp, starttls, smtp_user, password, email_from, only_on_change
        )
        opts.host_port()
    return Publish(opts, metrics, parse_age(max_age) if max_age else None)


_SIGNALS: list[int] = []  # the signal that stopped this run, if one did


def _run(fn, *args, **kwargs) -> int:  # type: ignore[no-untyped-def]
    """Map fleet's errors to the SPEC exit codes: input problems exit 2 with their message."""
    import signal

    try:
        return fn(*args, **kwargs)
    except KeyboardInterrupt:
        from fleet import commands

        said = (
            f"snapshot {commands.STORED[-1]} was stored before it"
            if commands.STORED
            else "nothing of this run was stored"
        )
        typer.echo(f"fleet: interrupted; {said}", err=True)
        return 128 + (_SIGNALS[0] if _SIGNALS else signal.SIGINT)
    except (InputError, StoreError) as e:
        typer.echo(f"fleet: {e}", err=True)
        return 2
    except FleetError as e:
        typer.echo(f"fleet: {e}", err=True)
        return 2
    except OSError as e:
        # a disk, a folder or a path that is not what it should be: a failure of the run,
        # never exit 1 (which means "findings") and never a traceback
        where = e.filename or "fleet"
        typer.echo(f"fleet: {where}: {e.strerror or e}{_stored_note()}", err=True)
        return 2
    except Exception as e:
        from fleet.errors import bug_text

        typer.echo(f"fleet: {bug_text('run', 'command', e)}{_stored_note()}", err=True)
        return 2


def _stored_note() -> str:
    from fleet import commands

    sid = commands.STORED[-1] if commands.STORED else None
    return f" (snapshot {sid} was stored before this failed)" if sid else ""


@app.command()
def sweep(
    inventory: Annotated[Path, typer.Argument(help="inventory YAML or CSV")],
    golden: GoldenOpt,
    store: StoreOpt = Path("fleet.db"),
    fmt: FmtOpt = Fmt.table,
    output: OutOpt = None,
    fail_on: FailOpt = Sev.high,
    concurrency: Annotated[int, typer.Option(min=1, max=5000)] = 200,
    timeout: Annotated[float, typer.Option(help="seconds per device")] = 30.0,
    select: Annotated[list[str] | None, typer.Option(help="e.g. site=lon,role=phone")] = None,
    tag: TagOpt = None,
    store_wait: WaitOpt = 30.0,
    email: EmailOpt = None,
    smtp: SmtpOpt = "localhost:25",
    starttls: StartTlsOpt = False,
    smtp_user: SmtpUserOpt = None,
    smtp_password_ref: SmtpPwOpt = None,
    email_from: SenderOpt = "fleet@localhost",
    only_on_change: OnChangeOpt = False,
    metrics: MetricsOpt = None,
    max_age: MaxAgeOpt = None,
) -> None:
    """Crawl the devices, check them, store a snapshot, report (and email, metrics)."""
    from fleet import commands

    pub = (
        email,
        smtp,
        starttls,
        smtp_user,
        smtp_password_ref,
        email_from,
        only_on_change,
        metrics,
        max_age,
    )
    raise typer.Exit(
        _run(
            lambda: commands.sweep(
                inventory,
                golden,
                store=store,
                fmt=fmt.value,
                output=output,
                fail_on=fail_on.value,
                concurrency=concurrency,
                timeout=timeout,
                select=select,
                tag=tag,
                store_wait=store_wait,
                pub=_publish(*pub),
            )
        )
    )


@app.command()
def audit(
    paths: Annotated[list[Path], typer.Argument(help="configuration files or folders")],
    golden: GoldenOpt,
    inventory: Annotated[Path | None, typer.Option(help="maps file ids to sites/roles")] = None,
    store: StoreOpt = Path("fleet.db"),
    fmt: FmtOpt = Fmt.table,
    output: OutOpt = None,
    fail_on: FailOpt = Sev.high,
    tag: TagOpt = None,
    store_wait: WaitOpt = 30.0,
    email: EmailOpt = None,
    smtp: SmtpOpt = "localhost:25",
    starttls: StartTlsOpt = False,
    smtp_user: SmtpUserOpt = None,
    smtp_password_ref: SmtpPwOpt = None,
    email_from: SenderOpt = "fleet@localhost",
    only_on_change: OnChangeOpt = False,
    metrics: MetricsOpt = None,
    max_age: MaxAgeOpt = None,
) -> None:
    """The same checks on configuration files, with no network; stores a snapshot."""
    from fleet import commands

    pub = (
        email,
        smtp,
        starttls,
        smtp_user,
        smtp_password_ref,
        email_from,
        only_on_change,
        metrics,
        max_age,
    )
    raise typer.Exit(
        _run(
            lambda: commands.audit(
                paths,
                golden,
                inventory=inventory,
                store=store,
                fmt=fmt.value,
                output=output,
                fail_on=fail_on.value,
                tag=tag,
                store_wait=store_wait,
                pub=_publish(*pub),
            )
        )
    )


@app.command()
def diff(
    old: Annotated[
        str | None, typer.Argument(help="snapshot id or tag (default: the one before NEW)")
    ] = None,
    new: Annotated[str | None, typer.Argument(help="snapshot id or tag (default: last)")] = None,
    store: StoreOpt = Path("fleet.db"),
    fmt: FmtOpt = Fmt.table,
    output: OutOpt = None,
    devices: Annotated[
        bool, typer.Option("--devices", help="list the devices of each change")
    ] = False,
) -> None:
    """What changed between two stored snapshots (default: the last two)."""
    from fleet import commands

    raise typer.Exit(
        _run(commands.diff, old, new, store=store, fmt=fmt.value, output=output, devices=devices)
    )


rollout_app = typer.Typer(no_args_is_help=True, help="Firmware and configuration rollouts.")
app.add_typer(rollout_app, name="rollout")


@rollout_app.command("verify")
def rollout_verify(
    baseline: Annotated[str, typer.Option(help="tag (or id) of the snapshot before the update")],
    inventory: Annotated[
        Path | None, typer.Argument(help="inventory (default: the baseline's)")
    ] = None,
    golden: Annotated[Path | None, typer.Option(help="golden (default: the baseline's)")] = None,
    select: Annotated[list[str] | None, typer.Option(help="e.g. site=lon,role=phone")] = None,
    store: StoreOpt = Path("fleet.db"),
    fmt: FmtOpt = Fmt.table,
    output: OutOpt = None,
    concurrency: Annotated[int, typer.Option(min=1, max=5000)] = 200,
    timeout: Annotated[float, typer.Option(help="seconds per device")] = 30.0,
    tag: TagOpt = None,
    store_wait: WaitOpt = 30.0,
) -> None:
    """Sweep again and compare with the baseline: emergency regressions fail (exit 1)."""
    from fleet import commands

    raise typer.Exit(
        _run(
            commands.rollout_verify,
            baseline,
            inventory,
            golden,
            select=select,
            store=store,
            fmt=fmt.value,
            output=output,
            concurrency=concurrency,
            timeout=timeout,
            tag=tag,
            store_wait=store_wait,
        )
    )


@app.command()
def report(
    snapshot: Annotated[
        str | None, typer.Argument(help="snapshot id or tag (default: last)")
    ] = None,
    store: StoreOpt = Path("fleet.db"),
    fmt: FmtOpt = Fmt.table,
    output: OutOpt = None,
    fail_on: FailOpt = Sev.high,
    email: EmailOpt = None,
    smtp: SmtpOpt = "localhost:25",
    starttls: StartTlsOpt = False,
    smtp_user: SmtpUserOpt = None,
    smtp_password_ref: SmtpPwOpt = None,
    email_from: SenderOpt = "fleet@localhost",
    only_on_change: OnChangeOpt = False,
    metrics: MetricsOpt = None,
    max_age: MaxAgeOpt = None,
) -> None:
    """Render a stored snapshot; --email sends it, --metrics writes Prometheus metrics."""
    from fleet import commands

    pub = (
        email,
        smtp,
        starttls,
        smtp_user,
        smtp_password_ref,
        email_from,
        only_on_change,
        metrics,
        max_age,
    )
    raise typer.Exit(
        _run(
            lambda: commands.report_cmd(
                snapshot,
                store=store,
                fmt=fmt.value,
                output=output,
                fail_on=fail_on.value,
                pub=_publish(*pub),
            )
        )
    )


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="inventory or golden files")],
) -> None:
    """Check inventory or golden files without touching devices."""
    from fleet import commands

    raise typer.Exit(_run(commands.validate, files))


@app.command("profiles")
def profiles_cmd(
    policies: Annotated[bool, typer.Option("--policies", help="list policy packs")] = False,
) -> None:
    """List device profiles (and policy packs)."""
    from fleet import commands

    raise typer.Exit(_run(commands.list_profiles, policies))


@app.command()
def demo(
    phones: Annotated[int, typer.Option(min=6, max=2000)] = 24,
    store: Annotated[Path | None, typer.Option("--store")] = None,
    fmt: FmtOpt = Fmt.table,
) -> None:
    """Start the built-in simulated fleet, sweep it, print the report."""
    from fleet import commands

    raise typer.Exit(_run(commands.demo, phones, store=store, fmt=fmt.value))


@lab_app.command("serve")
def lab_serve(
    phones: Annotated[int, typer.Option(min=0, max=20000)] = 30,
    out: Annotated[Path, typer.Option(help="folder for inventory.yaml and golden.yaml")] = Path(
        "lab"
    ),
    faults: Annotated[bool, typer.Option(help="seed the known faults")] = True,
    profile: Annotated[list[str] | None, typer.Option(help="only these phone profiles")] = None,
    net: Annotated[int, typer.Option(min=1, max=254, help="serve on 127.NET.0.0/16")] = 10,
    sbcs: Annotated[int, typer.Option(min=0, max=2000, help="SBCs beyond one per site")] = 0,
    with_sbcs: Annotated[bool, typer.Option(help="simulate SBCs (one per site at least)")] = True,
    sbc_profile: Annotated[list[str] | None, typer.Option(help="only these SBC profiles")] = None,
    scenario: Annotated[
        str | None,
        typer.Option(help="rollout: firmware updates on request (HTTP control or SIGUSR1)"),
    ] = None,
) -> None:
    """Run the simulated fleet on loopback until stopped; writes its inventory and golden."""
    from fleet import commands

    raise typer.Exit(
        _run(
            commands.lab_serve,
            phones,
            out,
            faults,
            profile,
            net,
            sbcs,
            sbc_profile,
            scenario,
            with_sbcs,
        )
    )


class Syntax(StrEnum):
    mgcp = "mgcp"
    cisco = "cisco"
    yealink = "yealink"
    grandstream = "grandstream"
    snom = "snom"


@dialplan_app.command("eval")
def dialplan_eval(
    plan: Annotated[str, typer.Argument(help="the dial plan as the phone holds it")],
    digits: Annotated[list[str], typer.Argument(help="digit strings to dial")],
    syntax: Annotated[Syntax, typer.Option("--syntax", help="the plan's syntax")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    explain: Annotated[bool, typer.Option(help="show each step of the evaluation")] = False,
    option: Annotated[
        list[str] | None,
        typer.Option(help="a companion parameter, NAME=VALUE (timers, modes, rules)"),
    ] = None,
) -> None:
    """Evaluate a dial plan for dialled digit strings."""
    from fleet import commands

    raise typer.Exit(
        _run(commands.dialplan_eval, syntax.value, plan, digits, as_json, explain, option or [])
    )


@sbc_app.command("route")
def sbc_route(
    source_file: Annotated[
        Path,
        typer.Argument(
            metavar="INVENTORY-OR-FILE",
            help="an inventory (the SBC is read over SSH) or a saved configuration",
        ),
    ],
    numbers: Annotated[list[str], typer.Argument(help="called numbers")],
    host: Annotated[str | None, typer.Option(help="the SBC's id in the inventory")] = None,
    source: Annotated[
        str | None,
        typer.Option(help="where the call comes from: an address, or an IP group / realm name"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    explain: Annotated[bool, typer.Option(help="show how the route was chosen")] = False,
) -> None:
    """Which route an SBC picks for a called number, what leaves, on which trunk."""
    from fleet import commands

    raise typer.Exit(_run(commands.sbc_route, source_file, numbers, host, source, as_json, explain))


@store_app.command("list")
def store_list(store: StoreOpt = Path("fleet.db")) -> None:
    """Snapshots in the store."""
    from fleet import commands

    raise typer.Exit(_run(commands.store_list, store))


@store_app.command("prune")
def store_prune(
    keep: Annotated[int, typer.Option(min=1)], store: StoreOpt = Path("fleet.db")
) -> None:
    """Drop all but the newest N snapshots."""
    from fleet import commands

    raise typer.Exit(_run(commands.store_prune, store, keep))


def main() -> None:
    import signal

    def stop(signum: int, _frame: object) -> None:
        # SIGTERM (systemd, kill) unwinds like Ctrl-C: connections close, nothing half-stored
        _SIGNALS.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        typer.echo("fleet: interrupted", err=True)
        sys.exit(128 + (_SIGNALS[0] if _SIGNALS else signal.SIGINT))
    except Exception as e:  # outside any command's own boundary: still exit 2, no traceback
        from fleet.errors import bug_text

        typer.echo(f"fleet: {bug_text('start', 'command', e)}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
