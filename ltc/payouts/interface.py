"""What other parts of LTC may read of payouts (typed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from piccolo.query.functions.aggregate import Sum

from ltc import db, documents
from ltc.payouts.rules import FINAL, BatchState, Benefit, LineKind
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


@dataclass(frozen=True)
class PaidLine:
    """One line of money paid for a person: in an approved, exported or reconciled batch."""

    batch_number: str
    batch_state_label: str
    service_month: date
    benefit_label: str
    kind_label: str
    payee_name: str
    gross_fen: int
    withheld_fen: int
    net_fen: int


async def paid_lines_of(person_id: int) -> list[PaidLine]:
    """The person's payout lines of final batches, newest service month first (for the
    family's page; the payee is the provider or the family's caregiver)."""
    rows = await PayoutLine.select(
        PayoutLine.batch.number, PayoutLine.batch.state, PayoutLine.service_month,
        PayoutLine.benefit, PayoutLine.kind, PayoutLine.payee_name, PayoutLine.gross_fen,
        PayoutLine.withheld_fen, PayoutLine.net_fen).where(
        (PayoutLine.person == person_id)
        & PayoutLine.batch.state.is_in([str(s) for s in FINAL])).order_by(
        PayoutLine.service_month, ascending=False).order_by(PayoutLine.id)
    return [PaidLine(r["batch.number"], BatchState(r["batch.state"]).label, r["service_month"],
                     Benefit(r["benefit"]).label, LineKind(r["kind"]).label, r["payee_name"],
                     r["gross_fen"], r["withheld_fen"], r["net_fen"]) for r in rows]
