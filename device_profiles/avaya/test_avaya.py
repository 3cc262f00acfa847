"""Avaya J100 profile: the settings-script language, the per-phone chain, DIALPLAN, secrets,
and the read over the file server (README.md beside this file cites every rule tested)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from device_profiles.avaya import dialplan as avaya_plan
from device_profiles.avaya import profile as avaya
from fleet import dialplan
from fleet.collect.http import HttpHost, HttpPool, TlsOptions
from fleet.errors import ConfigFileError, DeviceError
from fleet.model import Collected, DeviceState, Finding
from fleet.redact import redact_params

PROFILE = avaya.PROFILE


def files(**named: str) -> Callable[[str], str | None]:
    table = {k.replace("__", "."): v for k, v in named.items()}
    return table.get


def parse(text: str, name: str = "46xxsettings.txt", **siblings: str) -> Collected:
    return avaya.parse_files(name, text, files(**siblings))


def state(text: str, name: str = "46xxsettings.txt", **siblings: str) -> DeviceState:
    return avaya.to_state(parse(text, name, **siblings))


def rules(notices: list[Finding]) -> list[tuple[str, str]]:
    return [(n.rule, n.subject) for n in notices]


# ---- the file format -----------------------------------------------------------------


def test_set_quotes_comments_and_trailing_notes() -> None:
    c = parse(
        "## a comment\n"
        'SET PHNEMERGNUM "911"\n'
        "SET GMTOFFSET -5:00\n"
        "SET SIP_CONTROLLER_LIST 10.0.0.5:5061;transport=tls   ## the SBC\n"
        "SET EMPTY\n"
        'SET QUOTED ""\n'
    )
    assert c.params == {
        "PHNEMERGNUM": "911",
        "GMTOFFSET": "-5:00",
        "SIP_CONTROLLER_LIST": "10.0.0.5:5061;transport=tls",
        "EMPTY": "",
        "QUOTED": "",
    }
    assert c.notices == []


def test_later_set_wins() -> None:
    assert parse("SET DIALPLAN 911\nSET DIALPLAN 999\n").params["DIALPLAN"] == "999"


def test_if_model_goto_label_runs_one_branch() -> None:
    text = (
        "IF $MODEL4 SEQ J129 GOTO J129\n"
        "IF $MODEL4 SEQ J179 GOTO J179\n"
        "GOTO END\n"
        "# J129\n"
        "SET PHNEMERGNUM 999\n"
        "GOTO END\n"
        "# J179\n"
        "SET PHNEMERGNUM 112\n"
        "# END\n"
    )
    c = parse(text)
    # The model is unknown from a file: read as a J179, and the difference is reported.
    assert c.params["PHNEMERGNUM"] == "112"
    (n,) = c.notices
    assert (n.rule, n.subject) == ("coverage.uncertain", "$MODEL4")
    assert "PHNEMERGNUM" in n.message and "J129" in n.message


def test_model_branches_that_agree_raise_nothing() -> None:
    text = "IF $MODEL4 SEQ J129 GOTO FW\nGOTO END\n# FW\nSET APPNAME fw.bin\n# END\n"
    assert parse(text).notices == []


def test_sip_in_use_is_sip() -> None:
    text = (
        "IF $SIG_IN_USE SEQ H323 GOTO H\nSET DIALPLAN 911\nGOTO END\n# H\nSET DIALPLAN 0\n# END\n"
    )
    assert parse(text).params["DIALPLAN"] == "911"


def test_lower_case_goto_as_deployed_files_write_it() -> None:
    text = "IF $MODEL4 SEQ 1603 goto OLD\ngoto END\n# OLD\nSET DIALPLAN 0\n# END\nSET X 1\n"
    assert parse(text).params == {"X": "1"}


def test_unknown_if_operator_is_reported_and_not_taken() -> None:
    c = parse("IF $MODEL4 SNE J179 GOTO END\nSET X 1\n# END\n")
    assert c.params == {"X": "1"}
    assert rules(c.notices) == [("coverage.uncertain", "46xxsettings.txt:1")]


# ---- includes and the per-phone chain ------------------------------------------------


UPGRADE = "IF $MODEL4 SEQ J179 GOTO GETSET\n# GETSET\nGET 46xxsettings.txt\n"
SETTINGS = "SET SIP_CONTROLLER_LIST 10.0.0.5\nSET PHNEMERGNUM 911\nGET $MACADDR.txt\n"
PHONE = 'SET SIP_USER_ACCOUNT 1001@10.0.0.5\nSET FORCE_SIP_PASSWORD "s3cret-pw"\n'


def test_includes() -> None:
    assert avaya.includes("J100Supgrade.txt", UPGRADE) == ["46xxsettings.txt"]
    assert avaya.includes("46xxsettings.txt", SETTINGS) == []  # $MACADDR: not a literal name
    # A per-phone file is read after the boot files beside it.
    assert avaya.includes("c81fea9b4368.txt", PHONE) == ["J100Supgrade.txt", "46xxsettings.txt"]


def test_per_phone_file_is_read_through_the_boot_chain() -> None:
    c = parse(
        PHONE,
        "c81fea9b4368.txt",
        J100Supgrade__txt=UPGRADE,
        **{"46xxsettings__txt": SETTINGS, "c81fea9b4368__txt": PHONE},
    )
    assert c.sources == ["J100Supgrade.txt", "46xxsettings.txt", "c81fea9b4368.txt"]
    assert c.identity == {"mac": "c81fea9b4368"}
    s = avaya.to_state(c)
    (line,) = s.lines
    assert (line.registrar, line.transport, line.user) == ("10.0.0.5", "tls", "1001")
    assert [(e.number, e.route, e.source) for e in line.emergency] == [
        ("911", "10.0.0.5", "PHNEMERGNUM")
    ]


def test_per_phone_file_no_get_reaches() -> None:
    c = parse(PHONE, "c81fea9b4368.cfg", **{"46xxsettings__txt": SETTINGS})
    assert ("coverage.uncertain", "c81fea9b4368.cfg") in rules(c.notices)


def test_get_of_unknown_mac_and_missing_file() -> None:
    c = parse(SETTINGS + "GET 46xxspecials.txt\n")
    assert rules(c.notices) == [
        ("coverage.uncertain", "$MACADDR.txt"),
        ("coverage.uncertain", "46xxspecials.txt"),
    ]


# ---- malformed input -----------------------------------------------------------------


def test_not_a_command_is_config_malformed_with_file_and_line() -> None:
    c = parse('SET A 1\nEXTENSION_ON_TOP_LINE 0\n"ESMENABLED,ESMSRVR"\n')
    assert rules(c.notices) == [
        ("config.malformed", "46xxsettings.txt:2"),
        ("config.malformed", "46xxsettings.txt:3"),
    ]


def test_no_command_at_all_names_file_and_line() -> None:
    with pytest.raises(ConfigFileError) as e:
        parse("## only comments\nhello world\n", "site.txt")
    assert (e.value.file, e.value.line) == ("site.txt", 2)
    assert str(e.value).startswith("site.txt:2: ")


def test_goto_without_label_names_file_and_line() -> None:
    with pytest.raises(ConfigFileError) as e:
        parse("SET A 1\nGOTO NOWHERE\n")
    assert (e.value.file, e.value.line) == ("46xxsettings.txt", 2)


def test_goto_loop_is_an_error_not_a_hang() -> None:
    with pytest.raises(ConfigFileError) as e:
        parse("# TOP\nSET A 1\nGOTO TOP\n")
    assert e.value.file == "46xxsettings.txt" and "loop" in str(e.value)


def test_error_in_a_got_file_names_that_file() -> None:
    with pytest.raises(ConfigFileError) as e:
        parse("GET 46xxspecials.txt\n", **{"46xxspecials__txt": "SET A 1\nGOTO X\n"})
    assert (e.value.file, e.value.line) == ("46xxspecials.txt", 2)


def test_detect() -> None:
    assert avaya.detect(SETTINGS) and avaya.detect(UPGRADE)
    assert not avaya.detect("[general]\nSET = 1\n")
    assert not avaya.detect('<?xml version="1.0"?><settings><phone-settings/></settings>')


# ---- dial plan -----------------------------------------------------------------------


def outcome(plan_text: str, digits: str, timeout: str | None = "4") -> tuple[str, bool, str | None]:
    res = dialplan.evaluate_plan(avaya_plan.plan(plan_text, timeout), digits)
    assert res is not None
    return res.outcome, res.after_timeout, res.sent


def test_translation_of_the_vendor_example() -> None:
    # J100 R4.1 admin guide, DIALPLAN: "[2-4]xxx|[68]xxx|*xx|9Z1xxxxxxxxxx|9z011x+"
    p = avaya_plan.plan("[2-4]xxx|[68]xxx|*xx|9Z1xxxxxxxxxx|9z011x+", "4")
    assert (p.syntax, p.text) == ("avaya", "[2-4]xxx|[68]xxx|*xx|9Z1xxxxxxxxxx|9z011x+")
    assert p.options == {"INTER_DIGIT_TIMEOUT": "4"}
    text, options = avaya_plan.mgcp_plan(p.text, "4")
    assert text == "[2-4]xxx|[68]xxx|*xx|9,1xxxxxxxxxx|9,011xx.T|[0-9*#][0-9*#].T"
    assert options["dialplan.digitmap.timeOut"] == "4|4|4|4|4|4"


@pytest.mark.parametrize(
    ("digits", "want"),
    [
        ("2345", ("dial", False, "2345")),  # a format string matches: at once
        ("*72", ("dial", False, "*72")),
        ("912125551234", ("dial", False, "912125551234")),  # Z consumes no digit
        ("9011441234", ("dial", True, "9011441234")),  # x+ can grow: waits (UNCONFIRMED)
        ("999", ("dial", True, "999")),  # no match: sent as keyed after the timeout
        ("112", ("dial", True, "112")),
    ],
)
def test_vendor_example_vectors(digits: str, want: tuple[str, bool, str]) -> None:
    assert outcome("[2-4]xxx|[68]xxx|*xx|9Z1xxxxxxxxxx|9z011x+", digits) == want


def test_no_dialplan_sends_everything_after_the_timeout() -> None:
    assert outcome("", "999") == ("dial", True, "999")
    assert avaya_plan.plan("", None).options["INTER_DIGIT_TIMEOUT"] == "5"


def test_first_complete_match_sends_at_once() -> None:
    # "When the dialed digits match a format string, the call is initiated."
    assert outcome("911|9111xxx", "911") == ("dial", False, "911")


def test_bad_format_strings_are_left_out_and_reported() -> None:
    t = avaya_plan.translate("|911|1#2|x.|[12|Z|999|")
    assert t.entries == ["911", "999"]
    assert [e for e, _ in t.bad] == ["1#2", "x.", "[12", "Z"]
    s = state("SET SIP_CONTROLLER_LIST 10.0.0.5\nSET DIALPLAN 911|x.\n")
    assert ("coverage.uncertain", "DIALPLAN") in rules(s.notices)


def test_aura_environment_is_reported() -> None:
    s = state("SET SIP_CONTROLLER_LIST 10.0.0.5\n")
    assert rules(s.notices) == [("coverage.uncertain", "ENABLE_AVAYA_ENVIRONMENT")]
    s = state("SET SIP_CONTROLLER_LIST 10.0.0.5\nSET ENABLE_AVAYA_ENVIRONMENT 0\n")
    assert s.notices == []


# ---- the model -----------------------------------------------------------------------


CORRECT_UK = (  # written for this test (no public file configures it): 999 and 112 at once
    "SET ENABLE_AVAYA_ENVIRONMENT 0\n"
    "SET SIP_CONTROLLER_LIST sbc.example.net:5061;transport=tls,10.0.0.6\n"
    "SET SIP_USER_ACCOUNT 2001@example.net\n"
    'SET PHNEMERGNUM "999"\n'
    "SET PHNMOREEMERGNUMS 112\n"
    "SET DIALPLAN 999|112|[2-4]xxx|9Z0x+\n"
)


def test_correct_uk_configuration() -> None:
    s = state(CORRECT_UK)
    (line,) = s.lines
    assert (line.registrar, line.transport, line.user) == ("sbc.example.net:5061", "tls", "2001")
    assert [(e.number, e.route, e.source, e.route_source) for e in line.emergency] == [
        ("999", "sbc.example.net:5061", "PHNEMERGNUM", "SIP_CONTROLLER_LIST"),
        ("112", "sbc.example.net:5061", "PHNMOREEMERGNUMS", "SIP_CONTROLLER_LIST"),
    ]
    assert line.dialplan is not None
    for n in ("999", "112"):
        res = dialplan.evaluate_plan(line.dialplan, n)
        assert res is not None and (res.outcome, res.after_timeout, res.sent) == ("dial", False, n)
    assert s.notices == []


def test_file_without_a_line_keeps_device_wide_plan_and_numbers() -> None:
    s = state("SET PHNEMERGNUM 911\nSET ENABLE_AVAYA_ENVIRONMENT 0\n")
    assert s.lines == []
    assert s.dialplan is not None and [e.number for e in s.emergency] == ["911"]


def test_sipproxysrvr_fallback_is_reported() -> None:
    s = state("SET SIPPROXYSRVR 10.0.0.9\nSET SIPPORT 5070\nSET ENABLE_AVAYA_ENVIRONMENT 0\n")
    assert s.lines[0].registrar == "10.0.0.9:5070"
    assert rules(s.notices) == [("coverage.uncertain", "SIP_CONTROLLER_LIST")]


# ---- secrets -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["FORCE_SIP_PASSWORD", "FORCE_WEB_ADMIN_PASSWORD", "ADMIN_PASSWORD", "PROCPSWD", "SNMPSTRING"],
)
def test_secret_keys(key: str) -> None:
    assert PROFILE.is_secret(key)


@pytest.mark.parametrize("key", ["DIALPLAN", "PHNEMERGNUM", "SIP_CONTROLLER_LIST", "SIPPORT"])
def test_not_secret(key: str) -> None:
    assert not PROFILE.is_secret(key)


def test_secrets_redacted_and_never_in_a_notice() -> None:
    c = parse(
        PHONE + "GET $MACADDR.cfg\nGOOD LINE s3cret-pw\n",
        "c81fea9b4368.txt",
    )
    assert c.params["FORCE_SIP_PASSWORD"] == "s3cret-pw"  # raw; the engine redacts
    red = redact_params(c.params, PROFILE)
    assert "s3cret-pw" not in str(red)
    s = avaya.to_state(c)
    for n in [*c.notices, *s.notices]:
        assert "s3cret-pw" not in str(n.to_dict())


# ---- over the file server ------------------------------------------------------------


def _host(
    handler: Callable[[httpx.Request], httpx.Response],
    mac: str | None = None,
    model: str | None = None,
) -> HttpHost:
    pool = HttpPool()
    pool._clients[TlsOptions()] = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return HttpHost(pool, "http://10.0.0.5:80", None, None, mac=mac, model=model)


SERVER = {
    "/J100Supgrade.txt": UPGRADE,
    "/46xxsettings.txt": SETTINGS.replace("GET $MACADDR.txt", "GET 46xxspecials.txt"),
    "/46xxspecials.txt": "SET DIALPLAN 911|[2-4]xxx\nSET ENABLE_AVAYA_ENVIRONMENT 0\n",
}


def _serve(table: dict[str, str]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(req: httpx.Request) -> httpx.Response:
        body = table.get(req.url.path)
        if body is None:
            return httpx.Response(404, stream=httpx.ByteStream(b""))
        return httpx.Response(200, stream=httpx.ByteStream(body.encode()))

    return handler


def test_fetch_reads_the_file_server_as_the_phone_does() -> None:
    c = asyncio.run(avaya.fetch(_host(_serve(SERVER)), []))
    assert c.sources == [
        "http://10.0.0.5:80/J100Supgrade.txt",
        "http://10.0.0.5:80/46xxsettings.txt",
        "http://10.0.0.5:80/46xxspecials.txt",
    ]
    s = avaya.to_state(c)
    assert s.lines[0].registrar == "10.0.0.5"
    assert s.lines[0].dialplan is not None and s.lines[0].dialplan.text.startswith("911|")


def test_fetch_without_the_upgrade_file_starts_at_46xxsettings() -> None:
    table = {k: v for k, v in SERVER.items() if k != "/J100Supgrade.txt"}
    c = asyncio.run(avaya.fetch(_host(_serve(table)), []))
    assert c.sources[0] == "http://10.0.0.5:80/46xxsettings.txt"


def test_fetch_of_a_server_without_the_files() -> None:
    with pytest.raises(DeviceError) as e:
        asyncio.run(avaya.fetch(_host(_serve({})), []))
    assert "HTTPSRVR" in str(e.value)


def test_fetch_of_something_else_is_a_protocol_error_without_the_body() -> None:
    from fleet.errors import ProtocolError

    with pytest.raises(ProtocolError) as e:
        asyncio.run(
            avaya.fetch(_host(_serve({"/J100Supgrade.txt": "<html>pw=hunter2</html>"})), [])
        )
    assert "hunter2" not in str(e.value)


# What the inventory knows (``mac:``, ``model:``) reaches fetch as ``host.mac``/``host.model``.
BY_MODEL = (
    "IF $MODEL4 SEQ J129 GOTO J129\n"
    "SET APPNAME FW_S_J179_R4_1_3_0_6.bin\nSET PHNEMERGNUM 999\nGOTO END\n"
    "# J129\nSET APPNAME FW_S_J129_R4_1_3_0_6.bin\nSET PHNEMERGNUM 911\n"
    "# END\nGET 46xxsettings.txt\n"
)
SITE = {
    "/J100Supgrade.txt": BY_MODEL,
    "/46xxsettings.txt": "SET SIP_CONTROLLER_LIST 10.0.0.5\nGET $MACADDR.cfg\n",
    "/c81fea9b4368.cfg": PHONE,
}


def test_fetch_with_the_mac_follows_the_per_phone_file() -> None:
    seen: list[str] = []
    serve = _serve(SITE)

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.url.path)
        return serve(req)

    c = asyncio.run(avaya.fetch(_host(handler, mac="c81fea9b4368", model="J179"), []))
    assert c.sources[-1] == "http://10.0.0.5:80/c81fea9b4368.cfg"
    assert seen == ["/J100Supgrade.txt", "/46xxsettings.txt", "/c81fea9b4368.cfg"]
    assert c.notices == []  # the model is known: no branch is guessed
    assert c.identity == {"mac": "c81fea9b4368", "model": "J179", "firmware": "4.1.3.0.6"}
    s = avaya.to_state(c)
    (line,) = s.lines
    assert (line.user, s.mac, s.model) == ("1001", "c81fea9b4368", "J179")
    assert [e.number for e in line.emergency] == ["999"]


def test_fetch_takes_the_branch_of_the_inventory_model() -> None:
    c = asyncio.run(avaya.fetch(_host(_serve(SITE), mac="c81fea9b4368", model="J129"), []))
    assert c.notices == []
    assert (c.identity["model"], c.identity["firmware"]) == ("J129", "4.1.3.0.6")
    assert c.params["PHNEMERGNUM"] == "911"


def test_fetch_without_mac_or_model_reports_what_it_cannot_read() -> None:
    c = asyncio.run(avaya.fetch(_host(_serve(SITE)), []))
    assert ("coverage.uncertain", "$MACADDR.cfg") in rules(c.notices)
    assert ("coverage.uncertain", "$MODEL4") in rules(c.notices)
    assert "FORCE_SIP_PASSWORD" not in c.params and "model" not in c.identity


def test_fetch_of_a_mac_the_server_lacks() -> None:
    c = asyncio.run(avaya.fetch(_host(_serve(SITE), mac="c81fea000001", model="J179"), []))
    assert ("coverage.uncertain", "c81fea000001.cfg") in rules(c.notices)
    assert avaya.to_state(c).lines[0].user is None
