"""tus 1.0.0 over HTTP (core, creation, expiration, termination) for evidence uploads.

- `OPTIONS /api/v1/uploads`: what this server speaks.
- `POST /api/v1/uploads`: creation. `Upload-Length` and `Upload-Metadata` with
  `assessment_id`, `filename`, `filetype` and optionally `recorded_at` (ISO 8601); refused
  before any byte is sent when the file could not become that assessment's evidence.
- `HEAD /api/v1/uploads/{key}`: the offset to continue from.
- `PATCH /api/v1/uploads/{key}`: bytes from `Upload-Offset`, streamed to the partial file;
  the only route here whose body limit is raised. The last byte attaches the file; the answer
  then names it in `Evidence-Id` (and `Evidence-Created: 0` if those bytes were there already).
- `DELETE /api/v1/uploads/{key}`: termination.

Session (with the `x-csrftoken` header) or API token, as every API write; only the
assessment's assessors get past creation (ltc.evidence.service).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Controller, Request, delete, head, patch, post
from litestar.di import NamedDependency
from litestar.response import Response

from ltc.evidence import controllers, resumable, tus_rules
from ltc.evidence.resumable import Upload
from ltc.identity import Actor
from ltc.settings import Settings
from ltc.web.input_guard import RAW_UPLOAD

PATH = "/api/v1/uploads"
KEY = "{key:str}"
ASSESSOR = controllers.ASSESSOR


def _headers(**more: str) -> dict[str, str]:
    return {"Tus-Resumable": tus_rules.VERSION, "Cache-Control": "no-store", **more}


def _state(upload: Upload) -> dict[str, str]:
    return _headers(**{"Upload-Offset": str(upload.offset), "Upload-Length": str(upload.length),
                       "Upload-Expires": tus_rules.expires_header(upload.expires_at)})


def _answer(upload: resumable.Upload) -> dict[str, str]:
    """The upload's state and, once attached, the evidence it became (HEAD and PATCH alike:
    a client whose last PATCH's answer was lost learns it from HEAD)."""
    headers = _state(upload)
    if upload.evidence_id is not None:
        headers["Evidence-Id"] = str(upload.evidence_id)
        headers["Evidence-Created"] = "1" if upload.evidence_created else "0"
    return headers


def _keep(settings: Settings) -> timedelta:
    return timedelta(hours=settings.upload_keep_hours)


def _discovery(request: Request) -> Response[None] | None:
    """OPTIONS: what this server speaks, to anyone (a `before_request` hook of the controller,
    since Litestar answers OPTIONS with a handler of its own; this replaces the app's hook
    for these paths, so Allow is set here too)."""
    if request.method != "OPTIONS":
        return None
    return Response(None, status_code=204, headers=_headers(**{
        "Allow": ("DELETE, HEAD, OPTIONS, PATCH" if request.path_params.get("key")
                  else "OPTIONS, POST"),
        "Tus-Version": tus_rules.VERSION, "Tus-Extension": tus_rules.EXTENSIONS,
        "Tus-Max-Size": str(controllers.max_size())}))


class TusApi(Controller):
    path = PATH
    tags = ["evidence"]  # noqa: RUF012
    before_request = _discovery

    @post("/", guards=[ASSESSOR], status_code=201,
          summary="tus creation: a resumable evidence upload",
          description="Upload-Length (bytes, up to Tus-Max-Size) and Upload-Metadata with "
                      "assessment_id, filename, filetype and optionally recorded_at. 201 with "
                      "Location; 4xx with the error body before any byte is sent: 409 "
                      "tus_too_many_open when the user already has 3 unfinished uploads, 413 "
                      "tus_open_too_large when theirs and this one together would declare "
                      "more than twice Tus-Max-Size.")
    async def create(self, request: Request[Actor, Any, Any],
                     settings: NamedDependency[Settings]) -> Response[None]:
        tus_rules.check_version(request.headers.get("tus-resumable"))
        length = tus_rules.parse_length(request.headers.get("upload-length"), "Upload-Length")
        metadata = tus_rules.parse_metadata(request.headers.get("upload-metadata"))
        upload = await resumable.create(request.user, length, metadata, settings.media_dir,
                                        _keep(settings), controllers.max_size())
        return Response(None, status_code=201, headers={
            **_state(upload), "Location": f"{PATH}/{upload.key}"})

    @head(f"/{KEY}", guards=[ASSESSOR], summary="tus: the offset to continue from")
    async def offset(self, request: Request[Actor, Any, Any], key: str,
                     settings: NamedDependency[Settings]) -> Response[None]:
        tus_rules.check_version(request.headers.get("tus-resumable"))
        return Response(None, headers=_answer(
            await resumable.status(request.user, key, settings.media_dir)))

    @patch(f"/{KEY}", guards=[ASSESSOR], status_code=204,
           request_max_body_size=controllers.UPLOAD_BODY_LIMIT,
           opt={RAW_UPLOAD: True},  # the body is the file: never decoded
           summary="tus: append bytes at Upload-Offset",
           description="Content-Type application/offset+octet-stream; 409 when Upload-Offset "
                       "is not the upload's offset, 423 while another PATCH appends. After the "
                       "last byte the file is evidence: Evidence-Id names it.")
    async def append(self, request: Request[Actor, Any, Any], key: str,
                     settings: NamedDependency[Settings]) -> Response[None]:
        tus_rules.check_version(request.headers.get("tus-resumable"))
        claimed = tus_rules.parse_length(request.headers.get("upload-offset"), "Upload-Offset")
        upload = await resumable.append(
            request.user, key, claimed, request.headers.get("content-type"),
            controllers.request_body(request), settings.media_dir, _keep(settings))
        return Response(None, status_code=204, headers=_answer(upload))

    @delete(f"/{KEY}", guards=[ASSESSOR], status_code=204, summary="tus termination")
    async def terminate(self, request: Request[Actor, Any, Any], key: str,
                        settings: NamedDependency[Settings]) -> Response[None]:
        tus_rules.check_version(request.headers.get("tus-resumable"))
        await resumable.terminate(request.user, key, settings.media_dir)
        return Response(None, status_code=204, headers=_headers())
