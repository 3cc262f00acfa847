"""AudioCodes Mediant SBC profile: routing as the box applies it (each table row cites the
User's Manual section it follows), the .ini and CLI readers, and the lab SBC over real SSH with
fleet's run_cli and netmiko's audiocode_72 driver."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import netmiko
import pytest

from device_profiles.audiocodes import simulator
from device_profiles.audiocodes.routing import prefix_match
from fleet import profiles
from fleet.collect.ssh import Platform, SshOptions, SshTarget, run_cli
from fleet.errors import AuthFailed, ConfigFileError, DeviceError
from fleet.lab import sbc as labsbc
from fleet.lab.spec import LabSbc
from fleet.model import DeviceState
from fleet.redact import MASK, redact_params

# The registry's profile: platform.yaml and folder attached.
PROFILE = profiles.get("audiocodes")
SAMPLES = Path(PROFILE.folder or "") / "samples"
NET = 91
PORT = 8022
CONFIG_COMMAND = "show running-config"


def _spec(n: int = 1, fault: str | None = None, **kw: str) -> LabSbc:
    return LabSbc(
        id=f"t-sbc-{n}",
        profile="audiocodes",
        site="lon",
        address=f"127.{NET}.255.{n}",
        port=PORT,
        hostname="lon-sbc-1",
        admin_user=simulator.ADMIN_USER,
        admin_password=kw.get("admin_password", "lab-admin-Zq8v"),
        enable_password="lab-enable-Xw3",
        phone_networks=["127.10.0.0/16"],
        emergency_numbers=["999", "112"],
        fault=fault,
    )


def _state(name: str) -> DeviceState:
    assert PROFILE.parse_files and PROFILE.to_state
    text = (SAMPLES / name).read_text()
    return PROFILE.to_state(PROFILE.parse_files(name, text, lambda _: None))


def _route(state: DeviceState, number: str, source: str | None) -> tuple:
    assert PROFILE.route
    d = PROFILE.route(state, number, source)
    return d.outcome, d.route, d.sent, d.trunk, d.priority


# Dialing Plan Notation for Routing and Manipulation (User's Manual, "Dialing Plan Notation
# for Routing and Manipulation" / 7.6 "Phone Number Patterns for Routing and Manipulation").
@pytest.mark.parametrize(
    ("pattern", "number", "match"),
    [
        ("*", "999", True),  # '*' on its own: any number
        ("999#", "999", True),  # '#' at the end: end of number
        ("999#", "9999", False),
        ("999", "9991", True),  # no '#': a prefix
        ("54324xx#", "5432412", True),  # 'x': any single digit (manual's example)
        ("54324xx#", "543241", False),
        ("[4-8]", "5", True),  # range in square brackets
        ("[4-8]", "9", False),
        ("23xx[456]", "23114", True),  # manual's example: one of 4, 5, 6
        ("[5551200-5551300]#", "5551250", True),  # manual's range example
        ("[5551200-5551300]#", "5551301", False),
        ("0370105[081,213-218]", "0370105215", True),  # list form, real ini PREFIX table
        ("134[#]", "134#5", True),  # '[#]': the pound key itself
        ("$", "", True),  # '$': empty user part
        ("$", "1", False),
    ],
)
def test_prefix_notation(pattern: str, number: str, match: bool) -> None:
    assert prefix_match(pattern, number) is match


# "Configuring SBC IP-to-IP Routing": rows are searched top to bottom, first match wins, no
# match rejects; "Configuring Classification Rules": a phone address classifies to its IP
# Group; "Configuring Call Preemption for SBC Emergency Calls": the Emergency Message Condition
# (here header.to.url.user=='999' OR ...=='112') marks emergency calls when SBC Preemption
# Mode is enabled.
CLI_CASES = [
    # number, source, (outcome, route, sent, trunk, priority)
    (
        "999",
        "10.10.4.7",
        ("routed", "IP2IPRouting 1 (Emergency 999)", "999", "IPG_Carrier_Emergency", "emergency"),
    ),
    (
        "112",
        "10.10.4.7",
        ("routed", "IP2IPRouting 2 (Emergency 112)", "112", "IPG_Carrier_Emergency", "emergency"),
    ),
    (
        "02079460000",
        "10.10.4.7",
        ("routed", "IP2IPRouting 3 (Phones to Carrier A)", "02079460000", "IPG_Carrier_A", None),
    ),
    # '999#' ends the number: 9990 is a normal call to the catch-all row
    (
        "9990",
        "10.10.4.7",
        ("routed", "IP2IPRouting 3 (Phones to Carrier A)", "9990", "IPG_Carrier_A", None),
    ),
    # None = from the phone-facing side: the phones' Classification rule's IP Group
    (
        "999",
        None,
        ("routed", "IP2IPRouting 1 (Emergency 999)", "999", "IPG_Carrier_Emergency", "emergency"),
    ),
    # a source IP Group by name
    (
        "01632960000",
        "IPG_Carrier_A",
        ("routed", "IP2IPRouting 4 (Carrier to Phones)", "01632960000", "IPG_Phones", None),
    ),
    # Classify by Proxy Set: the carrier's proxy address is IP Group IPG_Carrier_A
    (
        "2001",
        "198.51.100.20",
        ("routed", "IP2IPRouting 4 (Carrier to Phones)", "2001", "IPG_Phones", None),
    ),
    # no Proxy Set address and no Classification rule: classification fails, call rejected
    ("999", "192.0.2.99", ("rejected", None, None, None, None)),
]


@pytest.mark.parametrize(("number", "source", "want"), CLI_CASES)
def test_route_cli_sample(number: str, source: str | None, want: tuple) -> None:
    assert _route(_state("lon-sbc-1.txt"), number, source) == want


# The ini sample adds an inbound Message Manipulation (IP Group Inbound Message Manipulation
# Set 1) that removes an outside-line '9' from 4+-digit Request-URI users. The SBC evaluates
# the emergency condition after classification but before inbound manipulation ("SBC
# Supplementary Services" > 'Emergency Message Condition' note), and routes on the manipulated
# number: 9999 reaches the emergency trunk as 999, without emergency priority.
INI_CASES = [
    (
        "999",
        "10.31.0.8",
        ("routed", "IP2IPRouting 1 (Emergency 999)", "999", "IPG_Carrier_Emergency", "emergency"),
    ),
    (
        "112",
        "10.31.0.8",
        ("routed", "IP2IPRouting 2 (Emergency 112)", "112", "IPG_Carrier_Emergency", "emergency"),
    ),
    (
        "9999",
        "10.31.0.8",
        ("routed", "IP2IPRouting 1 (Emergency 999)", "999", "IPG_Carrier_Emergency", None),
    ),
    (
        "9112",
        "10.31.0.8",
        ("routed", "IP2IPRouting 2 (Emergency 112)", "112", "IPG_Carrier_Emergency", None),
    ),
    (
        "901612345678",
        "10.31.0.8",
        ("routed", "IP2IPRouting 3 (Phones to Carrier A)", "01612345678", "IPG_Carrier_A", None),
    ),
    (
        "99",
        "10.31.0.8",
        ("routed", "IP2IPRouting 3 (Phones to Carrier A)", "99", "IPG_Carrier_A", None),
    ),
    ("999", "10.20.0.8", ("rejected", None, None, None, None)),
]


@pytest.mark.parametrize(("number", "source", "want"), INI_CASES)
def test_route_ini_sample(number: str, source: str | None, want: tuple) -> None:
    assert _route(_state("man-sbc-1.ini"), number, source) == want


def test_options_row_does_not_route_invites() -> None:
    # Row 0 matches Request Type OPTIONS only (IP2IPRouting_RequestType [6]); an INVITE
    # passes it by. Routing steps say why the winning row won.
    assert PROFILE.route
    d = PROFILE.route(_state("lon-sbc-1.txt"), "999", "10.10.4.7")
    assert any("first match in table order" in s for s in d.steps)
    assert any("emergency priority" in s for s in d.steps)


def test_state_of_both_formats() -> None:
    cli, ini = _state("lon-sbc-1.txt"), _state("man-sbc-1.ini")
    assert cli.sbc and ini.sbc
    assert cli.sbc.addresses == ["10.20.0.2:5060", "192.0.2.10:5060"]
    assert ini.sbc.addresses == ["10.30.0.2:5060", "203.0.113.40:5060"]
    for st in (cli, ini):
        assert st.sbc and st.sbc.emergency_numbers == ["999", "112"]
        assert st.sbc.trunks == ["IPG_Phones", "IPG_Carrier_A", "IPG_Carrier_Emergency"]
        assert [r.target for r in st.sbc.routes] == [
            "Internal",
            "IPG_Carrier_Emergency",
            "IPG_Carrier_Emergency",
            "IPG_Carrier_A",
            "IPG_Phones",
        ]
    assert (ini.model, ini.firmware) == ("Mediant VE SBC", "7.40A.250.001")


def test_ini_70_prefixed_columns_and_errors() -> None:
    # Firmware 7.0 writes FORMAT IP2IPRouting_Index = IP2IPRouting_RouteName, ... (Mediant
    # 1000 7.00A ini, AsBuiltReport.AudioCodes.Mediant Tests/Res/M1000.ini).
    assert PROFILE.parse_files
    text = (
        "[ IP2IPRouting ]\n\nFORMAT IP2IPRouting_Index = IP2IPRouting_RouteName, "
        "IP2IPRouting_SrcIPGroupName, IP2IPRouting_DestUsernamePrefix, IP2IPRouting_DestType, "
        "IP2IPRouting_DestIPGroupName;\n"
        'IP2IPRouting 0 = "All", "Any", "*", 0, "Carrier";\n\n[ \\IP2IPRouting ]\n'
    )
    c = PROFILE.parse_files("old.ini", text, lambda _: None)
    assert c.params["IP2IPRouting/0/DestIPGroupName"] == "Carrier"
    with pytest.raises(ConfigFileError) as e:
        PROFILE.parse_files("bad.ini", text.replace('"Carrier";', '"Carrier", 7;'), lambda _: None)
    assert e.value.line == 4
    with pytest.raises(ConfigFileError):
        PROFILE.parse_files("x.txt", "hello\n", lambda _: None)


def test_secrets_are_redacted_from_both_formats() -> None:
    assert PROFILE.parse_files and PROFILE.to_state
    for name, keys in (
        ("lon-sbc-1.txt", ["voip/ip-group/2/password"]),
        (
            "man-sbc-1.ini",
            [
                "IPGroup/2/PasswordAsClient",
                "WebUsers/0/Password",
                "WebUsers/0/PwNonce",
                "SNMPREADONLYCOMMUNITYSTRING_0",
            ],
        ),
    ):
        c = PROFILE.parse_files(name, (SAMPLES / name).read_text(), lambda _: None)
        secrets = [c.params[k] for k in keys]
        c.params = redact_params(c.params, PROFILE)
        raw = PROFILE.to_state(c).raw
        for k, secret in zip(keys, secrets, strict=True):
            assert raw[k] == MASK
            assert secret not in str(raw)


# --- the lab SBC over SSH -----------------------------------------------------------------


class _Lab:
    def __init__(self, specs: list[LabSbc], folder: Path) -> None:
        self.specs = specs
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.running = asyncio.run_coroutine_threadsafe(labsbc.start(specs), self.loop).result(30)
        self.known_hosts = folder / "known_hosts"
        self.known_hosts.write_text("\n".join(self.running.known_hosts) + "\n")

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.running.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Lab]:
    specs = [_spec(1)] + [_spec(n, f) for n, f in enumerate(simulator.FAULTS, start=2)]
    lab = _Lab(specs, tmp_path_factory.mktemp("audiocodes"))
    yield lab
    lab.close()


def _run(
    spec: LabSbc, known_hosts: Path, password: str | None = None, enable: str | None = None
) -> dict[str, str]:
    assert PROFILE.platform
    target = SshTarget(
        spec.address,
        spec.port,
        spec.admin_user,
        spec.admin_password if password is None else password,
        spec.enable_password if enable is None else enable,
        options=SshOptions(known_hosts=str(known_hosts)),
    )
    return asyncio.run(run_cli(target, Platform.from_dict(PROFILE.platform), asyncio.Semaphore(5)))


def _cli_state(out: dict[str, str]) -> DeviceState:
    assert PROFILE.parse_files and PROFILE.to_state
    return PROFILE.to_state(
        PROFILE.parse_files(CONFIG_COMMAND, out[CONFIG_COMMAND], lambda _: None)
    )


def test_run_cli_reads_the_lab_sbc(lab: _Lab) -> None:
    spec = lab.specs[0]
    out = _run(spec, lab.known_hosts)
    assert out[CONFIG_COMMAND] == lab.running.devices[spec.id].config
    state = _cli_state(out)
    assert state.sbc is not None
    assert f"{spec.address}:5060" in state.sbc.addresses
    assert {simulator.EMERGENCY_TRUNK, simulator.NORMAL_TRUNK} <= set(state.sbc.trunks)
    assert state.sbc.emergency_numbers == ["999", "112"]
    for n in ("999", "112"):
        assert _route(state, n, "127.10.3.9")[2:] == (n, simulator.EMERGENCY_TRUNK, "emergency")
    assert _route(state, "02079460000", "127.10.3.9")[2:] == (
        "02079460000",
        simulator.NORMAL_TRUNK,
        None,
    )
    # paging was switched off the way netmiko's driver does it
    cmds = lab.running.devices[spec.id].commands
    assert cmds[:6] == [
        "enable",
        "config system",
        "cli-settings",
        "window-height 0",
        "exit",
        "exit",
    ]


def test_netmiko_audiocode_72_reads_the_same_configuration(lab: _Lab) -> None:
    spec = lab.specs[0]
    got: dict[str, str] = {}

    def work() -> None:
        conn = netmiko.ConnectHandler(
            device_type="audiocode_72",
            host=spec.address,
            port=spec.port,
            username=spec.admin_user,
            password=spec.admin_password,
            secret=spec.enable_password,
            ssh_strict=False,
        )
        try:
            got["out"] = conn.send_command(CONFIG_COMMAND)
        finally:
            conn.disconnect()

    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert got["out"].strip() == lab.running.devices[spec.id].config.strip()
    assert "window-height automatic" in lab.running.devices[spec.id].commands


@pytest.mark.parametrize("fault", sorted(simulator.FAULTS))
def test_faults_show_in_route(lab: _Lab, fault: str) -> None:
    spec = next(s for s in lab.specs if s.fault == fault)
    state = _cli_state(_run(spec, lab.known_hosts))
    broken = {subject for _, subject in simulator.FAULT_EXPECT[fault]}
    for n in ("999", "112"):
        outcome, _, sent, trunk, _ = _route(state, n, "127.10.3.9")
        ok = outcome == "routed" and sent == n and trunk == simulator.EMERGENCY_TRUNK
        assert ok is (n not in broken), (fault, n, sent, trunk)


def test_wrong_password_is_auth_failed(lab: _Lab) -> None:
    with pytest.raises(AuthFailed):
        _run(lab.specs[0], lab.known_hosts, password="not-it")
    with pytest.raises(AuthFailed):
        _run(lab.specs[0], lab.known_hosts, enable="not-it")


def test_unknown_host_key_is_refused(lab: _Lab, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(DeviceError):
        _run(lab.specs[0], empty)


def test_lab_capture_is_detected_as_audiocodes(lab: _Lab) -> None:
    assert profiles.detect(lab.running.devices[lab.specs[0].id].config) is PROFILE
