"""Pure rules for agreements (协议): kinds, states and their transitions, which days an agreement
covers, the expiry reminder, and the validation of a new agreement's fields. No I/O.

Cover (whether the agreement was in force on a day) is what visits, care plans and payouts
ask about:
- a DRAFT never covers anything;
- otherwise a day is covered when `starts_on <= day <= ends_on` and, unless the agreement is
  ACTIVE, the day is before `state_changed_on` — the first day no longer covered, set when it
  is suspended or terminated (and kept when it later expires);
- EXPIRED is only the end date passing: an agreement that expired while active covers its
  whole period; one suspended before it expired covers the days before the suspension.

A resumed agreement (SUSPENDED → ACTIVE) covers its whole period again, the suspended days
included: the row holds one `state_changed_on`, not a history of suspensions. When the
suspended days must stay uncovered, terminate the agreement and sign a new one instead.

Amendments (补充协议): an ACTIVE agreement is amended from an effective day by a new row (the
next version, ACTIVE from that day) while the amended row becomes AMENDED with
`state_changed_on` = the effective day, so it covers the days before and the new version the
days from it: every reader of cover — visits, the assessor draw, payouts — sees the old terms
before the day and the new ones from it without knowing about amendments. What may change is
AMENDABLE[kind]: rates, the payee account, the end date, the staff member's qualification.

Payee accounts: a care provider's agreement names the account its money goes to, either typed
for the agreement or taken from the organisation register — shown on the form (bank, holder,
last four digits) and confirmed by the clerk, then *copied* into the agreement. A later
change in the register therefore does not redirect money by itself: it reaches payments
through an amendment that confirms it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from ltc.clock import add_months
from ltc.grades import GRADE_LABELS
from ltc.money import parse_yuan, plain_yuan
from ltc.organisations.rules import mask_account
from ltc.people.rules import (
    name_initials,
    name_problem,
    normalise_phone,
    normalise_resident_id,
    phone_problem,
    resident_id_problem,
)

NUMBER_PREFIX = "XY"
REMINDER_DAYS = 30  # the clerk is reminded this many days before ends_on
MAX_PERIOD_YEARS = 5  # a longer period is almost always a typing slip in the year
MAX_BEDS = 100_000
MAX_FEN = 10**12  # far above any real rate, far below the 64-bit money columns
GRADES = (1, 2, 3, 4, 5)


class AgreementKind(StrEnum):
    assessment = "assessment"  # 评估机构
    provider = "provider"  # 护理服务机构 (township health centre, care institution)
    staff = "staff"  # a provider's service staff member
    caregiver = "caregiver"  # a beneficiary's family caregiver

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    AgreementKind.assessment: "评估机构",
    AgreementKind.provider: "护理服务机构",
    AgreementKind.staff: "服务人员",
    AgreementKind.caregiver: "家庭照护者",
}


class AgreementState(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    EXPIRED = "EXPIRED"
    TERMINATED = "TERMINATED"
    AMENDED = "AMENDED"  # superseded from state_changed_on by its next version

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    AgreementState.DRAFT: "草稿",
    AgreementState.ACTIVE: "生效",
    AgreementState.SUSPENDED: "暂停",
    AgreementState.EXPIRED: "到期",
    AgreementState.TERMINATED: "终止",
    AgreementState.AMENDED: "已变更",
}

# Which state may follow which. A draft that will never be signed is terminated (作废);
# EXPIRED, TERMINATED and AMENDED are final: a new period is a new agreement, new terms a new
# version.
TRANSITIONS: dict[AgreementState, frozenset[AgreementState]] = {
    AgreementState.DRAFT: frozenset({AgreementState.ACTIVE, AgreementState.TERMINATED}),
    AgreementState.ACTIVE: frozenset({AgreementState.SUSPENDED, AgreementState.EXPIRED,
                                      AgreementState.TERMINATED, AgreementState.AMENDED}),
    AgreementState.SUSPENDED: frozenset({AgreementState.ACTIVE, AgreementState.EXPIRED,
                                         AgreementState.TERMINATED}),
    AgreementState.EXPIRED: frozenset(),
    AgreementState.TERMINATED: frozenset(),
    AgreementState.AMENDED: frozenset(),
}
# States the daily pass expires once ends_on has passed, and that count as "in force" now.
RUNNING = (AgreementState.ACTIVE, AgreementState.SUSPENDED)


def can_transition(before: str, after: str) -> bool:
    return AgreementState(after) in TRANSITIONS[AgreementState(before)]


class Qualification(StrEnum):
    nurse = "nurse"  # 护士: may do the clinical (nurse-only) care items
    care_worker = "care_worker"  # 护理员

    @property
    def label(self) -> str:
        return QUALIFICATION_LABELS[self]


QUALIFICATION_LABELS = {Qualification.nurse: "护士", Qualification.care_worker: "护理员"}

# A family caregiver's relationship to the beneficiary (家庭照护者与被照护人关系).
RELATIONSHIPS = ("配偶", "子女", "子女的配偶", "孙子女", "兄弟姐妹", "父母", "其他亲属")


# --- cover ------------------------------------------------------------------------------------

def coverage(agreement: Mapping[str, Any]) -> tuple[date, date] | None:
    """The first and last day the agreement covers, or None when it covers no day."""
    state = AgreementState(agreement["state"])
    if state is AgreementState.DRAFT:
        return None
    first, last = agreement["starts_on"], agreement["ends_on"]
    stopped = agreement.get("state_changed_on")
    if state is not AgreementState.ACTIVE and stopped is not None:
        last = min(last, stopped - timedelta(days=1))
    return (first, last) if first <= last else None


def covers(agreement: Mapping[str, Any], day: date) -> bool:
    """Was the agreement in force on `day`? (`agreement`: a row as a dict.)"""
    span = coverage(agreement)
    return span is not None and span[0] <= day <= span[1]


def overlaps(span: tuple[date, date], other: Mapping[str, Any]) -> bool:
    """Does `other` cover any day of `span`?"""
    theirs = coverage(other)
    return theirs is not None and theirs[0] <= span[1] and span[0] <= theirs[1]


# Separation of functions (医保发〔2023〕29号): an assessment organisation may not also provide the
# care that follows from its conclusions. Drafting already asks for an organisation of the
# agreement's kind; this is checked again whenever an agreement comes into force, because an
# organisation's registered kind may have changed since its other agreement was signed.
SEPARATED_KINDS: dict[AgreementKind, AgreementKind] = {
    AgreementKind.assessment: AgreementKind.provider,
    AgreementKind.provider: AgreementKind.assessment,
}


def separation_conflict(kind: str, span: tuple[date, date],
                        others: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The first of the same organisation's `others` whose kind is kept apart from `kind`
    (assessment vs care provider) and which covers any day of `span` (days inclusive: an
    agreement ending on the day the other starts overlaps it), or None."""
    opposite = SEPARATED_KINDS.get(AgreementKind(kind))
    return next((other for other in others
                 if opposite is not None and other["kind"] == opposite
                 and overlaps(span, other)), None)


def expired_change_day(agreement: Mapping[str, Any]) -> date:
    """`state_changed_on` once an agreement expires: the day after its end, unless a
    suspension had already stopped its cover earlier."""
    after_end = agreement["ends_on"] + timedelta(days=1)
    stopped = agreement.get("state_changed_on")
    return after_end if stopped is None else min(stopped, after_end)


def reminder_due(ends_on: date, today: date) -> bool:
    """The clerk is reminded from REMINDER_DAYS days before the last day until that day."""
    return ends_on - timedelta(days=REMINDER_DAYS) <= today <= ends_on


def due_to_expire(ends_on: date, today: date) -> bool:
    """Expires the day after its last day, never on it."""
    return today > ends_on


# --- the fields of a new agreement ---------------------------------------------------------

PERIOD_FIELDS = ("starts_on", "ends_on")
# A provider's payee account: `account_source` is "register" (the organisation register's
# account, confirmed: `confirmed_account` is the number as the form showed it — masked to its
# last four digits, the register's full number being for admins — and the confirmation holds
# while the register shows the same), "entered" (the three bank fields), or — amendments
# only — "keep" (the current version's account).
ACCOUNT_FIELDS = ("account_source", "confirmed_account", "bank_name", "bank_account_name",
                  "bank_account")
ACCOUNT_SOURCES = ("register", "entered")
CAREGIVER_FIELDS = ("beneficiary", "caregiver_name", "caregiver_resident_id", "caregiver_phone",
                    "relationship", "bank_name", "bank_account", "trained_on",
                    "family_subsidy_fen")
FIELDS: dict[AgreementKind, tuple[str, ...]] = {
    AgreementKind.assessment: ("organisation", *PERIOD_FIELDS),
    AgreementKind.provider: ("organisation", "home_visits", "institutional_beds",
                             "visit_rate_fen", "bed_day_rates", *ACCOUNT_FIELDS,
                             *PERIOD_FIELDS),
    AgreementKind.staff: ("organisation", "staff", "qualification", *PERIOD_FIELDS),
    AgreementKind.caregiver: (*CAREGIVER_FIELDS, *PERIOD_FIELDS),
}
_DATES = ("starts_on", "ends_on", "trained_on")
_IDS = ("organisation", "staff", "beneficiary")
_MONEY = ("visit_rate_fen", "family_subsidy_fen")
_TRUE = frozenset({"true", "on", "1", "yes"})
MONEY_PROBLEM = "请填写金额（元），如 80.00；不填则按政策标准"


def bed_rate_field(grade: int) -> str:
    """The form input (and problem key) of one grade's bed-day rate."""
    return f"bed_day_rate_{grade}"


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    return date.fromisoformat(text) if text else None


def _id(value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    text = str(value).strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise ValueError(text)
    return int(text)


def _fen(value: Any) -> int | None:
    """Fen from an int (the API), or yuan from a form's text; blank: the policy default."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        if value is not None and not 0 <= value <= MAX_FEN:
            raise ValueError(value)
        return value
    text = str(value).strip()
    if not text:
        return None
    fen = parse_yuan(text)
    if fen > MAX_FEN:
        raise ValueError(text)
    return fen


def _beds(value: Any) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    beds = value if isinstance(value, int) and not isinstance(value, bool) else int(
        unicodedata.normalize("NFKC", str(value)).strip())
    if not 0 <= beds <= MAX_BEDS:
        raise ValueError(value)
    return beds


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in _TRUE


_READ_PROBLEMS = {
    "starts_on": "请按 2026-10-01 的格式填写开始日期",
    "effective_from": "请按 2026-10-01 的格式填写变更生效日期",
    "ends_on": "请按 2026-10-01 的格式填写结束日期",
    "trained_on": "请按 2026-10-01 的格式填写培训日期",
    "organisation": "请从列表中选择机构",
    "staff": "请从列表中选择服务人员",
    "beneficiary": "请从列表中选择被照护人",
    "institutional_beds": f"签约床位数应为0到{MAX_BEDS}之间的整数",
}


def read_fields(kind: AgreementKind, raw: Mapping[str, Any]) -> tuple[dict[str, Any],
                                                                         dict[str, str]]:
    """The fields of a new agreement of `kind`, typed: values from the API pass as they are
    (dates, ids, fen), text from a form is read (ISO dates, yuan with up to two decimals).
    Returns (values, problems with what could not be read). A field that is not one of the
    kind's is a programming error (TypeError)."""
    unknown = set(raw) - set(FIELDS[kind])
    if unknown:
        raise TypeError(f"not fields of a {kind} agreement: {sorted(unknown)}")
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name in FIELDS[kind]:
        value = raw.get(name)
        try:
            if name in _DATES:
                values[name] = _date(value)
            elif name in _IDS:
                values[name] = _id(value)
            elif name in _MONEY:
                values[name] = _fen(value)
            elif name == "institutional_beds":
                values[name] = _beds(value)
            elif name == "home_visits":
                values[name] = _flag(value)
            elif name == "bed_day_rates":
                values[name] = _bed_rates(value or {}, problems)
            else:
                values[name] = str(value or "").strip()
        except (ValueError, TypeError):
            values[name] = None
            problems[name] = _READ_PROBLEMS.get(name, MONEY_PROBLEM)
    return values, problems


def _bed_rates(value: Mapping[Any, Any], problems: dict[str, str]) -> dict[int, int]:
    """Grade → fen per bed-day, overriding the policy; blank grades are left to the policy."""
    rates: dict[int, int] = {}
    for key, amount in value.items():
        grade = int(key)
        if grade not in GRADES:
            raise ValueError(key)
        try:
            fen = _fen(amount)
        except (ValueError, TypeError):
            problems[bed_rate_field(grade)] = MONEY_PROBLEM
            continue
        if fen is not None:
            rates[grade] = fen
    return rates


@dataclass(frozen=True)
class Parties:
    """What the service found for the parties named by a new agreement (None: no such one in
    the clerk's region). Rows as dicts:
    organisation {"id", "kind", "active"}; staff {"id", "role", "organisation", "active"};
    beneficiary {"id", "resident_id", "entitled"} (entitled: has a running entitlement);
    register_account {"bank_name", "account_name", "account_no"}: the organisation's account
    in the register (None: it has none); current: the version being amended (None: a new
    agreement)."""

    organisation: Mapping[str, Any] | None = None
    staff: Mapping[str, Any] | None = None
    beneficiary: Mapping[str, Any] | None = None
    register_account: Mapping[str, str] | None = None
    current: Mapping[str, Any] | None = None


ORGANISATION_KIND = {AgreementKind.assessment: "assessment", AgreementKind.provider: "provider",
                     AgreementKind.staff: "provider"}


def _period_problems(values: Mapping[str, Any], today: date, problems: dict[str, str]) -> None:
    starts_on, ends_on = values.get("starts_on"), values.get("ends_on")
    if starts_on is None and "starts_on" not in problems:
        problems["starts_on"] = "请填写协议开始日期"
    if ends_on is None and "ends_on" not in problems:
        problems["ends_on"] = "请填写协议结束日期（协议有效的最后一天）"
    if starts_on is None or ends_on is None:
        return
    if ends_on < starts_on:
        problems["ends_on"] = "结束日期不能早于开始日期"
    elif ends_on < today:
        problems["ends_on"] = "结束日期已过，不能签订已经到期的协议"
    elif ends_on >= add_months(starts_on, 12 * MAX_PERIOD_YEARS):
        problems["ends_on"] = f"协议期限不能超过{MAX_PERIOD_YEARS}年，请核对结束日期的年份"


def _organisation_problems(kind: AgreementKind, parties: Parties,
                           problems: dict[str, str]) -> None:
    wanted = ORGANISATION_KIND[kind]
    label = "评估机构" if wanted == "assessment" else "护理服务机构"
    organisation = parties.organisation
    if organisation is None:
        problems.setdefault("organisation", f"请选择您管辖范围内的{label}")
    elif organisation["kind"] != wanted:
        problems["organisation"] = f"所选机构不是{label}，请重新选择"
    elif not organisation["active"]:
        problems["organisation"] = "所选机构已停用，不能签订新协议"


def _staff_problems(values: Mapping[str, Any], parties: Parties,
                    problems: dict[str, str]) -> None:
    staff, organisation = parties.staff, parties.organisation
    if staff is None:
        problems.setdefault("staff", "请选择服务人员")
    elif staff["role"] != "provider" or not staff["active"]:
        problems["staff"] = "所选人员不是在用的护理机构人员账号，请重新选择"
    elif organisation is not None and staff["organisation"] != organisation["id"]:
        problems["staff"] = "所选人员不属于所选护理服务机构，请先选择其所在机构"
    if values.get("qualification") not in set(Qualification):
        problems["qualification"] = "请选择服务人员的资质：护士或护理员"


def _provider_problems(values: Mapping[str, Any], parties: Parties,
                       problems: dict[str, str]) -> None:
    if not values.get("home_visits") and not values.get("institutional_beds") and (
            "institutional_beds" not in problems):
        problems["scope"] = "请至少选择一项服务范围：勾选上门服务，或填写签约床位数"
    source = values.get("account_source")
    register = parties.register_account
    if source == "keep" and parties.current is not None:
        if not parties.current["bank_account"]:
            problems["account_source"] = NO_ACCOUNT_TO_KEEP
    elif source == "register":
        if register is None:
            problems["account_source"] = ("该机构在机构登记中没有收款账户：请填写本协议的收款账户，"
                                          "或先在机构登记中补录")
        elif mask_account(values.get("confirmed_account") or "") != mask_account(
                register["account_no"]):
            problems["account_source"] = ("机构登记的收款账户已变更，请核对页面上显示的账户后"
                                          "重新确认")
    elif source == "entered":
        _bank_problems(values, problems)
        if problem := _holder_problem(values.get("bank_account_name", "")):
            problems["bank_account_name"] = problem
    else:
        problems["account_source"] = CHOOSE_ACCOUNT


CHOOSE_ACCOUNT = "请选择收款账户：确认使用机构登记的账户，或填写本协议的收款账户"
NO_ACCOUNT_TO_KEEP = "现行协议没有收款账户，无法沿用：" + CHOOSE_ACCOUNT


def _holder_problem(holder: str) -> str | None:
    """The account holder (户名) of an organisation's account: its registered name as the
    bank knows it."""
    if not 2 <= len(holder.strip()) <= 200:
        return "请填写账户户名（与银行开户名称一致），2到200个字"
    return None


def _bank_problems(values: Mapping[str, Any], problems: dict[str, str]) -> None:
    if not 2 <= len(values.get("bank_name", "")) <= 100:
        problems["bank_name"] = "请填写开户银行名称，如 中国农业银行肥城市支行"
    if not account_digits_ok(values.get("bank_account", "")):
        problems["bank_account"] = "银行账号应为10到30位数字，请核对（可以含空格）"


def account_digits_ok(account: str) -> bool:
    digits = re.sub(r"[\s-]", "", account)
    return digits.isascii() and digits.isdigit() and 10 <= len(digits) <= 30


def _caregiver_problems(values: Mapping[str, Any], parties: Parties, today: date,
                        problems: dict[str, str]) -> None:
    beneficiary = parties.beneficiary
    if beneficiary is None:
        problems.setdefault("beneficiary", "请选择被照护的待遇享受人员")
    elif not beneficiary["entitled"]:
        problems["beneficiary"] = "该人员没有有效的长护险待遇资格，不能签订家庭照护协议"
    if problem := name_problem(values.get("caregiver_name", ""), "照护者姓名"):
        problems["caregiver_name"] = problem
    resident_id = values.get("caregiver_resident_id", "")
    if problem := resident_id_problem(resident_id, today):
        problems["caregiver_resident_id"] = problem
    elif beneficiary is not None and normalise_resident_id(resident_id) == beneficiary[
            "resident_id"]:
        problems["caregiver_resident_id"] = "照护者不能是被照护人本人，请填写照护者的身份证号"
    if problem := phone_problem(values.get("caregiver_phone", "")):
        problems["caregiver_phone"] = problem
    if values.get("relationship") not in RELATIONSHIPS:
        problems["relationship"] = "请选择照护者与被照护人的关系"
    _bank_problems(values, problems)
    trained_on = values.get("trained_on")
    if trained_on is None and "trained_on" not in problems:
        problems["trained_on"] = "请填写照护培训日期：家庭照护者须经培训后签约"
    elif trained_on is not None and trained_on > today:
        problems["trained_on"] = "培训日期不能晚于今天，请在培训完成后再签订协议"


def agreement_problems(kind: AgreementKind, values: Mapping[str, Any], parties: Parties,
                       today: date, problems: Mapping[str, str] | None = None,
                       ) -> dict[str, str]:
    """Every problem of a new agreement at once (一次性告知), keyed by form field, in words
    that say what to fix; `problems` are those found while reading the fields."""
    found = dict(problems or {})
    _period_problems(values, today, found)
    if kind in ORGANISATION_KIND:
        _organisation_problems(kind, parties, found)
    if kind is AgreementKind.staff:
        _staff_problems(values, parties, found)
    elif kind is AgreementKind.provider:
        _provider_problems(values, parties, found)
    elif kind is AgreementKind.caregiver:
        _caregiver_problems(values, parties, today, found)
    return found


def normalised(kind: AgreementKind, values: Mapping[str, Any],
               parties: Parties | None = None) -> dict[str, Any]:
    """The validated values as stored: canonical phone and ID, account digits only; rates
    only where they apply; a provider's confirmed register account copied in (or the
    current version's, kept)."""
    stored = dict(values)
    stored.pop("confirmed_account", None)
    if kind is AgreementKind.caregiver:
        stored["caregiver_resident_id"] = normalise_resident_id(values["caregiver_resident_id"])
        stored["caregiver_phone"] = normalise_phone(values["caregiver_phone"])
        stored["caregiver_initials"] = name_initials(values["caregiver_name"])
        stored["bank_account"] = re.sub(r"[\s-]", "", values["bank_account"])
    if kind is AgreementKind.provider:
        if not values["home_visits"]:
            stored["visit_rate_fen"] = None
        if not values["institutional_beds"]:
            stored["bed_day_rates"] = {}
        parties = parties or Parties()
        if values["account_source"] == "keep" and parties.current is not None:
            stored.update({name: parties.current[name] for name in (
                "account_source", "bank_name", "bank_account_name", "bank_account")})
        elif values["account_source"] == "register" and parties.register_account:
            register = parties.register_account
            stored.update(bank_name=register["bank_name"],
                          bank_account_name=register["account_name"],
                          bank_account=register["account_no"])
        else:
            stored["bank_account"] = re.sub(r"[\s-]", "", values["bank_account"])
            stored["bank_account_name"] = values["bank_account_name"].strip()
    return stored


def party_name(agreement: Mapping[str, Any]) -> str:
    """Who the agreement is with, for lists: the organisation, the staff member (at their
    provider) or the caregiver (for the beneficiary). Reads the joined names of a row."""
    kind = AgreementKind(agreement["kind"])
    if kind is AgreementKind.staff:
        staff = agreement.get("staff.display_name") or ""
        return f"{staff}（{agreement.get('organisation.name') or ''}）"
    if kind is AgreementKind.caregiver:
        return f"{agreement['caregiver_name']}（照护 {agreement.get('beneficiary.name') or ''}）"
    return agreement.get("organisation.name") or ""


# --- amendments (补充协议) ---------------------------------------------------------------------

AMENDABLE: dict[AgreementKind, tuple[str, ...]] = {
    AgreementKind.assessment: ("ends_on",),
    AgreementKind.provider: ("home_visits", "institutional_beds", "visit_rate_fen",
                             "bed_day_rates", *ACCOUNT_FIELDS, "ends_on"),
    AgreementKind.staff: ("qualification", "ends_on"),
    AgreementKind.caregiver: ("caregiver_phone", "bank_name", "bank_account",
                              "family_subsidy_fen", "ends_on"),
}
# What an amendment can change, as the supplement and the timeline name it.
CHANGE_LABELS = {
    "home_visits": "居家上门护理服务", "institutional_beds": "签约床位数",
    "visit_rate_fen": "上门服务单价", "bed_day_rates": "床日标准", "bank_name": "开户银行",
    "bank_account_name": "账户户名", "bank_account": "银行账号", "ends_on": "协议结束日期",
    "qualification": "服务人员资质", "caregiver_phone": "照护者联系电话",
    "family_subsidy_fen": "家庭护理补贴",
}


def amendment_fields(kind: AgreementKind, current: Mapping[str, Any],
                     raw: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of the next version, for read_fields: the current version's values, with
    the amendable ones the clerk sent in `raw` in their place (others in `raw`: TypeError).
    A caregiver's blank account number keeps the current one: the form leaves it blank
    rather than show it. The period limit counts from the chain's first day (`versions`,
    oldest first, when `current` names them): amendments do not restart it."""
    unknown = set(raw) - set(AMENDABLE[kind])
    if unknown:
        raise TypeError(f"not amendable in a {kind} agreement: {sorted(unknown)}")
    fields = {name: current.get(name) for name in FIELDS[kind]}
    if current.get("versions"):
        fields["starts_on"] = current["versions"][0]["starts_on"]
    if kind is AgreementKind.provider:
        fields["account_source"] = "keep"
        fields["confirmed_account"] = ""
    fields.update({name: value for name, value in raw.items()
                   if not (kind is AgreementKind.caregiver and name == "bank_account"
                           and not str(value or "").strip())})
    return fields


def changes(kind: AgreementKind, current: Mapping[str, Any],
            stored: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """field → (before, after) for every amendable value the next version changes."""
    found = {}
    for name in AMENDABLE[kind]:
        if name in ("account_source", "confirmed_account"):
            continue
        before, after = current.get(name), stored.get(name)
        if name == "bed_day_rates":
            before, after = dict(before or {}), dict(after or {})
        if before != after:
            found[name] = (before, after)
    return found


def amendment_problems(current: Mapping[str, Any], effective_from: date | None,
                       values: Mapping[str, Any], changed: Mapping[str, Any], reason: str,
                       problems: dict[str, str]) -> None:
    """What is wrong with amending `current` (the ACTIVE version) from `effective_from` to
    `values` — adds to `problems` (the field problems found by agreement_problems)."""
    starts_on, ends_on = current["starts_on"], current["ends_on"]
    if effective_from is None:
        problems.setdefault("effective_from", "请填写变更生效日期")
    elif effective_from <= starts_on:
        problems["effective_from"] = (
            f"变更生效日期应晚于现行协议的开始日期 {starts_on.isoformat()}"
            "；开始前的内容有误，请终止本协议后重新签订")
    elif effective_from > ends_on:
        problems["effective_from"] = (f"变更生效日期应在现行协议期限内（{starts_on.isoformat()} 至 "
                                      f"{ends_on.isoformat()}）")
    elif values.get("ends_on") is not None and values["ends_on"] < effective_from and (
            "ends_on" not in problems):
        problems["ends_on"] = "结束日期不能早于变更生效日期；提前结束请办理终止"
    if not changed and not problems:
        problems["changes"] = "没有变更任何内容：请修改至少一项（费率、收款账户、结束日期或资质）"
    if not reason.strip():
        problems["reason"] = "请填写变更原因，它会写入补充协议和办理记录"
    elif len(reason.strip()) > 500:
        problems["reason"] = "原因请控制在500字以内"


def amendment_number(root_number: str, amendment_no: int) -> str:
    """XY202612070001 → BC202612070001-1: its own prefix, so the daily sequence of new
    agreements (db.next_daily_number counts numbers by prefix) is not disturbed."""
    return f"BC{root_number.removeprefix(NUMBER_PREFIX)}-{amendment_no}"


def change_text(name: str, value: Any) -> str:
    """One side of a change as the supplement and the page print it: yuan, dates, labels;
    an account number by its last four digits only."""
    if value is None or value == "":
        return "按政策标准" if name.endswith("_fen") else "（无）"
    if name == "bed_day_rates":
        return "、".join(f"{GRADE_LABELS[g]} {plain_yuan(f)}元/床日"
                        for g, f in sorted(value.items())) or "按政策标准"
    if name.endswith("_fen"):
        return f"{plain_yuan(value)}元" + ("/次" if name == "visit_rate_fen" else "/月")
    if isinstance(value, bool):
        return "提供" if value else "不提供"
    if isinstance(value, date):
        return value.isoformat()
    if name == "bank_account":
        return f"尾号 {value[-4:]}"
    if name == "qualification":
        return QUALIFICATION_LABELS.get(value, value)
    if name == "institutional_beds":
        return f"{value} 张"
    return str(value)
