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
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ltc import clock, db, schema
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


def _pg(command: str, url: str, *args: str) -> None:
    """Run pg_dump or pg_restore on the database of `url`; the password goes in the
    environment, never on a command line other users can read."""
    parts = urlsplit(url)
    connection = [f"--host={parts.hostname or 'localhost'}", f"--port={parts.port or 5432}",
                  f"--username={unquote(parts.username or '')}",
                  f"--dbname={unquote(parts.path.lstrip('/'))}"]
    env = {**os.environ, "PGPASSWORD": unquote(parts.password or "")}
    done = subprocess.run([command, *connection, *args], capture_output=True, text=True,
                          env=env)
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
        _pg("pg_dump", settings.migration_database_url, "--format=custom", "--no-owner",
            "--no-acl", f"--file={database}")
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


async def _target_database_problems(settings: Settings, app_role: str | None) -> list[str]:
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

    problems = []
    connection = await asyncpg.connect(settings.migration_database_url)
    try:
        tables = await connection.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        role_exists = bool(app_role) and await connection.fetchval(
            "SELECT count(*) FROM pg_roles WHERE rolname = $1", app_role)
    finally:
        await connection.close()
    if tables:
        problems.append(f"the database already has {tables} tables; restore into a new, "
                        "empty one (CREATE DATABASE … OWNER <migration role>)")
    if app_role and not role_exists:
        problems.append(f"the role {app_role} (--app-role) does not exist; create it first "
                        "(README \"Security for operators\")")
    return problems


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
    if app_role and not settings.is_embedded:
        try:
            schema.app_role_grants(app_role)
        except ValueError as exc:
            problems.append(f"--app-role: {exc}")
    if not problems:
        problems = await _target_database_problems(settings, app_role)
    if problems:
        raise BackupRefused(problems)
    # The media and checkpoints are copied beside their targets first, so a failure there
    # leaves the targets empty; the database is restored last, in one transaction.
    staging = [_staged(settings.media_dir), _staged(settings.audit_checkpoint_dir)]
    try:
        restored = _copy_files(directory / "media", media, staging[0])
        names = [str(name) for name in manifest["checkpoints"]]  # type: ignore[union-attr]
        staging[1].mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copy2(directory / "checkpoints" / name, staging[1] / name)
        await _restore_database(settings, database, app_role)
    except BaseException:
        for folder in staging:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    for folder, target in zip(staging, (settings.media_dir, settings.audit_checkpoint_dir),
                              strict=True):
        _move_into(folder, target)
    return Contents(restored.media_files, restored.media_bytes, len(names))


def _staged(target: Path) -> Path:
    staged = target.parent / f".{target.name}.restoring"
    shutil.rmtree(staged, ignore_errors=True)  # left by a restore killed earlier
    staged.mkdir(parents=True)
    return staged


def _move_into(staged: Path, target: Path) -> None:
    """Every file of `staged` to the same place under `target` (same file system: renames),
    then `staged` is gone. The targets were checked to hold no media or checkpoint."""
    for path in sorted(staged.rglob("*")):
        if path.is_file():
            destination = target / path.relative_to(staged)
            destination.parent.mkdir(parents=True, exist_ok=True)
            path.rename(destination)
    target.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(staged)


async def _restore_database(settings: Settings, database: Path, app_role: str | None) -> None:
    if settings.is_embedded:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(database) as source, sqlite3.connect(settings.sqlite_path) as copy:
            source.backup(copy)
        return
    _pg("pg_restore", settings.migration_database_url, "--no-owner", "--no-acl",
        "--exit-on-error", "--single-transaction", str(database))
    if app_role:
        db.bind(db.make_engine(settings.migration_database_url))
        await schema.grant_app_role(app_role)
