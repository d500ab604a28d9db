"""Decision events at every transition (issue 17, the producing side): each change publishes
exactly one event of its type, about the right subject, with its documented data; a refused
or stale change publishes nothing; one person's events are numbered 1, 2, 3 … in the order
they happened; an approved batch publishes one event per payee with its sums, and a
reconciled payment one when paid; emit_many writes what repeated emit would."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import pytest
from support.cases import (
    FrozenClock,
    assessment_version,
    assigned_case,
    complete_assessment,
    concluded_case,
    entitled_case,
    make_staff,
    register,
    submit_assessment,
)
from support.payout_cases import SCENARIOS, build, computed, reviewer
from test_careplans import REQUIRED, STARTS_ON, propose, world  # noqa: F401 (fixture)
from test_payout_export import bank_result, exported

from ltc import db
from ltc.applications.tables import Application
from ltc.assessments import service as assessments
from ltc.assessments.tables import Assessment
from ltc.careplans import service as careplans
from ltc.clock import CHINA
from ltc.decision_events import interface as events
from ltc.decision_events.tables import (
    DecisionEvent,
    EventDelivery,
    EventStream,
    EventSubscriber,
)
from ltc.enrollment import events as enrolment_events
from ltc.entitlements import service as entitlements
from ltc.entitlements.tables import Entitlement
from ltc.errors import Conflict, InvalidInput
from ltc.identity import SYSTEM
from ltc.payouts import service as payouts
from ltc.payouts.tables import Payment, PayoutLine
from ltc.people.tables import Person

pytestmark = pytest.mark.anyio

CONCLUDED_ON = date(2026, 11, 20)
DECIDED_ON = date(2026, 11, 28)  # entitled from 1 December 2026 through 30 November 2028


async def published(*types: str) -> list[dict[str, Any]]:
    """Every event's body as a subscriber receives it, in the order written (of `types`)."""
    query = DecisionEvent.select(DecisionEvent.body).order_by(DecisionEvent.id)
    if types:
        query = query.where(DecisionEvent.event_type.is_in(list(types)))
    return [json.loads(row["body"]) for row in await query]


def person(resident_id: str, name: str) -> dict[str, str]:
    return {"type": "person", "resident_id": resident_id, "name": name}


# --- a person's lifecycle ---------------------------------------------------------------------

async def test_a_persons_lifecycle_is_one_stream_numbered_in_order(database_url,
                                                                   monkeypatch) -> None:
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=2)
    case = await concluded_case(staff, name="张秀英")
    application = await Application.select(Application.number).where(
        Application.id == case.application_id).first()
    result = json.loads((await Assessment.select(Assessment.result).where(
        Assessment.id == case.assessment_id).first())["result"])
    [concluded] = await published()
    assert (concluded["type"], concluded["sequence"]) == ("grade.concluded", 1)
    assert concluded["subject"] == person(case.resident_id, "张秀英")
    assert concluded["data"] == {
        "assessment_id": case.assessment_id, "application_number": application["number"],
        "kind": "initial", "kind_label": "首次评估", "grade": 5, "grade_label": "重度失能Ⅲ级",
        "ruleset": result["ruleset"], "concluded_on": "2026-11-20"}
    assert concluded["occurred_at"].startswith("2026-11-20T10:00:00.000+08:00")

    clock.set(DECIDED_ON)
    decision = await entitlements.decide(SYSTEM, case.assessment_id, "no_objection",
                                         DECIDED_ON)
    entitlement_id = (await Entitlement.select(Entitlement.id).first())["id"]
    common = {"entitlement_id": entitlement_id, "decision_number": decision["number"],
              "grade": 5, "grade_label": "重度失能Ⅲ级", "starts_on": "2026-12-01",
              "expires_on": "2028-11-30"}
    started = (await published())[-1]
    assert (started["type"], started["sequence"]) == ("entitlement.started", 2)
    assert started["data"] == {**common, "state": "ACTIVE", "state_label": "享受待遇",
                               "effective_on": "2026-12-01",
                               "reason": f"待遇核定 {decision['number']}"}
    # Deciding again (a retried job) publishes nothing more.
    await entitlements.decide(SYSTEM, case.assessment_id, "no_objection", DECIDED_ON)
    assert len(await published()) == 2

    clerk = staff.clerk
    clock.set(date(2027, 1, 10))
    with pytest.raises(InvalidInput):
        await entitlements.suspend(clerk, entitlement_id, 1, starts_on=date(2027, 1, 12),
                                   reason=" ")
    with pytest.raises(db.StaleWrite):
        await entitlements.suspend(clerk, entitlement_id, 2, starts_on=date(2027, 1, 12),
                                   reason="外出探亲")
    assert len(await published()) == 2  # refused and stale: nothing
    row = await entitlements.suspend(clerk, entitlement_id, 1, starts_on=date(2027, 1, 12),
                                     reason="外出探亲")
    suspended = (await published())[-1]
    assert (suspended["type"], suspended["sequence"]) == ("entitlement.suspended", 3)
    # Published when recorded, with the day it takes effect; today it still runs.
    assert suspended["data"] == {**common, "state": "ACTIVE", "state_label": "享受待遇",
                                 "effective_on": "2027-01-12", "reason": "外出探亲"}
    # The day it takes effect the state changes, and nothing is published twice.
    assert (await entitlements.refresh_all(date(2027, 1, 12)))["changed"] == 1
    assert len(await published()) == 3

    clock.set(date(2027, 1, 20))
    row = await entitlements.resume(clerk, entitlement_id, row["version"] + 1,
                                    resumes_on=date(2027, 1, 25), reason="已回家")
    resumed = (await published())[-1]
    assert (resumed["type"], resumed["sequence"]) == ("entitlement.resumed", 4)
    assert resumed["data"] == {**common, "state": "SUSPENDED", "state_label": "暂停",
                               "effective_on": "2027-01-25", "reason": "已回家"}
    assert (await entitlements.refresh_all(date(2027, 1, 25)))["changed"] == 1
    assert len(await published()) == 4

    clock.set(date(2027, 3, 10))
    row = await entitlements.get_entitlement(clerk, entitlement_id)
    await entitlements.end(clerk, entitlement_id, row["version"], last_day=date(2027, 3, 31),
                           reason_code="recovered", note="可自理")
    ended = (await published())[-1]
    assert (ended["type"], ended["sequence"]) == ("entitlement.ended", 5)
    assert ended["data"] == {**common, "state": "ACTIVE", "state_label": "享受待遇",
                             "effective_on": "2027-03-31", "reason": "失能状况好转：可自理",
                             "reason_code": "recovered", "reason_label": "失能状况好转",
                             "last_day": "2027-03-31"}
    assert (await entitlements.refresh_all(date(2027, 4, 1)))["changed"] == 1
    with pytest.raises(Conflict):
        await entitlements.end(clerk, entitlement_id, row["version"] + 2,
                               last_day=date(2027, 3, 31), reason_code="other", note="重复")
    bodies = await published()
    assert [(b["type"], b["sequence"]) for b in bodies] == [
        ("grade.concluded", 1), ("entitlement.started", 2), ("entitlement.suspended", 3),
        ("entitlement.resumed", 4), ("entitlement.ended", 5)]
    assert {b["subject"]["resident_id"] for b in bodies} == {case.resident_id}
    assert len({b["event_id"] for b in bodies}) == 5
    assert await EventStream.select(EventStream.stream, EventStream.last_sequence) == [
        {"stream": f"person:{case.person_id}", "last_sequence": 5}]


async def test_a_conclusion_refused_as_stale_publishes_nothing(database_url,
                                                               monkeypatch) -> None:
    FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=2)
    person_row = await register(staff, name="王淑芬")
    assessment = await assigned_case(staff, person_row)
    await submit_assessment(assessment["id"])
    version = await assessment_version(assessment["id"])
    with pytest.raises(db.StaleWrite):
        await assessments.conclude(staff.reviewer, assessment["id"],
                                   expected_version=version - 1)
    assert await published() == [] and await EventStream.count() == 0
    await assessments.conclude(staff.reviewer, assessment["id"], expected_version=version)
    with pytest.raises(Conflict):  # concluded once: not again
        await assessments.conclude(staff.reviewer, assessment["id"],
                                   expected_version=version + 1)
    assert [b["type"] for b in await published()] == ["grade.concluded"]


async def test_expiry_and_a_new_decision_end_the_old_entitlement_once(database_url,
                                                                      monkeypatch) -> None:
    """A renewal re-assessment: the new grade, the old entitlement ended the day before the
    new one starts, the new one started; the daily refresh that later ends the old one
    publishes nothing; an expiry, which only the refresh notices, is published once."""
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=2)
    case, old_id = await entitled_case(staff, decided_on=DECIDED_ON, name="张秀英")
    clock.set(date(2028, 9, 1))
    person_row = await Person.select().where(Person.id == case.person_id).first()
    assessment = await assigned_case(staff, person_row)
    await complete_assessment(staff, assessment["id"])
    decision = await entitlements.decide(SYSTEM, assessment["id"], "no_objection",
                                         date(2028, 9, 20))
    bodies = await published()
    assert [(b["type"], b["sequence"]) for b in bodies] == [
        ("grade.concluded", 1), ("entitlement.started", 2), ("grade.concluded", 3),
        ("entitlement.ended", 4), ("entitlement.started", 5)]
    ended, started = bodies[3]["data"], bodies[4]["data"]
    assert (ended["entitlement_id"], ended["reason_code"], ended["reason_label"],
            ended["last_day"]) == (old_id, "superseded", "复评后换发新的待遇资格", "2028-09-30")
    assert (started["decision_number"], started["starts_on"]) == (decision["number"],
                                                                  "2028-10-01")
    assert (await entitlements.refresh_all(date(2028, 10, 1)))["changed"] == 1  # old ends
    assert len(await published()) == 5
    new = await Entitlement.select().where(Entitlement.decision == decision["id"]).first()
    day_after = date.fromordinal(new["expires_on"].toordinal() + 1)
    assert (await entitlements.refresh_all(day_after))["changed"] == 1
    await entitlements.refresh_all(day_after)  # the next run finds nothing new
    expired = (await published())[5:]
    assert [(b["type"], b["sequence"]) for b in expired] == [("entitlement.ended", 6)]
    assert expired[0]["data"] == {
        "entitlement_id": new["id"], "decision_number": decision["number"], "grade": 5,
        "grade_label": "重度失能Ⅲ级", "starts_on": "2028-10-01",
        "expires_on": new["expires_on"].isoformat(), "state": "ENDED", "state_label": "已终止",
        "effective_on": day_after.isoformat(),
        "reason": "有效期届满", "reason_code": "expired", "reason_label": "有效期届满",
        "last_day": new["expires_on"].isoformat()}


async def test_enrolment_events_publish_suspension_resumption_and_end(database_url,
                                                                      monkeypatch) -> None:
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=2)
    case, _ = await entitled_case(staff, decided_on=DECIDED_ON, name="张秀英")
    clock.set(date(2027, 3, 1))

    async def apply(kind: str, day: date) -> None:
        async with db.write_transaction():
            row = await Person.select().where(Person.id == case.person_id).first()
            await enrolment_events.apply(SYSTEM, kind, row, day, "事件 e-1")

    await apply("hospital_admitted", date(2027, 2, 20))
    await apply("hospital_discharged", date(2027, 2, 27))
    await apply("deceased", date(2027, 2, 28))
    bodies = (await published())[2:]
    assert [(b["type"], b["sequence"], b["data"]["state"], b["data"]["effective_on"],
             b["data"]["reason"]) for b in bodies] == [
        ("entitlement.suspended", 3, "SUSPENDED", "2027-02-20", "住院"),
        ("entitlement.resumed", 4, "ACTIVE", "2027-02-27", "出院"),
        ("entitlement.ended", 5, "ENDED", "2027-02-28", "死亡")]
    assert (bodies[2]["data"]["reason_code"], bodies[2]["data"]["last_day"]) == (
        "deceased", "2027-02-28")
    await apply("deceased", date(2027, 2, 28))  # the end stands: nothing more
    assert len(await published()) == 5


# --- care plans -------------------------------------------------------------------------------

async def test_a_confirmed_plan_is_published_once_and_a_pending_one_not(world) -> None:  # noqa: F811
    w = world
    before = len(await published())  # the grade and the entitlement's start
    plan = await propose(w)
    with pytest.raises(db.StaleWrite):
        await careplans.confirm_plan(w.clerk, plan["id"], plan["version"] + 1)
    assert len(await published()) == before  # proposed, or stale: nothing
    confirmed = await careplans.confirm_plan(w.clerk, plan["id"], plan["version"])
    items = await careplans.catalogue()
    body = (await published())[-1]
    assert (body["type"], body["sequence"]) == ("careplan.confirmed", before + 1)
    assert body["subject"]["type"] == "person"
    assert body["data"] == {
        "plan_id": confirmed["id"], "plan_no": 1, "entitlement_id": w.entitlement_id,
        "care_form": "home", "care_form_label": "居家护理",
        "items": [{"code": c, "name": items[c]["name_zh"]} for c in sorted([*REQUIRED, "B02"])],
        "visits_per_month": 4, "starts_on": STARTS_ON.isoformat(),
        "provider": {"code": "T-P", "name": "测试机构T-P"}, "family_caregiver": None,
        "supersedes_plan_no": None}

    # A clerk's own plan is confirmed as it is made; a returned proposal publishes nothing.
    w.clock.set(date(2027, 2, 20))
    second = await propose(w, w.clerk, starts_on=date(2027, 3, 1), note="")
    third = await propose(w, starts_on=date(2027, 4, 1))
    await careplans.reject_plan(w.clerk, third["id"], third["version"], "请补充护理项目")
    bodies = (await published())[before:]
    assert [(b["type"], b["data"]["plan_no"], b["data"]["supersedes_plan_no"])
            for b in bodies] == [("careplan.confirmed", 1, None),
                                 ("careplan.confirmed", 2, 1)]
    assert bodies[1]["data"]["plan_id"] == second["id"]


# --- payouts ----------------------------------------------------------------------------------

async def test_approval_publishes_one_event_per_payee_and_reconciliation_the_paid(
        database_url, monkeypatch) -> None:
    region, batch = await exported(monkeypatch)
    approvals = await published("payout.approved")
    lines = await PayoutLine.select().where(PayoutLine.batch == batch["id"])
    expected: dict[str, dict[str, int]] = defaultdict(
        lambda: {"line_count": 0, "gross_fen": 0, "withheld_fen": 0, "net_fen": 0})
    names = {}
    for line in lines:
        sums = expected[line["payee_key"]]
        sums["line_count"] += 1
        for column in ("gross_fen", "withheld_fen", "net_fen"):
            sums[column] += line[column]
        names[line["payee_key"]] = line["payee_name"]
    assert len(expected) == 2  # the caregiver and the provider
    assert {b["subject"]["payee_key"]: (b["subject"]["name"], b["sequence"], b["data"])
            for b in approvals} == {
        key: (names[key], 1, {"batch_number": batch["number"], "month": "2026-12", **sums})
        for key, sums in expected.items()}

    payments = await Payment.select().where(Payment.batch == batch["id"]).order_by(
        Payment.reference)
    failed, paid = payments
    clerk = region.staff.clerk
    file = bank_result((failed["reference"], "failed", "账户已销户"),
                       (paid["reference"], "paid", ""))
    with pytest.raises(InvalidInput):  # refused whole: nothing
        await payouts.reconcile(clerk, batch["id"], file + b"JS999-000001,paid,\n")
    assert await published("payout.paid") == []
    await payouts.reconcile(clerk, batch["id"], file)
    await payouts.reconcile(clerk, batch["id"], file)  # the same file again: nothing
    [body] = await published("payout.paid")
    assert body["subject"] == {"type": "payee", "payee_key": paid["payee_key"],
                               "name": paid["payee_name"]}
    assert (body["sequence"], body["data"]) == (2, {
        "batch_number": batch["number"], "month": "2026-12",
        "payment_reference": paid["reference"], "amount_fen": paid["amount_fen"],
        "paid_on": (await Payment.select(Payment.reconciled_at).where(
            Payment.id == paid["id"]).first())["reconciled_at"].astimezone(
            CHINA).date().isoformat()})


async def test_a_refused_approval_publishes_nothing(database_url, monkeypatch) -> None:
    region = await build(monkeypatch, SCENARIOS[0])
    batch = await computed(monkeypatch, date(2026, 12, 1), region.staff.clerk)
    batch = await payouts.submit(region.staff.clerk, batch["id"], batch["version"])
    checker = await reviewer()
    with pytest.raises(Conflict):
        await payouts.approve(checker, batch["id"], batch["version"] - 1)
    assert await published("payout.approved") == []
    await payouts.approve(checker, batch["id"], batch["version"])
    assert len(await published("payout.approved")) == 1  # the caregiver, the one payee


# --- emit_many against emit -------------------------------------------------------------------

MOMENT = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


class _Rollback(Exception):
    pass


async def _written() -> dict[str, list]:
    rows = await DecisionEvent.select().order_by(DecisionEvent.stream, DecisionEvent.sequence)
    return {
        "events": [(r["event_type"], r["stream"], r["sequence"], r["occurred_at"],
                    r["created_at"], r["body"].replace(r["event_id"], "ID")) for r in rows],
        "deliveries": sorted(
            (d["subscriber"], d["stream"], d["sequence"], d["state"], d["attempts"],
             d["next_attempt_at"], d["last_error"], d["created_at"])
            for d in await EventDelivery.select()),
        "streams": sorted((s["stream"], s["last_sequence"])
                          for s in await EventStream.select()),
    }


async def _tried(write) -> tuple[dict[str, list], list[str]]:
    """What `write` leaves in the tables, then rolled back."""
    seen: dict[str, Any] = {}
    with pytest.raises(_Rollback):
        async with db.write_transaction():
            seen["ids"] = await write()
            seen["written"] = await _written()
            raise _Rollback
    return seen["written"], seen["ids"]


@pytest.mark.parametrize(("keys", "earlier"), [
    (["1"], []),
    (["1", "2", "3"], []),
    (["2", "1", "2", "3", "2"], []),  # a subject named more than once, out of order
    (["1", "2"], ["1", "1"]),  # a subject with events already
    ([str(n) for n in range(2_500)], ["7"]),  # more than one chunk
])
async def test_emit_many_writes_what_repeated_emit_writes(database_url, monkeypatch,
                                                         keys, earlier) -> None:
    FrozenClock(monkeypatch, date(2026, 12, 3))
    for name, types, active in (("要结算", ["payout.approved"], True),
                                ("暂停中", ["payout.approved", "payout.paid"], False),
                                ("只要支付", ["payout.paid"], True)):
        await EventSubscriber(name=name, url="http://127.0.0.1:9/", secret="s" * 32,
                              event_types=json.dumps(types), active=active).save()
    async with db.write_transaction():
        for key in earlier:
            await events.emit(events.EventType.payout_approved,
                              events.payee_subject(f"org:{key}", f"机构{key}"), {"earlier": True})
    before = await _written()
    items = [(events.payee_subject(f"org:{key}", f"机构{key}"),
              {"n": n, "说明": "按收款人", "net_fen": -n}) for n, key in enumerate(keys)]

    async def one_by_one() -> list[str]:
        return [await events.emit(events.EventType.payout_approved, subject, data,
                                  occurred_at=MOMENT) for subject, data in items]

    async def at_once() -> list[str]:
        return await events.emit_many(events.EventType.payout_approved, items,
                                      occurred_at=MOMENT)

    expected, _ = await _tried(one_by_one)
    got, ids = await _tried(at_once)
    assert got == expected
    assert len(got["deliveries"]) == 2 * (len(keys) + len(earlier))  # active and paused
    # The ids come back in the order of the items, each event's own.
    assert len(set(ids)) == len(keys)
    assert await _written() == before  # both rolled back whole


async def test_emit_many_returns_each_items_event_id(database_url, monkeypatch) -> None:
    FrozenClock(monkeypatch, date(2026, 12, 3))
    items = [(events.payee_subject(f"cg:{key}", "李明"), {"key": key}) for key in "bab"]
    async with db.write_transaction():
        ids = await events.emit_many(events.EventType.payout_paid, items)
        assert await events.emit_many(events.EventType.payout_paid, []) == []
    rows = {r["event_id"]: json.loads(r["body"]) for r in await DecisionEvent.select()}
    assert [(rows[i]["subject"]["payee_key"], rows[i]["sequence"], rows[i]["data"]["key"])
            for i in ids] == [("cg:b", 1, "b"), ("cg:a", 1, "a"), ("cg:b", 2, "b")]
