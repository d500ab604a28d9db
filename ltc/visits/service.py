"""Visit logging (SPEC §6, issue 5): a provider's staff record each home visit, from the
phone form or an app through the API; the record is immutable (a correction is a revision
and the original stays); the automatic flags are computed in the same transaction; a
reviewer accepts or rejects the flagged ones with a reason.

Idempotency: a visit is identified by the UUID its client made (the form gets one when it
is first shown, an app makes its own). The same UUID with the same content is a replay: it
returns the first answer and creates nothing; with other content it is refused (409
`uuid_reused`). Two copies racing on PostgreSQL meet at the UNIQUE index, and the loser is
answered as the replay it is.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from ltc import clock, db
from ltc.accounts.tables import User
from ltc.agreements.rules import covers
from ltc.agreements.service import active_agreement
from ltc.audit import service as audit
from ltc.careplans.rules import CONFIRMED, CareForm, plan_in_force
from ltc.careplans.service import catalogue, plan_on, plan_result
from ltc.careplans.tables import CarePlan
from ltc.enrollment.tables import HospitalStay
from ltc.entitlements import service as entitlements
from ltc.entitlements.rules import EntitlementFacts, Interval, is_active_day
from ltc.entitlements.tables import Entitlement
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.grades import GRADE_LABELS
from ltc.identity import Actor, ActorKind, Role, in_region, require_role
from ltc.organisations.tables import Organisation
from ltc.people.tables import Person
from ltc.policy.service import in_force_among, policy_in_force
from ltc.settings import Settings
from ltc.visits import rules
from ltc.visits.rules import (
    COUNTED,
    DECISIONS,
    FLAG_LABELS,
    REVIEW_LABELS,
    REVISABLE,
    REVISION_REASONS,
    SERVICE_TYPES,
    FlagCode,
    OtherVisit,
    Review,
    VisitFacts,
    VisitInput,
)
from ltc.visits.tables import Visit

LOG_ROLES = frozenset({Role.provider})
REVIEW_ROLES = frozenset({Role.reviewer})
READ_ROLES = frozenset({Role.provider, Role.reviewer, Role.clerk, Role.admin})
MAX_SIGNATURE_BYTES = 512 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PAGE_SIZE = 50
# The fields a revision may change (coordinates, beneficiary and staff stay as logged).
REVISABLE_FIELDS = ("started_at", "ended_at", "items", "notes", "family_confirmed_by",
                    "confirmation_code", "signature_png")
_COUNTED = [str(r) for r in COUNTED]
_CONFIRMED = [str(s) for s in CONFIRMED]


# --- logging a visit -------------------------------------------------------------------------

def parse_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if isinstance(value, str | uuid.UUID) else None
    except ValueError:
        return None


def _signature_problem(png: bytes | None) -> str | None:
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


def _staff_verdict(actor: Actor, row: dict | None) -> tuple[dict | None, str | None]:
    if (row is None or row["role"] != Role.provider or not row["active"]
            or row["organisation"] != actor.organisation_id):
        return None, "服务人员须为本机构在职的服务人员，请重新选择"
    return row, None


async def _staff_member(actor: Actor, staff_id: int | None) -> tuple[dict | None, str | None]:
    """The staff member the visit is logged for, or why not (see _staff_id_for)."""
    staff_id = _staff_id_for(actor, staff_id)
    if staff_id is None:
        return None, _NO_STAFF_ID
    row = await User.select(User.id, User.display_name, User.role, User.organisation,
                            User.active).where(User.id == staff_id).first()
    return _staff_verdict(actor, row)


def _normalised_items(items: Any) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for code in items or ():
        seen[str(code).strip()] = None
    return tuple(seen)


async def log_visit(
    actor: Actor, *, client_uuid: Any, person_id: int | None, staff_id: int | None = None,
    service_type: str = "home_visit", started_at: datetime | None,
    ended_at: datetime | None, checkin_latitude: float | None = None,
    checkin_longitude: float | None = None, checkout_latitude: float | None = None,
    checkout_longitude: float | None = None, items: Any = (), notes: str = "",
    family_confirmed_by: str = "", confirmation_code: str = "",
    signature_png: bytes | None = None, unreadable: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Record one visit. Returns (answer, replayed): the answer names the visit, its review
    state and its flags; a replay of the same UUID and content returns the first answer and
    creates nothing. `unreadable`: fields the caller could not parse (reported with the
    rest, all at once)."""
    require_role(actor, LOG_ROLES, "登记上门服务记录")
    if actor.organisation_id is None:
        raise Forbidden("no_organisation", "您的账号不属于任何护理机构，不能登记服务记录")
    values = {
        "person": person_id, "service_type": service_type, "started_at": started_at,
        "ended_at": ended_at, "checkin_latitude": checkin_latitude,
        "checkin_longitude": checkin_longitude, "checkout_latitude": checkout_latitude,
        "checkout_longitude": checkout_longitude, "items": _normalised_items(items),
        "notes": (notes or "").strip(), "family_confirmed_by": (family_confirmed_by or "").strip(),
        "confirmation_code": (confirmation_code or "").strip(),
        "signature_sha256": hashlib.sha256(signature_png).hexdigest() if signature_png else None,
    }
    key = parse_uuid(client_uuid)
    problems = dict(unreadable or {})
    if key is None:
        problems["client_uuid"] = ("请提供客户端生成的 UUID（如 0b7c…-…），重发同一条记录时"
                                   "必须相同")
    if db.is_sqlite():
        first = await Visit.select().where(Visit.client_uuid == key).first() if key else None
        if first is None:
            staff, staff_problem = await _staff_member(actor, staff_id)
            known = await catalogue()
    else:
        first, staff, staff_problem, known = await _prechecked(actor, key, staff_id)
    if first is not None:
        staff = staff_id if staff_id is not None or actor.kind != ActorKind.user else actor.id
        return _replay(actor, first, {**values, "staff": staff}), True
    if staff_problem:
        problems.setdefault("staff_id", staff_problem)
    problems.update({k: v for k, v in rules.input_problems(
        _input(values), clock.now(), known).items() if k not in problems})
    if person_id is None:
        problems.setdefault("person_id", "请选择服务对象（受益人）")
    if (problem := _signature_problem(signature_png)) is not None:
        problems["signature_png"] = problem
    if problems:
        raise InvalidInput("invalid_visit", "服务记录有误，请按提示修改后再提交", problems)
    assert staff is not None and key is not None
    values["staff"] = staff["id"]
    if signature_png:
        await _store_signature(signature_png)
    try:
        return await _log_once(actor, key, values, staff, known)
    except db.UNIQUE_VIOLATIONS:
        # The same visit sent twice at once (PostgreSQL): the UNIQUE index refused the
        # second, and everything it did rolled back. Answer it as the replay it is.
        first = await Visit.select().where(Visit.client_uuid == key).first()
        if first is None:
            raise
        return _replay(actor, first, values), True


def _input(values: Mapping[str, Any]) -> VisitInput:
    return VisitInput(
        started_at=values["started_at"], ended_at=values["ended_at"], items=values["items"],
        family_confirmed_by=values["family_confirmed_by"],
        confirmation_code=values["confirmation_code"],
        has_signature=values["signature_sha256"] is not None,
        service_type=values["service_type"], notes=values["notes"],
        checkin=(values["checkin_latitude"], values["checkin_longitude"]),
        checkout=(values["checkout_latitude"], values["checkout_longitude"]))


_COMPARED = {
    "person": "person_id", "staff": "staff_id", "service_type": "service_type",
    "started_at": "started_at", "ended_at": "ended_at", "checkin_latitude": "checkin_latitude",
    "checkin_longitude": "checkin_longitude", "checkout_latitude": "checkout_latitude",
    "checkout_longitude": "checkout_longitude", "items": "items", "notes": "notes",
    "family_confirmed_by": "family_confirmed_by", "confirmation_code": "confirmation_code",
    "signature_sha256": "signature_png",
}


def _replay(actor: Actor, first: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The first answer, when `values` are what was first recorded under this UUID."""
    stored = {**first, "items": tuple(json.loads(first["items"]))}
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


async def _store_signature(png: bytes) -> None:
    """The family's signature image, content-addressed with the evidence (named by the
    SHA-256 the visit records). Stored before the visit commits: an unused file left by a
    refused visit is harmless, and a retry finds it in place."""
    from ltc.evidence import storage

    async def chunks() -> AsyncIterator[bytes]:
        yield png

    await storage.store(chunks(), "image/png", Settings.from_env().media_dir, probe=False)


async def _log_once(actor: Actor, key: uuid.UUID, values: dict[str, Any],
                    staff: dict[str, Any],
                    known: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    if not db.is_sqlite():
        return await _log_once_gathered(actor, key, values, staff, known)
    async with db.write_transaction():
        first = await Visit.select().where(Visit.client_uuid == key).first()
        if first is not None:
            return _replay(actor, first, values), True
        person = await _beneficiary(actor, values["person"], _civil_day(values["started_at"]))
        visit = await _insert(actor, key, values, person, staff, known, revision=None)
        await audit.record(actor, "visit.logged", "visit", visit["id"], after=_audit_summary(
            visit), note=_review_note(visit))
    return json.loads(visit["response"]), False


def _civil_day(moment: datetime) -> date:
    return moment.astimezone(clock.CHINA).date()


def _beneficiary_not_found(person_id: int) -> NotFound:
    return NotFound("beneficiary_not_found",
                    f"没有找到受益人 {person_id}，或其不是本机构的服务对象"
                    "（以护理计划中的服务机构为准）")


async def _beneficiary(actor: Actor, person_id: int, day: date) -> dict[str, Any]:
    """The person, their entitlement for `day` and its care plan that day — if the person
    is a beneficiary of the actor's organisation (its plan that day, or, on a day no plan
    covers, any confirmed plan of theirs with this provider). 404 otherwise: a provider
    never learns about another provider's beneficiaries."""
    person = await Person.select(Person.id, Person.name, Person.region_path, Person.latitude,
                                 Person.longitude, Person.deceased_on).where(
        Person.id == person_id).first()
    not_found = _beneficiary_not_found(person_id)
    if person is None:
        raise not_found
    entitlement = await _entitlement_for(person_id, day)
    plan = await plan_on(entitlement["id"], day) if entitlement else None
    if plan is not None and plan.get("provider") != actor.organisation_id:
        raise not_found
    if plan is None and not await CarePlan.exists().where(
            (CarePlan.person == person_id) & (CarePlan.provider == actor.organisation_id)
            & CarePlan.state.is_in(_CONFIRMED)):
        raise not_found
    return {**person, "entitlement": entitlement, "plan": plan}


async def _entitlement_for(person_id: int, day: date) -> dict[str, Any] | None:
    """The entitlement whose period holds `day`; else the last one started by then; else
    the first one (a visit before the benefit began)."""
    rows = await Entitlement.select().where(Entitlement.person == person_id).order_by(
        Entitlement.starts_on)
    return _entitlement_among(rows, day)


def _entitlement_among(rows: list[dict[str, Any]], day: date) -> dict[str, Any] | None:
    """_entitlement_for over the person's entitlements, ordered by starts_on."""
    if not rows:
        return None
    for row in rows:
        last_day = min(row["expires_on"], row["ends_on"] or row["expires_on"])
        if row["starts_on"] <= day <= last_day:
            return row
    started = [row for row in rows if row["starts_on"] <= day]
    return started[-1] if started else rows[0]


async def _insert(actor: Actor, key: uuid.UUID, values: dict[str, Any],
                  person: dict[str, Any], staff: dict[str, Any], known: Mapping[str, Any],
                  revision: dict[str, Any] | None) -> dict[str, Any]:
    """Write the visit row with its flags and review state (and the answer replays get)."""
    flags = await _flags(values, person, staff, known,
                         exclude=revision["revision_of"] if revision else None)
    review = rules.initial_review(flags)
    plan = person["plan"]
    visit = Visit(
        client_uuid=key, person=person["id"],
        entitlement=person["entitlement"]["id"] if person["entitlement"] else None,
        care_plan=plan["id"] if plan else None, provider=actor.organisation_id,
        staff=staff["id"], region_path=person["region_path"],
        service_type=values["service_type"], visit_on=_civil_day(values["started_at"]),
        started_at=values["started_at"], ended_at=values["ended_at"],
        checkin_latitude=values["checkin_latitude"],
        checkin_longitude=values["checkin_longitude"],
        checkout_latitude=values["checkout_latitude"],
        checkout_longitude=values["checkout_longitude"],
        items=json.dumps(list(values["items"])), notes=values["notes"],
        family_confirmed_by=values["family_confirmed_by"],
        confirmation_code=values["confirmation_code"],
        signature_sha256=values["signature_sha256"],
        flags=json.dumps([f.as_dict() for f in flags], ensure_ascii=False),
        review=str(review), **(revision or {}))
    await visit.save()
    answer = _answer(visit.id, key, person, staff, visit.visit_on, review, flags,
                     visit.revision_of)
    await Visit.update({Visit.response: json.dumps(answer, ensure_ascii=False)}).where(
        Visit.id == visit.id)
    return {**visit.to_dict(), "response": json.dumps(answer, ensure_ascii=False)}


async def _flags(values: Mapping[str, Any], person: Mapping[str, Any],
                 staff: Mapping[str, Any], known: Mapping[str, Any],
                 exclude: int | None) -> list[rules.Flag]:
    """Gather the facts the flag rules need (inside the caller's transaction)."""
    start, end = values["started_at"], values["ended_at"]
    day = _civil_day(start)
    entitlement = person["entitlement"]
    held = await entitlements.facts_of(entitlement) if entitlement else None
    stays = await HospitalStay.select(HospitalStay.admitted_on, HospitalStay.discharged_on).where(
        HospitalStay.person == person["id"])
    policy = (await policy_in_force(person["region_path"], day)).policy
    staff_agreement = await active_agreement("staff", on=day, staff=staff["id"])
    provider_agreement = await active_agreement("provider", on=day,
                                                 organisation=staff["organisation"])
    provider = await Organisation.select(Organisation.name).where(
        Organisation.id == staff["organisation"]).first()
    others = Visit.select(Visit.id, Visit.started_at, Visit.ended_at).where(
        (Visit.staff == staff["id"]) & (Visit.superseded == False)  # noqa: E712
        & Visit.review.is_in(_COUNTED) & (Visit.started_at < end)
        & (Visit.started_at > start - timedelta(hours=rules.MAX_VISIT_HOURS))
        & (Visit.ended_at > start))
    month_first, month_last = _month_of(day)
    month = Visit.count().where(
        (Visit.person == person["id"]) & (Visit.visit_on >= month_first)
        & (Visit.visit_on <= month_last) & (Visit.superseded == False)  # noqa: E712
        & Visit.review.is_in(_COUNTED))
    if exclude is not None:
        others = others.where(Visit.id != exclude)
        month = month.where(Visit.id != exclude)
    return rules.flags_for(_visit_facts(
        values, person, staff, known, held=held, stays=stays, policy=policy,
        staff_agreement=staff_agreement, provider_agreement=provider_agreement,
        provider_name=provider["name"] if provider else "", others=await others,
        month_visits=await month))


def _answer(visit_id: int, key: uuid.UUID, person: Mapping[str, Any],
            staff: Mapping[str, Any], visit_on: date, review: Review, flags: list[rules.Flag],
            revision_of: int | None) -> dict[str, Any]:
    """What logging answers, and what a replay answers again (stored as `response`)."""
    return {
        "id": visit_id, "client_uuid": str(key), "person_id": person["id"],
        "staff_id": staff["id"], "visit_on": visit_on.isoformat(), "review": str(review),
        "review_label": review.label, "flags": [f.as_dict() for f in flags],
        "revision_of": revision_of,
    }


def _visit_row(actor: Actor, visit_id: int, key: uuid.UUID, values: Mapping[str, Any],
               person: Mapping[str, Any], staff: Mapping[str, Any], flags: list[rules.Flag],
               revision: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(every column of the new visit row, as _insert writes it, with its answer already in
    `response`; the answer)."""
    review = rules.initial_review(flags)
    plan, visit_on = person["plan"], _civil_day(values["started_at"])
    revision = revision or {}
    answer = _answer(visit_id, key, person, staff, visit_on, review, flags,
                     revision.get("revision_of"))
    row = {
        "id": visit_id, "client_uuid": key, "person": person["id"],
        "entitlement": person["entitlement"]["id"] if person["entitlement"] else None,
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
        "flags": json.dumps([f.as_dict() for f in flags], ensure_ascii=False),
        "review": str(review), "reviewed_by": None, "review_reason": "", "reviewed_at": None,
        "response": json.dumps(answer, ensure_ascii=False),
        "created_at": clock.now(),
    }
    return row, answer


def _month_of(day: date) -> tuple[date, date]:
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _visit_facts(values: Mapping[str, Any], person: Mapping[str, Any],
                 staff: Mapping[str, Any], known: Mapping[str, Any], *,
                 held: EntitlementFacts | None, stays: list[Mapping[str, Any]], policy: Any,
                 staff_agreement: Mapping[str, Any] | None,
                 provider_agreement: Mapping[str, Any] | None, provider_name: str,
                 others: list[Mapping[str, Any]], month_visits: int) -> VisitFacts:
    """What the flag rules are given, from the facts read (by either path)."""
    start, end = values["started_at"], values["ended_at"]
    entitlement, plan = person["entitlement"], person["plan"]
    quota = (plan or {}).get("visits_per_month") or (
        policy.visits_per_month.get(entitlement["grade"], 0) if entitlement else 0)
    home = ((person["latitude"], person["longitude"])
            if person["latitude"] is not None and person["longitude"] is not None else None)
    checkin = ((values["checkin_latitude"], values["checkin_longitude"])
               if values["checkin_latitude"] is not None else None)
    return VisitFacts(
        day=_civil_day(start), started_at=start, ended_at=end, items=tuple(values["items"]),
        item_names={code: item["name_zh"] for code, item in known.items()},
        nurse_only_items=frozenset(c for c, item in known.items() if item["nurse_only"]),
        plan_items=tuple(plan["items"]) if plan else None,
        required_items=tuple(plan.get("required") or ()) if plan else (),
        quota=quota, month_visits=month_visits, min_minutes=policy.min_visit_minutes,
        entitlement=held,
        hospital_stays=tuple(Interval(s["admitted_on"], s["discharged_on"]) for s in stays),
        deceased_on=person["deceased_on"], staff_name=staff["display_name"],
        staff_agreement=staff_agreement is not None,
        staff_qualification=(staff_agreement or {}).get("qualification") or None,
        provider_name=provider_name,
        provider_agreement=provider_agreement is not None,
        same_staff_visits=tuple(OtherVisit(v["id"], v["started_at"], v["ended_at"])
                                for v in others),
        checkin=checkin, home=home)


# --- logging a visit on PostgreSQL: the same facts in a few statements ----------------------
#
# Visit logging is the hot write path (issue 5: ≥ 300 visits/s with 2 app processes). On
# PostgreSQL the ~20 Piccolo selects above cost more in Python (building each query) and in
# round trips than in the database, so log_visit reads the same facts with one statement
# before the transaction (replay check, staff member, catalogue) and one inside it
# (everything the beneficiary check and the flag rules read), and writes the row with its
# answer in one INSERT (its id drawn from the sequence first). The decisions are the same
# functions as above (_entitlement_among, plan_in_force/plan_result, in_force_among,
# agreements' `covers`, _visit_facts, rules.flags_for); SQLite keeps the Piccolo path, which
# the test suite also runs. Revisions and the form use the Piccolo path on both engines.

_COUNTED_SQL = "'" + "', '".join(_COUNTED) + "'"
_CONFIRMED_SQL = "'" + "', '".join(_CONFIRMED) + "'"
_DOLLAR = re.compile(r"\$(\d+)")


def _raw(sql: str, *params: Any) -> Any:
    """A raw query written with PostgreSQL's $n placeholders (each may repeat), as
    Piccolo's raw `{}` placeholders with the arguments in order."""
    args = [params[int(m.group(1)) - 1] for m in _DOLLAR.finditer(sql)]
    return Visit.raw(_DOLLAR.sub("{}", sql), *args)


_PRECHECK_SQL = """
SELECT (SELECT v.id FROM visit v WHERE v.client_uuid = $1::uuid) AS replay,
       (SELECT array_agg(c ORDER BY c.code) FROM care_item c) AS catalogue,
       u.id, u.display_name, u.role, u.organisation, u.active
FROM (SELECT 1) AS one LEFT JOIN ltc_user u ON u.id = $2::integer
"""


async def _prechecked(actor: Actor, key: uuid.UUID | None, staff_id: int | None) -> tuple[
        dict[str, Any] | None, dict[str, Any] | None, str | None, dict[str, Any]]:
    """(first visit under `key` or None, staff row, staff problem, catalogue) in one
    statement: what log_visit reads before validating."""
    wanted = _staff_id_for(actor, staff_id)
    row = (await _raw(_PRECHECK_SQL, key, wanted))[0]
    if row["replay"] is not None:
        return await Visit.select().where(Visit.client_uuid == key).first(), None, None, {}
    known = {item["code"]: dict(item) for item in row["catalogue"] or ()}
    if wanted is None:
        return None, None, _NO_STAFF_ID, known
    staff = ({k: row[k] for k in ("id", "display_name", "role", "organisation", "active")}
             if row["id"] is not None else None)
    return (None, *_staff_verdict(actor, staff), known)


_FACTS_SQL = f"""
SELECT
  (SELECT v.id FROM visit v WHERE v.client_uuid = $1::uuid) AS replay,
  p.id, p.name, p.region_path, p.latitude, p.longitude, p.deceased_on,
  (SELECT array_agg(e ORDER BY e.starts_on) FROM entitlement e
    WHERE e.person = $2::integer) AS entitlements,
  (SELECT array_agg(c) FROM care_plan c WHERE c.entitlement IN (
     SELECT e.id FROM entitlement e WHERE e.person = $2::integer)) AS plans,
  EXISTS (SELECT 1 FROM care_plan c WHERE c.person = $2::integer
          AND c.provider = $3::integer AND c.state IN ({_CONFIRMED_SQL})) AS has_plan,
  (SELECT array_agg(h ORDER BY h.id) FROM hospital_stay h
    WHERE h.person = $2::integer) AS stays,
  (SELECT array_agg(s ORDER BY s.id) FROM suspension s WHERE s.entitlement IN (
     SELECT e.id FROM entitlement e WHERE e.person = $2::integer)) AS suspensions,
  (SELECT json_agg(json_build_object(
            'id', pv.id, 'version', pv.version, 'effective_from', pv.effective_from,
            'definition', pv.definition, 'region.path', r.path, 'region.code', r.code)
          ORDER BY pv.effective_from DESC)
     FROM policy_version pv JOIN region r ON r.id = pv.region)::text AS policies,
  (SELECT array_agg(a ORDER BY a.id DESC) FROM agreement a
    WHERE a.kind = 'staff' AND a.state <> 'DRAFT' AND a.starts_on <= $6::date
      AND a.ends_on >= $6::date AND a.staff = $4::integer) AS staff_agreements,
  (SELECT array_agg(a ORDER BY a.id DESC) FROM agreement a
    WHERE a.kind = 'provider' AND a.state <> 'DRAFT' AND a.starts_on <= $6::date
      AND a.ends_on >= $6::date AND a.organisation = $5::integer) AS provider_agreements,
  (SELECT o.name FROM organisation o WHERE o.id = $5::integer) AS provider_name,
  others.ids AS other_ids, others.starts AS other_starts, others.ends AS other_ends,
  (SELECT count(*) FROM visit v
    WHERE v.person = $2::integer AND v.visit_on >= $10::date AND v.visit_on <= $11::date
      AND v.superseded = false AND v.review IN ({_COUNTED_SQL})) AS month_visits,
  nextval(pg_get_serial_sequence('visit', 'id')) AS next_id
FROM (SELECT 1) AS one
LEFT JOIN person p ON p.id = $2::integer
CROSS JOIN LATERAL (
  SELECT array_agg(v.id) AS ids, array_agg(v.started_at) AS starts,
         array_agg(v.ended_at) AS ends
  FROM visit v
  WHERE v.staff = $4::integer AND v.superseded = false AND v.review IN ({_COUNTED_SQL})
    AND v.started_at < $8::timestamptz AND v.started_at > $9::timestamptz
    AND v.ended_at > $7::timestamptz) AS others
"""


async def _gathered(actor: Actor, key: uuid.UUID, values: Mapping[str, Any],
                    staff: Mapping[str, Any], day: date) -> dict[str, Any]:
    start, end = values["started_at"], values["ended_at"]
    month_first, month_last = _month_of(day)
    rows = await _raw(_FACTS_SQL, key, values["person"], actor.organisation_id, staff["id"],
                      staff["organisation"], day, start, end,
                      start - timedelta(hours=rules.MAX_VISIT_HOURS), month_first, month_last)
    return rows[0]


def _policies(text: str | None) -> list[dict[str, Any]]:
    rows = json.loads(text) if text else []
    for row in rows:
        row["effective_from"] = date.fromisoformat(row["effective_from"])
    return rows


def _rows(records: Any) -> list[dict[str, Any]]:
    return [dict(record) for record in records or ()]


def _beneficiary_among(actor: Actor, person_id: int, day: date, facts: Mapping[str, Any],
                       policies: list[dict[str, Any]]) -> dict[str, Any]:
    """_beneficiary over the gathered facts (same checks, same order, same answers)."""
    if facts["id"] is None:
        raise _beneficiary_not_found(person_id)
    person = {k: facts[k] for k in ("id", "name", "region_path", "latitude", "longitude",
                                    "deceased_on")}
    entitlement = _entitlement_among(_rows(facts["entitlements"]), day)
    plan = None
    if entitlement:
        versions = [p for p in _rows(facts["plans"]) if p["entitlement"] == entitlement["id"]]
        chosen = plan_in_force(versions, day)
        if chosen is not None:
            policy = in_force_among(policies, chosen["region_path"], chosen["starts_on"]).policy
            plan = plan_result(versions, dict(chosen), policy)
    if plan is not None and plan.get("provider") != actor.organisation_id:
        raise _beneficiary_not_found(person_id)
    if plan is None and not facts["has_plan"]:
        raise _beneficiary_not_found(person_id)
    return {**person, "entitlement": entitlement, "plan": plan}


def _first_covering(records: Any, day: date) -> dict[str, Any] | None:
    """active_agreement over rows read with its filter, newest first."""
    return next((row for row in _rows(records) if covers(row, day)), None)


async def _log_once_gathered(actor: Actor, key: uuid.UUID, values: dict[str, Any],
                             staff: dict[str, Any],
                             known: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    day = _civil_day(values["started_at"])
    async with db.write_transaction():
        facts = await _gathered(actor, key, values, staff, day)
        if facts["replay"] is not None:
            first = await Visit.select().where(Visit.client_uuid == key).first()
            return _replay(actor, first, values), True
        person, flags = _judged(actor, values, staff, known, facts, day)
        visit, answer = _visit_row(actor, facts["next_id"], key, values, person, staff, flags,
                                   revision=None)
        columns = list(visit)
        await Visit.raw(f"INSERT INTO visit ({', '.join(columns)}) VALUES ("
                        + ", ".join("{}" for _ in columns) + ")", *visit.values())
        await audit.record(actor, "visit.logged", "visit", visit["id"], after=_audit_summary(
            visit), note=_review_note(visit))
    return answer, False


def _judged(actor: Actor, values: Mapping[str, Any], staff: Mapping[str, Any],
            known: Mapping[str, Any], facts: Mapping[str, Any],
            day: date) -> tuple[dict[str, Any], list[rules.Flag]]:
    """(the beneficiary as _beneficiary answers, the flags as _flags answers) from the
    gathered facts."""
    policies = _policies(facts["policies"])
    person = _beneficiary_among(actor, values["person"], day, facts, policies)
    entitlement = person["entitlement"]
    held = None
    if entitlement:
        stays = tuple(Interval(s["admitted_on"], s["discharged_on"])
                      for s in _rows(facts["stays"]))
        held = EntitlementFacts(
            starts_on=entitlement["starts_on"], expires_on=entitlement["expires_on"],
            ends_on=entitlement["ends_on"], suspensions=stays + tuple(
                Interval(s["starts_on"], s["resumes_on"]) for s in _rows(facts["suspensions"])
                if s["entitlement"] == entitlement["id"]))
    policy = in_force_among(policies, person["region_path"], day).policy
    others = [{"id": i, "started_at": s, "ended_at": e} for i, s, e in zip(
        facts["other_ids"] or (), facts["other_starts"] or (), facts["other_ends"] or (),
        strict=True)]
    flags = rules.flags_for(_visit_facts(
        values, person, staff, known, held=held, stays=_rows(facts["stays"]),
        policy=policy, staff_agreement=_first_covering(facts["staff_agreements"], day),
        provider_agreement=_first_covering(facts["provider_agreements"], day),
        provider_name=facts["provider_name"] or "", others=others,
        month_visits=facts["month_visits"]))
    return person, flags


def _audit_summary(visit: Mapping[str, Any]) -> dict[str, Any]:
    return {"person": visit["person"], "staff": visit["staff"],
            "visit_on": visit["visit_on"].isoformat(), "review": visit["review"],
            "flags": [f["code"] for f in json.loads(visit["flags"])],
            "revision_of": visit["revision_of"]}


def _review_note(visit: Mapping[str, Any]) -> str:
    flags = json.loads(visit["flags"])
    if not flags:
        return "无异常，自动通过"
    return "待审核：" + "、".join(FLAG_LABELS[FlagCode(f["code"])] for f in flags)


# --- corrections -----------------------------------------------------------------------------

async def revise_visit(actor: Actor, visit_id: int, reason_code: str, note: str,
                       **changed: Any) -> dict[str, Any]:
    """A correction: a new record (with a new server-made UUID) that replaces the original,
    which is marked superseded and stays visible. Only records no reviewer has decided may
    be corrected. Changed fields: see REVISABLE_FIELDS; the flags are computed afresh."""
    require_role(actor, LOG_ROLES, "更正服务记录")
    unknown = set(changed) - set(REVISABLE_FIELDS) - {"unreadable"}
    if unknown:
        raise ValueError(f"fields a revision cannot change: {sorted(unknown)}")
    signature_png = changed.pop("signature_png", None)
    problems = dict(changed.pop("unreadable", None) or {})
    original = await _own_visit(actor, visit_id)
    if original["superseded"]:
        raise Conflict("already_revised", "这条记录已被更正，请在最新的记录上更正")
    if original["review"] not in REVISABLE:
        decided = REVIEW_LABELS[Review(original["review"])]
        raise Conflict("already_reviewed", f"这条记录已{decided}，审核结论不能通过更正改变；"
                       "如有异议请联系医保经办机构")
    values = {
        "person": original["person"], "service_type": original["service_type"],
        "started_at": original["started_at"], "ended_at": original["ended_at"],
        "checkin_latitude": original["checkin_latitude"],
        "checkin_longitude": original["checkin_longitude"],
        "checkout_latitude": original["checkout_latitude"],
        "checkout_longitude": original["checkout_longitude"],
        "items": tuple(json.loads(original["items"])), "notes": original["notes"],
        "family_confirmed_by": original["family_confirmed_by"],
        "confirmation_code": original["confirmation_code"],
        "signature_sha256": original["signature_sha256"],
    }
    for name, value in changed.items():
        values[name] = _normalised_items(value) if name == "items" else (
            value.strip() if isinstance(value, str) else value)
    if signature_png:
        values["signature_sha256"] = hashlib.sha256(signature_png).hexdigest()
    known = await catalogue()
    problems.update({k: v for k, v in rules.input_problems(
        _input(values), clock.now(), known).items() if k not in problems})
    problems.update(rules.revision_problems(reason_code, note))
    if (problem := _signature_problem(signature_png)) is not None:
        problems["signature_png"] = problem
    if problems:
        raise InvalidInput("invalid_revision", "更正内容有误，请按提示修改后再提交", problems)
    if signature_png:
        await _store_signature(signature_png)
    async with db.write_transaction():
        superseded = await Visit.update({Visit.superseded: True}).where(
            (Visit.id == visit_id) & (Visit.superseded == False)  # noqa: E712
            & Visit.review.is_in([str(r) for r in REVISABLE])).returning(Visit.id)
        if not superseded:
            raise db.StaleWrite(Visit._meta.tablename, visit_id)
        staff = await User.select(User.id, User.display_name, User.organisation).where(
            User.id == original["staff"]).first()
        person = await _beneficiary(actor, original["person"],
                                    _civil_day(values["started_at"]))
        visit = await _insert(actor, uuid.uuid4(), values, person, staff, known, revision={
            "revision_of": visit_id, "revision_reason": reason_code,
            "revision_note": note.strip()})
        reason = REVISION_REASONS[reason_code] + (f"：{note.strip()}" if note.strip() else "")
        await audit.record(actor, "visit.superseded", "visit", visit_id,
                           before={"review": original["review"]},
                           after={"superseded_by": visit["id"]}, note=reason)
        await audit.record(actor, "visit.revised", "visit", visit["id"],
                           after=_audit_summary(visit), note=f"{reason}；{_review_note(visit)}")
    return json.loads(visit["response"])


# --- review ----------------------------------------------------------------------------------

async def review(actor: Actor, visit_id: int, decision: str, reason: str) -> dict[str, Any]:
    """A reviewer's decision on a flagged visit: accept (审核通过) or reject (审核不通过),
    always with a reason."""
    require_role(actor, REVIEW_ROLES, "审核服务记录")
    visit = await _visible_visit(actor, visit_id)
    problems = {}
    if decision not in DECISIONS:
        problems["decision"] = "请选择审核通过或审核不通过"
    if not reason.strip():
        problems["reason"] = "请填写审核意见（通过或不通过的理由），它会告知护理机构并写入记录"
    elif len(reason) > rules.MAX_NOTES:
        problems["reason"] = f"审核意见不超过{rules.MAX_NOTES}个字"
    if visit["superseded"]:
        raise Conflict("already_revised", "这条记录已被护理机构更正，请审核更正后的记录")
    if visit["review"] != Review.flagged:
        raise Conflict("not_flagged", "只有待审核的记录需要审核；这条记录"
                       f"{REVIEW_LABELS[Review(visit['review'])]}")
    if problems:
        raise InvalidInput("invalid_review", "审核信息不完整，请按提示填写", problems)
    after = DECISIONS[decision]
    async with db.write_transaction():
        done = await Visit.update({
            Visit.review: str(after), Visit.reviewed_by: actor.id,
            Visit.review_reason: reason.strip(), Visit.reviewed_at: clock.now()}).where(
            (Visit.id == visit_id) & (Visit.review == str(Review.flagged))
            & (Visit.superseded == False)).returning(Visit.id)  # noqa: E712
        if not done:
            raise db.StaleWrite(Visit._meta.tablename, visit_id)
        await audit.record(actor, f"visit.{'accepted' if decision == 'accept' else 'rejected'}",
                           "visit", visit_id, before={"review": str(Review.flagged)},
                           after={"review": str(after)}, note=reason.strip())
    return await get_visit(actor, visit_id)


# --- reading ---------------------------------------------------------------------------------

_LIST_COLUMNS = (
    Visit.id, Visit.person, Visit.person.name, Visit.staff, Visit.staff.display_name,
    Visit.provider, Visit.provider.name, Visit.visit_on, Visit.started_at, Visit.ended_at,
    Visit.items, Visit.flags, Visit.review, Visit.superseded, Visit.revision_of,
    Visit.region_path,
)


def _scope(actor: Actor) -> Any:
    """The visits an actor may see: a provider its organisation's, bureau staff their
    region's."""
    require_role(actor, READ_ROLES, "查看服务记录")
    if actor.role == Role.provider:
        return Visit.provider == actor.organisation_id
    return in_region(actor, Visit.region_path)


def _not_found(visit_id: int) -> NotFound:
    return NotFound("visit_not_found", f"服务记录 {visit_id} 不存在或不在您的查看范围内")


async def _visible_visit(actor: Actor, visit_id: int) -> dict[str, Any]:
    row = await Visit.select().where((Visit.id == visit_id) & _scope(actor)).first()
    if row is None:
        raise _not_found(visit_id)
    return row


async def _own_visit(actor: Actor, visit_id: int) -> dict[str, Any]:
    row = await Visit.select().where((Visit.id == visit_id)
                                     & (Visit.provider == actor.organisation_id)).first()
    if row is None:
        raise _not_found(visit_id)
    return row


def _label(known: Mapping[str, Any], code: str) -> str:
    """"口腔清洁（B08）", or the bare code for one the catalogue does not know."""
    return f"{known[code]['name_zh']}（{code}）" if code in known else code


def _decorate(row: dict[str, Any], known: Mapping[str, Any]) -> dict[str, Any]:
    row["items"] = json.loads(row["items"]) if isinstance(row["items"], str) else row["items"]
    row["item_labels"] = [_label(known, c) for c in row["items"]]
    row["flags"] = [{**f, "label": FLAG_LABELS[FlagCode(f["code"])]}
                    for f in (json.loads(row["flags"]) if isinstance(row["flags"], str)
                              else row["flags"])]
    row["review_label"] = REVIEW_LABELS[Review(row["review"])]
    row["minutes"] = int((row["ended_at"] - row["started_at"]).total_seconds() // 60)
    return row


async def visits_for(actor: Actor, *, person_id: int | None = None, review: str = "",
                     search: str = "", include_superseded: bool = False, after_id: int = 0,
                     limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Visits the actor may see, newest first (keyset: `after_id` is the last id shown)."""
    query = Visit.select(*_LIST_COLUMNS).where(_scope(actor))
    if after_id:
        query = query.where(Visit.id < after_id)
    if person_id is not None:
        query = query.where(Visit.person == person_id)
    if review:
        query = query.where(Visit.review == review)
    if not include_superseded:
        query = query.where(Visit.superseded == False)  # noqa: E712
    if search.strip():
        term = search.strip()
        query = query.where(db.contains(Visit.person.name, term)
                            | (Visit.person.name_initials == term.lower())
                            | (Visit.staff.display_name == term))
    known = await catalogue()
    return [_decorate(row, known)
            for row in await query.order_by(Visit.id, ascending=False).limit(limit)]


async def review_queue(actor: Actor, *, after_id: int = 0,
                       limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Flagged visits of the reviewer's region waiting for a decision, oldest first."""
    require_role(actor, REVIEW_ROLES, "审核服务记录")
    query = Visit.select(*_LIST_COLUMNS, Visit.notes, Visit.family_confirmed_by,
                         Visit.revision_reason).where(
        _scope(actor) & (Visit.review == str(Review.flagged))
        & (Visit.superseded == False) & (Visit.id > after_id))  # noqa: E712
    known = await catalogue()
    return [_decorate(row, known) for row in await query.order_by(Visit.id).limit(limit)]


async def review_queue_count(actor: Actor) -> int:
    """For the reviewer's inbox and navigation."""
    require_role(actor, REVIEW_ROLES, "审核服务记录")
    return await Visit.count().where(_scope(actor) & (Visit.review == str(Review.flagged))
                                     & (Visit.superseded == False))  # noqa: E712


async def get_visit(actor: Actor, visit_id: int) -> dict[str, Any]:
    """One visit with its flags, review and its whole revision chain (oldest first)."""
    row = await Visit.select(
        Visit.all_columns(), Visit.person.name, Visit.staff.display_name, Visit.provider.name,
        Visit.reviewed_by.display_name).where((Visit.id == visit_id) & _scope(actor)).first()
    if row is None:
        raise _not_found(visit_id)
    known = await catalogue()
    _decorate(row, known)
    row["service_type_label"] = SERVICE_TYPES.get(row["service_type"], row["service_type"])
    row["revision_reason_label"] = REVISION_REASONS.get(row["revision_reason"], "")
    row["chain"] = await _chain(row)
    row["superseded_by"] = next((v["id"] for v in row["chain"]
                                 if v["revision_of"] == row["id"]), None)
    row["current_id"] = row["chain"][-1]["id"]
    return row


async def _chain(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Every record of the visit: the original, then each correction in turn."""
    columns = (Visit.id, Visit.revision_of, Visit.revision_reason, Visit.revision_note,
               Visit.review, Visit.superseded, Visit.created_at, Visit.started_at,
               Visit.ended_at, Visit.items, Visit.flags)
    earlier, cursor = [], row["revision_of"]
    while cursor is not None:
        previous = await Visit.select(*columns).where(Visit.id == cursor).first()
        earlier.insert(0, previous)
        cursor = previous["revision_of"]
    later, cursor = [], row["id"]
    while (following := await Visit.select(*columns).where(
            Visit.revision_of == cursor).first()) is not None:
        later.append(following)
        cursor = following["id"]
    current = {k: row[k] for k in ("id", "revision_of", "revision_reason", "revision_note",
                                   "review", "superseded", "created_at", "started_at",
                                   "ended_at")}
    chain = [*earlier, current, *later]
    for visit in chain:
        visit["review_label"] = REVIEW_LABELS[Review(visit["review"])]
        visit["revision_reason_label"] = REVISION_REASONS.get(visit["revision_reason"], "")
    return chain


def api_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """A visit as GET /api/v1/visits/<id> returns it."""
    return {
        "id": row["id"], "client_uuid": str(row["client_uuid"]), "person_id": row["person"],
        "staff_id": row["staff"], "provider_id": row["provider"],
        "service_type": row["service_type"], "visit_on": row["visit_on"].isoformat(),
        "started_at": row["started_at"].isoformat(), "ended_at": row["ended_at"].isoformat(),
        "checkin_latitude": row["checkin_latitude"],
        "checkin_longitude": row["checkin_longitude"],
        "checkout_latitude": row["checkout_latitude"],
        "checkout_longitude": row["checkout_longitude"], "items": row["items"],
        "notes": row["notes"], "family_confirmed_by": row["family_confirmed_by"],
        "confirmation_code": row["confirmation_code"],
        "signature_sha256": row["signature_sha256"], "review": row["review"],
        "review_label": row["review_label"], "review_reason": row["review_reason"],
        "reviewed_at": row["reviewed_at"].isoformat() if row["reviewed_at"] else None,
        "flags": [{"code": f["code"], "message": f["message"]} for f in row["flags"]],
        "revision_of": row["revision_of"], "revision_reason": row["revision_reason"],
        "superseded": row["superseded"], "superseded_by": row["superseded_by"],
    }


# --- the visit form and the month's visits due ------------------------------------------------

async def visit_form(actor: Actor, person_id: int, today: date) -> dict[str, Any]:
    """What the phone form shows for a beneficiary: the plan in force today (its items,
    required ones marked) and the staff members one may log for."""
    require_role(actor, LOG_ROLES, "登记上门服务记录")
    person = await _beneficiary(actor, person_id, today)
    known = await catalogue()
    plan = person["plan"]  # _beneficiary: None, or this organisation's
    codes = list(plan["items"]) if plan else []
    required = set(plan.get("required") or ()) if plan else set()
    items = [{"code": c, "name": known[c]["name_zh"] if c in known else c,
              "required": c in required, "nurse_only": bool(known.get(c, {}).get("nurse_only"))}
             for c in sorted(codes, key=lambda c: (c not in required, c))]
    staff = await User.select(User.id, User.display_name).where(
        (User.organisation == actor.organisation_id) & (User.role == str(Role.provider))
        & (User.active == True)).order_by(User.display_name)  # noqa: E712
    return {"person": person, "plan": plan, "items": items, "staff": staff,
            "service_types": SERVICE_TYPES}


async def due_visits(actor: Actor, today: date) -> list[dict[str, Any]]:
    """For a provider: each beneficiary with a home-care plan of the organisation in force
    today, the month's visits due (the plan's visits_per_month), done (counted: not
    rejected, not superseded), remaining, and whether they are overdue (rules.due_on:
    fewer done than the even share of the days already past). Overdue first."""
    require_role(actor, LOG_ROLES, "查看本月服务安排")
    candidates = await CarePlan.select(CarePlan.entitlement).where(
        (CarePlan.provider == actor.organisation_id) & (CarePlan.care_form == str(CareForm.home))
        & CarePlan.state.is_in(_CONFIRMED)).distinct()
    month_first = today.replace(day=1)
    month_days = calendar.monthrange(today.year, today.month)[1]
    rows = []
    for entitlement_id in {c["entitlement"] for c in candidates}:
        plan = await plan_on(entitlement_id, today)
        if plan is None or plan.get("provider") != actor.organisation_id or plan[
                "care_form"] != CareForm.home:
            continue
        entitlement = await Entitlement.select(
            Entitlement.all_columns(), Entitlement.person.name,
            Entitlement.person.village.name).where(Entitlement.id == entitlement_id).first()
        facts = await entitlements.facts_of(entitlement)
        if today > facts.last_day:
            continue
        done = await Visit.count().where(
            (Visit.person == entitlement["person"]) & (Visit.visit_on >= month_first)
            & (Visit.visit_on <= today.replace(day=month_days))
            & (Visit.superseded == False) & Visit.review.is_in(_COUNTED))  # noqa: E712
        last = await Visit.select(Visit.visit_on).where(
            (Visit.person == entitlement["person"]) & (Visit.superseded == False)  # noqa: E712
            & Visit.review.is_in(_COUNTED)).order_by(Visit.visit_on, ascending=False).first()
        from_day = entitlement["starts_on"].day if entitlement["starts_on"] > month_first else 1
        due = rules.due_on(plan.get("visits_per_month") or 0, done, today,
                           month_days=month_days, from_day=from_day)
        active = is_active_day(facts, today)
        rows.append({
            "person_id": entitlement["person"], "name": entitlement["person.name"],
            "village": entitlement["person.village.name"],
            "grade_label": GRADE_LABELS.get(entitlement["grade"], ""),
            "plan_id": plan.get("id"), "due": due.due, "done": due.done,
            "remaining": due.remaining, "expected_by_now": due.expected_by_now,
            "overdue": due.overdue and active, "due_today": due.due_today and active,
            "active_today": active, "last_visit_on": last["visit_on"] if last else None,
        })
    return sorted(rows, key=lambda r: (not r["overdue"], not r["due_today"], r["name"]))
