"""Evidence upload and playback over HTTP.

- `PUT /api/v1/assessments/{id}/evidence`: the raw file as the body, streamed to disk as it
  arrives (this is what the page's progress bar uses, and what API clients use). Only this
  route and the form fallback raise the app's 10 MB body limit.
- `POST /assessments/{id}/evidence`: the multipart form, for browsers without JavaScript.
  Litestar spools the form to a temporary file first (the CSRF check reads the form), so the
  type and size are checked after the upload rather than during it.
- `GET /evidence/{id}`: playback with HTTP Range (seeking in a video), streamed from disk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

import anyio
from litestar import Controller, Litestar, Request, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import InternalServerException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect, Response, Stream
from msgspec import Struct

from ltc import clock
from ltc.errors import Conflict, DomainError, InvalidInput
from ltc.evidence import rules, service, storage
from ltc.evidence.rules import EvidenceTooLarge, EvidenceTypeNotAllowed, RangeNotSatisfiable
from ltc.identity import Actor, Role
from ltc.settings import Settings
from ltc.web.guards import role_guard
from ltc.web.input_guard import RAW_UPLOAD
from ltc.web.params import Id

# The route limit only has to let a maximal file (plus multipart framing) through; the real
# limit, rules.MAX_SIZE, is enforced by storage while streaming, with our own error code.
UPLOAD_BODY_LIMIT = rules.MAX_SIZE + 1024 * 1024
PLAYBACK_CHUNK = 512 * 1024
ASSESSOR = role_guard(Role.assessor)
VIEWERS = role_guard(Role.assessor, Role.clerk, Role.reviewer)
# Refusals an assessor can act on at the form: shown on the assessment page. Anything else
# (not theirs, not found) is an error page.
FORM_RETRY_ERRORS = (InvalidInput, EvidenceTooLarge, EvidenceTypeNotAllowed, Conflict)


class EvidenceOut(Struct):
    id: int
    assessment_id: int
    kind: str
    content_type: str
    size: int
    sha256: str
    original_name: str
    recorded_at: datetime | None
    duration_seconds: float | None
    uploaded_by: str
    uploaded_at: datetime
    url: str


def evidence_out(row: dict[str, Any]) -> EvidenceOut:
    return EvidenceOut(
        id=row["id"], assessment_id=row["assessment"], kind=row["kind"],
        content_type=row["content_type"], size=row["size"], sha256=row["sha256"],
        original_name=row["original_name"], recorded_at=row["recorded_at"],
        duration_seconds=row["duration_seconds"],
        uploaded_by=row["uploaded_by.display_name"], uploaded_at=row["uploaded_at"],
        url=f"/evidence/{row['id']}",
    )


def max_size() -> int:
    """Read at request time, so tests can lower it (monkeypatch rules.MAX_SIZE)."""
    return rules.MAX_SIZE


async def request_body(request: Request) -> AsyncIterator[bytes]:
    """The raw body, with Litestar's transport errors turned into ours."""
    try:
        async for chunk in request.stream():
            yield chunk
    except RequestEntityTooLarge:
        raise rules.too_large(max_size()) from None
    except InternalServerException as exc:  # Litestar's "client disconnected prematurely"
        raise DomainError("upload_interrupted", "上传中断，文件未保存，请检查网络后重新上传",
                          status_code=400) from exc


async def _upload_file_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    await upload.seek(0)
    while chunk := await upload.read(storage.BATCH_SIZE):
        yield chunk


async def _receive_and_attach(actor: Actor, assessment_id: int, chunks: AsyncIterator[bytes],
                              declared_type: str | None, name: str,
                              recorded_at: datetime | None,
                              settings: Settings) -> tuple[dict[str, Any], bool]:
    received = await storage.receive(chunks, declared_type, settings.media_dir,
                                     max_size=max_size())
    try:
        return await service.attach(actor, assessment_id, received, name, recorded_at)
    finally:
        await storage.discard(received)


def _form_time(value: Any, settings: Settings) -> datetime | None:
    """A `datetime-local` field: civil time in the region's zone, no zone of its own."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("invalid_recorded_at", "录制时间格式有误，请重新选择",
                           {"recorded_at": "格式有误"}) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=settings.time_zone)
    return rules.check_recorded_at(parsed, clock.now())


def _recent_views(app: Litestar) -> service.RecentViews:
    recent = app.state.get("evidence_recent_views")
    if recent is None:
        recent = app.state["evidence_recent_views"] = service.RecentViews()
    return recent


async def _file_chunks(path: Any, start: int, length: int) -> AsyncIterator[bytes]:
    f = await anyio.open_file(path, "rb")
    try:
        await f.seek(start)
        remaining = length
        while remaining > 0:
            chunk = await f.read(min(PLAYBACK_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):  # a player that stops early still closes it
            await f.aclose()


class EvidenceApi(Controller):
    path = "/api/v1/assessments"
    tags = ["evidence"]  # noqa: RUF012

    @put(
        "/{assessment_id:int}/evidence", guards=[ASSESSOR], status_code=201,
        request_max_body_size=UPLOAD_BODY_LIMIT,
        opt={RAW_UPLOAD: True},  # the body is the file, streamed: the input guard never reads it
        summary="Upload a video or photo (raw body, streamed)",
        description=(
            "The request body is the file itself; Content-Type is its type (video/mp4, "
            "video/quicktime, video/webm, image/jpeg, image/png; application/octet-stream "
            "lets the bytes decide). Up to 2 GiB. The file name comes from the `name` query "
            "parameter or the `X-Evidence-Name` header (percent-encoded UTF-8). `recorded_at` "
            "is ISO 8601 with a zone. Only the assessment's assigned assessors, signed in as "
            "themselves (browser sessions send the `x-csrftoken` header). 201 when stored, "
            "200 when the same bytes were already attached to this assessment."
        ),
    )
    async def upload(
        self, request: Request[Actor, Any, Any], assessment_id: Id,
        settings: NamedDependency[Settings], name: FromQuery[str | None] = None,
        recorded_at: FromQuery[str | None] = None,
    ) -> Response[EvidenceOut]:
        actor = request.user
        declared = request.headers.get("content-type")
        # Everything that can be refused without the body is refused before reading it.
        rules.check_declared_type(declared)
        file_name = rules.clean_name(name or unquote(request.headers.get("x-evidence-name", "")))
        when = rules.parse_recorded_at(recorded_at, clock.now())
        if request.content_length is not None:
            rules.check_size(request.content_length, max_size())
        await service.check_can_upload(actor, assessment_id)
        row, created = await _receive_and_attach(
            actor, assessment_id, request_body(request), declared, file_name, when, settings)
        return Response(evidence_out(row), status_code=201 if created else 200)

    @get("/{assessment_id:int}/evidence", guards=[VIEWERS],
         summary="The videos and photos of an assessment")
    async def list_evidence(self, request: Request[Actor, Any, Any],
                            assessment_id: Id) -> list[EvidenceOut]:
        rows = await service.list_for_assessment(request.user, assessment_id)
        return [evidence_out(row) for row in rows]


class EvidencePages(Controller):
    path = "/"
    include_in_schema = False

    @post("/assessments/{assessment_id:int}/evidence", guards=[ASSESSOR],
          request_max_body_size=UPLOAD_BODY_LIMIT)
    async def upload_form(self, request: Request[Actor, Any, Any], assessment_id: Id,
                          settings: NamedDependency[Settings]) -> Redirect:
        """One or more files (field `file`); each is stored or refused on its own, and the
        assessment page shows what happened to each."""
        back = Redirect(f"/assessments/{assessment_id}", status_code=303)
        form = await request.form()
        uploads = [value for value in form.getall("file", [])
                   if isinstance(value, UploadFile) and value.filename]
        try:
            try:
                if not uploads:
                    raise InvalidInput("evidence_file_missing", "请先选择要上传的视频或照片",
                                       {"file": "请选择文件"})
                when = _form_time(form.get("recorded_at"), settings)
                await service.check_can_upload(request.user, assessment_id)
            except FORM_RETRY_ERRORS as exc:
                flash(request, exc.message, category="error")
                return back
            for upload in uploads:
                try:
                    name = rules.clean_name(upload.filename)
                    row, created = await _receive_and_attach(
                        request.user, assessment_id, _upload_file_chunks(upload),
                        upload.content_type, name, when, settings)
                except FORM_RETRY_ERRORS as exc:
                    flash(request, f"「{upload.filename}」未上传：{exc.message}", category="error")
                    continue
                label = service.KIND_LABELS[rules.Kind(row["kind"])]
                if created:
                    flash(request, f"已上传{label}「{row['original_name']}」"
                                   f"（{rules.size_label(row['size'])}）", category="success")
                else:
                    flash(request, f"「{row['original_name']}」之前已上传过，未重复保存",
                          category="info")
        finally:
            for value in form.values():
                if isinstance(value, UploadFile):
                    await value.close()  # removes Litestar's spooled copy now, not at GC
        return back

    @get("/evidence/{evidence_id:int}", guards=[VIEWERS])
    async def play(self, request: Request[Actor, Any, Any], evidence_id: Id,
                   settings: NamedDependency[Settings]) -> Response[Any]:
        row, path = await service.open_for_viewing(
            request.user, evidence_id, settings.media_dir, recent=_recent_views(request.app))
        size = row["size"]
        headers = {
            "Accept-Ranges": "bytes",
            # Sensitive footage on shared tablets: not kept in caches, and every view passes
            # through here to be recorded.
            "Cache-Control": "private, no-store",
            "ETag": f'"{row["sha256"]}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(row['original_name'])}",
        }
        try:
            byte_range = rules.parse_range(request.headers.get("range"), size)
        except RangeNotSatisfiable as exc:
            return Response(exc.as_json(), status_code=416,
                            headers={**headers, "Content-Range": f"bytes */{size}"})
        if byte_range is None:
            start, length, status = 0, size, 200
        else:
            start, length, status = byte_range.start, byte_range.length, 206
            headers["Content-Range"] = byte_range.content_range(size)
        headers["Content-Length"] = str(length)
        return Stream(_file_chunks(path, start, length), status_code=status,
                      media_type=row["content_type"], headers=headers)
