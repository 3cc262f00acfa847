"""The `fleet` command: options in, one call out. No logic lives here."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer

from fleet.errors import FleetError, InputError
from fleet.model import SEVERITIES
from fleet.report import FORMATS

if TYPE_CHECKING:
    from fleet.app import Publish
    from fleet.report.email import EmailOptions

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


# Choices derived from what the engine has: report formats and severities.
Fmt = StrEnum("Fmt", [(name, name) for name in FORMATS])  # type: ignore[misc]
Sev = StrEnum("Sev", [(name, name) for name in SEVERITIES])  # type: ignore[misc]


StoreOpt = Annotated[Path, typer.Option("--store", help="SQLite store")]
FmtOpt = Annotated[Fmt, typer.Option("--format", help=", ".join(FORMATS))]
WaitOpt = Annotated[
    float, typer.Option("--store-wait", help="seconds to wait for another run that holds the store")
]
OutOpt = Annotated[Path | None, typer.Option("--output", help="write the report here")]
FailOpt = Annotated[Sev, typer.Option("--fail-on", help="exit 1 at or above this severity")]
TagOpt = Annotated[str | None, typer.Option("--tag", help="label the snapshot")]
GoldenOpt = Annotated[Path, typer.Option("--golden", help="golden template (YAML)")]
ConcurrencyOpt = Annotated[int, typer.Option(min=1, max=5000)]
TimeoutOpt = Annotated[float, typer.Option(help="seconds per device")]
SelectOpt = Annotated[list[str] | None, typer.Option(help="e.g. site=lon,role=phone")]


EMAIL_PANEL = "Email"
PUBLISH_PANEL = "Metrics and staleness"


@dataclass(slots=True, frozen=True)
class EmailFlags:
    """The report by email, as given on the command line (see :meth:`options`)."""

    email: Annotated[
        list[str] | None,
        typer.Option(
            "--email",
            "--report-email",
            help="send the report to this address (repeatable)",
            rich_help_panel=EMAIL_PANEL,
        ),
    ] = None
    smtp: Annotated[
        str, typer.Option("--smtp", help="SMTP server HOST:PORT", rich_help_panel=EMAIL_PANEL)
    ] = "localhost:25"
    starttls: Annotated[
        bool,
        typer.Option("--starttls", help="upgrade SMTP with STARTTLS", rich_help_panel=EMAIL_PANEL),
    ] = False
    smtp_user: Annotated[
        str | None, typer.Option("--smtp-user", help="SMTP login", rich_help_panel=EMAIL_PANEL)
    ] = None
    smtp_password_ref: Annotated[
        str | None,
        typer.Option(
            "--smtp-password-ref",
            help="SMTP password as a secret reference: ${env:X} or ${file:P}",
            rich_help_panel=EMAIL_PANEL,
        ),
    ] = None
    email_from: Annotated[
        str, typer.Option("--email-from", help="sender address", rich_help_panel=EMAIL_PANEL)
    ] = "fleet@localhost"
    only_on_change: Annotated[
        bool,
        typer.Option(
            "--only-on-change",
            help="send only when the findings changed since the last report",
            rich_help_panel=EMAIL_PANEL,
        ),
    ] = False

    def options(self) -> EmailOptions | None:
        """The SMTP settings checked and the password resolved; None without --email."""
        from fleet.inventory import SECRET_REF, resolve_secret_ref
        from fleet.report.email import EmailOptions

        ref = self.smtp_password_ref
        if ref is not None and not SECRET_REF.match(ref.strip()):
            # a password typed on the command line would sit in shell history and `ps`
            raise InputError(
                "not a secret reference: give ${env:NAME} or ${file:PATH}, never the password "
                "itself (in a systemd unit write $${env:NAME})",
                field="--smtp-password-ref",
            )
        if not self.email:
            return None
        password = resolve_secret_ref(ref, "--smtp-password-ref").value if ref else None
        opts = EmailOptions(
            list(self.email),
            self.smtp,
            self.starttls,
            self.smtp_user,
            password,
            self.email_from,
            self.only_on_change,
        )
        opts.host_port()
        return opts


@dataclass(slots=True, frozen=True)
class PublishFlags:
    """Metrics and staleness, as given on the command line."""

    metrics: Annotated[
        Path | None,
        typer.Option(
            "--metrics",
            help="write Prometheus text exposition here (node_exporter textfile)",
            rich_help_panel=PUBLISH_PANEL,
        ),
    ] = None
    max_age: Annotated[
        str | None,
        typer.Option(
            "--max-age",
            help="coverage.stale when a path was last proven longer ago (24h, 7d)",
            rich_help_panel=PUBLISH_PANEL,
        ),
    ] = None

    def publish(self, email: EmailFlags) -> Publish:
        from fleet.app import Publish
        from fleet.check.staleness import parse_age

        mail = email.options()
        return Publish(mail, self.metrics, parse_age(self.max_age) if self.max_age else None)


Command = Callable[..., None]


def grouped(**groups: type[Any]) -> Callable[[Command], Command]:
    """Give a command option groups: each keyword names a parameter of the command and the
    dataclass it receives. Typer sees every field of the dataclass as an option of its own
    (declared once, in the dataclass); the command gets the one typed object."""

    def wrap(fn: Command) -> Command:
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name not in groups]
        fields = {name: dataclasses.fields(cls) for name, cls in groups.items()}
        extra = [
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=get_type_hints(groups[name], include_extras=True)[f.name],
                default=f.default,
            )
            for name, fs in fields.items()
            for f in fs
        ]

        @functools.wraps(fn)
        def command(**kwargs: Any) -> None:
            for name, fs in fields.items():
                kwargs[name] = groups[name](**{f.name: kwargs.pop(f.name) for f in fs})
            fn(**kwargs)

        params = [*own, *extra]
        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return wrap


_SIGNALS: list[int] = []  # the signal that stopped this run, if one did


def _run(fn: Callable[..., int], *args: Any, **kwargs: Any) -> int:
    """Map fleet's errors to the SPEC exit codes: input problems exit 2 with their message."""
    import signal

    from fleet import app as fleet_app

    try:
        return fn(*args, **kwargs)
    except KeyboardInterrupt:
        typer.echo(f"fleet: interrupted; {fleet_app.interrupted_note()}", err=True)
        return 128 + (_SIGNALS[0] if _SIGNALS else signal.SIGINT)
    except FleetError as e:  # InputError and StoreError among them
        typer.echo(f"fleet: {e}", err=True)
        return 2
    except OSError as e:
        # a disk, a folder or a path that is not what it should be: a failure of the run,
        # never exit 1 (which means "findings") and never a traceback
        where = e.filename or "fleet"
        typer.echo(f"fleet: {where}: {e.strerror or e}{fleet_app.stored_note()}", err=True)
        return 2
    except Exception as e:
        from fleet.errors import bug_text

        typer.echo(f"fleet: {bug_text('run', 'command', e)}{fleet_app.stored_note()}", err=True)
        return 2


@app.command()
@grouped(mail=EmailFlags, pub=PublishFlags)
def sweep(
    inventory: Annotated[Path, typer.Argument(help="inventory YAML or CSV")],
    golden: GoldenOpt,
    store: StoreOpt = Path("fleet.db"),
    fmt: FmtOpt = Fmt("table"),
    output: OutOpt = None,
    fail_on: FailOpt = Sev("high"),
    concurrency: ConcurrencyOpt = 200,
    timeout: TimeoutOpt = 30.0,
    select: SelectOpt = None,
    tag: TagOpt = None,
    store_wait: WaitOpt = 30.0,
    *,
    mail: EmailFlags,
    pub: PublishFlags,
) -> None:
    """Crawl the devices, check them, store a snapshot, report (and email, metrics)."""
    from fleet import commands

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
                pub=pub.publish(mail),
            )
        )
    )


@app.command()
@grouped(mail=EmailFlags, pub=PublishFlags)
def audit(
    paths: Annotated[list[Path], typer.Argument(help="configuration files or folders")],
    golden: GoldenOpt,
    inventory: Annotated[Path | None, typer.Option(help="maps file ids to sites/roles")] = None,
    store: StoreOpt = Path("fleet.db"),
    fmt: FmtOpt = Fmt("table"),
    output: OutOpt = None,
    fail_on: FailOpt = Sev("high"),
    tag: TagOpt = None,
    store_wait: WaitOpt = 30.0,
    *,
    mail: EmailFlags,
    pub: PublishFlags,
) -> None:
    """The same checks on configuration files, with no network; stores a snapshot."""
    from fleet import commands

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
                pub=pub.publish(mail),
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
    fmt: FmtOpt = Fmt("table"),
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
    select: SelectOpt = None,
    store: StoreOpt = Path("fleet.db"),
    fmt: FmtOpt = Fmt("table"),
    output: OutOpt = None,
    concurrency: ConcurrencyOpt = 200,
    timeout: TimeoutOpt = 30.0,
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
@grouped(mail=EmailFlags, pub=PublishFlags)
def report(
    snapshot: Annotated[
        str | None, typer.Argument(help="snapshot id or tag (default: last)")
    ] = None,
    store: StoreOpt = Path("fleet.db"),
    fmt: FmtOpt = Fmt("table"),
    output: OutOpt = None,
    fail_on: FailOpt = Sev("high"),
    store_wait: WaitOpt = 30.0,
    *,
    mail: EmailFlags,
    pub: PublishFlags,
) -> None:
    """Render a stored snapshot; --email sends it, --metrics writes Prometheus metrics."""
    from fleet import commands

    raise typer.Exit(
        _run(
            lambda: commands.report_cmd(
                snapshot,
                store=store,
                fmt=fmt.value,
                output=output,
                fail_on=fail_on.value,
                pub=pub.publish(mail),
                store_wait=store_wait,
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
    fmt: FmtOpt = Fmt("table"),
) -> None:
    """Start the built-in simulated fleet, sweep it, print the report."""
    from fleet.lab import run

    raise typer.Exit(_run(run.demo, phones, store=store, fmt=fmt.value))


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
    from fleet.lab import run

    raise typer.Exit(
        _run(
            run.lab_serve,
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


def _syntaxes() -> list[str]:
    from fleet import dialplan

    listed = getattr(dialplan, "syntaxes", None)  # the registry's, once dialplan has one
    return list(listed() if callable(listed) else dialplan.SYNTAXES)


Syntax = StrEnum("Syntax", [(name, name) for name in _syntaxes()])  # type: ignore[misc]


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
    keep: Annotated[int, typer.Option(min=1, help="snapshots to keep, newest first")],
    store: StoreOpt = Path("fleet.db"),
    store_wait: WaitOpt = 30.0,
    include_tagged: Annotated[
        bool, typer.Option("--include-tagged", help="drop tagged snapshots (baselines) too")
    ] = False,
) -> None:
    """Drop all but the newest N snapshots; tagged ones (rollout baselines) stay."""
    from fleet import commands

    raise typer.Exit(_run(commands.store_prune, store, keep, store_wait, include_tagged))


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
