"""Care plans (SPEC §5, issue 5): what a plan may contain, how its parts fit together, and
which version is in force on a day. No I/O.

A plan is one version of an entitlement's care plan, in force from its `starts_on` until the
day before the next confirmed version starts. It contains every required item of the
region's package ("10+X": the policy's `care_required`) and any of its optional ones
(`care_optional`); an item only a nurse may give needs a nurse on the provider's staff.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from ltc.policy.rules import Policy, quota


class PlanState(StrEnum):
    PROPOSED = "PROPOSED"  # by the provider, waiting for a clerk
    ACTIVE = "ACTIVE"  # confirmed: the entitlement's latest plan
    SUPERSEDED = "SUPERSEDED"  # a later version was confirmed; in force until it starts
    REJECTED = "REJECTED"  # returned by a clerk with a reason; never in force

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    PlanState.PROPOSED: "待确认",
    PlanState.ACTIVE: "执行中",
    PlanState.SUPERSEDED: "已被新版本替代",
    PlanState.REJECTED: "已退回",
}
# Confirmed versions: each is in force from its starts_on until the next one starts.
CONFIRMED = frozenset({PlanState.ACTIVE, PlanState.SUPERSEDED})


class CareForm(StrEnum):
    home = "home"  # 居家护理: the family caregiver's subsidy and/or a provider's home visits
    institution = "institution"  # 机构护理: at a contracted institution, paid per bed-day

    @property
    def label(self) -> str:
        return CARE_FORM_LABELS[self]


CARE_FORM_LABELS = {CareForm.home: "居家护理", CareForm.institution: "机构护理"}
CATEGORY_LABELS = {"basic_life": "基本生活照料", "clinical": "常用临床护理"}


@dataclass(frozen=True)
class PlanConfirmed:
    """The `data` of a careplan.confirmed decision event (ltc.decision_events): version
    `plan_no` of an entitlement's care plan, confirmed by a clerk (or made by one), in force
    from `starts_on` until the next version starts; `supersedes_plan_no` is the version it
    replaces (None for the first). `items` are care catalogue (code, name) pairs; provider
    and caregiver are None where the plan has none."""

    plan_id: int
    plan_no: int
    entitlement_id: int
    care_form: str
    items: tuple[tuple[str, str], ...]
    visits_per_month: int
    starts_on: date
    provider: tuple[str, str] | None = None  # (organisation code, name)
    family_caregiver: tuple[str, str] | None = None  # (agreement number, caregiver's name)
    supersedes_plan_no: int | None = None

    def as_data(self) -> dict[str, object]:
        return {
            "plan_id": self.plan_id, "plan_no": self.plan_no,
            "entitlement_id": self.entitlement_id, "care_form": self.care_form,
            "care_form_label": CareForm(self.care_form).label,
            "items": [{"code": code, "name": name} for code, name in self.items],
            "visits_per_month": self.visits_per_month,
            "starts_on": self.starts_on.isoformat(),
            "provider": {"code": self.provider[0], "name": self.provider[1]}
            if self.provider else None,
            "family_caregiver": {"agreement_number": self.family_caregiver[0],
                                 "name": self.family_caregiver[1]}
            if self.family_caregiver else None,
            "supersedes_plan_no": self.supersedes_plan_no,
        }


@dataclass(frozen=True)
class CatalogueItem:
    """What the rules need of a care catalogue item."""

    code: str
    name_zh: str
    nurse_only: bool


def item_label(code: str, catalogue: Mapping[str, CatalogueItem]) -> str:
    """"口腔清洁（B08）", or the bare code when the catalogue does not know it."""
    item = catalogue.get(code)
    return f"{item.name_zh}（{code}）" if item else code


def plan_problems(
    items: Iterable[str],
    required: Sequence[str],
    optional: Sequence[str],
    catalogue: Mapping[str, CatalogueItem],
    has_nurse: bool,
) -> dict[str, str]:
    """Every problem with a plan's items, at once, each under "items.<code>" (the name of
    the item's checkbox): a required item missing, an item outside the package (or not in
    the catalogue at all), a nurse-only item without a nurse on the provider's staff.
    An empty dict: the items are fine."""
    chosen = set(items)
    package = set(required) | set(optional)
    problems: dict[str, str] = {}
    for code in required:
        if code not in chosen:
            problems[f"items.{code}"] = (f"{item_label(code, catalogue)}是必选项目，"
                                         "每份护理计划都必须包含，请勾选")
    for code in sorted(chosen):
        field = f"items.{code}"
        if code not in catalogue:
            problems[field] = f"{code} 不是护理项目目录中的项目编号，请删去"
        elif code not in package:
            problems[field] = (f"{item_label(code, catalogue)}不在本地区的护理服务包内"
                               "（必选或可选项目），请删去")
        elif catalogue[code].nurse_only and not has_nurse:
            problems[field] = (f"{item_label(code, catalogue)}须由护士提供，该机构在计划开始日"
                               "没有在协议期内的护士，请删去此项或先为机构签订护士的服务人员协议")
    return problems


def arrangement_problems(care_form: str, has_provider: bool,
                         has_caregiver: bool) -> dict[str, str]:
    """Who delivers the care: home care by a provider's visits and/or a family caregiver;
    institutional care at a provider (a family caregiver's subsidy does not go with it)."""
    problems: dict[str, str] = {}
    if care_form not in tuple(CareForm):
        problems["care_form"] = "请选择护理形式：居家护理或机构护理"
    elif care_form == CareForm.institution:
        if not has_provider:
            problems["provider"] = "机构护理请选择提供护理的定点机构"
        if has_caregiver:
            problems["family_caregiver"] = "机构护理不享受家庭护理补贴，请不要选择亲属护理协议"
    elif not has_provider and not has_caregiver:
        problems["provider"] = ("居家护理请选择上门服务的护理机构，或选择亲属护理协议"
                                "（也可两者都选）")
    return problems


def visits_per_month(policy: Policy, grade: int) -> int:
    """Paid home visits a month for the grade under the policy (2 / 3 / 4 by default)."""
    return quota(policy, grade)


def plan_visits(policy: Policy, grade: int, care_form: str, has_provider: bool) -> int:
    """The visits a plan schedules: the grade's quota for home care by a provider, none for
    institutional care or home care by the family alone."""
    if care_form == CareForm.home and has_provider:
        return visits_per_month(policy, grade)
    return 0


def ordered_items(items: Iterable[str]) -> list[str]:
    """A plan's items as stored: distinct, in code order."""
    return sorted(set(items))


def _confirmed(plans: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted((p for p in plans if p["state"] in CONFIRMED),
                  key=lambda p: (p["starts_on"], p["plan_no"]))


def plan_in_force(plans: Iterable[Mapping[str, Any]], day: date) -> Mapping[str, Any] | None:
    """The version in force on `day`: of the ACTIVE and SUPERSEDED versions, the one with the
    latest starts_on on or before `day` (None before the first one starts). Each plan is a
    mapping with at least state, starts_on and plan_no."""
    in_force = None
    for plan in _confirmed(plans):
        if plan["starts_on"] <= day:
            in_force = plan
    return in_force


def ends_on(plans: Iterable[Mapping[str, Any]], plan: Mapping[str, Any]) -> date | None:
    """The last day a confirmed version is in force: the day before the next confirmed
    version starts (None: open-ended, or not a confirmed version)."""
    if plan["state"] not in CONFIRMED:
        return None
    later = [p["starts_on"] for p in _confirmed(plans) if p["starts_on"] > plan["starts_on"]]
    return min(later) - timedelta(days=1) if later else None


def start_problem(starts_on: date, entitlement_starts_on: date, entitlement_last_day: date,
                  current_starts_on: date | None) -> str | None:
    """A new version starts inside the entitlement and after the current version starts."""
    if starts_on < entitlement_starts_on:
        return f"开始日期不能早于待遇开始日期 {entitlement_starts_on.isoformat()}"
    if starts_on > entitlement_last_day:
        return f"开始日期不能晚于待遇的最后享受日 {entitlement_last_day.isoformat()}"
    if current_starts_on is not None and starts_on <= current_starts_on:
        return (f"新版本的开始日期必须晚于现行护理计划的开始日期 "
                f"{current_starts_on.isoformat()}（变更从新的日期起生效，原计划保留）")
    return None


# --- the household confirmation PIN (家庭确认码) -------------------------------------------

PIN_DIGITS = 6
# scrypt's cost: about 16 MB and a few tens of milliseconds per check. A 6-digit PIN cannot
# resist an offline search whatever the cost; the hash keeps it out of sight in the
# database and backups, and the per-day attempt limit (ltc.visits) guards the online door.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def new_pin() -> str:
    """A uniformly random PIN, leading zeros kept."""
    return f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"


def hash_pin(pin: str) -> str:
    """`scrypt$salt$hash`, the salt random per issue."""
    salt = secrets.token_hex(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt.encode(), **_SCRYPT)
    return f"scrypt${salt}${digest.hex()}"


def check_pin(pin: str, encoded: str) -> bool:
    try:
        algorithm, salt, expected = encoded.split("$")
    except ValueError:
        return False
    if algorithm != "scrypt":
        return False
    digest = hashlib.scrypt(pin.encode(), salt=salt.encode(), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), expected)


# --- the family's link on the letter (ltc.desk.family) ---------------------------------------

# How long the QR code's link on a care-plan letter signs the family in: a year from the day
# the letter is printed. A plan runs while its entitlement does (24 months), so a family may
# need a new letter once (a clerk re-issues it; the old link and PIN stop at once).
FAMILY_LINK_DAYS = 365


@dataclass(frozen=True)
class FamilyLetter:
    """The letter a family link names: whose it is, and the hash of the PIN printed on it."""

    letter_id: int
    person_id: int
    pin_hash: str


def link_key(secret_key: str) -> bytes:
    """The links' own key, derived from the server's secret (LTC_SECRET_KEY)."""
    return hashlib.sha256(b"ltc-family-link\0" + secret_key.encode()).digest()


def _link_mac(key: bytes, letter_id: int, expires: int) -> str:
    message = f"ltc-family-link:{letter_id}:{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def family_link_token(key: bytes, letter_id: int, expires: int) -> str:
    """`letter.expiry.mac`: the letter and the Unix time the link stops working, signed
    with HMAC-SHA256 under the server's secret (128 bits of it kept, to fit a QR code)."""
    return f"{letter_id}.{expires}.{_link_mac(key, letter_id, expires)}"


def read_family_link(key: bytes, token: str, now: int) -> tuple[str, int | None]:
    """(ok | tampered | expired, the letter's id when ok). A token that does not parse or
    whose signature does not match is tampered; a genuine one past its time is expired."""
    parts = token.split(".")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts[:2]) or (
            len(parts[0]) > 12 or len(parts[1]) > 12):
        return "tampered", None
    letter_id, expires = int(parts[0]), int(parts[1])
    if not hmac.compare_digest(parts[2], _link_mac(key, letter_id, expires)):
        return "tampered", None
    if now >= expires:
        return "expired", None
    return "ok", letter_id
