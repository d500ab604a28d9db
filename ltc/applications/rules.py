"""The application's life and the refusal grounds at acceptance (SPEC §3). No I/O.

Every number here that is policy (how long a disability must have lasted, how soon one may
apply again) is a parameter: the caller takes it from the region's policy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from ltc.clock import add_months
from ltc.identity import region_covers


class ApplicationState(StrEnum):
    DRAFT = "DRAFT"  # being filled in; nothing handed over yet
    SUBMITTED = "SUBMITTED"  # handed to the agency, waiting for the acceptance decision
    SUPPLEMENT = "SUPPLEMENT"  # 待补正: told once what is missing, waiting for the materials
    ACCEPTED = "ACCEPTED"  # 受理: no refusal ground holds
    REJECTED = "REJECTED"  # 不予受理, with the grounds and a reason
    ASSIGNED = "ASSIGNED"  # two assessors drawn; the assessment is under way
    CLOSED = "CLOSED"  # withdrawn, or the case has ended

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    ApplicationState.DRAFT: "草稿",
    ApplicationState.SUBMITTED: "待受理",
    ApplicationState.SUPPLEMENT: "待补正",
    ApplicationState.ACCEPTED: "已受理",
    ApplicationState.REJECTED: "不予受理",
    ApplicationState.ASSIGNED: "已派评估",
    ApplicationState.CLOSED: "已办结",
}

TRANSITIONS: dict[ApplicationState, frozenset[ApplicationState]] = {
    ApplicationState.DRAFT: frozenset({ApplicationState.SUBMITTED, ApplicationState.CLOSED}),
    ApplicationState.SUBMITTED: frozenset({ApplicationState.ACCEPTED, ApplicationState.REJECTED,
                                           ApplicationState.SUPPLEMENT,
                                           ApplicationState.CLOSED}),
    # The materials came (back to the acceptance decision), or the period ran out without
    # them (不予受理), or the applicant withdrew.
    ApplicationState.SUPPLEMENT: frozenset({ApplicationState.SUBMITTED,
                                            ApplicationState.REJECTED,
                                            ApplicationState.CLOSED}),
    ApplicationState.ACCEPTED: frozenset({ApplicationState.ASSIGNED, ApplicationState.CLOSED}),
    ApplicationState.ASSIGNED: frozenset({ApplicationState.CLOSED}),
    ApplicationState.REJECTED: frozenset(),
    ApplicationState.CLOSED: frozenset(),
}

# States in which the person has an application in progress: a second one would mean a
# second assessment of the same person.
OPEN_STATES = frozenset({ApplicationState.DRAFT, ApplicationState.SUBMITTED,
                         ApplicationState.SUPPLEMENT, ApplicationState.ACCEPTED,
                         ApplicationState.ASSIGNED})


def can_move(current: ApplicationState | str, to: ApplicationState | str) -> bool:
    return ApplicationState(to) in TRANSITIONS[ApplicationState(current)]


APPLICANT_RELATIONS = ("本人", "配偶", "子女", "其他亲属", "机构", "其他")


# --- materials ------------------------------------------------------------------------

class Requirement(StrEnum):
    always = "always"
    when_agent = "when_agent"  # only when someone files on the person's behalf (代办)
    optional = "optional"


@dataclass(frozen=True)
class Material:
    code: str
    name: str
    required: Requirement


def required_materials(checklist: Iterable[Material], has_agent: bool) -> list[Material]:
    return [m for m in checklist if m.required == Requirement.always
            or (m.required == Requirement.when_agent and has_agent)]


def missing_materials(
    checklist: Iterable[Material], provided: Iterable[str], has_agent: bool
) -> list[Material]:
    """Every required material not provided, in checklist order (一次性告知)."""
    have = set(provided)
    return [m for m in required_materials(checklist, has_agent) if m.code not in have]


def unknown_materials(checklist: Iterable[Material], provided: Iterable[str]) -> list[str]:
    known = {m.code for m in checklist}
    return [code for code in provided if code not in known]


# --- asking for missing materials (补正) -------------------------------------------------
#
# Instead of refusing, the clerk tells the applicant once (一次性告知) every material still
# needed and by when. One request per application: asking again would stretch the answer
# deadline at will, so materials still missing after it are a refusal ground.
#
# How long the applicant has: 22号 fixes only the agency's side (answer within 5 working
# days); city rules commonly give the applicant 5 to 15 working days. The default is the same
# 5 working days the agency has; the clerk may set any later day up to MAX_SUPPLEMENT_DAYS
# calendar days ahead (a policy parameter if a city ever wants another default).
SUPPLEMENT_WORKING_DAYS = 5
MAX_SUPPLEMENT_DAYS = 60


def supplement_due_problem(due_on: date, today: date) -> str | None:
    """What is wrong with the day the materials are due by, or None."""
    if due_on <= today:
        return "补正期限须晚于今天"
    if (due_on - today).days > MAX_SUPPLEMENT_DAYS:
        latest = today + timedelta(days=MAX_SUPPLEMENT_DAYS)
        return f"补正期限不能超过{MAX_SUPPLEMENT_DAYS}天（最晚{latest.isoformat()}）"
    return None


def refusal_while_waiting_problem(due_on: date, today: date) -> str | None:
    """An application waiting for materials is refused only once the period has run out:
    until then the applicant may still bring them as they were told."""
    if today <= due_on:
        return f"补正期限至{due_on.isoformat()}，期限届满前不能作不予受理决定"
    return None


def requested_materials_problem(checklist: Iterable[Material], codes: list[str]) -> str | None:
    """What is wrong with the list of materials asked for, or None. A material already on
    file may be asked for again (e.g. an illegible copy)."""
    if not codes:
        return "请勾选需要补正的材料"
    if unknown := unknown_materials(checklist, codes):
        return "未知的材料编码：" + "、".join(unknown) + "，请从材料清单中勾选"
    return None


def received_materials_problem(requested: Iterable[str], received: list[str]) -> str | None:
    """What is wrong with the list of materials recorded as brought, or None: at least one,
    and only ones that were asked for."""
    if not received:
        return "请勾选申请人已补交的材料；一份也未补交的，请等待补正期限届满后处理"
    if extra := [code for code in received if code not in set(requested)]:
        return "以下材料不在补正通知书中：" + "、".join(extra)
    return None


# --- refusal grounds ------------------------------------------------------------------

class Ground(StrEnum):
    not_enrolled = "not_enrolled"
    disability_too_recent = "disability_too_recent"
    materials_incomplete = "materials_incomplete"
    recent_conclusion = "recent_conclusion"
    outside_region = "outside_region"
    other = "other"  # a clerk's finding no rule can see (e.g. a forged document)

    @property
    def label(self) -> str:
        return GROUND_LABELS[self]


GROUND_LABELS = {
    Ground.not_enrolled: "未参加基本医疗保险",
    Ground.disability_too_recent: "失能状态持续不满规定期限",
    Ground.materials_incomplete: "申请材料不齐全",
    Ground.recent_conclusion: "距上次评估结论不满规定期限",
    Ground.outside_region: "不属于本统筹地区",
    Ground.other: "其他不符合受理条件的情形",
}


@dataclass(frozen=True)
class RefusalGround:
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.message}


@dataclass(frozen=True)
class AcceptancePolicy:
    """Policy data of the region (SPEC §9), not constants."""

    min_disability_months: int
    reapply_months: int


@dataclass(frozen=True)
class AcceptanceFacts:
    today: date
    enrolled: bool | None  # None: the enrolment system could not be asked (never "not")
    not_enrolled_reason: str | None  # from the enrolment check
    insured_region_code: str | None  # where the person is insured, when known
    pooling_region_code: str  # the pooling region the application belongs to
    person_region_path: str  # the person's village
    handling_region_path: str | None  # the accepting clerk's region (None: unscoped)
    disabled_since: date
    checklist: tuple[Material, ...]
    materials: tuple[str, ...]
    has_agent: bool
    last_conclusion_on: date | None  # the person's latest concluded assessment


def new_assessment_from(last_conclusion_on: date, reapply_months: int) -> date:
    """The first day a person may apply, or ask for a new assessment, after a conclusion:
    `reapply_months` later to the day, clamped to the month's end (2026-08-31 + 6 months is
    2027-02-28), as periods are counted (ltc.clock.add_months)."""
    return add_months(last_conclusion_on, reapply_months)


def refusal_grounds(facts: AcceptanceFacts, policy: AcceptancePolicy) -> list[RefusalGround]:
    """Every ground that holds, in a fixed order, each with what to do about it."""
    grounds: list[RefusalGround] = []
    if facts.enrolled is False:
        grounds.append(RefusalGround(
            Ground.not_enrolled,
            (facts.not_enrolled_reason or "未查到有效的基本医疗保险参保记录")
            + "；参加基本医疗保险后方可申请"))

    eligible_from = add_months(facts.disabled_since, policy.min_disability_months)
    if facts.today < eligible_from:
        grounds.append(RefusalGround(
            Ground.disability_too_recent,
            f"失能自{facts.disabled_since.isoformat()}起，不满{policy.min_disability_months}"
            f"个月；{eligible_from.isoformat()}起可申请"))

    if missing := missing_materials(facts.checklist, facts.materials, facts.has_agent):
        grounds.append(RefusalGround(
            Ground.materials_incomplete,
            "缺少以下材料，请一次补齐：" + "、".join(m.name for m in missing)))

    if facts.last_conclusion_on is not None:
        reapply_from = new_assessment_from(facts.last_conclusion_on, policy.reapply_months)
        if facts.today < reapply_from:
            grounds.append(RefusalGround(
                Ground.recent_conclusion,
                f"上次评估结论于{facts.last_conclusion_on.isoformat()}作出，不满"
                f"{policy.reapply_months}个月；{reapply_from.isoformat()}起可重新申请"))

    outside = []
    if facts.handling_region_path and not region_covers(facts.handling_region_path,
                                                        facts.person_region_path):
        outside.append("申请人居住地不在本经办机构管辖范围内")
    if facts.insured_region_code and not facts.insured_region_code.startswith(
            facts.pooling_region_code):
        outside.append(f"参保地（{facts.insured_region_code}）不是本统筹地区"
                       f"（{facts.pooling_region_code}）")
    if outside:
        grounds.append(RefusalGround(Ground.outside_region,
                                     "；".join(outside) + "，请到参保地经办机构申请"))
    return grounds


# --- application numbers --------------------------------------------------------------

NUMBER_PREFIX = "SQ"
