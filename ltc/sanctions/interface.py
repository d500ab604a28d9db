"""What other parts of LTC ask of sanctions: may this member of staff work on a day, may this
organisation sign an agreement (its legal representative is not banned). Typed answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ltc.organisations import interface as organisations
from ltc.sanctions.rules import Measure, Target
from ltc.sanctions.tables import Ban, ProviderExit, Sanction


@dataclass(frozen=True)
class Refusal:
    code: str  # stable, for the API
    message: str  # Chinese, for the field


def _effective(table, on: date):
    return (table.starts_on <= on) & (table.ends_on.is_null() | (table.ends_on >= on))


async def staff_refusal(staff_id: int, name: str, on: date) -> Refusal | None:
    """Why the member of staff (register id) may not work on `on` because of a sanction in
    effect that day, or None."""
    row = await Sanction.select(Sanction.measure, Sanction.starts_on, Sanction.ends_on).where(
        (Sanction.target == str(Target.staff)) & (Sanction.staff == staff_id)
        & _effective(Sanction, on)).order_by(Sanction.id, ascending=False).first()
    if row is None:
        return None
    if row["measure"] == Measure.terminate:
        return Refusal("staff_sanctioned", f"{name}已于 {row['starts_on'].isoformat()} 被取消"
                       "长护险服务资格，不能登记上门服务记录")
    return Refusal("staff_sanctioned", f"{name}的长护险服务资格在 {row['starts_on'].isoformat()}"
                   f" 至 {row['ends_on'].isoformat()} 期间被暂停，这期间不能登记上门服务记录")


async def signing_refusal(organisation_id: int, on: date) -> Refusal | None:
    """Why the organisation may not sign (create or activate) an agreement on `on`: its
    legal representative is in the ban register (禁入名单) that day. None otherwise."""
    resident_id = await organisations.legal_representative_id_of(organisation_id)
    if not resident_id:
        return None
    ban = await Ban.select(Ban.name, Ban.ends_on).where(
        (Ban.resident_id == resident_id) & _effective(Ban, on)).first()
    if ban is None:
        return None
    return Refusal("legal_representative_banned",
                   f"该机构的法定代表人{ban['name']}在禁入名单中"
                   f"（至 {ban['ends_on'].isoformat()}），禁入期间该机构不能签订或生效长护险协议")


async def exit_day_of(provider_id: int) -> date | None:
    """The day a care provider that gave notice of its exit stops serving (None: no exit):
    no care plan names it from that day (ltc.careplans)."""
    row = await ProviderExit.select(ProviderExit.exit_on).where(
        ProviderExit.organisation == provider_id).order_by(ProviderExit.exit_on).first()
    return row["exit_on"] if row else None
