"""Decision events out, against real receivers on 127.0.0.1: signed POSTs, retries with
backoff, timeouts, refused signatures, dead after 24 hours and re-sent, a paused subscriber
catching up in order, and a worker killed mid-delivery without losing or reordering anything
at a receiver that de-duplicates by event id."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import timedelta

import anyio
import pytest
from conftest import app_env
from support.event_receiver import Receiver, receiving

from ltc import clock, db
from ltc.audit.tables import AuditEvent
from ltc.decision_events import delivery, service
from ltc.decision_events.interface import EventType, Subject, emit
from ltc.decision_events.tables import EventDelivery, EventDeliveryAttempt, EventSubscriber
from ltc.identity import SYSTEM

pytestmark = pytest.mark.anyio
ALL_TYPES = [str(t) for t in EventType]


def person(n: int) -> Subject:
    return Subject(kind="person", key=str(n),
                   identity={"resident_id": f"R{n}", "name": f"测试{n}"})


async def emit_for(n: int, count: int = 1,
                   event_type: EventType = EventType.entitlement_started) -> list[str]:
    ids = []
    for i in range(count):
        async with db.write_transaction():
            ids.append(await emit(event_type, person(n), {"i": i}))
    return ids


async def attempts(delivery_id: int) -> list[dict]:
    return await EventDeliveryAttempt.select().where(
        EventDeliveryAttempt.delivery == delivery_id).order_by(EventDeliveryAttempt.number)


async def only_delivery() -> dict:
    return await EventDelivery.select().order_by(EventDelivery.id).first()


async def deliver_at(settings, start, hours: float) -> int:
    with clock.travel_to(start + timedelta(hours=hours)):
        return await delivery.deliver_until_idle(settings)


async def test_a_receiver_failing_three_times_gets_the_event_signed_on_the_fourth(
        database_url, settings) -> None:
    with receiving(Receiver(behaviour=lambda n, e: 500 if n < 3 else 204)) as receiver:
        _, secret = await service.create(SYSTEM, "医保核心", receiver.url, ALL_TYPES)
        receiver.secret = secret  # every request is checked as a partner would
        [event_id] = await emit_for(1)
        start = clock.now()  # after the emit: the deliveries are due from then
        for hours in (0, 2, 4, 6):
            await deliver_at(settings, start, hours)

    row = await only_delivery()
    assert row["state"] == "delivered" and row["attempts"] == 4
    assert [a["status"] for a in await attempts(row["id"])] == [500, 500, 500, 204]
    first = (await attempts(row["id"]))[0]
    assert first["error"] == "HTTP 500" and '"n": 0' in first["answer"]
    headers = receiver.requests[-1]["headers"]
    assert headers["X-LTC-Event-Id"] == event_id
    assert headers["X-LTC-Event-Type"] == "entitlement.started"
    assert [e["event_id"] for e in receiver.applied] == [event_id]
    assert receiver.applied[0]["subject"] == {"type": "person", "resident_id": "R1",
                                              "name": "测试1"}


async def test_a_slow_receiver_is_a_timed_out_attempt_and_is_retried(database_url,
                                                                      settings) -> None:
    def slow_first(n: int, event: dict) -> int:
        if n == 0:
            time.sleep(3)  # the receiver's slowness, beyond the 1 s timeout below
        return 200

    quick = replace(settings, events_timeout=1)
    with receiving(Receiver(behaviour=slow_first)) as receiver:
        await service.create(SYSTEM, "民政", receiver.url, ALL_TYPES)
        await emit_for(1)
        start = clock.now()
        await deliver_at(quick, start, 0)
        row = await only_delivery()
        assert row["state"] == "pending" and row["last_error"] == "超时未应答"
        await deliver_at(quick, start, 2)

    row = await only_delivery()
    assert row["state"] == "delivered"
    assert [(a["status"], a["error"]) for a in await attempts(row["id"])] == [
        (None, "超时未应答"), (200, "")]


async def test_a_bad_signature_is_refused_and_the_delivery_keeps_retrying(database_url,
                                                                          settings) -> None:
    with receiving(Receiver(secret="not-the-subscribers-secret")) as receiver:
        await service.create(SYSTEM, "商保经办", receiver.url, ALL_TYPES)
        await emit_for(1)
        start = clock.now()
        await deliver_at(settings, start, 0)
        await deliver_at(settings, start, 2)

    row = await only_delivery()
    assert row["state"] == "pending" and row["last_status"] == 401
    assert [a["status"] for a in await attempts(row["id"])] == [401, 401]
    assert receiver.applied == []


async def test_dead_after_24_hours_blocks_its_stream_until_resent(database_url,
                                                                  settings) -> None:
    failing = {"on": True}

    def down_for_r1(n: int, event: dict) -> int:
        return 503 if failing["on"] and event["subject"]["resident_id"] == "R1" else 200

    with receiving(Receiver(behaviour=down_for_r1)) as receiver:
        subscriber, _ = await service.create(SYSTEM, "医保核心", receiver.url, ALL_TYPES)
        first, second = await emit_for(1, 2)
        [other] = await emit_for(2)
        start = clock.now()
        for hours in (0, 23, 25):
            await deliver_at(settings, start, hours)

        rows = await EventDelivery.select().order_by(EventDelivery.id)
        assert [r["state"] for r in rows] == ["dead", "pending", "delivered"]
        assert rows[1]["attempts"] == 0  # never sent past the dead one before it
        assert await AuditEvent.exists().where(AuditEvent.action == "event_delivery.dead")
        listed, dead_count = await service.dead_deliveries()
        assert dead_count == 1 and listed[0]["event_id"] == first

        failing["on"] = False
        await deliver_at(settings, start, 26)
        assert [e["event_id"] for e in receiver.applied] == [other]  # R1 still blocked

        assert await service.resend_dead(SYSTEM, subscriber["id"]) == 1
        await deliver_at(settings, start, 26)
        assert [e["event_id"] for e in receiver.applied] == [other, first, second]

        # A delivered one can be sent again, with a fresh window.
        await service.resend(SYSTEM, rows[2]["id"])
        await deliver_at(settings, start, 27)
    assert [r["event"]["event_id"] for r in receiver.requests].count(other) == 2
    assert [r["state"] for r in await EventDelivery.select().order_by(EventDelivery.id)] == [
        "delivered"] * 3


async def test_a_paused_subscriber_accumulates_and_catches_up_in_order(database_url,
                                                                       settings) -> None:
    with receiving(Receiver()) as receiver:
        subscriber, _ = await service.create(SYSTEM, "民政", receiver.url, ALL_TYPES)
        paused = await service.pause(SYSTEM, subscriber["id"], subscriber["version"])
        for n in (1, 2, 1, 1, 2):
            await emit_for(n)
        assert await delivery.deliver_until_idle(settings) == 0
        assert receiver.requests == []

        await service.resume(SYSTEM, subscriber["id"], paused["version"])
        await delivery.deliver_until_idle(settings)
    assert receiver.by_subject() == {"R1": [1, 2, 3], "R2": [1, 2]}


async def test_a_long_pause_does_not_use_up_the_retry_period(database_url, settings) -> None:
    """Failed once, then paused for 30 hours: resumed, the delivery has a fresh 24 hours,
    so one more failure is retried, not dead (the pause was not the receiver's fault)."""
    with receiving(Receiver(behaviour=lambda n, event: 503 if n < 2 else 200)) as receiver:
        subscriber, _ = await service.create(SYSTEM, "民政", receiver.url, ALL_TYPES)
        await emit_for(1)
        start = clock.now()
        with clock.travel_to(start):
            await delivery.deliver_until_idle(settings)
            paused = await service.pause(SYSTEM, subscriber["id"], subscriber["version"])
        with clock.travel_to(start + timedelta(hours=30)):
            await service.resume(SYSTEM, subscriber["id"], paused["version"])
            await delivery.deliver_until_idle(settings)
        assert (await only_delivery())["state"] == "pending"
        await deliver_at(settings, start, 32)
        assert (await only_delivery())["state"] == "delivered"
    assert receiver.by_subject() == {"R1": [1]}


async def test_a_worker_killed_mid_delivery_loses_nothing_and_the_receiver_applies_once(
        database_url, settings, tmp_path) -> None:
    held, release = threading.Event(), threading.Event()

    def hold_once(event: dict) -> None:
        if event["subject"]["resident_id"] == "R2" and event["sequence"] == 2 and \
                not held.is_set():
            held.set()
            release.wait(60)

    with receiving(Receiver(before_answer=hold_once)) as receiver:
        await service.create(SYSTEM, "医保核心", receiver.url, ALL_TYPES)
        for n in (1, 2, 3):
            await emit_for(n, 4)
        worker = await anyio.open_process(
            [sys.executable, "-m", "ltc.cli", "events", "deliver"],
            env=app_env(database_url, tmp_path), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            # The receiver has applied R2's second event; the worker has not heard back.
            assert await anyio.to_thread.run_sync(held.wait, 60)
        finally:
            worker.send_signal(signal.SIGKILL)
            await worker.wait()
            release.set()
        stuck = await EventDelivery.select().where(
            (EventDelivery.stream == "person:2") & (EventDelivery.sequence == 2)).first()
        assert stuck["state"] == "pending" and stuck["claimed_until"] is not None

        # Another worker, once the dead worker's lease has run out.
        lease = settings.events_timeout + delivery.LEASE_MARGIN_SECONDS
        with clock.travel_to(clock.now() + timedelta(seconds=lease + 1)):
            await delivery.deliver_until_idle(settings)

    assert receiver.by_subject() == {"R1": [1, 2, 3, 4], "R2": [1, 2, 3, 4],
                                     "R3": [1, 2, 3, 4]}
    resent = [r for r in receiver.requests if r["event"]["event_id"] == stuck_event(receiver)]
    assert len(resent) == 2  # sent twice, applied once
    assert await EventDelivery.count().where(EventDelivery.state != "delivered") == 0


def stuck_event(receiver: Receiver) -> str:
    return next(e["event_id"] for e in receiver.applied
                if e["subject"]["resident_id"] == "R2" and e["sequence"] == 2)


async def test_several_workers_at_once_send_each_delivery_once_in_order(database_url,
                                                                        settings) -> None:
    with receiving(Receiver()) as receiver:
        await service.create(SYSTEM, "医保核心", receiver.url, ALL_TYPES)
        for n in range(1, 6):
            await emit_for(n, 6)
        small = replace(settings, events_concurrency=4)  # many claims, many races
        while await EventDelivery.exists().where(EventDelivery.state != "delivered"):
            await asyncio.gather(*(delivery.deliver_until_idle(small) for _ in range(3)))

    assert len(receiver.requests) == 30  # no delivery claimed by two workers
    assert receiver.by_subject() == {f"R{n}": [1, 2, 3, 4, 5, 6] for n in range(1, 6)}


async def test_a_name_that_points_at_this_machine_is_not_called(database_url,
                                                                settings) -> None:
    """`localhost` (or any name resolving to a loopback or reserved address) is refused at
    each delivery, as resolved then: an attempt fails with the reason, no request is made."""
    with receiving(Receiver(behaviour=lambda n, e: 204)) as receiver:
        await service.create(SYSTEM, "医保核心", receiver.url, ALL_TYPES)  # 127.0.0.1: listed
        await EventSubscriber.update({EventSubscriber.url: receiver.url.replace(
            "127.0.0.1", "localhost")}).where(EventSubscriber.id > 0)
        await emit_for(1)
        await delivery.deliver_until_idle(settings)
    row = await only_delivery()
    assert receiver.requests == [] and row["state"] == "pending"
    [attempt] = await attempts(row["id"])
    assert attempt["status"] is None and "LTC_EVENT_RECEIVER_HOSTS" in attempt["error"]


async def test_a_url_no_request_can_be_made_to_fails_its_attempt_not_the_worker(
        database_url, settings) -> None:
    """A bad address (stored before it was checked, or by hand) is a failed attempt with its
    reason; the worker goes on and the other subscriber's event is delivered."""
    with receiving(Receiver(behaviour=lambda n, e: 204)) as receiver:
        await service.create(SYSTEM, "医保核心", receiver.url, ALL_TYPES)
        await EventSubscriber(name="坏地址", url="http://1.2.3.999:99999/x", secret="s" * 64,
                              event_types=json.dumps(ALL_TYPES)).save()
        await emit_for(1)
        assert await delivery.deliver_until_idle(settings) == 2
    assert len(receiver.requests) == 1
    states = {r["subscriber"]: r["state"] for r in await EventDelivery.select()}
    assert sorted(states.values()) == ["delivered", "pending"]
    failed = await EventDeliveryAttempt.select().where(EventDeliveryAttempt.status.is_null())
    assert len(failed) == 1 and failed[0]["error"].startswith("地址无效")


async def test_a_worker_whose_lease_ran_out_cannot_undo_the_next_workers_outcome(
        database_url, settings) -> None:
    """Worker 1 hangs past its lease; worker 2 takes the delivery over and delivers it. Worker
    1's late failure must neither mark it dead nor clear worker 2's lease."""
    await service.create(SYSTEM, "民政", "http://127.0.0.1:9/x", ALL_TYPES)
    await emit_for(1)
    start = clock.now()
    with clock.travel_to(start):
        [first] = await delivery.claim(10, lease_seconds=5)
    with clock.travel_to(start + timedelta(seconds=10)):
        [second] = await delivery.claim(10, lease_seconds=5)
    with clock.travel_to(start + timedelta(hours=25)):  # past the retry period: "dead"
        assert await delivery.record_outcomes([(first, {
            "status": None, "answer": "", "error": "超时未应答", "duration_ms": 5000})])
    row = await only_delivery()
    assert row["state"] == "pending" and row["claimed_until"] is not None
    with clock.travel_to(start + timedelta(seconds=11)):
        await delivery.record_outcomes([(second, {
            "status": 200, "answer": "ok", "error": "", "duration_ms": 20})])
    assert (await only_delivery())["state"] == "delivered"
