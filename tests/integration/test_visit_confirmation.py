"""The family's confirmation of a visit (issue 15 item 6): the care-plan letter with the
household PIN, issued by the worker and re-issued by a clerk; a visit confirmed by the PIN
or a drawn signature, through the service, the phone form and the API; wrong PINs counted
and locked for the day. And the reviewer's side (item 7): decided visits stay listed, a
reviewer opens any visit of the region and overturns an accepted one; progress counts
accepted visits only."""

from __future__ import annotations

import asyncio
import base64
import re
import subprocess
import uuid
from datetime import date

import pytest
from conftest import csrf_token, sign_in
from support.cases import FrozenClock, entitled_case, make_staff
from test_visits import PIN, TODAY, World, at, care_world, log, visit

from ltc import db, documents
from ltc.audit.tables import AuditEvent
from ltc.careplans import letters
from ltc.careplans.rules import check_pin
from ltc.careplans.tables import CarePlanLetter
from ltc.errors import Conflict, InvalidInput
from ltc.jobs.tables import OutboxMessage
from ltc.visits import confirmation, queries, rules
from ltc.visits import logging as visit_logging
from ltc.visits import review as reviews
from ltc.visits.tables import PinAttempt, Visit

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)  # what signature_problem accepts


@pytest.fixture
async def clocked(database_url, monkeypatch) -> tuple[World, FrozenClock]:
    frozen = FrozenClock(monkeypatch, date(2026, 11, 20))
    staff = await make_staff(assessors=2)
    case, entitlement_id = await entitled_case(staff, decided_on=date(2026, 11, 28))
    frozen.set(TODAY)
    world = await care_world(staff, case, entitlement_id, plan_from=date(2026, 12, 1),
                             agreements=(date(2026, 1, 1), date(2027, 12, 31)))
    return world, frozen


@pytest.fixture
def media(monkeypatch, tmp_path):
    monkeypatch.setenv("LTC_MEDIA_DIR", str(tmp_path / "media"))
    return tmp_path / "media"


async def _refused(world: World, **changes) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        await visit_logging.log_visit(world.nurse, **visit(world, **changes))
    return refused.value


# --- the PIN on the service ------------------------------------------------------------------

async def test_the_household_pin_confirms_a_visit_and_is_never_stored(clocked) -> None:
    world, _ = clocked
    answer = await log(world.nurse, visit(world))
    row = await Visit.select().where(Visit.id == answer["id"]).first()
    assert answer["review"] == "accepted"
    assert row["confirmation_code"] == "PIN" and PIN not in str(row)
    assert await PinAttempt.count().where(PinAttempt.correct == True) == 1  # noqa: E712


# (what, changes, the refusal's code, words of its message)
REFUSALS = [
    ("neither", {"confirmation_code": ""}, "invalid_visit", "护理计划告知书"),
    ("not six digits", {"confirmation_code": "4821"}, "invalid_visit", "6位数字"),
    ("wrong", {"confirmation_code": "000000"}, "wrong_pin", "还可再试4次"),
]


@pytest.mark.parametrize(("changes", "code", "words"), [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
async def test_no_or_a_wrong_confirmation_is_refused(clocked, changes, code, words) -> None:
    world, _ = clocked
    refused = await _refused(world, **changes)
    assert refused.code == code and words in refused.fields["confirmation_code"]
    assert await Visit.count() == 0


async def test_five_wrong_pins_lock_the_day_and_a_signature_still_works(
        clocked, media) -> None:
    world, frozen = clocked
    for left in (4, 3, 2, 1):
        refused = await _refused(world, confirmation_code="111111", items=["B01", "ZZ9"])
        assert refused.code == "wrong_pin"
        assert f"还可再试{left}次" in refused.fields["confirmation_code"]
        assert "ZZ9" in refused.fields["items"]  # every other problem too
    fifth = await _refused(world, confirmation_code="111111")
    assert fifth.code == "pin_locked" and "锁定至明天0时" in fifth.fields["confirmation_code"]
    # Locked: even the right PIN is not checked today.
    locked = await _refused(world)
    assert locked.code == "pin_locked" and "签名" in locked.message
    assert await PinAttempt.count() == 5
    assert await AuditEvent.count().where(AuditEvent.action == "visit.pin_wrong") == 5
    signed = await log(world.nurse, visit(world, confirmation_code="", signature_png=PNG))
    assert signed["review"] == "accepted"
    frozen.advance(days=1)  # the next day the PIN works again
    assert (await log(world.nurse, visit(world, started_at=at(15, 9),
                                         ended_at=at(15, 9, 45))))["review"] == "accepted"


async def test_parallel_wrong_pins_never_pass_the_daily_limit(clocked) -> None:
    """Tries sent at once (two phones, a script) are still counted against the limit."""
    world, _ = clocked
    answers = await asyncio.gather(*(confirmation.check(
        world.nurse, world.case.person_id, "111111") for _ in range(12)))
    checked = await AuditEvent.count().where(AuditEvent.action == "visit.pin_wrong")
    assert checked == await PinAttempt.count() <= rules.MAX_WRONG_PINS
    assert {a[0] for a in answers} <= {"wrong_pin", "pin_locked"}
    assert sum(a[0] == "pin_locked" for a in answers) >= 12 - rules.MAX_WRONG_PINS


async def test_a_provider_suspended_or_no_longer_serving_cannot_try_the_pin(clocked) -> None:
    """Trying the PIN would only burn the family's tries: it is not checked at all."""
    from ltc.careplans.tables import CarePlan
    from ltc.errors import Forbidden
    from ltc.identity import SYSTEM
    from ltc.organisations import interface as organisations
    from ltc.organisations import service as organisations_service

    world, _ = clocked
    # The provider's plan not in force today (it starts next year): no PIN for it.
    await CarePlan.update({CarePlan.starts_on: date(2027, 1, 1)}).where(
        CarePlan.id == world.plan_id)
    refused = await _refused(world, confirmation_code="000000")
    assert refused.code == "pin_not_in_force" and "签名" in refused.fields["confirmation_code"]
    await CarePlan.update({CarePlan.starts_on: date(2026, 12, 1)}).where(
        CarePlan.id == world.plan_id)
    provider = await organisations.by_code("T-P")
    row = await organisations_service.get(SYSTEM, provider.id)
    await organisations_service.set_status(SYSTEM, provider.id, row["version"], "suspended",
                                           "整改", date(2026, 12, 15))
    with pytest.raises(Forbidden) as suspended:
        await visit_logging.log_visit(world.nurse, **visit(world, confirmation_code="000000"))
    assert suspended.value.code == "provider_not_active"
    assert await PinAttempt.count() == 0


async def test_another_providers_staff_cannot_try_the_pin(clocked) -> None:
    from conftest import make_user
    from support.cases import user_actor

    world, _ = clocked
    other = await user_actor((await make_user("provider", username="other",
                                              organisation="T-P2"))["id"])
    with pytest.raises(Exception) as refused:
        await visit_logging.log_visit(other, **visit(world, staff_id=None,
                                                     confirmation_code="000000"))
    assert getattr(refused.value, "code", "") == "beneficiary_not_found"
    assert await PinAttempt.count() == 0


# (the corrections: what each changes and how many hours after the visit was first logged
#  it is made; whether the last record is 补录). New times or items also need the family's
#  confirmation afresh.
CHAIN = [
    ("notes, then notes", [("notes", 60), ("notes", 120)], False),
    ("notes, then new times", [("notes", 60), ("times", 120)], True),
    ("new items at once", [("items", 1)], False),
    ("new items late, then notes", [("items", 60), ("notes", 61)], True),
]


@pytest.mark.parametrize(("steps", "late"), [c[1:] for c in CHAIN], ids=[c[0] for c in CHAIN])
async def test_a_correction_chain_keeps_the_first_logging_time_unless_the_service_changed(
        clocked, steps, late) -> None:
    world, frozen = clocked
    answer = await log(world.nurse, visit(world))  # logged in time, on the visit's day
    assert "late_entry" not in [f["code"] for f in answer["flags"]]
    changes = {"notes": {"notes": "家属在场"},
               "times": {"started_at": at(14, 9, 5), "ended_at": at(14, 9, 50)},
               "items": {"items": ["B01", "B04", "B08", "B09", "B10", "B11", "B14", "B17",
                                   "B20", "B21"]}}  # 洗发 left out
    hours_before = 0
    for kind, hours in steps:
        frozen.advance(hours=hours - hours_before)
        hours_before = hours
        if kind != "notes":
            with pytest.raises(InvalidInput) as refused:
                await reviews.revise_visit(world.nurse, answer["id"], "other", "更正",
                                           **changes[kind])
            assert "confirmation_code" in refused.value.fields
        answer = await reviews.revise_visit(
            world.nurse, answer["id"], "other", "更正", **changes[kind],
            **({"confirmation_code": PIN} if kind != "notes" else {}))
    assert ("late_entry" in [f["code"] for f in answer["flags"]]) is late


# --- the letter ------------------------------------------------------------------------------

def _pdf_text(sha256: str, media_dir) -> str:
    path = documents.path_for(sha256, media_dir)
    result = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True,
                            timeout=60)
    return "".join(result.stdout.decode().split())


async def test_a_reissued_letter_carries_a_new_pin_and_the_old_one_stops(clocked, media) -> None:
    world, _ = clocked
    with pytest.raises(InvalidInput) as refused:
        await letters.reissue(world.staff.clerk, world.plan_id, "")
    assert "原因" in refused.value.fields["reason"]
    letter_id = await letters.reissue(world.staff.clerk, world.plan_id, "家属遗失告知书")
    assert await OutboxMessage.count().where(
        OutboxMessage.actor_name == letters.LETTER_JOB) == 1
    # The old PIN stops at once: until the worker has issued the new one, the family signs.
    pending = await _refused(world)
    assert pending.code == "no_pin_issued"
    assert (await log(world.nurse, visit(world, confirmation_code="", signature_png=PNG))
            )["review"] == "accepted"
    sha256 = await letters.issue(letter_id)
    assert await letters.issue(letter_id) == sha256  # a job delivered twice issues once
    text = _pdf_text(sha256, media)
    for words in ("护理计划告知书", "张秀英", "新城街道社区卫生服务中心", "每月上门4次",
                  "家庭确认码", "口腔清洁", "签名", "投诉"):
        assert words in text, words
    pin = re.search(r"家庭确认码(\d{6})", text).group(1)
    row = await CarePlanLetter.select().where(CarePlanLetter.id == letter_id).first()
    assert row["issue_no"] == 2 and check_pin(pin, row["pin_hash"]) and pin not in str(row)
    assert await AuditEvent.count().where(AuditEvent.action.is_in(
        ["care_plan.pin_reissued", "care_plan.letter_issued"])) == 2
    if pin != PIN:
        old = await _refused(world, started_at=at(13, 9), ended_at=at(13, 9, 45))
        assert old.code == "wrong_pin"
    assert (await log(world.nurse, visit(world, confirmation_code=pin, started_at=at(14, 11),
                                         ended_at=at(14, 11, 45))))["review"] == "accepted"


async def test_letters_requested_at_once_never_share_a_number(clocked) -> None:
    world, _ = clocked
    answers = await asyncio.gather(*(letters.reissue(
        world.staff.clerk, world.plan_id, "家属遗失告知书") for _ in range(3)),
        return_exceptions=True)
    assert all(isinstance(a, int) or getattr(a, "code", "") == "letter_conflict"
               for a in answers), answers
    numbers = [r["issue_no"] for r in await CarePlanLetter.select(CarePlanLetter.issue_no)]
    assert sorted(numbers) == list(range(1, len(numbers) + 1))
    row = await CarePlanLetter.select().first()
    with pytest.raises(db.UNIQUE_VIOLATIONS):  # the database itself refuses a second number
        await CarePlanLetter(**{k: v for k, v in row.items() if k != "id"}).save()


async def test_the_care_plan_page_offers_the_letter(client, clocked, media) -> None:
    world, _ = clocked
    await sign_in(client, "clerk")
    page = await client.get(f"/care-plans/{world.plan_id}")
    assert "护理计划告知书" in page.text and "重新出具告知书" in page.text
    letter_id = await letters.reissue(world.staff.clerk, world.plan_id, "家属遗失告知书")
    await letters.issue(letter_id)  # stored under this test's media directory
    page = await client.get(f"/care-plans/{world.plan_id}")
    letter = {"id": letter_id}
    url = f"/care-plans/{world.plan_id}/letters/{letter['id']}/letter.pdf"
    assert url in page.text
    assert (await client.get(url)).content.startswith(b"%PDF")
    answer = await client.post(f"/care-plans/{world.plan_id}/letters", data={
        "_csrf_token": await csrf_token(client, f"/care-plans/{world.plan_id}"),
        "letter_reason": ""})
    assert answer.status_code == 422 and "请填写原因" in answer.text
    # The provider learns only that the family has its letter: never the PIN on it.
    await sign_in(client, "nurse")
    shown = await client.get(f"/care-plans/{world.plan_id}")
    assert "护理计划告知书" in shown.text and "重新出具告知书" not in shown.text
    assert "已出具（" in shown.text and ".pdf" not in shown.text
    pdf = await client.get(url)
    assert pdf.status_code == 403 and b"%PDF" not in pdf.content


# --- the phone form and the API --------------------------------------------------------------

def _form(world: World, **changes) -> dict:
    values = {"client_uuid": str(uuid.uuid4()), "person_id": str(world.case.person_id),
              "started_at": "2026-12-14T09:00", "ended_at": "2026-12-14T09:45",
              "family_confirmed_by": "李明", "confirmation_code": "", "signature_png": "",
              "items": ["B01", "B04", "B08", "B09", "B10", "B11", "B14", "B17", "B20", "B21"]}
    return {**values, **changes}


async def test_the_form_logs_with_a_pin_a_signature_and_refuses_neither(
        client, clocked, media) -> None:
    world, _ = clocked
    await sign_in(client, "nurse")
    form = await client.get(f"/visits/new?person={world.case.person_id}")
    assert "data-signature-pad" in form.text and "《护理计划告知书》" in form.text
    assert "上传" not in form.text
    token = await csrf_token(client, f"/visits/new?person={world.case.person_id}")
    neither = await client.post("/visits", data={"_csrf_token": token, **_form(world)})
    assert neither.status_code == 422
    assert "请由家属在手机上签名，或填写家属的6位家庭确认码" in neither.text
    wrong = await client.post("/visits", data={"_csrf_token": token, **_form(
        world, confirmation_code="123123")})
    assert wrong.status_code == 422 and "家庭确认码不正确" in wrong.text
    with_pin = await client.post("/visits", data={"_csrf_token": token, **_form(
        world, confirmation_code=PIN)}, follow_redirects=False)
    assert with_pin.status_code in (302, 303)
    signed = await client.post("/visits", data={"_csrf_token": token, **_form(
        world, started_at="2026-12-14T11:00", ended_at="2026-12-14T11:45",
        signature_png=base64.b64encode(PNG).decode())}, follow_redirects=False)
    assert signed.status_code in (302, 303)
    shown = await client.get(signed.headers["location"])
    assert "家属已签名" in shown.text
    assert await Visit.count() == 2


async def test_wrong_pins_lock_through_the_form(client, clocked) -> None:
    world, _ = clocked
    await sign_in(client, "nurse")
    token = await csrf_token(client, f"/visits/new?person={world.case.person_id}")
    for _ in range(5):
        answer = await client.post("/visits", data={"_csrf_token": token, **_form(
            world, confirmation_code="999999")})
        assert answer.status_code == 422
    assert "已输错5次，已锁定至明天0时" in answer.text
    assert 'value="999999"' not in answer.text  # the typed PIN is never shown back
    again = await client.post("/visits", data={"_csrf_token": token, **_form(
        world, confirmation_code=PIN)})
    assert again.status_code == 422 and "锁定至明天0时" in again.text
    assert await Visit.count() == 0


async def test_the_api_names_a_wrong_pin(client, clocked) -> None:
    from test_visit_api import URL, _body, _token

    world, _ = clocked
    headers = await _token()
    answer = await client.post(URL, json=_body(world, confirmation_code="000000"),
                               headers=headers)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "wrong_pin" and "confirmation_code" in error["fields"]
    signed = await client.post(URL, json=_body(
        world, confirmation_code=None, signature_png=base64.b64encode(PNG).decode()),
        headers=headers)
    assert signed.status_code == 201, signed.text


# --- progress and the reviewer ---------------------------------------------------------------

async def test_progress_counts_accepted_visits_and_shows_pending_apart(client, clocked) -> None:
    world, _ = clocked
    await log(world.nurse, visit(world))
    flagged = await log(world.nurse, visit(world, started_at=at(14, 11),
                                           ended_at=at(14, 11, 10)))  # too short
    assert flagged["review"] == "flagged"
    [due] = await queries.due_visits(world.nurse, TODAY)
    assert (due["done"], due["pending"]) == (1, 1)
    await sign_in(client, "nurse")
    listing = await client.get("/visits")
    assert "已完成 1 次" in listing.text and "另有 1 次待审核" in listing.text
    await reviews.review(world.staff.reviewer, flagged["id"], "accept", "核实无误")
    [due] = await queries.due_visits(world.nurse, TODAY)
    assert (due["done"], due["pending"]) == (2, 0)


async def test_a_reviewer_reads_decided_visits_and_overturns_an_accepted_one(
        client, clocked) -> None:
    world, _ = clocked
    accepted = await log(world.nurse, visit(world))
    flagged = await log(world.nurse, visit(world, started_at=at(14, 11),
                                           ended_at=at(14, 11, 10)))
    await reviews.review(world.staff.reviewer, flagged["id"], "reject", "时长不足")
    reviewer = world.staff.reviewer
    assert [v["id"] for v in await queries.review_queue(reviewer, status="accepted")] == [
        accepted["id"]]
    assert [v["id"] for v in await queries.review_queue(reviewer, status="rejected")] == [
        flagged["id"]]
    assert await queries.review_queue(reviewer) == []
    with pytest.raises(InvalidInput):
        await reviews.overturn(reviewer, accepted["id"], "  ")
    with pytest.raises(Conflict) as refused:
        await reviews.overturn(reviewer, flagged["id"], "抽查未上门")
    assert refused.value.code == "not_accepted"
    await sign_in(client, "reviewer")
    page = await client.get(f"/visits/{accepted['id']}")
    assert page.status_code == 200 and "撤销通过" in page.text and "更正这条记录" not in page.text
    rejected_list = await client.get("/visit-review?status=rejected&q=张秀英")
    assert "时长不足" in rejected_list.text
    csv = await client.get("/visit-review/export.csv?status=rejected")
    assert "时长不足" in csv.text
    token = await csrf_token(client, f"/visit-review/{accepted['id']}")
    empty = await client.post(f"/visit-review/{accepted['id']}/overturn",
                              data={"_csrf_token": token, "reason": ""})
    assert empty.status_code == 422 and "撤销通过的理由" in empty.text
    done = await client.post(f"/visit-review/{accepted['id']}/overturn",
                             data={"_csrf_token": token, "reason": "抽查回访：当天未上门"},
                             follow_redirects=False)
    assert done.status_code in (302, 303)
    row = await Visit.select().where(Visit.id == accepted["id"]).first()
    assert (row["review"], row["review_reason"]) == ("rejected", "抽查回访：当天未上门")
    event = await AuditEvent.select().where(AuditEvent.action == "visit.overturned").first()
    assert event is not None
    shown = await client.get(f"/visit-review/{accepted['id']}")
    assert "撤销服务记录的通过结论" in shown.text


async def test_an_overturned_visit_of_a_paid_month_is_taken_back_next_batch(
        database_url, monkeypatch) -> None:
    """ltc.payouts handles any visit reviewed after its month was paid: a reviewer's
    overturn through the service sets `reviewed_at`, so the next batch adjusts."""
    from support.payout_cases import Scenario, approved, build, computed, lines_of, reviewer

    world = await build(monkeypatch, Scenario("three visits", caregiver=None, visits=(
        (2, "accepted"), (5, "accepted"), (9, "accepted"))))
    december = await computed(monkeypatch, date(2026, 12, 1), world.staff.clerk)
    december = await approved(december, world.staff.clerk, await reviewer())
    original = (await lines_of(december["id"]))["home_visit"]
    assert original["visits_counted"] == 3
    FrozenClock(monkeypatch, date(2027, 1, 6))
    spot_checked = await Visit.select(Visit.id).where(Visit.visit_on == date(2026, 12, 5)).first()
    await reviews.overturn(world.staff.reviewer, spot_checked["id"], "抽查回访：当天未上门")
    january = await computed(monkeypatch, date(2027, 1, 1), world.staff.clerk)
    adjustment = (await lines_of(january["id"]))["adjustment:home_visit"]
    assert (adjustment["gross_fen"], adjustment["visits_counted"], adjustment["previous_visits"],
            adjustment["adjusts"]) == (-8000, 2, 3, original["id"])
