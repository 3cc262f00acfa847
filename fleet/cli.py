"""The `fleet` command: options in, one call out. No logic lives here."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, get_type_hints

import typer

from fleet.errors import FleetError, InputError
from fleet.model import SEVERITIES
from fleet.report import FORMATS
from fleet.report.drift_report import DIFF_FORMATS, VERIFY_FORMATS

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
JsonOpt = Annotated[bool, typer.Option("--json", help="the same as --format json")]
LineFmt = StrEnum("LineFmt", [("table", "table"), ("json", "json")])
LineFmtOpt = Annotated[
    LineFmt, typer.Option("--format", help="table (text lines) or json (the same as --json)")
]
WaitOpt = Annotated[
    float, typer.Option("--store-wait", help="seconds to wait for another run that holds the store")
]
OutOpt = Annotated[Path | None, typer.Option("--output", help="write the report here")]
FailOpt = Annotated[Sev, typer.Option("--fail-on", help="exit 1 at or above this severity")]
AllOpt = Annotated[
    bool, typer.Option("--all", help="list every device in the table, the ok ones too")
]
TagOpt = Annotated[str | None, typer.Option("--tag", help="label the snapshot")]
GoldenOpt = Annotated[Path, typer.Option("--golden", help="golden template (YAML)")]
ConcurrencyOpt = Annotated[int, typer.Option(min=1, max=5000, help="devices read at the same time")]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        help="seconds of a device's own time for its whole exchange, retries included (time "
        "fleet spends busy or queued is not counted)"
    ),
]
SelectOpt = Annotated[
    list[str] | None,
    typer.Option(
        metavar="KEY=GLOB,...",
        help="hosts to read: KEY=GLOB or KEY!=GLOB, KEY one of id, site, role, profile, group,"
        " tag, address; a comma means and, a repeated --select means or"
        " (--select site=lon,role=phone --select tag=vip)",
    ),
]


def _fmt(fmt: Any, as_json: bool) -> str:
    """--format's value, or json for --json (the two name one thing: both are accepted)."""
    value = str(fmt.value)
    if as_json and value not in ("json", "table"):
        # a usage error, as click reports its own (exit 2); computed before _run, which
        # would take any exception for a crash
        raise typer.BadParameter(f"--json and --format {value} ask for two formats")
    return "json" if as_json else value


def _no_flag_metavar() -> None:
    """Flags take no value: their help shows none (typer's rich help prints ``<bool>``); an
    argument's name says what it is (typer would add ``<list[Path]>``)."""
    from typer.core import TyperArgument, TyperOption

    shown = TyperOption.display_type_rich

    def display(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    def argument(self: TyperArgument, ctx: Any) -> str | None:
        return None

    TyperOption.display_type_rich = display  # type: ignore[method-assign]
    TyperArgument.display_type_rich = argument  # type: ignore[method-assign,assignment]


_no_flag_metavar()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"fleet {version('fleet')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("fleet (not installed: no version)")
        raise typer.Exit()


@app.callback()
def _top(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
) -> None:
    """Audit IP phones and SBCs so that emergency calling never breaks silently."""


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
            metavar="ADDRESS",
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
    report_url: Annotated[
        str | None,
        typer.Option(
            "--report-url",
            help="link the mail to the full report published at this http(s) URL",
            rich_help_panel=EMAIL_PANEL,
        ),
    ] = None
    email_attach: Annotated[
        str,
        typer.Option(
            "--email-attach",
            help="zip: attach the full report (HTML, JSON, CSV) zipped; none: attach nothing",
            rich_help_panel=EMAIL_PANEL,
        ),
    ] = "zip"

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
            report_url=self.report_url,
            attach=self.email_attach,
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
    from asyncio import CancelledError

    from fleet import app as fleet_app

    try:
        return fn(*args, **kwargs)
    except (KeyboardInterrupt, CancelledError):  # CancelledError: a signal in asyncio.run
        return _interrupted()
    except FleetError as e:  # InputError and StoreError among them
        typer.echo(f"fleet: {e}", err=True)
        for more in getattr(e, "more", []):  # the input's other problems, all at once
            typer.echo(f"fleet: {more}", err=True)
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
    inventory: Annotated[Path, typer.Argument(metavar="INVENTORY", help="inventory YAML or CSV")],
    golden: GoldenOpt,
    store: StoreOpt = Path("fleet.db"),
    fmt: FmtOpt = Fmt("table"),
    as_json: JsonOpt = False,
    output: OutOpt = None,
    fail_on: FailOpt = Sev("high"),
    concurrency: ConcurrencyOpt = 200,
    timeout: TimeoutOpt = 30.0,
    select: SelectOpt = None,
    tag: TagOpt = None,
    store_wait: WaitOpt = 30.0,
    show_all: AllOpt = False,
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            help="read the hosts through `fleet worker` collectors on this broker "
            "(redis://HOST:6379/0 or amqp://USER@HOST:5672//), one queue per site",
        ),
    ] = None,
    site_timeout: Annotated[
        float,
        typer.Option(
            "--site-timeout",
            help="with --broker: seconds to wait for a site's collector before its devices "
            "are reported unreachable",
        ),
    ] = 600.0,
    shard_by: Annotated[
        str, typer.Option("--shard-by", help="with --broker: site (default) or group")
    ] = "site",
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="with --broker: hosts per batch", min=1)
    ] = 200,
    *,
    mail: EmailFlags,
    pub: PublishFlags,
) -> None:
    """Crawl the devices, check them, store a snapshot, report (and email, metrics)."""
    from fleet import commands

    dist = commands.Distributed(broker, site_timeout, shard_by, batch_size)

    fmt_value = _fmt(fmt, as_json)
    raise typer.Exit(
        _run(
            lambda: commands.sweep(
                inventory,
                golden,
                store=store,
                fmt=fmt_value,
                output=output,
                fail_on=fail_on.value,
                concurrency=concurrency,
                timeout=timeout,
                select=select,
                tag=tag,
                store_wait=store_wait,
                pub=pub.publish(mail),
                show_all=show_all,
                dist=dist,
            )
        )
    )


@app.command()
@grouped(mail=EmailFlags, pub=PublishFlags)
def audit(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH", help="configuration files or folders")
    ],
    golden: GoldenOpt,
    inventory: Annotated[
        Path | None, typer.Option(metavar="INVENTORY", help="maps file ids to sites/roles")
    ] = None,
    store: StoreOpt = Path("fleet.db"),
    fmt: FmtOpt = Fmt("table"),
    as_json: JsonOpt = False,
    output: OutOpt = None,
    fail_on: FailOpt = Sev("high"),
    tag: TagOpt = None,
    store_wait: WaitOpt = 30.0,
    show_all: AllOpt = False,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="tag (or id) of a sweep: also report where a phone does not run what these "
            "provisioning files give it, in keys that change its emergency calling",
        ),
    ] = None,
    *,
    mail: EmailFlags,
    pub: PublishFlags,
) -> None:
    """The same checks on configuration files, with no network; stores a snapshot."""
    from fleet import commands

    fmt_value = _fmt(fmt, as_json)
    raise typer.Exit(
        _run(
            lambda: commands.audit(
                paths,
                golden,
                inventory=inventory,
                store=store,
                fmt=fmt_value,
                output=output,
                fail_on=fail_on.value,
                tag=tag,
                store_wait=store_wait,
                pub=pub.publish(mail),
                show_all=show_all,
                against=against,
            )
        )
    )


# Per command, the formats it produces: anything else is a usage error (exit 2) naming them.
DiffFmt = StrEnum("DiffFmt", [(n, n) for n in DIFF_FORMATS])  # type: ignore[misc]
VerifyFmt = StrEnum("VerifyFmt", [(n, n) for n in VERIFY_FORMATS])  # type: ignore[misc]
DiffFmtOpt = Annotated[DiffFmt, typer.Option("--format", help=", ".join(DIFF_FORMATS))]
VerifyFmtOpt = Annotated[VerifyFmt, typer.Option("--format", help=", ".join(VERIFY_FORMATS))]


@app.command()
def diff(
    old: Annotated[
        str | None,
        typer.Argument(metavar="OLD", help="snapshot id or tag (default: the one before NEW)"),
    ] = None,
    new: Annotated[
        str | None, typer.Argument(metavar="NEW", help="snapshot id or tag (default: last)")
    ] = None,
    store: StoreOpt = Path("fleet.db"),
    fmt: DiffFmtOpt = DiffFmt("table"),
    as_json: JsonOpt = False,
    output: OutOpt = None,
    devices: Annotated[
        bool, typer.Option("--devices", help="list all the devices of each change")
    ] = False,
) -> None:
    """What changed between two stored snapshots (default: the last two)."""
    from fleet import commands

    raise typer.Exit(
        _run(
            commands.diff,
            old,
            new,
            store=store,
            fmt=_fmt(fmt, as_json),
            output=output,
            devices=devices,
        )
    )


TIMELINE_FORMATS = ("table", "json", "csv", "html")
TimelineFmt = StrEnum("TimelineFmt", [(n, n) for n in TIMELINE_FORMATS])  # type: ignore[misc]


@app.command()
def timeline(
    number: Annotated[
        list[str] | None,
        typer.Option(
            "--number", metavar="NUMBER", help="only this emergency number (repeat for more)"
        ),
    ] = None,
    site: Annotated[
        list[str] | None,
        typer.Option("--site", metavar="SITE", help="only this site (repeat for more)"),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="only snapshots since: a duration back from now (30d) or a date"
        ),
    ] = None,
    store: StoreOpt = Path("fleet.db"),
    fmt: Annotated[
        TimelineFmt, typer.Option("--format", help=", ".join(TIMELINE_FORMATS))
    ] = TimelineFmt("table"),
    as_json: JsonOpt = False,
    output: OutOpt = None,
) -> None:
    """Since when, and for whom: the windows in which each emergency number was broken, from
    the stored snapshots, bounded by evidence on both sides. Exit 1 while a window is open."""
    from fleet import commands

    raise typer.Exit(
        _run(
            commands.timeline,
            store=store,
            numbers=list(number or []),
            sites=list(site or []),
            since=since,
            fmt=_fmt(fmt, as_json),
            output=output,
        )
    )


rollout_app = typer.Typer(no_args_is_help=True, help="Firmware and configuration rollouts.")
app.add_typer(rollout_app, name="rollout")


ASSESS_FORMATS = ("table", "json", "junit", "html")
AssessFmt = StrEnum("AssessFmt", [(n, n) for n in ASSESS_FORMATS])  # type: ignore[misc]


@rollout_app.command("assess")
def rollout_assess(
    baseline: Annotated[
        str, typer.Option(help="tag (or id) of the sweep the change is applied to")
    ],
    change: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="CHANGE",
            help="the new provisioning files or folders, as they would be deployed",
        ),
    ] = None,
    firmware: Annotated[
        list[str] | None,
        typer.Option(
            "--firmware",
            metavar="MODEL=VERSION",
            help="the firmware the change installs on a model (glob), checked against the "
            "golden's known-bad list (repeatable)",
        ),
    ] = None,
    golden: Annotated[Path | None, typer.Option(help="golden (default: the baseline's)")] = None,
    store: StoreOpt = Path("fleet.db"),
    fmt: Annotated[AssessFmt, typer.Option("--format", help=", ".join(ASSESS_FORMATS))] = AssessFmt(
        "table"
    ),
    as_json: JsonOpt = False,
    output: OutOpt = None,
) -> None:
    """Before a change ships: apply its files to each device's last swept configuration and
    list whose emergency calling would change. Exit 1 if a number would stop working."""
    from fleet import commands

    raise typer.Exit(
        _run(
            commands.rollout_assess,
            list(change or []),
            baseline=baseline,
            firmware=list(firmware or []),
            golden=golden,
            store=store,
            fmt=_fmt(fmt, as_json),
            output=output,
        )
    )


@rollout_app.command("verify")
def rollout_verify(
    baseline: Annotated[str, typer.Option(help="tag (or id) of the snapshot before the update")],
    inventory: Annotated[
        Path | None, typer.Argument(metavar="INVENTORY", help="inventory (default: the baseline's)")
    ] = None,
    golden: Annotated[Path | None, typer.Option(help="golden (default: the baseline's)")] = None,
    select: SelectOpt = None,
    store: StoreOpt = Path("fleet.db"),
    fmt: VerifyFmtOpt = VerifyFmt("table"),
    as_json: JsonOpt = False,
    output: OutOpt = None,
    concurrency: ConcurrencyOpt = 200,
    timeout: TimeoutOpt = 30.0,
    tag: TagOpt = None,
    store_wait: WaitOpt = 30.0,
    fail_on: Annotated[
        Sev, typer.Option("--fail-on", help="exit 1 on new findings at or above this severity")
    ] = Sev("high"),
    strict: Annotated[
        bool,
        typer.Option("--strict", help="fail on devices down at the baseline and still down too"),
    ] = False,
) -> None:
    """Sweep again and compare with the baseline: what is worse than then fails (exit 1)."""
    from fleet import commands

    raise typer.Exit(
        _run(
            commands.rollout_verify,
            baseline,
            inventory,
            golden,
            select=select,
            store=store,
            fmt=_fmt(fmt, as_json),
            output=output,
            concurrency=concurrency,
            timeout=timeout,
            tag=tag,
            store_wait=store_wait,
            fail_on=fail_on.value,
            strict=strict,
        )
    )


@app.command()
@grouped(mail=EmailFlags, pub=PublishFlags)
def report(
    snapshot: Annotated[
        str | None, typer.Argument(metavar="SNAPSHOT", help="snapshot id or tag (default: last)")
    ] = None,
    store: StoreOpt = Path("fleet.db"),
    fmt: FmtOpt = Fmt("table"),
    as_json: JsonOpt = False,
    output: OutOpt = None,
    fail_on: FailOpt = Sev("high"),
    store_wait: WaitOpt = 30.0,
    show_all: AllOpt = False,
    *,
    mail: EmailFlags,
    pub: PublishFlags,
) -> None:
    """Render a stored snapshot; --email sends it, --metrics writes Prometheus metrics."""
    from fleet import commands

    fmt_value = _fmt(fmt, as_json)
    raise typer.Exit(
        _run(
            lambda: commands.report_cmd(
                snapshot,
                store=store,
                fmt=fmt_value,
                output=output,
                fail_on=fail_on.value,
                pub=pub.publish(mail),
                store_wait=store_wait,
                show_all=show_all,
            )
        )
    )


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(metavar="FILE", help="inventory or golden files")],
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
    phones: Annotated[
        int, typer.Option(min=6, max=2000, help="simulated phones (and their sites' SBCs)")
    ] = 24,
    store: Annotated[
        Path | None,
        typer.Option("--store", help="keep the demo's snapshot in this SQLite store"),
    ] = None,
    fmt: FmtOpt = Fmt("table"),
    as_json: JsonOpt = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=0,
            max=8,
            help="sweep through this many local `fleet worker` collectors on a redis-server "
            "started for the demo (needs redis-server); 0: in this process",
        ),
    ] = 0,
    show_all: AllOpt = False,
) -> None:
    """Start the built-in simulated fleet, sweep it, print the report."""
    from fleet.lab import run

    raise typer.Exit(
        _run(
            run.demo,
            phones,
            store=store,
            fmt=_fmt(fmt, as_json),
            workers=workers,
            show_all=show_all,
        )
    )


@app.command()
def worker(
    queue: Annotated[
        list[str],
        typer.Option(
            "--queue",
            metavar="QUEUE",
            help="a queue to take batches from: site:NAME or group:NAME (repeatable)",
        ),
    ],
    broker: Annotated[
        str,
        typer.Option(
            "--broker",
            help="the broker's URL, e.g. redis://HOST:6379/0 or amqp://USER@HOST:5672//",
        ),
    ],
    secrets_base: Annotated[
        Path,
        typer.Option("--secrets-base", help="the folder ${file:} references are read from here"),
    ] = Path("."),
    visibility_timeout: Annotated[
        float,
        typer.Option(
            "--visibility-timeout",
            help="seconds after which a batch a dead worker held goes to another worker",
        ),
    ] = 1800.0,
) -> None:
    """A collector inside a site's network: take batches of that site's hosts from the
    broker, read and check them, send back redacted results (`fleet sweep --broker`)."""

    def run(*args: Any, **kwargs: Any) -> int:
        from fleet import distributed

        distributed.require("--broker")
        from fleet.distributed import worker as worker_mod

        return worker_mod.run(*args, **kwargs)

    raise typer.Exit(
        _run(
            run,
            queue,
            broker,
            secrets_base=secrets_base,
            visibility_timeout=visibility_timeout,
        )
    )


@lab_app.command("serve")
def lab_serve(
    phones: Annotated[
        int, typer.Option(min=0, max=20000, help="simulated phones, each on its own address")
    ] = 30,
    out: Annotated[Path, typer.Option(help="folder for inventory.yaml and golden.yaml")] = Path(
        "lab"
    ),
    faults: Annotated[bool, typer.Option(help="seed the known faults")] = True,
    profile: Annotated[
        list[str] | None, typer.Option(metavar="PROFILE", help="only these phone profiles")
    ] = None,
    net: Annotated[
        int | None,
        typer.Option(min=1, max=254, help="serve on 127.NET.0.0/16 (default: first free from 10)"),
    ] = None,
    sbcs: Annotated[int, typer.Option(min=0, max=2000, help="SBCs beyond one per site")] = 0,
    with_sbcs: Annotated[bool, typer.Option(help="simulate SBCs (one per site at least)")] = True,
    sbc_profile: Annotated[
        list[str] | None, typer.Option(metavar="PROFILE", help="only these SBC profiles")
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            help="rollout (always on now; accepted for old command lines): firmware updates"
            " on request (`fleet lab rollout`, HTTP control or SIGUSR1)"
        ),
    ] = None,
) -> None:
    """Run the simulated fleet on loopback until stopped; writes its inventory, golden and,
    while it serves, lab.json (its rollout control's address)."""
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


@lab_app.command("rollout")
def lab_rollout(
    out: Annotated[Path, typer.Option(help="the folder the lab was started with")] = Path("lab"),
    count: Annotated[
        int | None, typer.Option(min=0, help="phones to update (default: a fifth)")
    ] = None,
    lose_112: Annotated[
        int | None,
        typer.Option("--lose-112", min=0, help="of those, how many lose 112 (default: a quarter)"),
    ] = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="play the vendor's fixed release: 112 back")
    ] = False,
) -> None:
    """Make the running lab play a firmware update (some phones lose 112), or its fix."""
    from fleet.lab import run

    raise typer.Exit(_run(run.lab_rollout, out, count, lose_112, fix))


def _syntaxes() -> list[str]:
    from fleet import dialplan

    listed = getattr(dialplan, "syntaxes", None)  # the registry's, once dialplan has one
    return list(listed() if callable(listed) else dialplan.SYNTAXES)


Syntax = StrEnum("Syntax", [(name, name) for name in _syntaxes()])  # type: ignore[misc]


@dialplan_app.command("eval")
def dialplan_eval(
    plan: Annotated[
        str, typer.Argument(metavar="PLAN", help="the dial plan as the phone holds it")
    ],
    digits: Annotated[list[str], typer.Argument(metavar="DIGITS", help="digit strings to dial")],
    syntax: Annotated[Syntax, typer.Option("--syntax", help="the plan's syntax")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    fmt: LineFmtOpt = LineFmt("table"),
    explain: Annotated[bool, typer.Option(help="show each step of the evaluation")] = False,
    option: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=VALUE",
            help="a companion parameter the phone reads beside the plan (timers, modes,"
            " rules); names and values the engine does not take are refused",
        ),
    ] = None,
) -> None:
    """Evaluate a dial plan for dialled digit strings."""
    from fleet import commands

    as_json = _fmt(fmt, as_json) == "json"
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
    numbers: Annotated[list[str], typer.Argument(metavar="NUMBER", help="called numbers")],
    host: Annotated[str | None, typer.Option(help="the SBC's id in the inventory")] = None,
    source: Annotated[
        str | None,
        typer.Option(help="where the call comes from: an address, or an IP group / realm name"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    fmt: LineFmtOpt = LineFmt("table"),
    explain: Annotated[
        bool,
        typer.Option(
            help="show how the route was chosen and, on an emergency call, whether the SBC"
            " adds the caller's location"
        ),
    ] = False,
) -> None:
    """Which route an SBC picks for a called number, what leaves, on which trunk."""
    from fleet import commands

    as_json = _fmt(fmt, as_json) == "json"
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


def _stop(signum: int, _frame: object) -> None:
    """SIGTERM (systemd, kill) and SIGINT (Ctrl-C): the run stops once, and unwinds:
    connections close, nothing is half-stored, and nothing is stored after the stop."""
    import asyncio

    _SIGNALS.append(signum)
    stopped = getattr(sys.modules.get("fleet.app"), "STOPPED", None)
    if stopped is not None:
        stopped.append(signum)  # fleet.app saves nothing once this is set
    if len(_SIGNALS) > 1:
        # stopping already and asked again (an impatient Ctrl-C, systemd's second SIGTERM):
        # end now, without the traceback that breaking into the unwinding would print.
        # Nothing is lost: SQLite rolls back an unfinished write when the store next opens.
        _exit_interrupted()
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise KeyboardInterrupt from None
    # In the event loop a KeyboardInterrupt raised in the middle of some task leaves it
    # holding the exception ("Task exception was never retrieved") and the rest torn down
    # by asyncio.run's shutdown ("unhandled exception during asyncio.run() shutdown"):
    # cancel instead, so every task unwinds through its own cleanup.
    loop.call_soon_threadsafe(_cancel_tasks, loop)


def _cancel_tasks(loop: Any) -> None:
    import asyncio

    # None left: asyncio.run is closing its loop (breaking into that leaves its own shutdown
    # coroutines never awaited); fleet.app stops the run before it saves anything.
    for t in asyncio.all_tasks(loop):
        t.cancel()


_NOTED: list[int] = []  # the interrupted note was printed


def _interrupted() -> int:
    """Say once, truly, what a stopped run left stored; its exit code (128 + the signal)."""
    import signal

    if not _NOTED:
        _NOTED.append(1)
        # fleet.app not loaded: the run never came near the store
        # (or half-imported when the signal came)
        note_of = getattr(sys.modules.get("fleet.app"), "interrupted_note", None)
        note = note_of() if note_of else "nothing of this run was stored"
        # os.write: this may run in a signal handler, in the middle of another write
        os.write(2, f"fleet: interrupted; {note}\n".encode())
    return 128 + (_SIGNALS[0] if _SIGNALS else signal.SIGINT)


def _exit_interrupted() -> NoReturn:
    """Exit a stopped run at once, its note said: Python's own teardown (joining the worker
    threads of sessions abandoned mid-way, then putting back the default signal handlers)
    would let one more signal kill the process without a word, or keep it waiting."""
    code = _interrupted()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        _exit_interrupted()
    except SystemExit:
        if _SIGNALS:  # stopped (outside a command's own boundary typer says 130, no more)
            _exit_interrupted()
        raise
    except Exception as e:  # outside any command's own boundary: still exit 2, no traceback
        from fleet.errors import bug_text

        typer.echo(f"fleet: {bug_text('start', 'command', e)}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
