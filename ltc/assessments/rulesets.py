"""Grading ruleset versions in the database: which is in force, what superseded an older one,
and the admin's activation of a new version from a date (issue 12).

A definition is never edited. A corrected version loads PENDING (ltc.assessments.reference);
`activate` puts it in force from a day the admin chooses, no earlier than today, so nothing
already concluded changes: every assessment keeps the version it was graded with, and a person
already decided is re-graded only through a new assessment (ltc.assessments.impact).
"""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from typing import Any

from ltc import clock, db
from ltc.assessments import bundled, grading
from ltc.assessments.rules import RulesetVersion, VersionStatus, version_status
from ltc.assessments.tables import Ruleset
from ltc.audit import service as audit
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.identity import Actor, Role, require_role

ACTIVATE_ROLES = frozenset({Role.admin})


@lru_cache(maxsize=64)
def parsed(definition: str, effective_from: date) -> grading.Ruleset:
    """A stored version as the grading rules see it, dated by the day it is in force here."""
    data = json.loads(definition)
    return grading.parse_ruleset({**data, "effective_from": effective_from.isoformat()},
                                 bundled.load_instrument())


def of_row(row: dict[str, Any]) -> grading.Ruleset:
    return parsed(row["definition"], row["effective_from"])


def _version_of(row: dict[str, Any]) -> RulesetVersion:
    ruleset = of_row(row)
    return RulesetVersion(
        version=row["version"], state=row["state"], effective_from=row["effective_from"],
        supersedes=ruleset.supersedes.version if ruleset.supersedes else None,
        reason=ruleset.supersedes.reason if ruleset.supersedes else "")


async def _siblings(code: str, region: int | None) -> list[dict[str, Any]]:
    where = (Ruleset.code == code) & (
        Ruleset.region.is_null() if region is None else Ruleset.region == region)
    return await Ruleset.select(Ruleset.all_columns()).where(where).order_by(Ruleset.version)


async def status_of(ruleset_id: int, today: date | None = None) -> VersionStatus | None:
    """The status of a stored version today (for pages showing an assessment's ruleset)."""
    row = await Ruleset.select(Ruleset.code, Ruleset.region).where(
        Ruleset.id == ruleset_id).first()
    if row is None:
        return None
    siblings = await _siblings(row["code"], row["region"])
    versions = [_version_of(r) for r in siblings]
    this = next(v for r, v in zip(siblings, versions, strict=True) if r["id"] == ruleset_id)
    return version_status(this, versions, today or clock.today())


async def list_rulesets(today: date | None = None) -> list[dict[str, Any]]:
    """Every stored version, grouped by code and region, newest first, each with its status,
    its parsed bands and matrix, and who activated it."""
    today = today or clock.today()
    rows = await Ruleset.select(
        Ruleset.all_columns(), Ruleset.region.code, Ruleset.region.name,
        Ruleset.activated_by.display_name,
    ).order_by(Ruleset.code).order_by(Ruleset.version, ascending=False)
    groups: dict[tuple[str, int | None], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["code"], row["region"]), []).append(row)
    for members in groups.values():
        versions = [_version_of(r) for r in members]
        for row, version in zip(members, versions, strict=True):
            row["ruleset"] = of_row(row)
            row["status"] = version_status(version, versions, today)
            row["key"] = f"{row['code']}@{row['version']}"
    return rows


def _parse_day(value: date | str, fields: dict[str, str]) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        fields["effective_from"] = "请填写生效日期，格式为 YYYY-MM-DD，例如 2027-01-01"
        return None


async def activate(actor: Actor, code: str, version: int, effective_from: date | str,
                   note: str = "") -> dict[str, Any]:
    """Put a (national) ruleset version in force from a day, today or later. Sending the
    same activation again changes nothing; a different day is accepted only while the
    version is not yet in force."""
    require_role(actor, ACTIVATE_ROLES, "设定评估规则的生效日期")
    fields: dict[str, str] = {}
    day = _parse_day(effective_from, fields)
    today = clock.today()
    if day is not None and day < today:
        fields["effective_from"] = (f"生效日期不能早于今天（{today.isoformat()}）：已确认的评估"
                                    "不会因新规则改判，请从今天或以后生效")
    async with db.write_transaction():
        siblings = await _siblings(code, None)
        row = next((r for r in siblings if r["version"] == version), None)
        if row is None:
            have = "、".join(f"第{r['version']}版" for r in siblings) or "无"
            raise NotFound("ruleset_not_found",
                           f"评估规则 {code} 没有第{version}版（已加载：{have}）")
        if row["state"] == "ACTIVE" and day == row["effective_from"]:
            return row  # sent twice: already so
        if row["state"] == "ACTIVE" and row["effective_from"] <= today:
            raise Conflict("ruleset_in_force",
                           f"{code} 第{version}版已于 {row['effective_from'].isoformat()} 起施行，"
                           "生效日期不能再更改；如需调整规则，请发布新版本")
        if day is not None and not fields:
            _check_order(siblings, row, day, fields)
        if fields:
            raise InvalidInput("invalid_ruleset_activation", "生效日期有误，请按提示修改", fields)
        assert day is not None
        changes = {Ruleset.state: "ACTIVE", Ruleset.effective_from: day,
                   Ruleset.activated_by: actor.id, Ruleset.activated_at: clock.now()}
        await Ruleset.update(changes).where(Ruleset.id == row["id"])
        await audit.record(actor, "ruleset.activated", "ruleset", row["id"],
                           before={"state": row["state"],
                                   "effective_from": row["effective_from"].isoformat()},
                           after={"ruleset": f"{code}@{version}", "state": "ACTIVE",
                                  "effective_from": day.isoformat()},
                           note=note.strip() or None)
        return await Ruleset.select().where(Ruleset.id == row["id"]).first()


def _check_order(siblings: list[dict[str, Any]], row: dict[str, Any], day: date,
                 fields: dict[str, str]) -> None:
    """A newer version takes effect after every older one it follows, before every newer."""
    for other in siblings:
        if other["state"] != "ACTIVE" or other["id"] == row["id"]:
            continue
        if other["version"] < row["version"] and other["effective_from"] >= day:
            fields["effective_from"] = (
                f"生效日期须晚于第{other['version']}版的生效日期"
                f"（{other['effective_from'].isoformat()}）")
        if other["version"] > row["version"] and other["effective_from"] <= day:
            fields["effective_from"] = (
                f"生效日期须早于第{other['version']}版的生效日期"
                f"（{other['effective_from'].isoformat()}）")
