"""The region admin: a pooling region's bureau contact and national-code pattern, and its
towns and villages imported from CSV (upserted by code; a dry run writes nothing; a file with
any bad row writes nothing). Admins only; audited."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ltc import db
from ltc.audit import service as audit
from ltc.csvimport import BadRows, ImportReport, problems_of, read_records
from ltc.errors import Forbidden, InvalidInput, NotFound
from ltc.identity import Actor, Role, region_covers, require_role
from ltc.regions import interface
from ltc.regions.rules import (
    CHILD_LEVEL,
    COLUMN_LABELS,
    IMPORT_COLUMNS,
    bureau_problems,
    code_pattern_problem,
    place_problems,
)
from ltc.regions.tables import Region

ADMIN = frozenset({Role.admin})


async def pooling(actor: Actor, code: str) -> interface.PoolingRegion:
    """A pooling region of the actor's, or the one the actor's town lies in (to read;
    NotFound otherwise)."""
    region = await interface.pooling_region_of(code or "-")
    if region is None or region.code != code or (
            actor.region_path is not None and not region_covers(actor.region_path, region.path)
            and not region_covers(region.path, actor.region_path)):
        raise NotFound("region_not_found", f"统筹地区 {code} 不存在或不在您的管辖范围")
    return region


async def _to_change(actor: Actor, code: str) -> interface.PoolingRegion:
    """A pooling region the actor may change: its whole region is the actor's (an admin of
    one town may read it, not change what every town shares)."""
    region = await pooling(actor, code)
    if actor.region_path is not None and not region_covers(actor.region_path, region.path):
        raise Forbidden("region_not_covered", "只有管辖整个统筹地区的系统管理员才能维护统筹地区"
                        "信息、导入镇街和村居；您的管辖范围只是其中一部分")
    return region


async def set_bureau(actor: Actor, code: str, *, address: str, phone: str,
                     code_pattern: str) -> interface.PoolingRegion:
    """The bureau's address and phone (printed on notices) and the organisations'
    national-code pattern ("" for the default); every problem at once."""
    require_role(actor, ADMIN, "维护统筹地区信息")
    region = await _to_change(actor, code)
    problems, phone = bureau_problems(address.strip(), phone.strip())
    code_pattern = code_pattern.strip()
    if code_pattern and (problem := code_pattern_problem(code_pattern)):
        problems["organisation_code_pattern"] = problem
    if problems:
        raise InvalidInput("invalid_region", "统筹地区信息有误，请逐项修改", problems)
    after = {"bureau_address": address.strip(), "bureau_phone": phone,
             "organisation_code_pattern": code_pattern}
    async with db.write_transaction():
        await Region.update({getattr(Region, k): v for k, v in after.items()}).where(
            Region.id == region.id)
        await audit.record(actor, "region.bureau_updated", "region", region.code,
                           before={k: getattr(region, k) for k in after}, after=after)
    return await pooling(actor, code)


async def _checked(region: interface.PoolingRegion, data: bytes) -> list[dict[str, Any]]:
    """The file's places, towns first, each with its parent's id and path and the id of the
    place it updates; BadRows listing every problem otherwise."""
    records, problems = read_records(data, IMPORT_COLUMNS)
    known = {r["code"]: r for r in await Region.select(
        Region.id, Region.code, Region.level, Region.path, Region.parent.code).where(
        (Region.code == region.code) | Region.path.like(region.path + "/%"))}
    level_of = {code: row["level"] for code, row in known.items()}
    # A town new in this file may be the parent of villages in it.
    for record in records:
        if record.cells["parent_code"] == region.code:
            level_of.setdefault(record.cells["code"], "town")
    places, first = [], {}
    for record in records:
        code, parent = record.cells["code"], record.cells["parent_code"]
        fields = place_problems(code, record.cells["name"], parent, level_of.get(parent))
        if code in first:
            fields["code"] = f"与第{first[code]}行重复"
        first.setdefault(code, record.line)
        existing = known.get(code)
        if existing and not fields and existing["parent.code"] != parent:
            fields["parent_code"] = (f"{code} 已登记在 {existing['parent.code']} 下，不能改到"
                                     "其他上级（已有人员和案件按原地区登记）")
        outside = await Region.exists().where(Region.code == code) if not existing else False
        if outside:
            fields["code"] = "该编码已在其他统筹地区登记"
        problems.extend(problems_of(record.line, fields, COLUMN_LABELS))
        if not fields:
            places.append({"line": record.line, "code": code, "name": record.cells["name"],
                           "parent": parent, "level": CHILD_LEVEL[level_of[parent]],
                           "id": existing["id"] if existing else None})
    if problems:
        raise BadRows("region_rows_invalid", sorted(problems, key=lambda p: p.line))
    return sorted(places, key=lambda p: (p["level"] != "town", p["line"]))


async def import_places(actor: Actor, data: bytes, *, filename: str, region_code: str,
                        dry_run: bool = False) -> ImportReport:
    """Towns (parent: the pooling region) and villages (parent: a town) of one pooling
    region, upserted by code: a new place is added, a known one renamed."""
    require_role(actor, ADMIN, "导入镇街和村居")
    region = await _to_change(actor, region_code)
    sha256 = hashlib.sha256(data).hexdigest()
    async with db.write_transaction():
        places = await _checked(region, data)
        new = sum(1 for p in places if p["id"] is None)
        report = ImportReport(Path(filename).name, sha256, len(places), new,
                              len(places) - new, dry_run)
        if dry_run:
            return report
        for place in places:
            if place["id"] is not None:
                await Region.update({Region.name: place["name"]}).where(
                    Region.id == place["id"])
                continue
            parent = await Region.select(Region.id, Region.path).where(
                Region.code == place["parent"]).first()
            await Region.insert(Region(code=place["code"], name=place["name"],
                                       level=place["level"], parent=parent["id"],
                                       path=f"{parent['path']}/{place['code']}"))
        await audit.record(actor, "region.imported", "region", region.code,
                           after={k: v for k, v in report.as_dict().items() if k != "dry_run"})
    return report


async def import_file(actor: Actor, path: str | Path, *, region_code: str,
                      dry_run: bool = False) -> ImportReport:
    path = Path(path)
    return await import_places(actor, path.read_bytes(), filename=path.name,
                               region_code=region_code, dry_run=dry_run)


async def overview(actor: Actor, code: str) -> dict[str, Any]:
    """The regions page: the pooling region and its towns with their village counts."""
    region = await pooling(actor, code)
    towns = await interface.at_level("town", under=region.path)
    villages = await interface.at_level("village", under=region.path)
    counts: dict[int, int] = {}
    for village in villages:
        counts[village.parent_id or 0] = counts.get(village.parent_id or 0, 0) + 1
    return {"region": region, "towns": [(t, counts.get(t.id, 0)) for t in towns],
            "villages": len(villages)}

