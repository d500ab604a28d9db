"""Subscribers and deliveries as an administrator sees them: create (the signing secret is
shown once), change, pause, resume, list, and re-send. Admins only; every change audited
in its transaction, compare-and-set on `version` where a form was read first."""

from __future__ import annotations

import json
import secrets
from typing import Any

from piccolo.query.functions.aggregate import Count

from ltc import clock, db
from ltc.audit import service as audit
from ltc.decision_events.rules import EventType, check_subscriber, stream_label
from ltc.decision_events.tables import (
    EventDelivery,
    EventDeliveryAttempt,
    EventSubscriber,
)
from ltc.errors import InvalidInput, NotFound
from ltc.identity import Actor, ActorKind, Role, require_role
from ltc.settings import Settings

ADMIN = frozenset({Role.admin})
PAGE_SIZE = 50
STATES = {"pending": "待投递", "delivered": "已送达", "dead": "已放弃（死信）"}
EVENT_TYPES = [(str(t), t.label) for t in EventType]

_PUBLIC = (EventSubscriber.id, EventSubscriber.name, EventSubscriber.url,
           EventSubscriber.event_types, EventSubscriber.active, EventSubscriber.created_at,
           EventSubscriber.version)


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "event_types": json.loads(row["event_types"])}


async def _subscriber(subscriber_id: int) -> dict[str, Any]:
    row = await EventSubscriber.select(*_PUBLIC).where(
        EventSubscriber.id == subscriber_id).first()
    if row is None:
        raise NotFound("subscriber_not_found", "没有这个订阅方")
    return _shown(row)


def _checked(name: str, url: str, event_types: list[str]) -> dict[str, Any]:
    problems = check_subscriber(name, url, event_types,
                                Settings.from_env().event_receiver_hosts)
    if problems:
        raise InvalidInput("invalid_subscriber", "订阅方信息有误，请按提示修改", problems)
    chosen = [str(t) for t in EventType if str(t) in event_types]  # one order, no repeats
    return {"name": name.strip(), "url": url.strip(), "event_types": json.dumps(chosen)}


async def create(actor: Actor, name: str, url: str,
                 event_types: list[str]) -> tuple[dict[str, Any], str]:
    """A new active subscriber and its signing secret, which is returned here only."""
    require_role(actor, ADMIN, "登记事件订阅方")
    values = _checked(name, url, event_types)
    secret = secrets.token_hex(32)
    creator = actor.id if actor.kind == ActorKind.user else None
    async with db.write_transaction():
        row = (await EventSubscriber.insert(EventSubscriber(
            **values, secret=secret, created_by=creator)).returning(EventSubscriber.id))[0]
        await audit.record(actor, "event_subscriber.created", "event_subscriber", row["id"],
                           after={**values, "event_types": json.loads(values["event_types"])})
    return await _subscriber(row["id"]), secret


async def change(actor: Actor, subscriber_id: int, version: int, name: str, url: str,
                 event_types: list[str]) -> dict[str, Any]:
    """New name, URL or event types; events already recorded keep their deliveries."""
    require_role(actor, ADMIN, "修改事件订阅方")
    values = _checked(name, url, event_types)
    async with db.write_transaction():
        before = await _subscriber(subscriber_id)
        await db.update_versioned(EventSubscriber, subscriber_id, version, {
            getattr(EventSubscriber, k): v for k, v in values.items()})
        after = await _subscriber(subscriber_id)
        await audit.record(actor, "event_subscriber.changed", "event_subscriber",
                           subscriber_id, before={k: before[k] for k in values},
                           after={k: after[k] for k in values})
    return after


async def _set_active(actor: Actor, subscriber_id: int, version: int, active: bool,
                      action: str) -> dict[str, Any]:
    async with db.write_transaction():
        await _subscriber(subscriber_id)
        await db.update_versioned(EventSubscriber, subscriber_id, version,
                                  {EventSubscriber.active: active})
        await audit.record(actor, action, "event_subscriber", subscriber_id,
                           after={"active": active})
    return await _subscriber(subscriber_id)


async def pause(actor: Actor, subscriber_id: int, version: int) -> dict[str, Any]:
    """Nothing is sent while paused; new events keep accumulating as pending deliveries."""
    require_role(actor, ADMIN, "暂停事件订阅方")
    return await _set_active(actor, subscriber_id, version, False, "event_subscriber.paused")


async def resume(actor: Actor, subscriber_id: int, version: int) -> dict[str, Any]:
    """Sending resumes, oldest first in every stream (the dispatcher's order)."""
    require_role(actor, ADMIN, "恢复事件订阅方")
    async with db.write_transaction():
        resumed = await _set_active(actor, subscriber_id, version, True,
                                    "event_subscriber.resumed")
        # The paused time is not the receiver's fault: its pending deliveries start a fresh
        # 24-hour window, as a re-send does (else one failure after a long pause kills one).
        await EventDelivery.update({EventDelivery.first_attempt_at: None,
                                    EventDelivery.next_attempt_at: clock.now()}).where(
            (EventDelivery.subscriber == subscriber_id) & (EventDelivery.state == "pending"))
    return resumed


async def subscriber(actor: Actor, subscriber_id: int) -> dict[str, Any]:
    require_role(actor, ADMIN, "查看事件订阅方")
    row = await _subscriber(subscriber_id)
    counts = await EventDelivery.raw(
        "SELECT state, COUNT(*) AS n FROM event_delivery WHERE subscriber = {} GROUP BY state",
        subscriber_id)
    return {**row, "counts": {c["state"]: c["n"] for c in counts}}


def _subscriber_where(search: str, status: str, event_type: str) -> Any:
    where = EventSubscriber.id.is_not_null()
    if search.strip():
        where &= db.contains(EventSubscriber.name, search.strip()) | db.contains(
            EventSubscriber.url, search.strip())
    if status in ("active", "paused"):
        where &= EventSubscriber.active == (status == "active")
    if event_type:
        where &= db.contains(EventSubscriber.event_types, f'"{event_type}"')
    return where


async def list_subscribers(actor: Actor, search: str = "", status: str = "",
                           event_type: str = "", *, page: int = 1,
                           page_size: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], int]:
    """One page of subscribers (by id: stable) and how many match."""
    require_role(actor, ADMIN, "查看事件订阅方")
    where = _subscriber_where(search, status, event_type)
    matched = await EventSubscriber.count().where(where)
    rows = await EventSubscriber.select(*_PUBLIC).where(where).order_by(
        EventSubscriber.id).limit(page_size).offset((max(1, page) - 1) * page_size)
    dead = await _dead_counts([r["id"] for r in rows])
    return [{**_shown(r), "dead": dead.get(r["id"], 0)} for r in rows], matched


async def all_subscribers(actor: Actor, search: str = "", status: str = "",
                          event_type: str = "") -> list[dict[str, Any]]:
    """Every match, for the CSV export (audited with the filters)."""
    require_role(actor, ADMIN, "导出事件订阅方")
    rows = await EventSubscriber.select(*_PUBLIC).where(
        _subscriber_where(search, status, event_type)).order_by(EventSubscriber.id)
    async with db.write_transaction():
        await audit.record(actor, "event_subscriber.exported", "event_subscriber_list", "",
                           after={"search": search, "status": status,
                                  "event_type": event_type, "rows": len(rows)})
    return [_shown(r) for r in rows]


SUBSCRIBER_CSV_HEADER = ["编号", "名称", "接收地址", "订阅事件", "状态", "登记时间"]


def subscriber_csv_row(row: dict[str, Any]) -> list[Any]:
    return [row["id"], row["name"], row["url"], " ".join(row["event_types"]),
            "启用" if row["active"] else "已暂停",
            row["created_at"].astimezone(clock.CHINA).strftime("%Y-%m-%d %H:%M")]


async def _dead_counts(subscriber_ids: list[int]) -> dict[int, int]:
    if not subscriber_ids:
        return {}
    rows = await EventDelivery.select(
        EventDelivery.subscriber, Count(alias="n")).where(
        (EventDelivery.state == "dead") & db.ids_in(EventDelivery.subscriber, subscriber_ids)
    ).group_by(EventDelivery.subscriber)
    return {r["subscriber"]: r["n"] for r in rows}


# --- Deliveries ----------------------------------------------------------------------------

_DELIVERY = (EventDelivery.id, EventDelivery.subscriber,
             EventDelivery.subscriber.name.as_alias("subscriber_name"),
             EventDelivery.event.event_id.as_alias("event_id"),
             EventDelivery.event.event_type.as_alias("event_type"), EventDelivery.stream,
             EventDelivery.sequence, EventDelivery.state, EventDelivery.attempts,
             EventDelivery.first_attempt_at, EventDelivery.next_attempt_at,
             EventDelivery.last_status, EventDelivery.last_error, EventDelivery.delivered_at,
             EventDelivery.created_at)


def _delivery_where(search: str, state: str, subscriber_id: int | None,
                    event_type: str) -> Any:
    where = EventDelivery.id.is_not_null()
    if search.strip():
        where &= db.contains(EventDelivery.event.event_id, search.strip())
    if state in STATES:
        where &= EventDelivery.state == state
    if subscriber_id:
        where &= EventDelivery.subscriber == subscriber_id
    if event_type:
        where &= EventDelivery.event.event_type == event_type
    return where


async def list_deliveries(actor: Actor, search: str = "", state: str = "",
                          subscriber_id: int | None = None, event_type: str = "", *,
                          page: int = 1, page_size: int = PAGE_SIZE,
                          ) -> tuple[list[dict[str, Any]], int]:
    """One page of deliveries, newest first (by id: stable), and how many match."""
    require_role(actor, ADMIN, "查看事件投递")
    where = _delivery_where(search, state, subscriber_id, event_type)
    matched = await EventDelivery.count().where(where)
    rows = await EventDelivery.select(*_DELIVERY).where(where).order_by(
        EventDelivery.id, ascending=False).limit(page_size).offset(
        (max(1, page) - 1) * page_size)
    return [_listed(row) for row in rows], matched


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    """A delivery as listed: its stream masked (stream_label), so a list or export
    names no one; the event body, which does, only on the audited detail page."""
    return {**row, "stream": stream_label(row["stream"])}


async def all_deliveries(actor: Actor, search: str = "", state: str = "",
                         subscriber_id: int | None = None,
                         event_type: str = "") -> list[dict[str, Any]]:
    require_role(actor, ADMIN, "导出事件投递")
    rows = await EventDelivery.select(*_DELIVERY).where(
        _delivery_where(search, state, subscriber_id, event_type)).order_by(
        EventDelivery.id, ascending=False)
    async with db.write_transaction():
        await audit.record(actor, "event_delivery.exported", "event_delivery_list", "",
                           after={"search": search, "state": state,
                                  "subscriber": subscriber_id, "event_type": event_type,
                                  "rows": len(rows)})
    return [_listed(row) for row in rows]


DELIVERY_CSV_HEADER = ["编号", "订阅方", "事件编号", "事件类型", "事件流", "序号", "状态",
                       "尝试次数", "最近状态码", "最近错误", "送达时间"]


def _when(moment: Any) -> str:
    return moment.astimezone(clock.CHINA).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def delivery_csv_row(row: dict[str, Any]) -> list[Any]:
    return [row["id"], row["subscriber_name"], row["event_id"], row["event_type"],
            row["stream"], row["sequence"], STATES[row["state"]], row["attempts"],
            row["last_status"] or "", row["last_error"], _when(row["delivered_at"])]


async def delivery(actor: Actor, delivery_id: int) -> dict[str, Any]:
    """A delivery, the event body sent (it names the person: the read is audited) and
    every attempt with the receiver's answer."""
    require_role(actor, ADMIN, "查看事件投递")
    row = await EventDelivery.select(
        *_DELIVERY, EventDelivery.event.body.as_alias("body")).where(
        EventDelivery.id == delivery_id).first()
    if row is None:
        raise NotFound("delivery_not_found", "没有这条投递记录")
    attempts = await EventDeliveryAttempt.select().where(
        EventDeliveryAttempt.delivery == delivery_id).order_by(EventDeliveryAttempt.id)
    async with db.write_transaction():
        await audit.record(actor, "event_delivery.viewed", "event_delivery", delivery_id)
    return {**_listed(row), "attempts": attempts}


_RESEND = {EventDelivery.state: "pending", EventDelivery.first_attempt_at: None,
           EventDelivery.claimed_until: None}


async def resend(actor: Actor, delivery_id: int) -> dict[str, Any]:
    """A dead or delivered delivery goes back to pending with a fresh 24-hour window; it
    is sent again in its stream's order."""
    require_role(actor, ADMIN, "重新投递事件")
    async with db.write_transaction():
        rows = await EventDelivery.update({**_RESEND, EventDelivery.next_attempt_at:
                                           clock.now()}).where(
            (EventDelivery.id == delivery_id) & (EventDelivery.state != "pending")
        ).returning(EventDelivery.id, EventDelivery.state)
        if not rows:
            if not await EventDelivery.exists().where(EventDelivery.id == delivery_id):
                raise NotFound("delivery_not_found", "没有这条投递记录")
            raise InvalidInput("delivery_pending", "这条投递正在等待发送，无需重新投递")
        await audit.record(actor, "event_delivery.resent", "event_delivery", delivery_id)
    return await EventDelivery.select(*_DELIVERY).where(EventDelivery.id == delivery_id).first()


async def resend_dead(actor: Actor, subscriber_id: int) -> int:
    """Every dead delivery of a subscriber back to pending; returns how many."""
    require_role(actor, ADMIN, "重新投递事件")
    await _subscriber(subscriber_id)
    async with db.write_transaction():
        rows = await EventDelivery.update({**_RESEND, EventDelivery.next_attempt_at:
                                           clock.now()}).where(
            (EventDelivery.subscriber == subscriber_id) & (EventDelivery.state == "dead")
        ).returning(EventDelivery.id)
        await audit.record(actor, "event_subscriber.dead_resent", "event_subscriber",
                           subscriber_id, after={"deliveries": len(rows)})
    return len(rows)


async def dead_deliveries(limit: int = 20) -> tuple[list[dict[str, Any]], int]:
    """The admin workbench's queue: dead deliveries, oldest first, and how many."""
    where = EventDelivery.state == "dead"
    rows = await EventDelivery.select(*_DELIVERY).where(where).order_by(
        EventDelivery.id).limit(limit)
    return [_listed(row) for row in rows], await EventDelivery.count().where(where)

