"""Use cases for assessment evidence: attach an uploaded video or photo, list, open for
playback (audited), and verify the stored bytes against their recorded hashes.

Who may do what:
- upload: one of the assessment's two assigned assessors, signed in as themselves (an API
  token is an integration client, not a person, and EvidenceFile.uploaded_by names a user),
  while the assessment is in `EDITABLE`;
- list and play: those two assessors, clerks and reviewers whose region covers the
  assessment's region, an expert confirming it once submitted (专家确认,
  ltc.assessments.experts), and the expert spot-checking the concluded assessment
  (ltc.spotchecks.interface). Everyone else (admin, provider, other assessors) is refused.

Audit events are recorded against the assessment, so the case timeline shows them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio

from ltc import clock, db, documents
from ltc.assessments import interface as assessments
from ltc.assessments.rules import EDITABLE, AssessmentState, is_assessor_of
from ltc.audit import service as audit
from ltc.errors import Conflict, Forbidden, NotFound
from ltc.evidence import rules, storage
from ltc.evidence.duration import video_duration
from ltc.evidence.storage import ReceivedFile, StoredFile
from ltc.evidence.tables import EvidenceFile
from ltc.identity import SYSTEM, Actor, ActorKind, Role, region_covers
from ltc.spotchecks import interface as spotchecks

KIND_LABELS = {rules.Kind.video: "视频", rules.Kind.photo: "照片"}

# A player fetches one video in several Range requests (start, index at the end, every seek).
# Each request is checked, but one view is recorded per person and file per this window.
VIEW_DEDUPE_SECONDS = 60.0


def _columns() -> list[Any]:
    return [*EvidenceFile.all_columns(), EvidenceFile.uploaded_by.display_name]


async def _assessment(assessment_id: int, *, lock: bool = False) -> dict[str, Any]:
    row = await assessments.assessment_for_evidence(assessment_id, lock=lock)
    if row is None:
        raise NotFound("assessment_not_found", f"评估 {assessment_id} 不存在")
    return row


def _is_assigned_assessor(actor: Actor, assessment: dict[str, Any]) -> bool:
    return (actor.kind == ActorKind.user and actor.role == Role.assessor
            and actor.id is not None and is_assessor_of(actor.id, assessment))


def may_view(actor: Actor, assessment: dict[str, Any]) -> bool:
    if _is_assigned_assessor(actor, assessment):
        return True
    if actor.role in (Role.clerk, Role.reviewer):
        return actor.region_path is None or region_covers(actor.region_path,
                                                          assessment["region_path"])
    return False


def _check_upload(actor: Actor, assessment: dict[str, Any]) -> None:
    if not _is_assigned_assessor(actor, assessment):
        raise Forbidden("not_assessor",
                        "只有分派到该评估任务的评估员本人（登录本人账号）可以上传视频和照片")
    state = AssessmentState(assessment["state"])
    if state not in EDITABLE:
        raise Conflict("assessment_not_editable",
                       f"该评估当前状态为「{state.label}」，不能再上传视频和照片")


async def check_can_upload(actor: Actor, assessment_id: int) -> None:
    """The same checks as attach(), made before a byte is received: nobody streams 2 GB only
    to be refused. attach() checks again under lock, since the state may change meanwhile."""
    _check_upload(actor, await _assessment(assessment_id))


async def _row(evidence_id: int) -> dict[str, Any]:
    row = await EvidenceFile.select(*_columns()).where(EvidenceFile.id == evidence_id).first()
    if row is None:
        raise NotFound("evidence_not_found", f"证据文件 {evidence_id} 不存在")
    return row


async def attach(
    actor: Actor,
    assessment_id: int,
    stored: ReceivedFile | StoredFile,
    original_name: str,
    recorded_at: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Record an uploaded file as evidence of the assessment: (row, created).

    Given a ReceivedFile (still a temporary file), its bytes are placed in the store inside
    the transaction, after the checks: a refused upload leaves nothing in the store. The
    caller removes the temporary file afterwards (storage.discard).

    The same bytes sent twice to one assessment (a double-submitting browser, a retried
    client) return the existing row with created=False; nothing is added or audited.

    ASSIGNED moves to IN_PROGRESS with a plain conditional update that leaves `version`
    alone: an assessor's open score form carries the version, and uploading a video beside it
    must not make that form stale. The move is monotonic and the draft save makes it too.
    """
    name = rules.clean_name(original_name)
    recorded_at = rules.check_recorded_at(recorded_at, clock.now())
    async with db.write_transaction():
        assessment = await _assessment(assessment_id, lock=True)
        _check_upload(actor, assessment)
        existing = await EvidenceFile.select(EvidenceFile.id).where(
            (EvidenceFile.assessment == assessment_id)
            & (EvidenceFile.sha256 == stored.sha256)).first()
        if existing is not None:
            return await _row(existing["id"]), False
        if isinstance(stored, ReceivedFile):
            stored = await storage.place(stored)
        if assessment["state"] == AssessmentState.ASSIGNED:
            await assessments.mark_started(assessment_id)
        evidence = EvidenceFile(
            assessment=assessment_id, kind=str(stored.kind), content_type=stored.content_type,
            size=stored.size, sha256=stored.sha256, original_name=name,
            recorded_at=recorded_at, duration_seconds=stored.duration_seconds,
            uploaded_by=actor.id,
        )
        await evidence.save()
        await audit.record(
            actor, "evidence.uploaded", "assessment", assessment_id,
            after={"evidence_id": evidence.id, "kind": str(stored.kind),
                   "content_type": stored.content_type, "size": stored.size,
                   "sha256": stored.sha256, "original_name": name,
                   "recorded_at": recorded_at.isoformat() if recorded_at else None},
            note=f"上传{KIND_LABELS[stored.kind]}「{name}」（{rules.size_label(stored.size)}）",
        )
        return await _row(evidence.id), True


async def _check_view(actor: Actor, assessment: dict[str, Any]) -> None:
    """may_view, or an expert confirming the submitted assessment from its record and video
    (专家确认), or the expert spot-checking the concluded assessment (ltc.spotchecks)."""
    if not may_view(actor, assessment) and not (
            actor.role == Role.assessor
            and (await assessments.may_view_to_confirm(actor, assessment["id"])
                 or await spotchecks.expert_may_view(actor, assessment["id"]))):
        raise Forbidden("evidence_forbidden", "您无权查看该评估的视频和照片")


async def list_for_assessment(actor: Actor, assessment_id: int) -> list[dict[str, Any]]:
    assessment = await _assessment(assessment_id)
    await _check_view(actor, assessment)
    return await (
        EvidenceFile.select(*_columns())
        .where(EvidenceFile.assessment == assessment_id)
        .order_by(EvidenceFile.id)
    )


class RecentViews:
    """Which (actor, file) views were recorded in the last window, in this process.

    Deliberately in memory rather than a query of the audit log (which has no index to find
    "this person, this file, last minute" cheaply): with several app processes a playback may
    be recorded once per process, never less than once. Keep one per app.
    """

    def __init__(self, window_seconds: float = VIEW_DEDUPE_SECONDS) -> None:
        self.window = window_seconds
        self._recorded: dict[tuple[str, int | None, int], float] = {}

    def recorded_recently(self, key: tuple[str, int | None, int], now: float) -> bool:
        last = self._recorded.get(key)
        return last is not None and now - last < self.window

    def remember(self, key: tuple[str, int | None, int], now: float) -> None:
        if len(self._recorded) > 10_000:
            self._recorded = {k: t for k, t in self._recorded.items() if now - t < self.window}
        self._recorded[key] = now


async def open_for_viewing(
    actor: Actor, evidence_id: int, media_dir: Path, *, recent: RecentViews | None = None,
) -> tuple[dict[str, Any], Path]:
    """The evidence row and the path of its bytes, if the actor may view it; records the view.

    Without `recent`, every call records an `evidence.viewed` event; with it, one per actor and
    file per window (see RecentViews).
    """
    row = await _row(evidence_id)
    await _check_view(actor, await _assessment(row["assessment"]))
    path = rules.storage_path(media_dir, row["sha256"])
    # Hashed on the first request only while the file's inode is unchanged (VerifiedFiles):
    # a player's many Range requests do not re-read gigabytes each.
    problem = await anyio.to_thread.run_sync(documents.VERIFIED.problem, path, row["sha256"],
                                             row["size"])
    if problem is not None:
        async with db.write_transaction():
            await audit.record(
                actor, "evidence.tampered", "assessment", row["assessment"],
                after={"evidence_id": evidence_id, "sha256": row["sha256"], "problem": problem},
                note=f"{KIND_LABELS[rules.Kind(row['kind'])]}「{row['original_name']}」"
                     f"与登记的校验值不符（{problem}），未提供查看")
        raise documents.FileTampered("evidence_tampered", row["sha256"], problem)
    key = (str(actor.kind), actor.id, evidence_id)
    now = time.monotonic()
    if recent is None or not recent.recorded_recently(key, now):
        async with db.write_transaction():
            await audit.record(
                actor, "evidence.viewed", "assessment", row["assessment"],
                after={"evidence_id": evidence_id, "sha256": row["sha256"]},
                note=f"查看{KIND_LABELS[rules.Kind(row['kind'])]}「{row['original_name']}」",
            )
        if recent is not None:
            recent.remember(key, now)
    return row, path


@dataclass(frozen=True)
class Problem:
    """A stored file that does not match its EvidenceFile rows."""

    kind: str  # missing | size_mismatch | hash_mismatch
    sha256: str
    path: Path
    detail: str
    evidence_ids: tuple[int, ...]

    def __str__(self) -> str:
        ids = ", ".join(str(i) for i in self.evidence_ids)
        return f"{self.kind.upper()} {self.path}: {self.detail} (evidence {ids})"


VERIFY_BATCH = 500


async def verify_report(media_dir: Path) -> tuple[int, list[Problem]]:
    """(stored files checked, problems): every distinct hash referenced by an EvidenceFile
    row is re-hashed from disk, in hash order, a batch of hashes at a time."""
    checked = 0
    problems: list[Problem] = []
    after = ""
    while True:
        batch = await EvidenceFile.raw(
            "SELECT sha256, MIN(size) AS min_size, MAX(size) AS max_size FROM evidence_file "
            "WHERE sha256 > {} GROUP BY sha256 ORDER BY sha256 LIMIT {}", after, VERIFY_BATCH)
        for group in batch:
            sha256 = group["sha256"]
            path = rules.storage_path(media_dir, sha256)
            if group["min_size"] != group["max_size"]:
                found: tuple[str, str] | None = (
                    "size_mismatch", "rows disagree on the size / 记录的大小不一致")
            else:
                found = await anyio.to_thread.run_sync(documents.file_problem, path, sha256,
                                                       group["min_size"])
            checked += 1
            if found is not None:
                ids = await EvidenceFile.select(EvidenceFile.id).where(
                    EvidenceFile.sha256 == sha256).order_by(EvidenceFile.id)
                problems.append(Problem(found[0], sha256, path, found[1],
                                        tuple(r["id"] for r in ids)))
        if len(batch) < VERIFY_BATCH:
            return checked, problems
        after = batch[-1]["sha256"]


async def verify_all(media_dir: Path) -> list[Problem]:
    """Every mismatch between the store and the EvidenceFile rows (empty when all is well)."""
    _, problems = await verify_report(media_dir)
    return problems


async def fill_missing_durations(media_dir: Path) -> tuple[int, int]:
    """(videos looked at, durations found) for the videos stored without a duration (before
    it was read from the file at upload). Each one found is audited on its assessment: the
    duration decides whether the assessment's videos cover the time on site."""
    looked = found = 0
    after = 0
    while True:
        rows = await EvidenceFile.select(
            EvidenceFile.id, EvidenceFile.assessment, EvidenceFile.sha256,
            EvidenceFile.original_name,
        ).where((EvidenceFile.kind == str(rules.Kind.video))
                & EvidenceFile.duration_seconds.is_null() & (EvidenceFile.id > after)
                ).order_by(EvidenceFile.id).limit(VERIFY_BATCH)
        for row in rows:
            looked += 1
            path = rules.storage_path(media_dir, row["sha256"])
            seconds = await anyio.to_thread.run_sync(video_duration, path)
            if seconds is None:
                continue
            found += 1
            async with db.write_transaction():
                await EvidenceFile.update({EvidenceFile.duration_seconds: seconds}).where(
                    EvidenceFile.id == row["id"])
                await audit.record(
                    SYSTEM, "evidence.duration_read", "assessment", row["assessment"],
                    after={"evidence_id": row["id"], "duration_seconds": seconds},
                    note=f"读取视频「{row['original_name']}」时长 {seconds:.0f} 秒")
        if len(rows) < VERIFY_BATCH:
            return looked, found
        after = rows[-1]["id"]
