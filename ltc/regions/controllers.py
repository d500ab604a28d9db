"""地区管理 for admins: the pooling region's bureau contact (printed on notices) and national
code pattern, its towns and villages, and their CSV import with a dry run."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from ltc.csvimport import BadRows
from ltc.errors import DomainError
from ltc.identity import Actor, Role
from ltc.regions import service
from ltc.regions.rules import IMPORT_COLUMNS, default_code_pattern
from ltc.web.exports import CSV_UPLOAD_LIMIT, csv_upload
from ltc.web.guards import role_guard
from ltc.web.pages import page

Form = URLEncodedBody[dict[str, str]]


def _pooling_code(actor: Actor) -> str:
    return (actor.region_path or "").split("/")[0]


class RegionPages(Controller):
    path = "/admin/regions"
    guards = [role_guard(Role.admin)]  # noqa: RUF012
    include_in_schema = False

    async def _show(self, request: Request[Actor, Any, Any], status_code: int = 200,
                    **context: Any) -> Template:
        overview = await service.overview(request.user, _pooling_code(request.user))
        region = overview["region"]
        form = context.pop("form", None) or {
            "bureau_address": region.bureau_address, "bureau_phone": region.bureau_phone,
            "organisation_code_pattern": region.organisation_code_pattern}
        return page(request, "admin/regions.html", status_code=status_code, form=form,
                    default_pattern=default_code_pattern(region.code), columns=IMPORT_COLUMNS,
                    errors=context.pop("errors", {}), problems=context.pop("problems", []),
                    report=context.pop("report", None), **overview, **context)

    @get("/")
    async def index(self, request: Request[Actor, Any, Any]) -> Template:
        return await self._show(request)

    @post("/bureau", status_code=200)
    async def bureau(self, request: Request[Actor, Any, Any], data: Form) -> Any:
        try:
            await service.set_bureau(request.user, _pooling_code(request.user),
                                     address=data.get("bureau_address", ""),
                                     phone=data.get("bureau_phone", ""),
                                     code_pattern=data.get("organisation_code_pattern", ""))
        except DomainError as exc:
            return await self._show(request, status_code=exc.status_code, form=data,
                                    errors=exc.fields, error=exc.message)
        flash(request, "统筹地区信息已保存", category="success")
        return Redirect("/admin/regions")

    @post("/import", status_code=200, request_max_body_size=CSV_UPLOAD_LIMIT + 65536)
    async def import_file(self, request: Request[Actor, Any, Any]) -> Template:
        form = await request.form()
        context: dict[str, Any] = {"dry_run": form.get("dry_run") == "on"}
        status_code = 200
        try:
            upload = form.get("file")
            context["report"] = await service.import_places(
                request.user, await csv_upload(upload), region_code=_pooling_code(request.user),
                filename=upload.filename if isinstance(upload, UploadFile) else "",
                dry_run=context["dry_run"])
        except BadRows as exc:
            status_code, context["import_error"] = exc.status_code, exc.message
            context["problems"] = exc.problems
        except DomainError as exc:
            status_code, context["import_error"] = exc.status_code, exc.message
            context["import_errors"] = exc.fields
        finally:
            for value in form.values():
                if isinstance(value, UploadFile):
                    await value.close()
        return await self._show(request, status_code=status_code, **context)
