"""The staff register's pages (admins and clerks: list, export, register, edit, training,
CSV import) and its JSON API. Thin: parse, call ltc.staff.service, render."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.datastructures import UploadFile
from litestar.params import FromQuery, JSONBody, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Response, Template
from msgspec import Struct

from ltc import clock, db
from ltc.audit import service as audit
from ltc.db import StaleWrite
from ltc.errors import DomainError, InvalidInput
from ltc.identity import Actor, Role
from ltc.people.rules import mask_resident_id
from ltc.staff import service
from ltc.staff.rules import KIND_LABELS, STATUS_LABELS, StaffKind, StaffStatus, expiry_state
from ltc.web.access_log import masked_search
from ltc.web.exports import csv_download
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import AfterId, Id, PageSize, Version, form_int

Form = URLEncodedBody[dict[str, str]]
PAGE_SIZE = 50
IMPORT_LIMIT = 5 * 1024 * 1024
FILTERS = ("q", "kind", "status", "organisation", "expiry")
FORM_FIELDS = ("resident_id", "name", "kind", "certificate_no", "certificate_until",
               "staff_code", "organisation", "username", "status")


def _filters(request: Request) -> dict[str, str]:
    return {f: request.query_params.get(f, "") for f in FILTERS}


def _labels() -> dict[str, Any]:
    return {"kinds": KIND_LABELS, "statuses": STATUS_LABELS,
            "expiries": service.EXPIRY_FILTERS, "mask": mask_resident_id,
            "expiry_state": expiry_state, "today": clock.today()}


class StaffPages(Controller):
    path = "/staff"
    guards = [role_guard(Role.admin, Role.clerk)]  # noqa: RUF012

    @get("/")
    async def index(self, request: Request[Actor, Any, Any], after: AfterId = 0) -> Template:
        filters = _filters(request)
        rows = await service.list_staff(request.user, **filters, after=after,
                                        limit=PAGE_SIZE + 1)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        return page(request, "staff/list.html", rows=rows, filters=filters,
                    matched=await service.count_staff(request.user, **filters),
                    next_after=rows[-1]["id"] if more else None, **_labels())

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any]) -> Response:
        """Every matching record, resident IDs masked; the export is audited."""
        filters = _filters(request)
        async with db.write_transaction():
            await audit.record(request.user, "staff.exported", "staff_list",
                               request.user.region_path or "all",
                               after={**filters, "q": masked_search(filters["q"])})

        async def lines():
            after = 0
            while rows := await service.list_staff(request.user, **filters, after=after,
                                                   limit=500):
                for r in rows:
                    yield [r["name"], mask_resident_id(r["resident_id"] or ""),
                           KIND_LABELS[StaffKind(r["kind"])], r["certificate_no"],
                           r["certificate_until"].isoformat(),
                           expiry_state(r["certificate_until"], clock.today()),
                           r["staff_code"] or "", r["organisation.name"],
                           r["user.username"] or "", STATUS_LABELS[StaffStatus(r["status"])]]
                after = rows[-1]["id"]

        return csv_download("staff.csv", ["姓名", "身份证号（脱敏）", "资质类别", "证书编号",
                                          "证书有效期至", "证书状态", "医保人员编码",
                                          "工作单位", "关联账号", "状态"], lines())

    def _form(self, request: Request, staff_id: int | None, form: dict[str, Any],
              status_code: int = 200, error: str | None = None,
              errors: dict[str, str] | None = None) -> Template:
        return page(request, "staff/form.html", status_code=status_code, staff_id=staff_id,
                    form=form, error=error, errors=errors or {}, **_labels())

    @get("/new")
    async def new_page(self, request: Request) -> Template:
        return self._form(request, None, {"status": "active"})

    @post("/new", status_code=200)
    async def create(self, request: Request[Actor, Any, Any], data: Form) -> Any:
        try:
            row = await service.create_staff(request.user, data)
        except DomainError as exc:
            return self._form(request, None, data, exc.status_code, exc.message, exc.fields)
        flash(request, f"已登记服务人员 {row['name']}", category="success")
        return Redirect(f"/staff/{row['id']}")

    @get("/{staff_id:int}")
    async def detail(self, request: Request[Actor, Any, Any], staff_id: Id) -> Template:
        return await self._detail(request, staff_id)

    async def _detail(self, request: Request[Actor, Any, Any], staff_id: int,
                      status_code: int = 200, **context: Any) -> Template:
        row = await service.get_staff(request.user, staff_id)
        return page(request, "staff/detail.html", status_code=status_code, row=row,
                    trainings=await service.trainings_of(staff_id),
                    timeline=await service.history_of(staff_id),
                    training=context.pop("training", {}), errors=context.pop("errors", {}),
                    **context, **_labels())

    @get("/{staff_id:int}/edit")
    async def edit_page(self, request: Request[Actor, Any, Any], staff_id: Id) -> Template:
        row = await service.reveal_resident_id(request.user, staff_id)
        return self._form(request, staff_id, service.form_of(row))

    @post("/{staff_id:int}/edit", status_code=200)
    async def update(self, request: Request[Actor, Any, Any], staff_id: Id,
                     data: Form) -> Any:
        try:
            await service.update_staff(request.user, staff_id,
                                       expected_version=form_int(data, "version"), values=data)
        except StaleWrite:
            row = await service.reveal_resident_id(request.user, staff_id)
            return self._form(request, staff_id, service.form_of(row), 409,
                              "该人员刚被其他人修改过，下面显示的是最新内容。请核对后重新修改并保存。")
        except DomainError as exc:
            return self._form(request, staff_id, data, exc.status_code, exc.message,
                              exc.fields)
        flash(request, "服务人员登记已保存", category="success")
        return Redirect(f"/staff/{staff_id}")

    @post("/{staff_id:int}/training", status_code=200)
    async def training(self, request: Request[Actor, Any, Any], staff_id: Id,
                       data: Form) -> Any:
        try:
            await service.add_training(request.user, staff_id, data)
        except InvalidInput as exc:
            return await self._detail(request, staff_id, exc.status_code, training=data,
                                      errors=exc.fields, error=exc.message)
        flash(request, "培训记录已登记", category="success")
        return Redirect(f"/staff/{staff_id}")

    @get("/import")
    async def import_page(self, request: Request) -> Template:
        return page(request, "staff/import.html", columns=service.IMPORT_COLUMNS,
                    optional=service.IMPORT_OPTIONAL, labels=service.COLUMN_LABELS,
                    problems=[], report=None, error=None)

    @post("/import", status_code=200, request_max_body_size=IMPORT_LIMIT + 64 * 1024)
    async def import_file(self, request: Request[Actor, Any, Any]) -> Template:
        form = await request.form()
        context: dict[str, Any] = {"problems": [], "report": None, "error": None}
        status_code = 200
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise InvalidInput("file_required", "请选择要导入的 CSV 文件",
                                   {"file": "请选择文件"})
            data = await upload.read(IMPORT_LIMIT + 1)
            if len(data) > IMPORT_LIMIT:
                raise InvalidInput("file_too_large", "文件不能超过5MB", {"file": "文件超过5MB"})
            context["report"] = await service.import_staff(
                request.user, data, filename=upload.filename,
                dry_run=form.get("dry_run") == "on")
        except service.BadRows as exc:
            status_code, context["error"], context["problems"] = (
                exc.status_code, exc.message, [str(p) for p in exc.problems])
        except DomainError as exc:
            status_code, context["error"] = exc.status_code, exc.message
        finally:
            for value in form.values():
                if isinstance(value, UploadFile):
                    await value.close()
        return page(request, "staff/import.html", status_code=status_code,
                    columns=service.IMPORT_COLUMNS, optional=service.IMPORT_OPTIONAL,
                    labels=service.COLUMN_LABELS, **context)


# --- API ------------------------------------------------------------------------------------

class StaffOut(Struct):
    id: int
    resident_id_masked: str  # the full number is shown only on the audited edit page
    name: str
    kind: str  # nurse | care_worker | assessor | expert
    certificate_no: str
    certificate_until: date  # the last valid day
    certificate_state: str  # "" | 即将到期 (within 30 days) | 已过期
    staff_code: str | None  # 医保人员编码; None on records awaiting completion
    organisation: str  # the employer's code
    username: str | None  # the linked account
    status: str  # active | suspended | left
    version: Version


class StaffIn(Struct):
    """A staff record. Errors: 422 `invalid_staff` with every bad field at once (resident_id
    checksum, staff_code format or already registered, kind, certificate, employer …); 409
    `staff_duplicate` when someone registered the same person meanwhile."""

    resident_id: str
    name: str
    kind: str
    certificate_no: str
    certificate_until: str  # YYYY-MM-DD, the last valid day
    staff_code: str
    organisation: str
    username: str = ""
    status: str = "active"


class StaffUpdate(StaffIn, kw_only=True):
    version: Version


class TrainingIn(Struct):
    trained_on: str  # YYYY-MM-DD
    course: str
    hours: int
    issuer: str


class TrainingOut(Struct):
    id: int
    trained_on: date
    course: str
    hours: int
    issuer: str


class ImportIn(Struct):
    filename: str
    csv: str  # the file's text: header resident_id,name,kind,certificate_no,…
    dry_run: bool = True


class ImportOut(Struct):
    filename: str
    sha256: str
    rows: int
    dry_run: bool


def _out(row: dict[str, Any]) -> StaffOut:
    return StaffOut(
        id=row["id"], resident_id_masked=mask_resident_id(row["resident_id"] or ""),
        name=row["name"], kind=row["kind"], certificate_no=row["certificate_no"],
        certificate_until=row["certificate_until"],
        certificate_state=expiry_state(row["certificate_until"], clock.today()),
        staff_code=row["staff_code"], organisation=row["organisation.code"],
        username=row["user.username"], status=row["status"], version=row["version"])


def _values(data: Struct) -> dict[str, str]:
    return {f: str(getattr(data, f)) for f in data.__struct_fields__ if f != "version"}


class StaffApi(Controller):
    path = "/api/v1/staff"
    tags = ["staff"]  # noqa: RUF012
    guards = [role_guard(Role.admin, Role.clerk)]  # noqa: RUF012

    @get("/", summary="The staff register in the caller's region (keyset paging by id)",
         description="Filters: q (name, pinyin initials, resident ID, staff code, "
         "certificate), kind, status, organisation (code), expiry (expiring: within 30 "
         "days; expired; incomplete).")
    async def list_staff(self, request: Request[Actor, Any, Any], q: FromQuery[str] = "",
                         kind: FromQuery[str] = "", status: FromQuery[str] = "",
                         organisation: FromQuery[str] = "", expiry: FromQuery[str] = "",
                         after: AfterId = 0, limit: PageSize = PAGE_SIZE) -> list[StaffOut]:
        rows = await service.list_staff(request.user, q=q, kind=kind, status=status,
                                        organisation=organisation, expiry=expiry,
                                        after=after, limit=limit)
        return [_out(r) for r in rows]

    @post("/", summary="Register a member of staff (实名制)")
    async def create(self, request: Request[Actor, Any, Any],
                     data: JSONBody[StaffIn]) -> StaffOut:
        return _out(await service.create_staff(request.user, _values(data)))

    @get("/{staff_id:int}", summary="One member of staff")
    async def one(self, request: Request[Actor, Any, Any], staff_id: Id) -> StaffOut:
        return _out(await service.get_staff(request.user, staff_id))

    @put("/{staff_id:int}", summary="Edit a member of staff (send the version you read; "
         "409 stale_write if stale)")
    async def update(self, request: Request[Actor, Any, Any], staff_id: Id,
                     data: JSONBody[StaffUpdate]) -> StaffOut:
        return _out(await service.update_staff(request.user, staff_id,
                                               expected_version=data.version,
                                               values=_values(data)))

    @post("/{staff_id:int}/training", summary="Record a training (422 invalid_training)")
    async def training(self, request: Request[Actor, Any, Any], staff_id: Id,
                       data: JSONBody[TrainingIn]) -> TrainingOut:
        row = await service.add_training(request.user, staff_id, _values(data))
        return TrainingOut(id=row["id"], trained_on=row["trained_on"], course=row["course"],
                           hours=row["hours"], issuer=row["issuer"])

    @post("/import", summary="Import staff from CSV text, all or nothing",
          description="Every bad row is reported with its line number (422 "
          "staff_rows_invalid, `fields.file`) and nothing is imported. dry_run (default "
          "true) checks without writing.")
    async def import_csv(self, request: Request[Actor, Any, Any],
                         data: JSONBody[ImportIn]) -> ImportOut:
        report = await service.import_staff(request.user, data.csv.encode(),
                                            filename=data.filename, dry_run=data.dry_run)
        return ImportOut(filename=report.filename, sha256=report.sha256, rows=report.rows,
                         dry_run=report.dry_run)
