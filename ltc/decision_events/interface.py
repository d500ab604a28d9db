"""What other contexts call to publish a decision event: `emit()` inside the transaction
that makes the change, so the event exists if and only if the change committed."""

from __future__ import annotations

import uuid
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

__all__ = ["EventType", "Subject", "emit", "payee_subject", "person_subject"]


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
