"""What other parts of LTC read of the staff register, as typed values; no other context reads
its tables. The register is the single source of truth for qualifications: the draw,
专家确认, spot checks and visit logging ask it, by user account, whether someone may work."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from ltc.staff.rules import (
    KINDS_OF_ROLE,
    Refusal,
    StaffKind,
    StaffStatus,
    Standing,
    refusal,
)
from ltc.staff.tables import StaffMember

__all__ = ["ASSESSING", "CARING", "Member", "Refusal", "StaffKind", "Standing",
           "certificate_refusal", "is_valid_expert", "member", "refusal", "standings_of"]

ASSESSING = KINDS_OF_ROLE["assessor"]  # who may be drawn for an assessment
CARING = KINDS_OF_ROLE["provider"]  # who may log a home visit

_COLUMNS = (StaffMember.id.as_alias("staff_id"), StaffMember.user, StaffMember.name,
            StaffMember.kind, StaffMember.status, StaffMember.certificate_no,
            StaffMember.certificate_until)


def _standing(row: dict) -> Standing:
    return Standing(staff_id=row["staff_id"], name=row["name"], kind=StaffKind(row["kind"]),
                    status=StaffStatus(row["status"]), certificate_no=row["certificate_no"],
                    certificate_until=row["certificate_until"])


async def standings_of(user_ids: Iterable[int]) -> dict[int, Standing]:
    """The staff records linked to these accounts, by user id (accounts without one are
    absent)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = await StaffMember.select(*_COLUMNS).where(StaffMember.user.is_in(ids))
    return {row["user"]: _standing(row) for row in rows}


async def is_valid_expert(user_id: int, on: date) -> bool:
    """The account's staff record is a 评估专家, 在职, certificate valid on `on` (its last
    valid day included)."""
    standing = (await standings_of([user_id])).get(user_id)
    return standing is not None and standing.is_expert_on(on)


async def certificate_refusal(user_id: int, kinds: tuple[StaffKind, ...], on: date,
                              name: str = "") -> Refusal | None:
    """Why the account's holder may not do work needing one of `kinds` on `on` (no staff
    record, another kind, not 在职, certificate expired), or None. `name` names a holder
    without a record."""
    return refusal((await standings_of([user_id])).get(user_id), kinds, on, name)


@dataclass(frozen=True)
class Member:
    """A member of staff as another context names them: no resident ID."""

    id: int
    name: str
    organisation: int
    region_path: str


async def member(staff_id: int) -> Member | None:
    row = await StaffMember.select(StaffMember.id, StaffMember.name, StaffMember.organisation,
                                   StaffMember.region_path).where(
        StaffMember.id == staff_id).first()
    return Member(**row) if row else None
