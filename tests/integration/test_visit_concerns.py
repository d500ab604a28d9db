"""A concern raised after logging (ltc.visits.review.raise_concern): the family disputes a
visit or a return-visit call denies it. The visit goes back to the reviewer, stops counting
as done, survives the provider's correction, and a paid month is taken back next batch."""

from __future__ import annotations

from datetime import date

import pytest
from support.cases import FrozenClock
from test_visit_confirmation import clocked  # noqa: F401  (fixture)
from test_visits import at, log, visit

from ltc.audit.tables import AuditEvent
from ltc.identity import SYSTEM
from ltc.visits import queries
from ltc.visits import review as reviews
from ltc.visits.rules import FlagCode
from ltc.visits.tables import Visit

pytestmark = pytest.mark.anyio


async def _row(visit_id: int) -> dict:
    return await Visit.select().where(Visit.id == visit_id).first()


async def test_a_dispute_sends_an_accepted_visit_back_to_review(clocked) -> None:  # noqa: F811
    world, _ = clocked
    accepted = await log(world.nurse, visit(world))
    assert accepted["review"] == "accepted"
    answer = await reviews.raise_concern(SYSTEM, accepted["id"], FlagCode.family_dispute,
                                         "  当天没有人来  ")
    assert answer == {"visit_id": accepted["id"], "changed": True}
    row = await _row(accepted["id"])
    assert row["review"] == "flagged" and row["reviewed_at"] is not None
    assert '"family_dispute"' in row["flags"] and "当天没有人来" in row["flags"]
    [due] = await queries.due_visits(world.nurse, at(14, 9).date())
    assert (due["done"], due["pending"]) == (0, 1)
    assert [v["id"] for v in await queries.review_queue(world.staff.reviewer)] == [
        accepted["id"]]
    event = await AuditEvent.select().where(
        AuditEvent.action == "visit.concern_raised").first()
    assert "家属异议：当天没有人来" in event["summary"]
    # The same words twice add no second flag; a rejected visit is left as it is.
    await reviews.raise_concern(SYSTEM, accepted["id"], FlagCode.family_dispute, "当天没有人来")
    assert (await _row(accepted["id"]))["flags"].count("family_dispute") == 1
    await reviews.review(world.staff.reviewer, accepted["id"], "reject", "家属否认")
    again = await reviews.raise_concern(SYSTEM, accepted["id"], FlagCode.return_visit_denied,
                                        "回访否认")
    assert again["changed"] is False and (await _row(accepted["id"]))["review"] == "rejected"


async def test_only_concerns_raised_later_can_be_raised(clocked) -> None:  # noqa: F811
    world, _ = clocked
    accepted = await log(world.nurse, visit(world))
    with pytest.raises(ValueError):
        await reviews.raise_concern(SYSTEM, accepted["id"], FlagCode.too_short, "x")


async def test_a_correction_by_the_provider_keeps_the_concern(clocked) -> None:  # noqa: F811
    world, _ = clocked
    accepted = await log(world.nurse, visit(world))
    await reviews.raise_concern(SYSTEM, accepted["id"], FlagCode.return_visit_denied,
                                "电话回访：家属称未上门")
    revised = await reviews.revise_visit(world.nurse, accepted["id"], "other", "补充备注",
                                         notes="已上门，家属记错日期")
    assert revised["review"] == "flagged"
    assert [f["code"] for f in revised["flags"]] == ["return_visit_denied"]


async def test_a_concern_about_a_corrected_visit_reaches_its_correction(clocked) -> None:  # noqa: F811
    """A return-visit call drawn before the provider corrected the visit still reaches the
    record that stands (and would be paid) in its place."""
    world, _ = clocked
    accepted = await log(world.nurse, visit(world))
    revised = await reviews.revise_visit(world.nurse, accepted["id"], "other", "补充备注",
                                         notes="补充说明")
    assert revised["review"] == "accepted"
    answer = await reviews.raise_concern(SYSTEM, accepted["id"], FlagCode.return_visit_denied,
                                         "电话回访：家属称未上门")
    assert answer == {"visit_id": revised["id"], "changed": True}
    assert (await _row(revised["id"]))["review"] == "flagged"
    assert (await _row(accepted["id"]))["review"] == "accepted"  # superseded, stays as logged


async def test_a_denied_visit_of_a_paid_month_is_taken_back_next_batch(
        database_url, monkeypatch) -> None:
    from support.payout_cases import Scenario, approved, build, computed, lines_of, reviewer

    world = await build(monkeypatch, Scenario("three visits", caregiver=None, visits=(
        (2, "accepted"), (5, "accepted"), (9, "accepted"))))
    december = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    december = await approved(december, world.staff.clerk, await reviewer())
    original = (await lines_of(december["id"]))["home_visit"]
    FrozenClock(monkeypatch, date(2027, 1, 6))
    denied = await Visit.select(Visit.id).where(Visit.visit_on == date(2026, 12, 5)).first()
    await reviews.raise_concern(SYSTEM, denied["id"], FlagCode.return_visit_denied,
                                "电话回访：当天未上门")
    january = await computed(monkeypatch, date(2027, 1, 1), world.staff.clerk)
    adjustment = (await lines_of(january["id"]))["adjustment:home_visit"]
    assert (adjustment["visits_counted"], adjustment["previous_visits"],
            adjustment["adjusts"]) == (2, 3, original["id"])
    assert adjustment["gross_fen"] < 0
