"""Pure rules for enrolment data: the bulk CSV's shape and every row's validity, and whether a
record means "enrolled on this day". No I/O: the importer reads the file and the database."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

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
class RowProblem:
    line: int  # 1 is the header row; 0 is the file as a whole
    field: str  # the column, or "" for the whole row or file
    message: str

    def __str__(self) -> str:
        where = f"第{self.line}行" if self.line else "文件"
        column = f" {self.field}（{COLUMN_LABELS.get(self.field, self.field)}）" if (
            self.field) else ""
        return f"{where}{column}：{self.message}"


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


def decode(data: bytes) -> tuple[str | None, list[RowProblem]]:
    """UTF-8 with or without a BOM (Excel's "CSV UTF-8" writes one)."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [RowProblem(line, "", "文件不是UTF-8编码。用Excel保存时请选择"
                                 "“CSV UTF-8（逗号分隔）”格式，然后重新导入")]


def _date(value: str, field: str, line: int, problems: list[RowProblem]) -> date | None:
    if not ISO_DATE.match(value):
        problems.append(RowProblem(line, field, f"日期“{value}”格式不对，应写成 YYYY-MM-DD，"
                                               "例如 2026-01-01"))
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(RowProblem(line, field, f"日期“{value}”不存在，请核对年月日"))
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
        problems.append(RowProblem(line, "resident_id", str(exc)))
    if not v["insurance_number"]:
        problems.append(RowProblem(line, "insurance_number", "医保个人编号不能为空"))
    elif not INSURANCE_NUMBER.match(v["insurance_number"]):
        problems.append(RowProblem(line, "insurance_number",
                                   "医保个人编号只能包含字母、数字和连字符，最长40位"))
    if problem := name_problem(v["name"]):
        problems.append(RowProblem(line, "name", problem))
    if v["scheme"] not in SCHEMES:
        problems.append(RowProblem(line, "scheme", f"险种“{v['scheme']}”无效，只能是 " + "、".join(
            f"{code}（{label}）" for code, label in SCHEMES.items())))
    if not REGION_CODE.match(v["region_code"]):
        problems.append(RowProblem(line, "region_code",
                                   f"参保地区编码“{v['region_code']}”无效，应为6位行政区划代码，"
                                   "例如 370983"))
    if v["status"] not in STATUSES:
        problems.append(RowProblem(line, "status", f"参保状态“{v['status']}”无效，只能是 "
                                   + "、".join(f"{c}（{label}）" for c, label in STATUSES.items())))
    start = None
    if not v["start_date"]:
        problems.append(RowProblem(line, "start_date", "参保开始日期不能为空"))
    else:
        start = _date(v["start_date"], "start_date", line, problems)
    end = None
    if v["end_date"]:
        end = _date(v["end_date"], "end_date", line, problems)
    if v["status"] == "ended" and not v["end_date"]:
        problems.append(RowProblem(line, "end_date",
                                   "参保状态为 ended（已终止）时必须填写参保终止日期"))
    elif v["status"] == "enrolled" and v["end_date"]:
        problems.append(RowProblem(line, "end_date",
                                   "参保状态为 enrolled（参保中）时参保终止日期应留空"))
    if start and end and end < start:
        problems.append(RowProblem(line, "end_date",
                                   f"参保终止日期 {end} 早于参保开始日期 {start}"))
    if problems:
        return None, problems
    assert resident_id is not None and start is not None
    return EnrollmentRow(line=line, resident_id=resident_id,
                         insurance_number=v["insurance_number"], name=v["name"],
                         scheme=v["scheme"], region_code=v["region_code"], status=v["status"],
                         start_date=start, end_date=end), []


def parse_csv(text: str, today: date) -> tuple[list[EnrollmentRow], list[RowProblem]]:
    """Every valid row and every problem in the file: the header, each row's fields, rows
    with the wrong number of cells, and a resident ID that appears twice."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [RowProblem(0, "", "文件是空的，第一行应为表头：" + ",".join(COLUMNS))]
    except csv.Error as exc:
        return [], [RowProblem(1, "", f"表头无法解析（{exc}）")]
    header = [cell.strip().lower() for cell in header]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        return [], [RowProblem(1, "", "表头缺少列：" + ",".join(missing)
                               + "。第一行应为：" + ",".join(COLUMNS))]
    duplicated = sorted({column for column in header if column and header.count(column) > 1})
    if duplicated:
        return [], [RowProblem(1, "", "表头有重复的列：" + ",".join(duplicated))]

    rows: list[EnrollmentRow] = []
    problems: list[RowProblem] = []
    first_line_of: dict[str, int] = {}
    last_line = 1
    while True:
        line = last_line + 1  # a quoted cell may span lines: a record starts after the last
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(RowProblem(line, "", f"这一行无法解析（{exc}），请检查引号"))
            break
        last_line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank lines, common at the end of exported files
        if len(cells) != len(header):
            problems.append(RowProblem(line, "", f"这一行有{len(cells)}列，表头有{len(header)}"
                                       "列；请检查是否多了或少了逗号"))
            continue
        row, row_problems = validate_row(line, dict(zip(header, cells, strict=True)), today)
        problems.extend(row_problems)
        if row is None:
            continue
        if row.resident_id in first_line_of:
            problems.append(RowProblem(line, "resident_id", "身份证号码与第"
                                       f"{first_line_of[row.resident_id]}行重复，每人只能出现一次"))
            continue
        first_line_of[row.resident_id] = line
        rows.append(row)
    if not rows and not problems:
        problems.append(RowProblem(0, "", "文件中没有数据行"))
    return rows, problems


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
