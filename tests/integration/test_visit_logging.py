"""Logging a visit gives the same answers on SQLite and PostgreSQL (one gathering statement,
engine spellings only): the exact flag reasons with times in civil time and the month's
count, the stored row and its audit event, a clerk's suspension and a death read from the
gathered facts, a revision that does not count or overlap the record it replaces, the
same visit sent twice at once, and another provider's beneficiary on a day without a
plan."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import anyio
import pytest
from conftest import make_user
from support.cases import user_actor
from test_visits import World, at, codes, december_world, log, visit

from ltc.audit.tables import AuditEvent
from ltc.entitlements.tables import Suspension
from ltc.errors import NotFound
from ltc.people.tables import Person
from ltc.visits import logging as visit_logging
from ltc.visits import review as reviews
from ltc.visits.tables import Visit

pytestmark = pytest.mark.anyio


@pytest.fixture
async def world(database_url, monkeypatch) -> World:
    return await december_world(monkeypatch)


async def _logged_event(visit_id: int) -> dict[str, Any]:
    event = await AuditEvent.select().where(
        (AuditEvent.action == "visit.logged") & (AuditEvent.object_id == str(visit_id))).first()
    return json.loads(event["summary"])


async def test_an_overlap_is_answered_stored_and_audited_in_civil_time(world) -> None:
    first = await log(world.nurse, visit(world))
    second = await log(world.nurse, visit(world, started_at=at(14, 9, 30),
                                          ended_at=at(14, 10, 15)))
    message = (f"王丽在同一时间还有其他服务记录：2026-12-14 09:00–09:45（记录 {first['id']}）。"
               "同一人不能同时在两处服务，请核实")
    assert second["flags"] == [{"code": "overlap", "message": message}]
    assert (second["review"], second["review_label"]) == ("flagged", "待审核")
    assert second["id"] == first["id"] + 1 and second["revision_of"] is None
    row = await Visit.select().where(Visit.id == second["id"]).first()
    assert json.loads(row["flags"]) == second["flags"] and row["review"] == "flagged"
    assert json.loads(row["response"]) == second
    assert row["visit_on"] == date(2026, 12, 14) and row["started_at"] == at(14, 9, 30)
    assert await _logged_event(second["id"]) == {
        "after": {"person": world.case.person_id, "staff": world.nurse.id,
                  "visit_on": "2026-12-14", "review": "flagged", "flags": ["overlap"],
                  "revision_of": None},
        "note": "待审核：服务时间重叠"}
    assert (await _logged_event(first["id"]))["note"] == "无异常，自动通过"


async def test_the_months_quota_counts_neither_a_replaced_record_nor_itself(world) -> None:
    logged = [await log(world.nurse, visit(world, started_at=at(day, 9), ended_at=at(day, 10)))
              for day in (1, 2, 3, 4)]
    # Logged on the 15th, more than 48 hours after they ended: 补录, and still counted.
    assert [codes(a) for a in logged] == [["late_entry"]] * 4
    # Correcting the fourth: it neither overlaps nor counts the record it replaces (and is
    # as late as the record it corrects).
    revised = await reviews.revise_visit(world.nurse, logged[-1]["id"], "other", "补充备注",
                                         notes="家属在场")
    assert codes(revised) == ["late_entry"] and revised["revision_of"] == logged[-1]["id"]
    fifth = await log(world.nurse, visit(world))
    assert fifth["flags"] == [{"code": "over_quota", "message": (
        "2026年12月已有 4 次有效或待审核的上门服务，已达每月 4 次的限额，本次超出")}]


async def test_a_clerks_open_suspension_and_a_death_make_days_inactive(world) -> None:
    await Suspension(entitlement=world.entitlement_id, reason="外出", starts_on=date(2026, 12, 10),
                     created_by=world.staff.clerk.id).save()
    assert codes(await log(world.nurse, visit(world, started_at=at(9, 9),
                                              ended_at=at(9, 10)))) == ["late_entry"]
    suspended = await log(world.nurse, visit(world))
    assert suspended["flags"] == [{"code": "inactive_day",
                                   "message": "待遇资格在 2026-12-14 处于暂停状态"}]
    await Person.update({Person.deceased_on: date(2026, 12, 11)}).where(
        Person.id == world.case.person_id)
    after_death = await log(world.nurse, visit(world, started_at=at(13, 9), ended_at=at(13, 10)))
    assert after_death["flags"][0] == {"code": "inactive_day",
                                       "message": "受益人已于 2026-12-11 死亡，待遇已终止"}


async def test_the_same_visit_sent_twice_at_once_is_recorded_once(world) -> None:
    values = visit(world)
    answers: list[tuple[dict[str, Any], bool]] = []

    async def send() -> None:
        answers.append(await visit_logging.log_visit(world.nurse, **values))

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(send)
    assert sorted(replayed for _, replayed in answers) == [False, True, True]
    assert all(answer == answers[0][0] for answer, _ in answers)
    assert await Visit.count() == 1
    assert await AuditEvent.count().where(AuditEvent.action == "visit.logged") == 1


async def test_another_providers_beneficiary_is_not_found_on_any_day(world) -> None:
    other = await user_actor((await make_user("provider", username="other",
                                              organisation="T-P2"))["id"])
    for day in (14, 1):  # a day the plan covers; and before it (no plan in force)
        with pytest.raises(NotFound) as refused:
            await visit_logging.log_visit(other, **visit(world, staff_id=None, started_at=at(
                day, 9), ended_at=at(day, 10)))
        assert refused.value.code == "beneficiary_not_found"
        assert refused.value.message == (
            f"没有找到受益人 {world.case.person_id}，或其不是本机构的服务对象"
            "（以护理计划中的服务机构为准）")
    # This provider may log on a day its plan does not cover yet (flagged, not refused).
    early = await log(world.nurse, visit(world, started_at=at(1, 9).replace(month=11, day=30),
                                         ended_at=at(1, 10).replace(month=11, day=30)))
    assert codes(early) == ["inactive_day", "outside_plan", "late_entry"]
    assert await Visit.count() == 1
