"""Monthly payouts (SPEC §7): one service function per batch transition, the computation
(ltc.payouts.computation) run set-based in one transaction, and the reads the pages use.

Order of months: a region's batches are made month after month, and a new one only once
every earlier one is approved (or later). So every other batch of the region is final when
a draft is computed, and its adjustments compare against exactly what was paid.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, replace
from datetime import date, timedelta
from typing import Any

from piccolo.columns import Column

from ltc import clock, db, documents, money
from ltc.audit import service as audit
from ltc.decision_events import interface as events
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.identity import SYSTEM, Actor, Role, in_region, region_covers, require_role
from ltc.jobs import outbox
from ltc.organisations.tables import Organisation
from ltc.payouts import computation, declarations, enrolment, figures, rules
from ltc.payouts.computation import Dialect, Month
from ltc.payouts.rules import BatchState, DisputeState, PayeeApproved, PayeePaid
from ltc.payouts.tables import (
    DepositEntry,
    Payment,
    PayoutBatch,
    PayoutDeclaration,
    PayoutDispute,
    PayoutDocument,
    PayoutLine,
)
from ltc.policy.rules import Policy
from ltc.policy.service import parsed_definition, policy_in_force
from ltc.policy.tables import PolicyVersion
from ltc.regions.tables import Region

PREPARE_ROLES = frozenset({Role.clerk, Role.admin})
APPROVE_ROLES = frozenset({Role.reviewer})
DECLARE_ROLES = frozenset({Role.provider})
COMPUTE_JOB = "payouts.compute"
STATEMENT_JOB = "payouts.render_statement"
SUMMARY_JOB = "payouts.render_summary"
# A computation still marked running after this long died with its worker (its
# transaction rolled back); the page offers to start it again.
STALE_COMPUTATION = timedelta(minutes=15)


def dialect() -> Dialect:
    return Dialect(sqlite=db.is_sqlite())


async def _run(sql: str) -> list[dict[str, Any]]:
    return await PayoutBatch.raw(sql)


def batch_number(region_code: str, month: date) -> str:
    return f"JS{region_code}{month:%Y%m}"


async def _batch(batch_id: int) -> dict[str, Any]:
    row = await PayoutBatch.select().where(PayoutBatch.id == batch_id).first()
    if row is None:
        raise NotFound("batch_not_found", "结算批次不存在")
    return row


async def visible_batch(actor: Actor, batch_id: int, *joined: Column) -> dict[str, Any]:
    """The batch if it lies in the actor's region (with `joined` columns too), else
    NotFound: every read and transition of a batch goes through here."""
    row = await PayoutBatch.select(*PayoutBatch.all_columns(), *joined).where(
        (PayoutBatch.id == batch_id) & in_region(actor, PayoutBatch.region_path)).first()
    if row is None:
        raise NotFound("batch_not_found", "结算批次不存在或不在您的辖区")
    return row


async def _set_state(actor: Actor, row: dict[str, Any], expected: BatchState,
                     version: int, values: dict[Any, Any], action: str,
                     note: str | None = None) -> dict[str, Any]:
    if row["state"] != expected:
        raise Conflict("wrong_state", f"结算批次当前为“{BatchState(row['state']).label}”，"
                                      f"不能{_DOING[action]}")
    try:
        updated = await db.update_versioned(PayoutBatch, row["id"], version, values)
    except db.StaleWrite:
        raise Conflict("stale", "该结算批次已被他人处理，请刷新页面后查看最新状态") from None
    await audit.record(actor, f"payout_batch.{action}", "payout_batch", row["id"],
                       before={"state": row["state"]}, after={"state": updated["state"]},
                       note=note)
    return updated


_DOING = {"submitted": "提交审批", "returned": "退回", "approved": "审批",
          "exported": "导出", "reconciled": "对账"}


# --- making and computing a draft -----------------------------------------------------------

async def create_batch(actor: Actor, region_code: str, month: date) -> dict[str, Any]:
    """The draft for a pooling region and month, and its computation queued. Months go in
    order: refused while an earlier batch waits for approval, or for any month but the
    one after the latest batch's."""
    require_role(actor, PREPARE_ROLES, "编制月度结算")
    month = clock.month_first(month)
    if month >= clock.month_first(clock.today()):
        raise InvalidInput("month_not_over", f"{clock.month_label(month)}尚未结束，不能结算")
    region = await Region.select().where(Region.code == region_code).first()
    if region is None or region["level"] != "pooling":
        raise NotFound("region_not_found", "统筹地区不存在")
    if actor.region_path and not region_covers(actor.region_path, region["path"]):
        raise Forbidden("forbidden", "该统筹地区不在您的辖区")
    in_force = await policy_in_force(region["path"], month)
    async with db.write_transaction():
        if not db.is_sqlite():
            await PayoutBatch.raw("SELECT pg_advisory_xact_lock(6006, {})", region["id"])
        existing = await PayoutBatch.select().where(
            PayoutBatch.region_path == region["path"]).order_by(PayoutBatch.month,
                                                               ascending=False)
        same = next((b for b in existing if b["month"] == month), None)
        if same is not None:
            raise Conflict("batch_exists", f"{clock.month_label(month)}的结算批次已存在："
                                           f"{same['number']}")
        open_ = next((b for b in existing if b["state"] in (BatchState.DRAFT,
                                                             BatchState.SUBMITTED)), None)
        if open_ is not None:
            raise Conflict("previous_batch_open",
                           f"{clock.month_label(open_['month'])}的结算批次尚未审批，"
                           "请先完成该批次再编制下个月")
        if existing and month != clock.next_month(existing[0]["month"]):
            latest = existing[0]["month"]
            raise Conflict("month_order", f"上一个结算月份是{clock.month_label(latest)}，"
                                          f"请先编制{clock.month_label(clock.next_month(latest))}"
                                          "的结算（月份须连续，以前月份的更正会自动生成调整）")
        try:
            row = (await PayoutBatch.insert(PayoutBatch(
                number=batch_number(region_code, month), region_path=region["path"],
                month=month, state=str(BatchState.DRAFT), policy_version=in_force.version_id,
                computing_since=clock.now())).returning(*PayoutBatch.all_columns()))[0]
        except db.UNIQUE_VIOLATIONS as exc:  # the database's guard against a second batch
            if db.is_unique_violation(exc):
                raise Conflict("batch_exists",
                               f"{clock.month_label(month)}的结算批次已存在") from None
            raise
        await outbox.enqueue(COMPUTE_JOB, row["id"])
        await audit.record(actor, "payout_batch.created", "payout_batch", row["id"],
                           after={"number": row["number"], "month": month.isoformat()})
    return row


async def request_compute(actor: Actor, batch_id: int) -> dict[str, Any]:
    """Queue a recomputation of a draft (after late facts, or a computation that died)."""
    require_role(actor, PREPARE_ROLES, "重新计算结算")
    async with db.write_transaction():
        row = await visible_batch(actor, batch_id)
        if row["state"] != BatchState.DRAFT:
            raise Conflict("wrong_state", "只有草稿状态的结算批次可以重新计算")
        await _mark_computing(batch_id)
        await audit.record(actor, "payout_batch.compute_requested", "payout_batch", batch_id)
    return await _batch(batch_id)


async def _mark_computing(batch_id: int) -> None:
    """Queue a computation; the version moves, so a submission based on the lines shown
    before is refused as stale rather than freezing a batch about to change."""
    await PayoutBatch.update({PayoutBatch.computing_since: clock.now(),
                              PayoutBatch.version: PayoutBatch.version + 1}).where(
        PayoutBatch.id == batch_id)
    await outbox.enqueue(COMPUTE_JOB, batch_id)


async def compute(batch_id: int) -> dict[str, Any] | None:
    """(Re)compute a draft's lines in one transaction: delete them, insert the month's
    regular lines and visit treatments, the adjustments for earlier final months, and the
    failed payments carried forward. Returns the batch, or None when it is no longer a
    draft (submitted meanwhile: nothing to do). Two at once are serialised on the batch
    row; a worker killed half-way leaves the previous lines, and the job runs again."""
    started, facts_from = time.monotonic(), clock.now()
    d = dialect()
    async with db.write_transaction():
        claimed = await PayoutBatch.update({PayoutBatch.version: PayoutBatch.version + 1}).where(
            (PayoutBatch.id == batch_id) & (PayoutBatch.state == str(BatchState.DRAFT))
        ).returning(*PayoutBatch.all_columns())
        if not claimed:
            return None
        batch = claimed[0]
        month = Month(batch["month"], batch["region_path"],
                      await _policy(batch["policy_version"]))
        await _run(f"DELETE FROM payout_line WHERE batch = {int(batch_id)}")
        await _run(computation.regular_lines(d, month, batch_id, batch["policy_version"]))
        for earlier in await _final_batches_to_check(batch):
            past = Month(earlier["month"], batch["region_path"],
                         await _policy(earlier["policy_version"]))
            persons = computation.touched_persons(d, past, d.moment(earlier["computed_at"]))
            await _run(computation.adjustment_lines(d, replace(past, persons=persons), batch_id,
                                                    earlier["policy_version"]))
        for statement in computation.carry_failed_payments(batch_id, batch["region_path"]):
            await _run(statement)
        await declarations.exclude_upheld_lines(batch_id)
        await declarations.void_changed_declarations(batch_id)
        await enrolment.reset_marks(d, batch_id, batch["month"])
        totals = (await _run(
            "SELECT COUNT(*) AS n, COALESCE(SUM(gross_fen), 0) AS gross, "
            "COALESCE(SUM(withheld_fen), 0) AS withheld, COALESCE(SUM(net_fen), 0) AS net "
            f"FROM payout_line WHERE batch = {int(batch_id)}"))[0]
        seconds = round(time.monotonic() - started)
        await PayoutBatch.update({
            PayoutBatch.line_count: totals["n"], PayoutBatch.gross_fen: int(totals["gross"]),
            PayoutBatch.withheld_fen: int(totals["withheld"]),
            # The moment the facts were read from, not the end: a fact committed while this
            # ran is later than `computed_at`, so the next month's adjustments see it.
            PayoutBatch.net_fen: int(totals["net"]), PayoutBatch.computed_at: facts_from,
            PayoutBatch.compute_seconds: seconds, PayoutBatch.computing_since: None,
        }).where(PayoutBatch.id == batch_id)
        await figures.store(batch)
        await audit.record(SYSTEM, "payout_batch.computed", "payout_batch", batch_id,
                           after={"lines": totals["n"], "net_fen": int(totals["net"]),
                                  "seconds": seconds})
    # After commit: remote calls hold no write lock; the marks keep submission shut meanwhile.
    await enrolment.verify_after_compute(batch_id)
    return await _batch(batch_id)


async def _policy(version_id: int) -> Policy:
    row = await PolicyVersion.select(PolicyVersion.definition).where(
        PolicyVersion.id == version_id).first()
    return parsed_definition(row["definition"])


async def _final_batches_to_check(batch: dict[str, Any]) -> list[dict[str, Any]]:
    since = batch["month"]
    for _ in range(rules.ADJUSTMENT_MONTHS):
        since = clock.previous_month(since)
    return await PayoutBatch.select().where(
        (PayoutBatch.region_path == batch["region_path"])
        & PayoutBatch.state.is_in([str(s) for s in rules.FINAL])
        & (PayoutBatch.month >= since) & (PayoutBatch.month < batch["month"])
        & PayoutBatch.computed_at.is_not_null()).order_by(PayoutBatch.month)


# --- maker-checker --------------------------------------------------------------------------

async def submit(actor: Actor, batch_id: int, version: int) -> dict[str, Any]:
    """DRAFT → SUBMITTED: the lines are frozen from here. Refused while a provider's dispute
    waits for the first review (`disputes_open`, every one named); providers that have not
    declared are recorded with the submission (rules: the declaration)."""
    require_role(actor, PREPARE_ROLES, "提交结算")
    async with db.write_transaction():
        await _lock_declarations(batch_id)  # no dispute raised while this one submits
        row = await visible_batch(actor, batch_id)
        if row["computed_at"] is None or row["computing_since"] is not None:
            raise Conflict("not_computed", "结算尚未计算完成，请等待计算结束后再提交")
        open_ = await declarations.disputes(batch_id, state=DisputeState.open)
        if open_ and row["state"] == BatchState.DRAFT:
            raise Conflict("disputes_open", rules.open_disputes_message(open_))
        await enrolment.refuse_unverified(batch_id)
        undeclared = await declarations.undeclared(batch_id)
        updated = await _set_state(actor, row, BatchState.DRAFT, version, {
            PayoutBatch.state: str(BatchState.SUBMITTED), PayoutBatch.submitted_by: actor.id,
            PayoutBatch.submitted_at: clock.now(), PayoutBatch.returned_reason: ""},
            "submitted", note=("未申报的服务机构：" + "、".join(
                p["payee_name"] for p in undeclared)) if undeclared else None)
    return updated


async def recheck_enrolment(actor: Actor, batch_id: int) -> enrolment.Outcome:
    """The clerk's 重新核验参保: ask the enrolment system again about every open mark of a
    draft now (ltc.payouts.enrolment)."""
    require_role(actor, PREPARE_ROLES, "重新核验参保")
    row = await visible_batch(actor, batch_id)
    if row["state"] != BatchState.DRAFT:
        raise Conflict("wrong_state", "只有草稿状态的结算批次需要核验参保")
    outcome = await enrolment.verify(batch_id)
    async with db.write_transaction():
        await audit.record(actor, "payout_batch.enrolment_rechecked", "payout_batch", batch_id,
                           after=asdict(outcome))
    return outcome


async def return_batch(actor: Actor, batch_id: int, version: int, reason: str) -> dict[str, Any]:
    """SUBMITTED → DRAFT with the reviewer's reason; the preparer may recompute."""
    require_role(actor, APPROVE_ROLES, "退回结算")
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason_required", "请填写退回原因", {"reason": "请填写退回原因"})
    async with db.write_transaction():
        row = await visible_batch(actor, batch_id)
        return await _set_state(actor, row, BatchState.SUBMITTED, version, {
            PayoutBatch.state: str(BatchState.DRAFT), PayoutBatch.submitted_by: None,
            PayoutBatch.submitted_at: None, PayoutBatch.returned_reason: reason[:1000]},
            "returned", note=reason)


async def approve(actor: Actor, batch_id: int, version: int) -> dict[str, Any]:
    """SUBMITTED → APPROVED by a reviewer who did not submit it (also a database
    constraint); the withheld deposits enter the providers' ledgers."""
    require_role(actor, APPROVE_ROLES, "审批结算")
    async with db.write_transaction():
        row = await visible_batch(actor, batch_id)
        if row["submitted_by"] == actor.id:
            raise Forbidden("same_person", "提交人不能审批自己提交的结算，请由另一位审核人员审批")
        updated = await _set_state(actor, row, BatchState.SUBMITTED, version, {
            PayoutBatch.state: str(BatchState.APPROVED), PayoutBatch.approved_by: actor.id,
            PayoutBatch.approved_at: clock.now()}, "approved")
        await _run(computation.withheld_deposits(dialect(), batch_id, row["number"], clock.now()))
        await events.emit_many(events.EventType.payout_approved, [
            (events.payee_subject(p["payee_key"], p["payee_name"]), PayeeApproved(
                batch_number=row["number"], month=row["month"],
                line_count=int(p["line_count"]), gross_fen=int(p["gross"]),
                withheld_fen=int(p["withheld"]), net_fen=int(p["net"])).as_data())
            for p in await _run(computation.payee_totals(batch_id))])
        # The dashboard's money figures now, not tonight (ltc.dashboard.jobs; by name only).
        await outbox.enqueue("dashboard.refresh", f"batch-{batch_id}")
    return updated


# --- the providers' declaration (申报) and first review (初审) --------------------------------

async def _provider_draft(actor: Actor, batch_id: int) -> str:
    """The actor's payee key in a draft that holds lines of its own organisation; any
    other batch, or another provider's, is NotFound. Refused while it is being computed."""
    require_role(actor, DECLARE_ROLES, "申报结算明细")
    payee = declarations.organisation_payee(actor.organisation_id or 0)
    row = await PayoutBatch.select().where(
        (PayoutBatch.id == batch_id) & PayoutBatch.id.is_in(
            PayoutLine.select(PayoutLine.batch).where(PayoutLine.payee_key == payee))).first()
    if row is None:
        raise NotFound("batch_not_found", "该结算批次中没有贵机构的结算明细")
    if row["state"] != BatchState.DRAFT:
        raise Conflict("wrong_state", f"结算批次已{BatchState(row['state']).label}，"
                                      "不能再申报或提出异议")
    if row["computing_since"] is not None:
        raise Conflict("computing", "结算明细正在重新计算，请稍后刷新页面再申报")
    return payee


async def _lock_declarations(batch_id: int) -> None:
    """Declarations and disputes of a batch one at a time (SQLite's write transactions
    already are): a declaration sent twice at once records one, and no declaration slips
    past a dispute raised at the same moment."""
    if not db.is_sqlite():
        await PayoutDeclaration.raw("SELECT pg_advisory_xact_lock(6009, {})", batch_id)


async def declare(actor: Actor, batch_id: int, lines_sha256: str) -> dict[str, Any]:
    """A provider declares (申报) its lines of a draft: true and complete. `lines_sha256`:
    the fingerprint of the lines the page showed; lines changed since → Conflict
    `lines_changed`. Sent twice, the declaration in force is returned and nothing new is
    recorded. Refused while one of its disputes waits for the first review."""
    async with db.write_transaction():
        await _lock_declarations(batch_id)
        payee = await _provider_draft(actor, batch_id)
        lines = await declarations.payee_lines(batch_id, payee)
        fingerprint = rules.lines_fingerprint(lines)
        if fingerprint != lines_sha256:
            raise Conflict("lines_changed", "结算明细刚刚重新计算过，请核对最新明细后再申报")
        current = await declarations.current_declaration(batch_id, payee)
        if current is not None and current["lines_sha256"] == fingerprint:
            return current
        if await PayoutDispute.exists().where(
                (PayoutDispute.batch == batch_id) & (PayoutDispute.payee_key == payee)
                & (PayoutDispute.state == str(DisputeState.open))):
            raise Conflict("disputes_open", "贵机构提出的异议尚未初审，初审后再申报")
        net = sum(int(line["net_fen"]) for line in lines)
        created = (await PayoutDeclaration.insert(PayoutDeclaration(
            batch=batch_id, payee_key=payee, organisation=actor.organisation_id,
            lines_sha256=fingerprint, line_count=len(lines), net_fen=net,
            declared_by=actor.id, declared_at=clock.now())).returning(
            PayoutDeclaration.id))[0]
        await audit.record(actor, "payout_declaration.declared", "payout_batch", batch_id,
                           after={"payee": payee, "lines": len(lines), "net_fen": net,
                                  "lines_sha256": fingerprint})
    return await declarations.current_declaration(batch_id, payee) or created


async def dispute(actor: Actor, batch_id: int, line_id: int, reason: str) -> dict[str, Any]:
    """A provider disputes one of its draft lines with a reason. Its declaration in force,
    if any, is void (it no longer confirms everything); one open dispute per line."""
    problems = rules.dispute_problems(reason)
    if problems:
        raise InvalidInput("invalid_dispute", "异议信息有误，请按提示修改", problems)
    async with db.write_transaction():
        await _lock_declarations(batch_id)
        payee = await _provider_draft(actor, batch_id)
        line = await PayoutLine.select().where(
            (PayoutLine.id == line_id) & (PayoutLine.batch == batch_id)
            & (PayoutLine.payee_key == payee)).first()
        if line is None:
            raise NotFound("line_not_found", "结算明细不存在或已重新计算，请刷新页面")
        same_line = ((PayoutDispute.batch == batch_id) & (PayoutDispute.payee_key == payee)
                     & (PayoutDispute.person == line["person"])
                     & (PayoutDispute.benefit == line["benefit"])
                     & (PayoutDispute.service_month == line["service_month"])
                     & (PayoutDispute.kind == line["kind"]))
        if await PayoutDispute.exists().where(
                same_line & (PayoutDispute.state == str(DisputeState.open))):
            raise Conflict("dispute_open", "该明细已有待初审的异议，请等待经办员初审")
        created = (await PayoutDispute.insert(PayoutDispute(
            batch=batch_id, payee_key=payee, organisation=actor.organisation_id,
            person=line["person"], benefit=line["benefit"],
            service_month=line["service_month"], kind=line["kind"],
            net_fen=line["net_fen"], reason=reason.strip(), raised_by=actor.id,
            raised_at=clock.now())).returning(*PayoutDispute.all_columns()))[0]
        current = await declarations.current_declaration(batch_id, payee)
        if current is not None:
            await declarations.void(current["id"], rules.VOID_DISPUTED)
        await audit.record(actor, "payout_dispute.raised", "payout_batch", batch_id,
                           after={"dispute": created["id"], "payee": payee,
                                  "line": line_id, "net_fen": int(line["net_fen"])},
                           note=reason.strip())
    return created


async def settle_dispute(actor: Actor, dispute_id: int, version: int, decision: str,
                         outcome: str, answer: str) -> dict[str, Any]:
    """The clerk's first review (初审) of a dispute: upheld — the cause is fixed and the
    draft recomputed, or the line excluded from this batch with the reason — or rejected
    with a reason the provider reads. Either way the provider declares again."""
    require_role(actor, PREPARE_ROLES, "初审申报异议")
    outcome = outcome if decision == DisputeState.upheld else ""
    problems = rules.settle_problems(decision, outcome, answer)
    if problems:
        raise InvalidInput("invalid_settlement", "初审信息有误，请按提示修改", problems)
    async with db.write_transaction():
        found = await PayoutDispute.select(PayoutDispute.batch, PayoutDispute.state).where(
            PayoutDispute.id == dispute_id).first()
        if found is None:
            raise NotFound("dispute_not_found", "申报异议不存在")
        batch = await visible_batch(actor, found["batch"])
        if batch["state"] != BatchState.DRAFT:
            raise Conflict("wrong_state", "只有草稿状态的结算批次可以初审异议")
        if found["state"] != DisputeState.open:
            raise Conflict("stale", "该异议已初审，请刷新页面后查看")
        try:
            updated = await db.update_versioned(PayoutDispute, dispute_id, version, {
                PayoutDispute.state: decision, PayoutDispute.outcome: outcome,
                PayoutDispute.answer: answer.strip(), PayoutDispute.settled_by: actor.id,
                PayoutDispute.settled_at: clock.now()})
        except db.StaleWrite:
            raise Conflict("stale", "该异议已被他人初审，请刷新页面后查看") from None
        if decision == DisputeState.upheld:
            await _mark_computing(batch["id"])
        action = ("payout_dispute.upheld" if decision == DisputeState.upheld
                  else "payout_dispute.rejected")
        await audit.record(actor, action, "payout_batch", batch["id"],
                           before={"state": str(DisputeState.open)},
                           after={"dispute": dispute_id, "state": decision,
                                  "outcome": outcome},
                           note=answer.strip() or None)
    return updated


# --- export and reconciliation --------------------------------------------------------------

class PayeesWithoutAccount(Conflict):
    """The export would leave payees unpaid for want of a bank account: all of them named at
    once (一次性告知), and nothing exported until the caller confirms."""

    def __init__(self, payees: list[dict[str, Any]]) -> None:
        total = sum(p["amount_fen"] for p in payees)
        super().__init__(
            "payee_accounts_missing",
            f"{len(payees)}个收款人没有银行账户，合计{money.plain_yuan(total)}元本期不能支付："
            + "；".join(f"{p['payee_name']} {money.plain_yuan(p['amount_fen'])}元"
                       for p in payees[:20])
            + ("等" if len(payees) > 20 else "")
            + "。请先办理协议变更补录账户；或确认导出，这些款项本期不付、下月自动补发",
            {"confirm_missing_accounts": "确认不含这些收款人导出，请勾选确认后再导出"})
        self.payees = payees

    def as_json(self) -> dict:
        body = super().as_json()
        body["error"]["payees"] = self.payees
        return body


async def export_check(actor: Actor, batch_id: int) -> dict[str, Any]:
    """What exporting an approved batch now would send to the bank and what it could not
    pay: {"transfers": {"count", "amount_fen"}, "without_account": [payees], "offsets"}."""
    batch = await visible_batch(actor, batch_id)
    return await _export_plan(batch)


async def _export_plan(batch: dict[str, Any]) -> dict[str, Any]:
    rows = await _run(computation.payee_accounts(dialect(), batch["id"], batch["region_path"],
                                                 clock.today()))
    paid = [r for r in rows if int(r["net"]) > 0 and r["bank_account"]]
    missing = [{"payee_key": rules.payee_label(r["payee_key"]), "payee_name": r["payee_name"],
                "amount_fen": int(r["net"]), "reason": rules.NO_ACCOUNT}
               for r in rows if int(r["net"]) > 0 and not r["bank_account"]]
    return {"transfers": {"count": len(paid), "amount_fen": sum(int(r["net"]) for r in paid)},
            "without_account": sorted(missing, key=lambda p: p["payee_key"]),
            "offsets": sum(1 for r in rows if int(r["net"]) < 0)}


async def export(actor: Actor, batch_id: int, version: int, *,
                 confirm_missing_accounts: bool = False) -> dict[str, Any]:
    """APPROVED → EXPORTED: one payment per payee with a new reference, the bank file
    (pending payments), and the statements and summary queued for the workers. Refused
    with every payee that has no bank account (PayeesWithoutAccount) unless the caller
    confirms exporting without them: they are unpaid, with the reason, and carried."""
    require_role(actor, PREPARE_ROLES | APPROVE_ROLES, "导出结算")
    d = dialect()
    async with db.write_transaction():
        row = await visible_batch(actor, batch_id)
        plan = await _export_plan(row) if row["state"] == BatchState.APPROVED else None
        if plan and plan["without_account"] and not confirm_missing_accounts:
            raise PayeesWithoutAccount(plan["without_account"])
        updated = await _set_state(actor, row, BatchState.APPROVED, version, {
            PayoutBatch.state: str(BatchState.EXPORTED), PayoutBatch.exported_at: clock.now()},
            "exported")
        await _run(computation.payments(d, batch_id, row["number"], row["region_path"],
                                        clock.today()))
        pending = await Payment.select(
            Payment.reference, Payment.payee_name, Payment.bank_name,
            Payment.bank_account_name, Payment.bank_account,
            Payment.amount_fen).where((Payment.batch == batch_id)
                                      & (Payment.status == "pending")).order_by(
            Payment.reference)
        data = rules.bank_file(pending, f"长护险{clock.month_label(row['month'])}待遇")
        sha256 = documents.store(data, suffix=".csv")
        await PayoutDocument(batch=batch_id, kind="bank_file", sha256=sha256).save()
        await PayoutBatch.update({PayoutBatch.bank_file_sha256: sha256}).where(
            PayoutBatch.id == batch_id)
        await outbox.enqueue(SUMMARY_JOB, batch_id)
        organisations = await PayoutLine.select(PayoutLine.payee_key).where(
            (PayoutLine.batch == batch_id) & PayoutLine.organisation.is_not_null()).distinct()
        for payee in organisations:
            await outbox.enqueue(STATEMENT_JOB, batch_id, payee["payee_key"])
        unpaid = (plan or {}).get("without_account", [])
        await audit.record(actor, "payout_batch.bank_file", "payout_batch", batch_id,
                           after={"sha256": sha256, "payments": len(pending),
                                  "amount_fen": sum(p["amount_fen"] for p in pending),
                                  "unpaid_without_account": len(unpaid),
                                  "unpaid_fen": sum(p["amount_fen"] for p in unpaid)},
                           note="确认不含未登记账户的收款人导出" if unpaid else None)
    return {**updated, "bank_file_sha256": sha256}


async def reconcile(actor: Actor, batch_id: int, data: bytes) -> dict[str, Any]:
    """Import the bank's result file. The same file again changes nothing; a file that
    names an unknown reference or contradicts an earlier result is refused whole. Failed
    payments are carried into the next draft when it is computed; when none is pending
    any more the batch is RECONCILED."""
    require_role(actor, PREPARE_ROLES, "导入银行回单")
    sha256 = hashlib.sha256(data).hexdigest()
    results, problems = rules.parse_bank_result(data)
    async with db.write_transaction():
        row = await visible_batch(actor, batch_id)
        if row["state"] not in (BatchState.EXPORTED, BatchState.RECONCILED):
            raise Conflict("wrong_state", "结算批次导出后才能导入银行回单")
        if await PayoutDocument.exists().where(
                (PayoutDocument.batch == batch_id) & (PayoutDocument.kind == "reconciliation")
                & (PayoutDocument.sha256 == sha256)):
            return {"batch": row, "already_imported": True, "paid": 0, "failed": 0}
        _refuse_bank_file(problems)
        payments = {p["reference"]: p for p in await Payment.select(
            Payment.id, Payment.reference, Payment.status, Payment.payee_key,
            Payment.payee_name, Payment.amount_fen).where(Payment.batch == batch_id)}
        for result in results:
            payment = payments.get(result.reference)
            if payment is None:
                problems.append(f"支付流水号 {result.reference} 不属于本批次")
            elif payment["status"] in ("offset", "unpayable"):
                problems.append(f"支付流水号 {result.reference} 未发送银行（"
                                f"{rules.PAYMENT_STATUSES[payment['status']]}），请从回单中删除")
            elif payment["status"] not in ("pending", result.status):
                problems.append(f"支付流水号 {result.reference} 已对账为"
                                f"“{rules.PAYMENT_STATUSES[payment['status']]}”，与本文件不一致")
        _refuse_bank_file(problems)
        now = clock.now()
        new = [r for r in results if payments[r.reference]["status"] == "pending"]
        paid = [r.reference for r in new if r.status == "paid"]
        for start in range(0, len(paid), 500):
            await Payment.update({Payment.status: "paid", Payment.reconciled_at: now,
                                  Payment.reconciliation_sha256: sha256}).where(
                (Payment.batch == batch_id) & Payment.reference.is_in(paid[start:start + 500])
                & (Payment.status == "pending"))
        for result in (r for r in new if r.status == "failed"):
            await Payment.update({Payment.status: "failed", Payment.reconciled_at: now,
                                  Payment.reconciliation_sha256: sha256,
                                  Payment.failure_reason: result.reason}).where(
                (Payment.id == payments[result.reference]["id"])
                & (Payment.status == "pending"))
        await events.emit_many(events.EventType.payout_paid, [
            (events.payee_subject(payments[r]["payee_key"], payments[r]["payee_name"]),
             PayeePaid(batch_number=row["number"], month=row["month"], payment_reference=r,
                       amount_fen=payments[r]["amount_fen"],
                       paid_on=now.astimezone(clock.CHINA).date()).as_data())
            for r in paid])
        documents.store(data, suffix=".csv")
        await PayoutDocument(batch=batch_id, kind="reconciliation", sha256=sha256).save()
        failed = len(new) - len(paid)
        await audit.record(actor, "payout_batch.bank_result", "payout_batch", batch_id,
                           after={"sha256": sha256, "paid": len(paid), "failed": failed})
        if not await Payment.exists().where((Payment.batch == batch_id)
                                            & (Payment.status == "pending")):
            if row["state"] == BatchState.EXPORTED:
                row = await _set_state(actor, row, BatchState.EXPORTED, row["version"], {
                    PayoutBatch.state: str(BatchState.RECONCILED),
                    PayoutBatch.reconciled_at: now}, "reconciled")
        if failed:
            await _recompute_open_draft(row["region_path"])
    return {"batch": row, "already_imported": False, "paid": len(paid), "failed": failed}


def _refuse_bank_file(problems: list[str]) -> None:
    """A bank result with any problem is refused whole, naming the first twenty."""
    if problems:
        listed = "；".join(problems[:20])
        raise InvalidInput("bad_bank_file", "银行回单有误，未导入任何记录：" + listed,
                           {"file": listed})


async def _recompute_open_draft(region_path: str) -> None:
    """A failed payment belongs in the open draft at once, not only at its next run."""
    draft = await PayoutBatch.select(PayoutBatch.id).where(
        (PayoutBatch.region_path == region_path)
        & (PayoutBatch.state == str(BatchState.DRAFT))).first()
    if draft is not None:
        await _mark_computing(draft["id"])


# --- quality deposit ------------------------------------------------------------------------

DEPOSIT_ACTIONS = {"released": "退还", "forfeited": "扣除"}


async def deposit_balance(organisation_id: int) -> int:
    rows = await DepositEntry.raw(
        "SELECT COALESCE(SUM(amount_fen), 0) AS balance FROM deposit_entry "
        "WHERE organisation = {}", organisation_id)
    return int(rows[0]["balance"])


async def last_deposit_entry(organisation_id: int) -> int:
    """The id of the provider's last ledger entry, 0 for none: the ledger's version."""
    row = await DepositEntry.select(DepositEntry.id).where(
        DepositEntry.organisation == organisation_id).order_by(
        DepositEntry.id, ascending=False).first()
    return row["id"] if row else 0


async def settle_deposit(actor: Actor, organisation_id: int, kind: str, amount_fen: int,
                         reason: str, *, seen_last_entry: int | None = None) -> int:
    """Release (退还) or forfeit (扣除) part of a provider's deposit, with a reason.
    `seen_last_entry`: the ledger's last entry id as the form showed it (0: none); if the
    ledger has moved since — the same form sent twice, or another reviewer — StaleWrite.
    Returns the balance after."""
    require_role(actor, APPROVE_ROLES, "处理质量保证金")
    problems = {}
    if kind not in DEPOSIT_ACTIONS:
        problems["kind"] = "请选择退还或扣除"
    if amount_fen <= 0:
        problems["amount"] = "请填写大于0的金额，如 1200.00"
    if not reason.strip():
        problems["reason"] = "请填写原因（如年度考核结果）"
    if problems:
        raise InvalidInput("invalid_deposit", "质量保证金处理信息有误，请按提示修改", problems)
    async with db.write_transaction():
        if not db.is_sqlite():  # two releases at once must not both see the same balance
            await DepositEntry.raw("SELECT pg_advisory_xact_lock(6008, {})", organisation_id)
        organisation = await Organisation.select(Organisation.id).where(
            (Organisation.id == organisation_id) & in_region(actor, Organisation.region.path)
        ).first()
        if organisation is None:
            raise NotFound("organisation_not_found", "服务机构不存在或不在您的辖区")
        if seen_last_entry is not None and seen_last_entry != await last_deposit_entry(
                organisation_id):
            raise db.StaleWrite(DepositEntry._meta.tablename, organisation_id)
        balance = await deposit_balance(organisation_id)
        if amount_fen > balance:
            raise InvalidInput("over_balance", f"金额超过保证金余额{money.plain_yuan(balance)}元",
                               {"amount": f"不能超过余额{money.plain_yuan(balance)}元"})
        entry = await DepositEntry.insert(DepositEntry(
            organisation=organisation_id, kind=kind, amount_fen=-amount_fen,
            reason=reason.strip()[:1000], recorded_by=actor.id)).returning(DepositEntry.id)
        await audit.record(actor, f"deposit.{kind}", "deposit_entry", entry[0]["id"],
                           after={"organisation": organisation_id, "amount_fen": amount_fen},
                           note=reason.strip())
    return balance - amount_fen


# --- the scheduler --------------------------------------------------------------------------

async def prepare_previous_month(today: date) -> list[str]:
    """On the 1st: a draft for the region's next month to pay — last month, or an earlier
    one a pending approval held back — in every pooling region with a policy. A region
    whose earlier batch still waits for approval is skipped (its clerk sees why on the
    batch list); its months are made later, in order. Returns what was done, for the log."""
    last_month = clock.previous_month(clock.month_first(today))
    done = []
    regions = await Region.select(Region.code, Region.path).where(Region.level == "pooling")
    for region in regions:
        latest = await PayoutBatch.select(PayoutBatch.month).where(
            PayoutBatch.region_path == region["path"]).order_by(
            PayoutBatch.month, ascending=False).first()
        month = min(clock.next_month(latest["month"]), last_month) if latest else last_month
        try:
            row = await create_batch(SYSTEM, region["code"], month)
            done.append(row["number"])
        except (Conflict, NotFound) as exc:
            done.append(f"{region['code']}: {exc.code}")
    return done
