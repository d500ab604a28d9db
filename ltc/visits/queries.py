"""Reading visits: the lists a provider and a reviewer see, the reviewer's queue, one visit
with its revision chain, the API's view of a visit, the phone form and the month's visits
due. Scoped by the actor: a provider sees its organisation's visits, bureau staff their
region's."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from piccolo.query.functions.aggregate import Count

from ltc import clock
from ltc.accounts.tables import User
from ltc.careplans.rules import CONFIRMED, CareForm
from ltc.careplans.service import catalogue, plan_on
from ltc.careplans.tables import CarePlan
from ltc.entitlements import service as entitlements
from ltc.entitlements.rules import is_active_day
from ltc.entitlements.tables import Entitlement
from ltc.errors import NotFound
from ltc.grades import GRADE_LABELS
from ltc.identity import Actor, Role, in_region, require_role
from ltc.people import interface as people
from ltc.visits import facts as gathered
from ltc.visits import rules
from ltc.visits.logging import LOG_ROLES
from ltc.visits.rules import (
    ACCEPTED,
    FLAG_LABELS,
    REVIEW_LABELS,
    REVISION_REASONS,
    SERVICE_TYPES,
    FlagCode,
    Review,
)
from ltc.visits.tables import Visit

REVIEW_ROLES = frozenset({Role.reviewer})
READ_ROLES = frozenset({Role.provider, Role.reviewer, Role.clerk, Role.admin})
PAGE_SIZE = 50
_ACCEPTED = [str(r) for r in ACCEPTED]
_CONFIRMED = [str(s) for s in CONFIRMED]


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


async def visible_visit(actor: Actor, visit_id: int) -> dict[str, Any]:
    row = await Visit.select().where((Visit.id == visit_id) & _scope(actor)).first()
    if row is None:
        raise _not_found(visit_id)
    return row


async def own_visit(actor: Actor, visit_id: int) -> dict[str, Any]:
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
                     month: date | None = None,
                     limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Visits the actor may see, newest first (keyset: `after_id` is the last id shown);
    `month`: only those done in that day's month."""
    query = Visit.select(*_LIST_COLUMNS).where(_scope(actor))
    if month is not None:
        query = query.where(_in_month(month))
    if after_id:
        query = query.where(Visit.id < after_id)
    if person_id is not None:
        query = query.where(Visit.person == person_id)
    if review:
        query = query.where(Visit.review == review)
    if not include_superseded:
        query = query.where(Visit.superseded == False)  # noqa: E712
    if (found := people.person_search(Visit.person, search)) is not None:
        query = query.where(found | (Visit.staff.display_name == search.strip()))
    known = await catalogue()
    return [_decorate(row, known)
            for row in await query.order_by(Visit.id, ascending=False).limit(limit)]


async def count_visits(actor: Actor, review: str, month: date | None = None) -> int:
    """How many current (not superseded) visits visits_for(review=..., month=...) lists."""
    query = Visit.count().where(_scope(actor) & (Visit.review == review)
                                & (Visit.superseded == False))  # noqa: E712
    return await (query.where(_in_month(month)) if month is not None else query)


def _in_month(month: date):
    first, last = clock.month_bounds(month)
    return (Visit.visit_on >= first) & (Visit.visit_on <= last)


# The reviewer's list: what waits for a decision, and what was decided (history stays).
REVIEW_STATUSES = {
    "pending": ("待审核", (Review.flagged,)),
    "accepted": ("已通过", ACCEPTED),
    "rejected": ("审核不通过", (Review.rejected,)),
}


async def review_queue(actor: Actor, *, after_id: int = 0, search: str = "",
                       provider: int | None = None, status: str = "pending",
                       limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Visits of the reviewer's region by `status` (REVIEW_STATUSES; not superseded): the
    flagged ones waiting for a decision oldest first, decided ones newest first (keyset:
    `after_id` is the last id shown). `search` finds the person as the people search does
    (or the staff member by name), `provider` keeps one organisation's."""
    require_role(actor, REVIEW_ROLES, "审核服务记录")
    pending = status not in REVIEW_STATUSES or status == "pending"
    states = REVIEW_STATUSES["pending" if pending else status][1]
    query = Visit.select(*_LIST_COLUMNS, Visit.notes, Visit.family_confirmed_by,
                         Visit.revision_reason, Visit.review_reason, Visit.reviewed_at,
                         Visit.reviewed_by.display_name).where(
        _scope(actor) & Visit.review.is_in([str(r) for r in states])
        & (Visit.superseded == False))  # noqa: E712
    if after_id:
        query = query.where(Visit.id > after_id if pending else Visit.id < after_id)
    if (found := people.person_search(Visit.person, search)) is not None:
        query = query.where(found | (Visit.staff.display_name == search.strip()))
    if provider:
        query = query.where(Visit.provider == provider)
    known = await catalogue()
    return [_decorate(row, known)
            for row in await query.order_by(Visit.id, ascending=pending).limit(limit)]


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
    facts = await gathered.gather(actor, key=None, person_id=person_id, staff_id=None,
                                  started_at=None, ended_at=None, with_id=False, day=today)
    person = gathered.beneficiary(actor, person_id, today, facts)
    known = facts["catalogue"]
    plan = person["plan"]  # beneficiary(): None, or this organisation's
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


async def month_progress(person_id: int, day: date) -> tuple[int, int]:
    """The person's visits in `day`'s month: (done — accepted, automatically or by a
    reviewer; pending — flagged and not yet decided). Only the done ones are progress."""
    first, last = clock.month_bounds(day)
    rows = await Visit.select(Visit.review, Count()).where(
        (Visit.person == person_id) & (Visit.visit_on >= first) & (Visit.visit_on <= last)
        & (Visit.superseded == False)).group_by(Visit.review)  # noqa: E712
    return rules.progress({row["review"]: row["count"] for row in rows})


async def due_visits(actor: Actor, today: date) -> list[dict[str, Any]]:
    """For a provider: each beneficiary with a home-care plan of the organisation in force
    today, the month's visits due (the plan's visits_per_month), done (accepted, not
    superseded), pending (flagged, undecided: shown apart, not done), remaining, and
    whether they are overdue (rules.due_on: fewer done than the even share of the days
    already past). Overdue first."""
    require_role(actor, LOG_ROLES, "查看本月服务安排")
    candidates = await CarePlan.select(CarePlan.entitlement).where(
        (CarePlan.provider == actor.organisation_id) & (CarePlan.care_form == str(CareForm.home))
        & CarePlan.state.is_in(_CONFIRMED)).distinct()
    month_first, month_last = clock.month_bounds(today)
    month_days = month_last.day
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
        done, pending = await month_progress(entitlement["person"], today)
        last = await Visit.select(Visit.visit_on).where(
            (Visit.person == entitlement["person"]) & (Visit.superseded == False)  # noqa: E712
            & Visit.review.is_in(_ACCEPTED)).order_by(Visit.visit_on, ascending=False).first()
        from_day = entitlement["starts_on"].day if entitlement["starts_on"] > month_first else 1
        due = rules.due_on(plan.get("visits_per_month") or 0, done, today,
                           month_days=month_days, from_day=from_day)
        active = is_active_day(facts, today)
        rows.append({
            "person_id": entitlement["person"], "name": entitlement["person.name"],
            "village": entitlement["person.village.name"],
            "grade_label": GRADE_LABELS.get(entitlement["grade"], ""),
            "plan_id": plan.get("id"), "due": due.due, "done": due.done, "pending": pending,
            "remaining": due.remaining, "expected_by_now": due.expected_by_now,
            "overdue": due.overdue and active, "due_today": due.due_today and active,
            "active_today": active, "last_visit_on": last["visit_on"] if last else None,
        })
    return sorted(rows, key=lambda r: (not r["overdue"], not r["due_today"], r["name"]))
