"""What other parts of LTC read of the audit log (typed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ltc.audit.tables import AuditEvent
from ltc.identity import Role


@dataclass(frozen=True)
class Recorded:
    """One audit event, as a page shows it: when, who (name and role) and its summary."""

    at: datetime
    actor_name: str
    actor_role_label: str
    after: dict[str, Any]
    note: str


async def events_on(action: str, object_type: str, object_ids: list[Any]) -> list[Recorded]:
    """The events of one kind on these objects, newest first."""
    if not object_ids:
        return []
    rows = await AuditEvent.select(
        AuditEvent.at, AuditEvent.actor_name, AuditEvent.actor_role, AuditEvent.summary).where(
        (AuditEvent.action == action) & (AuditEvent.object_type == object_type)
        & AuditEvent.object_id.is_in([str(i) for i in object_ids])).order_by(
        AuditEvent.seq, ascending=False)
    found = []
    for row in rows:
        summary = json.loads(row["summary"])
        role = row["actor_role"]
        found.append(Recorded(
            row["at"], row["actor_name"],
            Role(role).label if role in Role.__members__ else "",
            summary.get("after") or {}, summary.get("note") or ""))
    return found
