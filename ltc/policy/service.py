"""Policy versions per region (SPEC §9): looked up by region and day, added by admins with a
future effective date, loaded from fixtures/policies on every deploy. Never updated."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from ltc import clock, db
from ltc.audit import service as audit
from ltc.careplans.tables import CareItem
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.identity import Actor, Role, region_covers, require_role
from ltc.policy.rules import Policy, PolicyError, parse_policy, parse_stored, policy_as_json
from ltc.policy.tables import PolicyVersion
from ltc.regions import interface as regions

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures" / "policies"


@dataclass(frozen=True)
class PolicyInForce:
    version_id: int
    region_code: str
    version: int
    effective_from: date
    policy: Policy


@lru_cache(maxsize=256)
def parsed_definition(definition: str) -> Policy:
    # Versions are immutable, so a parsed definition can be cached by its text.
    return parse_stored(json.loads(definition))


async def policy_in_force(region_path: str, on: date) -> PolicyInForce:
    """The version in force on `on` for the most specific region covering `region_path`."""
    rows = await (
        PolicyVersion.select(PolicyVersion.all_columns(), PolicyVersion.region.path,
                             PolicyVersion.region.code)
        .where(PolicyVersion.effective_from <= on)
        .order_by(PolicyVersion.effective_from, ascending=False)
    )
    return in_force_among(rows, region_path, on)


def in_force_among(rows: list[dict[str, Any]], region_path: str, on: date) -> PolicyInForce:
    """`policy_in_force` over versions already read (each with id, version, effective_from,
    definition, `region.path` and `region.code`; newest effective_from first), for callers
    that fetch them together with other facts in one statement."""
    covering = [r for r in rows
                if r["effective_from"] <= on and region_covers(r["region.path"], region_path)]
    if not covering:
        raise Conflict("no_policy", f"{on.isoformat()} 没有生效的长护险政策版本，请联系系统管理员")
    row = max(covering, key=lambda r: (len(r["region.path"]), r["effective_from"]))
    return PolicyInForce(version_id=row["id"], region_code=row["region.code"],
                         version=row["version"], effective_from=row["effective_from"],
                         policy=parsed_definition(row["definition"]))


async def longest_renewal_lead(on: date) -> int:
    """The longest renewal lead (days) of any version in force by `on` anywhere: a bound for
    the daily pass's renewal candidates, each then checked against its own region's policy."""
    versions = await PolicyVersion.select(PolicyVersion.definition).where(
        PolicyVersion.effective_from <= on)
    return max((parsed_definition(v["definition"]).renewal_lead_days for v in versions),
               default=0)


async def issuer(policy: Policy, region_path: str) -> dict[str, str]:
    """Who issues a document, as the PDF templates print it (`bureau` in pdf/base.html): the
    bureau's name from the policy; its address and phone from the pooling region, the one
    place they are kept (地区管理, `ltc region set-bureau`). Each is "" while the region has
    none, and every template then leaves that line out: no placeholder is ever printed.

    Documents are still produced without them. Publishing a notice is refused until both
    are set and they cannot be cleared afterwards, so decision letters and payout statements
    (which follow a notice) always have them; an agreement may be signed with a provider
    before the region's first notice, and refusing it for a contact line would stop the
    onboarding for nothing — it names the bureau as a party either way.

    Read when the document is rendered, so rendering again gives the same bytes as long as
    the bureau's contact is unchanged; after a change, a re-render prints the new contact
    and is recorded (and audited) as a new document."""
    pooling = await regions.pooling_region_of(region_path)
    return {"name": policy.bureau_name,
            "address": pooling.bureau_address if pooling else "",
            "phone": pooling.bureau_phone if pooling else ""}


async def version_by_id(version_id: int) -> tuple[str, Policy] | None:
    """A version's region path and policy, or None (the policy sandbox replays under it)."""
    row = await PolicyVersion.select(PolicyVersion.definition, PolicyVersion.region.path).where(
        PolicyVersion.id == version_id).first()
    return (row["region.path"], parsed_definition(row["definition"])) if row else None


async def versions(region_id: int) -> list[dict[str, Any]]:
    rows = await (
        PolicyVersion.select(PolicyVersion.all_columns(), PolicyVersion.created_by.display_name)
        .where(PolicyVersion.region == region_id)
        .order_by(PolicyVersion.effective_from, ascending=False)
    )
    for row in rows:
        row["policy"] = parsed_definition(row["definition"])
    return rows


async def upcoming_version_count(today: date) -> int:
    """Versions entered but not yet in force (effective later): the admin's to check."""
    return await PolicyVersion.count().where(PolicyVersion.effective_from > today)


async def _insert(region_id: int, effective_from: date, policy: Policy, note: str,
                  created_by: int | None) -> PolicyVersion:
    last = await (PolicyVersion.select(PolicyVersion.version)
                  .where(PolicyVersion.region == region_id)
                  .order_by(PolicyVersion.version, ascending=False).first())
    row = PolicyVersion(region=region_id, version=(last["version"] + 1) if last else 1,
                        effective_from=effective_from, note=note, created_by=created_by,
                        definition=json.dumps(policy_as_json(policy), ensure_ascii=False,
                                              sort_keys=True))
    await row.save()
    return row


async def add_version(actor: Actor, region_code: str, effective_from: date,
                      definition: dict[str, Any], note: str = "") -> dict[str, Any]:
    """A new version from a future day. Past and current versions stay as they are: what
    was decided or paid under them must remain explainable."""
    require_role(actor, {Role.admin}, "新增政策版本")
    fields: dict[str, str] = {}
    if effective_from <= clock.today():
        fields["effective_from"] = "生效日期必须晚于今天：已生效的政策不能更改，请从明天或以后生效"
    try:
        policy = parse_policy(definition)
    except PolicyError as exc:
        fields.update(exc.problems)
    else:
        fields.update(await unknown_care_items(policy))
    if fields:
        raise InvalidInput("invalid_policy", "政策参数有误，请按提示修改", fields)
    region = await regions.by_code(region_code)
    if region is None:
        raise NotFound("region_not_found", f"地区 {region_code} 不存在")
    async with db.write_transaction():
        clash = await PolicyVersion.exists().where(
            (PolicyVersion.region == region.id)
            & (PolicyVersion.effective_from == effective_from))
        if clash:
            raise Conflict("policy_date_taken", f"{effective_from.isoformat()} 已有一个政策版本，"
                           "同一天只能生效一个版本")
        row = await _insert(region.id, effective_from, policy, note.strip(), actor.id)
        await audit.record(actor, "policy.version_added", "policy_version", row.id,
                           after={"region": region_code, "version": row.version,
                                  "effective_from": effective_from.isoformat(),
                                  "definition": policy_as_json(policy)}, note=note or None)
    return row.to_dict()


async def care_items() -> list[dict[str, Any]]:
    """The care catalogue as the policy form offers it: code, name and category."""
    return await CareItem.select(CareItem.code, CareItem.name_zh, CareItem.category
                                 ).order_by(CareItem.code)


async def unknown_care_items(policy: Policy) -> dict[str, str]:
    """The package may only name items of the care catalogue."""
    known = {r["code"] for r in await CareItem.select(CareItem.code)}
    problems = {}
    for field in ("care_required", "care_optional"):
        unknown = [code for code in getattr(policy, field) if code not in known]
        if unknown:
            problems[field] = f"护理项目目录中没有这些编号：{'、'.join(unknown)}，请核对"
    return problems


async def load_policies() -> int:
    """Load fixtures/policies/*.json (region, effective_from, a note in Chinese, the
    provenance as `source`, the definition): a version is added when its region has none for that
    effective date. An existing version is never touched (immutability), even if the file
    changed: a changed policy needs a new effective date."""
    added = 0
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        try:
            policy = parse_policy(data["definition"])
        except PolicyError as exc:
            raise RuntimeError(f"{path.name}: {exc}") from exc
        region = await regions.by_code(data["region"])
        if region is None:
            raise RuntimeError(f"{path.name}: region {data['region']} is not loaded")
        effective_from = date.fromisoformat(data["effective_from"])
        async with db.write_transaction():
            if not await PolicyVersion.exists().where(
                    (PolicyVersion.region == region.id)
                    & (PolicyVersion.effective_from == effective_from)):
                # `note` is what the admin's version list shows; `source` is the file's
                # provenance for developers
                await _insert(region.id, effective_from, policy, data.get("note", ""), None)
                added += 1
    return added
