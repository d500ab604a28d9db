"""The HTTP enrolment adapter against a real HTTP server on 127.0.0.1 (tests/support/bureau):
slow, down, garbage, recovering — unknown, never "not enrolled" — the circuit breaker as
README "Enrolment check over HTTP" documents it, and the day's cache shared through the
database."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import date, timedelta

import anyio
import pytest
from conftest import make_user, sign_in
from support.bureau import TOKEN, Bureau, bureau_fixture, gateway  # noqa: F401
from support.cases import FrozenClock

from ltc.enrollment.gateway import LocalEnrollmentGateway, configured_gateway
from ltc.enrollment.remote import RemoteEnrollmentGateway, install_from_settings
from ltc.enrollment.rules import Circuit, EnrolmentStatus
from ltc.enrollment.tables import EnrollmentAnswer
from ltc.settings import Settings

pytestmark = pytest.mark.anyio

ZHANG = "370983194203150011"
DAY = date(2026, 12, 31)


async def test_an_answer_follows_the_contract(database_url, bureau) -> None:
    bureau.not_enrolled["370983195001010012"] = "已于2026-11-30终止参保"
    remote = gateway(bureau)
    enrolled = await remote.check(ZHANG, DAY)
    assert enrolled.status == EnrolmentStatus.enrolled and enrolled.enrolled
    assert (enrolled.scheme, enrolled.insurance_number, enrolled.region_code) == (
        "resident", "N0011", "370983")
    ended = await remote.check("370983195001010012", DAY)
    assert ended.status == EnrolmentStatus.not_enrolled and not ended.unknown
    assert ended.reason == "已于2026-11-30终止参保"
    # POST with a bearer token; the resident ID is in the body, never in the URL.
    asked = bureau.requests[0]
    assert asked["path"] == "/api/enrolment/check"
    assert asked["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(asked["body"]) == {"resident_id": ZHANG, "date": "2026-12-31"}
    assert remote.health()["circuit"] == "closed" and remote.health()["last_success_at"]


async def test_slow_is_retried_then_unknown(database_url, bureau) -> None:
    bureau.mode, bureau.slow_seconds = "slow", 3
    remote = gateway(bureau, timeout=0.3)
    check = await remote.check(ZHANG, DAY)
    assert check.status == EnrolmentStatus.unknown and not check.enrolled
    assert "暂无法查询" in check.reason
    assert bureau.hits == 3  # the first attempt and two retries
    assert len(remote.sleeps) == 2 and all(s > 0 for s in remote.sleeps)
    assert remote.health()["consecutive_failures"] == 1  # one failed check, not three
    assert await EnrollmentAnswer.count() == 0  # unknown is never stored


@pytest.mark.parametrize("mode", ["garbage", "wrong_shape", "error"])
async def test_garbage_and_errors_are_failures_not_answers(database_url, bureau, mode) -> None:
    bureau.mode = mode
    check = await gateway(bureau, retries=0).check(ZHANG, DAY)
    assert check.status == EnrolmentStatus.unknown
    assert bureau.hits == 1


async def test_down_opens_the_circuit_and_recovery_closes_it(database_url, bureau,
                                                             monkeypatch, caplog) -> None:
    frozen = FrozenClock(monkeypatch, DAY)
    remote = gateway(bureau, retries=0)
    bureau.stop()  # connection refused
    with caplog.at_level(logging.WARNING, logger="ltc.enrollment.remote"):
        for _ in range(3):
            assert (await remote.check(ZHANG, DAY)).status == EnrolmentStatus.unknown
    assert remote.breaker.circuit == Circuit.open and remote.breaker.failures == 3
    assert ZHANG not in caplog.text and "370983********0011" in caplog.text

    bureau.start()  # back, but the circuit is open: nobody asks until the cool-down is over
    frozen.advance(seconds=29)
    check = await remote.check(ZHANG, DAY)
    assert check.status == EnrolmentStatus.unknown and check.source == "http:circuit_open"
    assert bureau.hits == 0

    frozen.advance(seconds=2)  # cool-down over: one probe goes out, succeeds, closes
    assert (await remote.check(ZHANG, DAY)).enrolled
    assert bureau.hits == 1 and remote.breaker.circuit == Circuit.closed
    assert remote.health()["consecutive_failures"] == 0


async def test_a_failed_probe_opens_the_circuit_for_another_cool_down(
        database_url, bureau, monkeypatch) -> None:
    frozen = FrozenClock(monkeypatch, DAY)
    bureau.mode = "error"
    remote = gateway(bureau)  # two retries, but the probe is one attempt
    for _ in range(3):
        await remote.check(ZHANG, DAY)
    assert remote.breaker.circuit == Circuit.open and bureau.hits == 9
    frozen.advance(seconds=31)
    assert (await remote.check(ZHANG, DAY)).unknown
    assert bureau.hits == 10 and remote.breaker.circuit == Circuit.open
    assert remote.breaker.opened_at == frozen.moment
    frozen.advance(seconds=10)
    assert (await remote.check(ZHANG, DAY)).source == "http:circuit_open"
    assert bureau.hits == 10


async def test_definite_answers_are_kept_for_the_day(database_url, bureau, monkeypatch) -> None:
    frozen = FrozenClock(monkeypatch, DAY)
    first, second = gateway(bureau), gateway(bureau)  # two processes, one database
    assert (await first.check(ZHANG, DAY)).enrolled
    again = await second.check(ZHANG, DAY)
    assert again.enrolled and again.source == "http:cache" and bureau.hits == 1
    frozen.advance(days=1)
    assert (await second.check(ZHANG, DAY)).source == "http"
    assert bureau.hits == 2


async def test_unknown_is_not_kept(database_url, bureau) -> None:
    remote = gateway(bureau, retries=0)
    bureau.mode = "error"
    assert (await remote.check(ZHANG, DAY)).unknown
    bureau.mode = "ok"
    assert (await remote.check(ZHANG, DAY)).enrolled
    assert bureau.hits == 2


async def test_the_adapter_is_installed_from_the_settings(database_url, bureau,
                                                          tmp_path) -> None:
    env = {"LTC_VAR_DIR": str(tmp_path / "var"), "LTC_ENROLMENT_URL": bureau.url,
           "LTC_ENROLMENT_TOKEN": TOKEN, "LTC_ENROLMENT_TIMEOUT": "1.5"}
    install_from_settings(Settings.from_env(env))
    installed = configured_gateway()
    assert isinstance(installed, RemoteEnrollmentGateway)
    assert (installed.timeout, installed.retries) == (1.5, 2)
    assert (await installed.check(ZHANG, DAY)).enrolled
    install_from_settings(Settings.from_env({"LTC_VAR_DIR": str(tmp_path / "var")}))
    assert isinstance(configured_gateway(), LocalEnrollmentGateway)


async def test_healthz_reports_the_adapter_without_failing(client, bureau) -> None:
    from ltc.enrollment.gateway import set_gateway

    remote = gateway(bureau, retries=0)
    set_gateway(remote)
    healthy = (await client.get("/healthz")).json()
    assert healthy["status"] == "ok" and healthy["enrolment"]["kind"] == "http"
    bureau.stop()
    for _ in range(3):
        await remote.check(ZHANG, DAY + timedelta(days=1))
    answer = await client.get("/healthz")
    assert answer.status_code == 200  # degraded, not dead: no load balancer pulls us out
    body = answer.json()
    assert body["status"] == "degraded"
    # Public: the kind and the circuit only — not the bureau's address nor its errors.
    assert body["enrolment"] == {"kind": "http", "circuit": "open"}
    assert bureau.url.split("//")[1] not in answer.text
    # The admin's 概况 says the same in words.
    await make_user("admin", username="admin")
    await sign_in(client, "admin")
    overview = (await client.get("/")).text
    shown = re.search(r'id="enrolment-health".*?</tr>', overview, re.S).group(0)
    assert "医保参保系统（HTTP）" in shown and "已熔断" in shown and "连续失败 3 次" in shown


async def test_a_cancelled_probe_does_not_leave_the_circuit_half_open(
        database_url, bureau, monkeypatch) -> None:
    frozen = FrozenClock(monkeypatch, DAY)
    bureau.mode = "error"
    remote = gateway(bureau, retries=0, timeout=5)
    for _ in range(3):
        await remote.check(ZHANG, DAY)
    frozen.advance(seconds=31)
    bureau.mode, bureau.slow_seconds = "slow", 2
    with anyio.move_on_after(0.2):  # the page's client goes away while the probe waits
        await remote.check(ZHANG, DAY)
    assert remote.breaker.circuit == Circuit.open and remote.health()["last_failure"] == (
        "cancelled")
    bureau.mode = "ok"
    frozen.advance(seconds=31)  # the next cool-down ends: a new probe goes out
    assert (await remote.check(ZHANG, DAY)).enrolled
    assert remote.breaker.circuit == Circuit.closed


async def test_checks_at_once_store_each_answer_once(database_url, bureau) -> None:
    """Payouts ask several at a time; two asking about the same person race to store the
    same answer, and the unique index keeps one."""
    remote = gateway(bureau)
    people = [f"3709831950010{n:05d}" for n in range(10)]
    checks = await asyncio.gather(*(remote.check(p, DAY) for p in people * 2))
    assert all(c.enrolled for c in checks)
    assert await EnrollmentAnswer.count() == 10
