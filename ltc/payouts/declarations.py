"""The providers' declarations (申报) and disputes of a draft (ltc.payouts.rules explains the
rules): what a computation does to them — an upheld dispute's line excluded, a declaration
whose lines changed voided — and what the pages and the statement read of them. The
transitions (declare, dispute, settle) are in ltc.payouts.service."""

from __future__ import annotations

from typing import Any

from ltc import clock
from ltc.audit import service as audit
from ltc.identity import SYSTEM
from ltc.payouts import figures, rules
from ltc.payouts.rules import Benefit, DisputeState
from ltc.payouts.tables import PayoutDeclaration, PayoutDispute, PayoutLine

_FINGERPRINT_COLUMNS = (PayoutLine.person, PayoutLine.benefit, PayoutLine.service_month,
                        PayoutLine.kind, PayoutLine.gross_fen, PayoutLine.withheld_fen,
                        PayoutLine.net_fen, PayoutLine.days, PayoutLine.visits_counted,
                        PayoutLine.visits_excluded, PayoutLine.visit_treatments,
                        PayoutLine.rate_fen, PayoutLine.grade)


def organisation_payee(organisation_id: int) -> str:
    return f"org:{organisation_id}"


async def payee_lines(batch_id: int, payee_key: str) -> list[dict[str, Any]]:
    """A payee's lines of the batch with what the fingerprint reads."""
    return await PayoutLine.select(PayoutLine.id, PayoutLine.payee_name,
                                   *_FINGERPRINT_COLUMNS).where(
        (PayoutLine.batch == batch_id) & (PayoutLine.payee_key == payee_key))


async def current_declaration(batch_id: int, payee_key: str) -> dict[str, Any] | None:
    """The payee's declaration in force (not voided), with its declarer's name."""
    return await PayoutDeclaration.select(
        *PayoutDeclaration.all_columns(),
        PayoutDeclaration.declared_by.display_name.as_alias("declarer")).where(
        (PayoutDeclaration.batch == batch_id) & (PayoutDeclaration.payee_key == payee_key)
        & PayoutDeclaration.voided_at.is_null()).first()


async def void(declaration_id: int, reason: str) -> None:
    await PayoutDeclaration.update({PayoutDeclaration.voided_at: clock.now(),
                                    PayoutDeclaration.void_reason: reason}).where(
        (PayoutDeclaration.id == declaration_id) & PayoutDeclaration.voided_at.is_null())


# --- inside a computation -------------------------------------------------------------------

async def exclude_upheld_lines(batch_id: int) -> int:
    """Delete the freshly computed lines that an upheld dispute excluded from this batch;
    returns how many. Called by the computation inside its transaction."""
    excluded = 0
    for dispute in await PayoutDispute.select().where(
            (PayoutDispute.batch == batch_id)
            & (PayoutDispute.state == str(DisputeState.upheld))
            & (PayoutDispute.outcome == "exclude")):
        gone = await PayoutLine.delete().where(
            (PayoutLine.batch == batch_id) & (PayoutLine.payee_key == dispute["payee_key"])
            & (PayoutLine.person == dispute["person"])
            & (PayoutLine.benefit == dispute["benefit"])
            & (PayoutLine.service_month == dispute["service_month"])
            & (PayoutLine.kind == dispute["kind"])).returning(PayoutLine.id)
        excluded += len(gone)
    return excluded


async def void_changed_declarations(batch_id: int) -> list[str]:
    """Void every declaration of the batch whose payee's lines are no longer the ones it
    confirmed; returns their payee keys. Called by the computation inside its transaction."""
    voided = []
    for declaration in await PayoutDeclaration.select().where(
            (PayoutDeclaration.batch == batch_id) & PayoutDeclaration.voided_at.is_null()):
        lines = await payee_lines(batch_id, declaration["payee_key"])
        if rules.lines_fingerprint(lines) != declaration["lines_sha256"]:
            await void(declaration["id"], rules.VOID_CHANGED)
            await audit.record(SYSTEM, "payout_declaration.voided", "payout_batch", batch_id,
                               after={"payee": declaration["payee_key"]},
                               note=rules.VOID_CHANGED)
            voided.append(declaration["payee_key"])
    return voided


# --- reads ----------------------------------------------------------------------------------

def _dispute_shown(row: dict[str, Any]) -> dict[str, Any]:
    state = DisputeState(row["state"])
    return {**row, "state_label": state.label,
            "benefit_label": Benefit(row["benefit"]).label,
            "month_label": clock.month_label(row["service_month"]),
            "outcome_label": rules.OUTCOMES.get(row["outcome"], ""),
            "identity": rules.line_identity(row)}


async def disputes(batch_id: int, payee_key: str | None = None,
                   state: DisputeState | None = None) -> list[dict[str, Any]]:
    """The batch's disputes (of one payee, in one state), oldest first, with the names the
    pages print."""
    where = PayoutDispute.batch == batch_id
    if payee_key is not None:
        where &= PayoutDispute.payee_key == payee_key
    if state is not None:
        where &= PayoutDispute.state == str(state)
    rows = await PayoutDispute.select(
        *PayoutDispute.all_columns(), PayoutDispute.person.name.as_alias("person_name"),
        PayoutDispute.organisation.name.as_alias("payee_name"),
        PayoutDispute.raised_by.display_name.as_alias("raiser"),
        PayoutDispute.settled_by.display_name.as_alias("settler")).where(where).order_by(
        PayoutDispute.id)
    return [_dispute_shown(row) for row in rows]


async def batch_declarations(batch_id: int) -> list[dict[str, Any]]:
    """Every provider payee of the batch (organisations; caregivers do not declare) with its
    declaration in force (who, when) or none, and its open disputes, by name."""
    payees = await figures.provider_payees(batch_id)
    declared = {row["payee_key"]: row for row in await PayoutDeclaration.select(
        *PayoutDeclaration.all_columns(),
        PayoutDeclaration.declared_by.display_name.as_alias("declarer")).where(
        (PayoutDeclaration.batch == batch_id) & PayoutDeclaration.voided_at.is_null())}
    open_ = {}
    for dispute in await PayoutDispute.select(PayoutDispute.payee_key).where(
            (PayoutDispute.batch == batch_id)
            & (PayoutDispute.state == str(DisputeState.open))):
        open_[dispute["payee_key"]] = open_.get(dispute["payee_key"], 0) + 1
    return [{**p, "declaration": declared.get(p["payee_key"]),
             "open_disputes": open_.get(p["payee_key"], 0)} for p in payees]


async def undeclared(batch_id: int) -> list[dict[str, Any]]:
    return [p for p in await batch_declarations(batch_id) if p["declaration"] is None]
