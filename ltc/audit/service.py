"""Recording and verifying the audit log. No code path updates or deletes audit rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ltc import clock, db
from ltc.audit.rules import GENESIS_HASH, BrokenLink, ChainVerifier, event_hash, summary_json
from ltc.audit.tables import AuditEvent
from ltc.identity import Actor

# Any constant: PostgreSQL serialises appends to the chain on this advisory lock.
_CHAIN_LOCK_KEY = 4_172_024


async def record(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: Any,
    *,
    before: Any = None,
    after: Any = None,
    note: str | None = None,
) -> AuditEvent:
    """Append one event. Must run inside the caller's write_transaction, so the event commits
    or rolls back together with the change it describes."""
    if not db.is_sqlite():
        # SQLite's IMMEDIATE transaction already holds the only write lock.
        await AuditEvent.raw(f"SELECT pg_advisory_xact_lock({_CHAIN_LOCK_KEY})")
    last = await (
        AuditEvent.select(AuditEvent.seq, AuditEvent.hash)
        .order_by(AuditEvent.seq, ascending=False)
        .first()
    )
    event = {
        "seq": (last["seq"] + 1) if last else 1,
        "at": clock.now(),
        "actor_kind": str(actor.kind),
        "actor_id": actor.id,
        "actor_name": actor.name,
        "actor_role": str(actor.role) if actor.role else None,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "summary": summary_json(before, after, note),
        "prev_hash": last["hash"] if last else GENESIS_HASH,
    }
    row = AuditEvent(**event, hash=event_hash(event))
    await row.save()
    return row


async def _events_in_order(batch_size: int = 1000) -> AsyncIterator[dict[str, Any]]:
    after = 0
    while True:
        rows = await (
            AuditEvent.select()
            .where(AuditEvent.seq > after)
            .order_by(AuditEvent.seq)
            .limit(batch_size)
        )
        for row in rows:
            yield row
        if len(rows) < batch_size:
            return
        after = rows[-1]["seq"]


async def verify_chain() -> tuple[int, BrokenLink | None]:
    """(events checked, first broken link or None), streaming in batches."""
    verifier = ChainVerifier()
    async for event in _events_in_order():
        if broken := verifier.feed(event):
            return verifier.checked, broken
    return verifier.checked, None


async def timeline_of(objects: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """One timeline of several objects ({object type: ids}), in the order things happened."""
    events: list[dict[str, Any]] = []
    for object_type, ids in objects.items():
        if ids:
            events += await AuditEvent.select().where(
                (AuditEvent.object_type == object_type)
                & AuditEvent.object_id.is_in([str(i) for i in ids]))
    return sorted(events, key=lambda e: e["seq"])


async def timeline(object_type: str, object_id: Any) -> list[dict[str, Any]]:
    return await (
        AuditEvent.select()
        .where((AuditEvent.object_type == object_type) & (AuditEvent.object_id == str(object_id)))
        .order_by(AuditEvent.seq)
    )



async def event_count() -> int:
    return await AuditEvent.count()
