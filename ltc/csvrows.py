"""Reading an uploaded CSV (Excel's "CSV UTF-8", with or without its BOM) into rows by column
name, each with the line it starts on, and every problem with the file's shape at once. What
a row means is the importing context's rule; this only says where each row is."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LineProblem:
    line: int  # 1 is the header; 0 the file as a whole
    field: str  # a column, or "" for the whole row or file
    message: str


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]  # stripped cells by column name


def read(data: bytes, required: Sequence[str], optional: Sequence[str] = ()
         ) -> tuple[list[Row], list[LineProblem]]:
    """The data rows (blank lines skipped) and every problem: not UTF-8, an empty file, a
    header missing a required column or repeating one, rows with the wrong number of cells,
    a row that cannot be parsed. Unknown columns are ignored."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [LineProblem(data[:exc.start].count(b"\n") + 1, "",
                                "文件不是UTF-8编码。用Excel保存时请选择“CSV UTF-8（逗号分隔）”"
                                "格式，然后重新导入")]
    reader = csv.reader(io.StringIO(text, newline=""))
    expected = ",".join((*required, *optional))
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except StopIteration:
        return [], [LineProblem(0, "", f"文件是空的，第一行应为表头：{expected}")]
    except csv.Error as exc:
        return [], [LineProblem(1, "", f"表头无法解析（{exc}）")]
    if missing := [c for c in required if c not in header]:
        return [], [LineProblem(1, "", f"表头缺少列：{','.join(missing)}。第一行应为：{expected}")]
    if repeated := sorted({c for c in header if c and header.count(c) > 1}):
        return [], [LineProblem(1, "", f"表头有重复的列：{','.join(repeated)}")]
    rows: list[Row] = []
    problems: list[LineProblem] = []
    end = 1
    while True:
        start = end + 1  # a quoted cell may span lines: a record starts after the last one
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(LineProblem(start, "", f"这一行无法解析（{exc}），请检查引号"))
            break
        end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            problems.append(LineProblem(start, "", f"这一行有{len(cells)}列，表头有"
                                        f"{len(header)}列；请检查是否多了或少了逗号"))
            continue
        rows.append(Row(start, {c: cell.strip() for c, cell in zip(header, cells, strict=True)
                                if c in (*required, *optional)}))
    if not rows and not problems:
        problems.append(LineProblem(0, "", "文件中没有数据行"))
    return rows, problems
