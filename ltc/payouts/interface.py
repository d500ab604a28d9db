"""What other parts of LTC may read of payouts (typed)."""

from __future__ import annotations

from dataclasses import dataclass

from piccolo.query.functions.aggregate import Sum

from ltc import db
from ltc.payouts.rules import FINAL
from ltc.payouts.tables import PayoutBatch, PayoutLine


@dataclass(frozen=True)
class PaidSummary:
    months: int  # service months with money in an approved (or later) batch
    gross_fen: int  # all of it, adjustments included


async def paid_of(person_ids: list[int]) -> dict[int, PaidSummary]:
    """Per person, what approved batches have paid for them so far."""
    final = PayoutBatch.select(PayoutBatch.id).where(
        PayoutBatch.state.is_in([str(s) for s in FINAL]))
    found: dict[int, PaidSummary] = {}
    for start in range(0, len(person_ids), 2000):
        rows = await PayoutLine.select(
            PayoutLine.person, PayoutLine.service_month,
            Sum(PayoutLine.gross_fen).as_alias("gross")).where(
            db.ids_in(PayoutLine.person, person_ids[start:start + 2000])
            & PayoutLine.batch.is_in(final)).group_by(PayoutLine.person, PayoutLine.service_month)
        per: dict[int, list[int]] = {}
        for row in rows:
            per.setdefault(row["person"], []).append(int(row["gross"] or 0))
        for person, grosses in per.items():
            found[person] = PaidSummary(months=sum(1 for g in grosses if g > 0),
                                        gross_fen=sum(grosses))
    return found
