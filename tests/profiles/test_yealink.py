"""The Yealink profile against the lab's simulated phones: both web interfaces, the login
rules (no retry, lockout, one session), reading by name, and the provisioning file (its round
trip to the fetched state and the faults are the lab contract's, test_lab_contract.py)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from device_profiles.yealink import simulator, web
from device_profiles.yealink.cfgfile import HEADER
from device_profiles.yealink.profile import PROFILE
from fleet.check import golden as golden_mod
from fleet.collect.http import HttpHost, HttpPool, HttpReply
from fleet.errors import AuthFailed, DeviceError, ProtocolError
from fleet.lab import fleet as labfleet
from fleet.lab.spec import LabDevice, LabPhone
from fleet.model import Collected, DeviceState
from tests.conftest import make_lab
from tests.conftest import phone_host as _host

Scenario = Callable[[labfleet.LabFleet, HttpPool], Awaitable[Any]]
NewLab = Callable[..., labfleet.LabFleet]


@pytest.fixture
def new_lab(lab_factory: NewLab) -> NewLab:
    """A running lab of six Yealink phones of its own (``running_lab``), ``seed`` on them."""

    def make(seed: Sequence[str] = ()) -> labfleet.LabFleet:
        return lab_factory(6, profile_names=["yealink"], faults=False, seed=seed)

    return make


def _run(scenario: Scenario, lab: labfleet.LabFleet) -> Any:
    """``scenario`` against a lab already running, from an event loop of the test's own."""

    async def main() -> Any:
        async with HttpPool() as pool:
            return await scenario(lab, pool)

    return asyncio.run(main())


def _api_phone(lab: labfleet.LabFleet) -> LabPhone:
    return next(p for p in lab.phones if simulator.has_api(p.firmware))


def _servlet_phone(lab: labfleet.LabFleet) -> LabPhone:
    return next(p for p in lab.phones if not simulator.has_api(p.firmware))


def _no_secrets(err: Exception, spec: LabPhone) -> None:
    assert spec.sip_password not in str(err)
    assert spec.admin_password not in str(err)


def test_every_phone_reads_as_its_spec(new_lab: NewLab) -> None:
    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> list[tuple[LabPhone, Any]]:
        return [(s, await PROFILE.fetch(_host(pool, s), [])) for s in lab.phones]

    results = _run(scenario, new_lab())
    interfaces = set()
    for spec, collected in results:
        state = PROFILE.to_state(collected)
        assert (state.model, state.firmware, state.mac) == (spec.model, spec.firmware, spec.mac)
        assert state.vendor == "Yealink" and state.provisioning_server == spec.provisioning_server
        [line] = state.lines
        assert line.enabled and line.user == spec.sip_user
        assert (line.registrar, line.outbound_proxy) == (spec.registrar, spec.outbound_proxy)
        assert [e.number for e in line.emergency] == spec.emergency_numbers
        assert {e.route for e in line.emergency} == {spec.emergency_route}
        assert line.dialplan is not None and line.dialplan.options["mode"] == "classic"
        assert set(spec.emergency_numbers) <= set(line.dialplan.text.split("|"))
        interfaces.add("/api/" if "/api/" in collected.sources[0] else "/servlet")
    # Newer T5x firmware answers on /api, the older models only on /servlet: both must work.
    assert interfaces == {"/api/", "/servlet"}


def test_factory_911_shows_up_as_the_emergency_number(new_lab: NewLab) -> None:
    lab = new_lab(["default-911"] * 6)

    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> list[DeviceState]:
        return [PROFILE.to_state(await PROFILE.fetch(_host(pool, s), [])) for s in lab.phones]

    for state in _run(scenario, lab):
        assert [e.number for e in state.lines[0].emergency] == ["911"]


@pytest.mark.parametrize("kind", ["api", "servlet"])
def test_wrong_password_fails_once_without_retrying(new_lab: NewLab, kind: str) -> None:
    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> tuple[LabPhone, Exception, int]:
        spec = _api_phone(lab) if kind == "api" else _servlet_phone(lab)
        dev = lab.devices[spec.id]
        with pytest.raises(AuthFailed) as err:
            await PROFILE.fetch(_host(pool, spec, "not-the-password"), [])
        return spec, err.value, simulator.login_attempts(dev)

    spec, err, logins = _run(scenario, new_lab())
    assert logins == 1, "a refused login must not be retried: the phone locks after ~5"
    assert "lock" in str(err) and "credentials" in str(err)
    assert ("/api" if kind == "api" else "/servlet") in str(err)
    _no_secrets(err, spec)


def test_locked_web_login_is_reported_as_locked(new_lab: NewLab) -> None:
    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> tuple[LabPhone, Exception]:
        spec = _api_phone(lab)
        for _ in range(simulator.MAX_FAILURES):
            with pytest.raises(AuthFailed):
                await PROFILE.fetch(_host(pool, spec, "guess"), [])
        with pytest.raises(AuthFailed) as err:
            await PROFILE.fetch(_host(pool, spec), [])  # right password, too late
        return spec, err.value

    spec, err = _run(scenario, new_lab())
    assert "LOCKED" in str(err)
    _no_secrets(err, spec)


def test_fetch_logs_out_and_a_busy_phone_is_not_pushed_aside(
    new_lab: NewLab,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(web, "BUSY_BACKOFF", (0.01, 0.01, 0.01))

    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> tuple[LabPhone, Exception]:
        spec = _api_phone(lab)
        await PROFILE.fetch(_host(pool, spec), [])
        await PROFILE.fetch(_host(pool, spec), [])  # works only if the first one logged out
        simulator._open_session(lab.devices[spec.id])  # a technician's browser
        with pytest.raises(DeviceError) as err:
            await PROFILE.fetch(_host(pool, spec), [])
        return spec, err.value

    spec, err = _run(scenario, new_lab())
    assert not isinstance(err, AuthFailed)
    assert "one web session at a time" in str(err)
    _no_secrets(err, spec)


def test_wanted_params_come_back_and_unknown_names_do_not_break_the_read(new_lab: NewLab) -> None:
    wanted = ["no.such.key", "local_time.time_zone_name", "lang.gui"]

    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> list[tuple[LabPhone, Collected]]:
        specs = [_api_phone(lab), _servlet_phone(lab)]
        return [(s, await PROFILE.fetch(_host(pool, s), wanted)) for s in specs]

    for spec, collected in _run(scenario, new_lab()):
        raw = PROFILE.to_state(collected).raw
        assert raw["local_time.time_zone_name"] == "United Kingdom(London)"
        assert raw["lang.gui"] == "English"
        assert "no.such.key" not in raw
        assert PROFILE.to_state(collected).lines[0].registrar == spec.registrar


def test_an_exported_configuration_is_one_file_the_profile_claims(tmp_path: Path) -> None:
    # that it reads back as the fetched state is the lab contract's (test_lab_contract.py)
    for spec in make_lab(tmp_path, 6, profile_names=["yealink"], faults=False).fleet.phones:
        files = simulator.export_files(LabDevice(spec, simulator.SIMULATOR.render(spec)))
        [(name, text)] = files.items()
        assert PROFILE.detect(text) and PROFILE.parse_files(name, text, files.get).params


def test_secrets_are_recognised() -> None:
    for key in (
        "account.1.password",
        "static.auto_provision.server.password",
        "static.auto_provision.aes_key_16.mac",
        "static.security.user_password",
    ):
        assert PROFILE.is_secret(key), key
    assert not PROFILE.is_secret("account.1.user_name")
    # A password inside the provisioning URL never reaches params or the normalised state.
    text = "#!version:1.0.0.1\nstatic.auto_provision.server.url = https://u:s3cr3t@p.example/\n"
    collected = PROFILE.parse_files("y000000000028.cfg", text, lambda n: None)
    assert "s3cr3t" not in str(collected.params)
    assert PROFILE.to_state(collected).provisioning_server == "https://p.example/"


# --- a line the phone skips -------------------------------------------------------------------


def test_a_line_without_equals_is_skipped_with_a_notice_and_no_secret() -> None:
    text = (
        "#!version:1.0.0.1\n"
        "account.1.enable = 1\n"
        "stray\n"  # line 3: a stray word
        "account.1.password\n"  # line 4: a key without '='
        "account.1.password s3cr3t-value\n"  # line 5: '=' forgotten, the secret follows
        "account.1.user_name = 2001\n"
        "account.1.sip_server.1.address = sip.example.net\n"
    )
    collected = PROFILE.parse_files("y000000000028.cfg", text, lambda n: None)
    assert collected.params["account.1.user_name"] == "2001"  # the rest of the file applies
    assert [(n.rule, n.severity) for n in collected.notices] == [("config.malformed", "medium")] * 3
    for notice, line in zip(collected.notices, (3, 4, 5), strict=True):
        told = " ".join([notice.subject, notice.message, *notice.evidence, notice.actual or ""])
        assert "y000000000028.cfg" in told and f"line {line}" in told
        assert "s3cr3t" not in told and "password" not in told and "stray" not in told
    [line] = PROFILE.to_state(collected).lines
    assert line.enabled and line.registrar == "sip.example.net"


def test_a_stray_line_does_not_make_the_device_an_error(tmp_path: Path) -> None:
    from fleet.audit import audit

    (tmp_path / "y000000000028.cfg").write_text(
        "#!version:1.0.0.1\ndialplan.dialnow.rule.1 = 999\noops\n"
    )
    golden = tmp_path / "g.yaml"
    golden.write_text("fleet_golden: 1\nname: t\npolicy: [uk]\n")
    [res] = audit([tmp_path / "y000000000028.cfg"], golden_mod.load(golden)).results
    assert res.status == "audited", res.error


# --- the model-wide common file ---------------------------------------------------------------


SITE = Path(simulator.__file__).parent / "samples" / "site"


def test_a_common_file_alone_is_audited_with_its_device_wide_plan(tmp_path: Path) -> None:
    from fleet.audit import audit

    shutil.copy(SITE / "y000000000028.cfg", tmp_path)
    golden = tmp_path.parent / "g.yaml"
    golden.write_text("fleet_golden: 1\nname: t\npolicy: [uk]\n")
    [res] = audit([tmp_path], golden_mod.load(golden)).results
    assert res.id == "y000000000028" and res.status == "audited"
    assert res.state is not None and res.state.lines == []
    plan = res.state.dialplan
    assert plan is not None and plan.syntax == "yealink"
    assert plan.text.split("|")[:2] == ["999", "112"]
    assert plan.options["phone_setting.dialnow_delay"] == "0"


def test_a_mac_file_includes_its_common_file_and_is_one_device(tmp_path: Path) -> None:
    from fleet.audit import audit

    for f in ("y000000000028.cfg", "805ec0a1b2c3.cfg"):
        shutil.copy(SITE / f, tmp_path)
    mac_text = (SITE / "805ec0a1b2c3.cfg").read_text()
    assert "y000000000028.cfg" in PROFILE.includes("805ec0a1b2c3.cfg", mac_text)
    assert PROFILE.includes("y000000000028.cfg", "#!version:1.0.0.1\n") == []
    golden = tmp_path.parent / "g.yaml"
    golden.write_text("fleet_golden: 1\nname: t\npolicy: [uk]\n")
    [res] = audit([tmp_path], golden_mod.load(golden)).results
    assert res.id == "805ec0a1b2c3" and res.state is not None
    assert res.state.lines and res.state.dialplan is None  # its lines carry the plan


def test_several_common_files_beside_a_mac_file_are_a_coverage_notice() -> None:
    files = {
        "y000000000028.cfg": "#!version:1.0.0.1\ndialplan.dialnow.rule.1 = 999\n",
        "y000000000096.cfg": "#!version:1.0.0.1\ndialplan.dialnow.rule.1 = 911\n",
    }
    text = "#!version:1.0.0.1\naccount.1.enable = 1\naccount.1.user_name = 2001\n"
    collected = PROFILE.parse_files("805ec0a1b2c3.cfg", text, files.get)
    assert [n.rule for n in collected.notices] == ["coverage.uncertain"]
    assert "y000000000028.cfg" in collected.notices[0].message


# --- web sessions -----------------------------------------------------------------------------


class _Interrupting(HttpHost):
    """A lab host whose fetch is cancelled at one point of the /api conversation, as an
    interrupted sweep (Ctrl-C, a device timeout) cancels it."""

    def __init__(self, base: HttpHost, after: str, again: bool = False) -> None:
        self.__dict__.update(base.__dict__)
        self.after, self.again = after, again
        self.fetching: asyncio.Task[Any] | None = None

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        if self.again and path == "/api/auth/logout" and self.fetching:
            self.fetching.cancel()  # the sweep is cancelled again while fleet logs out
        reply = await super().request(method, path, **kw)
        p = (kw.get("params") or {}).get("p")
        if f"{path}?p={p}" == self.after and self.fetching is None:
            self.fetching = asyncio.current_task()
            assert self.fetching is not None
            self.fetching.cancel()
            await asyncio.sleep(0)
        return reply


@pytest.mark.parametrize(
    ("after", "again"),
    [
        ("/api/auth/login?p=Login", False),  # logged in, no token yet
        ("/api/common/info?p=Status", False),  # token in hand, reading not started
        ("/api/inner/readconfig?p=SettingConfig", False),  # mid-read
        ("/api/inner/readconfig?p=SettingConfig", True),  # and cancelled again in the logout
    ],
)
def test_an_interrupted_fetch_still_logs_out(new_lab: NewLab, after: str, again: bool) -> None:
    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> Any:
        spec = _api_phone(lab)
        task = asyncio.ensure_future(
            PROFILE.fetch(_Interrupting(_host(pool, spec), after, again), [])
        )
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(100):  # a shielded logout may still be on its way
            if not simulator._state(lab.devices[spec.id])["live"]:
                break
            await asyncio.sleep(0.02)
        assert simulator._state(lab.devices[spec.id])["live"] == {}, "session left open"
        return PROFILE.to_state(await PROFILE.fetch(_host(pool, spec), []))

    state = _run(scenario, new_lab())
    assert state.lines  # the next run gets in at once


def test_a_busy_phone_is_retried_with_backoff(
    new_lab: NewLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "BUSY_BACKOFF", (0.05, 0.3, 0.3))

    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> tuple[Any, int]:
        spec = _api_phone(lab)
        dev = lab.devices[spec.id]
        sid, _ = simulator._open_session(dev)  # an earlier run's session, ending shortly
        asyncio.get_running_loop().call_later(
            0.2, lambda: simulator._state(dev)["live"].pop(sid, None)
        )
        before = simulator.login_attempts(dev)
        collected = await PROFILE.fetch(_host(pool, spec), [])
        return collected, simulator.login_attempts(dev) - before

    collected, logins = _run(scenario, new_lab())
    assert PROFILE.to_state(collected).lines
    assert 2 <= logins <= 3


def test_a_session_that_stays_busy_is_its_own_error(
    new_lab: NewLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "BUSY_BACKOFF", (0.01, 0.01, 0.01))

    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> tuple[LabPhone, Exception, int]:
        spec = _api_phone(lab)
        dev = lab.devices[spec.id]
        simulator._open_session(dev)
        before = simulator.login_attempts(dev)
        with pytest.raises(DeviceError) as err:
            await PROFILE.fetch(_host(pool, spec), [])
        return spec, err.value, simulator.login_attempts(dev) - before

    spec, err, logins = _run(scenario, new_lab())
    assert logins == 4 < simulator.MAX_FAILURES  # 1 + 3 retries, below the lockout
    assert not isinstance(err, AuthFailed | ProtocolError)
    assert "another web session holds the phone" in str(err)
    assert "earlier run of fleet" in str(err)
    _no_secrets(err, spec)


# --- a phone whose /api differs from the one fleet knows: a clear ProtocolError ------------


class _Canned:
    """A phone that answers /api with canned JSON: where an unconfirmed vendor fact differs
    on a real phone, fleet must say what was unexpected, not guess."""

    base_url = "https://phone.test"
    username, password = "admin", "pw-not-in-messages"
    cookies: dict[str, str] = {}  # noqa: RUF012

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def request(self, method: str, path: str, **kw: Any) -> HttpReply:
        import json

        import httpx

        p = (kw.get("params") or {}).get("p", "")
        self.calls.append(f"{path}?p={p}")
        body = self.answers.get(f"{path}?p={p}", {"ret": "ok", "data": True})
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return HttpReply(200, httpx.Headers(), raw, self.base_url + path)


_N, _E = simulator._public_hex()
_GOOD = {
    "/api/common/info?p=Login": {
        "ret": "ok",
        "data": {"wui.common.rsaN": _N, "wui.common.rsaE": _E},
    },
    "/api/common/info?p=Status": {"ret": "ok", "data": {"wui.common.token": "t0k"}},
}


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ({"/api/common/info?p=Login": {"ret": "ok", "data": {}}}, "no RSA login key"),
        ({"/api/common/info?p=Login": b"<html>login</html>"}, "not JSON"),
        (
            {"/api/auth/login?p=Login": {"ret": "failed", "error": {"msg": "error_new_thing"}}},
            "answer fleet does not know",
        ),
        ({"/api/common/info?p=Status": {"ret": "ok", "data": {}}}, "no CSRF token"),
        (
            {"/api/inner/readconfig?p=SettingConfig": {"ret": "ok", "data": {"x": 1}}},
            "no data.formData",
        ),
        (
            {"/api/inner/readconfig?p=SettingConfig": {"ret": "failed", "error": {"msg": "e"}}},
            "readconfig refused",
        ),
        ({"/api/inner/readconfig?p=SettingConfig": {"data": {}}}, "without 'ret'"),
    ],
)
def test_an_api_that_differs_is_a_clear_protocol_error(override: dict[str, Any], says: str) -> None:
    host = _Canned({**_GOOD, **override})
    with pytest.raises(ProtocolError) as err:
        asyncio.run(PROFILE.fetch(host, []))  # type: ignore[arg-type]
    assert says in str(err.value)
    assert "pw-not-in-messages" not in str(err.value)
    if "/api/auth/login?p=Login" in host.calls and "refused the login" not in str(err.value):
        assert host.calls[-1] == "/api/auth/logout?p=Status"  # the session is handed back


# --- boot files -------------------------------------------------------------------------------


def test_a_boot_file_is_the_files_it_includes_in_order() -> None:
    boot = (
        "#!version:1.0.0.1\n## The header above must appear as-is in the first line\n\n"
        'include:config "y000000000108.cfg"\n'
        "include:config <http://prov.example.net/yl/805ec0f0a1b2.cfg>\n"
        'include:config "site.cfg"\n\noverwrite_mode = 1\n'
    )
    files = {
        "y000000000108.cfg": "#!version:1.0.0.1\ndialplan.dialnow.rule.1 = 911\n"
        "phone_setting.dialnow_delay = 1\n",
        "805ec0f0a1b2.cfg": "#!version:1.0.0.1\naccount.1.enable = 1\n"
        "account.1.user_name = 2001\naccount.1.sip_server.1.address = pbx.example.net\n"
        "dialplan.dialnow.rule.1 = 999\n",
    }
    assert PROFILE.includes("y000000000000.boot", boot) == [
        "y000000000108.cfg",
        "805ec0f0a1b2.cfg",
        "site.cfg",
    ]
    collected = PROFILE.parse_files("y000000000000.boot", boot, files.get)
    assert collected.params["dialplan.dialnow.rule.1"] == "999"  # the later file wins
    assert collected.params["phone_setting.dialnow_delay"] == "1"
    assert collected.identity["mac"] == "805ec0f0a1b2"
    # site.cfg is not there: the phone loads it, fleet could not, and says so
    assert [(n.rule, n.subject) for n in collected.notices] == [
        ("coverage.uncertain", "y000000000000.boot")
    ]
    assert "site.cfg" in collected.notices[0].message
    [line] = PROFILE.to_state(collected).lines
    assert line.registrar == "pbx.example.net" and line.dialplan is not None
    assert line.dialplan.text == "999"


def test_boot_model_sections_are_reported_as_uncertain() -> None:
    boot = '#!version:1.0.0.1\n[T46U, T48U]\ninclude:config "a.cfg"\n'
    collected = PROFILE.parse_files("y000000000000.boot", boot, {"a.cfg": HEADER}.get)
    assert [n.rule for n in collected.notices] == ["coverage.uncertain"]
    assert "[T46U, T48U]" in collected.notices[0].message
