"""Enrolment events from the basic medical insurance system (SPEC §8): signed with HMAC-SHA256
per client, idempotent by event id, and their effects on people, cases and entitlements."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from ltc import clock, db
from ltc.accounts import interface as accounts
from ltc.applications import service as applications
from ltc.audit import service as audit
from ltc.enrollment.tables import EnrollmentEvent, EnrollmentRecord, HospitalStay
from ltc.entitlements import service as entitlements
from ltc.entitlements.rules import last_day_for_event
from ltc.errors import DomainError, Forbidden, InvalidInput, NotFound
from ltc.identity import Actor, ActorKind, region_covers
from ltc.people import interface as people
from ltc.people import service as people_service
from ltc.people.rules import InvalidResidentId, parse_resident_id

KINDS = {
    "enrolled": "参保",
    "enrollment_ended": "终止参保",
    "deceased": "死亡",
    "hospital_admitted": "住院",
    "hospital_discharged": "出院",
    "moved_out": "迁出统筹地区",
}
SIGNATURE_HEADER = "x-ltc-signature"


class BadSignature(DomainError):
    def __init__(self) -> None:
        super().__init__("bad_signature",
                         "签名无效：请用本客户端的签名密钥对请求体计算 HMAC-SHA256，"
                         f"以 “sha256=<十六进制>” 放在 {SIGNATURE_HEADER} 请求头中",
                         status_code=401)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    return bool(secret) and header is not None and hmac.compare_digest(sign(secret, body),
                                                                        header.strip())


@dataclass(frozen=True)
class Event:
    event_id: str
    kind: str
    resident_id: str
    effective_on: date


def parse_event(data: Any) -> Event:
    """The event, or InvalidInput naming every bad field."""
    if not isinstance(data, dict):
        raise InvalidInput("invalid_event", "请求体应为 JSON 对象", {"body": "应为 JSON 对象"})
    fields: dict[str, str] = {}
    event_id = data.get("event_id")
    if not isinstance(event_id, str) or not 1 <= len(event_id.strip()) <= 100:
        fields["event_id"] = "请提供事件编号（1到100个字符），重发同一事件时必须相同"
    kind = data.get("type")
    if kind not in KINDS:
        fields["type"] = "事件类型应为以下之一：" + "、".join(KINDS)
    resident_id = data.get("resident_id")
    try:
        resident_id = parse_resident_id(resident_id if isinstance(resident_id, str) else "",
                                        clock.today()).number
    except InvalidResidentId as exc:
        fields["resident_id"] = str(exc)
    effective_on = None
    try:
        effective_on = date.fromisoformat(data.get("effective_date"))
    except (TypeError, ValueError):
        fields["effective_date"] = "请提供事件生效日期，格式 YYYY-MM-DD"
    if effective_on and effective_on > clock.today():
        fields["effective_date"] = "事件生效日期不能晚于今天"
    if fields:
        raise InvalidInput("invalid_event", "事件内容有误，请按提示修改", fields)
    return Event(event_id.strip(), kind, resident_id, effective_on)


async def receive(actor: Actor, body: bytes,
                  signature: str | None) -> tuple[dict[str, Any], bool]:
    """Verify, parse and apply one event. Returns (answer, replayed): a replay of an event
    id returns the first answer unchanged and changes nothing."""
    if actor.kind != ActorKind.token:
        raise Forbidden("token_required", "参保事件只接受接口令牌调用")
    secret = await accounts.signing_secret_of(actor.id or 0)
    if secret is None or not signature_valid(secret, body, signature):
        raise BadSignature()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput("invalid_event", "请求体不是有效的 JSON", {"body": str(exc)}) from exc
    event = parse_event(data)
    body_sha256 = hashlib.sha256(body).hexdigest()
    try:
        return await _apply_once(actor, event, body_sha256)
    except db.UNIQUE_VIOLATIONS:
        # The same event delivered twice at once (PostgreSQL): the unique index refused the
        # second; everything it did rolled back. Answer it as the replay it is.
        return await _apply_once(actor, event, body_sha256)


async def _apply_once(actor: Actor, event: Event,
                      body_sha256: str) -> tuple[dict[str, Any], bool]:
    async with db.write_transaction():
        first = await EnrollmentEvent.select().where(
            (EnrollmentEvent.client == actor.id) & (EnrollmentEvent.event_id == event.event_id)
        ).first()
        if first is not None:
            if first["body_sha256"] != body_sha256:
                raise DomainError("event_id_reused", f"事件编号 {event.event_id} 已用于另一内容的"
                                  "事件；新事件请使用新的编号", status_code=409)
            return json.loads(first["response"]), True
        found = await people.person_by_resident_id(event.resident_id)
        if found is None or (actor.region_path and not region_covers(
                actor.region_path, found.region_path)):
            raise NotFound("person_not_found", f"本系统没有身份证号为 {event.resident_id[:6]}"
                           "…的人员（只接收已登记人员的事件）；未处理，可在登记后重发")
        person = asdict(found)
        effects = await apply(actor, event.kind, person, event.effective_on,
                              f"事件 {event.event_id}")
        response = {"event_id": event.event_id, "status": "applied", "type": event.kind,
                    "person_id": person["id"], "effects": effects}
        await EnrollmentEvent(client=actor.id, event_id=event.event_id, kind=event.kind,
                              resident_id=event.resident_id, effective_on=event.effective_on,
                              body_sha256=body_sha256,
                              response=json.dumps(response, ensure_ascii=False)).save()
    return response, False


async def apply(actor: Actor, kind: str, person: dict[str, Any], day: date,
                source: str) -> list[str]:
    """The effects of one event, inside the caller's transaction; returns what changed."""
    today = clock.today()
    await audit.record(actor, f"enrollment.{kind}", "person", person["id"],
                       after={"effective_on": day.isoformat()}, note=source)
    if kind == "enrolled":
        await _set_enrolment(person, "enrolled", None, day, source)
        return ["enrollment_recorded"]
    if kind == "hospital_admitted":
        return await _admitted(actor, person, day, source, today)
    if kind == "hospital_discharged":
        return await _discharged(actor, person, day, source, today)
    effects = []
    if kind == "enrollment_ended":
        await _set_enrolment(person, "ended", last_day_for_event(kind, day), day, source)
        effects.append("enrollment_recorded")
    if kind == "deceased":
        effects += await _deceased(actor, person, day)
    ended = await entitlements.end_for_person(actor, person["id"], last_day_for_event(kind, day),
                                              kind, source, today)
    return effects + (["entitlement_ended"] * bool(ended))


async def _set_enrolment(person: dict[str, Any], status: str, end_date: date | None,
                         day: date, source: str) -> None:
    """Keep the local enrolment record (what the acceptance check reads) true to the event.
    An `enrolled` event starts a new period on its day when the person had no record or an
    ended one (the gap between stays uncovered); for someone enrolled all along it changes
    nothing but the source."""
    record = await EnrollmentRecord.select(EnrollmentRecord.id, EnrollmentRecord.status).where(
        EnrollmentRecord.resident_id == person["resident_id"]).first()
    if record is None:
        if status == "enrolled":
            await EnrollmentRecord(
                resident_id=person["resident_id"],
                insurance_number=person["insurance_number"] or "", name=person["name"],
                scheme="", region_code=person["region_path"].split("/")[0], status=status,
                start_date=day, end_date=None, source=source[:200],
                updated_at=clock.now()).save()
        return
    values: dict[Any, Any] = {EnrollmentRecord.status: status,
                              EnrollmentRecord.end_date: end_date,
                              EnrollmentRecord.source: source[:200],
                              EnrollmentRecord.updated_at: clock.now()}
    if status == "enrolled" and record["status"] == "ended":
        values[EnrollmentRecord.start_date] = day
    await EnrollmentRecord.update(values).where(EnrollmentRecord.id == record["id"])


async def _admitted(actor: Actor, person: dict[str, Any], day: date, source: str,
                    today: date) -> list[str]:
    # The discharge may have come first (events cross in transit): complete that stay.
    waiting = await HospitalStay.select().where(
        (HospitalStay.person == person["id"]) & HospitalStay.admitted_on.is_null()
        & (HospitalStay.discharged_on >= day)).first()
    if waiting:
        await HospitalStay.update({HospitalStay.admitted_on: day,
                                   HospitalStay.admission_source: source}).where(
            HospitalStay.id == waiting["id"])
    elif await HospitalStay.exists().where(
            (HospitalStay.person == person["id"]) & HospitalStay.discharged_on.is_null()
            & (HospitalStay.admitted_on <= day)):
        return ["already_in_hospital"]
    else:
        await HospitalStay(person=person["id"], admitted_on=day, admission_source=source).save()
    touched = await entitlements.hospital_changed(actor, person["id"], "suspended", day, source,
                                                  today)
    return ["hospital_stay_recorded"] + (["entitlement_suspended"] * bool(touched))


async def _discharged(actor: Actor, person: dict[str, Any], day: date, source: str,
                      today: date) -> list[str]:
    stay = await HospitalStay.select().where(
        (HospitalStay.person == person["id"]) & HospitalStay.discharged_on.is_null()
        & (HospitalStay.admitted_on <= day)).order_by(HospitalStay.admitted_on,
                                                       ascending=False).first()
    if stay is None:
        await HospitalStay(person=person["id"], discharged_on=day,
                           discharge_source=source).save()
        return ["discharge_waiting_for_admission"]
    await HospitalStay.update({HospitalStay.discharged_on: day,
                               HospitalStay.discharge_source: source}).where(
        HospitalStay.id == stay["id"])
    touched = await entitlements.hospital_changed(actor, person["id"], "resumed", day, source,
                                                  today)
    return ["hospital_stay_recorded"] + (["entitlement_resumed"] * bool(touched))


async def _deceased(actor: Actor, person: dict[str, Any], day: date) -> list[str]:
    """Record the death; the person's open applications and assessments close."""
    effects = []
    if await people_service.record_death(person["id"], day):
        effects.append("death_recorded")
    if await applications.close_open_of_deceased(actor, person["id"]):
        effects.append("cases_closed")
    return effects
