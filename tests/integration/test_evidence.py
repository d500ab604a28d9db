"""Evidence over HTTP and on disk: streamed upload, multipart fallback, every refusal leaving
nothing behind, Range playback with its audit trail, and verification of the stored bytes."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from conftest import PG_URL, csrf_token, make_user, sign_in
from litestar.testing import AsyncTestClient

from ltc.accounts import service as accounts
from ltc.applications.tables import Application
from ltc.assessments.rules import AssessmentState
from ltc.assessments.tables import Assessment
from ltc.audit.tables import AuditEvent
from ltc.errors import Conflict, DomainError
from ltc.evidence import rules, service, storage
from ltc.evidence.tables import EvidenceFile
from ltc.identity import SYSTEM, Role
from ltc.people.tables import Person
from ltc.regions.tables import Region
from ltc.settings import Settings

pytestmark = pytest.mark.anyio

MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01"


def video(size: int = 3000, seed: int = 0) -> bytes:
    """An MP4-looking file of `size` bytes whose every byte position is distinguishable."""
    body = bytes((i * 7 + seed) % 251 for i in range(size - len(MP4_HEAD)))
    return MP4_HEAD + body


def photo(size: int = 500, head: bytes = PNG_HEAD) -> bytes:
    return head + bytes(i % 256 for i in range(size - len(head)))


# --- setup -------------------------------------------------------------------------------


@pytest.fixture
def web(client: AsyncTestClient) -> AsyncTestClient:
    """The test client (the evidence tests' name for it)."""
    return client


async def make_case(state: AssessmentState = AssessmentState.ASSIGNED,
                    town: str = "370983001") -> dict[str, Any]:
    """Users of every kind, and one assessment in `town` assigned to assessor1 and assessor2."""
    users = {
        "clerk": await make_user(Role.clerk, "clerk"),
        "assessor1": await make_user(Role.assessor, "assessor1"),
        "assessor2": await make_user(Role.assessor, "assessor2"),
        "assessor3": await make_user(Role.assessor, "assessor3"),  # same organisation
        "reviewer": await make_user(Role.reviewer, "reviewer"),
        "far_clerk": await make_user(Role.clerk, "far_clerk", region="370983002"),
        "provider": await make_user(Role.provider, "provider"),
        "admin": await make_user(Role.admin, "admin"),
    }
    region = await Region.select().where(Region.code == town).first()
    person = Person(resident_id="370983194001011238", name="张三", name_initials="zs", sex="M",
                    birth_date=date(1940, 1, 1), phone="13800000000", address="新城街道幸福村1号",
                    village=region["id"], region_path=region["path"])
    await person.save()
    application = Application(
        number="SQ20261122001", person=person.id, region_path=region["path"], state="ASSIGNED",
        applicant_name="张三", applicant_relation="本人", applicant_phone="13800000000",
        disabled_since=date(2026, 1, 1), created_by=users["clerk"]["id"])
    await application.save()
    assessment = Assessment(
        application=application.id, region_path=region["path"], kind="initial",
        state=str(state), assessor_1=users["assessor1"]["id"],
        assessor_2=users["assessor2"]["id"], draw="{}")
    await assessment.save()
    return {"id": assessment.id, "users": users}


async def as_user(client: AsyncTestClient, username: str) -> dict[str, str]:
    """Sign in (replacing any previous session); the CSRF header a browser's script sends."""
    response = await sign_in(client, username)
    assert response.status_code in (302, 303), response.text
    return {"x-csrftoken": client.cookies.get("ltc_csrf")}


async def put(client: AsyncTestClient, assessment_id: int, body: Any, content_type: str,
              headers: dict[str, str], name: str | None = "评估全程.mp4",
              **params: str) -> Any:
    if name is not None:
        params["name"] = name
    return await client.put(f"/api/v1/assessments/{assessment_id}/evidence", content=body,
                            params=params, headers={**headers, "content-type": content_type})


def media(settings: Settings) -> Path:
    return settings.media_dir / "evidence"


def stored_files(settings: Settings) -> list[Path]:
    """Every file in the content-addressed store (not counting uploads in flight)."""
    root = media(settings)
    if not root.exists():
        return []
    return [p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts]


def temp_files(settings: Settings) -> list[Path]:
    directory = rules.temp_dir(settings.media_dir)
    return list(directory.iterdir()) if directory.exists() else []


async def state_of(assessment_id: int) -> dict[str, Any]:
    return await Assessment.select(Assessment.state, Assessment.version).where(
        Assessment.id == assessment_id).first()


async def assert_nothing_stored(settings: Settings, assessment_id: int, audit_before: int,
                                state: AssessmentState = AssessmentState.ASSIGNED) -> None:
    assert await EvidenceFile.count() == 0
    assert stored_files(settings) == []
    assert temp_files(settings) == []
    assert await AuditEvent.count() == audit_before
    assert (await state_of(assessment_id))["state"] == state


async def audit_count() -> int:
    return await AuditEvent.count()


# --- upload --------------------------------------------------------------------------------


async def test_assessor_streams_a_video_that_is_stored_by_hash_and_audited(web, settings) -> None:
    case = await make_case()
    csrf = await as_user(web, "assessor1")
    body = video(300_000)
    digest = hashlib.sha256(body).hexdigest()

    response = await put(web, case["id"], body, "video/mp4", csrf,
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
    assert row["assessment"] == case["id"] and row["duration_seconds"] is None  # no ffprobe
    # ASSIGNED → IN_PROGRESS, without bumping the version an open score form carries.
    assert await state_of(case["id"]) == {"state": "IN_PROGRESS", "version": 1}
    event = await AuditEvent.select().order_by(AuditEvent.seq, ascending=False).first()
    assert (event["action"], event["object_type"], event["object_id"]) == (
        "evidence.uploaded", "assessment", str(case["id"]))
    assert event["actor_id"] == case["users"]["assessor1"]["id"]
    assert digest in event["summary"] and "评估全程.mp4" in event["summary"]


async def test_the_same_bytes_twice_are_one_piece_of_evidence(web, settings) -> None:
    case = await make_case()
    csrf = await as_user(web, "assessor1")
    body = video()
    first = await put(web, case["id"], body, "video/mp4", csrf)
    events = await audit_count()
    again = await put(web, case["id"], body, "video/mp4", csrf, name="again.mp4")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["original_name"] == "评估全程.mp4"
    assert await EvidenceFile.count() == 1 and await audit_count() == events
    assert len(stored_files(settings)) == 1 and temp_files(settings) == []

    # The other assessor, other bytes: a second piece of evidence.
    csrf = await as_user(web, "assessor2")
    other = await put(web, case["id"], video(seed=1), "video/mp4", csrf)
    assert other.status_code == 201 and await EvidenceFile.count() == 2


async def test_identical_bytes_in_two_cases_share_one_stored_file(web, settings) -> None:
    case = await make_case()
    second = Assessment(
        application=(await Assessment.select(Assessment.application).first())["application"],
        region_path="370983/370983001", kind="reassessment", state="ASSIGNED",
        assessor_1=case["users"]["assessor1"]["id"], assessor_2=case["users"]["assessor2"]["id"],
        draw="{}")
    await second.save()
    csrf = await as_user(web, "assessor1")
    body = photo()
    assert (await put(web, case["id"], body, "image/png", csrf, name="a.png")).status_code == 201
    assert (await put(web, second.id, body, "image/png", csrf, name="b.png")).status_code == 201
    assert await EvidenceFile.count() == 2
    assert len(stored_files(settings)) == 1  # never written twice, never overwritten


async def test_name_from_header_and_unknown_type_decided_by_the_bytes(web, settings) -> None:
    case = await make_case()
    csrf = await as_user(web, "assessor1")
    response = await put(web, case["id"], photo(head=JPEG_HEAD), "application/octet-stream",
                         {**csrf, "x-evidence-name": quote("现场照片 1.JPG")}, name=None)
    assert response.status_code == 201, response.text
    assert response.json()["original_name"] == "现场照片 1.JPG"
    assert response.json()["content_type"] == "image/jpeg"
    assert response.json()["kind"] == "photo"


async def test_multipart_form_fallback(web, settings) -> None:
    case = await make_case()
    csrf = await as_user(web, "assessor1")
    body = photo()
    response = await web.post(
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
    page = await web.get("/")
    assert "已上传照片「门口.png」" in page.text and "已上传视频「全程.mp4」" in page.text


async def test_multipart_refusals_are_shown_on_the_page_and_change_nothing(web, settings) -> None:
    case = await make_case()
    csrf = await as_user(web, "assessor1")
    before = await audit_count()
    for files, message in (
        ([("file", ("notes.txt", b"just text", "text/plain"))], "只能上传 MP4、MOV、WebM"),
        ([("file", ("fake.mp4", photo(), "video/mp4"))], "文件内容与声明的类型不符"),
        ([("file", ("", b"", "application/octet-stream"))], "请先选择要上传的视频或照片"),
    ):
        response = await web.post(f"/assessments/{case['id']}/evidence",
                                  data={"_csrf_token": csrf["x-csrftoken"]}, files=files,
                                  follow_redirects=False)
        assert response.status_code == 303
        assert message in (await web.get("/")).text
    await assert_nothing_stored(settings, case["id"], before)


async def test_declared_mp4_that_is_a_png_is_refused_and_nothing_kept(web, settings) -> None:
    case = await make_case()
    csrf = await as_user(web, "assessor1")
    before = await audit_count()
    response = await put(web, case["id"], photo(200_000), "video/mp4", csrf)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "evidence_type_mismatch"
    assert "MP4 视频" in error["message"] and "PNG 照片" in error["message"]
    await assert_nothing_stored(settings, case["id"], before)


@pytest.mark.parametrize("content_type", ["text/plain", "application/pdf", "image/gif"])
async def test_disallowed_type_is_refused_before_reading(web, settings, content_type) -> None:
    case = await make_case()
    csrf = await as_user(web, "assessor1")
    before = await audit_count()
    response = await put(web, case["id"], b"GIF89a or anything else", content_type, csrf)
    assert response.status_code == 415
    assert response.json()["error"] == {
        "code": "evidence_type_not_allowed",
        "message": "只能上传 MP4、MOV、WebM 视频或 JPEG、PNG 照片"}
    await assert_nothing_stored(settings, case["id"], before)


async def test_empty_body_is_refused(web, settings) -> None:
    case = await make_case()
    csrf = await as_user(web, "assessor1")
    before = await audit_count()
    response = await put(web, case["id"], b"", "video/mp4", csrf)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "evidence_empty"
    await assert_nothing_stored(settings, case["id"], before)


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "unannounced"])
async def test_oversized_upload_is_refused_and_nothing_kept(web, settings, monkeypatch,
                                                            announced) -> None:
    monkeypatch.setattr(rules, "MAX_SIZE", 100_000)
    case = await make_case()
    csrf = await as_user(web, "assessor1")
    before = await audit_count()
    request = web.build_request(
        "PUT", f"/api/v1/assessments/{case['id']}/evidence", content=video(150_000),
        params={"name": "big.mp4"}, headers={**csrf, "content-type": "video/mp4"})
    if not announced:  # no Content-Length (as with chunked encoding): caught while streaming
        del request.headers["content-length"]
    response = await web.send(request)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "evidence_too_large" and "上限" in error["message"]
    await assert_nothing_stored(settings, case["id"], before)
    # At the limit exactly it is fine.
    assert (await put(web, case["id"], video(100_000), "video/mp4", csrf)).status_code == 201


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
async def test_bad_metadata_is_refused(web, settings, name, params, code) -> None:
    case = await make_case()
    csrf = await as_user(web, "assessor1")
    before = await audit_count()
    response = await put(web, case["id"], video(), "video/mp4", csrf, name=name, **params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    await assert_nothing_stored(settings, case["id"], before)


async def test_only_the_assigned_assessors_may_upload(web, settings) -> None:
    case = await make_case()
    before = await audit_count()
    csrf = await as_user(web, "assessor3")
    response = await put(web, case["id"], video(), "video/mp4", csrf)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_assessor"

    csrf = await as_user(web, "clerk")
    response = await put(web, case["id"], video(), "video/mp4", csrf)
    assert response.status_code == 403 and response.json()["error"]["code"] == "wrong_role"

    # An API token is an integration client, not one of the two people assigned.
    token, _ = await accounts.issue_token(SYSTEM, name="评估App", role="assessor",
                                          region_code="370983", organisation_code="T-A")
    web.cookies.clear()
    response = await put(web, case["id"], video(), "video/mp4",
                         {"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_assessor"
    after_token = await audit_count()  # issuing the token was audited, nothing else
    assert after_token == before + 3  # two sign-ins and the token
    assert await EvidenceFile.count() == 0 and stored_files(settings) == []
    assert temp_files(settings) == []


async def test_unknown_assessment_is_404(web, settings) -> None:
    await make_case()
    csrf = await as_user(web, "assessor1")
    response = await put(web, 9999, video(), "video/mp4", csrf)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "assessment_not_found"


@pytest.mark.parametrize("state", [AssessmentState.SUBMITTED, AssessmentState.CONCLUDED])
async def test_no_upload_once_submitted(web, settings, state) -> None:
    case = await make_case(state)
    csrf = await as_user(web, "assessor1")
    before = await audit_count()
    response = await put(web, case["id"], video(), "video/mp4", csrf)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "assessment_not_editable" and state.label in error["message"]
    await assert_nothing_stored(settings, case["id"], before, state)


async def test_returned_assessment_takes_evidence_and_stays_returned(web, settings) -> None:
    case = await make_case(AssessmentState.RETURNED)
    csrf = await as_user(web, "assessor2")
    assert (await put(web, case["id"], video(), "video/mp4", csrf)).status_code == 201
    assert (await state_of(case["id"]))["state"] == "RETURNED"


async def test_unauthenticated_upload_is_401(web, settings) -> None:
    case = await make_case()
    # A browser whose session has ended: the CSRF pair is still valid, the user is gone.
    csrf = {"x-csrftoken": await csrf_token(web)}
    response = await put(web, case["id"], video(), "video/mp4", csrf)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    web.cookies.clear()
    response = await put(web, case["id"], video(), "video/mp4",
                         {"Authorization": "Bearer ltc_revoked-or-made-up"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    assert await EvidenceFile.count() == 0 and stored_files(settings) == []
    assert temp_files(settings) == []


async def test_browser_upload_without_csrf_header_is_refused(web, settings) -> None:
    case = await make_case()
    await as_user(web, "assessor1")
    before = await audit_count()
    response = await put(web, case["id"], video(), "video/mp4", {})
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


def test_duration_comes_from_ffprobe_when_installed(tmp_path: Path) -> None:
    fake = tmp_path / "ffprobe"
    fake.write_text("#!/bin/sh\necho 12.5\n")
    fake.chmod(0o755)
    broken = tmp_path / "broken-ffprobe"
    broken.write_text("#!/bin/sh\necho 'moov atom not found' >&2\nexit 1\n")
    broken.chmod(0o755)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(video())
    assert storage.probe_duration(clip, str(fake)) == 12.5
    assert storage.probe_duration(clip, str(broken)) is None
    assert storage.probe_duration(clip, str(tmp_path / "missing")) is None


def test_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    directory = rules.temp_dir(tmp_path)
    directory.mkdir(parents=True)
    old, new = directory / "upload-old.part", directory / "upload-new.part"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    os.utime(old, (0, 0))
    assert storage.remove_stale_temps(tmp_path) == 1
    assert not old.exists() and new.exists()


# --- playback ------------------------------------------------------------------------------


async def upload_video(web, case, size: int = 1_300_000) -> tuple[dict[str, Any], bytes]:
    """A video uploaded by assessor1 (larger than one playback chunk)."""
    csrf = await as_user(web, "assessor1")
    body = video(size)
    response = await put(web, case["id"], body, "video/mp4", csrf)
    assert response.status_code == 201
    return response.json(), body


async def test_playback_whole_file_and_ranges(web, settings) -> None:
    case = await make_case()
    out, body = await upload_video(web, case)
    url = out["url"]

    full = await web.get(url)
    assert full.status_code == 200 and full.content == body
    assert full.headers["content-type"] == "video/mp4"
    assert full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-length"] == str(len(body))
    assert full.headers["cache-control"] == "private, no-store"
    assert full.headers["etag"] == f'"{out["sha256"]}"'
    assert "content-range" not in full.headers

    for header, start, end in (("bytes=0-", 0, len(body) - 1),
                               ("bytes=100-199", 100, 199),
                               ("bytes=600000-", 600_000, len(body) - 1),
                               ("bytes=-10", len(body) - 10, len(body) - 1),
                               ("bytes=1299990-9999999", 1_299_990, len(body) - 1)):
        part = await web.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.content == body[start:end + 1], header
        assert part.headers["content-range"] == f"bytes {start}-{end}/{len(body)}"
        assert part.headers["content-length"] == str(end - start + 1)
        assert part.headers["accept-ranges"] == "bytes"

    for header in ("bytes=1300000-", "bytes=5-3", "bytes=-0"):
        refused = await web.get(url, headers={"Range": header})
        assert refused.status_code == 416, header
        assert refused.headers["content-range"] == f"bytes */{len(body)}"

    ignored = await web.get(url, headers={"Range": "bytes=0-1,5-6"})  # several: whole file
    assert ignored.status_code == 200 and ignored.content == body


async def test_reviewer_in_region_may_view_and_each_view_is_audited(web, settings) -> None:
    case = await make_case()
    out, body = await upload_video(web, case, 5_000)
    await as_user(web, "reviewer")
    before = await audit_count()
    response = await web.get(out["url"], headers={"Range": "bytes=0-"})
    assert response.status_code == 206 and response.content == body
    event = await AuditEvent.select().order_by(AuditEvent.seq, ascending=False).first()
    assert (event["action"], event["object_type"], event["object_id"]) == (
        "evidence.viewed", "assessment", str(case["id"]))
    assert event["actor_id"] == case["users"]["reviewer"]["id"]
    assert event["actor_role"] == "reviewer" and out["sha256"] in event["summary"]
    assert await audit_count() == before + 1
    # The player's further Range requests within a minute are the same view.
    await web.get(out["url"], headers={"Range": "bytes=4000-"})
    assert await audit_count() == before + 1
    # Another person's view is its own event.
    await as_user(web, "clerk")
    assert (await web.get(out["url"])).status_code == 200
    actions = await AuditEvent.select(AuditEvent.action, AuditEvent.actor_id).order_by(
        AuditEvent.seq, ascending=False).limit(1)
    assert actions[0] == {"action": "evidence.viewed",
                          "actor_id": case["users"]["clerk"]["id"]}


async def test_service_records_every_view_without_a_dedupe_window(web, settings) -> None:
    case = await make_case()
    out, _ = await upload_video(web, case, 5_000)
    actor = await accounts.actor_for_user(case["users"]["assessor2"]["id"])
    before = await audit_count()
    for _ in range(2):
        row, path = await service.open_for_viewing(actor, out["id"], settings.media_dir)
        assert path.is_file() and row["id"] == out["id"]
    assert await audit_count() == before + 2
    recent = service.RecentViews(window_seconds=60)
    for _ in range(3):
        await service.open_for_viewing(actor, out["id"], settings.media_dir, recent=recent)
    assert await audit_count() == before + 3


@pytest.mark.parametrize(("username", "status", "code"), [
    ("far_clerk", 403, "evidence_forbidden"),  # another town
    ("assessor3", 403, "evidence_forbidden"),  # same organisation, not assigned
    ("provider", 403, "wrong_role"),
    ("admin", 403, "wrong_role"),
])
async def test_others_may_not_view(web, settings, username, status, code) -> None:
    case = await make_case()
    out, _ = await upload_video(web, case, 5_000)
    await as_user(web, username)
    before = await audit_count()
    response = await web.get(out["url"])
    assert response.status_code == status
    assert code in response.text and "无权" in response.text  # the Chinese error page
    assert await audit_count() == before + 0
    api = await web.get(f"/api/v1/assessments/{case['id']}/evidence")
    assert api.status_code == 403 and api.json()["error"]["code"] == code


async def test_unauthenticated_playback_goes_to_login(web, settings) -> None:
    case = await make_case()
    out, _ = await upload_video(web, case, 5_000)
    web.cookies.clear()
    response = await web.get(out["url"], follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login?next=/evidence/")


async def test_missing_evidence_is_404(web, settings) -> None:
    await make_case()
    await as_user(web, "reviewer")
    assert (await web.get("/evidence/9999")).status_code == 404


async def test_api_lists_the_evidence_of_an_assessment(web, settings) -> None:
    case = await make_case()
    out, _ = await upload_video(web, case, 5_000)
    await as_user(web, "reviewer")
    listing = await web.get(f"/api/v1/assessments/{case['id']}/evidence")
    assert listing.status_code == 200
    assert [item["id"] for item in listing.json()] == [out["id"]]
    assert listing.json()[0]["uploaded_by"] == "测试评估员"
    schema = (await web.get("/schema/openapi.json")).json()
    assert "put" in schema["paths"]["/api/v1/assessments/{assessment_id}/evidence"]


async def test_upload_partial_renders_the_list_and_the_form(web, settings) -> None:
    case = await make_case()
    out, _ = await upload_video(web, case, 5_000)
    rows = await service.list_for_assessment(
        await accounts.actor_for_user(case["users"]["assessor1"]["id"]), case["id"])
    template = web.app.template_engine.get_template("evidence/_upload.html")
    html = template.render(assessment={"id": case["id"]}, evidence=rows, can_upload=True)
    assert f'href="/evidence/{out["id"]}"' in html and "评估全程.mp4" in html
    assert f'action="/assessments/{case["id"]}/evidence"' in html
    assert f'data-put-url="/api/v1/assessments/{case["id"]}/evidence"' in html
    assert 'enctype="multipart/form-data"' in html and "4 KB" not in html and "5 KB" in html
    readonly = template.render(assessment={"id": case["id"]}, evidence=[], can_upload=False)
    assert "<form" not in readonly and "尚未上传" in readonly
    script = await web.get("/static/upload.js")
    assert script.status_code == 200 and "x-csrftoken" in script.text


# --- verification --------------------------------------------------------------------------


async def three_stored_files(web, case) -> list[dict[str, Any]]:
    csrf = await as_user(web, "assessor1")
    rows = []
    for seed in range(3):
        response = await put(web, case["id"], video(4_000, seed), "video/mp4", csrf,
                             name=f"{seed}.mp4")
        assert response.status_code == 201
        rows.append(response.json())
    return rows


def tamper(path: Path, data: bytes | None) -> None:
    path.chmod(0o644)
    if data is None:
        path.unlink()
    else:
        path.write_bytes(data)


async def test_verify_finds_changed_truncated_and_missing_files(web, settings) -> None:
    case = await make_case()
    rows = await three_stored_files(web, case)
    assert await service.verify_all(settings.media_dir) == []
    assert await service.verify_report(settings.media_dir) == (3, [])

    paths = [rules.storage_path(settings.media_dir, row["sha256"]) for row in rows]
    original = paths[0].read_bytes()
    tamper(paths[0], original[:-1] + bytes([original[-1] ^ 1]))  # same size, one bit
    tamper(paths[1], paths[1].read_bytes()[:100])
    tamper(paths[2], None)
    problems = await service.verify_all(settings.media_dir)
    found = {p.sha256: (p.kind, p.evidence_ids) for p in problems}
    assert found == {rows[0]["sha256"]: ("hash_mismatch", (rows[0]["id"],)),
                     rows[1]["sha256"]: ("size_mismatch", (rows[1]["id"],)),
                     rows[2]["sha256"]: ("missing", (rows[2]["id"],))}
    # Playback refuses a file that is not what was recorded rather than serve a wrong length.
    await as_user(web, "reviewer")
    assert (await web.get(rows[2]["url"])).status_code == 500


def evidence_cli(settings: Settings, database_url: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    env = {**clean, "LTC_VAR_DIR": str(settings.var_dir), "LTC_DATABASE_URL": database_url,
           "LTC_MEDIA_DIR": str(settings.media_dir), "LTC_DATABASE_POOL_SIZE": "0"}
    if PG_URL:  # production-shaped settings need these; verify contacts neither broker nor key
        env |= {"LTC_BROKER_URL": "redis://127.0.0.1:6379/0", "LTC_SECRET_KEY": "k" * 40}
    return subprocess.run([sys.executable, "-m", "ltc.evidence.cli", "verify"], env=env,
                          capture_output=True, text=True, timeout=120)


async def test_verify_command_exit_codes(web, settings, database_url) -> None:
    case = await make_case()
    rows = await three_stored_files(web, case)
    ok = evidence_cli(settings, database_url)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "3 files verified"

    path = rules.storage_path(settings.media_dir, rows[1]["sha256"])
    tamper(path, b"\x00" * path.stat().st_size)
    bad = evidence_cli(settings, database_url)
    assert bad.returncode == 1, bad.stderr
    assert f"HASH_MISMATCH {path}" in bad.stdout and f"evidence {rows[1]['id']}" in bad.stdout
    assert "1 of 3 stored files do not match their records" in bad.stdout
