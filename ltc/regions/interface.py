"""What other parts of LTC read of the region tree."""

from __future__ import annotations

from ltc.regions.tables import Region


async def name_of(region_id: int | None) -> str:
    """The region's name; "" for none or an unknown id."""
    if region_id is None:
        return ""
    row = await Region.select(Region.name).where(Region.id == region_id).first()
    return row["name"] if row else ""


async def names_by_code(codes: list[str]) -> dict[str, str]:
    """Region names by code (e.g. the towns of a list)."""
    if not codes:
        return {}
    rows = await Region.select(Region.code, Region.name).where(Region.code.is_in(codes))
    return {row["code"]: row["name"] for row in rows}


async def path_of(code: str) -> str | None:
    """The region's path in the tree (`370983/370983001`), or None for an unknown code."""
    row = await Region.select(Region.path).where(Region.code == code).first()
    return row["path"] if row else None


async def pooling_regions() -> list[dict[str, str]]:
    """The pooling regions (统筹地区): code, name and path, by code."""
    return await Region.select(Region.code, Region.name, Region.path).where(
        Region.level == "pooling").order_by(Region.code)
