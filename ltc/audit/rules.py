"""The audit chain's hashing and verification: pure functions over plain dicts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

# The fields a hash covers, in a fixed order; a change to any of them breaks the chain.
CHAINED_FIELDS = (
    "seq", "at", "actor_kind", "actor_id", "actor_name", "actor_role",
    "action", "object_type", "object_id", "summary", "prev_hash",
)


def canonical_time(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(event: Mapping[str, Any]) -> str:
    payload = {field: event[field] for field in CHAINED_FIELDS}
    payload["at"] = canonical_time(payload["at"])
    encoded = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


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
    """Feed events in seq order; `feed` returns the first broken link it sees, else None."""

    def __init__(self) -> None:
        self.checked = 0
        self._prev_hash = GENESIS_HASH

    def feed(self, event: Mapping[str, Any]) -> BrokenLink | None:
        expected_seq = self.checked + 1
        if event["seq"] != expected_seq:
            return BrokenLink(expected_seq, f"event {expected_seq} is missing")
        if event["prev_hash"] != self._prev_hash:
            return BrokenLink(event["seq"], "prev_hash does not match the previous event")
        if event_hash(event) != event["hash"]:
            return BrokenLink(event["seq"], "contents do not match the stored hash")
        self._prev_hash = event["hash"]
        self.checked += 1
        return None


def first_broken_link(events: Iterable[Mapping[str, Any]]) -> BrokenLink | None:
    verifier = ChainVerifier()
    for event in events:
        if broken := verifier.feed(event):
            return broken
    return None
