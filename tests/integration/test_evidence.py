"""Evidence upload over HTTP and on disk: streamed upload, multipart fallback, every refusal leaving
nothing behind."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import csrf_token
from support.evidence_cases import (
    JPEG_HEAD,
    as_user,
    assert_nothing_stored,
    audit_count,
    make_case,
    media,
    photo,
    put,
    state_of,
    stored_files,
    temp_files,
    video,
)

from ltc.accounts import service as accounts
from ltc.assessments.rules import AssessmentState
from ltc.assessments.tables import Assessment
from ltc.audit.tables import AuditEvent
from ltc.errors import Conflict, DomainError
from ltc.evidence import rules, service, storage
from ltc.evidence.tables import EvidenceFile
from ltc.identity import SYSTEM

pytestmark = pytest.mark.anyio


# --- upload --------------------------------------------------------------------------------


async def test_assessor_streams_a_video_that_is_stored_by_hash_and_audited(client,
                                                                           settings) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    body = video(300_000)
    digest = hashlib.sha256(body).hexdigest()

    response = await put(client, case["id"], body, "video/mp4", csrf,
                         recorded_at="2026-11-20T09:30:00+08:00")
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["sha256"] == digest and out["size"] == len(body)
    assert out["kind"] == "video" and out["content_type"] == "video/mp4"
    assert out["original_name"] == "评估全程.mp4"
    assert out["uploaded_by"] == "测试评估员" and out["url"] == f"/evidence/{out['id']}"
    assert datetime.fromisoformat(out["recorded_at"]) == datetime(2026, 11, 20, 1, 30,
                                                                  tzinfo=UTC)

    path = rules.storage_path(settings.media_dir, digest)
    assert path == media(settings) / digest[:2] / digest[2:4] / digest
    assert path.read_bytes() == body
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)  # read-only
    assert stored_files(settings) == [path] and temp_files(settings) == []

    row = await EvidenceFile.select().first()
    assert row["sha256"] == digest and row["size"] == len(body)
    assert row["uploaded_by"] == case["users"]["assessor1"]["id"]
    assert row["assessment"] == case["id"] and row["duration_seconds"] is None  # no moov box
    # ASSIGNED → IN_PROGRESS, without bumping the version an open score form carries.
    assert await state_of(case["id"]) == {"state": "IN_PROGRESS", "version": 1}
    event = await AuditEvent.select().order_by(AuditEvent.seq, ascending=False).first()
    assert (event["action"], event["object_type"], event["object_id"]) == (
        "evidence.uploaded", "assessment", str(case["id"]))
    assert event["actor_id"] == case["users"]["assessor1"]["id"]
    assert digest in event["summary"] and "评估全程.mp4" in event["summary"]


async def test_the_same_bytes_twice_are_one_piece_of_evidence(client, settings) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    body = video()
    first = await put(client, case["id"], body, "video/mp4", csrf)
    events = await audit_count()
    again = await put(client, case["id"], body, "video/mp4", csrf, name="again.mp4")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["original_name"] == "评估全程.mp4"
    assert await EvidenceFile.count() == 1 and await audit_count() == events
    assert len(stored_files(settings)) == 1 and temp_files(settings) == []

    # The other assessor, other bytes: a second piece of evidence.
    csrf = await as_user(client, "assessor2")
    other = await put(client, case["id"], video(seed=1), "video/mp4", csrf)
    assert other.status_code == 201 and await EvidenceFile.count() == 2


async def test_identical_bytes_in_two_cases_share_one_stored_file(client, settings) -> None:
    case = await make_case()
    second = Assessment(
        application=(await Assessment.select(Assessment.application).first())["application"],
        region_path="370983/370983001", kind="reassessment", state="ASSIGNED",
        assessor_1=case["users"]["assessor1"]["id"], assessor_2=case["users"]["assessor2"]["id"],
        draw="{}")
    await second.save()
    csrf = await as_user(client, "assessor1")
    body = photo()
    assert (await put(client, case["id"], body, "image/png", csrf, name="a.png")).status_code == 201
    assert (await put(client, second.id, body, "image/png", csrf, name="b.png")).status_code == 201
    assert await EvidenceFile.count() == 2
    assert len(stored_files(settings)) == 1  # never written twice, never overwritten


async def test_name_from_header_and_unknown_type_decided_by_the_bytes(client, settings) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    response = await put(client, case["id"], photo(head=JPEG_HEAD), "application/octet-stream",
                         {**csrf, "x-evidence-name": quote("现场照片 1.JPG")}, name=None)
    assert response.status_code == 201, response.text
    assert response.json()["original_name"] == "现场照片 1.JPG"
    assert response.json()["content_type"] == "image/jpeg"
    assert response.json()["kind"] == "photo"


async def test_multipart_form_fallback(client, settings) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    body = photo()
    response = await client.post(
        f"/assessments/{case['id']}/evidence",
        data={"_csrf_token": csrf["x-csrftoken"], "recorded_at": "2026-11-20T09:30"},
        files=[("file", ("门口.png", body, "image/png")),
               ("file", ("全程.mp4", video(), "video/mp4"))],
        follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/assessments/{case['id']}"
    rows = await EvidenceFile.select().order_by(EvidenceFile.id)
    assert [(r["original_name"], r["kind"]) for r in rows] == [("门口.png", "photo"),
                                                               ("全程.mp4", "video")]
    # A datetime-local field is Beijing civil time.
    assert rows[0]["recorded_at"] == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    assert rules.storage_path(settings.media_dir, rows[0]["sha256"]).read_bytes() == body
    assert temp_files(settings) == []
    assert (await state_of(case["id"]))["state"] == "IN_PROGRESS"
    page = await client.get("/")
    assert "已上传照片「门口.png」" in page.text and "已上传视频「全程.mp4」" in page.text


async def test_multipart_refusals_are_shown_on_the_page_and_change_nothing(client,
                                                                           settings) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    before = await audit_count()
    for files, message in (
        ([("file", ("notes.txt", b"just text", "text/plain"))], "只能上传 MP4、MOV、WebM"),
        ([("file", ("fake.mp4", photo(), "video/mp4"))], "文件内容与声明的类型不符"),
        ([("file", ("", b"", "application/octet-stream"))], "请先选择要上传的视频或照片"),
    ):
        response = await client.post(f"/assessments/{case['id']}/evidence",
                                  data={"_csrf_token": csrf["x-csrftoken"]}, files=files,
                                  follow_redirects=False)
        assert response.status_code == 303
        assert message in (await client.get("/")).text
    await assert_nothing_stored(settings, case["id"], before)


async def test_declared_mp4_that_is_a_png_is_refused_and_nothing_kept(client, settings) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    before = await audit_count()
    response = await put(client, case["id"], photo(200_000), "video/mp4", csrf)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "evidence_type_mismatch"
    assert "MP4 视频" in error["message"] and "PNG 照片" in error["message"]
    await assert_nothing_stored(settings, case["id"], before)


@pytest.mark.parametrize("content_type", ["text/plain", "application/pdf", "image/gif"])
async def test_disallowed_type_is_refused_before_reading(client, settings, content_type) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    before = await audit_count()
    response = await put(client, case["id"], b"GIF89a or anything else", content_type, csrf)
    assert response.status_code == 415
    assert response.json()["error"] == {
        "code": "evidence_type_not_allowed",
        "message": "只能上传 MP4、MOV、WebM 视频或 JPEG、PNG 照片", "fields": {}}
    await assert_nothing_stored(settings, case["id"], before)


async def test_empty_body_is_refused(client, settings) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    before = await audit_count()
    response = await put(client, case["id"], b"", "video/mp4", csrf)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "evidence_empty"
    await assert_nothing_stored(settings, case["id"], before)


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "unannounced"])
async def test_oversized_upload_is_refused_and_nothing_kept(client, settings, monkeypatch,
                                                            announced) -> None:
    monkeypatch.setattr(rules, "MAX_SIZE", 100_000)
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    before = await audit_count()
    request = client.build_request(
        "PUT", f"/api/v1/assessments/{case['id']}/evidence", content=video(150_000),
        params={"name": "big.mp4"}, headers={**csrf, "content-type": "video/mp4"})
    if not announced:  # no Content-Length (as with chunked encoding): caught while streaming
        del request.headers["content-length"]
    response = await client.send(request)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "evidence_too_large" and "上限" in error["message"]
    await assert_nothing_stored(settings, case["id"], before)
    # At the limit exactly it is fine.
    assert (await put(client, case["id"], video(100_000), "video/mp4", csrf)).status_code == 201


async def test_size_and_type_are_checked_while_streaming(settings) -> None:
    """The stream is abandoned at the first chunk past the limit, or at the first chunk whose
    bytes do not fit, not read to its end."""
    taken = []

    async def chunks(first: bytes, count: int = 100) -> AsyncIterator[bytes]:
        for index in range(count):
            taken.append(index)
            yield first if index == 0 else b"\x00" * 10_000

    with pytest.raises(rules.EvidenceTooLarge):
        await storage.receive(chunks(video(10_000)), "video/mp4", settings.media_dir,
                              max_size=35_000)
    assert len(taken) == 4
    taken.clear()
    with pytest.raises(DomainError) as raised:
        await storage.receive(chunks(photo(10_000)), "video/mp4", settings.media_dir)
    assert raised.value.code == "evidence_type_mismatch" and len(taken) == 1
    taken.clear()
    # A signature split over tiny chunks is still recognised.
    head = video(10_000)

    async def trickle() -> AsyncIterator[bytes]:
        for index in range(len(head)):
            yield head[index:index + 1]

    received = await storage.receive(trickle(), "video/mp4", settings.media_dir)
    assert received.size == len(head)
    assert received.sha256 == hashlib.sha256(head).hexdigest()
    await storage.discard(received)
    assert temp_files(settings) == [] and stored_files(settings) == []


@pytest.mark.parametrize(("name", "params", "code"), [
    (None, {}, "evidence_name_missing"),
    ("a" * 201 + ".mp4", {}, "evidence_name_invalid"),
    ("a.mp4", {"recorded_at": "2026-11-20 09:30"}, "invalid_recorded_at"),  # no zone
    ("a.mp4", {"recorded_at": "not a time"}, "invalid_recorded_at"),
    ("a.mp4", {"recorded_at": "2099-01-01T00:00:00Z"}, "invalid_recorded_at"),
])
async def test_bad_metadata_is_refused(client, settings, name, params, code) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    before = await audit_count()
    response = await put(client, case["id"], video(), "video/mp4", csrf, name=name, **params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    await assert_nothing_stored(settings, case["id"], before)


async def test_only_the_assigned_assessors_may_upload(client, settings) -> None:
    case = await make_case()
    before = await audit_count()
    csrf = await as_user(client, "assessor3")
    response = await put(client, case["id"], video(), "video/mp4", csrf)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_assessor"

    csrf = await as_user(client, "clerk")
    response = await put(client, case["id"], video(), "video/mp4", csrf)
    assert response.status_code == 403 and response.json()["error"]["code"] == "wrong_role"

    # An API token is an integration client, not one of the two people assigned.
    token, _ = await accounts.issue_token(SYSTEM, name="评估App", role="assessor",
                                          region_code="370983", organisation_code="T-A")
    client.cookies.clear()
    response = await put(client, case["id"], video(), "video/mp4",
                         {"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_assessor"
    after_token = await audit_count()  # issuing the token was audited, nothing else
    assert after_token == before + 3  # two sign-ins and the token
    assert await EvidenceFile.count() == 0 and stored_files(settings) == []
    assert temp_files(settings) == []


async def test_unknown_assessment_is_404(client, settings) -> None:
    await make_case()
    csrf = await as_user(client, "assessor1")
    response = await put(client, 9999, video(), "video/mp4", csrf)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "assessment_not_found"


@pytest.mark.parametrize("state", [AssessmentState.SUBMITTED, AssessmentState.CONCLUDED])
async def test_no_upload_once_submitted(client, settings, state) -> None:
    case = await make_case(state)
    csrf = await as_user(client, "assessor1")
    before = await audit_count()
    response = await put(client, case["id"], video(), "video/mp4", csrf)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "assessment_not_editable" and state.label in error["message"]
    await assert_nothing_stored(settings, case["id"], before, state)


async def test_returned_assessment_takes_evidence_and_stays_returned(client, settings) -> None:
    case = await make_case(AssessmentState.RETURNED)
    csrf = await as_user(client, "assessor2")
    assert (await put(client, case["id"], video(), "video/mp4", csrf)).status_code == 201
    assert (await state_of(case["id"]))["state"] == "RETURNED"


async def test_unauthenticated_upload_is_401(client, settings) -> None:
    case = await make_case()
    # A browser whose session has ended: the CSRF pair is still valid, the user is gone.
    csrf = {"x-csrftoken": await csrf_token(client)}
    response = await put(client, case["id"], video(), "video/mp4", csrf)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    client.cookies.clear()
    response = await put(client, case["id"], video(), "video/mp4",
                         {"Authorization": "Bearer ltc_revoked-or-made-up"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    assert await EvidenceFile.count() == 0 and stored_files(settings) == []
    assert temp_files(settings) == []


async def test_browser_upload_without_csrf_header_is_refused(client, settings) -> None:
    case = await make_case()
    await as_user(client, "assessor1")
    before = await audit_count()
    response = await put(client, case["id"], video(), "video/mp4", {})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    await assert_nothing_stored(settings, case["id"], before)


async def test_state_change_during_upload_stores_nothing(database_url, settings) -> None:
    """attach() checks again under lock: a file received while the case was submitted is not
    placed in the store (the caller then drops the temporary file)."""
    case = await make_case()
    from ltc.accounts.service import actor_for_user

    actor = await actor_for_user(case["users"]["assessor1"]["id"])

    async def body() -> AsyncIterator[bytes]:
        yield video()

    received = await storage.receive(body(), "video/mp4", settings.media_dir)
    await Assessment.update({Assessment.state: "SUBMITTED"}).where(Assessment.id == case["id"])
    with pytest.raises(Conflict):
        await service.attach(actor, case["id"], received, "late.mp4")
    await storage.discard(received)
    assert not received.path.exists() and temp_files(settings) == []
    assert await EvidenceFile.count() == 0


async def test_a_large_stream_is_hashed_and_flushed_in_batches(settings) -> None:
    """Past the flush interval, in uneven chunks: the stored bytes and hash are exact."""
    data = video(storage.FLUSH_EVERY + 3 * storage.BATCH_SIZE + 12_345)

    async def body() -> AsyncIterator[bytes]:
        step = 300_001  # not a divisor of any batch size
        for start in range(0, len(data), step):
            yield data[start:start + step]

    stored = await storage.store(body(), "video/mp4", settings.media_dir)
    assert stored.created and stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.path.read_bytes() == data
    assert temp_files(settings) == []
    again = await storage.store(body(), "video/mp4", settings.media_dir)
    assert not again.created and again.path == stored.path
    assert stored_files(settings) == [stored.path] and temp_files(settings) == []


async def test_interrupted_stream_leaves_no_temporary_file(settings) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield video(2_000_000)
        raise DomainError("upload_interrupted", "上传中断", status_code=400)

    with pytest.raises(DomainError) as raised:
        await storage.receive(body(), "video/mp4", settings.media_dir)
    assert raised.value.code == "upload_interrupted"
    assert temp_files(settings) == [] and stored_files(settings) == []


def test_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    directory = rules.temp_dir(tmp_path)
    directory.mkdir(parents=True)
    old, new = directory / "upload-old.part", directory / "upload-new.part"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    os.utime(old, (0, 0))
    assert storage.remove_stale_temps(tmp_path) == 1
    assert not old.exists() and new.exists()


