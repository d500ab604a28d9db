"""What other parts of LTC read of the region tree."""

from __future__ import annotations

from ltc.regions.tables import Region


async def name_of(region_id: int | None) -> str:
    """The region's name; "" for none or an unknown id."""
    if region_id is None:
        return ""
    row = await Region.select(Region.name).where(Region.id == region_id).first()
    return row["name"] if row else ""
