"""Recording and verifying the audit log. No code path updates or deletes audit rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltc import clock, db
from ltc.audit import checkpoints, keys
from ltc.audit.rules import (
    GENESIS_HASH,
    KEYED,
    BrokenLink,
    ChainVerifier,
    checkpoint_problem,
    event_hash,
    summary_json,
)
from ltc.audit.tables import AuditEvent
from ltc.identity import Actor
from ltc.settings import Settings
from ltc.web.access_log import masked_search

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
        "hash_scheme": KEYED,
    }
    row = AuditEvent(**event, hash=event_hash(event, keys.chain_key()))
    await row.save()
    return row


async def record_list_read(actor: Actor, action: str, object_type: str,
                           filters: dict[str, Any]) -> None:
    """In its own transaction: the actor read a list of personal data (an export, a page of
    the people directory) with these filters, the search box masked (it may hold an ID or
    a phone number). The object is the actor's region, as every list is scoped to it."""
    async with db.write_transaction():
        await record(actor, action, object_type, actor.region_path or "all",
                     after={**filters, "q": masked_search(str(filters.get("q", "")))})


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


class CannotVerify(Exception):
    """A key file verification needs is missing: the log is neither intact nor broken."""


@dataclass(frozen=True)
class Verification:
    checked: int  # events verified before the first broken one (all of them when intact)
    legacy: int  # of which unkeyed events from before the keyed chain
    broken: BrokenLink | None
    checkpoints: int  # checkpoints that hold
    bad_checkpoint: tuple[str, str] | None  # (file name, why) of the first that does not

    @property
    def intact(self) -> bool:
        return self.broken is None and self.bad_checkpoint is None


async def verify(settings: Settings) -> Verification:
    """Walk the chain with the chain key, then hold every signed checkpoint against it.
    Raises CannotVerify when the chain key, or the public key while checkpoints exist, is
    missing."""
    key = keys.read_chain_key(settings.audit_key_file)
    if key is None:
        raise CannotVerify(f"the audit key file {settings.audit_key_file} "
                           "(LTC_AUDIT_KEY_FILE) is missing")
    public = keys.public_key(settings)
    if public is None:
        if any(settings.audit_checkpoint_dir.glob("checkpoint-*.json")):
            raise CannotVerify(f"the public key file {settings.audit_public_key_file} "
                               "(LTC_AUDIT_PUBLIC_KEY_FILE) is missing")
        found: list[checkpoints.Checkpoint] = []
    else:
        found = checkpoints.read_all(settings.audit_checkpoint_dir, public)
    verifier = ChainVerifier(key, remember=[c.seq for c in found])
    async for event in _events_in_order():
        if broken := verifier.feed(event):
            return Verification(verifier.checked, verifier.legacy, broken, 0, None)
    for held, checkpoint in enumerate(found):
        problem = checkpoint_problem(checkpoint.fields, checkpoint.signature_valid,
                                     verifier.checked, verifier.hashes.get(checkpoint.seq))
        if problem:
            return Verification(verifier.checked, verifier.legacy, None, held,
                                (checkpoint.name, problem))
    return Verification(verifier.checked, verifier.legacy, None, len(found), None)


async def checkpoint(settings: Settings) -> tuple[Verification, Path | None]:
    """Verify the log and, only when it is intact (a checkpoint must never vouch for a
    rewritten log), sign its head into the checkpoint directory. The path is None when
    nothing was written: the log is broken or empty, or its head has a checkpoint already."""
    verification = await verify(settings)
    if not verification.intact or verification.checked == 0:
        return verification, None
    head = await (AuditEvent.select(AuditEvent.seq, AuditEvent.hash)
                  .where(AuditEvent.seq == verification.checked).first())
    return verification, checkpoints.write(
        settings.audit_checkpoint_dir, keys.signing_key(settings), head["seq"], head["hash"],
        verification.checked)


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



def last_checkpoint(settings: Settings) -> dict[str, Any] | None:
    return checkpoints.latest(settings.audit_checkpoint_dir)


async def event_count() -> int:
    return await AuditEvent.count()
