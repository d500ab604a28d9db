"""Shared by test_evidence.py and test_evidence_playback.py: set-up and helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

from conftest import PG_URL, make_user, sign_in
from litestar.testing import AsyncTestClient

from ltc.applications.tables import Application
from ltc.assessments.rules import AssessmentState
from ltc.assessments.tables import Assessment
from ltc.audit.tables import AuditEvent
from ltc.evidence import rules
from ltc.evidence.tables import EvidenceFile
from ltc.identity import Role
from ltc.people.tables import Person
from ltc.regions.tables import Region
from ltc.settings import Settings

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


def tamper(path: Path, data: bytes | None) -> None:
    path.chmod(0o644)
    if data is None:
        path.unlink()
    else:
        path.write_bytes(data)


def evidence_cli(settings: Settings, database_url: str) -> subprocess.CompletedProcess:
    """`ltc evidence verify` in a process of its own, on the test's database and media."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    env = {**clean, "LTC_VAR_DIR": str(settings.var_dir), "LTC_DATABASE_URL": database_url,
           "LTC_MEDIA_DIR": str(settings.media_dir), "LTC_DATABASE_POOL_SIZE": "0"}
    if PG_URL:  # production-shaped settings need these; verify contacts neither broker nor key
        env |= {"LTC_BROKER_URL": "redis://127.0.0.1:6379/0", "LTC_SECRET_KEY": "k" * 40}
    return subprocess.run([sys.executable, "-m", "ltc.cli", "evidence", "verify"], env=env,
                          capture_output=True, text=True, timeout=120)
