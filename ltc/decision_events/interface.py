"""What other contexts call to publish a decision event: `emit()` inside the transaction
that makes the change, so the event exists if and only if the change committed."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ltc import clock
from ltc.decision_events.rules import EventType, Subject, event_body, wants
from ltc.decision_events.tables import (
    DecisionEvent,
    EventDelivery,
    EventStream,
    EventSubscriber,
)
from ltc.people import interface as people

__all__ = ["EventType", "Subject", "emit", "emit_many", "payee_subject", "person_subject"]


async def person_subject(person_id: int) -> Subject:
    person = await people.person_by_id(person_id)
    assert person is not None  # callers hold a row naming the person, never deleted
    return Subject(kind="person", key=str(person.id),
                   identity={"resident_id": person.resident_id, "name": person.name})


def payee_subject(payee_key: str, name: str) -> Subject:
    return Subject(kind="payee", key=payee_key, identity={"payee_key": payee_key, "name": name})


async def _next_sequence(stream: str) -> int:
    # One spelling for both engines (SQLite ≥ 3.35 and PostgreSQL): the row lock the upsert
    # takes on PostgreSQL makes a second transaction for the same subject wait its turn.
    rows = await EventStream.raw(
        "INSERT INTO event_stream (stream, last_sequence) VALUES ({}, 1) "
        "ON CONFLICT (stream) DO UPDATE SET last_sequence = event_stream.last_sequence + 1 "
        "RETURNING last_sequence", stream)
    return int(rows[0]["last_sequence"])


async def emit(event_type: EventType, subject: Subject, data: dict[str, Any],
               occurred_at: datetime | None = None) -> str:
    """Record one event and a pending delivery for every subscriber (active or paused) that
    chose its type. Call inside the write transaction of the change. Returns the event id."""
    event_id = str(uuid.uuid4())
    sequence = await _next_sequence(subject.stream)
    occurred_at = occurred_at or clock.now()
    event = DecisionEvent(
        event_id=event_id, event_type=str(event_type), stream=subject.stream,
        sequence=sequence, occurred_at=occurred_at,
        body=event_body(event_id, event_type, subject, sequence, occurred_at, data))
    await event.save()
    subscribers = await EventSubscriber.select(EventSubscriber.id, EventSubscriber.event_types)
    deliveries = [
        EventDelivery(subscriber=s["id"], event=event.id, stream=subject.stream,
                      sequence=sequence, next_attempt_at=clock.now())
        for s in subscribers if wants(s["event_types"], event_type)]
    if deliveries:
        await EventDelivery.insert(*deliveries)
    return event_id


# Rows per statement in emit_many: well under both engines' limit on bound parameters
# (32,766 on SQLite, 32,767 on PostgreSQL) at seven values a row.
CHUNK = 2_000


async def _raw_rows(sql: str, rows: list[tuple[Any, ...]], returning: str = "") -> list[dict]:
    """One multi-row INSERT of `rows` (`sql` ends with VALUES)."""
    marks = "(" + ", ".join(["{}"] * len(rows[0])) + ")"
    statement = f"{sql} {', '.join([marks] * len(rows))} {returning}"
    return await EventStream.raw(statement, *(value for row in rows for value in row))


async def emit_many(event_type: EventType, items: Iterable[tuple[Subject, dict[str, Any]]],
                    occurred_at: datetime | None = None) -> list[str]:
    """emit() for many (subject, data) pairs at once, set-based, in chunks: the same events,
    bodies, sequences and deliveries as calling emit() for each in turn, for a city's
    hundreds of thousands of payees in seconds (bench/RESULTS.md). Call inside the write
    transaction of the change. Returns the event ids in the order of `items`."""
    items = list(items)
    if not items:
        return []
    occurred_at = occurred_at or clock.now()
    now = clock.now()
    # Streams are advanced in sorted order, so two transactions emitting for overlapping
    # subjects lock their counters in the same order on PostgreSQL (no deadlock).
    counts = Counter(subject.stream for subject, _ in items)
    last: dict[str, int] = {}
    streams = sorted(counts)
    for start in range(0, len(streams), CHUNK):
        chunk = streams[start:start + CHUNK]
        for row in await _raw_rows(
                "INSERT INTO event_stream (stream, last_sequence) VALUES",
                [(stream, counts[stream]) for stream in chunk],
                "ON CONFLICT (stream) DO UPDATE SET last_sequence = "
                "event_stream.last_sequence + excluded.last_sequence "
                "RETURNING stream, last_sequence"):
            last[row["stream"]] = int(row["last_sequence"])
    # A subject named n times got the n numbers up to its new last one, in item order.
    next_of = {stream: last[stream] - counts[stream] + 1 for stream in counts}
    events = []
    for subject, data in items:
        sequence = next_of[subject.stream]
        next_of[subject.stream] += 1
        event_id = str(uuid.uuid4())
        events.append((event_id, str(event_type), subject.stream, sequence, occurred_at,
                       event_body(event_id, event_type, subject, sequence, occurred_at, data),
                       now))
    subscribers = [s["id"] for s in await EventSubscriber.select(
        EventSubscriber.id, EventSubscriber.event_types) if wants(s["event_types"], event_type)]
    for start in range(0, len(events), CHUNK):
        chunk = events[start:start + CHUNK]
        ids = {row["event_id"]: row["id"] for row in await _raw_rows(
            "INSERT INTO decision_event (event_id, event_type, stream, sequence, occurred_at, "
            "body, created_at) VALUES", chunk, "RETURNING id, event_id")}
        deliveries = [(subscriber, ids[event[0]], event[2], event[3], "pending", 0, now, "",
                       now) for event in chunk for subscriber in subscribers]
        for first in range(0, len(deliveries), CHUNK):
            await _raw_rows(
                "INSERT INTO event_delivery (subscriber, event, stream, sequence, state, "
                "attempts, next_attempt_at, last_error, created_at) VALUES",
                deliveries[first:first + CHUNK])
    return [event[0] for event in events]
