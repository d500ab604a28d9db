"""Pure rules for sanctions (21号文: 医保定点机构及人员的处理): what a sanction and a ban
record hold, when they are in effect, how far ahead a care provider must give notice of its
exit, and which provider is proposed to take over each of its clients. No I/O.

Periods are inclusive civil days: a sanction or ban from `starts_on` to `ends_on` is in
effect on both days; a termination has no end (`ends_on` None) and is in effect from its
first day on.

Provider exit: the exit day (the first day the provider no longer serves) is at least
EXIT_NOTICE_MONTHS calendar months after the notice is given — 2027-01-15 for notice on
2026-10-15 is fine, 2027-01-14 is refused (ltc.clock.add_months counts months; the end of a
shorter month clamps: notice on 2026-11-30 allows 2027-02-28).

Handover proposal (propose): among the other care providers whose agreement is in force on
the exit day and covers the care form, those serving the beneficiary's town (镇街); the one
with the fewest clients is proposed, ties by organisation code; each client proposed counts
for the next (propose_all), so one worklist spreads over the town's providers. None when no
provider serves the town: the clerk chooses one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from ltc.clock import add_months
from ltc.people.rules import name_problem, normalise_resident_id, resident_id_problem

EXIT_NOTICE_MONTHS = 3
TEXT_MAX = 500


class Target(StrEnum):
    organisation = "organisation"
    staff = "staff"

    @property
    def label(self) -> str:
        return {"organisation": "定点机构", "staff": "服务人员"}[self]


class Measure(StrEnum):
    suspend = "suspend"  # 暂停 (协议 / 服务资格), for a period
    terminate = "terminate"  # 解除协议 / 取消服务资格, from a day on

    def label_for(self, target: Target) -> str:
        if target is Target.organisation:
            return "暂停协议" if self is Measure.suspend else "解除协议"
        return "暂停服务资格" if self is Measure.suspend else "取消服务资格"


class Category(StrEnum):
    """The reason category: the public list shows it (never the reason's details)."""

    fraud = "fraud"
    false_records = "false_records"
    quality = "quality"
    unqualified = "unqualified"
    refusal = "refusal"
    other = "other"

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    Category.fraud: "骗取长护险基金",
    Category.false_records: "虚构、伪造服务记录",
    Category.quality: "服务质量不达标",
    Category.unqualified: "人员资质不符",
    Category.refusal: "拒不配合监督检查",
    Category.other: "其他违反协议行为",
}


class ExitState(StrEnum):
    OPEN = "OPEN"  # notice given, handover under way
    COMPLETED = "COMPLETED"  # every client handed over; the provider's agreements end

    @property
    def label(self) -> str:
        return {"OPEN": "交接中", "COMPLETED": "已完成退出"}[self]


class ItemState(StrEnum):
    OPEN = "OPEN"
    DONE = "DONE"

    @property
    def label(self) -> str:
        return {"OPEN": "待交接", "DONE": "已交接"}[self]


def in_effect(starts_on: date, ends_on: date | None, day: date) -> bool:
    """Is a sanction or ban running `starts_on`..`ends_on` (inclusive; None: no end) in
    effect on `day`?"""
    return starts_on <= day and (ends_on is None or day <= ends_on)


def acts_from(agreement_starts_on: date, agreement_ends_on: date, starts_on: date,
              ends_on: date | None) -> date | None:
    """The day a sanction over starts_on..ends_on (None: open-ended) suspends or ends an
    agreement from: its own first day when it begins later (a renewal signed ahead), None
    when the two periods do not meet (an agreement over before, or begun after)."""
    if agreement_ends_on < starts_on or (ends_on is not None and agreement_starts_on > ends_on):
        return None
    return max(starts_on, agreement_starts_on)


def _text_problem(value: str, what: str) -> str | None:
    text = (value or "").strip()
    if not text:
        return f"请填写{what}"
    if len(text) > TEXT_MAX:
        return f"{what}请控制在{TEXT_MAX}字以内"
    return None


def _common_problems(values: Mapping[str, Any], problems: dict[str, str]) -> None:
    if values.get("category") not in Category.__members__:
        problems["category"] = "请选择处理事由类别"
    if problem := _text_problem(values.get("reason", ""), "具体事由"):
        problems["reason"] = problem
    basis = "处理依据（如协议条款、文件名称及条款）"
    if problem := _text_problem(values.get("legal_basis", ""), basis):
        problems["legal_basis"] = problem


def _period_problems(starts_on: date | None, ends_on: date | None, needs_end: bool,
                     problems: dict[str, str]) -> None:
    if starts_on is None:
        problems.setdefault("starts_on", "请填写开始日期")
    if needs_end and ends_on is None:
        problems.setdefault("ends_on", "请填写结束日期（处理期间的最后一天）")
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        problems["ends_on"] = "结束日期不能早于开始日期"


def sanction_problems(values: Mapping[str, Any],
                      problems: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every problem of a new sanction at once (一次性告知). `values`: target, measure,
    category, reason, legal_basis, starts_on, ends_on (dates or None), and `party`: the
    organisation or staff id (None when none was chosen)."""
    found = dict(problems or {})
    target = values.get("target")
    if target not in Target.__members__:
        found["target"] = "请选择处理对象：定点机构或服务人员"
    elif values.get("party") is None:
        found.setdefault("party", "请选择被处理的机构" if target == Target.organisation
                         else "请选择被处理的服务人员")
    measure = values.get("measure")
    if measure not in Measure.__members__:
        found["measure"] = "请选择处理措施：暂停或解除"
    _common_problems(values, found)
    suspend = measure == Measure.suspend
    _period_problems(values.get("starts_on"), values.get("ends_on"), suspend, found)
    if measure == Measure.terminate and values.get("ends_on") is not None:
        found["ends_on"] = "解除（取消）没有结束日期，请留空；有期限的请选择“暂停”"
    return found


def ban_problems(values: Mapping[str, Any], today: date,
                 problems: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every problem of a ban register entry at once: the person's resident ID and name,
    category, reason, legal basis and the period (both ends required)."""
    found = dict(problems or {})
    if problem := resident_id_problem(normalise_resident_id(values.get("resident_id", "")),
                                      today):
        found["resident_id"] = problem
    if problem := name_problem(values.get("name", ""), "姓名"):
        found["name"] = problem
    _common_problems(values, found)
    _period_problems(values.get("starts_on"), values.get("ends_on"), True, found)
    return found


# --- provider exit -----------------------------------------------------------------------

def earliest_exit(notice_on: date) -> date:
    """The earliest exit day for notice given on `notice_on`."""
    return add_months(notice_on, EXIT_NOTICE_MONTHS)


def exit_problem(exit_on: date | None, notice_on: date) -> str | None:
    if exit_on is None:
        return "请填写退出日期（机构停止服务的第一天）"
    earliest = earliest_exit(notice_on)
    if exit_on < earliest:
        return (f"退出须提前至少{EXIT_NOTICE_MONTHS}个月告知：今天告知，退出日期最早为 "
                f"{earliest.isoformat()}")
    return None


@dataclass(frozen=True)
class Candidate:
    """A care provider that could take over clients: its towns served and clients today."""

    id: int
    code: str
    name: str
    towns: frozenset[str]
    clients: int


def town_of(region_path: str) -> str:
    """The town (镇街) code of a village's region path: its second level ("" above it)."""
    parts = region_path.split("/")
    return parts[1] if len(parts) > 1 else ""


def propose(town: str, candidates: Iterable[Candidate], exiting: int) -> Candidate | None:
    """The provider proposed to take over a client in `town` (see the module's rule)."""
    serving = [c for c in candidates if c.id != exiting and town and town in c.towns]
    return min(serving, key=lambda c: (c.clients, c.code), default=None)


def propose_all(towns: Iterable[str], candidates: Iterable[Candidate], exiting: int
                ) -> list[Candidate | None]:
    """propose for each client's town in turn, counting each proposal as a client."""
    load = {c.id: c for c in candidates}
    chosen: list[Candidate | None] = []
    for town in towns:
        found = propose(town, load.values(), exiting)
        if found is not None:
            load[found.id] = Candidate(found.id, found.code, found.name, found.towns,
                                       found.clients + 1)
        chosen.append(found)
    return chosen


def completion_problem(open_items: int, state: str) -> str | None:
    if state != ExitState.OPEN:
        return "该退出已完成"
    if open_items:
        return f"还有 {open_items} 名服务对象未完成交接，交接清单全部完成后才能完成退出"
    return None
