"""Resumable evidence uploads (tus 1.0, ltc.evidence.tus): made once their purpose is checked,
appended to one PATCH at a time, and — on the last byte — checked, hashed and attached through
the same service.attach() as a streamed PUT.

The partial file is `<media>/evidence/tmp/tus-<key>.part`, beside the PUT's temporary files,
so placing it in the store is a hard link. A PATCH cut off keeps every batch written before
the cut, and the recorded offset is what is on disk: the client asks (HEAD) and continues.

Uploads are kept `Settings.upload_keep_hours` after their last PATCH (a deployment setting,
not a region's policy: it is about this server's disk, not about anyone's benefit), then
removed by `purge_expired` (ltc.evidence.jobs).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from ltc import clock, db
from ltc.audit import service as audit
from ltc.errors import DomainError, InvalidInput, NotFound
from ltc.evidence import rules, service, storage, tus_rules
from ltc.evidence.tables import ResumableUpload
from ltc.identity import SYSTEM, Actor

# A PATCH that has written nothing for this long has lost its client or its process: another
# PATCH of the upload may take over. It proves it is alive every HEARTBEAT_SECONDS.
LOCK_STALE_SECONDS = 120.0
HEARTBEAT_SECONDS = 30.0

# The hash of each upload's bytes so far, kept by the process that received them: the last
# PATCH then needs no second read of gigabytes. Missing (another process took a PATCH, or
# this one restarted) the file is hashed whole at the end instead.
_HASHERS: dict[str, tuple[int, Any]] = {}
# Any constant: the first half of the advisory lock serialising one owner's creates.
_OPEN_LOCK_KEY = 6107


@dataclass(frozen=True)
class Upload:
    key: str
    assessment_id: int
    length: int
    offset: int
    expires_at: datetime
    evidence_id: int | None = None
    evidence_created: bool = False


def _upload(row: dict[str, Any], created: bool = False) -> Upload:
    return Upload(key=row["key"], assessment_id=row["assessment"], length=row["length"],
                  offset=row["offset"], expires_at=row["expires_at"],
                  evidence_id=row["evidence"], evidence_created=created)


def partial_path(media_dir: Path, key: str) -> Path:
    return rules.temp_dir(media_dir) / f"tus-{key}.part"


def _assessment_id(metadata: dict[str, str]) -> int:
    value = metadata.get("assessment_id", "")
    if not value.isascii() or not value.isdigit():
        raise InvalidInput("tus_missing_purpose",
                           "上传须在 Upload-Metadata 中写明 assessment_id（所属评估）",
                           {"assessment_id": "缺失或格式有误"})
    return int(value)


async def create(actor: Actor, length: int, metadata: dict[str, str], media_dir: Path,
                 keep: timedelta, max_size: int = rules.MAX_SIZE) -> Upload:
    """Everything a PUT refuses before its body is refused here, before any byte is sent:
    the assessment is the actor's own and editable, the size and the declared type allowed."""
    assessment_id = _assessment_id(metadata)
    name = rules.clean_name(metadata.get("filename"))
    content_type = rules.check_declared_type(metadata.get("filetype"))
    now = clock.now()
    recorded_at = rules.parse_recorded_at(metadata.get("recorded_at"), now)
    if length == 0:
        raise InvalidInput("evidence_empty", "文件是空的，请重新选择要上传的视频或照片")
    rules.check_size(length, max_size)
    await service.check_can_upload(actor, assessment_id)
    upload = ResumableUpload(
        key=secrets.token_hex(16), owner=actor.id, assessment=assessment_id, length=length,
        content_type=content_type, original_name=name, recorded_at=recorded_at,
        expires_at=now + keep)
    async with db.write_transaction():
        await _check_open(actor, length, max_size)
        await upload.save()
        await audit.record(
            actor, "evidence.upload_started", "assessment", assessment_id,
            after={"upload": upload.key, "length": length, "original_name": name},
            note=f"开始上传「{name}」（{rules.size_label(length)}，可断点续传）")
    await anyio.to_thread.run_sync(partial_path(media_dir, upload.key).parent.mkdir, 0o755,
                                   True, True)
    return _upload(await _row(upload.key))


async def _check_open(actor: Actor, length: int, max_size: int) -> None:
    """Within create's transaction: the owner's unfinished, unexpired uploads leave room for
    this one (tus_rules.check_open_uploads). Two creates of one owner at once take turns
    (SQLite's IMMEDIATE transaction already serialises every writer)."""
    if not db.is_sqlite():
        await ResumableUpload.raw("SELECT pg_advisory_xact_lock({}, {})", _OPEN_LOCK_KEY,
                                  actor.id % 2**31)
    rows = await ResumableUpload.select(ResumableUpload.length).where(
        (ResumableUpload.owner == actor.id) & ResumableUpload.evidence.is_null()
        & (ResumableUpload.expires_at > clock.now()))
    tus_rules.check_open_uploads([r["length"] for r in rows], length, max_size)


async def _row(key: str) -> dict[str, Any]:
    row = await ResumableUpload.select().where(ResumableUpload.key == key).first()
    if row is None:
        raise NotFound("upload_not_found", "该上传不存在或已被清除，请重新上传")
    return row


async def _owned(actor: Actor, key: str) -> dict[str, Any]:
    """The actor's own upload; anyone else's is as absent as one that never was."""
    row = await _row(key)
    if row["owner"] != actor.id:
        raise NotFound("upload_not_found", "该上传不存在或已被清除，请重新上传")
    if row["evidence"] is None and row["expires_at"] <= clock.now():
        raise tus_rules.UploadGone("upload_expired", "该上传已过期，请重新上传")
    return row


async def status(actor: Actor, key: str, media_dir: Path) -> Upload:
    """tus HEAD. An upload holding every byte but not attached (its last PATCH stored them,
    then attaching failed: a crash, a locked database) is attached now: a client that sees
    the full offset takes the upload for done and sends nothing more."""
    row = await _owned(actor, key)
    if row["evidence"] is None and row["offset"] == row["length"]:
        return await _finish(actor, key, media_dir)
    return _upload(row)


async def _beating(chunks: AsyncIterable[bytes], key: str, token: str) -> AsyncIterator[bytes]:
    """The chunks, with the lock's heartbeat written now and then while they flow."""
    last = time.monotonic()
    async for chunk in chunks:
        yield chunk
        if time.monotonic() - last >= HEARTBEAT_SECONDS:
            last = time.monotonic()
            async with db.write_transaction():
                await ResumableUpload.update({ResumableUpload.patch_seen_at: clock.now()}).where(
                    (ResumableUpload.key == key) & (ResumableUpload.patch_token == token))


async def _lock(key: str, claimed: int) -> str:
    """Compare-and-set on the offset: this PATCH appends, or it is told why not."""
    token = secrets.token_hex(16)
    now = clock.now()
    stale = now - timedelta(seconds=LOCK_STALE_SECONDS)
    async with db.write_transaction():
        taken = await ResumableUpload.update({
            ResumableUpload.patch_token: token, ResumableUpload.patch_seen_at: now,
        }).where(
            (ResumableUpload.key == key) & (ResumableUpload.offset == claimed)
            & ResumableUpload.evidence.is_null()
            & ((ResumableUpload.patch_token == "") | (ResumableUpload.patch_seen_at < stale))
        ).returning(ResumableUpload.id)
    if taken:
        return token
    row = await _row(key)
    tus_rules.check_patch(tus_rules.PATCH_TYPE, claimed, row["offset"])
    raise tus_rules.UploadLocked("upload_locked", "该文件正在另一个连接中上传，请稍后再试")


async def append(actor: Actor, key: str, claimed: int, content_type: str | None,
                 chunks: AsyncIterable[bytes], media_dir: Path, keep: timedelta) -> Upload:
    """One PATCH: its bytes appended from `claimed`, which must be the upload's offset. What
    arrived before a cut is kept and counted. The last byte attaches the file as evidence."""
    row = await _owned(actor, key)
    tus_rules.check_patch(content_type, claimed, row["offset"])
    if row["evidence"] is not None:  # complete already: a client re-sending its last PATCH
        return _upload(row)
    token = await _lock(key, claimed)
    path = partial_path(media_dir, key)
    cached = _HASHERS.pop(key, None)
    hasher = cached[1] if cached is not None and cached[0] == claimed else None
    try:
        writer = await anyio.to_thread.run_sync(storage.open_append, path, claimed, hasher)
    except FileNotFoundError:  # its bytes were lost (disk restored, file removed by hand)
        await _remove(key, media_dir)
        raise tus_rules.UploadGone("upload_lost", "该上传已收到的数据已丢失，请重新上传") from None
    try:
        await storage.write_stream(
            _beating(chunks, key, token), writer,
            lambda _chunk, size: tus_rules.check_fits(claimed, size, row["length"]))
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(writer.close)
            if writer.hasher is not None:
                _HASHERS[key] = (writer.written, writer.hasher)
            async with db.write_transaction():
                kept = await ResumableUpload.update({
                    ResumableUpload.offset: writer.written, ResumableUpload.patch_token: "",
                    ResumableUpload.patch_seen_at: None,
                    ResumableUpload.expires_at: clock.now() + keep,
                }).where((ResumableUpload.key == key) & (ResumableUpload.patch_token == token)
                         ).returning(ResumableUpload.id)
    if not kept:  # terminated while this PATCH ran
        _HASHERS.pop(key, None)
        raise NotFound("upload_not_found", "该上传已被取消")
    if writer.written < row["length"]:
        return _upload(await _row(key))
    return await _finish(actor, key, media_dir)


async def _finish(actor: Actor, key: str, media_dir: Path) -> Upload:
    """Attach an upload holding every byte, once: under the upload's lock, so a second
    request arriving at the full offset (a re-sent last PATCH, a HEAD) waits its turn and
    then finds the evidence instead of attaching the same partial file again."""
    row = await _row(key)
    if row["evidence"] is not None:
        return _upload(row)
    try:
        token = await _lock(key, row["length"])
    except tus_rules.UploadLocked:
        row = await _row(key)
        if row["evidence"] is not None:
            return _upload(row)
        raise
    try:
        return await _complete(actor, await _row(key), media_dir)
    finally:
        async with db.write_transaction():
            await ResumableUpload.update({ResumableUpload.patch_token: "",
                                          ResumableUpload.patch_seen_at: None}).where(
                (ResumableUpload.key == key) & (ResumableUpload.patch_token == token))


async def _complete(actor: Actor, row: dict[str, Any], media_dir: Path) -> Upload:
    """Checked, hashed and attached exactly as a streamed PUT's file (service.attach). Refused
    bytes can never become evidence: the upload is removed and the refusal told."""
    key = row["key"]
    cached = _HASHERS.pop(key, None)
    sha256 = cached[1].hexdigest() if cached is not None and cached[0] == row["length"] else None
    path = partial_path(media_dir, key)
    try:
        received = await storage.receive_written(path, row["length"], row["content_type"],
                                                 media_dir, sha256)
        evidence, created = await service.attach(actor, row["assessment"], received,
                                                 row["original_name"], row["recorded_at"])
    except DomainError:
        await _remove(key, media_dir)
        raise
    async with db.write_transaction():
        await ResumableUpload.update({ResumableUpload.evidence: evidence["id"]}).where(
            ResumableUpload.key == key)
    await storage.discard(received)
    return _upload(await _row(key), created)


async def _remove(key: str, media_dir: Path) -> None:
    _HASHERS.pop(key, None)
    await ResumableUpload.delete().where(ResumableUpload.key == key)
    await anyio.to_thread.run_sync(partial_path(media_dir, key).unlink, True)


async def terminate(actor: Actor, key: str, media_dir: Path) -> None:
    """tus termination: the upload and its bytes are gone; a PATCH still running finds so."""
    row = await _owned(actor, key)
    async with db.write_transaction():
        await _remove(key, media_dir)
        if row["evidence"] is None:
            await audit.record(
                actor, "evidence.upload_cancelled", "assessment", row["assessment"],
                after={"upload": key, "offset": row["offset"], "length": row["length"]},
                note=f"取消上传「{row['original_name']}」"
                     f"（已传 {rules.size_label(row['offset'])}）")


async def purge_expired(media_dir: Path) -> int:
    """Remove the uploads past their expiry with their partial files; those never finished
    are recorded on their assessment. Returns how many were removed."""
    rows = await ResumableUpload.select().where(ResumableUpload.expires_at <= clock.now())
    for row in rows:
        async with db.write_transaction():
            await _remove(row["key"], media_dir)
            if row["evidence"] is None:
                await audit.record(
                    SYSTEM, "evidence.upload_expired", "assessment", row["assessment"],
                    after={"upload": row["key"], "offset": row["offset"],
                           "length": row["length"]},
                    note=f"未完成的上传「{row['original_name']}」已过保留期，已清除"
                         f"（已传 {rules.size_label(row['offset'])}）")
    return len(rows)
