"""`ltc backup create|restore`: the database, the media store and the audit checkpoints as one
consistent set (README "Backup and restore").

Consistency without stopping the app: the checkpoints are copied before the database is
dumped (each vouches only for events the dump holds), the media after it (every file the dump
refers to is already stored: files are written before the rows that name them, and never
changed). Files stored after the dump come along unreferenced, which is harmless. The audit
key files are not in the set: they are backed up once, apart, with other access.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ltc import clock
from ltc.settings import Settings

MANIFEST = "manifest.json"
FORMAT = 1
SQLITE_FILE, PG_FILE = "database.sqlite3", "database.dump"
CHECKPOINT_GLOB = "checkpoint-*.json"


class BackupRefused(Exception):
    """The backup or the restore target is not as it must be; nothing was written. Every
    problem is listed at once."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Contents:
    media_files: int
    media_bytes: int
    checkpoints: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _media_files(media_dir: Path) -> list[Path]:
    """Every stored file, relative to the media folder; uploads in flight are not stored."""
    if not media_dir.is_dir():
        return []
    in_flight = Path("evidence", "tmp")
    return sorted(path.relative_to(media_dir) for path in media_dir.rglob("*")
                  if path.is_file() and in_flight not in path.relative_to(media_dir).parents)


def _copy_files(source: Path, names: list[Path], target: Path) -> Contents:
    total = 0
    for name in names:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target / name)
        total += (target / name).stat().st_size
    return Contents(media_files=len(names), media_bytes=total, checkpoints=0)


def _pg(command: str, *args: str) -> None:
    done = subprocess.run([command, *args], capture_output=True, text=True)
    if done.returncode:
        raise BackupRefused([f"{command} failed: {done.stderr.strip()}"])


def create(settings: Settings, directory: Path) -> dict[str, object]:
    """Write a backup set into `directory` (new or empty); returns its manifest."""
    if directory.exists() and any(directory.iterdir()):
        raise BackupRefused([f"{directory} is not empty; give a new folder for each backup"])
    directory.mkdir(parents=True, exist_ok=True)
    started = clock.now()
    checkpoints = sorted(settings.audit_checkpoint_dir.glob(CHECKPOINT_GLOB))
    (directory / "checkpoints").mkdir()
    for path in checkpoints:
        shutil.copy2(path, directory / "checkpoints" / path.name)
    if settings.is_embedded:
        database = directory / SQLITE_FILE
        source = sqlite3.connect(settings.sqlite_path)
        try:  # SQLite's online backup: a consistent copy while the app writes
            with sqlite3.connect(database) as copy:
                source.backup(copy)
        finally:
            source.close()
    else:
        database = directory / PG_FILE
        # One snapshot of the whole database (pg_dump runs in one transaction).
        _pg("pg_dump", "--format=custom", "--no-owner", "--no-acl", f"--file={database}",
            f"--dbname={settings.migration_database_url}")
    media = _copy_files(settings.media_dir, _media_files(settings.media_dir),
                        directory / "media")
    manifest: dict[str, object] = {
        "format": FORMAT, "started_at": started.isoformat(),
        "finished_at": clock.now().isoformat(),
        "engine": "sqlite" if settings.is_embedded else "postgresql",
        "database_file": database.name, "database_sha256": _sha256(database),
        "media_files": media.media_files, "media_bytes": media.media_bytes,
        "checkpoints": [path.name for path in checkpoints],
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


async def _target_database_problems(settings: Settings) -> list[str]:
    if settings.is_embedded:
        path = settings.sqlite_path
        if path.exists() and path.stat().st_size:
            with sqlite3.connect(path) as connection:
                tables = connection.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            if tables:
                return [f"the database {path} already has {tables} tables; restore into a "
                        "new, empty one"]
        return []
    import asyncpg

    connection = await asyncpg.connect(settings.migration_database_url)
    try:
        tables = await connection.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await connection.close()
    if tables:
        return [f"the database already has {tables} tables; restore into a new, empty one "
                "(CREATE DATABASE … OWNER <migration role>)"]
    return []


def read_manifest(directory: Path) -> dict[str, object]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupRefused([f"{directory / MANIFEST} cannot be read: {exc}"]) from exc
    if manifest.get("format") != FORMAT:
        raise BackupRefused([f"unknown backup format {manifest.get('format')!r}"])
    return manifest


async def restore(settings: Settings, directory: Path, app_role: str | None) -> Contents:
    """Restore the set into the configured (empty) database, media folder and checkpoint
    folder; refuses, changing nothing, when the set is damaged or a target is not empty."""
    manifest = read_manifest(directory)
    problems = []
    engine = "sqlite" if settings.is_embedded else "postgresql"
    if manifest["engine"] != engine:
        problems.append(f"the backup is of a {manifest['engine']} database; "
                        f"LTC_DATABASE_URL names a {engine} one")
    database = directory / str(manifest["database_file"])
    if not database.is_file() or _sha256(database) != manifest["database_sha256"]:
        problems.append(f"{database} is missing or does not match the manifest's SHA-256")
    media = _media_files(directory / "media")
    held = sum((directory / "media" / name).stat().st_size for name in media)
    if (len(media), held) != (manifest["media_files"], manifest["media_bytes"]):
        problems.append(f"the backup holds {len(media)} media files ({held} bytes); its "
                        f"manifest lists {manifest['media_files']} ({manifest['media_bytes']})")
    if _media_files(settings.media_dir):
        problems.append(f"the media folder {settings.media_dir} (LTC_MEDIA_DIR) is not empty")
    if any(settings.audit_checkpoint_dir.glob(CHECKPOINT_GLOB)):
        problems.append(f"{settings.audit_checkpoint_dir} (LTC_AUDIT_CHECKPOINT_DIR) holds "
                        "checkpoints; move them aside (they may be newer than this backup)")
    if app_role and settings.is_embedded:
        problems.append("--app-role is for PostgreSQL; SQLite has no roles")
    if not problems:
        problems = await _target_database_problems(settings)
    if problems:
        raise BackupRefused(problems)

    if settings.is_embedded:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(database) as source, sqlite3.connect(settings.sqlite_path) as copy:
            source.backup(copy)
    else:
        _pg("pg_restore", "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction",
            f"--dbname={settings.migration_database_url}", str(database))
        if app_role:
            from ltc import db, schema

            db.bind(db.make_engine(settings.migration_database_url))
            await schema.grant_app_role(app_role)
    restored = _copy_files(directory / "media", media, settings.media_dir)
    settings.audit_checkpoint_dir.mkdir(parents=True, exist_ok=True)
    names = [str(name) for name in manifest["checkpoints"]]  # type: ignore[union-attr]
    for name in names:
        shutil.copy2(directory / "checkpoints" / name, settings.audit_checkpoint_dir / name)
    return Contents(restored.media_files, restored.media_bytes, len(names))
