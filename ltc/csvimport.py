"""Reading an imported CSV file the way every import does (enrolment, staff, organisations,
places): UTF-8 with or without a BOM (Excel's "CSV UTF-8"), a header naming the columns, one
record per row; every problem carries its line number so the operator can fix the file in one
go. What a row means is the importing context's rule. Pure, no I/O."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ltc.errors import InvalidInput
from ltc.text import refused

MAX_LISTED = 20  # problems named in the error message; the full list is on `problems`
REFUSED_CELL = "含有不允许的字符（如空字符），请删除后重新导入"


@dataclass(frozen=True)
class RowProblem:
    line: int  # 1 is the header row; 0 is the file as a whole
    field: str  # the column, or "" for the whole row or file
    message: str
    label: str = ""  # the column's Chinese name

    def __str__(self) -> str:
        where = f"第{self.line}行" if self.line else "文件"
        column = f" {self.field}（{self.label or self.field}）" if self.field else ""
        return f"{where}{column}：{self.message}"


class BadRows(InvalidInput):
    """The file has bad rows; `problems` lists every one. Nothing was imported (`what`: of
    what the file holds, e.g. 人员)."""

    def __init__(self, code: str, problems: list[RowProblem], *, what: str = "记录") -> None:
        self.problems = problems
        lines = sorted({p.line for p in problems})
        super().__init__(
            code,
            f"文件中有{len(problems)}处错误（涉及{len(lines)}行），未导入任何{what}；"
            "请按提示逐行修改后重新导入",
            {"file": "；".join(str(p) for p in problems[:MAX_LISTED])
             + ("……" if len(problems) > MAX_LISTED else "")},
        )


@dataclass(frozen=True)
class ImportReport:
    """What an import of records keyed by a code did (or, in a dry run, would do)."""

    filename: str
    sha256: str
    rows: int
    new: int
    updated: int
    dry_run: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Record:
    line: int
    cells: dict[str, str]  # column → the stripped cell


def read_records(data: bytes, columns: Sequence[str], optional: Sequence[str] = (), *,
                 other_columns: bool = False) -> tuple[list[Record], list[RowProblem]]:
    """The file's records and every problem of its shape: encoding, header (every column of
    `columns` but those in `optional`, none twice; a column not in `columns` is refused, or
    ignored with `other_columns`, as in files exported by another system), rows with the
    wrong number of cells, a cell holding a character no database stores (ltc.text: NUL; such
    a row is left out of the records, so no rule or query ever sees it), no data row at all.
    Blank rows are skipped."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return [], [RowProblem(line, "", "文件不是UTF-8编码。用Excel保存时请选择"
                               "“CSV UTF-8（逗号分隔）”格式，然后重新导入")]
    reader = csv.reader(io.StringIO(text, newline=""))
    first = ",".join(columns)
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except StopIteration:
        return [], [RowProblem(0, "", "文件是空的，第一行应为表头：" + first)]
    except csv.Error as exc:
        return [], [RowProblem(1, "", f"表头无法解析（{exc}）")]
    if any(refused(cell) for cell in header):
        return [], [RowProblem(1, "", "表头" + REFUSED_CELL)]
    missing = [c for c in columns if c not in header and c not in optional]
    if missing:
        return [], [RowProblem(1, "", "表头缺少列：" + ",".join(missing) + "。第一行应为："
                               + first)]
    unknown = [] if other_columns else [c for c in header if c not in columns]
    if unknown:
        return [], [RowProblem(1, "", "表头有无法识别的列：" + ",".join(unknown)
                               + "。第一行应为：" + first)]
    duplicated = sorted({c for c in header if c and header.count(c) > 1})
    if duplicated:
        return [], [RowProblem(1, "", "表头有重复的列：" + ",".join(duplicated))]
    records: list[Record] = []
    problems: list[RowProblem] = []
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
        values = {c: "" for c in columns}
        values.update({c: v.strip() for c, v in zip(header, cells, strict=True)
                       if c in values})
        bad = [RowProblem(line, c, REFUSED_CELL) for c, v in values.items() if refused(v)]
        if bad:
            problems.extend(bad)
            continue
        records.append(Record(line, values))
    if not records and not problems:
        problems.append(RowProblem(0, "", "文件中没有数据行"))
    return records, problems


def problems_of(line: int, fields: Mapping[str, str],
                labels: Mapping[str, str]) -> list[RowProblem]:
    """A row's field problems (as a form reports them) as row problems."""
    return [RowProblem(line, field, message, labels.get(field, ""))
            for field, message in fields.items()]
