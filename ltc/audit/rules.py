"""The audit chain's hashing and verification: pure functions over plain dicts.

Two hash schemes. LEGACY events (written before the keyed chain existed) carry an unkeyed
SHA-256 of their fields: anyone who can write the table can recompute it. KEYED events carry
an HMAC-SHA256 under the audit key, a file that never lives in the database, so rewriting
them needs the key too. The schemes form one chain (each event names the previous hash), and
a LEGACY event may only come before every KEYED one: rewriting keyed events the old way is
found at the first of them. What pins the legacy prefix against a rewrite is a signed
checkpoint (ltc.audit.checkpoints) taken after it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
LEGACY, KEYED = 1, 2  # hash schemes, stored per event in `hash_scheme`

# The fields a hash covers, in a fixed order; a change to any of them breaks the chain.
CHAINED_FIELDS = (
    "seq", "at", "actor_kind", "actor_id", "actor_name", "actor_role",
    "action", "object_type", "object_id", "summary", "prev_hash",
)


def canonical_time(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(event: Mapping[str, Any], key: bytes | None = None) -> str:
    """The event's hash under its scheme; a KEYED event needs `key` (the scheme is hashed
    too, so relabelling an event changes its hash)."""
    payload = {field: event[field] for field in CHAINED_FIELDS}
    payload["at"] = canonical_time(payload["at"])
    scheme = event.get("hash_scheme", LEGACY)
    if scheme == KEYED:
        payload["hash_scheme"] = KEYED
    encoded = json.dumps(payload, ensure_ascii=False, sort_keys=True,
                         separators=(",", ":")).encode()
    if scheme == LEGACY:
        return hashlib.sha256(encoded).hexdigest()
    if scheme != KEYED:
        raise ValueError(f"unknown audit hash scheme {scheme!r}")
    if key is None:
        raise ValueError("a keyed audit event needs the audit key")
    return hmac.new(key, encoded, hashlib.sha256).hexdigest()


def summary_json(before: Any = None, after: Any = None, note: str | None = None) -> str:
    """The before/after summary, stored as canonical JSON so it hashes the same everywhere."""
    summary = {k: v for k, v in (("before", before), ("after", after), ("note", note))
               if v is not None}
    return json.dumps(summary, ensure_ascii=False, sort_keys=True, default=str)


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    reason: str


class ChainVerifier:
    """Feed events in seq order; `feed` returns the first broken link it sees, else None.

    `hashes` keeps the verified hash of each seq in `remember` (the checkpoints' events)."""

    def __init__(self, key: bytes, remember: Iterable[int] = ()) -> None:
        self.checked = 0
        self.legacy = 0
        self.hashes: dict[int, str] = {}
        self._key = key
        self._remember = set(remember)
        self._prev_hash = GENESIS_HASH

    def feed(self, event: Mapping[str, Any]) -> BrokenLink | None:
        expected_seq = self.checked + 1
        seq = event["seq"]
        if seq != expected_seq:
            return BrokenLink(expected_seq, f"event {expected_seq} is missing")
        if event["prev_hash"] != self._prev_hash:
            return BrokenLink(seq, "prev_hash does not match the previous event")
        scheme = event.get("hash_scheme", LEGACY)
        if scheme not in (LEGACY, KEYED):
            return BrokenLink(seq, f"unknown hash scheme {scheme!r}")
        if scheme == LEGACY and self.legacy < self.checked:
            return BrokenLink(seq, "an unkeyed event after keyed ones: the chain was "
                                   "re-hashed without the audit key")
        if event_hash(event, self._key) != event["hash"]:
            return BrokenLink(seq, "contents do not match the stored hash (edited, or "
                                   "re-hashed without the audit key)")
        self._prev_hash = event["hash"]
        self.checked += 1
        self.legacy += scheme == LEGACY
        if seq in self._remember:
            self.hashes[seq] = event["hash"]
        return None


def first_broken_link(events: Iterable[Mapping[str, Any]], key: bytes) -> BrokenLink | None:
    verifier = ChainVerifier(key)
    for event in events:
        if broken := verifier.feed(event):
            return broken
    return None


# Checkpoints: the chain head, signed outside the database (ltc.audit.checkpoints).

CHECKPOINT_FIELDS = ("seq", "hash", "count", "at")


def checkpoint_message(checkpoint: Mapping[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers."""
    payload = {field: checkpoint[field] for field in CHECKPOINT_FIELDS}
    return b"ltc-audit-checkpoint-v1\n" + json.dumps(
        payload, sort_keys=True, separators=(",", ":")).encode()


def checkpoint_problem(checkpoint: Mapping[str, Any], signature_valid: bool, head_seq: int,
                       verified_hash: str | None) -> str | None:
    """Why a checkpoint does not fit the log, in plain words, or None when it does.
    `verified_hash` is the hash of the checkpoint's event as the chain walk verified it."""
    seq = checkpoint["seq"]
    if not signature_valid:
        return "its signature is not valid (forged, or signed with another key)"
    if checkpoint["count"] != seq:
        return f"it counts {checkpoint['count']} events up to event {seq}"
    if seq > head_seq:
        return (f"it names event {seq} but the log ends at event {head_seq}: events were "
                "deleted or the database was rolled back")
    if verified_hash != checkpoint["hash"]:
        return f"event {seq} no longer has the hash this checkpoint signed"
    return None
