"""Evidence after upload: Range playback with its audit trail, and verification of the stored
bytes."""

from __future__ import annotations

from typing import Any

import pytest
from support.evidence_cases import (
    as_user,
    audit_count,
    evidence_cli,
    make_case,
    put,
    tamper,
    video,
)

from ltc.accounts import service as accounts
from ltc.audit.tables import AuditEvent
from ltc.evidence import rules, service

pytestmark = pytest.mark.anyio


# --- playback ------------------------------------------------------------------------------


async def upload_video(client, case, size: int = 1_300_000) -> tuple[dict[str, Any], bytes]:
    """A video uploaded by assessor1 (larger than one playback chunk)."""
    csrf = await as_user(client, "assessor1")
    body = video(size)
    response = await put(client, case["id"], body, "video/mp4", csrf)
    assert response.status_code == 201
    return response.json(), body


async def test_playback_whole_file_and_ranges(client, settings) -> None:
    case = await make_case()
    out, body = await upload_video(client, case)
    url = out["url"]

    full = await client.get(url)
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
        part = await client.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.content == body[start:end + 1], header
        assert part.headers["content-range"] == f"bytes {start}-{end}/{len(body)}"
        assert part.headers["content-length"] == str(end - start + 1)
        assert part.headers["accept-ranges"] == "bytes"

    for header in ("bytes=1300000-", "bytes=5-3", "bytes=-0"):
        refused = await client.get(url, headers={"Range": header})
        assert refused.status_code == 416, header
        assert refused.headers["content-range"] == f"bytes */{len(body)}"

    ignored = await client.get(url, headers={"Range": "bytes=0-1,5-6"})  # several: whole file
    assert ignored.status_code == 200 and ignored.content == body


async def test_reviewer_in_region_may_view_and_each_view_is_audited(client, settings) -> None:
    case = await make_case()
    out, body = await upload_video(client, case, 5_000)
    await as_user(client, "reviewer")
    before = await audit_count()
    response = await client.get(out["url"], headers={"Range": "bytes=0-"})
    assert response.status_code == 206 and response.content == body
    event = await AuditEvent.select().order_by(AuditEvent.seq, ascending=False).first()
    assert (event["action"], event["object_type"], event["object_id"]) == (
        "evidence.viewed", "assessment", str(case["id"]))
    assert event["actor_id"] == case["users"]["reviewer"]["id"]
    assert event["actor_role"] == "reviewer" and out["sha256"] in event["summary"]
    assert await audit_count() == before + 1
    # The player's further Range requests within a minute are the same view.
    await client.get(out["url"], headers={"Range": "bytes=4000-"})
    assert await audit_count() == before + 1
    # Another person's view is its own event.
    await as_user(client, "clerk")
    assert (await client.get(out["url"])).status_code == 200
    actions = await AuditEvent.select(AuditEvent.action, AuditEvent.actor_id).order_by(
        AuditEvent.seq, ascending=False).limit(1)
    assert actions[0] == {"action": "evidence.viewed",
                          "actor_id": case["users"]["clerk"]["id"]}


async def test_service_records_every_view_without_a_dedupe_window(client, settings) -> None:
    case = await make_case()
    out, _ = await upload_video(client, case, 5_000)
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
async def test_others_may_not_view(client, settings, username, status, code) -> None:
    case = await make_case()
    out, _ = await upload_video(client, case, 5_000)
    await as_user(client, username)
    before = await audit_count()
    response = await client.get(out["url"])
    assert response.status_code == status
    assert code in response.text and "无权" in response.text  # the Chinese error page
    assert await audit_count() == before + 0
    api = await client.get(f"/api/v1/assessments/{case['id']}/evidence")
    assert api.status_code == 403 and api.json()["error"]["code"] == code


async def test_unauthenticated_playback_goes_to_login(client, settings) -> None:
    case = await make_case()
    out, _ = await upload_video(client, case, 5_000)
    client.cookies.clear()
    response = await client.get(out["url"], follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login?next=/evidence/")


async def test_missing_evidence_is_404(client, settings) -> None:
    await make_case()
    await as_user(client, "reviewer")
    assert (await client.get("/evidence/9999")).status_code == 404


async def test_api_lists_the_evidence_of_an_assessment(client, settings) -> None:
    case = await make_case()
    out, _ = await upload_video(client, case, 5_000)
    await as_user(client, "reviewer")
    listing = await client.get(f"/api/v1/assessments/{case['id']}/evidence")
    assert listing.status_code == 200
    assert [item["id"] for item in listing.json()] == [out["id"]]
    assert listing.json()[0]["uploaded_by"] == "测试评估员"
    schema = (await client.get("/schema/openapi.json")).json()
    assert "put" in schema["paths"]["/api/v1/assessments/{assessment_id}/evidence"]


async def test_upload_partial_renders_the_list_and_the_form(client, settings) -> None:
    case = await make_case()
    out, _ = await upload_video(client, case, 5_000)
    rows = await service.list_for_assessment(
        await accounts.actor_for_user(case["users"]["assessor1"]["id"]), case["id"])
    template = client.app.template_engine.get_template("evidence/_upload.html")
    html = template.render(assessment={"id": case["id"]}, evidence=rows, can_upload=True)
    assert f'href="/evidence/{out["id"]}"' in html and "评估全程.mp4" in html
    assert f'action="/assessments/{case["id"]}/evidence"' in html
    assert 'data-tus-url="/api/v1/uploads"' in html
    assert f'data-assessment-id="{case["id"]}"' in html
    assert 'enctype="multipart/form-data"' in html and "4 KB" not in html and "5 KB" in html
    readonly = template.render(assessment={"id": case["id"]}, evidence=[], can_upload=False)
    assert "<form" not in readonly and "尚未上传" in readonly
    script = await client.get("/static/upload.js")
    assert script.status_code == 200 and "x-csrftoken" in script.text
    vendored = await client.get("/static/tus-js-client-4.3.1.min.js")  # nothing from a CDN
    assert vendored.status_code == 200 and "tus" in vendored.text


# --- verification --------------------------------------------------------------------------


async def three_stored_files(client, case) -> list[dict[str, Any]]:
    csrf = await as_user(client, "assessor1")
    rows = []
    for seed in range(3):
        response = await put(client, case["id"], video(4_000, seed), "video/mp4", csrf,
                             name=f"{seed}.mp4")
        assert response.status_code == 201
        rows.append(response.json())
    return rows


async def test_verify_finds_changed_truncated_and_missing_files(client, settings) -> None:
    case = await make_case()
    rows = await three_stored_files(client, case)
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
    # Playback refuses a file that is not what was recorded (test_evidence_tampering.py).
    await as_user(client, "reviewer")
    assert (await client.get(rows[2]["url"])).status_code == 410


async def test_verify_command_exit_codes(client, settings, database_url) -> None:
    case = await make_case()
    rows = await three_stored_files(client, case)
    ok = evidence_cli(settings, database_url)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "3 files verified"

    path = rules.storage_path(settings.media_dir, rows[1]["sha256"])
    tamper(path, b"\x00" * path.stat().st_size)
    bad = evidence_cli(settings, database_url)
    assert bad.returncode == 1, bad.stderr
    assert f"HASH_MISMATCH {path}" in bad.stdout and f"evidence {rows[1]['id']}" in bad.stdout
    assert "1 of 3 stored files do not match their records" in bad.stdout
