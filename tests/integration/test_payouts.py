"""Monthly payouts computed in the database, held to the rules row by row.

Each scenario changes one fact of `december_world` (张秀英, grade 5, entitled from
2026-12-01, a provider with an agreement, a home-care plan), adds a family caregiver and the
visits or stays it needs, computes the month's draft with the set-based SQL, and compares
every line with (a) the figures worked out by hand in the table and (b) the same rules in
plain Python (ltc.payouts.rules with entitlements.rules for active days). Then: adjustments
after a late death report, the maker-checker and database guards, and concurrency.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from support.cases import FrozenClock
from support.payout_cases import (
    ROOT,
    SCENARIOS,
    SUPPORT,
    Scenario,
    _caregiver,
    add_visit,
    approved,
    build,
    computed,
    lines_of,
    reference,
    reviewer,
)

from ltc import clock, db
from ltc.entitlements import service as entitlements
from ltc.errors import Conflict, Forbidden, InvalidInput
from ltc.payouts import rules, service
from ltc.payouts.queries import treated_visits
from ltc.payouts.tables import DepositEntry, PayoutBatch, PayoutLine
from ltc.visits.tables import Visit

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_a_months_lines_follow_the_rules(database_url, monkeypatch, scenario) -> None:
    world = await build(monkeypatch, scenario)
    batch = await computed(monkeypatch, scenario.month, world.staff.clerk)
    lines = await lines_of(batch["id"])
    assert set(lines) == set(scenario.expected)
    by_rules = await reference(world, scenario.month)
    for benefit, figures in scenario.expected.items():
        line = lines[benefit]
        assert {k: line[k] for k in figures} == figures, benefit
        assert {k: line[k] for k in by_rules[benefit]} == by_rules[benefit], benefit
        assert line["net_fen"] == line["gross_fen"] - line["withheld_fen"]
        assert line["days_in_month"] == clock.month_last(scenario.month).day
    assert batch["net_fen"] == sum(line["net_fen"] for line in lines.values())


async def test_each_visit_is_listed_with_its_reason(database_url, monkeypatch) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "visits flagged, rejected and in hospital")
    world = await build(monkeypatch, scenario)
    batch = await computed(monkeypatch, scenario.month, world.staff.clerk)
    line = (await lines_of(batch["id"]))["home_visit"]
    treated = (await treated_visits([line]))[line["id"]]
    assert [(t["on"].day, t["counted"], t["reason"]) for t in treated] == [
        (2, True, ""), (5, False, rules.EXCLUSIONS["flagged"]),
        (9, False, rules.EXCLUSIONS["rejected"]), (21, False, rules.EXCLUSIONS["inactive_day"]),
        (23, True, "")]
    # Reviewing a visit later changes the facts, not what this batch decided.
    await Visit.update({Visit.review: "accepted_after_review"}).where(
        Visit.visit_on == date(2026, 12, 5))
    assert (await treated_visits([line]))[line["id"]] == treated
    explained = " ".join(rules.explain(line, 500))
    for words in ("计费上门2次", "不计费3次", "质量保证金8.00元"):
        assert words in explained


# --- maker-checker, adjustments, guards -------------------------------------------------------

async def test_a_late_death_report_is_an_adjustment_in_the_next_batch(database_url,
                                                                       monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    december = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    december = await approved(december, world.staff.clerk, await reviewer())
    original = (await lines_of(december["id"]))["family_subsidy"]
    assert original["gross_fen"] == 45000
    # On 5 January the insurance system reports a death on 16 December.
    FrozenClock(monkeypatch, date(2027, 1, 5))
    await entitlements.end_for_person(world.staff.clerk, world.case.person_id,
                                      date(2026, 12, 16), "deceased", "event test-1",
                                      clock.today())
    january = await computed(monkeypatch, date(2027, 1, 1), world.staff.clerk)
    lines = await lines_of(january["id"])
    assert set(lines) == {"adjustment:family_subsidy"}  # nothing for January itself
    adjustment = lines["adjustment:family_subsidy"]
    assert adjustment["service_month"] == date(2026, 12, 1)
    assert adjustment["adjusts"] == original["id"]
    assert (adjustment["gross_fen"], adjustment["days"], adjustment["previous_gross_fen"],
            adjustment["previous_days"]) == (23226 - 45000, 16, 45000, 31)
    assert "扣回217.74元" in " ".join(rules.explain(adjustment, 500))
    # The approved December line is untouched, and recomputing January changes nothing.
    assert (await lines_of(december["id"]))["family_subsidy"] == original
    again = await service.compute(january["id"])
    assert (await lines_of(again["id"]))["adjustment:family_subsidy"]["gross_fen"] == -21774


async def test_a_visit_rejected_after_approval_is_taken_back(database_url, monkeypatch) -> None:
    world = await build(monkeypatch, Scenario("three visits", caregiver=None, visits=(
        (2, "accepted"), (5, "accepted"), (9, "accepted"))))
    december = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    december = await approved(december, world.staff.clerk, await reviewer())
    original = (await lines_of(december["id"]))["home_visit"]
    assert (original["visits_counted"], original["net_fen"]) == (3, 22800)
    FrozenClock(monkeypatch, date(2027, 1, 6))
    await Visit.update({Visit.review: "rejected", Visit.reviewed_at: clock.now()}).where(
        Visit.visit_on == date(2026, 12, 5))
    january = await computed(monkeypatch, date(2027, 1, 1), world.staff.clerk)
    adjustment = (await lines_of(january["id"]))["adjustment:home_visit"]
    assert (adjustment["gross_fen"], adjustment["withheld_fen"], adjustment["net_fen"],
            adjustment["visits_counted"], adjustment["previous_visits"],
            adjustment["adjusts"]) == (-8000, -400, -7600, 2, 3, original["id"])


async def test_the_submitter_cannot_approve(database_url, monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    batch = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    batch = await service.submit(world.staff.clerk, batch["id"], batch["version"])
    with pytest.raises(Forbidden) as refused:
        await service.approve(world.staff.clerk, batch["id"], batch["version"])
    assert refused.value.code == "forbidden"  # a clerk is no reviewer at all
    # A reviewer who submitted (an admin's mistake in roles) is refused by the service …
    checker = await reviewer()
    await PayoutBatch.update({PayoutBatch.submitted_by: checker.id}).where(
        PayoutBatch.id == batch["id"])
    with pytest.raises(Forbidden) as refused:
        await service.approve(checker, batch["id"], batch["version"])
    assert refused.value.code == "same_person"
    # … and by the database, whatever the code does.
    with pytest.raises(Exception, match=r"approver|four_eyes|CHECK|constraint"):
        await PayoutBatch.update({PayoutBatch.approved_by: checker.id}).where(
            PayoutBatch.id == batch["id"])
    assert (await PayoutBatch.select().where(PayoutBatch.id == batch["id"]).first())[
        "state"] == "SUBMITTED"


async def test_the_database_allows_one_batch_a_month_and_frozen_lines(database_url,
                                                                       monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    batch = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    with pytest.raises(Conflict) as refused:
        await service.create_batch(world.staff.clerk, "370983", date(2026, 12, 1))
    assert refused.value.code == "batch_exists"
    with pytest.raises(db.UNIQUE_VIOLATIONS):
        await PayoutBatch(number="JSX", region_path="370983", month=date(2026, 12, 1),
                          state="DRAFT", policy_version=batch["policy_version"]).save()
    line = (await lines_of(batch["id"]))["family_subsidy"]
    with pytest.raises(db.UNIQUE_VIOLATIONS):  # a second line for the same payee and benefit
        await PayoutLine.raw(
            "INSERT INTO payout_line (batch, kind, benefit, service_month, payee_key, "
            "payee_name, person, region_path, gross_fen, net_fen, policy_version) "
            "SELECT batch, kind, benefit, service_month, payee_key, payee_name, person, "
            "region_path, 1, 1, policy_version FROM payout_line WHERE id = {}", line["id"])
    with pytest.raises(Exception, match=r"never change|only while"):
        await PayoutLine.update({PayoutLine.gross_fen: 1}).where(PayoutLine.id == line["id"])
    await approved(batch, world.staff.clerk, await reviewer())
    with pytest.raises(Exception, match="only while"):
        await PayoutLine.delete().where(PayoutLine.id == line["id"])
    assert (await lines_of(batch["id"]))["family_subsidy"] == line


async def test_months_go_in_order(database_url, monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    FrozenClock(monkeypatch, date(2027, 2, 3))
    with pytest.raises(Conflict) as refused:
        await service.create_batch(world.staff.clerk, "370983", date(2027, 1, 1))
    assert refused.value.code == "previous_batch_open"
    with pytest.raises(InvalidInput) as refused:
        await service.create_batch(world.staff.clerk, "370983", date(2027, 2, 1))
    assert refused.value.code == "month_not_over"


# --- concurrency ------------------------------------------------------------------------------

async def test_two_reviewers_approving_at_once_make_one_approval(database_url,
                                                                 monkeypatch) -> None:
    world = await build(monkeypatch, SCENARIOS[0])
    batch = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    batch = await service.submit(world.staff.clerk, batch["id"], batch["version"])
    first, second = await reviewer("reviewer1"), await reviewer("reviewer2")
    results = await asyncio.gather(
        service.approve(first, batch["id"], batch["version"]),
        service.approve(second, batch["id"], batch["version"]), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "dict"]
    assert await DepositEntry.count().where(DepositEntry.batch == batch["id"]) == 0  # subsidy only
    row = await PayoutBatch.select().where(PayoutBatch.id == batch["id"]).first()
    assert row["state"] == "APPROVED" and row["approved_by"] in (first.id, second.id)


async def test_two_computations_at_once_give_one_consistent_result(database_url,
                                                                   monkeypatch) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "over-quota visits")
    world = await build(monkeypatch, scenario)
    await _caregiver(world, date(2026, 1, 1), date(2028, 12, 31))
    batch = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    alone = await lines_of(batch["id"])
    results = await asyncio.gather(service.compute(batch["id"]), service.compute(batch["id"]))
    assert all(r is not None for r in results)
    together = await lines_of(batch["id"])
    strip = lambda lines: {k: {c: v for c, v in row.items() if c != "id"}  # noqa: E731
                           for k, row in lines.items()}
    assert strip(together) == strip(alone)
    assert len(rules.treatments(together["home_visit"]["visit_treatments"])) == 6


def hanging_computation(database_url: str, batch_id: int, marker: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SUPPORT / "compute_and_hang.py"),
                             database_url, str(batch_id), str(marker)], cwd=ROOT)


async def test_a_computation_killed_mid_way_leaves_the_previous_draft(database_url, tmp_path,
                                                                      monkeypatch) -> None:
    """A worker killed (kill -9) inside the computation's transaction, after it deleted the
    draft's lines: nothing it did commits, so the draft keeps its previous lines (never half
    of them); the job's next delivery computes it cleanly."""
    world = await build(monkeypatch, SCENARIOS[0])
    batch = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    before = await lines_of(batch["id"])
    await add_visit(world, date(2026, 12, 7))
    marker = tmp_path / "hanging"
    worker = hanging_computation(database_url, batch["id"], marker)
    try:
        for _ in range(600):
            if marker.exists() or worker.poll() is not None:
                break
            await asyncio.sleep(0.05)
        assert marker.exists(), "the computation never reached its hanging point"
    finally:
        worker.kill()
        worker.wait()
    assert worker.returncode == -signal.SIGKILL
    assert await lines_of(batch["id"]) == before
    again = await lines_of((await service.compute(batch["id"]))["id"])
    assert set(again) == {"family_subsidy", "home_visit"}
    assert again["home_visit"]["visits_counted"] == 1


