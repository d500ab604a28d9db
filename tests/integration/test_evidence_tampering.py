"""Tampered evidence and documents are not served (issue 13 item 6): a stored video or
generated document whose bytes no longer match the recorded SHA-256 is refused with a clear
message and audited, and `ltc evidence verify` names it; intact files are served and pass."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import make_user, sign_in
from support.evidence_cases import as_user, evidence_cli, make_case, put, tamper, video

from ltc import documents
from ltc.agreements.tables import Agreement
from ltc.audit.tables import AuditEvent
from ltc.evidence import rules

pytestmark = pytest.mark.anyio


async def _events(action: str) -> list[dict]:
    return await AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.seq)


def _flip_last_byte(path: Path) -> None:
    data = path.read_bytes()
    tamper(path, data[:-1] + bytes([data[-1] ^ 1]))


async def test_a_changed_video_is_not_played_and_the_attempt_is_audited(client, settings) -> None:
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    body = video(40_000)
    out = (await put(client, case["id"], body, "video/mp4", csrf)).json()
    path = rules.storage_path(settings.media_dir, out["sha256"])
    await as_user(client, "reviewer")
    assert (await client.get(out["url"])).content == body  # intact: served

    stat = path.stat()
    _flip_last_byte(path)  # same size; the mtime put back too: the ctime still moves
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    refused = await client.get(out["url"], headers={"range": "bytes=0-99"})
    assert refused.status_code == 410
    assert "与登记的校验值不符" in refused.text and "已记入审计日志" in refused.text
    assert body[:100] not in refused.content
    event = (await _events("evidence.tampered"))[-1]
    assert (event["object_type"], event["object_id"]) == ("assessment", str(case["id"]))
    assert "hash_mismatch" in event["summary"] and out["sha256"] in event["summary"]

    tamper(path, body + b"appended")  # size changed
    assert (await client.get(out["url"])).status_code == 410
    assert "size_mismatch" in (await _events("evidence.tampered"))[-1]["summary"]
    tamper(path, None)  # gone
    assert (await client.get(out["url"])).status_code == 410

    path.write_bytes(body)  # the recorded bytes again: served again
    assert (await client.get(out["url"])).content == body
    assert len(await _events("evidence.tampered")) == 3


async def _stored_agreement_document() -> tuple[dict, Path]:
    """The standing agreement of a test assessment organisation, with a stored document."""
    await make_user("assessor", username="assessor9")
    row = await Agreement.select().first()
    sha256 = documents.store(b"%PDF-1.4 agreement " + row["number"].encode())
    await Agreement.update({Agreement.document_sha256: sha256}).where(Agreement.id == row["id"])
    return {**row, "document_sha256": sha256}, documents.path_for(sha256)


async def test_a_changed_document_is_not_served_and_verify_names_it(
        client, settings, database_url, monkeypatch) -> None:
    # Documents are stored and served under the environment's media directory.
    monkeypatch.setenv("LTC_MEDIA_DIR", str(settings.media_dir))
    await make_user("clerk")
    row, path = await _stored_agreement_document()
    await sign_in(client, "clerk")
    url = f"/agreements/{row['id']}/document.pdf"
    intact = await client.get(url)
    assert intact.status_code == 200 and intact.content.startswith(b"%PDF")
    ok = evidence_cli(settings, database_url)
    assert ok.returncode == 0 and ok.stdout.strip() == "1 files verified", ok.stdout + ok.stderr

    _flip_last_byte(path)
    refused = await client.get(url)
    assert refused.status_code == 410 and "与登记的校验值不符" in refused.text
    event = (await _events("document.tampered"))[-1]
    assert (event["object_type"], event["object_id"]) == ("agreement", str(row["id"]))
    assert row["document_sha256"] in event["summary"]
    bad = evidence_cli(settings, database_url)
    assert bad.returncode == 1, bad.stderr
    assert f"HASH_MISMATCH {path}" in bad.stdout and f"协议 {row['number']}" in bad.stdout
    assert "1 of 1 stored files do not match their records" in bad.stdout


def test_a_verified_file_is_hashed_once_until_it_changes(tmp_path, monkeypatch) -> None:
    """VerifiedFiles: a player's many Range requests do not re-hash the file each time, and
    any change through the file system (even with the mtime put back) is seen."""
    hashed: list[Path] = []
    real = documents.sha256_of
    monkeypatch.setattr(documents, "sha256_of", lambda p: hashed.append(p) or real(p))
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"x" * 1000)
    sha256 = real(path)
    verified = documents.VerifiedFiles(settle_seconds=0.05)
    assert verified.problem(path, sha256) is None  # just written: hashed, not remembered
    time.sleep(0.1)
    hashed.clear()
    assert [verified.problem(path, sha256, 1000) for _ in range(5)] == [None] * 5
    assert len(hashed) == 1
    stat = path.stat()
    path.write_bytes(b"y" * 1000)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert verified.problem(path, sha256, 1000) == "hash_mismatch" and len(hashed) == 2
    assert verified.problem(path, sha256, 999) == "size_mismatch"
    path.unlink()
    assert verified.problem(path, sha256) == "missing"


def test_the_api_error_is_structured_with_a_stable_code() -> None:
    error = documents.FileTampered("document_tampered", "a" * 64, "missing")
    assert error.status_code == 410
    assert error.as_json() == {"error": {"code": "document_tampered",
                                         "message": documents.TAMPERED_MESSAGE, "fields": {}}}
