"""What other parts of LTC read of user accounts, as typed values; no other context reads the
user table."""

from __future__ import annotations

from dataclasses import dataclass

from piccolo.query import Select

from ltc.accounts.tables import ApiToken, User
from ltc.identity import Role


@dataclass(frozen=True)
class StaffMember:
    id: int
    username: str
    display_name: str
    role: str
    organisation_id: int | None
    active: bool


_COLUMNS = (User.id, User.username, User.display_name, User.role,
            User.organisation.as_alias("organisation_id"), User.active)


async def staff_member(user_id: int) -> StaffMember | None:
    row = await User.select(*_COLUMNS).where(User.id == user_id).first()
    return StaffMember(**row) if row else None


async def account_by_username(username: str) -> StaffMember | None:
    row = await User.select(*_COLUMNS).where(User.username == username).first()
    return StaffMember(**row) if row else None


async def active_staff_of(organisation_id: int) -> list[StaffMember]:
    """The active provider-role users of one organisation, oldest account first."""
    rows = await User.select(*_COLUMNS).where(
        (User.organisation == organisation_id) & (User.role == str(Role.provider))
        & User.active.eq(True)).order_by(User.id)
    return [StaffMember(**row) for row in rows]


async def signing_secret_of(token_id: int) -> str | None:
    """The HMAC key of an integration client's signed requests."""
    row = await ApiToken.select(ApiToken.signing_secret).where(ApiToken.id == token_id).first()
    return row["signing_secret"] if row else None


@dataclass(frozen=True)
class Assessor:
    id: int
    display_name: str
    organisation_id: int
    organisation_name: str
    organisation_region_path: str


_ASSESSOR_COLUMNS = (
    User.id, User.display_name, User.organisation.as_alias("organisation_id"),
    User.organisation.name.as_alias("organisation_name"),
    User.organisation.region.path.as_alias("organisation_region_path"),
)
_ACTIVE_ASSESSOR = ((User.role == str(Role.assessor)) & User.active.eq(True)
                    & (User.organisation.kind == "assessment")
                    & User.organisation.active.eq(True))


async def active_assessors(organisation_ids: Select | None = None) -> list[Assessor]:
    """Active assessor accounts of active assessment organisations (only those among
    `organisation_ids`, a sub-select, if given), by user id."""
    rows = await User.select(*_ASSESSOR_COLUMNS).where(
        _ACTIVE_ASSESSOR,
        *([] if organisation_ids is None else [User.organisation.is_in(organisation_ids)]),
    ).order_by(User.id)
    return [Assessor(**row) for row in rows]


async def assessors_by_id(user_ids: list[int]) -> dict[int, Assessor]:
    """These users as assessors (whatever their state now), by id: who sat on an assessment."""
    if not user_ids:
        return {}
    rows = await User.select(*_ASSESSOR_COLUMNS).where(User.id.is_in(user_ids))
    return {row["id"]: Assessor(**row) for row in rows}

