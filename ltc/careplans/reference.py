"""The care catalogue (SPEC §5): the 42 items of fixtures/care_items.json, loaded by `ltc
migrate` and `ltc demo` before the policies, whose care packages name these items."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ltc import db
from ltc.careplans.tables import CareItem
from ltc.policy.rules import CARE_CODE

FIXTURE = Path(__file__).resolve().parent.parent.parent / "fixtures" / "care_items.json"
CATEGORIES = ("basic_life", "clinical")
PACKAGES = ("required", "optional", "excluded")


def _item_problems(item: Any) -> list[str]:
    if not isinstance(item, dict):
        return ["not an object"]
    problems = []
    if not isinstance(item.get("code"), str) or not CARE_CODE.fullmatch(item["code"]):
        problems.append("code: letters and digits, like B01")
    for name, longest in (("name_zh", 50), ("name_en", 100)):
        if not isinstance(item.get(name), str) or not 0 < len(item[name].strip()) <= longest:
            problems.append(f"{name}: 1 to {longest} characters")
    if item.get("category") not in CATEGORIES:
        problems.append(f"category: one of {', '.join(CATEGORIES)}")
    if not isinstance(item.get("nurse_only"), bool):
        problems.append("nurse_only: true or false")
    minutes = item.get("minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 480:
        problems.append("minutes: 1 to 480")
    if item.get("package") not in PACKAGES:
        problems.append(f"package: one of {', '.join(PACKAGES)}")
    return problems


def read_fixture(path: Path = FIXTURE) -> list[dict[str, Any]]:
    """The catalogue file's items, checked; RuntimeError naming every bad item."""
    items = json.loads(path.read_text(encoding="utf-8"))["items"]
    problems = [f"item {i + 1} ({item.get('code') if isinstance(item, dict) else '?'}): {p}"
                for i, item in enumerate(items) for p in _item_problems(item)]
    codes = [item["code"] for item in items if isinstance(item, dict) and "code" in item]
    problems += [f"code {c} appears more than once" for c in sorted(set(codes))
                 if codes.count(c) > 1]
    if problems:
        raise RuntimeError(f"{path.name}: " + "; ".join(problems))
    return items


async def load_care_items() -> int:
    """Insert or update the catalogue by code (idempotent; items are never deleted, since
    plans and visits name them), then check that every care package in the policy files
    names only catalogue items, before the policies are loaded. Returns the item count."""
    from ltc.careplans.service import check_policy_fixtures

    items = read_fixture()
    async with db.write_transaction():
        existing = {r["code"]: r["id"] for r in await CareItem.select(CareItem.id, CareItem.code)}
        for item in items:
            values = {CareItem.name_zh: item["name_zh"].strip(),
                      CareItem.name_en: item["name_en"].strip(),
                      CareItem.category: item["category"], CareItem.nurse_only: item["nurse_only"],
                      CareItem.minutes: item["minutes"], CareItem.in_package: item["package"]}
            if item["code"] in existing:
                await CareItem.update(values).where(CareItem.id == existing[item["code"]])
            else:
                await CareItem.insert(CareItem(code=item["code"], **{
                    column._meta.name: value for column, value in values.items()}))
    await check_policy_fixtures()
    return len(items)
