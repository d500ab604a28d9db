"""Sending decision events to subscribers: at least once, in order per subscriber and stream.

A worker claims due deliveries with a lease (`claimed_until`) by compare-and-set, so two
workers never send the same one at once on either engine, and a worker killed mid-delivery
loses nothing: its lease runs out and another worker sends the delivery again (receivers
de-duplicate by event id).

Only the lowest pending sequence of a (subscriber, stream) is ever due. A dead delivery
keeps blocking its stream until an administrator re-sends it: a receiver applies a
person's events in order, and "ended" applied without the "suspended" before it would leave
the partner with a wrong picture it could not notice. Better late and complete than
on time and wrong; the dead delivery shows on the admin's workbench.

Workers are polling loops, not Dramatiq actors: the delivery table already is the queue (due
time, lease, order), and a broker message per delivery would be a second copy of that state
to keep in step. A loop runs beside the outbox relay in `ltc scheduler` and in `ltc demo`;
`ltc events deliver` adds more anywhere the database is reachable.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from datetime import timedelta
from typing import Any

import httpx
from piccolo.columns.combination import Or, WhereRaw

from ltc import clock, db
from ltc.audit import service as audit
from ltc.decision_events import rules
from ltc.decision_events.tables import EventDelivery, EventDeliveryAttempt
from ltc.identity import SYSTEM
from ltc.settings import Settings

log = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 30  # beyond the HTTP timeout: time to record the outcome
# Only a stream's head is due: nothing earlier for this subscriber still undelivered.
_HEAD = WhereRaw(
    "NOT EXISTS (SELECT 1 FROM event_delivery earlier "
    "WHERE earlier.subscriber = event_delivery.subscriber "
    "AND earlier.stream = event_delivery.stream "
    "AND earlier.sequence < event_delivery.sequence AND earlier.state <> 'delivered')")


def _unclaimed(now: Any) -> Any:
    return Or(EventDelivery.claimed_until.is_null(), EventDelivery.claimed_until < now)


async def claim(limit: int, lease_seconds: int) -> list[dict[str, Any]]:
    """Due deliveries of active subscribers, each the head of its stream, leased to this
    worker; with what sending needs (URL, secret, event id, type and body)."""
    now = clock.now()
    candidates = await EventDelivery.select(EventDelivery.id).where(
        (EventDelivery.state == "pending") & (EventDelivery.next_attempt_at <= now)
        & (EventDelivery.subscriber.active == True) & _unclaimed(now) & _HEAD  # noqa: E712
    ).order_by(EventDelivery.next_attempt_at).order_by(EventDelivery.id).limit(limit)
    if not candidates:
        return []
    ids = [c["id"] for c in candidates]
    async with db.write_transaction():
        # Compare-and-set: of several workers that saw the same rows, one wins each (on
        # PostgreSQL the loser's UPDATE waits for the winner's commit, then re-checks).
        won = await EventDelivery.update({
            EventDelivery.claimed_until: now + timedelta(seconds=lease_seconds)}).where(
            EventDelivery.id.is_in(ids) & (EventDelivery.state == "pending") & _unclaimed(now)
        ).returning(EventDelivery.id)
        won_ids = [w["id"] for w in won]
        if won_ids:
            await EventDelivery.update({EventDelivery.first_attempt_at: now}).where(
                EventDelivery.id.is_in(won_ids) & EventDelivery.first_attempt_at.is_null())
    if not won_ids:
        return []
    return await EventDelivery.select(
        EventDelivery.id, EventDelivery.attempts, EventDelivery.first_attempt_at,
        EventDelivery.claimed_until, EventDelivery.subscriber.url.as_alias("url"),
        EventDelivery.subscriber.secret.as_alias("secret"),
        EventDelivery.event.event_id.as_alias("event_id"),
        EventDelivery.event.event_type.as_alias("event_type"),
        EventDelivery.event.body.as_alias("body"),
    ).where(EventDelivery.id.is_in(won_ids)).order_by(EventDelivery.id)


class _NotSent(Exception):
    """An attempt that failed before any request: the reason, in Chinese."""


async def _pinned(client: httpx.AsyncClient, url: str,
                  allowed: tuple[str, ...]) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The receiver's address, resolved once and checked (rules.receiver_refusal): the
    URL to connect to that address, its Host header and, for https, the name TLS verifies.
    Resolving once and connecting to what was checked leaves a name no second answer
    (DNS rebinding); the name resolved is the one httpx would connect to (IDNA 2008)."""
    try:
        target = httpx.URL(url)
        host, port = target.raw_host.decode("ascii"), target.port
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise _NotSent(f"地址无效：{exc}"[:rules.ANSWER_CHARS]) from None
    try:
        found = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(
            host, port or (443 if target.scheme == "https" else 80), type=socket.SOCK_STREAM),
            timeout=client.timeout.connect)
    except (TimeoutError, OSError, UnicodeError) as exc:
        raise _NotSent(f"无法解析主机名：{type(exc).__name__} {exc}"[:rules.ANSWER_CHARS]) from None
    addresses = [str(info[4][0]) for info in found]
    if not addresses:
        raise _NotSent("无法解析主机名")
    if refusal := rules.receiver_refusal(host, addresses, allowed):
        raise _NotSent(refusal)
    extensions = {"sni_hostname": host} if target.scheme == "https" else {}
    return (target.copy_with(host=addresses[0].split("%")[0]),
            {"Host": target.netloc.decode("ascii")}, extensions)


async def send(client: httpx.AsyncClient, row: dict[str, Any],
               allowed_hosts: tuple[str, ...] = ()) -> dict[str, Any]:
    """One HTTP attempt; what happened, never an exception for the receiver's faults (or a
    URL no request can be made to). Not sent — a failed attempt with the reason — to a host
    this machine must not call."""
    timestamp = int(clock.now().timestamp())
    started = time.monotonic()
    status, answer, error = None, "", ""
    try:
        url, host, extensions = await _pinned(client, row["url"], allowed_hosts)
        response = await client.post(url, content=row["body"].encode(), headers={
            **host, **rules.headers(row["event_id"], row["event_type"], row["secret"],
                                    timestamp, row["body"])}, extensions=extensions)
        status, answer = response.status_code, response.text[:rules.ANSWER_CHARS]
        if not rules.succeeded(status):
            error = f"HTTP {status}"
    except _NotSent as exc:
        error = str(exc)
    except httpx.TimeoutException:
        error = "超时未应答"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = f"连接失败：{type(exc).__name__} {exc}"[:rules.ANSWER_CHARS]
    return {"status": status, "answer": answer, "error": error,
            "duration_ms": int((time.monotonic() - started) * 1000)}


def _outcome_values(row: dict[str, Any], outcome: dict[str, Any],
                    now: Any) -> tuple[str, dict[Any, Any]]:
    if rules.succeeded(outcome["status"]):
        return "delivered", {EventDelivery.delivered_at: now}
    state, next_at = rules.after_failure(row["first_attempt_at"] or now, now,
                                         row["attempts"] + 1, random.random())
    return state, {EventDelivery.next_attempt_at: next_at} if next_at else {}


async def record_outcomes(sent: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    """Write the attempts and the deliveries' new states, one transaction for the batch
    (on SQLite a transaction per delivery would cap throughput); returns the states."""
    now = clock.now()
    states = []
    async with db.write_transaction():
        await EventDeliveryAttempt.insert(*(EventDeliveryAttempt(
            delivery=row["id"], number=row["attempts"] + 1, at=now, **outcome)
            for row, outcome in sent))
        for row, outcome in sent:
            state, values = _outcome_values(row, outcome, now)
            # Only while still pending and still under this worker's lease: a worker whose
            # lease ran out must not undo the outcome of the worker that took over.
            changed = await EventDelivery.update({
                EventDelivery.state: state, EventDelivery.attempts: EventDelivery.attempts + 1,
                EventDelivery.claimed_until: None,
                EventDelivery.last_status: outcome["status"],
                EventDelivery.last_error: outcome["error"], **values}).where(
                (EventDelivery.id == row["id"]) & (EventDelivery.state == "pending")
                & (EventDelivery.claimed_until == row["claimed_until"])
            ).returning(EventDelivery.id)
            if changed and state == "dead":
                await audit.record(SYSTEM, "event_delivery.dead", "event_delivery", row["id"],
                                   after={"attempts": row["attempts"] + 1,
                                          "last_error": outcome["error"]})
            states.append(state)
    return states


async def _attempt(http: httpx.AsyncClient, row: dict[str, Any],
                   allowed_hosts: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    return row, await send(http, row, allowed_hosts)


async def pump(http: httpx.AsyncClient, settings: Settings, *, until_idle: bool,
               interval: float = 0.5) -> int:
    """Keep up to `events_concurrency` requests in flight; returns how many attempts were
    made (only when `until_idle`: once nothing is due or in flight). Outcomes are recorded
    as requests finish, those finished together in one transaction (on SQLite a transaction
    each would cap throughput), so a receiver that takes its full timeout holds one slot,
    not the others' results. New claims are made once half the slots are free, so a claim's
    queries serve several deliveries."""
    slots = settings.events_concurrency
    lease = settings.events_timeout + LEASE_MARGIN_SECONDS
    allowed = settings.event_receiver_hosts
    in_flight: set[asyncio.Task] = set()
    attempted = 0
    try:
        while True:
            if len(in_flight) <= slots // 2:
                rows = await claim(slots - len(in_flight), lease)
                in_flight |= {asyncio.create_task(_attempt(http, row, allowed))
                              for row in rows}
                attempted += len(rows)
            if not in_flight:
                if until_idle:
                    return attempted
                await asyncio.sleep(interval)
                continue
            finished, in_flight = await asyncio.wait(in_flight,
                                                     return_when=asyncio.FIRST_COMPLETED)
            await record_outcomes([task.result() for task in finished])
    finally:
        for task in in_flight:  # their leases run out and another pass sends them again
            task.cancel()


def client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=settings.events_timeout, follow_redirects=False,
                             trust_env=False)


async def deliver_until_idle(settings: Settings) -> int:
    """Send until nothing is due now; returns how many attempts were made."""
    async with client(settings) as http:
        return await pump(http, settings, until_idle=True)


async def deliver_forever(settings: Settings, interval: float = 0.5) -> None:
    """The delivery loop of `ltc scheduler`, `ltc events deliver` and `ltc demo`."""
    async with client(settings) as http:
        while True:
            try:
                await pump(http, settings, until_idle=False, interval=interval)
            except Exception:
                log.exception("event delivery pass failed")
                await asyncio.sleep(interval)
