"""Backup and restore, drilled (README "Backup and restore"): a backup set taken while the
app holds evidence, generated documents, audit events and a signed checkpoint is restored
into a fresh database, media folder and checkpoint folder; `ltc audit verify` and `ltc
evidence verify` pass there with every count equal to the original's."""

from __future__ import annotations

import json
import os
import re

import pytest
from conftest import APP_ROLE, PG_URL, _as_app_role, _pg_admin_url, _pg_execute
from support.cli import ltc_on
from support.evidence_cases import as_user, make_case, photo, put, video

from ltc import documents
from ltc.agreements.tables import Agreement

pytestmark = pytest.mark.anyio


def _counts(verify_output: bytes) -> list[int]:
    return [int(n) for n in re.findall(rb"(\d+) (?:events verified|signed checkpoints hold|"
                                       rb"files verified)", verify_output)]


async def _checks(settings, database_url: str, **env: str) -> list[int]:
    """(events, checkpoints) from `ltc audit verify`, then files from `ltc evidence verify`;
    both must pass."""
    audit = await ltc_on(settings, database_url, "audit", "verify", **env)
    files = await ltc_on(settings, database_url, "evidence", "verify", **env)
    assert audit.returncode == 0, audit.stdout
    assert files.returncode == 0, files.stdout
    return _counts(audit.stdout) + _counts(files.stdout)


@pytest.fixture
async def empty_target(tmp_path, owner_database_url):
    """Where the backup is restored: a new empty database (as its owner would create it),
    an empty media folder and an empty checkpoint folder."""
    folders = {"LTC_MEDIA_DIR": str(tmp_path / "restored" / "media"),
               "LTC_AUDIT_CHECKPOINT_DIR": str(tmp_path / "restored" / "checkpoints")}
    if not PG_URL:
        url = f"sqlite:///{tmp_path / 'restored' / 'ltc.sqlite3'}"
        yield {"LTC_DATABASE_URL": url, "LTC_MIGRATION_DATABASE_URL": url, **folders}
        return
    name = f"ltc_restored_{os.getpid()}"
    await _pg_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await _pg_execute(f"CREATE DATABASE {name}")
    owner = _pg_admin_url(PG_URL, name)
    yield {"LTC_DATABASE_URL": _as_app_role(owner), "LTC_MIGRATION_DATABASE_URL": owner,
           **folders}
    await _pg_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def test_a_restored_backup_verifies_with_every_count_equal(
        client, settings, database_url, owner_database_url, empty_target, tmp_path,
        monkeypatch) -> None:
    monkeypatch.setenv("LTC_MEDIA_DIR", str(settings.media_dir))  # where documents are stored
    case = await make_case()
    headers = await as_user(client, "assessor1")
    for body, kind in ((video(40_000), "video/mp4"), (photo(), "image/png")):
        assert (await put(client, case["id"], body, kind, headers)).status_code == 201
    agreement = await Agreement.select().first()
    sha256 = documents.store(b"%PDF-1.4 agreement " + agreement["number"].encode())
    await Agreement.update({Agreement.document_sha256: sha256}).where(
        Agreement.id == agreement["id"])
    source = {"LTC_MIGRATION_DATABASE_URL": owner_database_url,
              "LTC_MEDIA_DIR": str(settings.media_dir)}
    assert (await ltc_on(settings, database_url, "audit", "checkpoint", **source)).returncode == 0
    original = await _checks(settings, database_url, **source)
    events, checkpoints, files = original
    assert events > 3 and checkpoints == 1 and files == 3

    backup_dir = tmp_path / "backup-2026-12-04"
    made = await ltc_on(settings, database_url, "backup", "create", str(backup_dir), **source)
    assert made.returncode == 0, made.stderr
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert (manifest["media_files"], len(manifest["checkpoints"])) == (3, 1)
    assert not list(backup_dir.rglob("audit_*key*"))  # the keys are backed up apart

    restore = ["backup", "restore", str(backup_dir)] + (["--app-role", APP_ROLE] if PG_URL
                                                        else [])
    target_url = empty_target["LTC_DATABASE_URL"]
    restored = await ltc_on(settings, target_url, *restore, **empty_target)
    assert restored.returncode == 0, restored.stderr
    assert b"3 media files" in restored.stdout and b"1 audit checkpoints" in restored.stdout
    # The app role (PostgreSQL) reads the restored database; the counts are the original's.
    assert await _checks(settings, target_url, **empty_target) == original

    again = await ltc_on(settings, target_url, *restore, **empty_target)
    assert again.returncode == 2 and b"nothing was restored" in again.stderr
    for problem in (b"LTC_MEDIA_DIR) is not empty", b"holds checkpoints"):
        assert problem in again.stderr  # every problem at once
    assert await _checks(settings, target_url, **empty_target) == original


async def test_a_damaged_backup_is_refused_and_the_target_stays_empty(
        settings, database_url, owner_database_url, empty_target, tmp_path) -> None:
    source = {"LTC_MIGRATION_DATABASE_URL": owner_database_url,
              "LTC_MEDIA_DIR": str(settings.media_dir)}
    backup_dir = tmp_path / "backup"
    assert (await ltc_on(settings, database_url, "backup", "create", str(backup_dir),
                         **source)).returncode == 0
    refused = await ltc_on(settings, database_url, "backup", "create", str(backup_dir),
                           **source)
    assert refused.returncode == 2 and b"is not empty" in refused.stderr
    dump = backup_dir / json.loads((backup_dir / "manifest.json").read_text())["database_file"]
    with dump.open("r+b") as stream:
        stream.seek(200)
        stream.write(b"\x00\x01")
    target_url = empty_target["LTC_DATABASE_URL"]
    damaged = await ltc_on(settings, target_url, "backup", "restore", str(backup_dir),
                           **empty_target)
    assert damaged.returncode == 2
    assert b"does not match the manifest's SHA-256" in damaged.stderr
    assert not (tmp_path / "restored").exists()  # no media, checkpoints nor SQLite file
    if PG_URL:  # a mistyped app role is found before anything is written
        intact = tmp_path / "backup-intact"
        assert (await ltc_on(settings, database_url, "backup", "create", str(intact),
                             **source)).returncode == 0
        wrong_role = await ltc_on(settings, target_url, "backup", "restore", str(intact),
                                  "--app-role", "ltc_no_such_role", **empty_target)
        assert wrong_role.returncode == 2
        assert b"the role ltc_no_such_role (--app-role) does not exist" in wrong_role.stderr
        assert not (tmp_path / "restored").exists()
        retried = await ltc_on(settings, target_url, "backup", "restore", str(intact),
                               "--app-role", APP_ROLE, **empty_target)
        assert retried.returncode == 0, retried.stderr  # the database was left empty
