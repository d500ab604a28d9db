"""定点机构 pages for admins (list with search, filters, paging and CSV; detail with the status
history; register and edit forms; status change; CSV import with a dry run) and the JSON API
`/api/v1/organisations`."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post, put
from litestar.datastructures import UploadFile
from litestar.params import FromQuery, JSONBody, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Response, Template
from msgspec import Struct

from ltc.audit import service as audit
from ltc.csvimport import BadRows
from ltc.db import StaleWrite
from ltc.errors import DomainError
from ltc.identity import Actor, Role
from ltc.organisations import service
from ltc.organisations.rules import IMPORT_COLUMNS, Entry, mask_account
from ltc.web.exports import CSV_UPLOAD_LIMIT, csv_download, csv_upload
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import Id, PageSize, Version, form_int, page_number

Form = URLEncodedBody[dict[str, str]]
STALE = "该机构刚被其他人修改过，下面显示的是最新内容。请核对后重新修改并保存。"
FILTERS = ("q", "category", "status")


def _form_of(row: dict[str, Any]) -> dict[str, Any]:
    """The edit form: the account number left blank (blank keeps it; the full number is
    shown, audited, on the detail page only), its masked form beside the field."""
    return {**{k: row[k] or "" for k in Entry.__dataclass_fields__}, "bank_account_no": "",
            "account_on_file": mask_account(row["bank_account_no"]),
            "region": row["region_code"], "version": row["version"]}


def _effective_on(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


class OrganisationPages(Controller):
    path = "/admin/organisations"
    guards = [role_guard(Role.admin)]  # noqa: RUF012
    include_in_schema = False

    def _form(self, request: Request, status_code: int = 200, **context: Any) -> Template:
        return page(request, "admin/organisation_form.html", status_code=status_code,
                    categories=service.CATEGORY_CHOICES, errors=context.pop("errors", {}),
                    error=context.pop("error", None), **context)

    @get("/")
    async def list_page(self, request: Request[Actor, Any, Any]) -> Template:
        chosen = {k: (request.query_params.get(k) or "").strip() for k in FILTERS}
        rows, matched = await service.list_organisations(
            request.user, chosen["q"], chosen["category"], chosen["status"])
        pages = max(1, -(-matched // service.PAGE_SIZE))
        number = page_number(request.query_params.get("page_number", "1"), pages)
        if number > 1:
            rows, matched = await service.list_organisations(
                request.user, chosen["q"], chosen["category"], chosen["status"], page=number)
        return page(request, "admin/organisations.html", rows=rows, matched=matched,
                    page_number=number, pages=pages, chosen=chosen,
                    query=urlencode({k: v for k, v in chosen.items() if v}),
                    categories=service.CATEGORY_CHOICES, statuses=service.STATUS_CHOICES)

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any]) -> Response:
        chosen = {k: (request.query_params.get(k) or "").strip() for k in FILTERS}
        rows = await service.all_organisations(request.user, chosen["q"], chosen["category"],
                                               chosen["status"])

        async def lines():
            for row in rows:
                yield service.csv_row(row)

        return csv_download("organisations.csv", service.CSV_HEADER, lines())

    @get("/new")
    async def new_page(self, request: Request[Actor, Any, Any]) -> Template:
        return self._form(request, organisation_id=None,
                          form={"region": _region_code(request.user), "category": ""})

    @post("/new", status_code=200)
    async def create(self, request: Request[Actor, Any, Any], data: Form) -> Any:
        try:
            row = await service.register(request.user, Entry.from_mapping(data),
                                         data.get("region", "").strip())
        except DomainError as exc:
            return self._form(request, status_code=exc.status_code, organisation_id=None,
                              form=data, errors=exc.fields, error=exc.message)
        flash(request, f"机构 {row['name']} 已登记", category="success")
        return Redirect(f"/admin/organisations/{row['id']}")

    @get("/{organisation_id:int}")
    async def detail(self, request: Request[Actor, Any, Any], organisation_id: Id,
                     ) -> Template:
        return await self._detail(request, organisation_id)

    async def _detail(self, request: Request[Actor, Any, Any], organisation_id: int,
                      status_code: int = 200, **context: Any) -> Template:
        return page(request, "admin/organisation.html", status_code=status_code,
                    o=await service.detail(request.user, organisation_id),
                    timeline=await audit.timeline("organisation", organisation_id),
                    statuses=service.STATUS_CHOICES, errors=context.pop("errors", {}),
                    error=context.pop("error", None), **context)

    @get("/{organisation_id:int}/edit")
    async def edit_page(self, request: Request[Actor, Any, Any], organisation_id: Id,
                        ) -> Template:
        row = await service.get(request.user, organisation_id)
        return self._form(request, organisation_id=organisation_id, form=_form_of(row))

    @post("/{organisation_id:int}/edit", status_code=200)
    async def update(self, request: Request[Actor, Any, Any], organisation_id: Id,
                     data: Form) -> Any:
        try:
            await service.update(request.user, organisation_id, form_int(data, "version"),
                                 Entry.from_mapping(data),
                                 clear_account=data.get("clear_account") == "on")
        except DomainError as exc:
            row = await service.get(request.user, organisation_id)
            return self._form(request, status_code=exc.status_code,
                              organisation_id=organisation_id, errors=exc.fields,
                              error=exc.message, form={
                                  **data, "account_on_file": _form_of(row)["account_on_file"]})
        except StaleWrite:
            row = await service.get(request.user, organisation_id)
            return self._form(request, status_code=409, organisation_id=organisation_id,
                              form=_form_of(row), error=STALE)
        flash(request, "机构信息已保存", category="success")
        return Redirect(f"/admin/organisations/{organisation_id}")

    @post("/{organisation_id:int}/status", status_code=200)
    async def status(self, request: Request[Actor, Any, Any], organisation_id: Id,
                     data: Form) -> Any:
        try:
            await service.set_status(request.user, organisation_id, form_int(data, "version"),
                                     data.get("status", ""), data.get("reason", ""),
                                     _effective_on(data.get("effective_on", "")))
        except DomainError as exc:
            return await self._detail(request, organisation_id, status_code=exc.status_code,
                                      errors=exc.fields, error=exc.message, form=data)
        except StaleWrite:
            return await self._detail(request, organisation_id, status_code=409, error=STALE,
                                      form={})
        flash(request, "机构状态已变更", category="success")
        return Redirect(f"/admin/organisations/{organisation_id}")

    @get("/import")
    async def import_page(self, request: Request[Actor, Any, Any]) -> Template:
        return page(request, "admin/organisation_import.html", columns=IMPORT_COLUMNS,
                    region=_region_code(request.user), errors={}, problems=[], report=None)

    @post("/import", status_code=200, request_max_body_size=CSV_UPLOAD_LIMIT + 65536)
    async def import_file(self, request: Request[Actor, Any, Any]) -> Template:
        form = await request.form()
        region = str(form.get("region") or "").strip()
        dry_run = form.get("dry_run") == "on"
        context: dict[str, Any] = {"errors": {}, "problems": [], "report": None}
        status_code = 200
        try:
            upload = form.get("file")
            context["report"] = await service.import_organisations(
                request.user, await csv_upload(upload), region_code=region,
                filename=upload.filename if isinstance(upload, UploadFile) else "",
                dry_run=dry_run)
        except BadRows as exc:
            status_code, context["error"] = exc.status_code, exc.message
            context["problems"] = exc.problems
        except DomainError as exc:
            status_code, context["error"] = exc.status_code, exc.message
            context["errors"] = exc.fields
        finally:
            for value in form.values():
                if isinstance(value, UploadFile):
                    await value.close()
        return page(request, "admin/organisation_import.html", status_code=status_code,
                    columns=IMPORT_COLUMNS, region=region, dry_run=dry_run, **context)


def _region_code(actor: Actor) -> str:
    return (actor.region_path or "").split("/")[-1]


# --- API -----------------------------------------------------------------------------------


class OrganisationIn(Struct):
    code: str
    national_code: str
    name: str
    category: str  # assessment | health_centre | home_care | institution
    licence_no: str
    legal_representative: str
    address: str
    contact_name: str
    contact_phone: str
    service_towns: list[str] = []
    bank_name: str = ""
    bank_account_name: str = ""
    bank_account_no: str = ""
    legal_representative_id: str = ""  # for the ban register; optional

    def entry(self) -> Entry:
        values = {k: getattr(self, k) for k in Entry.__dataclass_fields__}
        return Entry.from_mapping({**values, "service_towns": ",".join(self.service_towns)})


class OrganisationCreate(OrganisationIn):
    region: str = ""  # a region code; the caller's region when left out


class OrganisationUpdate(OrganisationIn, kw_only=True):
    version: Version  # the version you read
    clear_bank_account: bool = False  # true removes the account (bank fields sent are ignored)


class StatusChange(Struct):
    version: Version
    status: str  # normal | suspended | exited
    reason: str
    effective_on: date


class OrganisationOut(Struct):
    id: int
    code: str
    national_code: str | None
    name: str
    kind: str  # assessment | provider: what agreements and accounts check
    category: str
    region: str
    status: str  # normal | suspended | exited
    active: bool
    licence_no: str
    legal_representative: str
    address: str
    contact_name: str
    contact_phone: str
    service_towns: list[str]
    bank_name: str
    bank_account_name: str
    bank_account_masked: str  # the full number only on the detail page, audited
    version: int


def _out(row: dict[str, Any]) -> OrganisationOut:
    masked = row.get("bank_account_masked")
    return OrganisationOut(
        id=row["id"], code=row["code"], national_code=row["national_code"], name=row["name"],
        kind=row["kind"], category=row["category"], region=row["region_code"],
        status=row["status"], active=row["active"], licence_no=row["licence_no"],
        legal_representative=row["legal_representative"], address=row["address"],
        contact_name=row["contact_name"], contact_phone=row["contact_phone"],
        service_towns=[t for t in row["service_towns"].split(",") if t],
        bank_name=row["bank_name"], bank_account_name=row["bank_account_name"],
        bank_account_masked=mask_account(row["bank_account_no"]) if masked is None else masked,
        version=row["version"])


class OrganisationApi(Controller):
    """Errors: 422 `invalid_organisation` / `invalid_status_change` (fields name each
    problem), 409 `duplicate_organisation` (code or national code taken) or `stale_write`,
    404 `organisation_not_found`."""

    path = "/api/v1/organisations"
    tags = ["organisations"]  # noqa: RUF012
    guards = [role_guard(Role.admin)]  # noqa: RUF012

    @get("/", summary="The organisation register of the caller's region (page by page)")
    async def list_organisations(self, request: Request[Actor, Any, Any], q: FromQuery[str] = "",
                                 category: FromQuery[str] = "", status: FromQuery[str] = "",
                                 page: FromQuery[int] = 1, limit: PageSize = service.PAGE_SIZE,
                                 ) -> list[OrganisationOut]:
        rows, _ = await service.list_organisations(request.user, q, category, status,
                                                   page=max(1, min(page, 100000)),
                                                   page_size=limit)
        return [_out(row) for row in rows]

    @post("/", summary="Register an organisation (定点机构)")
    async def create(self, request: Request[Actor, Any, Any],
                     data: JSONBody[OrganisationCreate]) -> OrganisationOut:
        row = await service.register(request.user, data.entry(),
                                     data.region or _region_code(request.user))
        return _out(row)

    @get("/{organisation_id:int}", summary="One organisation (bank account masked)")
    async def one(self, request: Request[Actor, Any, Any], organisation_id: Id
                  ) -> OrganisationOut:
        return _out(await service.get(request.user, organisation_id))

    @put("/{organisation_id:int}", summary="Edit an organisation (send the version you read)",
         description="The bank fields (bank_name, bank_account_name, bank_account_no) may be "
         "left out or sent empty: each keeps what is registered, so a GET (which shows the "
         "account number masked) sent back unchanged keeps the account. Send "
         "clear_bank_account: true to remove the account (bank fields sent with it are "
         "ignored). A category "
         "of the other kind (assessment ↔ provider) is refused (422 invalid_organisation, "
         "fields.category) once users, staff, agreements or cases refer to the "
         "organisation.")
    async def update(self, request: Request[Actor, Any, Any], organisation_id: Id,
                     data: JSONBody[OrganisationUpdate]) -> OrganisationOut:
        return _out(await service.update(request.user, organisation_id, data.version,
                                         data.entry(), clear_account=data.clear_bank_account))

    @post("/{organisation_id:int}/status", summary="Change the status (正常/暂停/退出)")
    async def change_status(self, request: Request[Actor, Any, Any], organisation_id: Id,
                            data: JSONBody[StatusChange]) -> OrganisationOut:
        return _out(await service.set_status(request.user, organisation_id, data.version,
                                             data.status, data.reason, data.effective_on))

