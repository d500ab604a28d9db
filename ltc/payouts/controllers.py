"""Monthly payout pages (SPEC §7): the batch list and the form that makes a month's draft;
a batch with its totals, lines, the transitions by state and role, the bank file, the
bank's result upload and the PDFs; one line explained; the quality deposit ledgers; and a
provider's own statements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromQuery, JSONBody, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import File, Redirect, Stream, Template

from ltc import clock, db
from ltc.audit import service as audit
from ltc.errors import DomainError, InvalidInput, NotFound
from ltc.identity import Actor, Role
from ltc.money import parse_yuan, plain_yuan
from ltc.payouts import declarations, enrolment, figures, queries, service, statements
from ltc.payouts.rules import OUTCOMES, BatchState, Benefit, LineKind
from ltc.regions import interface as regions
from ltc.web.actions import perform
from ltc.web.exports import Page, keyset_page, paged_csv, pdf_file, stored_file
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import AfterId, Id, StateQuery, form_int

STAFF = role_guard(Role.clerk, Role.reviewer, Role.admin)
REVIEWERS = role_guard(Role.reviewer)
PROVIDERS = role_guard(Role.provider)
RESULT_FILE_LIMIT = 10 * 1024 * 1024
UPLOAD_BODY_LIMIT = RESULT_FILE_LIMIT + 1024 * 1024  # the file plus multipart framing
ACTIONS = {"compute": "已开始重新计算，请稍后刷新页面", "submit": "已提交审批",
           "approve": "已审批通过", "return": "已退回经办员", "export": "已导出银行代发文件",
           "settle": "初审结论已记录，服务机构可以看到",
           "recheck_enrolment": "已重新核验参保，结果见下方（全部核验通过的不再列出）"}
STALE = "该结算批次刚被他人处理，请核对最新状态后重新操作"
PAGE_SIZE = 50
EXPORT_PAGE = 500
EXPORT_HEADER = ["批次号", "结算月份", "状态", "明细数", "实付合计（元）"]


def _month(value: str) -> date:
    """`2026-12` (an <input type="month">) or `2026-12-01`."""
    try:
        return date.fromisoformat(value.strip()[:7] + "-01")
    except ValueError:
        raise InvalidInput("invalid_month", "请选择要结算的月份", {"month": "请选择月份"}) \
            from None


def _pooling_code(actor: Actor, chosen: str) -> str:
    """The actor's own pooling region; an unscoped actor (admin) chooses one."""
    if actor.region_path:
        return actor.region_path.split("/")[0]
    if not chosen:
        raise InvalidInput("region_required", "请选择统筹地区", {"region": "请选择统筹地区"})
    return chosen


class PayoutPages(Controller):
    path = "/payouts"
    guards = [STAFF]  # noqa: RUF012
    include_in_schema = False

    async def _index(self, request: Request[Actor, Any, Any], status_code: int = 200,
                     state: str = "", q: str = "", after: int = 0, **context: Any) -> Template:
        actor = request.user
        todo = request.query_params.get("todo", "")
        todo = todo if todo in queries.TODO_LABELS else ""
        default = clock.previous_month(clock.month_first(clock.today()))
        pools = [] if actor.region_path else await regions.at_level("pooling")
        state = state if state in tuple(BatchState) else ""
        rows = await queries.list_batches(actor, state, q, after, PAGE_SIZE + 1, todo)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        return page(request, "payouts/list.html", status_code=status_code,
                    batches=rows, regions=pools, default_month=f"{default:%Y-%m}",
                    state=state, q=q, states=list(BatchState), todo=todo,
                    todos=queries.TODO_LABELS, query={"state": state, "q": q, "todo": todo},
                    next_after=rows[-1]["id"] if more else None,
                    can_prepare=actor.role in service.PREPARE_ROLES,
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    form=context.pop("form", {}), **context)

    @get("/")
    async def index(self, request: Request[Actor, Any, Any], status: StateQuery = "",
                    q: FromQuery[str] = "", after: AfterId = 0) -> Template:
        return await self._index(request, state=status, q=q, after=after)

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any], status: StateQuery = "",
                     q: FromQuery[str] = "", todo: FromQuery[str] = "") -> Stream:
        """The batch list with its filters as CSV for Excel, page by page; audited."""
        actor = request.user
        status = status if status in tuple(BatchState) else ""
        todo = todo if todo in queries.TODO_LABELS else ""

        async def fetch(before: int | None) -> Page:
            return keyset_page(await queries.list_batches(actor, status, q, before or 0,
                                                          EXPORT_PAGE, todo), EXPORT_PAGE)

        def line(b: dict[str, Any]) -> list[Any]:
            return [b["number"], b["month_label"], b["state_label"], b["line_count"],
                    plain_yuan(b["net_fen"])]

        return await paged_csv("payouts.csv", EXPORT_HEADER, fetch, line,
                               audited=lambda: audit.record_list_read(
                                   actor, "payout_batch.list_exported", "payout_batch_list",
                                   {"state": status, "q": q, "todo": todo}))

    @post("/", status_code=200)
    async def create(self, request: Request[Actor, Any, Any],
                     data: URLEncodedBody[dict[str, str]]) -> Any:
        created: dict[str, Any] = {}

        async def transition() -> None:
            month = _month(data.get("month", ""))
            created.update(await service.create_batch(
                request.user, _pooling_code(request.user, data.get("region", "")), month))

        async def render(**context: Any) -> Template:
            return await self._index(request, form=data, **context)

        response = await perform(request, transition, render=render,
                                 done="结算批次已创建，正在计算，请稍后刷新页面",
                                 then="/payouts", stale=STALE)
        return Redirect(f"/payouts/{created['id']}") if created else response

    async def _show(self, request: Request[Actor, Any, Any], batch_id: int,
                    status_code: int = 200, *, check_export: bool = True,
                    **context: Any) -> Template:
        """The batch page. An approved batch's export plan (transfers, payees without an
        account) reads every payee's account (5 s at a city's million payees): the plain
        page offers it as 核对导出, a refused export shows it, the export itself redoes it."""
        actor = request.user
        batch = await queries.batch_detail(actor, batch_id)
        filters = context.pop("filters", {})
        state = BatchState(batch["state"])
        return page(
            request, "payouts/detail.html", status_code=status_code, batch=batch,
            lines=await queries.lines(batch, **filters), filters=filters,
            towns=await queries.batch_towns(batch), benefits=list(Benefit),
            kinds=list(LineKind),
            anomalies=await figures.checks(batch) if state is BatchState.SUBMITTED else None,
            payments=await queries.payments_summary(batch_id)
            if state in (BatchState.EXPORTED, BatchState.RECONCILED) else None,
            unpaid=await queries.unpaid_payments(batch_id)
            if state in (BatchState.EXPORTED, BatchState.RECONCILED) else [],
            export_plan=await service.export_check(actor, batch_id)
            if state is BatchState.APPROVED and check_export else None,
            enrolment_marks=await enrolment.open_marks(batch_id, limit=enrolment.SHOWN_MARKS)
            if state is BatchState.DRAFT else [],
            enrolment_totals=await enrolment.mark_totals(batch_id)
            if state is BatchState.DRAFT else None,
            files=await queries.batch_documents(batch_id),
            declarations=await declarations.batch_declarations(batch_id),
            disputes=await declarations.disputes(batch_id), outcomes=OUTCOMES,
            # One statement per payee is listed with the files above, not on the timeline.
            timeline=[e for e in await audit.timeline("payout_batch", batch_id)
                      if e["action"] != "payout_batch.statement_rendered"],
            can_prepare=actor.role in service.PREPARE_ROLES,
            can_approve=actor.role in service.APPROVE_ROLES,
            can_export=actor.role in (service.PREPARE_ROLES | service.APPROVE_ROLES),
            own_submission=batch["submitted_by"] == actor.id,
            page_size=queries.PAGE, errors=context.pop("errors", {}),
            error=context.pop("error", None), form=context.pop("form", {}), **context)

    @get("/{batch_id:int}")
    async def show(self, request: Request[Actor, Any, Any], batch_id: Id,
                   benefit: FromQuery[str] = "", kind: FromQuery[str] = "",
                   q: FromQuery[str] = "", town: FromQuery[str] = "",
                   excluded: FromQuery[bool] = False, after: AfterId = 0,
                   check: FromQuery[str] = "") -> Template:
        return await self._show(request, batch_id, check_export=check == "export", filters={
            "benefit": benefit, "kind": kind, "q": q, "town": town, "excluded_only": excluded,
            "after_id": after})

    @post("/{batch_id:int}", status_code=200)
    async def act(self, request: Request[Actor, Any, Any], batch_id: Id,
                  data: URLEncodedBody[dict[str, str]]) -> Any:
        """One transition, named by the form's `action`, at the version the page showed."""
        action = data.get("action", "")
        actor = request.user

        async def transition() -> None:
            if action == "compute":
                await service.request_compute(actor, batch_id)
                return
            if action == "recheck_enrolment":
                await service.recheck_enrolment(actor, batch_id)
                return
            if action == "settle":
                dispute_id = form_int(data, "dispute")
                if dispute_id not in {d["id"] for d in await declarations.disputes(batch_id)}:
                    raise NotFound("dispute_not_found", "申报异议不存在")
                await service.settle_dispute(
                    actor, dispute_id, form_int(data, "dispute_version"),
                    data.get("decision", ""), data.get("outcome", ""), data.get("answer", ""))
                return
            version = form_int(data, "version")
            if action == "submit":
                await service.submit(actor, batch_id, version)
            elif action == "approve":
                await service.approve(actor, batch_id, version)
            elif action == "return":
                await service.return_batch(actor, batch_id, version, data.get("reason", ""))
            elif action == "export":
                await service.export(actor, batch_id, version, confirm_missing_accounts=(
                    data.get("confirm_missing_accounts") == "true"))
            else:
                raise InvalidInput("invalid_request", "请选择要办理的操作", {"action": "未知操作"})

        async def render(**context: Any) -> Template:
            return await self._show(request, batch_id, form=data, **context)

        return await perform(request, transition, render=render,
                             done=ACTIONS.get(action, "已办理"), then=f"/payouts/{batch_id}",
                             stale=STALE)

    @post("/{batch_id:int}/bank-result", status_code=200,
          request_max_body_size=UPLOAD_BODY_LIMIT)
    async def bank_result(self, request: Request[Actor, Any, Any], batch_id: Id) -> Any:
        """The bank's result file (CSV, at most 10 MB): refused whole when anything in it
        is wrong, and nothing changes when the same file comes again."""
        form = await request.form()
        try:
            outcome = await service.reconcile(request.user, batch_id,
                                              await _result_file(form.get("file")))
        except DomainError as exc:
            return await self._show(request, batch_id, status_code=exc.status_code,
                                    error=exc.message, errors=exc.fields)
        finally:
            for value in form.values():
                if isinstance(value, UploadFile):
                    await value.close()
        if outcome["already_imported"]:
            flash(request, "该回单已导入，未做任何更改", category="info")
        else:
            flash(request, f"已导入银行回单：支付成功{outcome['paid']}笔，"
                           f"支付失败{outcome['failed']}笔", category="success")
        return Redirect(f"/payouts/{batch_id}")

    @get("/{batch_id:int}/lines/{line_id:int}")
    async def line(self, request: Request[Actor, Any, Any], batch_id: Id,
                   line_id: Id) -> Template:
        detail = await queries.line_detail(request.user, batch_id, line_id)
        marks = await enrolment.open_marks(batch_id, detail["line"]["person"])
        return page(request, "payouts/line.html", mark=marks[0] if marks else None, **detail)

    @get("/{batch_id:int}/bank-file.csv")
    async def bank_file(self, request: Request[Actor, Any, Any], batch_id: Id) -> File:
        batch = await queries.visible_batch(request.user, batch_id)
        if not batch["bank_file_sha256"]:
            raise NotFound("bank_file_not_ready", "结算批次导出后才有银行代发文件")
        return await stored_file(batch["bank_file_sha256"], f"银行代发_{batch['number']}.csv",
                                 object_type="payout_batch", object_id=batch_id, suffix=".csv",
                                 media_type="text/csv; charset=utf-8",
                                 disposition="attachment")

    @get("/{batch_id:int}/documents/{document_id:int}")
    async def document(self, request: Request[Actor, Any, Any], batch_id: Id,
                       document_id: Id) -> File:
        row = await queries.batch_document(request.user, batch_id, document_id)
        batch = await queries.visible_batch(request.user, batch_id)
        return await pdf_file(row["sha256"], f"{queries.DOCUMENT_LABELS.get(row['kind'], '文件')}"
                                             f"_{batch['number']}.pdf",
                              object_type="payout_batch", object_id=batch_id)

    @get("/{batch_id:int}/lines/{line_id:int}/statement.pdf")
    async def statement(self, request: Request[Actor, Any, Any], batch_id: Id,
                        line_id: Id) -> File:
        """The statement of the line's payee (a caregiver's on demand), rendered if not
        stored yet. Addressed by a line, so no resident ID number reaches a URL or a log."""
        detail = await queries.line_detail(request.user, batch_id, line_id)
        return await pdf_file(await _statement_sha(batch_id, detail["line"]["payee_key"]),
                              f"结算单_{detail['batch']['number']}.pdf",
                              object_type="payout_batch", object_id=batch_id)


async def _result_file(upload: Any) -> bytes:
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput("file_required", "请选择银行回单文件（CSV）", {"file": "请选择文件"})
    if not upload.filename.lower().endswith(".csv"):
        raise InvalidInput("not_csv", "银行回单须为 .csv 文件", {"file": "请上传 .csv 文件"})
    data = await upload.read(RESULT_FILE_LIMIT + 1)
    if len(data) > RESULT_FILE_LIMIT:
        raise InvalidInput("file_too_large", "银行回单文件不能超过10MB", {"file": "文件超过10MB"})
    return data


async def _statement_sha(batch_id: int, payee_key: str) -> str | None:
    stored = await queries.statement_sha(batch_id, payee_key)
    if stored:
        return stored
    return await statements.statement_pdf(batch_id, payee_key)


class DepositPages(Controller):
    path = "/payouts/deposits"
    guards = [STAFF]  # noqa: RUF012
    include_in_schema = False

    @get("/")
    async def index(self, request: Request[Actor, Any, Any]) -> Template:
        return page(request, "payouts/deposits.html",
                    organisations=await queries.deposit_balances(request.user))

    async def _show(self, request: Request[Actor, Any, Any], organisation_id: int,
                    status_code: int = 200, **context: Any) -> Template:
        return page(request, "payouts/deposit.html", status_code=status_code,
                    ledger=await queries.deposit_ledger(request.user, organisation_id),
                    actions=service.DEPOSIT_ACTIONS,
                    can_settle=request.user.role in service.APPROVE_ROLES,
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    form=context.pop("form", {}), **context)

    @get("/{organisation_id:int}")
    async def show(self, request: Request[Actor, Any, Any], organisation_id: Id) -> Template:
        return await self._show(request, organisation_id)

    @post("/{organisation_id:int}", status_code=200, guards=[REVIEWERS])
    async def settle(self, request: Request[Actor, Any, Any], organisation_id: Id,
                     data: URLEncodedBody[dict[str, str]]) -> Any:
        async def transition() -> None:
            await queries.deposit_ledger(request.user, organisation_id)  # in the region
            await service.settle_deposit(request.user, organisation_id, data.get("kind", ""),
                                         yuan_to_fen(data.get("amount", "")),
                                         data.get("reason", ""),
                                         seen_last_entry=form_int(data, "ledger_version"))

        async def render(**context: Any) -> Template:
            return await self._show(request, organisation_id, form=data, **context)

        return await perform(request, transition, render=render, done="质量保证金已处理",
                             then=f"/payouts/deposits/{organisation_id}",
                             stale="保证金台账刚有变动（可能是同一表单提交了两次），"
                                   "请核对最新余额后再办理")


def yuan_to_fen(text: str) -> int:
    """The amount field of the deposit form (`1200`, `1,200.50`, `¥80`) in fen."""
    try:
        return parse_yuan(text)
    except ValueError:
        raise InvalidInput("invalid_amount", "金额格式有误",
                           {"amount": "请填写金额，如 1200.00"}) from None


class ProviderStatementPages(Controller):
    path = "/provider/statements"
    guards = [PROVIDERS]  # noqa: RUF012
    include_in_schema = False

    @get("/")
    async def index(self, request: Request[Actor, Any, Any]) -> Template:
        return page(request, "payouts/provider_statements.html",
                    statements=await queries.provider_statements(request.user))

    @get("/{batch_id:int}/statement.pdf")
    async def download(self, request: Request[Actor, Any, Any], batch_id: Id) -> File:
        payee = queries.organisation_payee(request.user.organisation_id or 0)
        mine = {s["id"]: s for s in await queries.provider_statements(request.user)}
        if batch_id not in mine:
            raise NotFound("statement_not_found", "没有该月的结算单")
        return await pdf_file(await _statement_sha(batch_id, payee),
                              f"结算单_{mine[batch_id]['number']}.pdf",
                              object_type="payout_batch", object_id=batch_id)


class ProviderDeclarationPages(Controller):
    """A provider's drafts to declare (申报) and, per draft, its own lines with the
    declaration and a dispute form for each line."""

    path = "/provider/declarations"
    guards = [PROVIDERS]  # noqa: RUF012
    include_in_schema = False

    @get("/")
    async def index(self, request: Request[Actor, Any, Any]) -> Template:
        return page(request, "payouts/provider_declarations.html",
                    drafts=await queries.provider_drafts(request.user))

    async def _show(self, request: Request[Actor, Any, Any], batch_id: int,
                    status_code: int = 200, **context: Any) -> Template:
        return page(request, "payouts/provider_declaration.html", status_code=status_code,
                    **await queries.provider_declaration(request.user, batch_id),
                    errors=context.pop("errors", {}), error=context.pop("error", None),
                    form=context.pop("form", {}), **context)

    @get("/{batch_id:int}")
    async def show(self, request: Request[Actor, Any, Any], batch_id: Id) -> Template:
        shown = await self._show(request, batch_id)  # 404 first for a draft not its own
        async with db.write_transaction():  # beneficiaries' names and amounts: a read
            await audit.record(request.user, "payout_declaration.lines_read", "payout_batch",
                               batch_id)
        return shown

    @post("/{batch_id:int}", status_code=200)
    async def act(self, request: Request[Actor, Any, Any], batch_id: Id,
                  data: URLEncodedBody[dict[str, str]]) -> Any:
        """`declare` the lines the page showed (their fingerprint), or `dispute` one line."""
        action = data.get("action", "")

        async def transition() -> None:
            if action == "declare":
                await service.declare(request.user, batch_id, data.get("lines_sha256", ""))
            elif action == "dispute":
                await service.dispute(request.user, batch_id, form_int(data, "line"),
                                      data.get("reason", ""))
            else:
                raise InvalidInput("invalid_request", "请选择要办理的操作", {"action": "未知操作"})

        async def render(**context: Any) -> Template:
            return await self._show(request, batch_id, form=data, **context)

        return await perform(
            request, transition, render=render,
            done="已申报，经办员初审后提交审批" if action == "declare"
            else "异议已提交，等待经办员初审",
            then=f"/provider/declarations/{batch_id}",
            stale="结算明细刚有变动，请核对最新明细后重新操作")


# --- the API ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExportRequest:
    """`version`: the batch's version as last read; `confirm_missing_accounts`: export even
    though some payees have no bank account (they are left unpaid, with the reason)."""

    version: int
    confirm_missing_accounts: bool = False


class PayoutApi(Controller):
    path = "/api/v1/payouts/batches"
    guards = [role_guard(Role.clerk, Role.reviewer, Role.admin)]  # noqa: RUF012

    @post("/{batch_id:int}/export", status_code=200)
    async def export(self, request: Request[Actor, Any, Any], batch_id: Id,
                     data: JSONBody[ExportRequest]) -> dict[str, Any]:
        """Export an approved batch: its payments and bank file. Refused with 409
        `payee_accounts_missing` unless `confirm_missing_accounts` is true: the error body
        then also holds `error.payees`, every payee without a bank account as
        `{"payee_key", "payee_name", "amount_fen", "reason"}` (payee_key `org:<id>`, or
        `cg:` with the resident ID masked), and nothing is exported. Confirmed, those
        payees are unpaid (status `unpayable`, with the reason) and carried to next month.
        200: `{"id", "number", "state", "version", "bank_file_sha256", "payments":
        {"bank_file": {"count", "amount"}, "rows": [...]}}`."""
        updated = await service.export(request.user, batch_id, data.version,
                                       confirm_missing_accounts=data.confirm_missing_accounts)
        return {"id": updated["id"], "number": updated["number"], "state": updated["state"],
                "version": updated["version"], "bank_file_sha256": updated["bank_file_sha256"],
                "payments": await queries.payments_summary(batch_id)}
