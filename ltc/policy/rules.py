"""A region's policy version (SPEC §9): parse and validate a definition, and read it. No I/O.

Every number that is policy lives in a definition — a flat JSON object whose keys are exactly the
fields of `Policy` — stored per region and effective date (ltc.policy.tables.PolicyVersion) and
shipped as fixtures/policies/*.json. Nothing here has a default: a definition names every value,
and a missing one is a problem like any other.

Money is integer fen (分) everywhere; per-grade maps are JSON objects keyed by the grade as a
string ("3", "4", "5") and must name exactly the eligible grades. `parse_policy` checks every
field and reports all problems at once (一次性告知), each under the name of the field — for
per-grade values "visits_per_month.3" — which is also the name of the admin form's input, so
`from_form` → `parse_policy` puts each problem next to its input.

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
from ltc.money import parse_yuan, plain_yuan

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


@dataclass(frozen=True)
class Parameter:
    """One policy parameter as the admin form shows it.

    kind: "grades" (eligible grades, comma-separated in the form), "fen" (money, yuan in the
    form), "int", "bool", "text", "choice" (one of `choices`), "grade_fen" / "grade_int" (one
    input per eligible grade, named "<name>.<grade>"), "codes" (care item codes,
    comma-separated in the form).
    """

    name: str
    label_zh: str
    kind: str
    unit_zh: str
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) for kind "choice"
    optional: bool = False  # may be left blank (stored as null)
    # For a parameter added after versions were stored: what a stored definition without it
    # means (versions are immutable, so they cannot be given the new key).
    default: Any = None
    # The same, for a per-grade parameter: every eligible grade gets this parameter's value.
    default_from: str = ""


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("eligible_grades", "享受待遇的失能等级", "grades", ""),
    Parameter("family_subsidy_fen", "家庭护理补贴", "fen", "元/月"),
    Parameter("visits_per_month", "每月上门次数", "grade_int", "次/月"),
    Parameter("visit_rate_fen", "上门服务单价", "fen", "元/次"),
    Parameter("min_visit_minutes", "最短上门时长", "int", "分钟"),
    Parameter("bed_day_rate_fen", "机构护理床日标准", "grade_fen", "元/床日"),
    Parameter("deposit_basis_points", "质量保证金比例", "int", "基点（万分之一，500即5%）"),
    Parameter("monthly_budget_fen", "月度基金预算", "fen", "元/月", optional=True),
    Parameter("notice_days", "公示期", "int", "天"),
    Parameter("notice_day_kind", "公示期计算方式", "choice", "",
              choices=(("calendar", "自然日"), ("working", "工作日"))),
    Parameter("renotice_after_reassessment", "异议复评后再次公示", "bool", ""),
    Parameter("reassessment_working_days", "异议复评办结时限", "int", "个工作日"),
    Parameter("validity_months", "评估结论有效期（无待遇等级）", "int", "个月"),
    Parameter("renewal_lead_days", "到期前发起复评", "int", "天"),
    Parameter("min_disability_months", "失能持续时间不少于", "int", "个月"),
    Parameter("reapply_months", "评估结论后再次申请间隔", "int", "个月"),
    Parameter("bureau_name", "医保部门名称", "text", ""),
    Parameter("objection_how", "异议提出方式（印在公示上）", "text", ""),
    Parameter("care_required", "必选护理项目", "codes", ""),
    Parameter("care_optional", "可选护理项目", "codes", ""),
    Parameter("answer_working_days", "申请受理答复时限（22号）", "int", "个工作日", default=5),
    Parameter("letter_working_days", "受理后评估结论送达时限（22号）", "int", "个工作日",
              default=30),
    Parameter("validity_months_by_grade", "评估结论有效期", "grade_int", "个月",
              default_from="validity_months"),
    Parameter("min_video_coverage_percent", "评估视频至少覆盖上门时长", "int", "%", default=80),
    Parameter("spotcheck_basis_points", "评估结论每月抽查比例（29号）", "int",
              "基点（万分之一，500即5%；每个评估机构至少抽1份）", default=500),
    Parameter("late_entry_hours", "服务结束后登记时限（超过即为补录，需审核）", "int", "小时",
              default=48),
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

# (lowest, highest, what to write) for the integer parameters.
_INTS: dict[str, tuple[int, int, str]] = {
    "min_visit_minutes": (1, 480, "最短上门时长应为1到480之间的整数（分钟）"),
    "deposit_basis_points": (0, 10000, "质量保证金比例应为0到10000之间的整数（基点，500即5%）"),
    "notice_days": (1, 60, "公示期应为1到60之间的整数（天）"),
    "reassessment_working_days": (1, 60, "异议复评办结时限应为1到60之间的整数（工作日）"),
    "answer_working_days": (1, 60, "受理答复时限应为1到60之间的整数（工作日）"),
    "letter_working_days": (1, 120, "结论送达时限应为1到120之间的整数（工作日）"),
    "min_video_coverage_percent": (50, 100, "视频覆盖比例应为50到100之间的整数（%）"),
    "validity_months": (1, 120, "评估结论有效期应为1到120之间的整数（月）"),
    "renewal_lead_days": (1, 365, "到期前发起复评的天数应为1到365之间的整数"),
    "min_disability_months": (0, 60, "失能持续时间应为0到60之间的整数（月）"),
    "reapply_months": (0, 60, "再次申请间隔应为0到60之间的整数（月）"),
    "spotcheck_basis_points": (0, 10000,
                               "抽查比例应为0到10000之间的整数（基点，500即5%）"),
    "late_entry_hours": (1, 720, "登记时限应为1到720之间的整数（小时）"),
}
# (lowest, highest, what to write) for each value of the per-grade integer parameters.
_GRADE_INTS: dict[str, tuple[int, int, str]] = {
    "visits_per_month": (1, 31, "每月上门次数应为1到31之间的整数"),
    "validity_months_by_grade": (1, 120, "评估结论有效期应为1到120之间的整数（月）"),
}
# (longest, may span lines, what to write) for the text parameters.
_TEXTS: dict[str, tuple[int, bool, str]] = {
    "bureau_name": (100, False, "请填写医保部门名称（不超过100个字，不换行）"),
    "objection_how": (1000, True, "请填写如何提出异议（不超过1000个字）"),
}

_CODES: dict[str, tuple[bool, str]] = {  # may be empty, what to write
    "care_required": (False, "请至少填写一个必选护理项目编号，用逗号分隔，如 B01,B04"),
    "care_optional": (True, "请填写可选护理项目编号，用逗号分隔，如 B02,C05；没有可选项目时留空"),
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
        elif kind == "int":
            problem = _int_checker(*_INTS[name])(value)
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
            checker = _int_checker(*_GRADE_INTS[name]) if kind == "grade_int" else _fen_problem
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
                                     "请从可选项目中删去")
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


# --- the admin form -----------------------------------------------------------------------

_INTEGER = re.compile(r"-?[0-9]{1,9}")
_TRUE = frozenset({"true", "on", "1", "yes", "是"})
_FALSE = frozenset({"", "false", "off", "0", "no", "否"})


def _form_fen(text: str) -> int | str:
    try:
        return parse_yuan(text)
    except ValueError:
        return text


def _form_int(text: str) -> int | str:
    cleaned = unicodedata.normalize("NFKC", text).strip()
    return int(cleaned) if _INTEGER.fullmatch(cleaned) else text


def _form_grades(text: str) -> list[int] | str:
    tokens = [t for t in re.split(r"[\s,、;；]+", unicodedata.normalize("NFKC", text)) if t]
    if not tokens or not all(re.fullmatch(r"[0-9]{1,2}", t) for t in tokens):
        return text
    return [int(t) for t in tokens]


def _form_codes(text: str) -> list[str]:
    """"b01, B04、C05" → ["B01", "B04", "C05"]; parse_policy judges each code."""
    return [t.upper() for t in re.split(r"[\s,、;；]+", unicodedata.normalize("NFKC", text)) if t]


def _form_bool(text: str | None) -> bool | str:
    if text is None:  # an unticked checkbox is not posted at all
        return False
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return text


def form_values(policy: Policy) -> dict[str, str]:
    """The policy as the admin form's input values: money in yuan with two decimals, one
    input per eligible grade for per-grade values ("visits_per_month.3")."""
    values: dict[str, str] = {}
    for parameter in PARAMETERS:
        name, kind = parameter.name, parameter.kind
        value = getattr(policy, name)
        if kind == "grades":
            values[name] = ",".join(str(g) for g in value)
        elif kind == "codes":
            values[name] = ",".join(value)
        elif kind == "fen":
            values[name] = "" if value is None else plain_yuan(value)
        elif kind == "bool":
            values[name] = "true" if value else "false"
        elif kind in ("grade_int", "grade_fen"):
            for grade, amount in sorted(value.items()):
                values[f"{name}.{grade}"] = (plain_yuan(amount) if kind == "grade_fen"
                                             else str(amount))
        else:  # int, text, choice
            values[name] = str(value)
    return values


def from_form(values: Mapping[str, str]) -> dict[str, Any]:
    """Posted form strings → a definition for parse_policy. What cannot be read as the field's
    type is passed on as typed, so parse_policy reports it under that field's input name.

    Inputs that are not parameters (a CSRF token, the button) are ignored; a missing checkbox
    is "no"; per-grade inputs count only for the eligible grades posted (when those are valid),
    so the form may show an input for every grade 1–5.
    """
    definition: dict[str, Any] = {}
    for parameter in PARAMETERS:
        name, kind = parameter.name, parameter.kind
        if kind == "bool":
            definition[name] = _form_bool(values.get(name))
            continue
        if kind in ("grade_int", "grade_fen"):
            convert = _form_fen if kind == "grade_fen" else _form_int
            prefix = name + "."
            posted = {k[len(prefix):]: v for k, v in values.items()
                      if k.startswith(prefix) and isinstance(v, str) and v.strip()}
            grades = _grades(definition.get("eligible_grades"))
            if grades is not None:
                posted = {str(g): posted[str(g)] for g in grades if str(g) in posted}
            definition[name] = {grade: convert(text) for grade, text in posted.items()}
            continue
        if name not in values:
            if parameter.optional:
                definition[name] = None
            continue  # parse_policy reports it missing
        text = values[name]
        if not isinstance(text, str):
            definition[name] = text
        elif kind == "grades":
            definition[name] = _form_grades(text)
        elif kind == "fen":
            definition[name] = (None if parameter.optional and not text.strip()
                                else _form_fen(text))
        elif kind == "int":
            definition[name] = _form_int(text)
        elif kind == "codes":
            definition[name] = _form_codes(text)
        elif kind == "choice":
            definition[name] = text.strip()
        else:  # text
            definition[name] = text.replace("\r\n", "\n").strip()
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
