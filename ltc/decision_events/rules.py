"""What a decision event is and how it is worded on the wire: pure, no I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ltc.clock import CHINA


class EventType(StrEnum):
    """The event types a subscriber may choose; their values are the wire's `type`."""

    grade_concluded = "grade.concluded"
    entitlement_started = "entitlement.started"
    entitlement_suspended = "entitlement.suspended"
    entitlement_resumed = "entitlement.resumed"
    entitlement_ended = "entitlement.ended"
    careplan_confirmed = "careplan.confirmed"
    payout_approved = "payout.approved"
    payout_paid = "payout.paid"

    @property
    def label(self) -> str:
        return EVENT_LABELS[self]


EVENT_LABELS = {
    EventType.grade_concluded: "评估结论确定",
    EventType.entitlement_started: "待遇开始享受",
    EventType.entitlement_suspended: "待遇暂停",
    EventType.entitlement_resumed: "待遇恢复",
    EventType.entitlement_ended: "待遇终止",
    EventType.careplan_confirmed: "护理计划确认",
    EventType.payout_approved: "结算审核通过（按收款人）",
    EventType.payout_paid: "结算已支付（按收款人）",
}


@dataclass(frozen=True)
class Subject:
    """Whom an event is about. `stream` orders events: every subject has its own sequence
    1, 2, 3 … and a receiver applies them in that order. `identity` is what a partner
    matches on (a person's resident ID and name; a payee's key and name)."""

    kind: str  # person | payee
    key: str  # the person's id, or the payee key (org:<id>, cg:<resident id>)
    identity: dict[str, str]

    @property
    def stream(self) -> str:
        return f"{self.kind}:{self.key}"


def event_body(event_id: str, event_type: EventType, subject: Subject, sequence: int,
               occurred_at: datetime, data: dict[str, Any]) -> str:
    """The JSON every subscriber receives for this event, byte for byte the same."""
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be an aware datetime")
    return json.dumps({
        "event_id": event_id,
        "type": str(event_type),
        "occurred_at": occurred_at.astimezone(CHINA).isoformat(timespec="milliseconds"),
        "subject": {"type": subject.kind, **subject.identity},
        "sequence": sequence,
        "data": data,
    }, ensure_ascii=False, separators=(",", ":"), sort_keys=False)


def wants(event_types_json: str, event_type: EventType) -> bool:
    """Does a subscriber with this list of types receive this event?"""
    try:
        chosen = json.loads(event_types_json)
    except ValueError:
        return False
    return isinstance(chosen, list) and str(event_type) in chosen
