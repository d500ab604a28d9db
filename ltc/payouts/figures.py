"""A batch's page figures (SPEC §7, issue 18): its totals by benefit and town and the approval
checks, worked out from its lines once, when it is computed, and stored. A batch's lines never
change after its computation (a recomputation of a draft replaces them, and its figures with
them), so the batch page and the approval page read a few rows instead of every line of a
city's month. The checks compare with last month's batch, which is final by then (a month's
batch is made only after the one before was approved), so neither side changes afterwards.
Its provider payees' lines and totals (the declarations' rows) are stored the same way.
A batch computed before its figures were stored is summed from its lines when read."""

from __future__ import annotations

from typing import Any

from ltc import clock
from ltc.payouts import rules
from ltc.payouts.rules import Benefit
from ltc.payouts.tables import (
    PayoutBatch,
    PayoutBatchAnomaly,
    PayoutBatchFigures,
    PayoutBatchProvider,
    PayoutBatchTotal,
    PayoutLine,
)

Totals = dict[str, dict[str, Any]]
_SUMS = ("lines", "gross", "withheld", "net")


def _fen(value: Any) -> int:
    """SUM() is a Decimal on PostgreSQL, an int on SQLite, None over no rows."""
    return int(value or 0)


def _town(region_path: str) -> str:
    segments = region_path.split("/")
    return segments[1] if len(segments) > 1 else ""


async def _grouped_lines(batch_id: int) -> list[dict[str, Any]]:
    """The batch's lines summed by town and benefit (one pass over its lines)."""
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for row in await PayoutLine.raw(
            "SELECT region_path, benefit, COUNT(*) AS n, SUM(gross_fen) AS gross, "
            "SUM(withheld_fen) AS withheld, SUM(net_fen) AS net, "
            "SUM(CASE WHEN visits_excluded > 0 THEN 1 ELSE 0 END) AS excluded "
            "FROM payout_line WHERE batch = {} GROUP BY region_path, benefit", batch_id):
        total = by_key.setdefault((_town(row["region_path"]), row["benefit"]), {
            "town": _town(row["region_path"]), "benefit": row["benefit"], "lines": 0,
            "excluded": 0, "gross": 0, "withheld": 0, "net": 0})
        total["lines"] += int(row["n"])
        total["excluded"] += _fen(row["excluded"])
        for key in ("gross", "withheld", "net"):
            total[key] += _fen(row[key])
    return list(by_key.values())


async def _payee_nets(batch_id: int) -> dict[str, dict[str, Any]]:
    rows = await PayoutLine.raw(
        "SELECT payee_key, MAX(payee_name) AS payee_name, SUM(net_fen) AS net "
        "FROM payout_line WHERE batch = {} GROUP BY payee_key", batch_id)
    return {r["payee_key"]: {"name": r["payee_name"], "net": _fen(r["net"])} for r in rows}


async def _provider_lines(batch_id: int) -> list[dict[str, Any]]:
    """The batch's provider payees (organisations; caregivers do not declare), by name."""
    rows = await PayoutLine.raw(
        "SELECT payee_key, MAX(payee_name) AS payee_name, COUNT(*) AS lines, "
        "SUM(net_fen) AS net FROM payout_line WHERE batch = {} AND organisation IS NOT NULL "
        "GROUP BY payee_key ORDER BY MAX(payee_name), payee_key", batch_id)
    return [{"payee_key": r["payee_key"], "payee_name": r["payee_name"],
             "lines": int(r["lines"]), "net_fen": _fen(r["net"])} for r in rows]


async def provider_payees(batch_id: int) -> list[dict[str, Any]]:
    """The batch's provider payees with their line count and total, by name: stored, or
    (a batch computed before they were stored) summed from its lines now."""
    if not await _stored(batch_id):
        return await _provider_lines(batch_id)
    return [{"payee_key": r["payee_key"], "payee_name": r["payee_name"],
             "lines": r["line_count"], "net_fen": r["net_fen"]}
            for r in await PayoutBatchProvider.select().where(
                PayoutBatchProvider.batch == batch_id).order_by(
                PayoutBatchProvider.payee_name, PayoutBatchProvider.payee_key)]


async def _previous(batch: dict[str, Any]) -> dict[str, Any] | None:
    return await PayoutBatch.select(PayoutBatch.id).where(
        (PayoutBatch.region_path == batch["region_path"])
        & (PayoutBatch.month == clock.previous_month(batch["month"]))).first()


async def _anomalous_payees(batch_id: int, previous_id: int) -> list[dict[str, Any]]:
    """Payees new this month or changed more than 30 % against the previous batch."""
    current = await _payee_nets(batch_id)
    previous = await _payee_nets(previous_id)
    payees = []
    for key, now in sorted(current.items()):
        before = previous.get(key, {}).get("net")
        why = rules.is_anomalous(before, now["net"])
        if why:
            payees.append({"payee_key": key, "name": now["name"], "previous": before,
                           "current": now["net"], "why": why})
    return payees


async def store(batch: dict[str, Any]) -> None:
    """Work out and store the figures of a batch just computed; call inside the computation's
    transaction, after its lines are written. Replaces the figures of an earlier one."""
    batch_id = batch["id"]
    for table in (PayoutBatchTotal, PayoutBatchAnomaly, PayoutBatchProvider,
                  PayoutBatchFigures):
        await table.delete().where(table.batch == batch_id)
    grouped = await _grouped_lines(batch_id)
    if grouped:
        await PayoutBatchTotal.insert(*(PayoutBatchTotal(
            batch=batch_id, town=g["town"], benefit=g["benefit"], line_count=g["lines"],
            excluded_lines=g["excluded"], gross_fen=g["gross"], withheld_fen=g["withheld"],
            net_fen=g["net"]) for g in grouped))
    providers = await _provider_lines(batch_id)
    for start in range(0, len(providers), 1000):
        await PayoutBatchProvider.insert(*(PayoutBatchProvider(
            batch=batch_id, payee_key=p["payee_key"], payee_name=p["payee_name"],
            line_count=p["lines"], net_fen=p["net_fen"]) for p in providers[start:start + 1000]))
    previous = await _previous(batch)
    if previous is not None:
        payees = await _anomalous_payees(batch_id, previous["id"])
        for start in range(0, len(payees), 1000):
            await PayoutBatchAnomaly.insert(*(PayoutBatchAnomaly(
                batch=batch_id, payee_key=p["payee_key"], payee_name=p["name"],
                previous_fen=p["previous"], current_fen=p["current"], why=p["why"])
                for p in payees[start:start + 1000]))
    await PayoutBatchFigures(batch=batch_id,
                             previous_batch=previous["id"] if previous else None).save()


async def _stored(batch_id: int) -> dict[str, Any] | None:
    return await PayoutBatchFigures.select().where(PayoutBatchFigures.batch == batch_id).first()


async def totals(batch_id: int) -> tuple[Totals, Totals]:
    """A batch's totals by benefit and by town code: the stored figures, or (a batch not yet
    computed since they are stored) its lines summed now."""
    if await _stored(batch_id):
        grouped = [{"town": r["town"], "benefit": r["benefit"], "lines": r["line_count"],
                    "gross": r["gross_fen"], "withheld": r["withheld_fen"], "net": r["net_fen"]}
                   for r in await PayoutBatchTotal.select().where(
                       PayoutBatchTotal.batch == batch_id)]
    else:
        grouped = await _grouped_lines(batch_id)
    by_benefit: Totals = {b: {"label": b.label, **dict.fromkeys(_SUMS, 0)} for b in Benefit}
    by_town: Totals = {}
    for row in grouped:
        for total in (by_benefit[Benefit(row["benefit"])],
                      by_town.setdefault(row["town"], {"code": row["town"],
                                                       **dict.fromkeys(_SUMS, 0)})):
            for key in _SUMS:
                total[key] += row[key]
    return by_benefit, by_town


async def checks(batch: dict[str, Any]) -> dict[str, Any]:
    """What the reviewer looks at before approving: payees new this month or changed more
    than 30 % against last month's batch, and how many lines exclude visits."""
    stored = await _stored(batch["id"])
    if stored:
        previous_id = stored["previous_batch"]
        payees = [{"payee_key": r["payee_key"], "name": r["payee_name"],
                   "previous": r["previous_fen"], "current": r["current_fen"], "why": r["why"]}
                  for r in sorted(await PayoutBatchAnomaly.select().where(
                      PayoutBatchAnomaly.batch == batch["id"]), key=lambda r: r["payee_key"])]
    else:
        previous = await _previous(batch)
        previous_id = previous["id"] if previous else None
        payees = await _anomalous_payees(batch["id"], previous_id) if previous_id else []
    if stored:
        excluded = sum(r["excluded_lines"] for r in await PayoutBatchTotal.select(
            PayoutBatchTotal.excluded_lines).where(PayoutBatchTotal.batch == batch["id"]))
    else:
        excluded = await PayoutLine.count().where(
            (PayoutLine.batch == batch["id"]) & (PayoutLine.visits_excluded > 0))
    for payee in payees:
        payee["why"] = rules.ANOMALY_LABELS[payee["why"]]
    return {"compared": previous_id is not None, "payees": payees, "excluded_lines": excluded}
