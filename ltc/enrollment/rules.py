"""Pure rules for enrolment data: the bulk CSV's shape and every row's validity, whether a
record means "enrolled on this day", and the HTTP check's answer shape, circuit breaker and
retry backoff. No I/O: the importer and the remote adapter do that."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from ltc.csvimport import RowProblem, read_records
from ltc.people.rules import InvalidResidentId, name_problem, parse_resident_id

COLUMNS = ("resident_id", "insurance_number", "name", "scheme", "region_code", "status",
           "start_date", "end_date")
COLUMN_LABELS = {
    "resident_id": "身份证号码",
    "insurance_number": "医保个人编号",
    "name": "姓名",
    "scheme": "险种",
    "region_code": "参保地区编码",
    "status": "参保状态",
    "start_date": "参保开始日期",
    "end_date": "参保终止日期",
}
SCHEMES = {"resident": "城乡居民基本医疗保险", "employee": "职工基本医疗保险"}
STATUSES = {"enrolled": "参保中", "ended": "已终止"}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REGION_CODE = re.compile(r"^\d{6}(\d{3}){0,2}$")
INSURANCE_NUMBER = re.compile(r"^[0-9A-Za-z\-]{1,40}$")


@dataclass(frozen=True)
class EnrollmentRow:
    line: int
    resident_id: str
    insurance_number: str
    name: str
    scheme: str
    region_code: str
    status: str
    start_date: date
    end_date: date | None

    def values(self) -> dict[str, Any]:
        """The stored fields, to compare with and write to an EnrollmentRecord."""
        return {column: getattr(self, column) for column in COLUMNS}


def _problem(line: int, field: str, message: str) -> RowProblem:
    return RowProblem(line, field, message, COLUMN_LABELS[field])


def _date(value: str, field: str, line: int, problems: list[RowProblem]) -> date | None:
    if not ISO_DATE.match(value):
        problems.append(_problem(line, field, f"日期“{value}”格式不对，应写成 YYYY-MM-DD，"
                                           "例如 2026-01-01"))
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(_problem(line, field, f"日期“{value}”不存在，请核对年月日"))
        return None


def validate_row(
    line: int, values: dict[str, str], today: date
) -> tuple[EnrollmentRow | None, list[RowProblem]]:
    """One data row: the row when valid, and every problem with it otherwise."""
    problems: list[RowProblem] = []
    v = {column: (values.get(column) or "").strip() for column in COLUMNS}

    resident_id = None
    try:
        resident_id = parse_resident_id(v["resident_id"], today).number
    except InvalidResidentId as exc:
        problems.append(_problem(line, "resident_id", str(exc)))
    if not v["insurance_number"]:
        problems.append(_problem(line, "insurance_number", "医保个人编号不能为空"))
    elif not INSURANCE_NUMBER.match(v["insurance_number"]):
        problems.append(_problem(line, "insurance_number",
                                 "医保个人编号只能包含字母、数字和连字符，最长40位"))
    if problem := name_problem(v["name"]):
        problems.append(_problem(line, "name", problem))
    if v["scheme"] not in SCHEMES:
        problems.append(_problem(line, "scheme", f"险种“{v['scheme']}”无效，只能是 " + "、".join(
            f"{code}（{label}）" for code, label in SCHEMES.items())))
    if not REGION_CODE.match(v["region_code"]):
        problems.append(_problem(line, "region_code",
                                 f"参保地区编码“{v['region_code']}”无效，应为6位行政区划代码，"
                                 "例如 370983"))
    if v["status"] not in STATUSES:
        problems.append(_problem(line, "status", f"参保状态“{v['status']}”无效，只能是 "
                                 + "、".join(f"{c}（{label}）" for c, label in STATUSES.items())))
    start = None
    if not v["start_date"]:
        problems.append(_problem(line, "start_date", "参保开始日期不能为空"))
    else:
        start = _date(v["start_date"], "start_date", line, problems)
    end = None
    if v["end_date"]:
        end = _date(v["end_date"], "end_date", line, problems)
    if v["status"] == "ended" and not v["end_date"]:
        problems.append(_problem(line, "end_date",
                                 "参保状态为 ended（已终止）时必须填写参保终止日期"))
    elif v["status"] == "enrolled" and v["end_date"]:
        problems.append(_problem(line, "end_date",
                                 "参保状态为 enrolled（参保中）时参保终止日期应留空"))
    if start and end and end < start:
        problems.append(_problem(line, "end_date",
                                 f"参保终止日期 {end} 早于参保开始日期 {start}"))
    if problems:
        return None, problems
    assert resident_id is not None and start is not None
    return EnrollmentRow(line=line, resident_id=resident_id,
                         insurance_number=v["insurance_number"], name=v["name"],
                         scheme=v["scheme"], region_code=v["region_code"], status=v["status"],
                         start_date=start, end_date=end), []


def parse_csv(data: bytes, today: date) -> tuple[list[EnrollmentRow], list[RowProblem]]:
    """Every valid row and every problem in the file: its shape (columns other than COLUMNS,
    which the bureau's export may carry, are ignored), each row's fields, and a resident ID
    that appears twice; in the order of the lines."""
    records, problems = read_records(data, COLUMNS, other_columns=True)
    rows: list[EnrollmentRow] = []
    first_line_of: dict[str, int] = {}
    for record in records:
        row, row_problems = validate_row(record.line, record.cells, today)
        problems.extend(row_problems)
        if row is None:
            continue
        if row.resident_id in first_line_of:
            problems.append(_problem(record.line, "resident_id", "身份证号码与第"
                                     f"{first_line_of[row.resident_id]}行重复，每人只能出现一次"))
            continue
        first_line_of[row.resident_id] = record.line
        rows.append(row)
    return rows, sorted(problems, key=lambda p: p.line)


def enrolled_on(record: dict[str, Any] | None, on: date) -> tuple[bool, str | None]:
    """Whether an enrolment record means "enrolled on `on`", and the reason when it does
    not. The end date is the last day enrolled; an ended record still covers the days up to
    its end date (an ending announced ahead of time)."""
    if record is None:
        return False, "未查到该身份证号码的基本医疗保险参保记录，请先到医保经办窗口参保"
    start, end = record["start_date"], record["end_date"]
    if record["status"] == "ended" and end is None:
        return False, "基本医疗保险参保已终止"
    if record["status"] not in STATUSES:
        return False, f"参保状态“{record['status']}”无法识别，请核对参保记录"
    if on < start:
        return False, f"基本医疗保险参保自{start.isoformat()}起生效，{on.isoformat()}尚未参保"
    if end is not None and on > end:
        return False, f"基本医疗保险参保已于{end.isoformat()}终止"
    return True, None


def is_unchanged(existing: dict[str, Any], row: EnrollmentRow) -> bool:
    return all(existing[column] == value for column, value in row.values().items())


# --- the bureau's enrolment system over HTTP (ltc.enrollment.remote) ----------------------

class EnrolmentStatus(StrEnum):
    """An enrolment check's answer. `unknown` (the system could not be asked, or answered
    nonsense) is never read as `not_enrolled`: nobody is refused or unpaid on it."""

    enrolled = "enrolled"
    not_enrolled = "not_enrolled"
    unknown = "unknown"


@dataclass(frozen=True)
class RemoteAnswer:
    enrolled: bool
    scheme: str | None
    insurance_number: str | None
    region_code: str | None
    reason: str | None


# The longest text each field of an answer may carry (our columns' lengths).
ANSWER_FIELDS = {"scheme": 20, "insurance_number": 40, "region_code": 20, "reason": 200}


def parse_answer(body: bytes) -> RemoteAnswer | None:
    """The bureau's JSON answer (README "Enrolment check over HTTP"), or None when it is not
    one: not JSON, not an object, `enrolled` not a boolean, a field of the wrong type or too
    long. None is a failure of the system, never an answer about the person."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("enrolled"), bool):
        return None
    fields: dict[str, str | None] = {}
    for name, longest in ANSWER_FIELDS.items():
        value = data.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > longest):
            return None
        fields[name] = value or None
    return RemoteAnswer(enrolled=data["enrolled"], **fields)


class Circuit(StrEnum):
    closed = "closed"  # calls go through
    open = "open"  # calls are not made; every check answers unknown at once
    half_open = "half_open"  # the cool-down is over: one probe call is out

    @property
    def label(self) -> str:
        return {"closed": "正常", "open": "已熔断", "half_open": "试探恢复中"}[self.value]


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5  # consecutive failed checks that open the circuit
    cool_down: timedelta = timedelta(seconds=30)  # open this long before one probe


@dataclass(frozen=True)
class Breaker:
    circuit: Circuit = Circuit.closed
    failures: int = 0  # consecutive failed checks
    opened_at: datetime | None = None


def admit(breaker: Breaker, now: datetime, policy: BreakerPolicy) -> tuple[bool, Breaker]:
    """May a call go out now, and the breaker after the decision. Open: refused until the
    cool-down is over, then the one caller let through is the half-open probe; while the
    probe is out, everybody else is refused."""
    if breaker.circuit == Circuit.closed:
        return True, breaker
    if breaker.circuit == Circuit.open and breaker.opened_at is not None \
            and now >= breaker.opened_at + policy.cool_down:
        return True, replace(breaker, circuit=Circuit.half_open)
    return False, breaker


def succeeded(breaker: Breaker) -> Breaker:
    """A call answered: closed, the failure count starts again."""
    return Breaker()


def failed(breaker: Breaker, now: datetime, policy: BreakerPolicy) -> Breaker:
    """A call failed (after its retries). The failed probe opens the circuit again for a
    whole cool-down; the threshold's failure opens a closed one; a failure of a call let
    through before the circuit opened leaves the open circuit's clock alone."""
    failures = breaker.failures + 1
    if breaker.circuit == Circuit.half_open or (
            breaker.circuit == Circuit.closed and failures >= policy.failure_threshold):
        return Breaker(Circuit.open, failures, now)
    return replace(breaker, failures=failures)


def retry_delay(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Seconds to wait before retry `attempt` (0 for the first retry): exponential from
    `base`, at most `cap`, then "equal jitter" — half fixed, half scaled by `jitter` in
    [0, 1) — so processes that failed together do not retry together."""
    full = min(cap, base * 2 ** attempt)
    return full / 2 + full / 2 * jitter
