"""The assessment from assignment to conclusion: draft, sign, submit, review."""

import json
from datetime import timedelta

import pytest
from conftest import SEVERE_SCORES as SEVERE
from conftest import make_user, sign_in

from ltc import clock
from ltc.accounts import service as accounts
from ltc.applications.tables import Application
from ltc.assessments import service
from ltc.assessments.tables import Assessment
from ltc.audit.tables import AuditEvent
from ltc.db import StaleWrite
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.evidence.tables import EvidenceFile
from ltc.people.tables import Person
from ltc.regions.tables import Region

pytestmark = pytest.mark.anyio

async def actor(username: str):
    from ltc.accounts.tables import User

    row = await User.select(User.id).where(User.username == username).first()
    return await accounts.actor_for_user(row["id"])


@pytest.fixture
async def case(database_url):
    """Two assessors, a third one not assigned, a reviewer, and an assessment ASSIGNED."""
    clerk = await make_user("clerk")
    a1 = await make_user("assessor", username="a1")
    a2 = await make_user("assessor", username="a2")
    await make_user("assessor", username="a3")
    await make_user("reviewer")
    town = await Region.select().where(Region.code == "370983001").first()
    person = Person(resident_id="11010519491231002X", name="张秀英", name_initials="zxy", sex="F",
                    birth_date=clock.today().replace(year=1949), phone="13800000000",
                    address="新城街道某村1号", village=town["id"], region_path=town["path"])
    await person.save()
    application = Application(number="SQ202611220001", person=person.id,
                              region_path=town["path"], state="ASSIGNED", applicant_name="李明",
                              applicant_relation="子女", applicant_phone="13900000000",
                              disabled_since=clock.today() - timedelta(days=400),
                              created_by=clerk["id"])
    await application.save()
    assessment = Assessment(application=application.id, region_path=town["path"],
                            kind="initial", state="ASSIGNED", assessor_1=a1["id"],
                            assessor_2=a2["id"], draw="{}")
    await assessment.save()
    return assessment.id


GUARDIAN = {"guardian_name": "李明", "guardian_relationship": "子女",
            "guardian_phone": "139 0000 0000"}


async def _version(assessment_id: int) -> int:
    return (await Assessment.select(Assessment.version).where(
        Assessment.id == assessment_id).first())["version"]


async def _onsite(assessment_id: int, who: str = "a1", scores=SEVERE) -> None:
    now = clock.now()
    await service.save_draft(await actor(who), assessment_id,
                             expected_version=await _version(assessment_id), scores=scores,
                             onsite_started_at=now - timedelta(hours=1),
                             onsite_ended_at=now - timedelta(minutes=10), **GUARDIAN)


async def _add_video(assessment_id: int, uploader: str = "a1") -> None:
    user = await actor(uploader)
    await EvidenceFile(assessment=assessment_id, kind="video", content_type="video/mp4",
                       size=10, sha256="a" * 64, original_name="visit.mp4",
                       duration_seconds=3000,
                       uploaded_by=user.id).save()


async def test_the_whole_path_to_a_concluded_grade(case) -> None:
    a1, a2, reviewer = await actor("a1"), await actor("a2"), await actor("reviewer")
    partial = {"eating": 5, "dressing": 0}
    await service.save_draft(a1, case, expected_version=1, scores=partial)
    row = await service.get_assessment(a1, case)
    assert row["state"] == "IN_PROGRESS" and row["scores"] == partial

    with pytest.raises(InvalidInput) as caught:
        await service.sign(a1, case, expected_version=2)
    assert "walking" in caught.value.fields

    await _onsite(case)
    await service.sign(a1, case, expected_version=await _version(case))
    await service.sign(a2, case, expected_version=await _version(case))
    with pytest.raises(InvalidInput) as caught:
        await service.submit(a1, case, expected_version=await _version(case))
    assert set(caught.value.fields) == {"evidence"}

    await _add_video(case)
    await service.submit(a2, case, expected_version=await _version(case))
    assert (await service.get_assessment(a1, case))["state"] == "SUBMITTED"
    with pytest.raises(Conflict):  # no more edits once submitted
        await _onsite(case)

    queue = await service.review_queue(reviewer)
    assert [r["id"] for r in queue] == [case]
    await service.conclude(reviewer, case, expected_version=await _version(case))
    row = await service.get_assessment(reviewer, case)
    assert row["state"] == "CONCLUDED" and row["grade"] == 5
    assert row["result"]["grade_label"] == "重度失能Ⅲ级"
    assert row["ruleset.code"] == "national-2021" and row["reviewed_by"] == reviewer.id
    actions = [e["action"] for e in await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.object_type == "assessment").order_by(AuditEvent.seq)]
    assert actions == ["assessment.draft_saved", "assessment.draft_saved", "assessment.signed",
                       "assessment.signed", "assessment.submitted", "assessment.concluded"]


async def test_changing_a_score_voids_both_signatures(case) -> None:
    a1, a2 = await actor("a1"), await actor("a2")
    await _onsite(case)
    await service.sign(a1, case, expected_version=await _version(case))
    await service.sign(a2, case, expected_version=await _version(case))
    await _onsite(case, "a2", {**SEVERE, "eating": 10})
    row = await service.get_assessment(a1, case)
    assert row["signed_1_at"] is None and row["signed_2_at"] is None
    # Saving the same scores again (e.g. only the times changed) keeps signatures.
    await service.sign(a1, case, expected_version=await _version(case))
    await _onsite(case, "a2", {**SEVERE, "eating": 10})
    assert (await service.get_assessment(a1, case))["signed_1_at"] is not None


@pytest.mark.parametrize(
    ("scores", "field"),
    [({"eating": 7}, "eating"), ({"eating": -5}, "eating"), ({"eatting": 5}, "_unknown"),
     ({"memory": 5}, "memory")],
)
async def test_out_of_range_and_unknown_scores_change_nothing(case, scores, field) -> None:
    with pytest.raises(InvalidInput) as caught:
        await service.save_draft(await actor("a1"), case, expected_version=1, scores=scores)
    assert field in caught.value.fields
    row = await Assessment.select().where(Assessment.id == case).first()
    assert (row["state"], row["scores"], row["version"]) == ("ASSIGNED", "{}", 1)
    assert await AuditEvent.count().where(AuditEvent.object_type == "assessment") == 0


async def test_who_may_see_and_act(case) -> None:
    with pytest.raises(NotFound):  # an unassigned assessor does not learn the case exists
        await service.get_assessment(await actor("a3"), case)
    with pytest.raises(Forbidden):
        await service.conclude(await actor("clerk"), case, expected_version=1)
    with pytest.raises(Forbidden):
        await service.save_draft(await actor("reviewer"), case, expected_version=1, scores={})
    other_town = await make_user("clerk", username="laocheng", region="370983002")
    with pytest.raises(NotFound):
        await service.get_assessment(await accounts.actor_for_user(other_town["id"]), case)


async def test_two_assessors_saving_at_once_the_second_is_stale(case) -> None:
    await service.save_draft(await actor("a1"), case, expected_version=1, scores={"eating": 5})
    with pytest.raises(StaleWrite):
        await service.save_draft(await actor("a2"), case, expected_version=1,
                                 scores={"eating": 10})
    assert (await service.get_assessment(await actor("a1"), case))["scores"] == {"eating": 5}


async def test_return_needs_a_reason_and_voids_signatures(case) -> None:
    a1, a2, reviewer = await actor("a1"), await actor("a2"), await actor("reviewer")
    await _onsite(case)
    await _add_video(case)
    for who in (a1, a2):
        await service.sign(who, case, expected_version=await _version(case))
    await service.submit(a1, case, expected_version=await _version(case))
    with pytest.raises(InvalidInput):
        await service.return_to_assessors(reviewer, case, expected_version=await _version(case),
                                          reason="  ")
    await service.return_to_assessors(reviewer, case, expected_version=await _version(case),
                                      reason="视频不完整，请补传")
    row = await service.get_assessment(a1, case)
    assert row["state"] == "RETURNED" and row["return_reason"] == "视频不完整，请补传"
    assert row["signed_1_at"] is None and row["signed_2_at"] is None
    assert [r["id"] for r in await service.my_assignments(a1)] == [case]


async def test_assessor_form_over_http(client, case) -> None:
    await sign_in(client, "a1")
    page = await client.get(f"/assessments/{case}")
    assert page.status_code == 200
    assert "进食" in page.text and "较大或完全依赖" in page.text  # the option wording
    csrf = client.cookies.get("ltc_csrf")
    form = {f"score_{code}": str(value) for code, value in SEVERE.items()}
    preview = await client.post(f"/assessments/{case}/preview",
                                data={**form, "_csrf_token": csrf})
    assert "重度失能Ⅲ级" in preview.text
    bad = await client.post(f"/assessments/{case}", data={
        **form, "score_eating": "7", "scores_posted": "1", "version": "1", "action": "save",
        "onsite_started_at": "", "onsite_ended_at": "", "_csrf_token": csrf})
    assert bad.status_code == 422 and "进食" in bad.text
    assert (await Assessment.select(Assessment.scores).where(
        Assessment.id == case).first())["scores"] == "{}"
    saved = await client.post(f"/assessments/{case}", data={
        **form, "scores_posted": "1", "version": "1", "action": "save",
        "onsite_started_at": "2026-11-20T09:00", "onsite_ended_at": "2026-11-20T10:30",
        "_csrf_token": csrf})
    assert saved.status_code == 200 and "已保存草稿" in saved.text
    row = await Assessment.select().where(Assessment.id == case).first()
    assert json.loads(row["scores"]) == SEVERE
    assert row["onsite_started_at"].astimezone(clock.CHINA).hour == 9  # Beijing civil time


async def test_api_rejects_a_bad_score_with_the_item_named(client, case) -> None:
    await sign_in(client, "a1")
    headers = {"x-csrftoken": client.cookies.get("ltc_csrf")}
    response = await client.put(f"/api/v1/assessments/{case}/draft", headers=headers,
                                json={"version": 1, "scores": {"walking": 20}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_assessment" and "walking" in error["fields"]
    ok = await client.put(f"/api/v1/assessments/{case}/draft", headers=headers,
                          json={"version": 1, "scores": {"walking": 15}})
    assert ok.status_code == 200 and ok.json()["scores"] == {"walking": 15}
    stale = await client.put(f"/api/v1/assessments/{case}/draft", headers=headers,
                             json={"version": 1, "scores": {"walking": 10}})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_write"
