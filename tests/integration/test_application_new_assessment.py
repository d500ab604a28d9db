"""Requests for a new assessment (申请重新评估) and the validity of conclusions (issue 12, SPEC
§12): refused before six months since the last conclusion, otherwise a SUBMITTED application
that goes through the normal flow; each person's valid-until date and the clerks' list of
expiring and expired conclusions."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import make_user, sign_in
from support.cases import (
    MATERIALS,
    OTHER_TOWN_VILLAGE,
    Case,
    FrozenClock,
    Staff,
    entitled_case,
    make_staff,
    register,
    user_actor,
)

from ltc.applications import service as applications
from ltc.applications.new_assessment import request_new_assessment
from ltc.applications.tables import Application
from ltc.assessments import assignment
from ltc.assessments.rules import Validity
from ltc.assessments.validity import conclusions_to_renew, validity_of
from ltc.audit.tables import AuditEvent
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound

pytestmark = pytest.mark.anyio

CONCLUDED_ON = date(2026, 8, 31)
TOO_EARLY = date(2027, 2, 27)  # the day before six months have passed
ALLOWED_FROM = date(2027, 2, 28)  # 2026-08-31 + 6 months: no 31 February, the month's end
VALID_UNTIL = date(2028, 8, 30)  # 24 months for grade 5
REQUEST = {"applicant_name": "李明", "applicant_relation": "子女",
           "applicant_phone": "13900000000", "reason": "近两月卧床，不能自行进食",
           "materials": MATERIALS}


@pytest.fixture
async def concluded(database_url, monkeypatch) -> tuple[FrozenClock, Staff, Case]:
    """张秀英, grade 5, concluded on 31 August 2026 and decided (entitled) on 10 September."""
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=4)
    case, _ = await entitled_case(staff, decided_on=date(2026, 9, 10), name="张秀英")
    return clock, staff, case


async def applications_of(person_id: int) -> list[dict]:
    return await Application.select().where(Application.person == person_id).order_by(
        Application.id)


async def test_refused_until_six_months_then_the_normal_flow(concluded) -> None:
    clock, staff, case = concluded
    clock.set(TOO_EARLY)
    with pytest.raises(Conflict) as refused:
        await request_new_assessment(staff.clerk, person_id=case.person_id, **REQUEST)
    assert refused.value.code == "new_assessment_too_early"
    assert "2027-02-28起方可申请重新评估" in refused.value.message
    assert len(await applications_of(case.person_id)) == 1

    clock.set(ALLOWED_FROM)
    requested = await request_new_assessment(staff.clerk, person_id=case.person_id, **REQUEST)
    assert (requested["state"], requested["origin"]) == ("SUBMITTED", "requested")
    assert requested["origin_reason"] == REQUEST["reason"]
    assert requested["materials"] == MATERIALS
    again = await request_new_assessment(staff.clerk, person_id=case.person_id, **REQUEST)
    assert again["id"] == requested["id"]  # sent twice: one application
    assert len(await applications_of(case.person_id)) == 2
    events = await AuditEvent.select(AuditEvent.action, AuditEvent.object_id).where(
        AuditEvent.action.like("%new_assessment_requested"))
    assert sorted((e["action"], e["object_id"]) for e in events) == [
        ("application.new_assessment_requested", str(requested["id"])),
        ("person.new_assessment_requested", str(case.person_id))]

    # The normal flow: acceptance checks every refusal ground again, then the draw.
    accepted = await applications.accept_application(staff.clerk, requested["id"],
                                                     requested["version"])
    assert accepted["state"] == "ACCEPTED"
    assessment = await assignment.assign_assessors(staff.clerk, accepted["id"],
                                                   accepted["version"])
    assert assessment["application"] == requested["id"]
    # The previous conclusion stays valid meanwhile.
    validity = await validity_of(case.person_id, ALLOWED_FROM)
    assert (validity.assessment_id, validity.valid_until) == (case.assessment_id, VALID_UNTIL)


async def test_refusals_say_why_and_change_nothing(concluded) -> None:
    clock, staff, case = concluded
    clock.set(ALLOWED_FROM)
    stranger = await register(staff, name="王淑珍")
    with pytest.raises(Conflict) as never_assessed:
        await request_new_assessment(staff.clerk, person_id=stranger["id"], **REQUEST)
    assert never_assessed.value.code == "no_previous_conclusion"

    with pytest.raises(InvalidInput) as bad:
        await request_new_assessment(
            staff.clerk, person_id=case.person_id, applicant_name=" ",
            applicant_relation="邻居", applicant_phone="123", reason="",
            materials=["no_such_material"])
    assert bad.value.code == "invalid_request"
    assert set(bad.value.fields) == {"applicant_name", "applicant_relation",
                                     "applicant_phone", "reason", "materials"}  # all at once

    provider = await user_actor((await make_user("provider", username="provider"))["id"])
    with pytest.raises(Forbidden):
        await request_new_assessment(provider, person_id=case.person_id, **REQUEST)
    other_town = await user_actor((await make_user(
        "clerk", username="town_clerk", region=OTHER_TOWN_VILLAGE[:9]))["id"])
    with pytest.raises(NotFound):
        await request_new_assessment(other_town, person_id=case.person_id, **REQUEST)

    draft = await applications.create_application(
        staff.clerk, person_id=case.person_id, applicant_name="李明",
        applicant_relation="子女", applicant_phone="13900000000",
        disabled_since=date(2025, 1, 1), materials=MATERIALS)
    with pytest.raises(Conflict) as open_case:
        await request_new_assessment(staff.clerk, person_id=case.person_id, **REQUEST)
    assert open_case.value.code == "application_open" and draft["number"] in open_case.value.message
    assert [a["origin"] for a in await applications_of(case.person_id)] == ["applicant"] * 2


@pytest.mark.parametrize(("today", "listed"), [
    (date(2028, 6, 30), None),  # 61 days left: valid, not listed
    (date(2028, 7, 1), Validity.EXPIRING),  # 60 days left
    (VALID_UNTIL, Validity.EXPIRING),  # its last day
    (date(2028, 8, 31), Validity.EXPIRED),
])
async def test_the_list_of_expiring_conclusions(concluded, today, listed) -> None:
    clock, staff, case = concluded
    clock.set(today)
    validity = await validity_of(case.person_id, today)
    assert (validity.concluded_on, validity.months, validity.valid_until) == (
        CONCLUDED_ON, 24, VALID_UNTIL)
    rows = await conclusions_to_renew(staff.clerk, today)
    assert [(r.person_id, r.state) for r in rows] == (
        [(case.person_id, listed)] if listed else [])
    other_town = await user_actor((await make_user(
        "clerk", username="town_clerk", region=OTHER_TOWN_VILLAGE[:9]))["id"])
    assert await conclusions_to_renew(other_town, today) == []  # scoped to the region


async def test_pages_show_validity_list_csv_and_refuse_early_requests(concluded, client) -> None:
    clock, _, case = concluded
    clock.set(date(2028, 9, 1))
    await sign_in(client, "clerk")
    listed = await client.get("/conclusions")
    assert listed.status_code == 200
    assert "张秀英" in listed.text and "已过期" in listed.text and "2028-08-30" in listed.text
    assert "张秀英" not in (await client.get("/conclusions?stage=expiring")).text
    assert "张秀英" in (await client.get("/conclusions?q=zxy&grade=5")).text
    csv = await client.get("/conclusions/export.csv")
    assert csv.status_code == 200
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("姓名,身份证号（脱敏）,失能等级")
    assert lines[1].startswith("张秀英,") and case.resident_id not in csv.text
    assert await AuditEvent.count().where(AuditEvent.action == "conclusion.exported") == 1

    person = await client.get(f"/people/{case.person_id}")
    assert "有效期24个月，至 <b>2028-08-30</b>（已过期）" in person.text
    assert "登记重新评估申请" in person.text

    clock.set(TOO_EARLY)
    form = await client.post(f"/people/{case.person_id}/new-assessment", data={
        **REQUEST, "_csrf_token": client.cookies.get("ltc_csrf")})
    assert form.status_code == 409 and "2027-02-28起方可申请重新评估" in form.text
    api = await client.post(f"/api/v1/people/{case.person_id}/new-assessment", json=REQUEST,
                            headers={"x-csrftoken": client.cookies.get("ltc_csrf")})
    assert api.status_code == 409
    assert api.json()["error"]["code"] == "new_assessment_too_early"
    assert len(await applications_of(case.person_id)) == 1

    clock.set(ALLOWED_FROM)
    await sign_in(client, "clerk")  # a day later: yesterday's session has timed out
    done = await client.post(f"/people/{case.person_id}/new-assessment", data={
        **REQUEST, "_csrf_token": client.cookies.get("ltc_csrf")}, follow_redirects=False)
    assert done.status_code in (302, 303), done.text
    assert done.headers["location"] == f"/people/{case.person_id}", done.headers
    created = (await applications_of(case.person_id))[-1]
    assert (created["origin"], created["state"]) == ("requested", "SUBMITTED")
    case_page = await client.get(f"/applications/{created['id']}")
    assert "申请重新评估：本人或家属因失能状态变化申请" in case_page.text
