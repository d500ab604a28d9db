"""Payout documents as PDFs: a payee's statement (结算对账单) and a batch's summary (结算汇总表).

Both are built from stored, frozen values (the batch's lines, its payments made at export,
the policy versions of its lines) and the bureau's contact as its pooling region has it
(policy.service.issuer), and dated by the batch itself, never by the clock: rendering
again gives the same bytes, so a job delivered twice records nothing new.

Providers' statements are rendered by the worker after export (`payouts.render_statement`);
a family caregiver's is rendered on demand when the page asks for it (`statement_pdf`), since
rendering every caregiver's statement each month would take hours for nothing.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

import anyio

from ltc import clock, db, documents, money
from ltc.accounts.tables import User
from ltc.audit import service as audit
from ltc.errors import Conflict, NotFound
from ltc.identity import SYSTEM
from ltc.payouts import declarations, queries, rules
from ltc.payouts.rules import BatchState, Benefit, LineKind
from ltc.payouts.tables import Payment, PayoutBatch, PayoutDocument, PayoutLine
from ltc.people.rules import mask_resident_id
from ltc.policy.rules import Policy
from ltc.policy.service import issuer, parsed_definition
from ltc.policy.tables import PolicyVersion
from ltc.regions.tables import Region

STATEMENT_TEMPLATE = "pdf/payout_statement.html"
SUMMARY_TEMPLATE = "pdf/payout_summary.html"
# Statements show what was paid: only once the batch is exported are the payments made.
STATEMENT_STATES = (BatchState.EXPORTED, BatchState.RECONCILED)
_LOCK_KEY = 6007  # pg_advisory_xact_lock(6007, batch id): one document row per render


def mask_account(account: str) -> str:
    """"6228480012345678" → "************5678": the last four digits only."""
    account = account.replace(" ", "")
    if len(account) <= 4:
        return "*" * len(account)
    return "*" * (len(account) - 4) + account[-4:]


def _local(value: Any) -> str:
    return "" if value is None else value.astimezone(clock.CHINA).strftime("%Y-%m-%d %H:%M")


async def _batch(batch_id: int) -> dict[str, Any]:
    row = await PayoutBatch.select().where(PayoutBatch.id == batch_id).first()
    if row is None:
        raise NotFound("batch_not_found", "结算批次不存在")
    return row


async def _policies(version_ids: set[int]) -> dict[int, Policy]:
    rows = await PolicyVersion.select(PolicyVersion.id, PolicyVersion.definition).where(
        PolicyVersion.id.is_in(sorted(version_ids)))
    return {row["id"]: parsed_definition(row["definition"]) for row in rows}


def _issued_on(batch: dict[str, Any]) -> date | None:
    moment = batch["exported_at"] or batch["approved_at"]
    return None if moment is None else moment.astimezone(clock.CHINA).date()


def _money(row: dict[str, Any]) -> dict[str, str]:
    return {"gross": money.plain_yuan(int(row["gross_fen"])),
            "withheld": money.plain_yuan(int(row["withheld_fen"])),
            "net": money.plain_yuan(int(row["net_fen"]))}


# --- a payee's statement --------------------------------------------------------------------

async def statement_context(batch_id: int, payee_key: str) -> dict[str, Any]:
    """What a payee's statement shows: the payee and the account paid into (masked), every
    line of theirs in the batch with its explanation and, for home visits, each visit of the
    month (counted, or why not), and the totals."""
    batch = await _batch(batch_id)
    if batch["state"] not in STATEMENT_STATES:
        raise Conflict("not_exported", "结算批次导出后才能生成对账单")
    lines = await PayoutLine.select(
        PayoutLine.all_columns(), PayoutLine.person.name.as_alias("person_name"),
        PayoutLine.person.resident_id.as_alias("person_resident_id"),
    ).where((PayoutLine.batch == batch_id) & (PayoutLine.payee_key == payee_key))
    if not lines:
        raise NotFound("payee_not_found", "该收款人在本结算批次中没有结算明细")
    lines.sort(key=lambda r: (r["person_name"], r["person_resident_id"], r["benefit"],
                              r["service_month"], r["kind"], r["id"]))
    policies = await _policies({batch["policy_version"]}
                               | {line["policy_version"] for line in lines})
    payment = await Payment.select().where(
        (Payment.batch == batch_id) & (Payment.payee_key == payee_key)).first()
    visits = await queries.treated_visits(lines)
    shown = []
    for line in lines:
        benefit, kind = Benefit(line["benefit"]), LineKind(line["kind"])
        basis_points = policies[line["policy_version"]].deposit_basis_points
        shown.append({
            "beneficiary": line["person_name"],
            "resident_id": mask_resident_id(line["person_resident_id"]),
            "benefit": benefit.label, "kind": kind.label,
            "service_month": clock.month_label(line["service_month"]),
            "explanation": rules.explain(line, basis_points), **_money(line),
            "visits": _shown_visits(visits[line["id"]]),
        })
    totals = {key: sum(int(line[f"{key}_fen"]) for line in lines)
              for key in ("gross", "withheld", "net")}
    bank_name = payment["bank_name"] if payment else ""
    bank_account = payment["bank_account"] if payment else ""
    status = queries.payment_status(payment["status"] if payment else None,
                                    int(payment["amount_fen"]) if payment else 0,
                                    payment["failure_reason"] if payment else "")
    return {
        "bureau": await issuer(policies[batch["policy_version"]], batch["region_path"]),
        "issued_on": _issued_on(batch),
        "batch": {"number": batch["number"], "month": clock.month_label(batch["month"])},
        "payee": {"name": lines[0]["payee_name"],
                  "kind": "定点护理服务机构" if payee_key.startswith("org:") else "家庭照护人员",
                  "bank_name": bank_name, "bank_account": mask_account(bank_account),
                  "reference": payment["reference"] if payment else "",
                  "amount": money.plain_yuan(int(payment["amount_fen"])) if payment else "0.00",
                  "sent": bool(payment) and payment["status"] in rules.SENT,
                  "status": status["payment_label"], "unpaid_reason": status["unpaid_reason"]},
        "lines": shown,
        "totals": {key: money.plain_yuan(value) for key, value in totals.items()},
        "line_count": len(lines),
        **await _declared(batch_id, payee_key),
    }


async def _declared(batch_id: int, payee_key: str) -> dict[str, Any]:
    """The provider's declaration (who, when) and its disputes with the first review's
    outcome; frozen once the batch leaves DRAFT."""
    if not payee_key.startswith("org:"):
        return {"declaration": None, "disputes": [], "declares": False}
    declaration = await declarations.current_declaration(batch_id, payee_key)
    return {
        "declares": True,
        "declaration": None if declaration is None else {
            "by": declaration["declarer"], "at": _local(declaration["declared_at"])},
        "disputes": [{"beneficiary": d["person_name"], "benefit": d["benefit_label"],
                      "service_month": d["month_label"], "reason": d["reason"],
                      "state": d["state_label"], "outcome": d["outcome_label"],
                      "answer": d["answer"], "settled_at": _local(d["settled_at"])}
                     for d in await declarations.disputes(batch_id, payee_key)],
    }


def _shown_visits(visits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shown = []
    for visit in visits:
        started = visit["started_at"].astimezone(clock.CHINA)
        ended = visit["ended_at"].astimezone(clock.CHINA)
        shown.append({"date": started.date().isoformat(),
                      "time": f"{started:%H:%M}–{ended:%H:%M}", "staff": visit["staff"],
                      "counted": visit["counted"],
                      "outcome": "计费" if visit["counted"] else visit["reason"]})
    return shown


async def statement_pdf(batch_id: int, payee_key: str) -> str:
    """Render and store a payee's statement and record it once (idempotent: the same
    batch and payee give the same bytes). Returns the document's SHA-256."""
    context = await statement_context(batch_id, payee_key)
    return await _render_and_record(STATEMENT_TEMPLATE, context, batch_id, "statement",
                                    payee_key)


# --- the batch's summary --------------------------------------------------------------------

async def summary_context(batch_id: int) -> dict[str, Any]:
    """The approval record of a batch: who prepared and approved it and when, totals by
    benefit and by town, line counts, the payments, the deposit withheld, the budget."""
    batch = await _batch(batch_id)
    if batch["state"] not in rules.FINAL:
        raise Conflict("not_approved", "结算批次审批后才能生成汇总表")
    policy = (await _policies({batch["policy_version"]}))[batch["policy_version"]]
    users = {row["id"]: row["display_name"] for row in await User.select(
        User.id, User.display_name).where(User.id.is_in(
            [u for u in (batch["submitted_by"], batch["approved_by"]) if u is not None]
            or [0]))}
    sums = ("COUNT(*) AS lines, COALESCE(SUM(gross_fen), 0) AS gross_fen, "
            "COALESCE(SUM(withheld_fen), 0) AS withheld_fen, "
            "COALESCE(SUM(net_fen), 0) AS net_fen")
    by_benefit = await PayoutLine.raw(
        f"SELECT benefit, {sums} FROM payout_line WHERE batch = {{}} GROUP BY benefit",
        batch_id)
    by_kind = await PayoutLine.raw(
        f"SELECT kind, {sums} FROM payout_line WHERE batch = {{}} GROUP BY kind", batch_id)
    by_place = await PayoutLine.raw(
        f"SELECT region_path, {sums} FROM payout_line WHERE batch = {{}} "
        "GROUP BY region_path", batch_id)
    sent = ", ".join(f"'{status}'" for status in rules.SENT)
    payments = (await Payment.raw(  # exactly the payments in the bank file
        "SELECT COUNT(*) AS n, COALESCE(SUM(amount_fen), 0) AS amount_fen "
        f"FROM payment WHERE batch = {{}} AND status IN ({sent})", batch_id))[0]
    offsets = (await Payment.raw(
        "SELECT COUNT(*) AS n, COALESCE(SUM(amount_fen), 0) AS amount_fen "
        "FROM payment WHERE batch = {} AND status = 'offset'", batch_id))[0]
    unpaid = await Payment.select(Payment.payee_name, Payment.amount_fen,
                                  Payment.failure_reason).where(
        (Payment.batch == batch_id) & (Payment.status == "unpayable")).order_by(
        Payment.reference)
    towns = await _by_town(by_place)
    benefit_order = list(Benefit)
    kind_order = list(LineKind)
    budget = policy.monthly_budget_fen
    return {
        "bureau": await issuer(policy, batch["region_path"]),
        "issued_on": _issued_on(batch),
        "batch": {
            "number": batch["number"], "month": clock.month_label(batch["month"]),
            "state": BatchState(batch["state"]).label,
            "preparer": users.get(batch["submitted_by"], ""),
            "submitted_at": _local(batch["submitted_at"]),
            "approver": users.get(batch["approved_by"], ""),
            "approved_at": _local(batch["approved_at"]),
            "exported_at": _local(batch["exported_at"]),
            "line_count": batch["line_count"],
            "gross": money.plain_yuan(batch["gross_fen"]),
            "withheld": money.plain_yuan(batch["withheld_fen"]),
            "net": money.plain_yuan(batch["net_fen"]),
        },
        "by_benefit": [{"label": Benefit(row["benefit"]).label, "lines": row["lines"],
                        **_money(row)} for row in sorted(
            by_benefit, key=lambda r: benefit_order.index(Benefit(r["benefit"])))],
        "by_kind": [{"label": LineKind(row["kind"]).label, "lines": row["lines"],
                     **_money(row)} for row in sorted(
            by_kind, key=lambda r: kind_order.index(LineKind(r["kind"])))],
        "by_town": towns,
        "exported": batch["exported_at"] is not None,
        "payments": {"count": int(payments["n"]),
                     "amount": money.plain_yuan(int(payments["amount_fen"])),
                     "unpaid": [{"name": p["payee_name"],
                                 "amount": money.plain_yuan(int(p["amount_fen"])),
                                 "reason": p["failure_reason"]} for p in unpaid],
                     "unpaid_amount": money.plain_yuan(sum(int(p["amount_fen"])
                                                           for p in unpaid)),
                     "offset_count": int(offsets["n"]),
                     "offset_amount": money.plain_yuan(int(offsets["amount_fen"]))},
        "budget": None if budget is None else {
            "amount": money.plain_yuan(budget),
            "used_percent": _percent(int(batch["net_fen"]), budget),
            "over": int(batch["net_fen"]) > budget,
        },
    }


def _percent(part: int, whole: int) -> str:
    """One decimal, in integers: 12345 of 100000 → "12.3"."""
    if whole <= 0:
        return ""
    tenths = rules.divide_half_up(part * 1000, whole)
    sign = "-" if tenths < 0 else ""
    return f"{sign}{abs(tenths) // 10}.{abs(tenths) % 10}"


async def _by_town(by_place: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold the totals of each village's path into its town (the path's second level)."""
    totals: dict[str, dict[str, int]] = {}
    for row in by_place:
        town = "/".join(row["region_path"].split("/")[:2])
        entry = totals.setdefault(town, {"lines": 0, "gross_fen": 0, "withheld_fen": 0,
                                         "net_fen": 0})
        for key in entry:
            entry[key] += int(row[key])
    names = {row["path"]: row["name"] for row in await Region.select(
        Region.path, Region.name).where(Region.path.is_in(sorted(totals) or [""]))}
    return [{"label": names.get(path, path), "lines": entry["lines"], **_money(entry)}
            for path, entry in sorted(totals.items())]


async def summary_pdf(batch_id: int) -> str:
    """Render and store the batch's summary, record it once and set the batch's
    summary_sha256. Returns the document's SHA-256."""
    context = await summary_context(batch_id)
    return await _render_and_record(SUMMARY_TEMPLATE, context, batch_id, "summary", "")


# --- rendering and recording ----------------------------------------------------------------

async def _render_and_record(template: str, context: dict[str, Any], batch_id: int,
                             kind: str, payee_key: str) -> str:
    """Render in a worker thread, store under the hash, and add the PayoutDocument row (and
    its audit event) only if this exact document is not recorded yet."""
    from ltc import pdf  # WeasyPrint loads only in processes that render

    data = await anyio.to_thread.run_sync(functools.partial(pdf.render, template, context))
    sha256 = await anyio.to_thread.run_sync(documents.store, data)
    async with db.write_transaction():
        if not db.is_sqlite():  # two deliveries at once: the second sees the first's row
            await PayoutDocument.raw(f"SELECT pg_advisory_xact_lock({_LOCK_KEY}, {{}})",
                                     batch_id)
        recorded = await PayoutDocument.exists().where(
            (PayoutDocument.batch == batch_id) & (PayoutDocument.kind == kind)
            & (PayoutDocument.payee_key == payee_key) & (PayoutDocument.sha256 == sha256))
        if not recorded:
            await PayoutDocument(batch=batch_id, kind=kind, payee_key=payee_key,
                                 sha256=sha256, rendered_at=clock.now()).save()
            if kind == "summary":
                await PayoutBatch.update({PayoutBatch.summary_sha256: sha256}).where(
                    PayoutBatch.id == batch_id)
            await audit.record(SYSTEM, f"payout_batch.{kind}_rendered", "payout_batch",
                               batch_id, after={"payee": rules.payee_label(payee_key),
                                                "sha256": sha256, "bytes": len(data)})
    return sha256
