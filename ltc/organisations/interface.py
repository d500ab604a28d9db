"""What other parts of LTC read of the organisation register."""

from __future__ import annotations

from ltc.organisations.tables import Organisation


async def name_of(organisation_id: int | None) -> str:
    """The organisation's name; "" for none or an unknown id."""
    if organisation_id is None:
        return ""
    row = await Organisation.select(Organisation.name).where(
        Organisation.id == organisation_id).first()
    return row["name"] if row else ""
