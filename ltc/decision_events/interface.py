"""What other contexts call to publish a decision event: `emit()` inside the transaction
that makes the change, so the event exists if and only if the change committed."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ltc import clock, db
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


# Rows per statement in emit_many. They travel as one JSON parameter, not a parameter per
# value: Piccolo's query building costs microseconds per parameter, more than the insert.
CHUNK = 5_000


def _json_rows(*columns: tuple[str, str]) -> str:
    """A SELECT of the rows of one JSON parameter (a list of lists, values in `columns`
    order: (name, PostgreSQL type)), in list order: the one engine spelling emit_many needs."""
    if db.is_sqlite():
        picks = ", ".join(f"json_extract(value, '$[{i}]') AS {name}"
                          for i, (name, _) in enumerate(columns))
        return f"SELECT {picks} FROM json_each({{}}) WHERE true ORDER BY key"
    picks = ", ".join(f"(value->>{i})::{kind} AS {name}" for i, (name, kind) in enumerate(columns))
    return (f"SELECT {picks} FROM jsonb_array_elements({{}}::jsonb) WITH ORDINALITY AS r"
            "(value, n) WHERE true ORDER BY n")


def _param(rows: list[tuple[Any, ...]]) -> str:
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))


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
    streams = sorted(counts)
    last: dict[str, int] = {}
    for start in range(0, len(streams), CHUNK):
        chunk = [(stream, counts[stream]) for stream in streams[start:start + CHUNK]]
        for row in await EventStream.raw(
                "INSERT INTO event_stream (stream, last_sequence) "
                + _json_rows(("stream", "text"), ("n", "integer"))
                + " ON CONFLICT (stream) DO UPDATE SET last_sequence = "
                "event_stream.last_sequence + excluded.last_sequence "
                "RETURNING stream, last_sequence", _param(chunk)):
            last[row["stream"]] = int(row["last_sequence"])
    # A subject named n times got the n numbers up to its new last one, in item order.
    next_of = {stream: last[stream] - counts[stream] + 1 for stream in counts}
    events = []
    for subject, data in items:
        sequence = next_of[subject.stream]
        next_of[subject.stream] += 1
        event_id = str(uuid.uuid4())
        events.append((event_id, subject.stream, sequence,
                       event_body(event_id, event_type, subject, sequence, occurred_at, data)))
    subscribers = [s["id"] for s in await EventSubscriber.select(
        EventSubscriber.id, EventSubscriber.event_types) if wants(s["event_types"], event_type)]
    for start in range(0, len(events), CHUNK):
        chunk = events[start:start + CHUNK]
        ids = {row["event_id"]: row["id"] for row in await DecisionEvent.raw(
            "INSERT INTO decision_event (event_id, event_type, stream, sequence, occurred_at, "
            "body, created_at) SELECT r.event_id, {}, r.stream, r.sequence, {}, r.body, {} FROM ("
            + _json_rows(("event_id", "text"), ("stream", "text"), ("sequence", "integer"),
                         ("body", "text"))
            + ") r RETURNING id, event_id", str(event_type), occurred_at, now, _param(chunk))}
        if subscribers:
            await EventDelivery.raw(
                "INSERT INTO event_delivery (subscriber, event, stream, sequence, state, "
                "attempts, next_attempt_at, last_error, created_at) SELECT r.subscriber, "
                "r.event, r.stream, r.sequence, 'pending', 0, {}, '', {} FROM ("
                + _json_rows(("subscriber", "integer"), ("event", "integer"),
                             ("stream", "text"), ("sequence", "integer")) + ") r",
                now, now, _param([(subscriber, ids[e[0]], e[1], e[2])
                                  for e in chunk for subscriber in subscribers]))
    return [event[0] for event in events]
