"""What other parts of LTC read of the region tree (pooling region → town → village), as
typed values; no other context reads the region table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ltc.errors import DomainError, NotFound
from ltc.identity import Actor, region_covers
from ltc.regions.tables import Region


@dataclass(frozen=True)
class Place:
    id: int
    code: str
    name: str
    level: str  # pooling | town | village
    path: str
    parent_id: int | None = None
    parent_name: str = ""


_COLUMNS = (Region.id, Region.code, Region.name, Region.level, Region.path,
            Region.parent.as_alias("parent_id"), Region.parent.name.as_alias("parent_name"))


def _place(row: dict) -> Place:
    return Place(**{**row, "parent_name": row["parent_name"] or ""})


async def by_code(code: str) -> Place | None:
    row = await Region.select(*_COLUMNS).where(Region.code == code).first()
    return _place(row) if row else None


async def pooling_region(actor: Actor, code: str) -> Place:
    """The pooling region of that code, if the actor's region covers it (monthly draws are
    made per pooling region); NotFound otherwise."""
    place = await by_code(code)
    if place is None or place.level != "pooling" or (
            actor.region_path and not region_covers(actor.region_path, place.path)):
        raise NotFound("region_not_found", f"统筹地区 {code} 不存在或不在您的管辖范围内")
    return place


async def at_level(level: str, *, under: str | None = None) -> list[Place]:
    """The places of one level, by code; with `under` (a region path), only those below it."""
    query = Region.select(*_COLUMNS).where(Region.level == level)
    if under:
        query = query.where(Region.path.like(under + "/%"))
    return [_place(row) for row in await query.order_by(Region.code)]


async def children_of(code: str) -> list[Place]:
    """The villages of a town (the towns of a pooling region), by code."""
    rows = await Region.select(*_COLUMNS).where(Region.parent.code == code).order_by(
        Region.code)
    return [_place(row) for row in rows]


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
    """The pooling regions (统筹地区): id, code, name and path, by code."""
    return await Region.select(Region.id, Region.code, Region.name, Region.path).where(
        Region.level == "pooling").order_by(Region.code)


@dataclass(frozen=True)
class PoolingRegion:
    """A pooling region (统筹地区) with what its bureau fills in on the regions page."""

    id: int
    code: str
    name: str
    path: str
    bureau_address: str
    bureau_phone: str
    organisation_code_pattern: str  # "" when the region keeps the default


async def pooling_region_of(path: str) -> PoolingRegion | None:
    """The pooling region a place belongs to (the first code of its path)."""
    row = await Region.select(
        Region.id, Region.code, Region.name, Region.path, Region.bureau_address,
        Region.bureau_phone, Region.organisation_code_pattern).where(
        (Region.code == path.split("/")[0]) & (Region.level == "pooling")).first()
    return PoolingRegion(**row) if row else None


@dataclass(frozen=True)
class PlaceFilter:
    """A list's 乡镇/村居 filter: the towns to choose from, the chosen town's villages, the
    chosen codes ('' for none or one not offered) and the chosen place's region path."""

    towns: list[Place]
    villages: list[Place]
    town: str
    village: str
    within: str | None


async def place_filter(under: str | None, town: str = "", village: str = "") -> PlaceFilter:
    """The filter for an actor whose region path is `under` (None: everywhere), with the
    town and village codes from the query string."""
    towns = await at_level("town", under=under)
    chosen = next((t for t in towns if t.code == town), None)
    villages = await children_of(chosen.code) if chosen else []
    place = next((v for v in villages if v.code == village), None)
    return PlaceFilter(towns=towns, villages=villages, town=chosen.code if chosen else "",
                       village=place.code if place else "",
                       within=place.path if place else chosen.path if chosen else None)


async def in_every_pooling_region(call: Callable[[str], Awaitable[dict[str, Any]]]
                                  ) -> list[str]:
    """A scheduled monthly run (the spot-check and return-visit draws): `call(region code)`
    in every pooling region; what was done, for the log — each region's row key, or the
    code of its refusal (the other regions still run)."""
    done = []
    for region in await at_level("pooling"):
        try:
            row = await call(region.code)
            done.append(f"{region.code}: {row['key']}")
        except DomainError as exc:
            done.append(f"{region.code}: {exc.code}")
    return done
