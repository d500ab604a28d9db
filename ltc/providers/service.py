"""Care providers seen from the agency: institutional stays (admission, discharge, bed-days),
return-visit surveys (回访), the monthly provider evaluation, and the provider's own home page.
The rules (bed-days, rates, what is due) are in ltc.providers.rules."""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import Where, WhereRaw
from piccolo.query.functions.aggregate import Count

from ltc import clock, db
from ltc.agreements.rules import AgreementKind
from ltc.agreements.service import active_agreement
from ltc.audit import service as audit
from ltc.careplans.rules import CONFIRMED, CareForm, PlanState
from ltc.careplans.rules import ends_on as plan_ends_on
from ltc.careplans.tables import CarePlan
from ltc.enrollment.tables import HospitalStay
from ltc.entitlements import service as entitlements
from ltc.entitlements.rules import EntitlementFacts, Interval, active_days, is_active_day
from ltc.entitlements.tables import Entitlement, Suspension
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.family import interface as family
from ltc.identity import Actor, Role, in_region, require_role
from ltc.organisations.tables import Organisation
from ltc.people import interface as people_interface
from ltc.people.tables import Person
from ltc.providers import rules
from ltc.providers.rules import ProviderMonth
from ltc.returnvisits import interface as returnvisits
from ltc.returnvisits.rules import SampleResults
from ltc.visits.queries import due_visits
from ltc.visits.rules import Review
from ltc.visits.tables import InstitutionalStay, Survey, Visit

CLERKS = frozenset({Role.clerk})
EVALUATORS = frozenset({Role.clerk, Role.reviewer})
PROVIDERS = frozenset({Role.provider})
PAGE_SIZE = 50
_CONFIRMED = [str(state) for state in CONFIRMED]  # plan versions that are or were in force
_ADMISSIONS_LOCK = zlib.crc32(b"institutional_stay")
_CHUNK = 500  # ids per IN (…) list


def _chunks(ids: Iterable[int]) -> list[list[int]]:
    ordered = sorted(set(ids))
    return [ordered[i:i + _CHUNK] for i in range(0, len(ordered), _CHUNK)]


# --- agreements and institutions ---------------------------------------------------------

async def _provider_agreement(organisation_id: int, on: date) -> dict[str, Any] | None:
    """The provider agreement of an organisation in force on `on`."""
    return await active_agreement(str(AgreementKind.provider), on=on,
                                  organisation=organisation_id)


def _of_pool(actor: Actor, region_path: Column) -> Where | WhereRaw:
    """Rows of the actor's pooling region: providers contract with the pooling region's
    agency, so a town's clerk works with all of them."""
    if actor.region_path is None:
        return WhereRaw("1 = 1")
    pool = actor.region_path.split("/")[0]
    return (region_path == pool) | region_path.like(pool + "/%")


def _provider_in_pool(actor: Actor) -> Where | WhereRaw:
    return (Organisation.kind == "provider") & _of_pool(actor, Organisation.region.path)


async def providers(actor: Actor) -> list[dict[str, Any]]:
    """The active care providers of the actor's pooling region, by name."""
    return await Organisation.select(Organisation.id, Organisation.name).where(
        _provider_in_pool(actor) & Organisation.active.eq(True)).order_by(Organisation.name)


async def institutions(actor: Actor, on: date) -> list[dict[str, Any]]:
    """Providers of the actor's region with contracted beds on `on`, with the beds occupied
    that day: the choices of the admission form and the head of the stays page."""
    require_role(actor, CLERKS, "查看机构住养")
    found = []
    for row in await providers(actor):
        agreement = await _provider_agreement(row["id"], on)
        if agreement and agreement["institutional_beds"] > 0:
            found.append({**row, "beds": agreement["institutional_beds"],
                          "agreement": agreement["number"]})
    occupied = await _occupied_on([r["id"] for r in found], on)
    for row in found:
        row["occupied"] = occupied.get(row["id"], 0)
        row["free"] = max(0, row["beds"] - row["occupied"])
    return found


async def _occupied_on(institution_ids: list[int], day: date) -> dict[int, int]:
    counts: dict[int, int] = {}
    for chunk in _chunks(institution_ids):
        rows = await InstitutionalStay.select(InstitutionalStay.institution, Count()).where(
            InstitutionalStay.institution.is_in(chunk) & (InstitutionalStay.admitted_on <= day)
            & (InstitutionalStay.discharged_on.is_null()
               | (InstitutionalStay.discharged_on > day))).group_by(
            InstitutionalStay.institution)
        counts.update({r["institution"]: r["count"] for r in rows})
    return counts


# --- institutional stays -----------------------------------------------------------------

async def admit(actor: Actor, entitlement_id: int, institution_id: int | None,
                admitted_on: date) -> dict[str, Any]:
    """A beneficiary admitted to a contracted institution. Refused, with every reason at
    once, when the entitlement is not in force that day, the person already has an open (or
    later) stay, or the institution has no bed agreement or no free bed from that day on."""
    require_role(actor, CLERKS, "办理机构住养入住")
    async with db.write_transaction():
        if not db.is_sqlite():
            # Serialise admissions, so two clerks cannot both take the last bed.
            await InstitutionalStay.raw(f"SELECT pg_advisory_xact_lock({_ADMISSIONS_LOCK})")
        entitlement = await Entitlement.select().where(
            (Entitlement.id == entitlement_id) & in_region(actor, Entitlement.region_path)).first()
        if entitlement is None:
            raise NotFound("entitlement_not_found",
                           f"待遇资格 {entitlement_id} 不存在或不在您的管辖范围内")
        institution = None
        if institution_id is not None:
            institution = await Organisation.select(Organisation.id, Organisation.name).where(
                (Organisation.id == institution_id) & _provider_in_pool(actor)).first()
        agreement = (await _provider_agreement(institution_id, admitted_on)
                     if institution else None)
        beds = agreement["institutional_beds"] if agreement else 0
        stays = [] if institution is None else await InstitutionalStay.select(
            InstitutionalStay.admitted_on, InstitutionalStay.discharged_on).where(
            (InstitutionalStay.institution == institution_id)
            & (InstitutionalStay.discharged_on.is_null()
               | (InstitutionalStay.discharged_on > admitted_on)))
        overlapping = next((s for s in await InstitutionalStay.select(
            InstitutionalStay.admitted_on, InstitutionalStay.discharged_on,
            InstitutionalStay.institution.name).where(
            InstitutionalStay.person == entitlement["person"])
            if rules.overlaps(admitted_on, s["admitted_on"], s["discharged_on"])), None)
        problems = rules.stay_problems(
            admitted_on=admitted_on, today=clock.today(), has_beds=beds > 0, beds=beds,
            occupied=rules.peak_occupancy(
                ((s["admitted_on"], s["discharged_on"]) for s in stays), admitted_on),
            overlapping=overlapping,
            entitlement_active=is_active_day(await entitlements.facts_of(entitlement),
                                             admitted_on))
        if institution is None:
            problems["institution"] = "请选择本统筹地区签约的护理机构"
        if problems:
            raise InvalidInput("invalid_admission", "入住登记有误，请按提示修改", problems)
        stay = InstitutionalStay(
            person=entitlement["person"], entitlement=entitlement_id,
            institution=institution_id, region_path=entitlement["region_path"],
            admitted_on=admitted_on, recorded_by=actor.id)
        await stay.save()
        await audit.record(actor, "stay.admitted", "institutional_stay", stay.id, after={
            "person": entitlement["person"], "entitlement": entitlement_id,
            "institution": institution_id, "admitted_on": admitted_on.isoformat(),
            "agreement": agreement["number"]},
            note=f"入住{institution['name']}，{admitted_on.isoformat()}")
    return await get_stay(actor, stay.id)


async def discharge(actor: Actor, stay_id: int, discharged_on: date) -> dict[str, Any]:
    """The discharge of an open stay, on a day after the admission (that day is not a
    bed-day)."""
    require_role(actor, CLERKS, "办理机构住养出院")
    async with db.write_transaction():
        stay = await get_stay(actor, stay_id)
        if stay["discharged_on"] is not None:
            raise Conflict("already_discharged",
                           f"此住养已于 {stay['discharged_on'].isoformat()} 办理出院")
        problems = rules.discharge_problems(admitted_on=stay["admitted_on"],
                                            discharged_on=discharged_on, today=clock.today())
        if problems:
            raise InvalidInput("invalid_discharge", "出院登记有误，请按提示修改", problems)
        updated = await InstitutionalStay.update(
            {InstitutionalStay.discharged_on: discharged_on}).where(
            (InstitutionalStay.id == stay_id)
            & InstitutionalStay.discharged_on.is_null()).returning(InstitutionalStay.id)
        if not updated:
            raise db.StaleWrite(InstitutionalStay._meta.tablename, stay_id)
        await audit.record(actor, "stay.discharged", "institutional_stay", stay_id,
                           before={"discharged_on": None},
                           after={"discharged_on": discharged_on.isoformat()},
                           note=f"出院 {discharged_on.isoformat()}")
    return await get_stay(actor, stay_id)


_STAY_COLUMNS = (
    InstitutionalStay.all_columns(), InstitutionalStay.person.name,
    InstitutionalStay.person.resident_id, InstitutionalStay.person.village.name,
    InstitutionalStay.institution.name, InstitutionalStay.entitlement.grade,
)


async def get_stay(actor: Actor, stay_id: int) -> dict[str, Any]:
    require_role(actor, CLERKS, "查看机构住养")
    row = await InstitutionalStay.select(*_STAY_COLUMNS).where(
        (InstitutionalStay.id == stay_id)
        & in_region(actor, InstitutionalStay.region_path)).first()
    if row is None:
        raise NotFound("stay_not_found", f"住养记录 {stay_id} 不存在或不在您的管辖范围内")
    return row


async def list_stays(actor: Actor, *, institution: int | None = None, open_only: bool = True,
                     search: str = "", after_id: int = 0, within: str | None = None,
                     limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Stays in the clerk's region, by id; `search` and `within` (a town's or village's
    region path) find the person as the people search does."""
    require_role(actor, CLERKS, "查看机构住养")
    query = InstitutionalStay.select(*_STAY_COLUMNS).where(
        in_region(actor, InstitutionalStay.region_path) & (InstitutionalStay.id > after_id))
    if institution:
        query = query.where(InstitutionalStay.institution == institution)
    if open_only:
        query = query.where(InstitutionalStay.discharged_on.is_null())
    found = people_interface.person_search(InstitutionalStay.person, search, within)
    if found is not None:
        query = query.where(found)
    return await query.order_by(InstitutionalStay.id).limit(limit)


async def _rows_in(column: Column, ids: Iterable[int], *columns: Column) -> list[dict[str, Any]]:
    """`columns` of the rows of `column`'s table whose `column` is one of `ids`."""
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(ids):
        rows += await column._meta.table.select(*columns).where(column.is_in(chunk))
    return rows


async def _facts_for(entitlement_ids: Iterable[int]) -> dict[int, EntitlementFacts]:
    """Entitlement facts (dates, hospital stays, suspensions) of many entitlements in three
    set queries, as entitlements.service.facts_of gives them one by one."""
    rows = await _rows_in(Entitlement.id, entitlement_ids, Entitlement.id, Entitlement.person,
                          Entitlement.starts_on, Entitlement.expires_on, Entitlement.ends_on)
    hospital: dict[int, list[Interval]] = defaultdict(list)
    for s in await _rows_in(HospitalStay.person, (r["person"] for r in rows),
                            HospitalStay.person, HospitalStay.admitted_on,
                            HospitalStay.discharged_on):
        hospital[s["person"]].append(Interval(s["admitted_on"], s["discharged_on"]))
    held: dict[int, list[Interval]] = defaultdict(list)
    for s in await _rows_in(Suspension.entitlement, (r["id"] for r in rows),
                            Suspension.entitlement, Suspension.starts_on, Suspension.resumes_on):
        held[s["entitlement"]].append(Interval(s["starts_on"], s["resumes_on"]))
    return {r["id"]: EntitlementFacts(
        starts_on=r["starts_on"], expires_on=r["expires_on"], ends_on=r["ends_on"],
        suspensions=tuple(hospital[r["person"]]) + tuple(held[r["id"]])) for r in rows}


async def bed_days_by_month(actor: Actor, institution: int | None,
                            month: date) -> dict[str, Any]:
    """Bed-days of `month` per stay and per institution (all of the region's when
    `institution` is None): every bed-day by the stay rule, and the active ones (entitlement
    in force, not suspended) that institutional payouts pay for."""
    require_role(actor, CLERKS, "查看床日统计")
    first, last = clock.month_bounds(month)
    query = InstitutionalStay.select(*_STAY_COLUMNS).where(
        in_region(actor, InstitutionalStay.region_path) & (InstitutionalStay.admitted_on <= last)
        & (InstitutionalStay.discharged_on.is_null()
           | (InstitutionalStay.discharged_on > first)))
    if institution:
        query = query.where(InstitutionalStay.institution == institution)
    stays = await query.order_by(InstitutionalStay.institution.name,
                                 InstitutionalStay.admitted_on, InstitutionalStay.id)
    facts = await _facts_for(s["entitlement"] for s in stays)
    totals: dict[int, dict[str, Any]] = {}
    for stay in stays:
        days = rules.bed_dates(stay["admitted_on"], stay["discharged_on"], first, last)
        stay["bed_days"] = len(days)
        stay["active_bed_days"] = active_days(facts[stay["entitlement"]], days)
        total = totals.setdefault(stay["institution"], {
            "institution": stay["institution"], "name": stay["institution.name"], "stays": 0,
            "bed_days": 0, "active_bed_days": 0})
        total["stays"] += 1
        total["bed_days"] += stay["bed_days"]
        total["active_bed_days"] += stay["active_bed_days"]
    return {"month": first, "first": first, "last": last, "rows": stays,
            "institutions": list(totals.values()),
            "bed_days": sum(t["bed_days"] for t in totals.values()),
            "active_bed_days": sum(t["active_bed_days"] for t in totals.values())}


# --- surveys ---------------------------------------------------------------------------------

async def record_survey(actor: Actor, provider_id: int | None, person_id: int | None,
                        surveyed_on: date | None, score: int, comment: str) -> dict[str, Any]:
    """A return-visit survey (回访): how satisfied a beneficiary is with a provider that
    serves them (a care plan or a stay with it), score 1–5."""
    require_role(actor, CLERKS, "登记回访")
    comment = comment.strip()
    async with db.write_transaction():
        problems = rules.survey_problems(score=score, surveyed_on=surveyed_on,
                                         today=clock.today(), comment=comment)
        person = None if person_id is None else await Person.select(
            Person.id, Person.name, Person.region_path).where(
            (Person.id == person_id) & in_region(actor, Person.region_path)).first()
        provider = None if provider_id is None else await Organisation.select(
            Organisation.id, Organisation.name).where(
            (Organisation.id == provider_id) & _provider_in_pool(actor)).first()
        if person is None:
            problems["person"] = "请选择本辖区内接受护理服务的人员"
        if provider is None:
            problems["provider"] = "请选择提供服务的护理机构"
        elif person is not None and not await _serves(provider_id, person_id):
            problems["provider"] = (f"{person['name']}没有由{provider['name']}服务的护理计划"
                                    "或住养记录，请核对机构")
        if problems:
            raise InvalidInput("invalid_survey", "回访登记有误，请按提示修改", problems)
        survey = Survey(provider=provider_id, person=person_id,
                        region_path=person["region_path"], surveyed_on=surveyed_on,
                        score=score, comment=comment, recorded_by=actor.id)
        await survey.save()
        await audit.record(actor, "survey.recorded", "survey", survey.id, after={
            "provider": provider_id, "person": person_id, "score": score,
            "surveyed_on": surveyed_on.isoformat()},
            note=f"{provider['name']}，{score} 分")
    return survey.to_dict()


async def _serves(provider_id: int, person_id: int) -> bool:
    return await CarePlan.exists().where(
        (CarePlan.person == person_id) & (CarePlan.provider == provider_id)
        & CarePlan.state.is_in(_CONFIRMED)) or await (
        InstitutionalStay.exists().where((InstitutionalStay.person == person_id)
                                         & (InstitutionalStay.institution == provider_id)))


async def list_surveys(actor: Actor, *, provider: int | None = None, month: date | None = None,
                       search: str = "", after_id: int = 0,
                       limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Surveys in the clerk's region, by id; `search` finds the person as the people search
    does."""
    require_role(actor, CLERKS, "查看回访记录")
    query = Survey.select(Survey.all_columns(), Survey.person.name, Survey.person.resident_id,
                          Survey.provider.name, Survey.recorded_by.display_name).where(
        in_region(actor, Survey.region_path) & (Survey.id > after_id))
    if provider:
        query = query.where(Survey.provider == provider)
    if (found := people_interface.person_search(Survey.person, search)) is not None:
        query = query.where(found)
    if month:
        first, last = clock.month_bounds(month)
        query = query.where((Survey.surveyed_on >= first) & (Survey.surveyed_on <= last))
    return await query.order_by(Survey.id).limit(limit)


async def survey_candidates(actor: Actor, search: str,
                            limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Beneficiaries and the providers that serve them under a plan in force, found by
    name, pinyin initials or resident ID: the people a clerk calls back."""
    require_role(actor, CLERKS, "登记回访")
    if not search.strip():
        return []
    term = search.strip()
    person = CarePlan.person
    return await CarePlan.select(
        CarePlan.person, person.name, person.resident_id, person.village.name,
        CarePlan.provider, CarePlan.provider.name, CarePlan.care_form).where(
        in_region(actor, CarePlan.region_path) & (CarePlan.state == str(PlanState.ACTIVE))
        & CarePlan.provider.is_not_null()
        & (db.contains(person.name, term) | (person.name_initials == term.lower())
           | person.resident_id.like(term + "%"))).distinct().order_by(
        CarePlan.person).limit(limit)


async def survey_subject(actor: Actor, person_id: int,
                         provider_id: int) -> dict[str, Any] | None:
    """The person and provider a survey form is about, if the actor may see them."""
    require_role(actor, CLERKS, "登记回访")
    person = await Person.select(Person.id, Person.name, Person.resident_id,
                                 Person.village.name, Person.phone).where(
        (Person.id == person_id) & in_region(actor, Person.region_path)).first()
    provider = await Organisation.select(Organisation.id, Organisation.name).where(
        (Organisation.id == provider_id) & _provider_in_pool(actor)).first()
    return {"person": person, "provider": provider} if person and provider else None


# --- the evaluation --------------------------------------------------------------------------

async def evaluation(actor: Actor, month: date) -> list[dict[str, Any]]:
    """Each provider's figures and rates for `month` (rules.ProviderMonth), counted from the
    plans, visits and surveys of the actor's region, providers by name. Every figure comes
    from a set query (GROUP BY) over the month, not a query per provider."""
    require_role(actor, EVALUATORS, "查看机构考核")
    first, last = clock.month_bounds(month)
    names = {p["id"]: p["name"] for p in await providers(actor)}
    due, accepted = await _due_visits(actor, first, last), defaultdict(int)
    logged, flagged = defaultdict(int), defaultdict(int)
    for row in await Visit.select(Visit.provider, Visit.person, Visit.review, Count()).where(
            in_region(actor, Visit.region_path) & Visit.superseded.eq(False)
            & (Visit.visit_on >= first) & (Visit.visit_on <= last)).group_by(
            Visit.provider, Visit.person, Visit.review):
        logged[row["provider"]] += row["count"]
        if row["review"] in rules.FLAGGED_EVER:
            flagged[row["provider"]] += row["count"]
        if row["review"] in rules.ACCEPTED:
            accepted[(row["provider"], row["person"])] += row["count"]
    scores: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for row in await Survey.select(Survey.provider, Survey.score, Count()).where(
            in_region(actor, Survey.region_path) & (Survey.surveyed_on >= first)
            & (Survey.surveyed_on <= last)).group_by(Survey.provider, Survey.score):
        scores[row["provider"]].append((row["score"], row["count"]))
    # The families' own ratings (家属端, ltc.family) count as surveys of the month.
    for provider, score, count in await family.rating_counts(actor, first, last):
        scores[provider].append((score, count))
    # So does the satisfaction families gave on the return-visit calls about the month.
    for provider, score, count in await returnvisits.satisfaction_counts(actor, first):
        scores[provider].append((score, count))
    sampled = await returnvisits.results_by_provider(actor, first)  # 回访抽样
    # Providers from elsewhere that served people of the region are evaluated here too.
    others = ({p for p, _ in due} | {p for p, _ in accepted} | set(logged) | set(scores)
              | set(sampled)) - set(names)
    names.update({o["id"]: o["name"] for o in await _rows_in(
        Organisation.id, others, Organisation.id, Organisation.name)})
    people: dict[int, set[int]] = defaultdict(set)
    for provider, person in set(due) | set(accepted):
        people[provider].add(person)
    figures = []
    for provider, name in names.items():
        surveys, satisfied, score_total = rules.survey_totals(scores[provider])
        figures.append(ProviderMonth(
            provider=provider, name=name,
            due=sum(due.get((provider, person), 0) for person in people[provider]),
            accepted=sum(accepted[(provider, person)] for person in people[provider]),
            credited=sum(rules.credited_visits(accepted[(provider, person)],
                                               due.get((provider, person), 0))
                         for person in people[provider]),
            logged=logged[provider], flagged=flagged[provider], surveys=surveys,
            satisfied=satisfied, score_total=score_total))
    return [{**f.as_row(), **sampled.get(f.provider, SampleResults()).as_row()}
            for f in sorted(figures, key=lambda f: (f.name, f.provider))]


async def _due_visits(actor: Actor, first: date, last: date) -> dict[tuple[int, int], int]:
    """Visits due in the month per (provider, person), by rules.due_visits over the active
    days of every home-care plan version in force during the month (a version is in force
    until the next confirmed version starts: ltc.careplans.rules.ends_on)."""
    versions: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in await CarePlan.select(
            CarePlan.id, CarePlan.entitlement, CarePlan.person, CarePlan.plan_no,
            CarePlan.state, CarePlan.care_form, CarePlan.provider, CarePlan.visits_per_month,
            CarePlan.starts_on).where(
            in_region(actor, CarePlan.region_path) & CarePlan.state.is_in(_CONFIRMED)
            & (CarePlan.starts_on <= last)):
        versions[row["entitlement"]].append(row)
    in_month = []
    for plans in versions.values():
        for plan in plans:
            last_day = plan_ends_on(plans, plan)
            if (plan["care_form"] == str(CareForm.home) and plan["provider"] is not None
                    and plan["visits_per_month"] > 0 and (last_day is None or last_day >= first)):
                in_month.append((plan, None if last_day is None else last_day + timedelta(days=1)))
    facts = await _facts_for(plan["entitlement"] for plan, _ in in_month)
    due: dict[tuple[int, int], int] = defaultdict(int)
    for plan, ends_before in in_month:
        days = active_days(facts[plan["entitlement"]],
                           rules.days_in_period(plan["starts_on"], ends_before, first, last))
        due[(plan["provider"], plan["person"])] += rules.due_visits(
            plan["visits_per_month"], days, last.day)
    return dict(due)


# --- the provider's home page --------------------------------------------------------------

async def provider_home(actor: Actor, today: date) -> dict[str, Any]:
    """What the provider's home page shows: per beneficiary, this month's visits due, done
    (accepted only; flagged ones waiting for review apart, as `pending`) and whether they
    are overdue or due today (ltc.visits.queries.due_visits, overdue first), and the
    visits waiting for or refused in review."""
    require_role(actor, PROVIDERS, "查看护理机构工作台")
    first, last = clock.month_bounds(today)
    mine = (Visit.provider == actor.organisation_id) & Visit.superseded.eq(False)
    due = await due_visits(actor, today)
    return {
        "today": today, "month_label": clock.month_label(first), "due": due,
        "due_today": [d for d in due if d["overdue"] or d["due_today"]],
        "overdue_count": sum(1 for d in due if d["overdue"]),
        "flagged_count": await Visit.count().where(mine & (Visit.review == str(Review.flagged))),
        "rejected_count": await Visit.count().where(
            mine & (Visit.review == str(Review.rejected)) & (Visit.visit_on >= first)
            & (Visit.visit_on <= last)),
    }
