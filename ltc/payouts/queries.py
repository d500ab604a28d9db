"""What the payout pages read (SPEC §7): batch lists, a batch's totals by benefit and town
against the budget and last month, its lines with filters, one line explained, the
approval anomalies, a provider's statements and the deposit ledger. Every read is scoped:
staff by region (ltc.identity.in_region), a provider by its own payee key."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from ltc import clock, db
from ltc.errors import Forbidden, NotFound
from ltc.identity import Actor, Role, in_region, region_covers
from ltc.organisations.tables import Organisation
from ltc.payouts import declarations, figures, rules, service
from ltc.payouts.rules import BatchState, Benefit, DisputeState
from ltc.payouts.tables import (
    DepositEntry,
    Payment,
    PayoutBatch,
    PayoutDeclaration,
    PayoutDispute,
    PayoutDocument,
    PayoutLine,
)
from ltc.people import interface as people
from ltc.policy.service import parsed_definition
from ltc.policy.tables import PolicyVersion
from ltc.regions.tables import Region
from ltc.visits.tables import Visit

PAGE = 50
SEARCH_PEOPLE = 2000  # people a line search looks up by id (_line_search)
DOCUMENT_LABELS = {"bank_file": "银行代发文件", "summary": "结算汇总表", "statement": "结算单",
                   "reconciliation": "银行回单"}


organisation_payee = declarations.organisation_payee


def _fen(value: Any) -> int:
    """SUM() is a Decimal on PostgreSQL, an int on SQLite, None over no rows."""
    return int(value or 0)


# --- batches --------------------------------------------------------------------------------

# The to-do filters of the batch list (ltc.desk.queues counts the same rows).
TODO_LABELS = {"returned": "审核退回、待修改", "disputes": "有待初审的申报异议",
               "submitted": "待审批", "approved": "已审批、待导出"}
_TODO = {"returned": lambda: (PayoutBatch.state == str(BatchState.DRAFT))
         & (PayoutBatch.returned_reason != ""),
         "disputes": lambda: (PayoutBatch.state == str(BatchState.DRAFT)) & PayoutBatch.id.is_in(
             PayoutDispute.select(PayoutDispute.batch).where(
                 PayoutDispute.state == str(DisputeState.open))),
         "submitted": lambda: PayoutBatch.state == str(BatchState.SUBMITTED),
         "approved": lambda: PayoutBatch.state == str(BatchState.APPROVED)}


async def list_batches(actor: Actor, state: str = "", search: str = "", before_id: int = 0,
                       limit: int = 120, todo: str = "") -> list[dict[str, Any]]:
    """The actor's payout batches, newest first (keyset: `before_id` is the last id shown);
    `search`: the batch number or the month ("2026-11" or "2026年11月"); `todo`: one of
    TODO_LABELS."""
    query = PayoutBatch.select(
        PayoutBatch.id, PayoutBatch.number, PayoutBatch.month, PayoutBatch.state,
        PayoutBatch.line_count, PayoutBatch.net_fen, PayoutBatch.computing_since,
        PayoutBatch.computed_at, PayoutBatch.returned_reason).where(
        in_region(actor, PayoutBatch.region_path))
    if before_id:
        query = query.where(PayoutBatch.id < before_id)
    if state:
        query = query.where(PayoutBatch.state == state)
    if text := "".join(search.split()):
        condition = PayoutBatch.number.like(text.upper() + "%")
        if month := _month_typed(text):
            condition = condition | (PayoutBatch.month == month)
        query = query.where(condition)
    if todo in _TODO:
        query = query.where(_TODO[todo]())
    rows = await query.order_by(PayoutBatch.id, ascending=False).limit(max(1, min(limit, 500)))
    return [{**r, "state_label": BatchState(r["state"]).label,
             "month_label": clock.month_label(r["month"])} for r in rows]


def _month_typed(text: str) -> date | None:
    """The month a search names: "2026-11", "2026/11", "202611" or "2026年11月"."""
    digits = re.fullmatch(r"(\d{4})\D?(\d{1,2})月?", text)
    if not digits or int(digits[1]) < 1 or not 1 <= int(digits[2]) <= 12:
        return None  # year 0 is no date: searched as a batch number instead
    return date(int(digits[1]), int(digits[2]), 1)


async def todo_count(actor: Actor, todo: str) -> int:
    return await PayoutBatch.count().where(in_region(actor, PayoutBatch.region_path)
                                           & _TODO[todo]())


async def visible_batch(actor: Actor, batch_id: int) -> dict[str, Any]:
    return await service.visible_batch(actor, batch_id, PayoutBatch.submitted_by.display_name,
                                       PayoutBatch.approved_by.display_name)


async def _policy_facts(version_id: int) -> dict[str, Any]:
    row = await PolicyVersion.select(PolicyVersion.definition, PolicyVersion.version).where(
        PolicyVersion.id == version_id).first()
    policy = parsed_definition(row["definition"])
    return {"version": row["version"], "basis_points": policy.deposit_basis_points,
            "budget_fen": policy.monthly_budget_fen}


def computing_status(batch: dict[str, Any], now: datetime) -> dict[str, Any]:
    """"idle", "running" (with minutes so far) or "interrupted" (the worker died)."""
    since = batch["computing_since"]
    if since is None:
        return {"state": "idle", "minutes": 0}
    elapsed = now - since
    return {"state": "interrupted" if elapsed > service.STALE_COMPUTATION else "running",
            "minutes": int(elapsed.total_seconds() // 60),
            "seconds": int(elapsed.total_seconds())}


async def batch_detail(actor: Actor, batch_id: int) -> dict[str, Any]:
    """The batch with its totals by benefit and by town, each beside last month's, the
    budget and last month's batch."""
    batch = await visible_batch(actor, batch_id)
    policy = await _policy_facts(batch["policy_version"])
    by_benefit, by_town = await figures.totals(batch_id)
    previous = await PayoutBatch.select(
        PayoutBatch.id, PayoutBatch.number, PayoutBatch.state, PayoutBatch.line_count,
        PayoutBatch.gross_fen, PayoutBatch.net_fen).where(
        (PayoutBatch.region_path == batch["region_path"])
        & (PayoutBatch.month == clock.previous_month(batch["month"]))).first()
    before_benefit, before_town = (({}, {}) if previous is None
                                   else await figures.totals(previous["id"]))
    for key, total in by_benefit.items():
        total["previous_net"] = before_benefit.get(key, {}).get("net")
    for code in before_town:  # a town paid last month and not this month shows too
        by_town.setdefault(code, {"code": code, "lines": 0, "gross": 0, "withheld": 0,
                                  "net": 0})
    names = {r["code"]: r["name"] for r in await Region.select(Region.code, Region.name).where(
        Region.code.is_in(list(by_town) or [""]))}
    towns = sorted(by_town.values(), key=lambda t: t["code"])
    for town in towns:
        town["name"] = names.get(town["code"], town["code"] or "（未划分镇街）")
        town["previous_net"] = before_town.get(town["code"], {}).get("net")
    if previous is not None:
        previous["state_label"] = BatchState(previous["state"]).label
    budget = policy["budget_fen"]
    return {**batch, "state_label": BatchState(batch["state"]).label,
            "month_label": clock.month_label(batch["month"]), "policy": policy,
            "budget_fen": budget,
            "budget_left_fen": None if budget is None else budget - batch["net_fen"],
            "by_benefit": list(by_benefit.values()), "by_town": towns, "previous": previous,
            "computing": computing_status(batch, clock.now())}


async def batch_towns(batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The towns of the batch's pooling region, for the line filter."""
    return await Region.select(Region.code, Region.name).where(
        (Region.level == "town") & Region.path.like(batch["region_path"] + "/%")).order_by(
        Region.code)


# --- lines ----------------------------------------------------------------------------------

async def lines(batch: dict[str, Any], *, benefit: str = "", kind: str = "", q: str = "",
                town: str = "", excluded_only: bool = False, after_id: int = 0,
                limit: int = PAGE) -> list[dict[str, Any]]:
    """A page of the batch's lines (keyset by id) with the filters of the line table.
    `batch` is one the actor may see (visible_batch)."""
    where = PayoutLine.batch == batch["id"]
    if benefit in set(Benefit):
        where &= PayoutLine.benefit == benefit
    if kind in set(rules.LineKind):
        where &= PayoutLine.kind == kind
    if town.isdigit():
        prefix = f"{batch['region_path']}/{town}"
        where &= (PayoutLine.region_path == prefix) | PayoutLine.region_path.like(prefix + "/%")
    term = q.strip().replace("%", "").replace("_", "")
    if term:
        where &= await _line_search(term)
    if excluded_only:
        where &= PayoutLine.visits_excluded > 0
    if after_id:
        where &= PayoutLine.id > after_id
    rows = await PayoutLine.select(
        PayoutLine.id, PayoutLine.kind, PayoutLine.benefit, PayoutLine.service_month,
        PayoutLine.payee_key, PayoutLine.payee_name, PayoutLine.person,
        PayoutLine.person.name, PayoutLine.region_path, PayoutLine.days,
        PayoutLine.visits_counted, PayoutLine.visits_excluded, PayoutLine.gross_fen,
        PayoutLine.withheld_fen, PayoutLine.net_fen).where(where).order_by(
        PayoutLine.id).limit(limit)
    return [_labelled(r) for r in rows]


async def _line_search(term: str) -> Any:
    """The line search box over a city's month (1.34 M lines) answered from indexes: the payee
    key; a provider by any part of its name (a few hundred organisations, then their payee
    keys); a payee's name from its start (payout_line_batch_payee_name); the beneficiary as
    the people search finds them (name from its start, pinyin initials, resident ID, phone),
    then their lines (payout_line_batch_person). Any part of a person's name, as a scan over
    every line would allow, is not offered: clerks type names from the surname."""
    organisations = await Organisation.select(Organisation.id).where(
        db.contains(Organisation.name, term))
    keys = [term, *(organisation_payee(o["id"]) for o in organisations)]
    where = PayoutLine.payee_key.is_in(keys) | PayoutLine.payee_name.like(f"{term}%")
    if (persons := people.ids_matching(term)) is None:
        return where
    # The people as a list of ids, so that every branch is an index scan (a sub-select is
    # checked line by line); a term too broad for a list (a surname alone) keeps the
    # sub-select, all of it (`limit` changes the query it is called on: a fresh one), and
    # the batch's lines are read in id order until a page is found.
    found = [p["id"] for p in await persons.limit(SEARCH_PEOPLE + 1)]
    return where | (db.ids_in(PayoutLine.person, found) if len(found) <= SEARCH_PEOPLE
                    else PayoutLine.person.is_in(people.ids_matching(term)))


def _labelled(line: dict[str, Any]) -> dict[str, Any]:
    return {**line, "benefit_label": Benefit(line["benefit"]).label,
            "kind_label": rules.LineKind(line["kind"]).label,
            "month_label": clock.month_label(line["service_month"])}


async def line_detail(actor: Actor, batch_id: int, line_id: int) -> dict[str, Any]:
    """One line with its explanation and, for home visits, how each visit was treated."""
    batch = await visible_batch(actor, batch_id)
    line = await PayoutLine.select(
        *PayoutLine.all_columns(), PayoutLine.person.name).where(
        (PayoutLine.id == line_id) & (PayoutLine.batch == batch_id)).first()
    if line is None:
        raise NotFound("line_not_found", "结算明细不存在")
    policy = await _policy_facts(line["policy_version"])
    visits = (await treated_visits([line]))[line["id"]]
    return {"batch": {**batch, "state_label": BatchState(batch["state"]).label,
                      "month_label": clock.month_label(batch["month"])},
            "line": _labelled(line),
            "explanation": rules.explain(line, policy["basis_points"]), "visits": visits}


async def treated_visits(lines: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """line id → the home visits the line counted or excluded (with the reason), by start
    time, from its stored treatments: what the batch decided, whatever happened since."""
    treated = {line["id"]: rules.treatments(line["visit_treatments"]) for line in lines}
    ids = sorted({visit for pairs in treated.values() for visit, _ in pairs})
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        for row in await Visit.select(
                Visit.id, Visit.visit_on, Visit.started_at, Visit.ended_at,
                Visit.staff.display_name).where(Visit.id.is_in(ids[start:start + 500])):
            found[row["id"]] = row
    result = {}
    for line_id, pairs in treated.items():
        visits = [{"id": visit, "on": found[visit]["visit_on"],
                   "started_at": found[visit]["started_at"],
                   "ended_at": found[visit]["ended_at"],
                   "staff": found[visit]["staff.display_name"] or "", "counted": not reason,
                   "reason": rules.EXCLUSIONS.get(reason, reason)}
                  for visit, reason in pairs if visit in found]
        result[line_id] = sorted(visits, key=lambda v: (v["started_at"], v["id"]))
    return result


# --- the providers' declaration (申报) -------------------------------------------------------

async def provider_drafts(actor: Actor, undeclared_only: bool = False) -> list[dict[str, Any]]:
    """The drafts holding lines of the provider's own organisation, newest first, each with
    its declaration in force (or none) and its disputes still open."""
    payee = organisation_payee(actor.organisation_id or 0)
    rows = await PayoutBatch.raw(
        "SELECT b.id, b.number, b.month, b.computing_since, COUNT(l.id) AS lines, "
        "SUM(l.net_fen) AS net FROM payout_batch b JOIN payout_line l ON l.batch = b.id "
        "WHERE l.payee_key = {} AND b.state = 'DRAFT' "
        "GROUP BY b.id, b.number, b.month, b.computing_since ORDER BY b.month DESC", payee)
    declared = {d["batch"]: d for d in await PayoutDeclaration.select(
        PayoutDeclaration.batch, PayoutDeclaration.declared_at).where(
        (PayoutDeclaration.payee_key == payee) & PayoutDeclaration.voided_at.is_null()
        & PayoutDeclaration.batch.is_in([r["id"] for r in rows] or [0]))}
    found = []
    for row in rows:
        open_ = await PayoutDispute.count().where(
            (PayoutDispute.batch == row["id"]) & (PayoutDispute.payee_key == payee)
            & (PayoutDispute.state == str(DisputeState.open)))
        declaration = declared.get(row["id"])
        if undeclared_only and declaration is not None:
            continue
        found.append({**row, "lines": int(row["lines"]), "net": _fen(row["net"]),
                      "month_label": clock.month_label(row["month"]),
                      "declared_at": declaration["declared_at"] if declaration else None,
                      "open_disputes": open_})
    return found


async def provider_declaration(actor: Actor, batch_id: int) -> dict[str, Any]:
    """A draft as its provider declares it: its own lines only (explained), the
    fingerprint the declaration will confirm, its declaration in force and every dispute
    it raised with the first review's outcome. Another provider's batch is NotFound."""
    payee = organisation_payee(actor.organisation_id or 0)
    batch = await PayoutBatch.select().where(PayoutBatch.id == batch_id).first()
    lines = [] if batch is None else await PayoutLine.select(
        *PayoutLine.all_columns(), PayoutLine.person.name).where(
        (PayoutLine.batch == batch_id) & (PayoutLine.payee_key == payee)).order_by(
        PayoutLine.person.name, PayoutLine.benefit, PayoutLine.id)
    if not lines:
        raise NotFound("batch_not_found", "该结算批次中没有贵机构的结算明细")
    basis = {}
    for line in lines:
        if line["policy_version"] not in basis:
            basis[line["policy_version"]] = (
                await _policy_facts(line["policy_version"]))["basis_points"]
    disputes = await declarations.disputes(batch_id, payee)
    open_lines = {d["identity"] for d in disputes if d["state"] == DisputeState.open}
    shown = [{**_labelled(line),
              "explanation": rules.explain(line, basis[line["policy_version"]]),
              "disputed": rules.line_identity(line) in open_lines} for line in lines]
    return {"batch": {**batch, "state_label": BatchState(batch["state"]).label,
                      "month_label": clock.month_label(batch["month"]),
                      "open": batch["state"] == BatchState.DRAFT
                      and batch["computing_since"] is None},
            "payee_name": lines[0]["payee_name"], "lines": shown,
            "lines_sha256": rules.lines_fingerprint(lines),
            "net_fen": sum(int(line["net_fen"]) for line in lines),
            "declaration": await declarations.current_declaration(batch_id, payee),
            "disputes": disputes, "open_disputes": len(open_lines)}


# --- approval -------------------------------------------------------------------------------

async def batch_documents(batch_id: int) -> list[dict[str, Any]]:
    rows = await PayoutDocument.select().where(
        (PayoutDocument.batch == batch_id) & (PayoutDocument.kind != "reconciliation")
        & (PayoutDocument.kind != "bank_file")).order_by(PayoutDocument.kind,
                                                           PayoutDocument.payee_key)
    keys = sorted({r["payee_key"] for r in rows if r["payee_key"]})
    # A statement is named by its payee as the batch's lines name it (the organisation or
    # caregiver), never by the payee key.
    names = {n["payee_key"]: n["payee_name"] for n in await PayoutLine.select(
        PayoutLine.payee_key, PayoutLine.payee_name).where(
        (PayoutLine.batch == batch_id) & PayoutLine.payee_key.is_in(keys)).distinct()
        } if keys else {}
    return [{**r, "label": DOCUMENT_LABELS.get(r["kind"], r["kind"]),
             "payee_label": names.get(r["payee_key"]) or rules.payee_label(r["payee_key"])}
            for r in rows]


async def batch_document(actor: Actor, batch_id: int, document_id: int) -> dict[str, Any]:
    await visible_batch(actor, batch_id)
    row = await PayoutDocument.select().where(
        (PayoutDocument.id == document_id) & (PayoutDocument.batch == batch_id)).first()
    if row is None:
        raise NotFound("document_not_found", "文件不存在")
    return row


async def payments_summary(batch_id: int) -> dict[str, Any]:
    """The batch's payments by status, and the bank file's totals (the payments sent to the
    bank: pending, paid or failed) apart from those never sent (no account, offset)."""
    rows = await Payment.raw(
        "SELECT status, COUNT(*) AS n, SUM(amount_fen) AS amount FROM payment "
        "WHERE batch = {} GROUP BY status", batch_id)
    by_status = {r["status"]: {"count": int(r["n"]), "amount": _fen(r["amount"])}
                 for r in rows}
    sent = [by_status[code] for code in rules.SENT if code in by_status]
    return {"total": sum(s["count"] for s in by_status.values()),
            "bank_file": {"count": sum(s["count"] for s in sent),
                          "amount": sum(s["amount"] for s in sent)},
            "rows": [{"status": code, "label": rules.PAYMENT_STATUSES[code],
                      "sent": code in rules.SENT, **by_status[code]}
                     for code in ("pending", "paid", "failed", "unpayable", "offset")
                     if code in by_status]}


async def unpaid_payments(batch_id: int) -> list[dict[str, Any]]:
    """Payments of the batch that did not reach the payee — failed at the bank or never
    sent for want of an account — each with its reason (they are carried forward)."""
    rows = await Payment.select(Payment.reference, Payment.payee_name, Payment.amount_fen,
                                Payment.status, Payment.failure_reason).where(
        (Payment.batch == batch_id) & Payment.status.is_in(["failed", "unpayable"])).order_by(
        Payment.reference).limit(200)
    return [{**r, "status_label": rules.PAYMENT_STATUSES[r["status"]]} for r in rows]


# --- providers ------------------------------------------------------------------------------

async def provider_statements(actor: Actor) -> list[dict[str, Any]]:
    """The batches where the provider's organisation is paid, with its own totals."""
    if actor.role != Role.provider or actor.organisation_id is None:
        raise Forbidden("wrong_role", "只有护理机构可以查看本机构的结算单")
    payee = organisation_payee(actor.organisation_id)
    rows = await PayoutLine.raw(
        "SELECT b.id, b.number, b.month, b.state, COUNT(*) AS n, SUM(l.gross_fen) AS gross, "
        "SUM(l.withheld_fen) AS withheld, SUM(l.net_fen) AS net, MAX(p.status) AS status, "
        "MAX(p.amount_fen) AS amount, MAX(p.failure_reason) AS failure_reason "
        "FROM payout_line l JOIN payout_batch b ON b.id = l.batch "
        "LEFT JOIN payment p ON p.batch = b.id AND p.payee_key = l.payee_key "
        "WHERE l.payee_key = {} AND b.state IN ('EXPORTED', 'RECONCILED') "
        "GROUP BY b.id, b.number, b.month, b.state ORDER BY b.month DESC", payee)
    ready = {r["batch"] for r in await PayoutDocument.select(PayoutDocument.batch).where(
        (PayoutDocument.kind == "statement") & (PayoutDocument.payee_key == payee))}
    result = []
    for r in rows:
        month = r["month"] if not isinstance(r["month"], str) else \
            datetime.fromisoformat(r["month"]).date()
        result.append({"id": r["id"], "number": r["number"],
                       "month_label": clock.month_label(month),
                       "state_label": BatchState(r["state"]).label, "lines": int(r["n"]),
                       "gross": _fen(r["gross"]), "withheld": _fen(r["withheld"]),
                       "net": _fen(r["net"]), "ready": r["id"] in ready,
                       **payment_status(r["status"], _fen(r["amount"]), r["failure_reason"])})
    return result


def payment_status(status: str | None, amount_fen: int, reason: str | None) -> dict[str, Any]:
    """What a payee is told of their payment: its status in words, the amount the bank was
    asked to pay (0 when none was sent) and why not, if not."""
    if status is None:  # the lines cancel out: nothing to pay
        return {"payment_label": "无需支付（本期净额为0）", "paid_fen": 0, "unpaid_reason": ""}
    sent = status in rules.SENT
    return {"payment_label": rules.PAYMENT_STATUSES[status],
            "paid_fen": amount_fen if sent and status != "failed" else 0,
            "unpaid_reason": "" if status in ("pending", "paid") else (reason or "")}


async def statement_sha(batch_id: int, payee_key: str) -> str | None:
    row = await PayoutDocument.select(PayoutDocument.sha256).where(
        (PayoutDocument.batch == batch_id) & (PayoutDocument.kind == "statement")
        & (PayoutDocument.payee_key == payee_key)).order_by(
        PayoutDocument.id, ascending=False).first()
    return row["sha256"] if row else None


# --- the quality deposit --------------------------------------------------------------------

async def _visible_organisation(actor: Actor, organisation_id: int) -> dict[str, Any]:
    row = await Organisation.select(Organisation.id, Organisation.name, Organisation.code,
                                    Organisation.region.path).where(
        Organisation.id == organisation_id).first()
    if row is None or (actor.region_path and not region_covers(
            actor.region_path.split("/")[0], row["region.path"])):
        raise NotFound("organisation_not_found", "机构不存在或不在您的辖区")
    return row


async def deposit_balances(actor: Actor) -> list[dict[str, Any]]:
    """Every organisation of the actor's pooling region with deposit entries."""
    rows = await DepositEntry.raw(
        "SELECT o.id, o.name, o.code, r.path, SUM(d.amount_fen) AS balance, COUNT(*) AS n "
        "FROM deposit_entry d JOIN organisation o ON o.id = d.organisation "
        "JOIN region r ON r.id = o.region GROUP BY o.id, o.name, o.code, r.path "
        "ORDER BY o.code")
    pooling = actor.region_path.split("/")[0] if actor.region_path else None
    return [{"id": r["id"], "name": r["name"], "code": r["code"],
             "balance": _fen(r["balance"]), "entries": int(r["n"])}
            for r in rows if pooling is None or region_covers(pooling, r["path"])]


async def deposit_ledger(actor: Actor, organisation_id: int) -> dict[str, Any]:
    organisation = await _visible_organisation(actor, organisation_id)
    entries = await DepositEntry.select(
        DepositEntry.id, DepositEntry.kind, DepositEntry.amount_fen, DepositEntry.reason,
        DepositEntry.at, DepositEntry.batch.number, DepositEntry.recorded_by.display_name).where(
        DepositEntry.organisation == organisation_id).order_by(DepositEntry.id)
    running = 0
    for entry in entries:
        running += entry["amount_fen"]
        entry["balance"] = running
        entry["label"] = {"withheld": "预留", **service.DEPOSIT_ACTIONS}.get(entry["kind"],
                                                                           entry["kind"])
    return {"organisation": organisation, "entries": entries, "balance": running,
            "version": entries[-1]["id"] if entries else 0}
