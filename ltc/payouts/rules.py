"""Monthly payouts (SPEC §7): batch states, the price of a line, explanations, the bank
files. No I/O.

The computation itself runs in the database (ltc.payouts.computation, set-based SQL on both
engines); the functions here are the same rules for one beneficiary, in plain Python, so the
table-driven tests can hold the SQL to them row by row:

- active days: entitlements.rules.is_active_day (in force, not suspended, hospital stays
  suspend from admission through the day before discharge);
- family subsidy: monthly amount × (active days the caregiver agreement also covers) ÷ days
  in the month, rounded half up once;
- home visits: accepted visits of the month on active days under a provider agreement; the
  first quota(grade) by start time are paid at the per-visit rate, the rest listed unpaid;
- institutional care: bed-days (admission day counts, discharge day does not) on active
  days × the grade's bed-day rate;
- provider and institution lines withhold the quality deposit, rounded half up once.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from ltc import clock
from ltc.money import plain_yuan


class BatchState(StrEnum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"
    EXPORTED = "EXPORTED"
    RECONCILED = "RECONCILED"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    BatchState.DRAFT: "草稿",
    BatchState.SUBMITTED: "待审批",
    BatchState.APPROVED: "已审批",
    BatchState.EXPORTED: "已导出",
    BatchState.RECONCILED: "已对账",
}
# Lines of these batches are final: paid or being paid. Adjustments compare against them.
FINAL = (BatchState.APPROVED, BatchState.EXPORTED, BatchState.RECONCILED)


class Benefit(StrEnum):
    family_subsidy = "family_subsidy"
    home_visit = "home_visit"
    institutional = "institutional"

    @property
    def label(self) -> str:
        return BENEFIT_LABELS[self]


BENEFIT_LABELS = {
    Benefit.family_subsidy: "家庭护理补贴",
    Benefit.home_visit: "上门护理服务费",
    Benefit.institutional: "机构护理费",
}


class LineKind(StrEnum):
    regular = "regular"
    adjustment = "adjustment"
    carry_forward = "carry_forward"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    LineKind.regular: "本月",
    LineKind.adjustment: "调整",
    LineKind.carry_forward: "上期支付失败结转",
}


class SandboxChange(StrEnum):
    """How a person's month differs in a policy sandbox replay (ltc.payouts.sandbox), checked
    in this order: lines only in the replay, only in the real batch, another grade, money.
    `eligible`: no entitlement in the month, so no line on either side, but a grade the
    draft would grant benefits for (another ruleset's, or a grade the draft makes eligible):
    a cost the replay cannot put a figure on, since the benefit is the family's choice."""

    gained = "gained"
    lost = "lost"
    grade = "grade"
    amount = "amount"
    eligible = "eligible"

    @property
    def label(self) -> str:
        return SANDBOX_CHANGE_LABELS[self]


SANDBOX_CHANGE_LABELS = {
    SandboxChange.gained: "新增享受待遇",
    SandboxChange.lost: "不再享受待遇",
    SandboxChange.grade: "等级变化",
    SandboxChange.amount: "金额变化",
    SandboxChange.eligible: "新符合条件（尚无待遇，费用未计入）",
}

# Why a home visit of the month is not paid, in the order they are checked.
EXCLUSIONS = {
    "flagged": "待审核（审核通过后在以后月份补发）",
    "rejected": "审核不通过",
    "inactive_day": "当日待遇未生效或已暂停、终止",
    "no_provider_agreement": "当日服务机构无有效协议",
    "over_quota": "超出当月上门次数标准",
}
ACCEPTED_REVIEWS = ("accepted", "accepted_after_review")

# Adjustments look back this many months: older facts are for an inspection, not a payout.
ADJUSTMENT_MONTHS = 12
ANOMALY_RATIO = 0.30  # payees up or down more than 30 % month on month
NO_ACCOUNT = "未登记银行账户：请办理协议变更补录收款账户，下月自动补发"
PAYMENT_STATUSES = {"pending": "待银行回单", "paid": "已支付", "failed": "支付失败",
                    "offset": "净额为负，在下月冲抵",
                    "unpayable": "未支付：未登记银行账户，下月补发"}
# Payments in the bank file (sent to the bank); the others were never sent and are unpaid.
SENT = ("pending", "paid", "failed")


# --- money ---------------------------------------------------------------------------------

def divide_half_up(numerator: int, denominator: int) -> int:
    """numerator ÷ denominator rounded half up (away from zero for a negative numerator),
    in integers: no float ever touches money."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


def subsidy_fen(monthly_fen: int, days: int, days_in_month: int) -> int:
    return divide_half_up(monthly_fen * days, days_in_month)


def withheld_fen(gross_fen: int, basis_points: int) -> int:
    return divide_half_up(gross_fen * basis_points, 10_000)


# --- one beneficiary's visits ---------------------------------------------------------------

@dataclass(frozen=True)
class VisitFacts:
    """A home visit as the payout sees it: reviewed state, whether the entitlement was active
    that day and whether a provider agreement covered it."""

    visit_id: int
    started_key: Any  # orders visits by start time (datetime, then id)
    review: str
    active_day: bool
    provider_agreement: bool


def classify_visits(visits: Iterable[VisitFacts], quota: int) -> dict[int, str]:
    """visit id → "" (paid) or the EXCLUSIONS code. The quota is per beneficiary and month;
    only visits that pass every other check use it up, earliest start first."""
    result: dict[int, str] = {}
    paid = 0
    for visit in sorted(visits, key=lambda v: (v.started_key, v.visit_id)):
        if visit.review not in ACCEPTED_REVIEWS:
            reason = visit.review if visit.review in EXCLUSIONS else "flagged"
        elif not visit.active_day:
            reason = "inactive_day"
        elif not visit.provider_agreement:
            reason = "no_provider_agreement"
        elif paid >= quota:
            reason = "over_quota"
        else:
            reason = ""
            paid += 1
        result[visit.visit_id] = reason
    return result


def treatments(text: str) -> list[tuple[int, str]]:
    """A line's `visit_treatments` as (visit id, reason) pairs; reason "" = paid."""
    pairs = []
    for item in filter(None, text.split(",")):
        visit, _, reason = item.partition(":")
        pairs.append((int(visit), reason))
    return pairs


# --- explanations ---------------------------------------------------------------------------

def explain(line: Mapping[str, Any], basis_points: int) -> list[str]:
    """The sentences the bureau and the payee's statement show for a line, from its stored
    facts. `basis_points`: the deposit rate of the line's policy version."""
    benefit = Benefit(line["benefit"])
    kind = LineKind(line["kind"])
    month = clock.month_label(line["service_month"])
    sentences: list[str] = []
    if kind is LineKind.carry_forward:
        sentences.append(f"{month}{benefit.label}上期支付失败，本期重新支付{plain_yuan(line['net_fen'])}元。")
        return sentences
    # A rate of 0: the month was priced by agreements with different rates, segment by
    # segment (computation._one_rate).
    rate = line["rate_fen"]
    if benefit is Benefit.family_subsidy:
        per_month = f"{plain_yuan(rate)}元/月" if rate else "各段协议的月标准"
        sentences.append(
            f"{month}共{line['days_in_month']}天，待遇有效且家庭照护协议覆盖{line['days']}天"
            f"（住院、暂停和入住护理机构的日子不计）；"
            f"{per_month} × {line['days']} ÷ {line['days_in_month']}（四舍五入到分）。")
    elif benefit is Benefit.home_visit:
        per_visit = f"{plain_yuan(rate)}元/次" if rate else "各次当日协议单价"
        unpaid = (f"；不计费{line['visits_excluded']}次（原因见逐次明细）"
                  if line["visits_excluded"] else "")
        sentences.append(f"{month}计费上门{line['visits_counted']}次 × {per_visit}{unpaid}。")
    else:
        per_day = f"{plain_yuan(rate)}元/床日" if rate else "各段协议的床日标准"
        sentences.append(
            f"{month}待遇有效的床日{line['days']}天（入院当天计，出院当天不计）× "
            f"{per_day}（{line['grade']}级）。")
    if line["withheld_fen"]:
        sentences.append(
            f"按{basis_points / 100:g}%预留质量保证金{plain_yuan(line['withheld_fen'])}元，"
            f"实付{plain_yuan(line['net_fen'])}元。")
    if kind is LineKind.adjustment:
        before = (f"原按{line['previous_days']}天" if benefit is not Benefit.home_visit
                  else f"原按{line['previous_visits']}次")
        sentences.append(
            f"调整：{month}已付（应付）{plain_yuan(line['previous_gross_fen'])}元，{before}计算；"
            f"按现有事实重新核算应为"
            f"{plain_yuan(line['previous_gross_fen'] + line['gross_fen'])}元，"
            f"本期{'补发' if line['gross_fen'] > 0 else '扣回'}"
            f"{plain_yuan(abs(line['gross_fen']))}元。")
    return sentences


# --- the provider's declaration (申报, 22号) -------------------------------------------------
#
# Before a draft is submitted each provider reads its own lines and declares them (confirms
# they are true and complete) or disputes single lines with a reason; the clerk's first
# review (初审) settles each dispute. A declaration names the exact lines it confirmed by
# their fingerprint: a recomputation that changes them voids it.
#
# Submission requires every dispute settled. A provider that has not declared does not hold
# the batch back (a provider's silence must not stop everyone's money): the clerk may
# submit, and the providers undeclared at that moment are recorded with the submission and
# listed for the reviewer on the batch page.

class DisputeState(StrEnum):
    open = "open"
    upheld = "upheld"
    rejected = "rejected"

    @property
    def label(self) -> str:
        return DISPUTE_LABELS[self]


DISPUTE_LABELS = {DisputeState.open: "待初审", DisputeState.upheld: "异议成立",
                  DisputeState.rejected: "异议不成立"}
# What an upheld dispute does to its line.
OUTCOMES = {"recompute": "已更正原因并重新计算该明细",
            "exclude": "本期不予结算该明细（下期按届时核实的事实调整结算）"}
VOID_CHANGED = "结算明细已重新计算并发生变化，请核对后重新申报"
VOID_DISPUTED = "贵机构对明细提出了异议，异议初审后请重新申报"
DISPUTE_REASON_MAX = 500


def line_identity(line: Mapping[str, Any]) -> tuple[int, str, str, str]:
    """What a line is for, stable across recomputations (its id is not): beneficiary,
    benefit, service month and kind within the batch and payee."""
    return (int(line["person"]), str(line["benefit"]), str(line["service_month"]),
            str(line["kind"]))


_FINGERPRINTED = ("gross_fen", "withheld_fen", "net_fen", "days", "visits_counted",
                  "visits_excluded", "visit_treatments", "rate_fen", "grade")


def lines_fingerprint(lines: Iterable[Mapping[str, Any]]) -> str:
    """SHA-256 of a payee's lines as the provider reads them: what each is for and every
    figure of it, whatever their order or ids. A declaration holds while this is equal."""
    rows = sorted((*line_identity(line), *(str(line[k]) for k in _FINGERPRINTED))
                  for line in lines)
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def dispute_problems(reason: str) -> dict[str, str]:
    """The dispute form's problems, all at once (一次性告知)."""
    reason = reason.strip()
    if not reason:
        return {"reason": "请写明异议理由（如：某次上门已审核通过但未计费）"}
    if len(reason) > DISPUTE_REASON_MAX:
        return {"reason": f"异议理由不能超过{DISPUTE_REASON_MAX}字"}
    return {}


def settle_problems(decision: str, outcome: str, answer: str) -> dict[str, str]:
    """The first review's problems, all at once: a decision; for an upheld dispute what
    happens to the line; a reason the provider reads (required when rejected)."""
    problems = {}
    if decision not in (DisputeState.upheld, DisputeState.rejected):
        problems["decision"] = "请选择异议成立或不成立"
    elif decision == DisputeState.upheld and outcome not in OUTCOMES:
        problems["outcome"] = "异议成立时请选择处理方式：重新计算或本期不予结算"
    if decision == DisputeState.rejected and not answer.strip():
        problems["answer"] = "异议不成立时请写明理由，服务机构会看到"
    elif decision == DisputeState.upheld and outcome == "exclude" and not answer.strip():
        problems["answer"] = "不予结算时请写明原因，服务机构会看到"
    if len(answer.strip()) > DISPUTE_REASON_MAX:
        problems["answer"] = f"答复不能超过{DISPUTE_REASON_MAX}字"
    return problems


def open_disputes_message(disputes: Iterable[Mapping[str, Any]]) -> str:
    """Why a batch cannot be submitted: every open dispute named (payee, beneficiary,
    benefit, month), the first twenty."""
    named = [f"{d['payee_name']}：{d['person_name']} {Benefit(d['benefit']).label}"
             f"（{clock.month_label(d['service_month'])}）" for d in disputes]
    return (f"还有{len(named)}条服务机构申报异议未初审，不能提交审批："
            + "；".join(named[:20]) + ("等" if len(named) > 20 else ""))


# --- anomalies ------------------------------------------------------------------------------

def change_ratio(previous_fen: int, current_fen: int) -> float | None:
    """Month-on-month change, or None for a payee new this month."""
    if previous_fen == 0:
        return None
    return (current_fen - previous_fen) / abs(previous_fen)


def is_anomalous(previous_fen: int | None, current_fen: int) -> str:
    """"" or why the approval page shows the payee: new, or up/down more than 30 %."""
    if not previous_fen:
        return "new"
    ratio = change_ratio(previous_fen, current_fen)
    if ratio is not None and ratio > ANOMALY_RATIO:
        return "up"
    if ratio is not None and ratio < -ANOMALY_RATIO:
        return "down"
    return ""


ANOMALY_LABELS = {"new": "新增收款人", "up": "环比增加超过30%", "down": "环比减少超过30%"}


# --- bank files -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PayeeApproved:
    """The `data` of a payout.approved decision event (ltc.decision_events), one per payee
    of an approved batch: its lines and their sums in fen. `net_fen` may be negative (an
    adjustment larger than the month's money is offset in the next batch)."""

    batch_number: str
    month: date  # its first day
    line_count: int
    gross_fen: int
    withheld_fen: int
    net_fen: int

    def as_data(self) -> dict[str, object]:
        return {"batch_number": self.batch_number, "month": f"{self.month:%Y-%m}",
                "line_count": self.line_count, "gross_fen": self.gross_fen,
                "withheld_fen": self.withheld_fen, "net_fen": self.net_fen}


@dataclass(frozen=True)
class PayeePaid:
    """The `data` of a payout.paid decision event: the bank confirmed a payee's transfer;
    `paid_on` is the day its result was reconciled."""

    batch_number: str
    month: date
    payment_reference: str
    amount_fen: int
    paid_on: date

    def as_data(self) -> dict[str, object]:
        return {"batch_number": self.batch_number, "month": f"{self.month:%Y-%m}",
                "payment_reference": self.payment_reference, "amount_fen": self.amount_fen,
                "paid_on": self.paid_on.isoformat()}


def payee_label(payee_key: str) -> str:
    """A payee key fit for pages, file names and audit events: a caregiver's key holds the
    resident ID number, shown here with its middle masked."""
    if payee_key.startswith("cg:") and len(payee_key) > 9:
        number = payee_key[3:]
        return f"cg:{number[:4]}{'*' * (len(number) - 6)}{number[-2:]}"
    return payee_key


def payment_reference(batch_number: str, sequence: int) -> str:
    """Unique for ever: the batch number is unique and never reused, the sequence is the
    payee's position in that batch's one export."""
    return f"{batch_number}-{sequence:06d}"


BANK_HEADER = ("payment_reference", "payee_name", "bank_name", "bank_account", "amount_yuan",
               "purpose")
RESULT_HEADER = ("payment_reference", "status", "reason")
RESULT_STATUSES = {"paid": "paid", "failed": "failed", "成功": "paid", "失败": "failed"}


def bank_file(rows: Iterable[Mapping[str, Any]], purpose: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(BANK_HEADER)
    for row in rows:  # the account holder's name where the agreement gives one (户名)
        writer.writerow((row["reference"], row.get("bank_account_name") or row["payee_name"],
                         row["bank_name"],
                         row["bank_account"], plain_yuan(row["amount_fen"]), purpose))
    return out.getvalue().encode("utf-8")


@dataclass(frozen=True)
class BankResult:
    reference: str
    status: str  # paid | failed
    reason: str


MAX_RESULT_ROWS = 500_000


def parse_bank_result(data: bytes) -> tuple[list[BankResult], list[str]]:
    """The bank's result file: CSV with payment_reference, status (paid/failed or 成功/失败),
    reason. Returns the rows and every problem (in Chinese, with the line number); a file
    with any problem is refused whole."""
    problems: list[str] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], ["文件不是UTF-8编码的CSV，请让银行导出UTF-8格式后重新上传"]
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header[:3]) != RESULT_HEADER:
        return [], ["第1行应为表头 payment_reference,status,reason"]
    rows: list[BankResult] = []
    seen: set[str] = set()
    for number, fields in enumerate(reader, start=2):
        if not any(f.strip() for f in fields):
            continue
        if len(rows) >= MAX_RESULT_ROWS:
            problems.append(f"文件超过{MAX_RESULT_ROWS}行")
            break
        reference = fields[0].strip() if fields else ""
        status = RESULT_STATUSES.get(fields[1].strip().lower() if len(fields) > 1 else "")
        reason = fields[2].strip() if len(fields) > 2 else ""
        if not reference:
            problems.append(f"第{number}行缺少支付流水号")
        elif reference in seen:
            problems.append(f"第{number}行支付流水号 {reference} 重复")
        elif status is None:
            problems.append(f"第{number}行状态应为 paid 或 failed（成功/失败）")
        elif status == "failed" and not reason:
            problems.append(f"第{number}行支付失败须写明原因")
        else:
            seen.add(reference)
            rows.append(BankResult(reference, status, reason[:500]))
    if not rows and not problems:
        problems.append("文件中没有回单记录")
    return rows, problems
