"""Resumable evidence uploads (tus 1.0): the protocol's answers, every refusal leaving the
upload as it was, completion stored exactly as a streamed PUT, and expired partials removed."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from support.evidence_cases import as_user, make_case, stored_files, temp_files, video

from ltc import clock
from ltc.assessments.rules import AssessmentState
from ltc.assessments.tables import Assessment
from ltc.audit.tables import AuditEvent
from ltc.evidence import resumable, rules, tus_rules
from ltc.evidence.tables import EvidenceFile, ResumableUpload

pytestmark = pytest.mark.anyio

TUS = {"Tus-Resumable": "1.0.0"}


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


async def create(client, headers, assessment_id: int, length: int,
                 filetype: str = "video/mp4", name: str = "现场视频.mp4"):
    return await client.post("/api/v1/uploads", headers={
        **headers, **TUS, "Upload-Length": str(length),
        "Upload-Metadata": metadata(assessment_id=str(assessment_id), filename=name,
                                    filetype=filetype)})


async def patch(client, headers, location: str, offset: int, body: bytes,
                content_type: str = tus_rules.PATCH_TYPE):
    return await client.patch(location, content=body, headers={
        **headers, **TUS, "Upload-Offset": str(offset), "Content-Type": content_type})


async def test_an_upload_in_three_patches_becomes_evidence_as_a_put_would(client,
                                                                          settings) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    body = video(300_000)
    options = await client.options("/api/v1/uploads", headers=csrf)
    assert options.headers["tus-version"] == "1.0.0"
    assert options.headers["tus-extension"] == "creation,expiration,termination"
    assert options.headers["tus-max-size"] == str(rules.MAX_SIZE)

    created = await create(client, csrf, case["id"], len(body))
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    assert created.headers["upload-expires"].endswith("GMT")
    for start, end in ((0, 100_000), (100_000, 250_000)):
        answer = await patch(client, csrf, location, start, body[start:end])
        assert answer.status_code == 204, answer.text
        assert answer.headers["upload-offset"] == str(end)
        assert "evidence-id" not in answer.headers
    head = await client.head(location, headers={**csrf, **TUS})
    assert head.headers["upload-offset"] == "250000"
    assert head.headers["upload-length"] == str(len(body))
    # As if another app process took the last PATCH: it has no hash of the bytes so far, and
    # hashes the whole file at the end instead.
    resumable._HASHERS.clear()
    last = await patch(client, csrf, location, 250_000, body[250_000:])
    assert last.status_code == 204, last.text
    assert last.headers["evidence-created"] == "1"

    row = await EvidenceFile.select().where(
        EvidenceFile.id == int(last.headers["evidence-id"])).first()
    assert row["sha256"] == hashlib.sha256(body).hexdigest() and row["size"] == len(body)
    assert row["original_name"] == "现场视频.mp4" and row["content_type"] == "video/mp4"
    assert [p.name for p in stored_files(settings)] == [row["sha256"]]
    assert temp_files(settings) == []  # the partial file was linked into the store, then gone
    actions = [e["action"] for e in await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.object_id == str(case["id"]))]
    assert actions.count("evidence.upload_started") == 1
    assert actions.count("evidence.uploaded") == 1
    # A client whose last answer was lost asks again: the upload is complete.
    again = await client.head(location, headers={**csrf, **TUS})
    assert again.headers["upload-offset"] == str(len(body))


async def test_patch_refusals_change_nothing(client, settings) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    body = video(50_000)
    location = (await create(client, csrf, case["id"], len(body))).headers["location"]
    assert (await patch(client, csrf, location, 0, body[:10_000])).status_code == 204

    wrong_offset = await patch(client, csrf, location, 5_000, body[5_000:20_000])
    assert wrong_offset.status_code == 409
    assert wrong_offset.json()["error"]["code"] == "tus_offset_mismatch"
    wrong_type = await patch(client, csrf, location, 10_000, body[10_000:20_000],
                             content_type="video/mp4")
    assert wrong_type.status_code == 415
    beyond = await patch(client, csrf, location, 10_000, body[10_000:] + b"extra")
    assert beyond.status_code == 413
    no_version = await client.head(location, headers=csrf)
    assert no_version.status_code == 412

    # Nothing of the refused PATCHes counted; the beyond-length one kept only whole batches
    # written before its last chunk, and the offset says exactly what is on disk.
    offset = int((await client.head(location, headers={**csrf, **TUS})).headers["upload-offset"])
    part = resumable.partial_path(settings.media_dir, location.rsplit("/", 1)[1])
    assert part.stat().st_size == offset and part.read_bytes() == body[:offset]
    done = await patch(client, csrf, location, offset, body[offset:])
    assert done.status_code == 204 and "evidence-id" in done.headers


async def test_another_users_upload_is_not_found(client) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    location = (await create(client, csrf, case["id"], 5000)).headers["location"]
    other = await as_user(client, "assessor2")  # the same assessment's other assessor
    assert (await client.head(location, headers={**other, **TUS})).status_code == 404
    assert (await patch(client, other, location, 0, video(5000))).status_code == 404
    assert (await client.delete(location, headers={**other, **TUS})).status_code == 404
    assert await ResumableUpload.count() == 1


async def test_creation_is_refused_before_any_byte(client) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor3")  # not assigned to the case
    refused = await create(client, csrf, case["id"], 5000)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_assessor"
    csrf = await as_user(client, "assessor1")
    too_big = await create(client, csrf, case["id"], rules.MAX_SIZE + 1)
    assert too_big.status_code == 413
    wrong_type = await create(client, csrf, case["id"], 5000, filetype="application/pdf",
                              name="x.pdf")
    assert wrong_type.status_code == 415
    no_purpose = await client.post("/api/v1/uploads", headers={
        **csrf, **TUS, "Upload-Length": "5000", "Upload-Metadata": metadata(filename="a.mp4")})
    assert no_purpose.status_code == 422
    assert no_purpose.json()["error"]["code"] == "tus_missing_purpose"
    missing = await create(client, csrf, 999_999, 5000)
    assert missing.status_code == 404
    await Assessment.update({Assessment.state: str(AssessmentState.SUBMITTED)}).where(
        Assessment.id == case["id"])
    submitted = await create(client, csrf, case["id"], 5000)
    assert submitted.status_code == 409
    assert submitted.json()["error"]["code"] == "assessment_not_editable"
    assert await ResumableUpload.count() == 0


async def test_one_user_cannot_keep_more_than_three_or_too_large_uploads_open(
        client) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    locations = [(await create(client, csrf, case["id"], 5000)).headers["location"]
                 for _ in range(3)]
    fourth = await create(client, csrf, case["id"], 5000)
    assert fourth.status_code == 409
    assert fourth.json()["error"]["code"] == "tus_too_many_open"
    assert "未完成的上传" in fourth.json()["error"]["message"]
    assert await ResumableUpload.count() == 3
    # One cancelled and one expired: room for two again, then their sizes are the bound.
    assert (await client.delete(locations[0], headers={**csrf, **TUS})).status_code == 204
    await ResumableUpload.update({ResumableUpload.expires_at: clock.now() - timedelta(
        minutes=1)}).where(ResumableUpload.key == locations[1].rsplit("/", 1)[1])
    assert (await create(client, csrf, case["id"], rules.MAX_SIZE)).status_code == 201
    too_much = await create(client, csrf, case["id"], rules.MAX_SIZE)  # 2 × MAX + 5000
    assert too_much.status_code == 413
    assert too_much.json()["error"]["code"] == "tus_open_too_large"
    assert await ResumableUpload.count() == 3  # the expired one awaits its purge
    # Another assessor's uploads are theirs: not counted against this one.
    other = await as_user(client, "assessor2")
    assert (await create(client, other, case["id"], 5000)).status_code == 201


async def test_refused_bytes_are_removed_at_the_end(client, settings) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    body = b"not a video at all" * 100
    location = (await create(client, csrf, case["id"], len(body))).headers["location"]
    answer = await patch(client, csrf, location, 0, body)
    assert answer.status_code in (415, 422), answer.text
    assert answer.json()["error"]["code"].startswith("evidence_type")
    assert await ResumableUpload.count() == 0 and await EvidenceFile.count() == 0
    assert temp_files(settings) == [] and stored_files(settings) == []


async def test_delete_terminates(client, settings) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    location = (await create(client, csrf, case["id"], 5000)).headers["location"]
    await patch(client, csrf, location, 0, video(5000)[:2000])
    gone = await client.delete(location, headers={**csrf, **TUS})
    assert gone.status_code == 204
    assert (await client.head(location, headers={**csrf, **TUS})).status_code == 404
    assert temp_files(settings) == []
    assert await AuditEvent.count().where(AuditEvent.action == "evidence.upload_cancelled") == 1


async def test_expired_uploads_answer_gone_and_are_purged(client, settings) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    kept = (await create(client, csrf, case["id"], 5000)).headers["location"]
    await patch(client, csrf, kept, 0, video(5000)[:1000])
    old = (await create(client, csrf, case["id"], 6000)).headers["location"]
    await patch(client, csrf, old, 0, video(6000)[:3000])
    await ResumableUpload.update({ResumableUpload.expires_at: clock.now() - timedelta(
        minutes=1)}).where(ResumableUpload.key == old.rsplit("/", 1)[1])

    assert (await client.head(old, headers={**csrf, **TUS})).status_code == 410
    assert (await patch(client, csrf, old, 3000, video(6000)[3000:])).status_code == 410
    assert await resumable.purge_expired(settings.media_dir) == 1
    assert (await client.head(old, headers={**csrf, **TUS})).status_code == 404
    assert (await client.head(kept, headers={**csrf, **TUS})).status_code == 200
    assert [p.name for p in temp_files(settings)] == [f"tus-{kept.rsplit('/', 1)[1]}.part"]
    assert await AuditEvent.count().where(AuditEvent.action == "evidence.upload_expired") == 1
    # Three days on, the other one has gone the same way.
    with clock.travel_to(clock.now() + timedelta(hours=settings.upload_keep_hours, minutes=1)):
        assert await resumable.purge_expired(settings.media_dir) == 1
    assert await ResumableUpload.count() == 0 and temp_files(settings) == []


async def test_an_upload_whose_bytes_were_lost_is_gone_not_filled_in(client, settings) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    body = video(5000)
    location = (await create(client, csrf, case["id"], len(body))).headers["location"]
    await patch(client, csrf, location, 0, body[:2000])
    resumable.partial_path(settings.media_dir, location.rsplit("/", 1)[1]).unlink()
    lost = await patch(client, csrf, location, 2000, body[2000:])
    assert lost.status_code == 410 and lost.json()["error"]["code"] == "upload_lost"
    assert await ResumableUpload.count() == 0 and await EvidenceFile.count() == 0


async def test_a_write_that_fails_midway_is_neither_hashed_nor_counted(client, settings,
                                                                       monkeypatch) -> None:
    """Disk full in the middle of a PATCH: the resumed upload is stored under the SHA-256 of
    its bytes, not of bytes that never reached the file."""
    import errno

    from ltc.evidence import storage

    case = await make_case()
    csrf = await as_user(client, "assessor1")
    body = video(300_000)
    location = (await create(client, csrf, case["id"], len(body))).headers["location"]
    assert (await patch(client, csrf, location, 0, body[:100_000])).status_code == 204
    real_write, failed = storage.os.write, []

    def disk_full_once(fd, data):
        if not failed:
            failed.append(True)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(storage.os, "write", disk_full_once)
    refused = await patch(client, csrf, location, 100_000, body[100_000:200_000])
    assert refused.status_code == 507 and failed
    monkeypatch.setattr(storage.os, "write", real_write)
    offset = int((await client.head(location, headers={**csrf, **TUS})).headers["upload-offset"])
    assert offset == 100_000  # nothing of the failed PATCH counted
    last = await patch(client, csrf, location, offset, body[offset:])
    assert last.status_code == 204, last.text
    row = await EvidenceFile.select().where(
        EvidenceFile.id == int(last.headers["evidence-id"])).first()
    assert row["sha256"] == hashlib.sha256(body).hexdigest()
    assert [p.name for p in stored_files(settings)] == [row["sha256"]]


async def test_an_upload_whose_attaching_failed_is_attached_by_the_next_head(
        client, settings, monkeypatch) -> None:
    """Every byte stored, then attaching failed (a crash): tus-js-client takes the full
    offset of its next HEAD for success, so that HEAD attaches the file and names it."""
    from ltc.evidence import service

    case = await make_case()
    csrf = await as_user(client, "assessor1")
    body = video(120_000)
    location = (await create(client, csrf, case["id"], len(body))).headers["location"]
    real_attach = service.attach

    async def crash(*args, **kwargs):
        raise RuntimeError("the process died here")

    monkeypatch.setattr(service, "attach", crash)
    assert (await patch(client, csrf, location, 0, body)).status_code == 500
    assert await EvidenceFile.count() == 0
    monkeypatch.setattr(service, "attach", real_attach)
    head = await client.head(location, headers={**csrf, **TUS})
    assert head.status_code == 200 and head.headers["upload-offset"] == str(len(body))
    evidence_id = int(head.headers["evidence-id"])
    row = await EvidenceFile.select().where(EvidenceFile.id == evidence_id).first()
    assert row["sha256"] == hashlib.sha256(body).hexdigest()
    # The re-sent last PATCH, and another HEAD, name the same evidence: attached once.
    again = await patch(client, csrf, location, len(body), b"")
    assert again.status_code == 204 and again.headers["evidence-id"] == str(evidence_id)
    head = await client.head(location, headers={**csrf, **TUS})
    assert head.headers["evidence-id"] == str(evidence_id) and await EvidenceFile.count() == 1
