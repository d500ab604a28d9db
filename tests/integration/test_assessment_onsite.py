"""On site (issue 12 item 4): the guardian or agent present is required at submission, video
durations are read from the uploaded file, and the videos must cover the policy's share of
the time on site."""

import json
from datetime import timedelta

import pytest
import test_assessments
from conftest import SEVERE_SCORES as SEVERE
from conftest import sign_in
from support.media_files import FTYP, MDAT, moov, mvhd
from test_assessments import GUARDIAN, _version, actor

from ltc import clock
from ltc.assessments import service
from ltc.assessments.tables import Assessment
from ltc.audit.tables import AuditEvent
from ltc.errors import InvalidInput
from ltc.evidence.service import fill_missing_durations
from ltc.evidence.tables import EvidenceFile

pytestmark = pytest.mark.anyio
case = test_assessments.case  # the fixture: an assessment ASSIGNED to a1 and a2

ONSITE_MINUTES = 50  # the feicheng policy: at least 80 % → 40 minutes of video


async def _signed(assessment_id: int, **guardian: str) -> None:
    """Scores, 50 minutes on site and both signatures; no video yet."""
    now = clock.now()
    await service.save_draft(await actor("a1"), assessment_id,
                             expected_version=await _version(assessment_id), scores=SEVERE,
                             onsite_started_at=now - timedelta(minutes=ONSITE_MINUTES + 5),
                             onsite_ended_at=now - timedelta(minutes=5), **guardian)
    for who in ("a1", "a2"):
        await service.sign(await actor(who), assessment_id,
                           expected_version=await _version(assessment_id))


async def _videos(assessment_id: int, durations: list[float | None]) -> None:
    uploader = await actor("a1")
    for n, seconds in enumerate(durations):
        await EvidenceFile(assessment=assessment_id, kind="video", content_type="video/mp4",
                           size=10, sha256=f"{n:064x}", original_name=f"{n}.mp4",
                           duration_seconds=seconds, uploaded_by=uploader.id).save()


async def _problems(assessment_id: int) -> dict[str, str]:
    return await service.submission_problems(
        await service.get_assessment(await actor("a1"), assessment_id))


async def test_submission_lists_every_missing_guardian_field_at_once(case) -> None:
    await _signed(case)
    await _videos(case, [3000])
    with pytest.raises(InvalidInput) as caught:
        await service.submit(await actor("a1"), case, expected_version=await _version(case))
    assert caught.value.fields == {
        "guardian_name": "请填写在场监护人或代理人的姓名",
        "guardian_relationship": "请选择在场监护人或代理人与被评估人的关系",
        "guardian_phone": "请填写在场监护人或代理人的联系电话"}


@pytest.mark.parametrize(("guardian", "fields"), [
    ({"guardian_relationship": "邻居"}, {"guardian_relationship"}),
    ({"guardian_phone": "12345"}, {"guardian_phone"}),
    ({"guardian_phone": "3221234"}, {"guardian_phone"}),  # a landline needs its area code
    ({"guardian_name": "李" * 51}, {"guardian_name"}),
    ({"guardian_name": "李" * 51, "guardian_relationship": "x", "guardian_phone": "1"},
     {"guardian_name", "guardian_relationship", "guardian_phone"}),
])
async def test_a_bad_guardian_is_refused_field_by_field(case, guardian, fields) -> None:
    with pytest.raises(InvalidInput) as caught:
        await service.save_draft(await actor("a1"), case, expected_version=1, scores={},
                                 **guardian)
    assert set(caught.value.fields) == fields
    assert await _version(case) == 1  # nothing saved


async def test_the_guardian_is_saved_normalised_and_masked_in_the_audit_log(case) -> None:
    await service.save_draft(await actor("a1"), case, expected_version=1, scores={},
                             guardian_name=" 李明 ", guardian_relationship="委托代理人",
                             guardian_phone="0538-322 1234")
    row = await Assessment.select().where(Assessment.id == case).first()
    assert (row["guardian_name"], row["guardian_relationship"], row["guardian_phone"]) == (
        "李明", "委托代理人", "0538-3221234")
    event = await AuditEvent.select().where(
        AuditEvent.action == "assessment.draft_saved").first()
    assert "0538-****234" in json.dumps(event, default=str, ensure_ascii=False)
    assert "3221234" not in json.dumps(event, default=str, ensure_ascii=False)


# 50 minutes on site at 80 %: 2400 seconds of video are needed.
COVERAGE = [
    ([2400], None),
    ([3000], None),
    ([1200, 1200], None),  # the videos together
    ([2399], "现场视频时长不足：已录 39 分钟，现场 50 分钟，至少需要 40 分钟"),
    ([600], "现场视频时长不足：已录 10 分钟，现场 50 分钟，至少需要 40 分钟"),
    ([None], "现场视频时长不足：已录 0 分钟，现场 50 分钟，至少需要 40 分钟"
             "（另有 1 段视频无法读取时长，未计入）"),
    ([2000, None], "现场视频时长不足：已录 33 分钟，现场 50 分钟，至少需要 40 分钟"
                   "（另有 1 段视频无法读取时长，未计入）"),
    ([2400, None], None),  # an unknown one does not matter once the others cover
]


@pytest.mark.parametrize(("durations", "problem"), COVERAGE,
                         ids=[str(d) for d, _ in COVERAGE])
async def test_videos_must_cover_the_policy_share_of_the_time_on_site(
        case, durations, problem) -> None:
    await _signed(case, **GUARDIAN)
    await _videos(case, durations)
    problems = await _problems(case)
    assert problems.get("evidence") == problem
    assert set(problems) == ({"evidence"} if problem else set())


async def test_form_shows_the_guardian_fields_and_each_problem_beside_its_field(
        client, case) -> None:
    await _signed(case)
    await _videos(case, [600])
    await sign_in(client, "a1")
    page = await client.get(f"/assessments/{case}")
    assert 'name="guardian_phone"' in page.text and "<option value=\"委托代理人\"" in page.text
    assert "现场视频时长不足" in page.text  # listed among what submission still needs
    csrf = client.cookies.get("ltc_csrf")
    row = await Assessment.select().where(Assessment.id == case).first()
    form = {f"score_{code}": str(value) for code, value in SEVERE.items()}
    refused = await client.post(f"/assessments/{case}", data={
        **form, "scores_posted": "1", "version": str(row["version"]), "action": "submit",
        "onsite_started_at": row["onsite_started_at"].astimezone(clock.CHINA)
        .strftime("%Y-%m-%dT%H:%M"),
        "onsite_ended_at": row["onsite_ended_at"].astimezone(clock.CHINA)
        .strftime("%Y-%m-%dT%H:%M"),
        "guardian_name": "王芳", "guardian_relationship": "", "guardian_phone": "1380000",
        "_csrf_token": csrf})
    assert refused.status_code == 422
    assert 'id="guardian_phone-error"' in refused.text and "手机号码应为" in refused.text
    assert 'value="王芳"' in refused.text  # what the user typed is kept
    assert (await Assessment.select(Assessment.state).where(
        Assessment.id == case).first())["state"] == "IN_PROGRESS"


async def test_api_saves_and_returns_the_guardian(client, case) -> None:
    await sign_in(client, "a1")
    headers = {"x-csrftoken": client.cookies.get("ltc_csrf")}
    bad = await client.put(f"/api/v1/assessments/{case}/draft", headers=headers, json={
        "version": 1, "scores": {}, "guardian_relationship": "朋友", "guardian_phone": "0"})
    assert bad.status_code == 422
    assert set(bad.json()["error"]["fields"]) == {"guardian_relationship", "guardian_phone"}
    ok = await client.put(f"/api/v1/assessments/{case}/draft", headers=headers, json={
        "version": 1, "scores": {}, **GUARDIAN})
    assert ok.status_code == 200
    assert (ok.json()["guardian_name"], ok.json()["guardian_phone"]) == ("李明", "13900000000")


async def test_an_uploaded_video_has_its_duration_read_and_shown(client, case) -> None:
    await sign_in(client, "a1")
    headers = {"x-csrftoken": client.cookies.get("ltc_csrf")}
    clip = FTYP + MDAT + moov(mvhd(1000, 2_530_000))  # 42 min 10 s, moov at the end
    response = await client.put(f"/api/v1/assessments/{case}/evidence?name=a.mp4",
                                content=clip, headers={**headers, "content-type": "video/mp4"})
    assert response.status_code == 201, response.text
    assert response.json()["duration_seconds"] == 2530.0
    unknown = await client.put(f"/api/v1/assessments/{case}/evidence?name=b.mp4",
                               content=FTYP + MDAT,
                               headers={**headers, "content-type": "video/mp4"})
    assert unknown.json()["duration_seconds"] is None
    page = await client.get(f"/assessments/{case}")
    assert "时长 42分10秒" in page.text and "时长未知" in page.text


async def test_videos_stored_without_a_duration_get_one_read_later(client, case,
                                                                   settings) -> None:
    """`ltc evidence durations`: rows from before durations were read at upload."""
    await sign_in(client, "a1")
    headers = {"x-csrftoken": client.cookies.get("ltc_csrf"), "content-type": "video/mp4"}
    for name, clip in (("a.mp4", FTYP + MDAT + moov(mvhd(600, 1_800_000))), ("b.mp4", FTYP)):
        response = await client.put(f"/api/v1/assessments/{case}/evidence?name={name}",
                                    content=clip, headers=headers)
        assert response.status_code == 201
    await EvidenceFile.update({EvidenceFile.duration_seconds: None}, force=True)

    assert await fill_missing_durations(settings.media_dir) == (2, 1)
    rows = await EvidenceFile.select(EvidenceFile.original_name,
                                     EvidenceFile.duration_seconds).order_by(EvidenceFile.id)
    assert [(r["original_name"], r["duration_seconds"]) for r in rows] == [
        ("a.mp4", 3000.0), ("b.mp4", None)]
    event = await AuditEvent.select().where(
        AuditEvent.action == "evidence.duration_read").first()
    assert (event["object_type"], event["object_id"]) == ("assessment", str(case))
    assert await fill_missing_durations(settings.media_dir) == (1, 0)  # nothing more to read
