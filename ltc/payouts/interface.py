"""What other parts of LTC may read of payouts (typed)."""

from __future__ import annotations

from dataclasses import dataclass

from piccolo.query.functions.aggregate import Sum

from ltc import db, documents
from ltc.payouts.rules import FINAL
from ltc.payouts.tables import PayoutBatch, PayoutDocument, PayoutLine

# Every stored file of a batch has a PayoutDocument row (the batch's own *_sha256 columns
# repeat some of them): the bank file and the bank's result are CSV, the rest PDF.
_CSV_KINDS = ["bank_file", "reconciliation"]
DOCUMENTS = (
    documents.Source("结算文件", PayoutDocument.sha256, PayoutDocument.batch.number, ".csv",
                     PayoutDocument.kind.is_in(_CSV_KINDS)),
    documents.Source("结算文件", PayoutDocument.sha256, PayoutDocument.batch.number, ".pdf",
                     PayoutDocument.kind.not_in(_CSV_KINDS)),
)


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
