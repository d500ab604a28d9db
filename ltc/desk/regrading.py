"""The impact of a ruleset change (改判影响): a dry run that re-grades every concluded
assessment of a region under another ruleset version, changing nothing, and lists each person
whose grade or eligibility would change — with their entitlement, what has been paid for them
and the monthly money at stake. It reads five contexts through their interfaces, so it lives
on the desk.

Each person counts once, by their latest conclusion (older ones were superseded by it).
Assessments already graded by the target version are not re-graded. The assessments are read
newest first in keyset pages, so memory grows with the number of people, not of rows read.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import msgspec

from ltc import clock
from ltc.applications.interface import open_cases_of
from ltc.assessments import bundled, rulesets
from ltc.assessments.interface import concluded_pages, ruleset_keys, ruleset_row
from ltc.assessments.regrade import ChangeKind, Regrader, change_kind
from ltc.entitlements.interface import current_entitlements_of
from ltc.entitlements.rules import EntitlementState
from ltc.errors import InvalidInput, NotFound
from ltc.grades import GRADE_LABELS
from ltc.identity import Actor, Role, region_covers, require_role
from ltc.money import plain_yuan
from ltc.payouts.interface import paid_of
from ltc.people.interface import briefs_of
from ltc.policy.rules import home_care_month_fen, is_eligible
from ltc.policy.service import policy_in_force
from ltc.regions.interface import names_by_code, path_of
from ltc.web.params import whole_number

VIEW_ROLES = frozenset({Role.admin, Role.reviewer})
ENRICH_CHUNK = 5000
# Scores as stored: JSON objects of item code → int (msgspec: about 3× the stdlib's speed).
SCORES = msgspec.json.Decoder(dict[str, Any])


@dataclass(slots=True)
class ImpactRow:
    person_id: int
    assessment_id: int
    region_path: str
    old_grade: int
    new_grade: int
    old_ruleset: str
    kind: ChangeKind
    name: str = ""
    initials: str = ""
    resident_id_masked: str = ""
    town_code: str = ""
    town: str = ""
    entitlement_state: str = ""  # "" when never entitled
    months_paid: int = 0
    paid_fen: int = 0
    monthly_old_fen: int = 0
    monthly_new_fen: int = 0
    open_case: str = ""  # the number of an application in progress
    open_case_origin: str = ""

    @property
    def at_stake_fen(self) -> int:
        """Per month: what is paid now less what the other version would give."""
        return self.monthly_old_fen - self.monthly_new_fen

    @property
    def entitlement_label(self) -> str:
        return EntitlementState(self.entitlement_state).label if self.entitlement_state else "无"

    @property
    def grade_change(self) -> str:
        return f"{GRADE_LABELS[self.old_grade]} → {GRADE_LABELS[self.new_grade]}"


@dataclass
class Impact:
    region_code: str
    region_path: str
    target: str  # code@version
    target_status: str
    on: date
    read: int = 0  # concluded assessments read
    people: int = 0  # people, by their latest conclusion
    already: int = 0  # latest conclusion already graded by the target version
    unchanged: int = 0
    unreadable: int = 0  # stored scores that cannot be graded (never expected)
    changed: int = 0
    monthly_at_stake_fen: int = 0
    seconds: float = 0.0
    rows: list[ImpactRow] = field(default_factory=list)  # when kept (not when streamed)
    kinds: Counter = field(default_factory=Counter)
    towns: dict[str, Counter] = field(default_factory=dict)

    def count(self, row: ImpactRow) -> None:
        self.changed += 1
        self.kinds[row.kind] += 1
        self.towns.setdefault(row.town or row.town_code, Counter())[row.kind] += 1
        self.monthly_at_stake_fen += row.at_stake_fen

    @property
    def by_kind(self) -> dict[ChangeKind, int]:
        return {kind: self.kinds[kind] for kind in ChangeKind}

    @property
    def by_town(self) -> list[tuple[str, dict[ChangeKind, int], int]]:
        """(town, count per kind, total) by town name."""
        return [(town, {k: counts[k] for k in ChangeKind}, sum(counts.values()))
                for town, counts in sorted(self.towns.items())]


def parse_target(text: str) -> tuple[str, int]:
    code, _, version = (text or "").strip().partition("@")
    number = whole_number(version)
    if not code or not number:
        raise InvalidInput("invalid_ruleset_key", "请选择要比较的评估规则版本",
                           {"to": "格式为 规则代码@版本号，例如 national-2021@2"})
    return code, number


async def compute_impact(actor: Actor, region_code: str, target: str, *,
                         today: date | None = None, page_size: int = 5000,
                         on_row: Callable[[ImpactRow], None] | None = None,
                         keep_rows: bool = True) -> Impact:
    """The dry run. Writes nothing. Each changed person is counted, handed to `on_row` as
    soon as their page is read (newest conclusion first) and, with `keep_rows`, kept in
    `rows` sorted by town and name; a caller that streams (the CSV of a whole city) keeps
    nothing and its memory stays flat."""
    require_role(actor, VIEW_ROLES, "查看改判影响")
    started = time.perf_counter()
    today = today or clock.today()
    code, version = parse_target(target)
    path = await path_of((region_code or "").strip())
    if path is None or (actor.region_path and not region_covers(actor.region_path, path)):
        raise NotFound("region_not_found", f"地区 {region_code} 不存在或不在您的管辖范围内")
    row = await ruleset_row(code, version)
    if row is None:
        raise NotFound("ruleset_not_found", f"评估规则 {code}@{version} 不存在，请先加载")
    status = await rulesets.status_of(row["id"], today)
    impact = Impact(region_code=region_code, region_path=path, target=f"{code}@{version}",
                    target_status=status.label if status else "", on=today)
    policy = (await policy_in_force(path, today)).policy
    regrader = Regrader(rulesets.of_row(row), bundled.load_instrument())
    keys = await ruleset_keys()
    eligible = [is_eligible(policy, grade) for grade in range(6)]
    monthly = [home_care_month_fen(policy, grade) for grade in range(6)]
    town_names: dict[str, str] = {}
    seen: set[int] = set()
    async for page in concluded_pages(path, page_size=page_size):
        impact.read += len(page)
        changed: list[ImpactRow] = []
        for assessment in page:
            if assessment.person_id in seen:
                continue  # superseded by this person's later conclusion
            seen.add(assessment.person_id)
            if assessment.ruleset_id == row["id"]:
                impact.already += 1
                continue
            try:
                new = regrader.grade(SCORES.decode(assessment.scores))
            except msgspec.DecodeError:
                new = None
            if new is None:
                impact.unreadable += 1
                continue
            old = assessment.grade
            kind = change_kind(old, new, eligible[old], eligible[new])
            if kind is None:
                impact.unchanged += 1
                continue
            changed.append(ImpactRow(
                assessment.person_id, assessment.id, assessment.region_path, old, new,
                keys.get(assessment.ruleset_id, ""), kind,
                monthly_old_fen=monthly[old], monthly_new_fen=monthly[new]))
        await _enrich(changed, town_names)
        for changed_row in changed:
            impact.count(changed_row)
            if on_row is not None:
                on_row(changed_row)
        if keep_rows:
            impact.rows.extend(changed)
    impact.people = len(seen)
    del seen
    impact.rows.sort(key=lambda r: (r.town, r.initials, r.person_id))
    impact.seconds = time.perf_counter() - started
    return impact


async def _enrich(rows: list[ImpactRow], town_names: dict[str, str]) -> None:
    if not rows:
        return
    for row in rows:
        parts = row.region_path.split("/")
        row.town_code = parts[1] if len(parts) > 1 else parts[0]
    missing = sorted({r.town_code for r in rows} - set(town_names))
    if missing:
        town_names.update(await names_by_code(missing))
    for start in range(0, len(rows), ENRICH_CHUNK):
        chunk = rows[start:start + ENRICH_CHUNK]
        ids = [r.person_id for r in chunk]
        people = await briefs_of(ids)
        held = await current_entitlements_of(ids)
        paid = await paid_of(ids)
        cases = await open_cases_of(ids)
        for row in chunk:
            person = people.get(row.person_id)
            if person:
                row.name, row.initials = person.name, person.name_initials
                row.resident_id_masked = person.resident_id_masked
            row.town = town_names.get(row.town_code, row.town_code)
            if entitlement := held.get(row.person_id):
                row.entitlement_state = entitlement.state
            if summary := paid.get(row.person_id):
                row.months_paid, row.paid_fen = summary.months, summary.gross_fen
            if case := cases.get(row.person_id):
                row.open_case, row.open_case_origin = case.number, case.origin


def filtered(rows: list[ImpactRow], *, search: str = "", town: str = "",
             kind: str = "") -> list[ImpactRow]:
    """The list as a reviewer narrows it: name, pinyin initials or ID digits; town; kind."""
    needle = search.strip().lower()
    return [r for r in rows
            if (not town or r.town_code == town) and (not kind or r.kind == kind)
            and (not needle or needle in r.name or r.initials.startswith(needle)
                 or needle in r.resident_id_masked.lower())]


CSV_HEADER = ["姓名", "身份证号（脱敏）", "镇街", "原等级", "新等级", "变化", "原评估规则",
              "待遇资格", "已支付月数", "已支付金额（元）", "现每月待遇（元）",
              "新规则每月待遇（元）", "每月差额（元）", "办理中的申请"]


def csv_rows(rows: Iterable[ImpactRow]) -> Iterator[list[Any]]:
    for r in rows:
        yield csv_row(r)


def csv_row(r: ImpactRow) -> list[Any]:
    return [r.name, r.resident_id_masked, r.town, GRADE_LABELS[r.old_grade],
            GRADE_LABELS[r.new_grade], r.kind.label, r.old_ruleset, r.entitlement_label,
            r.months_paid, plain_yuan(r.paid_fen), plain_yuan(r.monthly_old_fen),
            plain_yuan(r.monthly_new_fen), plain_yuan(r.at_stake_fen),
            f"{r.open_case}（{'改判复评' if r.open_case_origin == 'regrading' else '申请'}）"
            if r.open_case else ""]


def open_case_label(row: ImpactRow) -> str:
    if not row.open_case:
        return ""
    what = "已发起改判复评" if row.open_case_origin == "regrading" else "已有办理中的申请"
    return f"{what} {row.open_case}"
