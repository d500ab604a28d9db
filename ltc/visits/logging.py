"""Logging a visit (SPEC §6, issue 5): a provider's staff record each home visit, from the
phone form or an app through the API; the record is immutable (a correction is a revision
and the original stays: ltc.visits.review); the automatic flags are computed in the same
transaction.

Idempotency: a visit is identified by the UUID its client made (the form gets one when it
is first shown, an app makes its own). The same UUID with the same content is a replay: it
returns the first answer and creates nothing; with other content it is refused (409
`uuid_reused`). Two copies racing on PostgreSQL meet at the UNIQUE index, and the loser is
answered as the replay it is.

One transaction, on either engine: one statement gathers every fact (ltc.visits.facts),
Python validates and judges, one INSERT writes the row with its answer, and the audit log
records it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from ltc import clock, db
from ltc.audit import service as audit
from ltc.errors import Conflict, Forbidden, InvalidInput
from ltc.identity import Actor, ActorKind, Role, require_role
from ltc.organisations import interface as organisations
from ltc.sanctions import interface as sanctions
from ltc.settings import Settings
from ltc.staff import interface as register
from ltc.visits import confirmation, rules
from ltc.visits import facts as gathered
from ltc.visits.facts import civil_day
from ltc.visits.rules import FLAG_LABELS, FlagCode, VisitInput
from ltc.visits.tables import Visit

LOG_ROLES = frozenset({Role.provider})
MAX_SIGNATURE_BYTES = 512 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def parse_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if isinstance(value, str | uuid.UUID) else None
    except ValueError:
        return None


def signature_problem(png: bytes | None) -> str | None:
    if png is None:
        return None
    if not png.startswith(PNG_MAGIC):
        return "签名图片须为 PNG 格式"
    if len(png) > MAX_SIGNATURE_BYTES:
        return f"签名图片不超过 {MAX_SIGNATURE_BYTES // 1024} KB"
    return None


_NO_STAFF_ID = "请提供服务人员编号（staff_id）"


def _staff_id_for(actor: Actor, staff_id: int | None) -> int | None:
    """A signed-in provider user logs for themselves unless they name another member of
    their organisation; an app's token must name one (None: it did not)."""
    if staff_id is None and actor.kind == ActorKind.user:
        return actor.id
    return staff_id


def _staff_problem(actor: Actor, row: Mapping[str, Any] | None) -> str | None:
    if (row is None or row["role"] != Role.provider or not row["active"]
            or row["organisation"] != actor.organisation_id):
        return "服务人员须为本机构在职的服务人员，请重新选择"
    return None


async def refuse_uncertified(staff: Mapping[str, Any], started_at: Any,
                             problems: Mapping[str, str], field: str) -> None:
    """Refuse the visit when the staff register stops this member of staff working on its
    day (no record, not a nurse or care worker, not 在职, certificate expired): the
    refusal's own stable code, its reason at `field`, with every other problem listed too.
    A provider account without a staff record is refused: production registers every one
    (ltc.staff). The day is the visit's start (today when it cannot be read: that is
    reported anyway). A sanction in effect on the day refuses it the same way."""
    day = civil_day(started_at) if isinstance(started_at, datetime) else clock.today()
    refused = await register.certificate_refusal(staff["id"], register.CARING, day,
                                                 staff["display_name"])
    if refused is None and (standing := (await register.standings_of([staff["id"]])).get(
            staff["id"])):
        # A sanction (ltc.sanctions) suspends or withdraws the member's eligibility.
        refused = await sanctions.staff_refusal(standing.staff_id, standing.name, day)
    if refused is not None:
        listed = {k: v for k, v in problems.items() if k != PIN_REFUSAL}
        raise InvalidInput(refused.code, refused.message, {**listed, field: refused.message})


async def _provider_working(organisation_id: int, offline_day: date | None = None) -> str:
    """A provider suspended (暂停) or exited (退出) in the organisation register logs no
    visits, whatever its agreements say (a replay of one logged before is still answered).
    A visit recorded on a device while offline (`offline_day`: the visit's civil day) and
    done before the change took effect is logged and flagged for review instead (the status
    label is returned; "" when the provider is active): the device's word that it was
    offline never lets a suspended provider log a visit done after its suspension."""
    provider = await organisations.by_id(organisation_id)
    if provider is None or provider.active:
        return ""
    if offline_day is not None:
        since = await organisations.inactive_since(organisation_id)
        if since is not None and offline_day < since:
            return provider.status_label
    raise Forbidden("provider_not_active",
                    f"本机构在定点机构登记中的状态为“{provider.status_label}”，不能登记上门服务"
                    "记录；如有疑问请联系医保经办机构")


def _offline_day(values: Mapping[str, Any]) -> date | None:
    """The visit's civil day when a device recorded it offline; None otherwise."""
    started = values.get("started_at")
    if values.get("recorded_at") is None or not isinstance(started, datetime):
        return None
    return civil_day(started)


def normalised_items(items: Any) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for code in items or ():
        seen[str(code).strip()] = None
    return tuple(seen)


def visit_input(values: Mapping[str, Any]) -> VisitInput:
    """`values["pin"]`: a household PIN typed now; a confirmation stored before (a
    revision keeping the original's) stands like a signature."""
    pin = values.get("pin", "")
    return VisitInput(
        started_at=values["started_at"], ended_at=values["ended_at"], items=values["items"],
        family_confirmed_by=values["family_confirmed_by"], confirmation_code=pin,
        has_signature=values["signature_sha256"] is not None or (
            bool(values["confirmation_code"]) and not pin),
        service_type=values["service_type"], notes=values["notes"],
        checkin=(values["checkin_latitude"], values["checkin_longitude"]),
        checkout=(values["checkout_latitude"], values["checkout_longitude"]))


async def log_visit(
    actor: Actor, *, client_uuid: Any, person_id: int | None, staff_id: int | None = None,
    service_type: str = "home_visit", started_at: Any, ended_at: Any,
    checkin_latitude: float | None = None, checkin_longitude: float | None = None,
    checkout_latitude: float | None = None, checkout_longitude: float | None = None,
    items: Any = (), notes: str = "", family_confirmed_by: str = "",
    confirmation_code: str = "", signature_png: bytes | None = None,
    recorded_at: datetime | None = None, unreadable: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Record one visit. Returns (answer, replayed): the answer names the visit, its review
    state and its flags; a replay of the same UUID and content returns the first answer and
    creates nothing. `recorded_at`: when a device recorded it while offline (the field
    pages, ltc.desk.field): what changed since is flagged rather than refused, so the
    visit is not lost. `unreadable`: fields the caller could not parse (reported with the
    rest, all at once)."""
    require_role(actor, LOG_ROLES, "登记上门服务记录")
    if actor.organisation_id is None:
        raise Forbidden("no_organisation", "您的账号不属于任何护理机构，不能登记服务记录")
    values = {
        "person": person_id, "service_type": service_type, "started_at": started_at,
        "ended_at": ended_at, "checkin_latitude": checkin_latitude,
        "checkin_longitude": checkin_longitude, "checkout_latitude": checkout_latitude,
        "checkout_longitude": checkout_longitude, "items": normalised_items(items),
        "notes": (notes or "").strip(), "family_confirmed_by": (family_confirmed_by or "").strip(),
        "signature_sha256": hashlib.sha256(signature_png).hexdigest() if signature_png else None,
        "recorded_at": recorded_at,
    }
    key = parse_uuid(client_uuid)
    problems = dict(unreadable or {})
    if recorded_at is not None and (problem := _recorded_problem(recorded_at, started_at)):
        problems["recorded_at"] = problem
    offline = _offline_day(values) is not None
    values.update(await pin_confirmation(actor, key, person_id, confirmation_code, problems,
                                         offline_at=started_at if offline else None))
    try:
        async with db.write_transaction():
            return await _log_once(actor, key, staff_id, values, signature_png, problems)
    except db.UNIQUE_VIOLATIONS:
        # The same visit sent twice at once (PostgreSQL): the UNIQUE index refused the
        # second, and everything it did rolled back. Answer it as the replay it is.
        first = await Visit.select().where(Visit.client_uuid == key).first()
        if first is None:
            raise
        return replay(actor, first, values), True


# A phone's clock may run a little ahead of the server's.
CLOCK_SKEW = timedelta(minutes=5)


def _recorded_problem(recorded_at: datetime, started_at: Any) -> str | None:
    """What is wrong with a device's claim of when it recorded a visit offline."""
    if recorded_at > clock.now() + CLOCK_SKEW:
        return "离线登记时间晚于当前时间，请检查手机的日期和时间后重新上传"
    if isinstance(started_at, datetime) and recorded_at < started_at:
        return "离线登记时间早于服务开始时间，请检查手机的日期和时间后重新上传"
    return None


async def _log_once(actor: Actor, key: uuid.UUID | None, staff_id: int | None,
                    values: dict[str, Any], signature_png: bytes | None,
                    problems: dict[str, str]) -> tuple[dict[str, Any], bool]:
    wanted = _staff_id_for(actor, staff_id)
    facts = await gathered.gather(actor, key=key, person_id=values["person"],
                                  staff_id=wanted, started_at=values["started_at"],
                                  ended_at=values["ended_at"])
    if facts["replay"] is not None:
        first = await Visit.select().where(Visit.client_uuid == key).first()
        staff = staff_id if staff_id is not None or actor.kind != ActorKind.user else actor.id
        return replay(actor, first, {**values, "staff": staff}), True
    values["provider_status"] = await _provider_working(actor.organisation_id,
                                                        _offline_day(values))
    if key is None:
        problems["client_uuid"] = ("请提供客户端生成的 UUID（如 0b7c…-…），重发同一条记录时"
                                   "必须相同")
    staff = facts["staff"]
    if wanted is None:
        problems.setdefault("staff_id", _NO_STAFF_ID)
    elif (problem := _staff_problem(actor, staff)) is not None:
        problems.setdefault("staff_id", problem)
    problems.update({k: v for k, v in rules.input_problems(
        visit_input(values), clock.now(), facts["catalogue"]).items() if k not in problems})
    if values["person"] is None:
        problems.setdefault("person_id", "请选择服务对象（受益人）")
    if (problem := signature_problem(signature_png)) is not None:
        problems["signature_png"] = problem
    if staff is not None and "staff_id" not in problems:
        # Refused by the staff register (实名制), whatever else is wrong.
        await refuse_uncertified(staff, values["started_at"], problems, "staff_id")
    if problems:
        refuse("invalid_visit", "服务记录有误，请按提示修改后再提交", problems)
    assert staff is not None and key is not None
    values["staff"] = staff["id"]
    if signature_png:
        await store_signature(signature_png)
    visit = await write(actor, facts, key, values, staff, revision=None)
    await audit.record(actor, "visit.logged", "visit", visit["id"],
                       after=audit_summary(visit), note=review_note(visit))
    return json.loads(visit["response"]), False


async def pin_confirmation(actor: Actor, key: uuid.UUID | None, person_id: int | None,
                           typed: str | None, problems: dict[str, str],
                           offline_at: datetime | None = None) -> dict[str, Any]:
    """The visit's confirmation values for a typed household PIN: the PIN itself to
    validate (`pin`), and what the row keeps (`confirmation_code`: the marker, never the
    PIN). A PIN of the right shape is checked now, in its own transaction (a wrong one
    counts even though the visit is refused): its problem goes into `problems`. Not for a
    replay (its UUID is already recorded: the first answer stands). A visit recorded
    offline (`offline_at`: when it started) whose PIN is no longer in force for the
    provider is checked against the PIN the household had then; when that cannot be done
    either it is not refused for it: PIN_UNCHECKED, flagged `pin_unchecked` for review."""
    pin = (typed or "").strip()
    if (pin and person_id is not None and rules.PIN_PATTERN.fullmatch(pin)
            and not (key and await Visit.exists().where(Visit.client_uuid == key))):
        # A provider that may not log visits never gets to try (and burn) the family's PIN
        # — unless the visit was recorded offline (then it is logged flagged, for review).
        await _provider_working(actor.organisation_id,
                                civil_day(offline_at) if offline_at else None)
        refused = await confirmation.check(actor, person_id, pin)
        if offline_at is not None and refused is not None and refused[0] == "pin_not_in_force":
            # The plan moved to another provider after the device recorded the visit: the
            # family's PIN went with it. The letter of the visit's day answers instead.
            refused = await confirmation.check(actor, person_id, pin, at=offline_at)
            if refused is not None and refused[0] in ("pin_not_in_force", "no_pin_issued"):
                # None to check it against: logged and flagged, and marked apart — nothing
                # may read it as confirmed by the PIN.
                return {"pin": pin, "confirmation_code": confirmation.PIN_UNCHECKED,
                        "pin_unchecked": True}
        if refused is not None:
            problems["confirmation_code"] = refused[1]
            problems[PIN_REFUSAL] = refused[0]
    return {"pin": pin, "confirmation_code": confirmation.PIN_CONFIRMED if pin else ""}


# Where pin_confirmation leaves the refusal's code for the one raising the problems.
PIN_REFUSAL = "_pin_refusal"


def refuse(code: str, message: str, problems: dict[str, str]) -> None:
    """Raise the problems, under the PIN refusal's own code when a PIN was refused."""
    refusal = problems.pop(PIN_REFUSAL, None)
    if refusal is not None:
        raise InvalidInput(refusal, problems["confirmation_code"], problems)
    raise InvalidInput(code, message, problems)


_COMPARED = {
    "person": "person_id", "staff": "staff_id", "service_type": "service_type",
    "started_at": "started_at", "ended_at": "ended_at", "checkin_latitude": "checkin_latitude",
    "checkin_longitude": "checkin_longitude", "checkout_latitude": "checkout_latitude",
    "checkout_longitude": "checkout_longitude", "items": "items", "notes": "notes",
    "family_confirmed_by": "family_confirmed_by", "confirmation_code": "confirmation_code",
    "signature_sha256": "signature_png",
}


def replay(actor: Actor, first: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The first answer, when `values` are what was first recorded under this UUID."""
    stored = {**first, "items": tuple(json.loads(first["items"]))}
    if stored["confirmation_code"] == confirmation.PIN_UNCHECKED:
        # A replay's PIN is not checked again: it reads as the PIN typed the first time.
        stored["confirmation_code"] = confirmation.PIN_CONFIRMED
    differing = {field: "与首次提交的内容不同" for column, field in _COMPARED.items()
                 if column in values and not _same(stored[column], values[column])}
    if first["provider"] != actor.organisation_id or differing or not first["response"]:
        raise Conflict("uuid_reused", "该 UUID 已用于另一条服务记录；新的服务记录请使用新的 UUID，"
                       "重发时内容须与首次完全相同", differing)
    return json.loads(first["response"])


def _same(stored: Any, given: Any) -> bool:
    if isinstance(stored, tuple) or isinstance(given, tuple | list):
        return sorted(stored or ()) == sorted(given or ())
    if isinstance(stored, str) or isinstance(given, str):
        return (stored or "") == (given or "")
    return stored == given


async def store_signature(png: bytes) -> None:
    """The family's signature image, content-addressed with the evidence (named by the
    SHA-256 the visit records). Stored before the visit commits: an unused file left by a
    refused visit is harmless, and a retry finds it in place."""
    from ltc.evidence import storage

    async def chunks() -> AsyncIterator[bytes]:
        yield png

    await storage.store(chunks(), "image/png", Settings.from_env().media_dir, probe=False)


_COLUMNS = (
    "id", "client_uuid", "person", "entitlement", "care_plan", "provider", "staff",
    "region_path", "service_type", "visit_on", "started_at", "ended_at", "checkin_latitude",
    "checkin_longitude", "checkout_latitude", "checkout_longitude", "items", "notes",
    "family_confirmed_by", "confirmation_code", "signature_sha256", "revision_of",
    "revision_reason", "revision_note", "superseded", "flags", "review", "reviewed_by",
    "review_reason", "reviewed_at", "response", "created_at",
)


@cache
def _insert_sql() -> str:
    return (f"INSERT INTO visit ({', '.join(_COLUMNS)}) VALUES ("
            + ", ".join("{}" for _ in _COLUMNS) + ")")


async def write(actor: Actor, facts: Mapping[str, Any], key: uuid.UUID,
                values: Mapping[str, Any], staff: Mapping[str, Any],
                revision: dict[str, Any] | None) -> dict[str, Any]:
    """Judge the visit on the gathered facts (404 unless it is the actor's beneficiary)
    and write its row, with its flags, review state and the answer replays get, in one
    INSERT. Returns the row."""
    visit_on = civil_day(values["started_at"])
    person = gathered.beneficiary(actor, values["person"], visit_on, facts,
                                  offline=values.get("recorded_at") is not None)
    revision = revision or {}
    # A correction keeps the time its original was first recorded: 补录 is about that.
    flags = [*gathered.flags(values, person, staff, facts,
                             revision.get("logged_at") or clock.now()),
             *revision.get("carried_flags", ())]
    review = rules.initial_review(flags)
    plan, entitlement = person["plan"], person["entitlement"]
    answer = {
        "id": facts["next_id"], "client_uuid": str(key), "person_id": person["id"],
        "staff_id": staff["id"], "visit_on": visit_on.isoformat(), "review": str(review),
        "review_label": review.label, "flags": [f.as_dict() for f in flags],
        "revision_of": revision.get("revision_of"),
    }
    row = {
        "id": facts["next_id"], "client_uuid": key, "person": person["id"],
        "entitlement": entitlement["id"] if entitlement else None,
        "care_plan": plan["id"] if plan else None, "provider": actor.organisation_id,
        "staff": staff["id"], "region_path": person["region_path"],
        "service_type": values["service_type"], "visit_on": visit_on,
        "started_at": values["started_at"], "ended_at": values["ended_at"],
        "checkin_latitude": values["checkin_latitude"],
        "checkin_longitude": values["checkin_longitude"],
        "checkout_latitude": values["checkout_latitude"],
        "checkout_longitude": values["checkout_longitude"],
        "items": json.dumps(list(values["items"])), "notes": values["notes"],
        "family_confirmed_by": values["family_confirmed_by"],
        "confirmation_code": values["confirmation_code"],
        "signature_sha256": values["signature_sha256"],
        "revision_of": revision.get("revision_of"),
        "revision_reason": revision.get("revision_reason", ""),
        "revision_note": revision.get("revision_note", ""), "superseded": False,
        "flags": json.dumps(answer["flags"], ensure_ascii=False),
        "review": str(review), "reviewed_by": None, "review_reason": "", "reviewed_at": None,
        "response": json.dumps(answer, ensure_ascii=False), "created_at": clock.now(),
    }
    await Visit.raw(_insert_sql(), *(row[c] for c in _COLUMNS))
    return row


def audit_summary(visit: Mapping[str, Any]) -> dict[str, Any]:
    return {"person": visit["person"], "staff": visit["staff"],
            "visit_on": visit["visit_on"].isoformat(), "review": visit["review"],
            "flags": [f["code"] for f in json.loads(visit["flags"])],
            "revision_of": visit["revision_of"]}


def review_note(visit: Mapping[str, Any]) -> str:
    flags = json.loads(visit["flags"])
    if not flags:
        return "无异常，自动通过"
    return "待审核：" + "、".join(FLAG_LABELS[FlagCode(f["code"])] for f in flags)
