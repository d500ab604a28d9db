"""The facts a visit is judged on, gathered in one statement on either engine.

Visit logging is the hot write path (issue 5). One statement reads everything logging needs
after the token: whether the client's UUID was used before, the care catalogue, the staff
member, the beneficiary with their entitlements, care plan versions, hospital stays and
suspensions, the policy versions, the staff member's and the provider's agreements that
day, the staff member's other visits around the visit's time, the beneficiary's counted
visits that month, and the new visit's id. Each set comes back as JSON (json_agg on
PostgreSQL, json_group_array on SQLite); the engines differ only in spellings (`Dialect`).
The decisions are made here in Python by the same functions the rest of the system uses
(plan_in_force/plan_result, in_force_among, agreements' `covers`) and the flag rules in
ltc.visits.rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from ltc import clock, db
from ltc.agreements.rules import covers
from ltc.careplans.rules import CONFIRMED, plan_in_force
from ltc.careplans.service import plan_result
from ltc.entitlements.rules import EntitlementFacts, Interval
from ltc.errors import NotFound
from ltc.identity import Actor
from ltc.policy.service import in_force_among
from ltc.visits import rules
from ltc.visits.rules import COUNTED, OtherVisit, VisitFacts
from ltc.visits.tables import Visit

_COUNTED_SQL = ", ".join(f"'{r}'" for r in COUNTED)
_CONFIRMED_SQL = ", ".join(f"'{s}'" for s in CONFIRMED)


@dataclass(frozen=True)
class Dialect:
    """How PostgreSQL and SQLite spell what the facts statement needs."""

    sqlite: bool

    def object(self, pairs: str) -> str:
        """A JSON object of `'key', value, …` pairs."""
        return f"json_object({pairs})" if self.sqlite else f"json_build_object({pairs})"

    def obj(self, *columns: str, alias: str) -> str:
        """A JSON object of `alias`'s columns, keyed by their names."""
        return self.object(", ".join(f"'{c}', {alias}.{c}" for c in columns))

    def agg(self, value: str) -> str:
        """A JSON array of `value` over the rows (PostgreSQL: NULL over none)."""
        return f"json_group_array({value})" if self.sqlite else f"json_agg({value})"

    def text(self, query: str) -> str:
        """A scalar subquery's JSON as text."""
        return f"({query})" if self.sqlite else f"({query})::text"

    def next_id(self) -> str:
        """The id the new visit row will get. SQLite's writers hold the database's only
        write lock (an IMMEDIATE transaction), and an INTEGER PRIMARY KEY takes max + 1."""
        if self.sqlite:
            return "(SELECT coalesce(max(v.id), 0) + 1 FROM visit v)"
        return "nextval(pg_get_serial_sequence('visit', 'id'))"


def dialect() -> Dialect:
    return Dialect(sqlite=db.is_sqlite())


def _rows(d: Dialect, table: str, alias: str, columns: tuple[str, ...], where: str) -> str:
    return d.text(f"SELECT {d.agg(d.obj(*columns, alias=alias))} FROM {table} {alias} "
                  f"WHERE {where}")


def _one(d: Dialect, table: str, alias: str, columns: tuple[str, ...], where: str) -> str:
    return d.text(f"SELECT {d.obj(*columns, alias=alias)} FROM {table} {alias} WHERE {where}")


_ENTITLEMENT = ("id", "grade", "starts_on", "expires_on", "ends_on")
_PLAN = ("id", "entitlement", "region_path", "plan_no", "care_form", "provider", "items",
         "visits_per_month", "starts_on", "state")
_AGREEMENT = ("id", "state", "starts_on", "ends_on", "state_changed_on", "qualification")
_STAFF = ("id", "display_name", "role", "organisation", "active")
_PERSON = ("id", "name", "region_path", "latitude", "longitude", "deceased_on")
_OF_PERSON = "SELECT e.id FROM entitlement e WHERE e.person = $2"
_STAFF_ORGANISATION = "(SELECT u.organisation FROM ltc_user u WHERE u.id = $4)"
_COVERING = ("a.kind = '{kind}' AND a.state <> 'DRAFT' AND a.starts_on <= $5 "
             "AND a.ends_on >= $5 AND a.{party} = {value}")
_COUNTED_BUT = f"v.superseded = false AND v.review IN ({_COUNTED_SQL}) AND v.id <> $11"


@cache
def facts_sql(d: Dialect, with_id: bool) -> str:
    """Parameters: $1 the client's UUID, $2 person, $3 the actor's organisation, $4 staff
    member, $5 the visit's civil day, $6 start, $7 end, $8 start − MAX_VISIT_HOURS, $9 and
    $10 the month's first and last day, $11 a visit to leave out (a revision's original;
    0: none). The provider is the staff member's organisation (for a new visit, the
    actor's: ltc.visits.logging checks it)."""
    policy = d.object("'id', pv.id, 'version', pv.version, 'effective_from', "
                      "pv.effective_from, 'definition', pv.definition, 'region.path', r.path, "
                      "'region.code', r.code")
    policies = d.text(f"SELECT {d.agg(policy)} FROM policy_version pv JOIN region r "
                      "ON r.id = pv.region WHERE pv.effective_from <= $5")
    catalogue = _rows(d, "care_item", "c", ("code", "name_zh", "nurse_only"), "1 = 1")
    plans = _rows(d, "care_plan", "c", _PLAN, f"c.entitlement IN ({_OF_PERSON})")
    stays = _rows(d, "hospital_stay", "h", ("admitted_on", "discharged_on"), "h.person = $2")
    suspensions = _rows(d, "suspension", "s", ("entitlement", "starts_on", "resumes_on"),
                        f"s.entitlement IN ({_OF_PERSON})")
    staff_agreements = _rows(d, "agreement", "a", _AGREEMENT, _COVERING.format(
        kind="staff", party="staff", value="$4"))
    provider_agreements = _rows(d, "agreement", "a", _AGREEMENT, _COVERING.format(
        kind="provider", party="organisation", value=_STAFF_ORGANISATION))
    others = _rows(d, "visit", "v", ("id", "started_at", "ended_at"),
                   f"v.staff = $4 AND {_COUNTED_BUT} AND v.started_at < $7 "
                   "AND v.started_at > $8 AND v.ended_at > $6")
    return f"""
SELECT
  (SELECT v.id FROM visit v WHERE v.client_uuid = $1) AS replay,
  {catalogue} AS catalogue,
  {_one(d, "ltc_user", "u", _STAFF, "u.id = $4")} AS staff,
  {_one(d, "person", "p", _PERSON, "p.id = $2")} AS person,
  {_rows(d, "entitlement", "e", _ENTITLEMENT, "e.person = $2")} AS entitlements,
  {plans} AS plans,
  EXISTS (SELECT 1 FROM care_plan c WHERE c.person = $2 AND c.provider = $3
          AND c.state IN ({_CONFIRMED_SQL})) AS has_plan,
  {stays} AS stays,
  {suspensions} AS suspensions,
  {policies} AS policies,
  {staff_agreements} AS staff_agreements,
  {provider_agreements} AS provider_agreements,
  (SELECT o.name FROM organisation o WHERE o.id = {_STAFF_ORGANISATION}) AS provider_name,
  {others} AS others,
  (SELECT count(*) FROM visit v WHERE v.person = $2 AND v.visit_on >= $9
     AND v.visit_on <= $10 AND {_COUNTED_BUT}) AS month_visits,
  {d.next_id() if with_id else "NULL"} AS next_id
"""


_DOLLAR = re.compile(r"\$(\d+)")


@cache
def _placeheld(sql: str) -> tuple[str, tuple[int, ...]]:
    """`sql` written with PostgreSQL's $n placeholders (each may repeat) as Piccolo's raw
    `{}` placeholders, and the parameter index of each."""
    return _DOLLAR.sub("{}", sql), tuple(int(m.group(1)) - 1 for m in _DOLLAR.finditer(sql))


def raw(sql: str, *params: Any) -> Any:
    text, order = _placeheld(sql)
    return Visit.raw(text, *(params[i] for i in order))


def civil_day(moment: datetime) -> date:
    return moment.astimezone(clock.CHINA).date()


async def gather(actor: Actor, *, key: Any, person_id: int | None, staff_id: int | None,
                 started_at: Any, ended_at: Any, exclude: int | None = None,
                 with_id: bool = True, day: date | None = None) -> dict[str, Any]:
    """Every fact logging a visit reads, decoded (see the module's docstring). The day is
    that of the start (`day` when given); without a usable start (the input is refused
    anyway) it is today and no visit overlaps."""
    start = started_at if _aware(started_at) else clock.now()
    end = ended_at if _aware(ended_at) else start
    day = day or civil_day(start)
    first, last = clock.month_bounds(day)
    rows = await raw(facts_sql(dialect(), with_id), key, person_id, actor.organisation_id,
                     staff_id, day, start, end, start - timedelta(hours=rules.MAX_VISIT_HOURS),
                     first, last, exclude or 0)
    return _decoded(rows[0])


def _aware(moment: Any) -> bool:
    return isinstance(moment, datetime) and moment.utcoffset() is not None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _dates(rows: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    for row in rows:
        for name in names:
            if row[name] is not None:
                row[name] = date.fromisoformat(row[name])
    return rows


def _decoded(row: Mapping[str, Any]) -> dict[str, Any]:
    """The statement's row with dates, times and booleans as Python values, each set in
    the order the Piccolo reads it replaces gave (entitlements by start, agreements and
    policies newest first)."""
    person = _json(row["person"])
    if person is not None:
        _dates([person], "deceased_on")
    staff = _json(row["staff"])
    if staff is not None:
        staff["active"] = bool(staff["active"])
    catalogue = sorted(_json(row["catalogue"]) or (), key=lambda c: c["code"])
    for item in catalogue:
        item["nurse_only"] = bool(item["nurse_only"])
    policies = _dates(_json(row["policies"]) or [], "effective_from")
    return {
        "replay": row["replay"], "staff": staff, "person": person,
        "catalogue": {item["code"]: item for item in catalogue},
        "entitlements": sorted(_dates(_json(row["entitlements"]) or [], "starts_on",
                                      "expires_on", "ends_on"),
                               key=lambda e: (e["starts_on"], e["id"])),
        "plans": _dates(_json(row["plans"]) or [], "starts_on"),
        "has_plan": bool(row["has_plan"]),
        "stays": _dates(_json(row["stays"]) or [], "admitted_on", "discharged_on"),
        "suspensions": _dates(_json(row["suspensions"]) or [], "starts_on", "resumes_on"),
        "policies": sorted(policies, key=lambda p: (p["effective_from"], p["id"]),
                           reverse=True),
        "staff_agreements": _agreements(row["staff_agreements"]),
        "provider_agreements": _agreements(row["provider_agreements"]),
        "provider_name": row["provider_name"] or "",
        "others": [OtherVisit(v["id"], datetime.fromisoformat(v["started_at"]),
                              datetime.fromisoformat(v["ended_at"]))
                   for v in _json(row["others"]) or ()],
        "month_visits": row["month_visits"], "next_id": row["next_id"],
    }


def _agreements(value: Any) -> list[dict[str, Any]]:
    rows = _dates(_json(value) or [], "starts_on", "ends_on", "state_changed_on")
    return sorted(rows, key=lambda a: a["id"], reverse=True)


# --- judging -----------------------------------------------------------------------------------

def beneficiary_not_found(person_id: int) -> NotFound:
    return NotFound("beneficiary_not_found",
                    f"没有找到受益人 {person_id}，或其不是本机构的服务对象"
                    "（以护理计划中的服务机构为准）")


def _entitlement_among(rows: list[dict[str, Any]], day: date) -> dict[str, Any] | None:
    """The entitlement whose period holds `day`; else the last one started by then; else
    the first one (a visit before the benefit began). `rows`: ordered by starts_on."""
    if not rows:
        return None
    for row in rows:
        last_day = min(row["expires_on"], row["ends_on"] or row["expires_on"])
        if row["starts_on"] <= day <= last_day:
            return row
    started = [row for row in rows if row["starts_on"] <= day]
    return started[-1] if started else rows[0]


def beneficiary(actor: Actor, person_id: int, day: date, facts: Mapping[str, Any],
                offline: bool = False) -> dict[str, Any]:
    """The person, their entitlement for `day` and its care plan that day — if the person
    is a beneficiary of the actor's organisation (its plan that day, or, on a day no plan
    covers, any confirmed plan of theirs with this provider). 404 otherwise: a provider
    never learns about another provider's beneficiaries. A visit recorded `offline` whose
    day's plan moved to another provider while it waited, for a person this provider has a
    confirmed plan for, comes back without a plan and `plan_elsewhere` (flagged, not lost)."""
    if facts["person"] is None:
        raise beneficiary_not_found(person_id)
    entitlement = _entitlement_among(facts["entitlements"], day)
    plan = None
    if entitlement:
        versions = [p for p in facts["plans"] if p["entitlement"] == entitlement["id"]]
        chosen = plan_in_force(versions, day)
        if chosen is not None:
            policy = in_force_among(facts["policies"], chosen["region_path"],
                                    chosen["starts_on"]).policy
            plan = plan_result(versions, dict(chosen), policy)
    if plan is not None and plan.get("provider") != actor.organisation_id:
        if not (offline and facts["has_plan"]):
            raise beneficiary_not_found(person_id)
        return {**facts["person"], "entitlement": entitlement, "plan": None,
                "plan_elsewhere": True}
    if plan is None and not facts["has_plan"]:
        raise beneficiary_not_found(person_id)
    return {**facts["person"], "entitlement": entitlement, "plan": plan}


def _first_covering(rows: list[dict[str, Any]], day: date) -> dict[str, Any] | None:
    """ltc.agreements.service.active_agreement over rows read with its filter, newest
    first."""
    return next((row for row in rows if covers(row, day)), None)


def flags(values: Mapping[str, Any], person: Mapping[str, Any], staff: Mapping[str, Any],
          facts: Mapping[str, Any], logged_at: datetime) -> list[rules.Flag]:
    """The visit's flags (ltc.visits.rules.flags_for) from the gathered facts; `logged_at`:
    when the visit was first recorded (for 补录)."""
    start, end = values["started_at"], values["ended_at"]
    day = civil_day(start)
    entitlement, plan = person["entitlement"], person["plan"]
    stays = tuple(Interval(s["admitted_on"], s["discharged_on"]) for s in facts["stays"])
    held = None
    if entitlement:
        held = EntitlementFacts(
            starts_on=entitlement["starts_on"], expires_on=entitlement["expires_on"],
            ends_on=entitlement["ends_on"], suspensions=stays + tuple(
                Interval(s["starts_on"], s["resumes_on"]) for s in facts["suspensions"]
                if s["entitlement"] == entitlement["id"]))
    policy = in_force_among(facts["policies"], person["region_path"], day).policy
    staff_agreement = _first_covering(facts["staff_agreements"], day)
    known = facts["catalogue"]
    quota = (plan or {}).get("visits_per_month") or (
        policy.visits_per_month.get(entitlement["grade"], 0) if entitlement else 0)
    home = ((person["latitude"], person["longitude"])
            if person["latitude"] is not None and person["longitude"] is not None else None)
    checkin = ((values["checkin_latitude"], values["checkin_longitude"])
               if values["checkin_latitude"] is not None else None)
    return rules.flags_for(VisitFacts(
        day=day, started_at=start, ended_at=end, items=tuple(values["items"]),
        item_names={code: item["name_zh"] for code, item in known.items()},
        nurse_only_items=frozenset(c for c, item in known.items() if item["nurse_only"]),
        plan_items=tuple(plan["items"]) if plan else None,
        required_items=tuple(plan.get("required") or ()) if plan else (),
        quota=quota, month_visits=facts["month_visits"], min_minutes=policy.min_visit_minutes,
        entitlement=held, hospital_stays=stays, deceased_on=person["deceased_on"],
        staff_name=staff["display_name"], staff_agreement=staff_agreement is not None,
        staff_qualification=(staff_agreement or {}).get("qualification") or None,
        provider_name=facts["provider_name"],
        provider_agreement=_first_covering(facts["provider_agreements"], day) is not None,
        same_staff_visits=tuple(facts["others"]), checkin=checkin, home=home,
        logged_at=logged_at, late_entry_hours=policy.late_entry_hours,
        recorded_on_device=values.get("recorded_at"),
        provider_status=values.get("provider_status", ""),
        plan_elsewhere=person.get("plan_elsewhere", False),
        pin_unchecked=values.get("pin_unchecked", False)))
