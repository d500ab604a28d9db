"""A region's policy version (SPEC §9): parse and validate a definition, and read it. No I/O.

Every number that is policy lives in a definition — a flat JSON object whose keys are exactly the
fields of `Policy` — stored per region and effective date (ltc.policy.tables.PolicyVersion) and
shipped as fixtures/policies/*.json. Nothing here has a default: a definition names every value,
and a missing one is a problem like any other.

Money is integer fen (分) everywhere; per-grade maps are JSON objects keyed by the grade as a
string ("3", "4", "5") and must name exactly the eligible grades. `parse_policy` checks every
field and reports all problems at once (一次性告知), each under the name of the field — for
per-grade values "visits_per_month.3" — which is also the name of the admin form's input, so
`ltc.policy.form.from_form` → `parse_policy` puts each problem next to its input.

The care package ("10+X", SPEC §5) is two lists of care item codes: the required items every
care plan contains and the optional ones a plan may add. Whether each code is in the care
catalogue is checked where the catalogue is (ltc.careplans.service), not here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ltc.errors import InvalidInput

MIN_GRADE = 1
MAX_GRADE = 5
# Far above any real amount, far below the 64-bit integer columns money is stored in.
MAX_FEN = 10**12  # 100亿元

DAY_KINDS = ("calendar", "working")
CARE_CODE = re.compile(r"[A-Z]{1,2}[0-9]{2,3}")  # a care item code: B01, C05


@dataclass(frozen=True)
class Policy:
    """One version of a region's policy. Build it with `parse_policy`, which guarantees the
    invariants below; the per-grade dicts are shared, never to be changed in place."""

    eligible_grades: tuple[int, ...]  # non-empty, sorted, unique, within 1..5
    family_subsidy_fen: int  # per month, to the relative caregiver
    visits_per_month: dict[int, int]  # grade → quota of paid home visits; keys = eligible_grades
    visit_rate_fen: int  # per accepted home visit, to the provider
    min_visit_minutes: int  # shorter visits are flagged
    bed_day_rate_fen: dict[int, int]  # grade → institutional care per bed-day
    deposit_basis_points: int  # quality deposit withheld from provider lines; 500 = 5 %
    monthly_budget_fen: int | None  # None: no budget set
    notice_days: int  # length of the public notice (公示期)
    notice_day_kind: str  # "calendar" | "working": how notice_days are counted
    renotice_after_reassessment: bool  # a re-assessment after an objection is noticed again
    reassessment_working_days: int  # an objection's re-assessment is due within this many
    validity_months: int  # a conclusion of a grade without benefits is valid this long
    renewal_lead_days: int  # the re-assessment task is raised this many days before expiry
    min_disability_months: int  # refusal ground: disabled for less than this
    reapply_months: int  # refusal ground: previous conclusion younger than this
    # printed on notices and letters; the bureau's address and phone are the pooling
    # region's (ltc.regions), not policy
    bureau_name: str
    objection_how: str  # printed on notices: how, where and until when to object
    care_required: tuple[str, ...]  # care item codes every plan contains; non-empty, sorted
    care_optional: tuple[str, ...]  # codes a plan may add; sorted, disjoint from required
    answer_working_days: int = 5  # 22号: an application is answered within this many
    letter_working_days: int = 30  # 22号: the conclusion letter, after acceptance
    # grade → months a conclusion (and the entitlement it grants) is valid; keys =
    # eligible_grades. Versions stored before it existed: validity_months for every grade.
    validity_months_by_grade: dict[int, int] = field(default_factory=dict)
    min_video_coverage_percent: int = 80  # the assessment's videos cover this share on site
    spotcheck_basis_points: int = 500  # 29号: concluded assessments spot-checked a month
    # A visit logged more than this many hours after it ended is 补录 (late entry): flagged
    # for review rather than accepted automatically (ltc.visits.rules).
    late_entry_hours: int = 48
    # 回访抽样: each provider's accepted home visits of a month called back — this share,
    # but at least `returnvisit_minimum` (ltc.returnvisits.rules)
    returnvisit_basis_points: int = 500
    returnvisit_minimum: int = 3
    # 稽核 (ltc.inspections.rules): the nightly patterns across a month's visits.
    inspection_speed_kmh: int = 60
    inspection_same_spot_metres: int = 20
    inspection_far_metres: int = 500
    inspection_far_share_percent: int = 50
    inspection_burst_count: int = 5
    inspection_burst_minutes: int = 10
    inspection_burst_hours: int = 48


@dataclass(frozen=True)
class Parameter:
    """One policy parameter: how it is checked and how the admin form shows it. A new numeric
    parameter is this one declaration (plus its `Policy` attribute): the form, its messages
    and the version list follow from it.

    kind: "grades" (eligible grades, one checkbox per grade), "fen" (money, 元 with two
    decimals in the form), "int" (an integer within `bounds`), "percent" (basis points within
    `bounds`, a percentage with up to two decimals in the form), "bool", "text", "choice"
    (one of `choices`), "grade_fen" / "grade_int" (one input per eligible grade, named
    "<name>.<grade>"), "codes" (care item codes, one checkbox per catalogue item, named
    "<name>.<code>").
    """

    name: str
    label_zh: str
    kind: str
    unit_zh: str
    help_zh: str = ""  # one short sentence under the input
    bounds: tuple[int, int] = (0, 0)  # lowest and highest, for int, percent and grade_int
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) for kind "choice"
    optional: bool = False  # may be left blank (stored as null)
    # For a parameter added after versions were stored: what a stored definition without it
    # means (versions are immutable, so they cannot be given the new key).
    default: Any = None
    # The same, for a per-grade parameter: every eligible grade gets this parameter's value.
    default_from: str = ""

    @property
    def range_problem(self) -> str:
        """What to write in an int, percent or grade_int input."""
        low, high = self.bounds
        if self.kind == "percent":
            return (f"{self.label_zh}应为{percent_text(low)}到{percent_text(high)}之间的百分数，"
                    "最多两位小数，如 5 或 12.5")
        unit = f"（{self.unit_zh}）" if self.unit_zh else ""
        return f"{self.label_zh}应为{low}到{high}之间的整数{unit}"


def percent_text(basis_points: int) -> str:
    """500 → "5", 1250 → "12.5", 1 → "0.01": basis points as the percentage people write."""
    whole, cents = divmod(basis_points, 100)
    return f"{whole}.{cents:02d}".rstrip("0").rstrip(".") if cents else str(whole)


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("eligible_grades", "享受待遇的失能等级", "grades", "",
              "勾选可以享受长护险待遇的等级，至少选一个"),
    Parameter("family_subsidy_fen", "家庭护理补贴", "fen", "元/月",
              "每月发给承担护理的家属的补贴"),
    Parameter("visits_per_month", "每月上门次数", "grade_int", "次/月",
              "护理机构每月可结算的上门服务次数", bounds=(1, 31)),
    Parameter("visit_rate_fen", "上门服务单价", "fen", "元/次",
              "每次通过审核的上门服务付给护理机构的金额"),
    Parameter("min_visit_minutes", "最短上门时长", "int", "分钟",
              "短于此时长的上门服务会被标记，由审核人员查看", bounds=(1, 480)),
    Parameter("bed_day_rate_fen", "机构护理床日标准", "grade_fen", "元/床日",
              "入住护理机构的，每床日按此标准结算"),
    Parameter("deposit_basis_points", "质量保证金比例", "percent", "%",
              "结算时从护理机构应付金额中暂扣的比例，如 5", bounds=(0, 10000)),
    Parameter("monthly_budget_fen", "月度基金预算", "fen", "元/月",
              "不设预算的可不填", optional=True),
    Parameter("notice_days", "公示期", "int", "天",
              "评估结论公示的天数", bounds=(1, 60)),
    Parameter("notice_day_kind", "公示期计算方式", "choice", "",
              "公示期按自然日还是工作日计算",
              choices=(("calendar", "自然日"), ("working", "工作日"))),
    Parameter("renotice_after_reassessment", "异议复评后再次公示", "bool", "",
              "勾选后，因异议复评的结论要重新公示"),
    Parameter("reassessment_working_days", "异议复评办结时限", "int", "个工作日",
              "收到异议后，复评须在此期限内完成", bounds=(1, 60)),
    Parameter("validity_months", "评估结论有效期（无待遇等级）", "int", "个月",
              "不享受待遇的等级，其评估结论的有效期", bounds=(1, 120)),
    Parameter("renewal_lead_days", "到期前发起复评", "int", "天",
              "结论到期前多少天生成复评任务，须短于有效期", bounds=(1, 365)),
    Parameter("min_disability_months", "失能持续时间不少于", "int", "个月",
              "失能时间不足的申请不予受理", bounds=(0, 60)),
    Parameter("reapply_months", "评估结论后再次申请间隔", "int", "个月",
              "上次评估结论作出后，须间隔多久才能再次申请", bounds=(0, 60)),
    Parameter("bureau_name", "医保部门名称", "text", "",
              "印在公示和文书上，如 肥城市医疗保障局"),
    Parameter("objection_how", "异议提出方式（印在公示上）", "text", "",
              "告诉群众向谁、在哪里、在什么期限内提出异议"),
    Parameter("care_required", "必选护理项目", "codes", "",
              "每份护理计划都包含的项目，至少选一项"),
    Parameter("care_optional", "可选护理项目", "codes", "",
              "护理计划可以另外增加的项目，不能与必选项目重复；可以不选"),
    Parameter("answer_working_days", "申请受理答复时限（22号）", "int", "个工作日",
              "收到申请后答复是否受理的期限", bounds=(1, 60), default=5),
    Parameter("letter_working_days", "受理后评估结论送达时限（22号）", "int", "个工作日",
              "受理后送达评估结论书的期限", bounds=(1, 120), default=30),
    Parameter("validity_months_by_grade", "评估结论有效期", "grade_int", "个月",
              "享受待遇的等级，其评估结论和待遇的有效期", bounds=(1, 120),
              default_from="validity_months"),
    Parameter("min_video_coverage_percent", "评估视频至少覆盖上门时长", "int", "%",
              "评估上门时录制的视频至少应覆盖的时长比例", bounds=(50, 100), default=80),
    Parameter("spotcheck_basis_points", "评估结论每月抽查比例（29号）", "percent", "%",
              "每月从已作出的评估结论中抽查的比例；每个评估机构至少抽1份",
              bounds=(0, 10000), default=500),
    Parameter("late_entry_hours", "服务结束后登记时限", "int", "小时",
              "服务结束后超过此时长才登记的上门记录为补录，须经审核才能结算",
              bounds=(1, 720), default=48),
    Parameter("returnvisit_basis_points", "上门服务每月回访抽样比例", "percent", "%",
              "每月从各护理机构上月已通过的上门服务记录中抽取、由经办员电话回访的比例",
              bounds=(0, 10000), default=500),
    Parameter("returnvisit_minimum", "每家护理机构每月至少回访", "int", "次",
              "按比例抽取不足此数时补足；机构当月服务记录少于此数时全部回访",
              bounds=(0, 100), default=3),
    Parameter("inspection_speed_kmh", "稽核：两次签到间最高时速", "int", "公里/小时",
              "同一服务人员前一次服务结束到后一次开始，签到位置间的移动速度超过此值的列入稽核",
              bounds=(5, 300), default=60),
    Parameter("inspection_same_spot_metres", "稽核：同一位置判定距离", "int", "米",
              "同一服务人员在此距离内为不同服务对象签到的列入稽核",
              bounds=(1, 200), default=20),
    Parameter("inspection_far_metres", "稽核：签到远离住址距离", "int", "米",
              "签到位置距服务对象登记住址超过此距离的，计入远离住址的服务",
              bounds=(100, 20000), default=500),
    Parameter("inspection_far_share_percent", "稽核：远离住址服务占比", "int", "%",
              "服务人员当月远离住址的服务达到此比例（至少5次可核对的服务）的列入稽核",
              bounds=(1, 100), default=50),
    Parameter("inspection_burst_count", "稽核：集中补录次数", "int", "次",
              "一次集中登记达到此次数的补录列入稽核", bounds=(2, 100), default=5),
    Parameter("inspection_burst_minutes", "稽核：集中补录间隔", "int", "分钟",
              "相邻两次登记间隔不超过此时长的算作一次集中登记", bounds=(1, 240), default=10),
    Parameter("inspection_burst_hours", "稽核：补录滞后时长", "int", "小时",
              "服务结束后超过此时长才登记的，计入集中补录", bounds=(1, 720), default=48),
)
PARAMETER_NAMES = tuple(p.name for p in PARAMETERS)

# Parameters a definition once had, moved elsewhere, and where they are set now. Stored
# versions are immutable and keep them: reading one ignores them (`parse_stored`). A
# definition submitted now (admin form, API, a fixture file) naming one is refused with
# where the value lives now, rather than silently dropping a value its author meant to set.
_BUREAU_CONTACT = ("已改在统筹地区中设置（“地区管理”页面，或 ltc region set-bureau），"
                   "请从政策中删去此项")
RETIRED: dict[str, str] = {
    "bureau_phone": "咨询电话" + _BUREAU_CONTACT,
    "bureau_address": "办公地址" + _BUREAU_CONTACT,
}
_BY_NAME = {p.name: p for p in PARAMETERS}

# (longest, may span lines, what to write) for the text parameters.
_TEXTS: dict[str, tuple[int, bool, str]] = {
    "bureau_name": (100, False, "请填写医保部门名称（不超过100个字，不换行）"),
    "objection_how": (1000, True, "请填写如何提出异议（不超过1000个字）"),
}

_CODES: dict[str, tuple[bool, str]] = {  # may be empty, what to write
    "care_required": (False, "请至少选择一个必选护理项目"),
    "care_optional": (True, "请选择可选护理项目；没有可选项目时都不选"),
}

MISSING = "缺少此参数"
UNKNOWN = "未知的政策参数"
GRADES_PROBLEM = "请选择享受待遇的失能等级：1到5级中至少选一个，不能重复"
FORM_MONEY_PROBLEM = "请填写金额，如 450.00"
_ILLEGAL_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})  # control characters, line breaks


class PolicyError(InvalidInput):
    """A definition with problems: `problems` maps each field (per-grade values as
    "visits_per_month.3") to what to fix, in Chinese."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("invalid_policy", "政策参数有误，请逐项修改", fields=self.problems)

    def __str__(self) -> str:
        return "\n".join(f"{field}: {message}" for field, message in self.problems.items())


# --- parsing ----------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _grades(value: Any) -> tuple[int, ...] | None:
    """The eligible grades, sorted, or None when they are not a valid choice."""
    if not isinstance(value, list | tuple) or not value:
        return None
    if not all(_is_int(g) and MIN_GRADE <= g <= MAX_GRADE for g in value):
        return None
    if len(set(value)) != len(value):
        return None
    return tuple(sorted(value))


def _grade_key(key: Any) -> int | None:
    if _is_int(key) and MIN_GRADE <= key <= MAX_GRADE:
        return key
    if isinstance(key, str) and len(key) == 1 and "1" <= key <= "5":
        return int(key)
    return None


def _fen_problem(value: Any) -> str | None:
    if isinstance(value, str):  # what from_form leaves when the typed amount is not one
        return FORM_MONEY_PROBLEM
    if not _is_int(value):
        return "金额应为以分为单位的整数（1元=100分），不能有小数"
    if value < 0:
        return "金额不能为负数"
    if value > MAX_FEN:
        return "金额过大，请核对"
    return None


def _int_checker(low: int, high: int, message: str) -> Callable[[Any], str | None]:
    def problem(value: Any) -> str | None:
        return None if _is_int(value) and low <= value <= high else message

    return problem


def _text(name: str, value: Any) -> tuple[str | None, str | None]:
    """(the cleaned text, None) or (None, the problem)."""
    longest, multiline, message = _TEXTS[name]
    if not isinstance(value, str):
        return None, message
    text = value.replace("\r\n", "\n").strip()
    if not text or len(text) > longest:
        return None, message
    for ch in text:
        if ch == "\n" and multiline:
            continue
        if unicodedata.category(ch) in _ILLEGAL_CATEGORIES:
            return None, message
    return text, None


def _codes(name: str, value: Any) -> tuple[tuple[str, ...] | None, str | None]:
    """(the codes, sorted, None) or (None, the problem): a list of distinct item codes."""
    may_be_empty, message = _CODES[name]
    if not isinstance(value, list | tuple) or not all(isinstance(c, str) for c in value):
        return None, message
    if not value and not may_be_empty:
        return None, message
    bad = [c for c in value if not CARE_CODE.fullmatch(c)]
    if bad:
        return None, f"无法识别的护理项目编号：{'、'.join(bad)}（编号为字母加数字，如 B01、C05）"
    repeated = sorted({c for c in value if value.count(c) > 1})
    if repeated:
        return None, f"护理项目编号重复：{'、'.join(repeated)}，每个编号只填一次"
    return tuple(sorted(value)), None


def _grade_map(
    name: str,
    value: Any,
    grades: tuple[int, ...] | None,
    value_problem: Callable[[Any], str | None],
    problems: dict[str, str],
) -> dict[int, int] | None:
    """A per-grade map, checking its keys against the eligible grades when those are valid
    (when they are not, that one problem is reported, not one per grade)."""
    label = _BY_NAME[name].label_zh
    if not isinstance(value, Mapping):
        problems[name] = f"{label}应按失能等级逐项填写，如 {{\"3\": …}}"
        return None
    result: dict[int, int] = {}
    seen: set[int] = set()
    ok = True
    for key, item in value.items():
        grade = _grade_key(key)
        if grade is None:
            problems[f"{name}.{key}"] = "不是有效的失能等级（1到5级）"
            ok = False
            continue
        field = f"{name}.{grade}"
        if grade in seen:
            problems[field] = "同一等级填写了两次"
            ok = False
            continue
        seen.add(grade)
        if grades is not None and grade not in grades:
            problems[field] = "该等级不在享受待遇的失能等级内，请删去此项"
            ok = False
            continue
        problem = value_problem(item)
        if problem:
            problems[field] = problem
            ok = False
            continue
        result[grade] = item
    for grade in grades or ():
        if grade not in seen:
            problems[f"{name}.{grade}"] = f"请填写此等级的{label}"
            ok = False
    return dict(sorted(result.items())) if ok else None


def parse_policy(data: Mapping[str, Any]) -> Policy:
    """Check a definition and build the policy, or raise PolicyError with every problem."""
    if not isinstance(data, Mapping):
        raise PolicyError({"definition": "政策定义应为一个JSON对象，每个参数一项"})
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    grades: tuple[int, ...] | None = None
    for parameter in PARAMETERS:
        name = parameter.name
        if name not in data:
            if parameter.default is not None:
                values[name] = parameter.default
            elif parameter.default_from:
                source = values.get(parameter.default_from)
                if grades is not None and source is not None:  # else that one is reported
                    values[name] = dict.fromkeys(grades, source)
            else:
                problems[name] = MISSING
            continue
        value = data[name]
        kind = parameter.kind
        problem: str | None = None
        if kind == "grades":
            grades = _grades(value)
            if grades is None:
                problem = GRADES_PROBLEM
            value = grades
        elif kind == "fen":
            if not (parameter.optional and value is None):
                problem = _fen_problem(value)
        elif kind in ("int", "percent"):
            problem = _int_checker(*parameter.bounds, parameter.range_problem)(value)
        elif kind == "bool":
            if not isinstance(value, bool):
                problem = "请选择是或否"
        elif kind == "choice":
            if value not in [v for v, _ in parameter.choices]:
                problem = "请选择" + "或".join(label for _, label in parameter.choices)
        elif kind == "text":
            value, problem = _text(name, value)
        elif kind == "codes":
            value, problem = _codes(name, value)
        elif kind in ("grade_int", "grade_fen"):
            checker = (_int_checker(*parameter.bounds, parameter.range_problem)
                       if kind == "grade_int" else _fen_problem)
            value = _grade_map(name, value, grades, checker, problems)
        else:  # pragma: no cover - PARAMETERS is fixed
            raise AssertionError(kind)
        if problem:
            problems[name] = problem
        else:
            values[name] = value
    for key in data:
        if key in RETIRED:
            problems[key] = RETIRED[key]
        elif key not in _BY_NAME:
            problems[str(key)] = UNKNOWN
    # A re-assessment task raised before the entitlement has even begun is a typo.
    lead = values.get("renewal_lead_days")
    validities = [values.get("validity_months"), *(values.get("validity_months_by_grade")
                                                    or {}).values()]
    if lead is not None and None not in validities and lead >= min(validities) * 28:
        problems["renewal_lead_days"] = "到期前发起复评的天数应短于评估结论有效期"
    both = sorted(set(values.get("care_required") or ()) & set(values.get("care_optional") or ()))
    if both:
        problems["care_optional"] = (f"{'、'.join(both)} 已是必选护理项目，不能同时作为可选项目，"
                                     "请在可选项目中取消勾选")
    if problems:
        raise PolicyError(problems)
    return Policy(**values)


def parse_stored(data: Mapping[str, Any]) -> Policy:
    """`parse_policy` for a stored version's definition: its retired parameters are
    ignored (see RETIRED)."""
    return parse_policy({key: value for key, value in data.items() if key not in RETIRED})


def policy_as_json(policy: Policy) -> dict[str, Any]:
    """The definition of a policy: JSON-serialisable, parse_policy(policy_as_json(p)) == p."""
    definition: dict[str, Any] = {}
    for parameter in PARAMETERS:
        value = getattr(policy, parameter.name)
        if parameter.kind in ("grades", "codes"):
            value = list(value)
        elif parameter.kind in ("grade_int", "grade_fen"):
            value = {str(grade): amount for grade, amount in sorted(value.items())}
        definition[parameter.name] = value
    return definition


# --- reading a policy -------------------------------------------------------------------------

def is_eligible(policy: Policy, grade: int) -> bool:
    return grade in policy.eligible_grades


def validity_months(policy: Policy, grade: int) -> int:
    """How long a conclusion of this grade is valid (and the entitlement it grants): the
    grade's own value for a grade with benefits, validity_months for the others (0–2 by
    default: nothing depends on their validity, it is shown for the record)."""
    return policy.validity_months_by_grade.get(grade, policy.validity_months)


def quota(policy: Policy, grade: int) -> int:
    """Paid home visits per month for a grade; 0 for a grade without benefits."""
    return policy.visits_per_month.get(grade, 0)


def bed_day_rate(policy: Policy, grade: int) -> int:
    """Institutional care per bed-day, in fen, for a grade; 0 for a grade without benefits."""
    return policy.bed_day_rate_fen.get(grade, 0)


def home_care_month_fen(policy: Policy, grade: int) -> int:
    """What a month of home care (居家护理, "1+1") is worth for a grade: the family care
    subsidy plus the grade's quota of paid home visits; 0 for a grade without benefits."""
    if not is_eligible(policy, grade):
        return 0
    return policy.family_subsidy_fen + quota(policy, grade) * policy.visit_rate_fen
