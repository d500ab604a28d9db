"""The assessment team (29号): an expert in every draw, two expert confirmations before the
reviewer concludes, withdrawal (回避) and who a draw leaves out: declared conflicts, the care
provider's staff, the first assessment's organisation and participants on re-assessment."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from conftest import sign_in
from support.cases import (
    FrozenClock,
    add_assessors,
    assessment_version,
    assigned_case,
    entitled_case,
    make_staff,
    register,
    submit_assessment,
    user_actor,
)
from support.notice_cases import CLOSING_DAY, objected_with_three_assessors

from ltc.accounts.tables import User
from ltc.assessments import assignment, experts, withdrawal
from ltc.assessments import interface as assessment_interface
from ltc.assessments import service as assessments
from ltc.assessments.draw import replay
from ltc.assessments.tables import Assessment, AssessorConflict, ExpertConfirmation
from ltc.audit.tables import AuditEvent
from ltc.careplans.tables import CarePlan
from ltc.clock import now as clock_now
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.notices import service as notices
from ltc.organisations.tables import Organisation
from ltc.regions.tables import Region
from ltc.staff.tables import StaffMember

pytestmark = pytest.mark.anyio
TODAY = date(2026, 11, 20)
REGION = "370983"


async def written() -> tuple[int, ...]:
    return (await Assessment.count(), await AuditEvent.count(),
            await ExpertConfirmation.count(), await AssessorConflict.count())


async def test_every_draw_takes_an_expert_valid_on_the_day(database_url, monkeypatch) -> None:
    clock = FrozenClock(monkeypatch, TODAY)
    staff = await make_staff(assessors=0)
    plain = await add_assessors(staff, 3, qualification="assessor")
    # Qualified through today: the last valid day still counts.
    expert = (await add_assessors(staff, 1, qualified_until=TODAY))[0]
    for i in range(40):
        pair, record = await assignment.draw_assessors(REGION, on=TODAY, seed=f"s{i}")
        assert pair[0] == expert.id and pair[1] in {a.id for a in plain}
        assert replay(record) == pair
    # The next day the qualification has expired: no expert, so nobody is assigned.
    person = await register(staff, name="张秀英")
    clock.set(TODAY + timedelta(days=1))
    before = await written()
    with pytest.raises(Conflict) as caught:
        await assigned_case(staff, person)
    assert caught.value.code == "no_expert_available"
    assert "没有在2026-11-21证书有效的评估专家" in caught.value.message
    assert await Assessment.count() == before[0]


async def _one_expert_case(monkeypatch):
    """An assessment submitted by an expert and a plain 评估员, and two more experts who did
    not go (one of an organisation whose region does not cover the person)."""
    FrozenClock(monkeypatch, TODAY)
    staff = await make_staff(assessors=1)
    await add_assessors(staff, 1, qualification="assessor")
    person = await register(staff, name="张秀英")
    assessment = await assigned_case(staff, person)
    await submit_assessment(assessment["id"])
    away = await add_assessors(staff, 1)
    far = await add_assessors(staff, 1, organisation="T-FAR")
    other_town = await Region.select(Region.id).where(Region.code == "370983002").first()
    await Organisation.update({Organisation.region: other_town["id"]}).where(
        Organisation.code == "T-FAR")
    return staff, assessment["id"], away[0], far[0]


async def test_the_reviewer_waits_for_two_expert_confirmations(
        database_url, monkeypatch) -> None:
    staff, assessment_id, away, far = await _one_expert_case(monkeypatch)
    row = await assessments.get_assessment(staff.reviewer, assessment_id)
    assert (await experts.expert_status(row)).missing == 1
    before = await written()
    with pytest.raises(Conflict) as caught:
        await assessments.conclude(staff.reviewer, assessment_id,
                                   expected_version=row["version"])
    assert caught.value.code == "expert_confirmation_missing"
    assert "现场签名的评估专家1名，专家确认0名，还需1名评估专家确认" in caught.value.message
    assert await written() == before
    assert (await assessments.get_assessment(staff.reviewer, assessment_id))["state"] == (
        "SUBMITTED")

    # Who may confirm: an expert who did not go, of an organisation covering the region.
    on_site = await user_actor(row["assessor_1"])
    assert [r["id"] for r in await experts.confirmation_queue(away)] == [assessment_id]
    assert await experts.confirmation_queue(far) == []
    assert await experts.confirmation_queue(on_site) == []
    for outsider in (far, on_site):
        with pytest.raises(NotFound):
            await experts.confirm(outsider, assessment_id, expected_version=row["version"])
    assert await written() == before
    # The expert sees the record and the video before confirming.
    assert (await assessments.get_assessment(away, assessment_id))["id"] == assessment_id

    confirmed = await experts.confirm(away, assessment_id, expected_version=row["version"],
                                      note="视频与评分一致")
    again = await experts.confirm(away, assessment_id, expected_version=row["version"])
    assert again["version"] == confirmed["version"] == row["version"] + 1
    assert await ExpertConfirmation.count() == 1
    event = await AuditEvent.select().where(
        AuditEvent.action == "assessment.expert_confirmed").first()
    assert event["actor_id"] == away.id
    assert away.id in (await assessment_interface.participants_of(assessment_id)).user_ids

    # A return voids it (the scores may change); after resubmission it is needed again.
    await assessments.return_to_assessors(staff.reviewer, assessment_id,
                                          expected_version=confirmed["version"], reason="补录")
    await submit_assessment(assessment_id)
    row = await assessments.get_assessment(staff.reviewer, assessment_id)
    assert (await experts.expert_status(row)).missing == 1
    await experts.confirm(away, assessment_id, expected_version=row["version"])
    concluded = await assessments.conclude(staff.reviewer, assessment_id,
                                           expected_version=row["version"] + 1)
    assert concluded["state"] == "CONCLUDED"


async def test_nobody_who_must_stand_aside_confirms(database_url, monkeypatch) -> None:
    """An expert who declared a conflict with the person neither sees the assessment in the
    专家确认 queue nor may confirm it: what keeps them out of the draw keeps them out here."""
    _staff, assessment_id, away, _far = await _one_expert_case(monkeypatch)
    row = await experts.assessment_row(assessment_id)
    assert await experts.may_confirm(away, row)
    await AssessorConflict(assessor=away.id, person=row["application.person"], reason="亲属",
                           assessment=None, declared_by=away.id, declared_at=clock_now()).save()
    before = await written()
    assert await experts.confirmation_queue(away) == []
    with pytest.raises(NotFound):
        await experts.confirm(away, assessment_id, expected_version=row["version"])
    assert await written() == before


async def test_an_expired_expert_on_site_does_not_count(database_url, monkeypatch) -> None:
    FrozenClock(monkeypatch, TODAY)
    staff = await make_staff(assessors=2)
    person = await register(staff, name="张秀英")
    assessment = await assigned_case(staff, person)
    # The second one's qualification ended the day before the visit.
    await StaffMember.update({StaffMember.certificate_until: TODAY - timedelta(days=1)}).where(
        StaffMember.user == assessment["assessor_2"])
    await submit_assessment(assessment["id"])
    row = await assessments.get_assessment(staff.reviewer, assessment["id"])
    assert (await experts.expert_status(row)).missing == 1


async def test_a_withdrawing_assessor_is_replaced_and_never_drawn_again(
        database_url, monkeypatch) -> None:
    FrozenClock(monkeypatch, TODAY)
    staff = await make_staff(assessors=4)
    person = await register(staff, name="张秀英")
    assessment = await assigned_case(staff, person)
    leaving = await user_actor(assessment["assessor_1"])
    before = await written()
    with pytest.raises(InvalidInput) as caught:
        await withdrawal.withdraw(leaving, assessment["id"],
                                  expected_version=assessment["version"], reason=" ")
    assert caught.value.fields == {"withdraw_reason": "请填写回避原因（如亲属关系、利害关系）"}
    assert await written() == before

    after = await withdrawal.withdraw(leaving, assessment["id"],
                                      expected_version=assessment["version"],
                                      reason="被评估人是本人舅舅")
    assert after["assessor_2"] == assessment["assessor_2"]
    assert after["assessor_1"] not in (leaving.id, assessment["assessor_2"])
    replacement = json.loads(after["draw"])["replacements"][0]
    assert replay(replacement) == (after["assessor_1"],)
    assert {"user_id": leaving.id, "reasons": ["conflict"]} in replacement["exclusions"]
    assert await AssessorConflict.count() == 1
    with pytest.raises(NotFound):  # sent twice: no longer theirs; nothing more changes
        await withdrawal.withdraw(leaving, assessment["id"],
                                  expected_version=after["version"], reason="重复提交")
    assert await AssessorConflict.count() == 1

    for i in range(30):
        pair, record = await assignment.draw_assessors(REGION, on=TODAY, seed=f"s{i}",
                                                       person_id=person["id"])
        assert leaving.id not in pair
    assert {"user_id": leaving.id, "reasons": ["conflict"]} in record["exclusions"]


async def test_the_care_providers_staff_are_left_out(database_url, monkeypatch) -> None:
    FrozenClock(monkeypatch, date(2026, 10, 20))
    staff = await make_staff(assessors=2)
    case, entitlement_id = await entitled_case(staff, decided_on=date(2026, 10, 25))
    carers = await add_assessors(staff, 2, organisation="T-A2")
    provider = (await Organisation.select(Organisation.id).where(
        Organisation.code == "T-A2").first())["id"]
    await CarePlan(entitlement=entitlement_id, person=case.person_id, region_path=REGION,
                   plan_no=1, care_form="home", provider=provider, items="[]",
                   visits_per_month=4, starts_on=date(2026, 11, 1), state="ACTIVE",
                   proposed_by=staff.clerk.id).save()
    for i in range(20):
        pair, record = await assignment.draw_assessors(
            REGION, on=date(2026, 10, 20), seed=f"s{i}", person_id=case.person_id)
        assert not set(pair) & {c.id for c in carers}
    assert {"user_id": carers[0].id, "reasons": ["care_provider"]} in record["exclusions"]

    with pytest.raises(Conflict) as caught:  # with the first assessors left out too
        await assignment.draw_assessors(REGION, on=date(2026, 10, 20),
                                        exclude=case.assessors, person_id=case.person_id)
    assert caught.value.code == "not_enough_assessors"
    assert ("已排除：参与过首次评估2名、所在机构是被评估人当前的护理服务机构2名"
            in caught.value.message)


async def test_a_reassessment_leaves_out_the_first_organisation(
        database_url, monkeypatch) -> None:
    _clock, staff, case, _batch, entry = await objected_with_three_assessors(monkeypatch)
    # Did not take part, but belongs to the first assessment's organisation (T-A).
    colleague = (await add_assessors(staff, 1))[0]
    assert await notices.close_due(CLOSING_DAY) == 1  # objected: waits for assessors
    before = await written()
    with pytest.raises(Conflict) as caught:
        await notices.assign_reassessment(staff.clerk, entry["id"], CLOSING_DAY)
    assert caught.value.code == "not_enough_assessors"
    assert ("只有1名，至少需要2名（同一人不能抽中两次；已排除：参与过首次评估2名、"
            "所在机构须回避（作出原评估的机构）3名）") in caught.value.message
    assert await written() == before

    second = (await add_assessors(staff, 1, organisation="T-A2"))[0]
    again = await notices.assign_reassessment(staff.clerk, entry["id"], CLOSING_DAY)
    assert {again["assessor_1"], again["assessor_2"]} == {staff.assessors[2].id, second.id}
    record = json.loads(again["draw"])
    assert {"user_id": colleague.id, "reasons": ["excluded_organisation"]} in (
        record["exclusions"])
    assert {"user_id": case.assessors[0], "reasons": ["excluded_organisation", "took_part"]
            } in record["exclusions"]
    assert replay(record) == (again["assessor_1"], again["assessor_2"])

    # One of them withdraws: the replacement is not of the first organisation either, and
    # while nobody else qualifies the refusal records nothing (not even the conflict).
    leaving = await user_actor(again["assessor_1"])
    before = await written()
    with pytest.raises(Conflict) as caught:
        await withdrawal.withdraw(leaving, again["id"], expected_version=again["version"],
                                  reason="同村邻居，有利害关系")
    assert caught.value.code == "not_enough_assessors"
    assert await written() == before
    third = (await add_assessors(staff, 1, organisation="T-A2"))[0]
    after = await withdrawal.withdraw(leaving, again["id"], expected_version=again["version"],
                                      reason="同村邻居，有利害关系")
    assert (after["assessor_1"], after["assessor_2"]) == (third.id, again["assessor_2"])
    # Nor may the first assessment's people or organisation confirm the re-assessment.
    row = await experts.assessment_row(again["id"])
    for first_side in (await user_actor(case.assessors[0]), colleague):
        assert not await experts.may_confirm(first_side, row)
    outsider = (await add_assessors(staff, 1, organisation="T-A3"))[0]
    assert await experts.may_confirm(outsider, row)

async def test_the_pages_and_api_for_confirming_and_withdrawing(client, monkeypatch) -> None:
    staff, assessment_id, away, _far = await _one_expert_case(monkeypatch)
    await sign_in(client, "reviewer")
    headers = {"x-csrftoken": client.cookies.get("ltc_csrf")}
    page = await client.get(f"/assessments/{assessment_id}")
    assert "现场签名的评估专家1名，专家确认0名，还需1名评估专家确认" in page.text
    version = await assessment_version(assessment_id)
    refused = await client.post(f"/api/v1/assessments/{assessment_id}/conclude",
                                headers=headers, json={"version": version})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "expert_confirmation_missing"
    shown = await client.post(f"/assessments/{assessment_id}", data={
        "action": "conclude", "version": str(version), "_csrf_token": headers["x-csrftoken"]})
    assert shown.status_code == 409 and "请等待未到场的评估专家" in shown.text

    client.cookies.clear()
    await sign_in(client, "assessor3")  # `away`, the expert who did not go
    headers = {"x-csrftoken": client.cookies.get("ltc_csrf")}
    queue = await client.get("/assessments/confirmations")
    assert "查看记录和视频并确认" in queue.text and "张秀英" in queue.text
    page = await client.get(f"/assessments/{assessment_id}")
    assert "确认评估结论" in page.text and "visit.mp4" in page.text
    confirmed = await client.post(f"/api/v1/assessments/{assessment_id}/confirm",
                                  headers=headers, json={"version": version, "note": "一致"})
    assert confirmed.status_code == 200 and confirmed.json()["experts_missing"] == 0
    assert away.id in {c["expert"] for c in await ExpertConfirmation.select()}

    # An assigned assessor's withdrawal: the reason is required, next to the field.
    person = await register(staff, name="欧阳娜娜")
    other = await assigned_case(staff, person)
    leaving = await User.select(User.username).where(User.id == other["assessor_1"]).first()
    client.cookies.clear()
    await sign_in(client, leaving["username"])
    csrf = client.cookies.get("ltc_csrf")
    empty = await client.post(f"/assessments/{other['id']}", data={
        "action": "withdraw", "version": str(other["version"]), "withdraw_reason": "",
        "_csrf_token": csrf})
    assert empty.status_code == 422 and "请填写回避原因" in empty.text
    done = await client.post(f"/assessments/{other['id']}", data={
        "action": "withdraw", "version": str(other["version"]), "withdraw_reason": "亲属",
        "_csrf_token": csrf})
    assert done.status_code == 200 and "已申请回避" in done.text
    assert (await Assessment.select(Assessment.assessor_1).where(
        Assessment.id == other["id"]).first())["assessor_1"] != other["assessor_1"]

