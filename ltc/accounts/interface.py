"""What other parts of LTC read of user accounts, as typed values; no other context reads the
user table."""

from __future__ import annotations

from dataclasses import dataclass

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
