"""Secret canaries: a distinct canary in every password family each vendor documents (every
account index the model supports, web/admin, SNMP, LDAP/XSI, provisioning, enable/secret
lines), also on malformed lines, then every output is searched for every canary: the store's
bytes, the JSON, CSV, HTML, JUnit and table reports, the email with its zipped attachment,
and what `fleet audit` prints. Target: none seen.

The families, and the documents they come from, are in each profile's README ("Secrets").
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fleet import app, report
from fleet.audit import audit
from fleet.check import golden as golden_mod
from fleet.report import csv_report, email, html
from fleet.store import Store
from tests.conftest import ROOT, run_fleet

SAMPLES = ROOT / "device_profiles"
GOLDEN = ROOT / "inventory/golden-uk.yaml"


@dataclass
class Planter:
    """Hands out canaries: each is distinct and remembers which family it stands for."""

    families: dict[str, str] = field(default_factory=dict)

    def __call__(self, family: str) -> str:
        canary = f"zqx{len(self.families):04d}cnry"
        self.families[canary] = family
        return canary


Case = Callable[[Planter], dict[str, str]]  # -> {relative file path: text}


def _append(text: str, lines: list[str]) -> str:
    return text.rstrip("\n") + "\n" + "\n".join(lines) + "\n"


def _insert_before(text: str, marker: str, lines: list[str]) -> str:
    at = text.rindex(marker)
    return text[:at] + "\n".join(lines) + "\n" + text[at:]


def yealink(p: Planter) -> dict[str, str]:
    base = (SAMPLES / "yealink/samples/digitmap/001565c0ffee.cfg").read_text()
    lines = []
    for n in range(1, 17):  # T5x/T4xU: up to 16 accounts (account.X, X = 1..16)
        lines.append(f"account.{n}.password = {p(f'account.{n}.password')}")
        lines.append(f"account.{n}.xsi.password = {p(f'account.{n}.xsi.password')}")
        lines.append(f"account.{n}.sip_server.2.address = sip:2001:{p('sip userinfo')}@sbc")
    lines += [
        f"static.auto_provision.server.password = {p('provisioning password')}",
        f"static.auto_provision.server.url = https://prov:{p('provisioning URL')}@prov.example",
        f"static.security.user_password = admin:{p('static.security.user_password')}",
        f"ldap.password = {p('ldap.password')}",
        f"static.network.802_1x.password = {p('802.1X password')}",
        f"static.wifi.1.password = {p('Wi-Fi password')}",
    ]
    broken = _append(base, [f"account.1.password {p('account.1.password without =')}"])
    return {"y/001565c0ffee.cfg": _append(base, lines), "y-bad/001565c0ffee.cfg": broken}


def grandstream(p: Planter) -> dict[str, str]:
    from device_profiles.grandstream import profile as gs

    xml = (SAMPLES / "grandstream/samples/cfg000b82a1b2c3.xml").read_text()
    txt = (SAMPLES / "grandstream/samples/gxp2170-pvalues.txt").read_text()
    keys = [*gs.ACCOUNT_PASSWORDS, *gs.OTHER_SECRETS]
    xml_lines = [f"    <{k}>{p(k)}</{k}>" for k in keys]
    txt_lines = [f"{k} = {p(k + ' (text form)')}" for k in keys]
    # version 2 files name the parameters (GRP261x v2 template: account.N.sip.subscriber.password)
    v2 = (ROOT / "tests/conformance/grandstream/wazo-v2-grp2614/cfg000b82a10002.xml").read_text()
    v2_lines = [
        f'    <item name="account.{n}.sip.subscriber.password">{p(f"v2 account {n}")}</item>'
        for n in range(1, 17)
    ]
    v2_lines.append(f'    <item name="users.admin.password">{p("v2 users.admin.password")}</item>')
    return {
        "g-v2/cfg000b82a10002.xml": _insert_before(v2, "</config>", v2_lines),
        "g/cfg000b82a1b2c3.xml": _insert_before(xml, "</config>", xml_lines),
        "g-txt/gxp2170-pvalues.txt": _append(txt, txt_lines),
    }


def cisco_mpp(p: Planter) -> dict[str, str]:
    base = (SAMPLES / "cisco_mpp/samples/cp8851-00562b043615.xml").read_text()
    lines = [f"<Password_{n}_>{p(f'Password_{n}_')}</Password_{n}_>" for n in range(1, 17)]
    lines += [
        f"<Admin_Passwd>{p('Admin_Passwd')}</Admin_Passwd>",
        f"<User_Password>{p('User_Password')}</User_Password>",
        f"<Auth_Resync_Secret>{p('Auth_Resync_Secret')}</Auth_Resync_Secret>",
        f"<Profile_Rule_D>[--key {p('Profile_Rule --key')} ]https://prov/x.xml</Profile_Rule_D>",
    ]
    return {"m/cp8851-00562b043615.xml": _insert_before(base, "</flat-profile>", lines)}


def snom(p: Planter) -> dict[str, str]:
    base = (SAMPLES / "snom/samples/000413C7D8E9.xml").read_text()
    lines = [
        f'    <user_pass idx="{n}" perm="R">{p(f"user_pass{n}")}</user_pass>' for n in range(3, 13)
    ]
    lines += [
        f'    <admin_mode_password perm="R">{p("admin_mode_password")}</admin_mode_password>',
        f'    <http_pass perm="R">{p("http_pass")}</http_pass>',
        f'    <ldap_password perm="R">{p("ldap_password")}</ldap_password>',
        '    <settings_refresh_timer perm="R">0</settings_refresh_timer>',
    ]
    return {"s/000413C7D8E9.xml": _insert_before(base, "</phone-settings>", lines)}


def polycom(p: Planter) -> dict[str, str]:
    base = (SAMPLES / "polycom/samples/sip-nested.cfg").read_text()
    regs = " ".join(f'reg.{n}.auth.password="{p(f"reg.{n}.auth.password")}"' for n in range(3, 35))
    lines = [
        f"  <more {regs}/>",
        f'  <auth device.auth.localAdminPassword="{p("localAdminPassword")}" '
        f'device.auth.localUserPassword="{p("localUserPassword")}" '
        f'device.prov.password="{p("device.prov.password")}" '
        f'dir.corp.password="{p("dir.corp.password")}" '
        f'device.sec.configEncryption.key="{p("configEncryption.key")}"/>',
    ]
    return {"p/sip-nested.cfg": _insert_before(base, "</sip>", lines)}


def avaya(p: Planter) -> dict[str, str]:
    folder = SAMPLES / "avaya/conformance/wazo-j100-4.1.3-3pcc"
    base = (folder / "c81fea83e85a.cfg").read_text()
    lines = [
        f'SET FORCE_SIP_PASSWORD "{p("FORCE_SIP_PASSWORD")}"',
        f'SET ADMIN_PASSWORD "{p("ADMIN_PASSWORD")}"',
        f'SET PROCPSWD "{p("PROCPSWD")}"',
        f'SET SNMPSTRING "{p("SNMPSTRING")}"',
        f'SET FORCE_WEB_ADMIN_PASSWORD "{p("FORCE_WEB_ADMIN_PASSWORD")}"',
        f'SET DIRPASSWORD "{p("DIRPASSWORD")}"',
    ]
    return {"a/c81fea83e85a.cfg": _append(base, lines)}


def audiocodes(p: Planter) -> dict[str, str]:
    ini = (SAMPLES / "audiocodes/samples/man-sbc-1.ini").read_text()
    cli = (SAMPLES / "audiocodes/samples/lon-sbc-1.txt").read_text()
    snmp = [
        "[SNMP Params]",
        f"SNMPReadOnlyCommunityString_0 = '{p('SNMPReadOnlyCommunityString')}'",
        f"SNMPReadWriteCommunityString_0 = '{p('SNMPReadWriteCommunityString')}'",
        f"SNMPTrapCommunityString = '{p('SNMPTrapCommunityString')}'",
        f"LDAPConfPassword = '{p('LDAPConfPassword')}'",
        "",
        "[ Account ]",
        "FORMAT Index = ServedIPGroupName, ServingIPGroupName, Username, Password, HostName;",
        f'Account 0 = "PBX", "ITSP", "user", "{p("Account Password")}", "carrier";',
        "[ \\Account ]",
        "",
    ]
    bad = _append(ini, ["[SNMP Params]", f"SNMPReadOnlyCommunityString_0 '{p('without =')}'"])
    cli_lines = [
        "configure system",
        " snmp settings",
        f'  ro-community-string "{p("ro-community-string")}"',
        f'  rw-community-string "{p("rw-community-string")}"',
        " exit",
        "exit",
    ]
    return {
        "ac/man-sbc-1.ini": _append(ini, snmp),
        "ac-bad/man-sbc-1.ini": bad,
        "ac-cli/lon-sbc-1.txt": _append(cli, cli_lines),
    }


def cisco_cube(p: Planter) -> dict[str, str]:
    base = (SAMPLES / "cisco_cube/samples/cube-lon-hq.cfg").read_text()
    lines = [
        f"enable password {p('enable password')}",
        f"username ops privilege 15 secret 0 {p('username secret')}",
        f"username ro password 7 {p('username password')}",
        f"snmp-server community {p('snmp-server community')} RO",
        f"tacacs-server key 7 {p('tacacs-server key')}",
        "key chain K",
        " key 1",
        f"  key-string {p('key-string')}",
    ]
    at = base.rindex("\nend")
    return {"c/cube-lon-hq.cfg": base[:at] + "\n" + "\n".join(lines) + base[at:]}


def acme_packet(p: Planter) -> dict[str, str]:
    base = (SAMPLES / "acme_packet/samples/lon-esbc-1.txt").read_text()
    pad = " " * 8

    def row(name: str, value: str, indent: int = 1) -> str:
        return f"{pad * indent}{name:<40}{value}"

    lines = [
        "snmp-community",
        row("community-name", p("community-name")),
        row("access-mode", "READ-ONLY"),
        "session-agent",
        row("hostname", "carrier-auth.example.net"),
        row("auth-attribute", ""),
        row("auth-realm", "carrier", 2),
        row("username", "trunk", 2),
        row("password", p("auth-attribute password"), 2),
        # security > authentication > radius-servers / tacacs-servers: their shared secrets
        "authentication",
        row("radius-servers", ""),
        row("address", "10.20.0.40", 2),
        row("secret", p("radius-servers secret"), 2),
        row("tacacs-servers", ""),
        row("address", "10.20.0.41", 2),
        row("secret", p("tacacs-servers secret"), 2),
    ]
    return {"ap/lon-esbc-1.txt": base.replace("task done", "\n".join(lines) + "\ntask done")}


CASES: dict[str, Case] = {
    "yealink": yealink,
    "grandstream": grandstream,
    "cisco_mpp": cisco_mpp,
    "snom": snom,
    "polycom": polycom,
    "avaya": avaya,
    "audiocodes": audiocodes,
    "cisco_cube": cisco_cube,
    "acme_packet": acme_packet,
}


def _zip_texts(msg_bytes: bytes) -> list[str]:
    import email as email_pkg

    out = []
    for part in email_pkg.message_from_bytes(msg_bytes).walk():
        if part.get_content_type() == "application/zip":
            with zipfile.ZipFile(io.BytesIO(part.get_payload(decode=True))) as z:
                out += [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
        elif not part.is_multipart():
            out.append(str(part.get_payload(decode=True) or b"", "utf-8", "replace"))
    return out


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("canaries")
    planter = Planter()
    folder = tmp / "files"
    for case in CASES.values():
        for rel, text in case(planter).items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
    return tmp, folder, planter


def test_every_profile_and_family_is_planted(planted) -> None:
    from fleet import profiles

    _tmp, folder, planter = planted
    readable = {n for n, p in profiles.registry().items() if p.parse_files is not None}
    assert readable <= set(CASES), f"profiles without canaries: {readable - set(CASES)}"
    assert len(planter.families) > 200
    snap = audit([folder], golden_mod.load(GOLDEN))
    # The canaries sit in files the profiles read, so "not leaked" means "redacted": every
    # file is audited, but for the AudioCodes ini whose malformed line the device refuses.
    assert {r.profile for r in snap.results} >= set(CASES)
    status = {Path(r.files[0]).relative_to(folder).as_posix(): r.status for r in snap.results}
    assert status.pop("ac-bad/man-sbc-1.ini") == "error"
    assert set(status.values()) == {"audited"}, status
    masked = sum(v == "********" for r in snap.results if r.state for v in r.state.raw.values())
    assert masked >= len(planter.families) - 2  # the two malformed ones aside


def test_no_canary_reaches_any_output(planted) -> None:
    tmp, folder, planter = planted
    snap = audit([folder], golden_mod.load(GOLDEN))
    db = tmp / "store.db"
    outputs: dict[str, str] = {}
    with Store(db) as st:
        st.save(snap)
        ctx = app.context_for(st, snap)
        page = html.render(ctx)
        outputs["html"] = page
        opts = email.EmailOptions(to=["oncall@example.net"], smtp="127.0.0.1:25")
        msg = email.build(ctx, opts, page).as_bytes()
        outputs["email"] = msg.decode("utf-8", "replace")
        outputs["email parts"] = "\n".join(_zip_texts(msg))
    for fmt in ("json", "junit", "table"):
        outputs[fmt] = report.render(snap, fmt, color=False, show_all=True)
    outputs["csv"] = csv_report.render(snap)
    outputs["store"] = b"".join(p.read_bytes() for p in tmp.glob("store.db*")).decode("latin-1")
    proc = run_fleet(
        "audit", str(folder), "--golden", str(GOLDEN), "--format", "json", "--store",
        str(tmp / "cli.db"), "--all",
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    outputs["cli stdout"], outputs["cli stderr"] = proc.stdout, proc.stderr
    outputs["cli store"] = (tmp / "cli.db").read_bytes().decode("latin-1")
    assert json.loads(proc.stdout)["devices"], "the CLI audited nothing"
    pattern = re.compile("|".join(planter.families))
    leaked = sorted(
        {f"{planter.families[m]} in {where}" for where, text in outputs.items()
         for m in pattern.findall(text)}
    )  # fmt: skip
    assert not leaked, f"{len(leaked)} canaries leaked:\n" + "\n".join(leaked)


# The SBCs' CLI, swept over SSH: the canaries sit in what `show running-config` prints.
SWEPT_SBC_LINES: dict[str, Callable[[Planter], tuple[str, str]]] = {
    # (text to add, the line it goes before: "" = at the end)
    "audiocodes": lambda p: (
        "configure system\n snmp settings\n"
        f'  ro-community-string "{p("ro-community-string (swept)")}"\n exit\n'
        f" bad layout\n\tpassword {p('password on a line out of layout')}\nexit\n",
        "",
    ),
    "cisco_cube": lambda p: (
        f"enable secret 0 {p('enable secret (swept)')}\n"
        f"username ops privilege 15 password 0 {p('username password (swept)')}\n"
        f"snmp-server community {p('snmp-server community (swept)')} RO\n",
        "end\n",
    ),
    "acme_packet": lambda p: (
        "snmp-community\n"
        f"        community-name                          {p('community (swept)')}\n"
        "session-agent\n        hostname                                auth.example.net\n"
        "        auth-attribute\n"
        f"                password                                {p('auth password (swept)')}\n",
        "task done\n",
    ),
}


def test_no_canary_reaches_any_output_of_an_ssh_sweep(tmp_path: Path) -> None:
    from tests.conftest import running_lab

    planter = Planter()
    with running_lab(tmp_path / "lab", 2, net_from=160, faults=False) as lab:
        for spec in lab.fleet.sbcs:
            if spec.profile not in SWEPT_SBC_LINES:
                continue
            dev = lab.fleet.ssh.devices[spec.id]
            text, before = SWEPT_SBC_LINES[spec.profile](planter)
            at = dev.config.rindex(before) if before else len(dev.config)
            dev.config = dev.config[:at] + text + dev.config[at:]
        store = tmp_path / "s.db"
        outputs: dict[str, str] = {}
        proc = run_fleet("sweep", str(lab.inventory), "--golden", str(lab.golden), "--format",
                         "json", "--store", str(store), cwd=lab.folder)  # fmt: skip
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
        outputs["sweep stdout"], outputs["sweep stderr"] = proc.stdout, proc.stderr
        devices = {d["profile"]: d for d in json.loads(proc.stdout)["devices"]}
        # the two the CLI reads cleanly are audited; AudioCodes refuses the out-of-layout line
        assert devices["cisco_cube"]["status"] == devices["acme_packet"]["status"] == "audited"
        assert devices["audiocodes"]["status"] == "error"
        for fmt in ("html", "csv", "junit", "table"):
            out = tmp_path / f"r.{fmt}"
            rep = run_fleet("report", "--format", fmt, "--store", str(store), "--output", str(out),
                            cwd=lab.folder)  # fmt: skip
            assert rep.returncode in (0, 1), rep.stderr[-2000:]
            outputs[fmt] = out.read_text() + rep.stderr
    outputs["store"] = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*")).decode("latin-1")
    assert len(planter.families) == 7
    pattern = re.compile("|".join(planter.families))
    leaked = sorted({f"{planter.families[m]} in {where}" for where, text in outputs.items()
                     for m in pattern.findall(text)})  # fmt: skip
    assert not leaked, f"{len(leaked)} canaries leaked:\n" + "\n".join(leaked)
