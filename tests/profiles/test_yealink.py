"""The Yealink profile against the lab's simulated phones: both web interfaces, the login
rules (no retry, lockout, one session), reading by name, and the provisioning-file round trip."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from device_profiles.yealink import simulator
from device_profiles.yealink.profile import PROFILE
from fleet.collect.http import HttpPool
from fleet.errors import AuthFailed, DeviceError
from fleet.lab import fleet as labfleet
from fleet.lab.spec import LabPhone
from fleet.model import Collected, DeviceState
from tests.conftest import phone_host as _host

Scenario = Callable[[labfleet.LabFleet, HttpPool], Awaitable[Any]]


def _run(scenario: Scenario, lab: labfleet.LabFleet | None = None) -> Any:
    lab = lab or labfleet.build(phones=6, profile_names=["yealink"], faults=False, net=72)

    async def main() -> Any:
        async with labfleet.running(lab), HttpPool() as pool:
            return await scenario(lab, pool)

    return asyncio.run(main())


def _api_phone(lab: labfleet.LabFleet) -> LabPhone:
    return next(p for p in lab.phones if simulator.has_api(p.firmware))


def _servlet_phone(lab: labfleet.LabFleet) -> LabPhone:
    return next(p for p in lab.phones if not simulator.has_api(p.firmware))


def _no_secrets(err: Exception, spec: LabPhone) -> None:
    assert spec.sip_password not in str(err)
    assert spec.admin_password not in str(err)


def test_every_phone_reads_as_its_spec() -> None:
    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> list[tuple[LabPhone, Any]]:
        return [(s, await PROFILE.fetch(_host(pool, s), [])) for s in lab.phones]

    results = _run(scenario)
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


def test_factory_911_shows_up_as_the_emergency_number() -> None:
    lab = labfleet.build(phones=6, profile_names=["yealink"], faults=False, net=72)
    for spec in lab.phones:
        labfleet.apply_fault(spec, "default-911")

    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> list[DeviceState]:
        return [PROFILE.to_state(await PROFILE.fetch(_host(pool, s), [])) for s in lab.phones]

    for state in _run(scenario, lab):
        assert [e.number for e in state.lines[0].emergency] == ["911"]


@pytest.mark.parametrize("kind", ["api", "servlet"])
def test_wrong_password_fails_once_without_retrying(kind: str) -> None:
    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> tuple[LabPhone, Exception, int]:
        spec = _api_phone(lab) if kind == "api" else _servlet_phone(lab)
        dev = lab.devices[spec.id]
        with pytest.raises(AuthFailed) as err:
            await PROFILE.fetch(_host(pool, spec, "not-the-password"), [])
        return spec, err.value, simulator.login_attempts(dev)

    spec, err, logins = _run(scenario)
    assert logins == 1, "a refused login must not be retried: the phone locks after ~5"
    assert "lock" in str(err) and "credentials" in str(err)
    assert ("/api" if kind == "api" else "/servlet") in str(err)
    _no_secrets(err, spec)


def test_locked_web_login_is_reported_as_locked() -> None:
    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> tuple[LabPhone, Exception]:
        spec = _api_phone(lab)
        for _ in range(simulator.MAX_FAILURES):
            with pytest.raises(AuthFailed):
                await PROFILE.fetch(_host(pool, spec, "guess"), [])
        with pytest.raises(AuthFailed) as err:
            await PROFILE.fetch(_host(pool, spec), [])  # right password, too late
        return spec, err.value

    spec, err = _run(scenario)
    assert "LOCKED" in str(err)
    _no_secrets(err, spec)


def test_fetch_logs_out_and_a_busy_phone_is_not_pushed_aside() -> None:
    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> tuple[LabPhone, Exception]:
        spec = _api_phone(lab)
        await PROFILE.fetch(_host(pool, spec), [])
        await PROFILE.fetch(_host(pool, spec), [])  # works only if the first one logged out
        simulator._open_session(lab.devices[spec.id])  # a technician's browser
        with pytest.raises(DeviceError) as err:
            await PROFILE.fetch(_host(pool, spec), [])
        return spec, err.value

    spec, err = _run(scenario)
    assert not isinstance(err, AuthFailed)
    assert "one session at a time" in str(err)
    _no_secrets(err, spec)


def test_wanted_params_come_back_and_unknown_names_do_not_break_the_read() -> None:
    wanted = ["no.such.key", "local_time.time_zone_name", "lang.gui"]

    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> list[tuple[LabPhone, Collected]]:
        specs = [_api_phone(lab), _servlet_phone(lab)]
        return [(s, await PROFILE.fetch(_host(pool, s), wanted)) for s in specs]

    for spec, collected in _run(scenario):
        raw = PROFILE.to_state(collected).raw
        assert raw["local_time.time_zone_name"] == "United Kingdom(London)"
        assert raw["lang.gui"] == "English"
        assert "no.such.key" not in raw
        assert PROFILE.to_state(collected).lines[0].registrar == spec.registrar


def test_exported_files_read_back_to_the_fetched_state() -> None:
    async def scenario(lab: labfleet.LabFleet, pool: HttpPool) -> list[tuple[Any, Any]]:
        out = []
        for spec in lab.phones:
            fetched = PROFILE.to_state(await PROFILE.fetch(_host(pool, spec), []))
            files = simulator.export_files(lab.devices[spec.id])
            [(name, text)] = files.items()
            assert PROFILE.detect(text)
            parsed = PROFILE.to_state(PROFILE.parse_files(name, text, files.get))
            out.append((fetched, parsed))
        return out

    for fetched, parsed in _run(scenario):
        a, b = fetched.to_dict(), parsed.to_dict()
        for key in ("raw", "model", "firmware"):  # the files do not hold these
            a.pop(key), b.pop(key)
        assert a == b


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
