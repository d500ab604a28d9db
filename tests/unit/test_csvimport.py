"""The CSV reader every import shares (ltc.csvimport): encoding, header, rows and their line
numbers, every problem of the file's shape at once, and the error that lists them."""

import csv

import pytest

from ltc.csvimport import MAX_LISTED, BadRows, RowProblem, problems_of, read_records

COLUMNS = ("code", "name", "note")
OPTIONAL = ("note",)
HUGE = b"x" * (csv.field_size_limit() + 1)  # too long a cell is what the csv module refuses


def read(text: str, **options):
    return read_records(text.encode(), COLUMNS, OPTIONAL, **options)


def only_problem(data: bytes, **options) -> RowProblem:
    records, problems = read_records(data, COLUMNS, OPTIONAL, **options)
    assert records == [] and len(problems) == 1
    return problems[0]


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (b"", 0, "文件是空的，第一行应为表头：code,name,note"),
        (b"\n\n", 1, "表头缺少列：code,name。"),
        (b"code,name\n", 0, "文件中没有数据行"),
        (b"code,name\n,\n  , \n", 0, "文件中没有数据行"),
        (b"code\nA1\n", 1, "表头缺少列：name。第一行应为：code,name,note"),
        (b"name,note\nx,y\n", 1, "表头缺少列：code。第一行应为：code,name,note"),
        (b"code,name,colour\nA1,x,red\n", 1,
         "表头有无法识别的列：colour。第一行应为：code,name,note"),
        (b"code,name,name\nA1,x,y\n", 1, "表头有重复的列：name"),
        (b"code," + HUGE + b"\nA1,x\n", 1, "表头无法解析（field larger than field limit"),
        ("code,name\nA1,甲\n".encode() + "B2,乙\n".encode("gbk"), 3, "文件不是UTF-8编码"),
        ("code,name\nA1,甲\n".encode("gbk"), 2, "文件不是UTF-8编码"),
        (b"code,na\x00me\nA1,x\n", 1, "表头含有不允许的字符（如空字符）"),
    ],
)
def test_a_file_whose_shape_is_wrong_gives_one_problem(data, line, message) -> None:
    problem = only_problem(data)
    assert (problem.line, problem.field) == (line, "")
    assert message in problem.message


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("code,name,colour", None),  # an unknown column is ignored
        ("code,name,", None),  # so is a column without a name
        ("code,name,colour,colour", "表头有重复的列：colour"),
        ("code,colour", "表头缺少列：name"),
    ],
)
def test_other_columns_are_ignored_when_allowed(header, problem) -> None:
    records, problems = read(f"{header}\nA1,x,red{',red' * header.count('colour,')}\n",
                             other_columns=True)
    if problem is None:
        assert problems == []
        assert [r.cells for r in records] == [{"code": "A1", "name": "x", "note": ""}]
    else:
        assert records == [] and [p.line for p in problems] == [1]
        assert problem in problems[0].message


def test_rows_carry_their_line_and_stripped_cells() -> None:
    text = ("\ufeffCODE , Name,note\r\n"
            " A1 ,甲, \r\n"
            "\r\n"  # blank lines are skipped but counted
            ',,\r\n'
            'B2,"乙\r\n丙",备注\r\n'  # a quoted cell spanning two lines
            "C3,丁,\r\n")
    records, problems = read(text)
    assert problems == []
    assert [(r.line, r.cells) for r in records] == [
        (2, {"code": "A1", "name": "甲", "note": ""}),
        (5, {"code": "B2", "name": "乙\r\n丙", "note": "备注"}),
        (7, {"code": "C3", "name": "丁", "note": ""}),
    ]


def test_an_optional_column_may_be_left_out() -> None:
    records, problems = read("name,code\n甲,A1\n")
    assert problems == [] and records[0].cells == {"code": "A1", "name": "甲", "note": ""}


def test_every_row_with_the_wrong_number_of_cells_is_reported_with_the_good_rows() -> None:
    records, problems = read("code,name\nA1,甲\nB2\nC3,丙,多,余\nD4,丁\n")
    assert [r.line for r in records] == [2, 5]
    assert [(p.line, p.message) for p in problems] == [
        (3, "这一行有1列，表头有2列；请检查是否多了或少了逗号"),
        (4, "这一行有4列，表头有2列；请检查是否多了或少了逗号"),
    ]


@pytest.mark.parametrize(
    ("row", "fields"),
    [
        ("A\x001,x,y", ["code"]),
        ("A1,\x00,y", ["name"]),
        ("A1,x,\x00", ["note"]),
        ("\x00,\x00,y", ["code", "name"]),
        ('"A1\x00",x,y', ["code"]),
    ],
)
def test_a_cell_with_a_character_no_database_stores_is_reported_and_its_row_left_out(
        row, fields) -> None:
    records, problems = read(f"code,name,note\nB2,乙,\n{row}\nC3,丙,\n")
    assert [r.line for r in records] == [2, 4]
    assert [(p.line, p.field, p.message) for p in problems] == [
        (3, field, "含有不允许的字符（如空字符），请删除后重新导入") for field in fields]


def test_a_refused_character_in_an_ignored_column_does_no_harm() -> None:
    records, problems = read("code,name,colour\nA1,x,\x00\n", other_columns=True)
    assert problems == [] and records[0].cells == {"code": "A1", "name": "x", "note": ""}


def test_a_row_that_cannot_be_parsed_stops_reading_at_its_line() -> None:
    data = b'code,name\nA1,x\nB2,"y\nz"\nC3,' + HUGE + b"\nD4,w\n"
    records, problems = read_records(data, COLUMNS, OPTIONAL)
    assert [r.line for r in records] == [2, 3]
    assert [p.line for p in problems] == [5] and "请检查引号" in problems[0].message


@pytest.mark.parametrize(
    ("problem", "shown"),
    [
        (RowProblem(3, "name", "不能为空", "姓名"), "第3行 name（姓名）：不能为空"),
        (RowProblem(3, "name", "不能为空"), "第3行 name（name）：不能为空"),
        (RowProblem(4, "", "这一行有1列"), "第4行：这一行有1列"),
        (RowProblem(0, "", "文件中没有数据行"), "文件：文件中没有数据行"),
    ],
)
def test_a_problem_names_its_line_and_column(problem, shown) -> None:
    assert str(problem) == shown


def test_a_rows_field_problems_become_labelled_row_problems() -> None:
    assert problems_of(7, {"code": "格式不对", "other": "有误"}, {"code": "编号"}) == [
        RowProblem(7, "code", "格式不对", "编号"), RowProblem(7, "other", "有误", "")]


@pytest.mark.parametrize("count", [1, MAX_LISTED, MAX_LISTED + 1])
def test_bad_rows_counts_the_problems_and_their_lines_and_lists_the_first(count) -> None:
    problems = [RowProblem(2 + i // 2, "code", f"错{i}") for i in range(count)]
    error = BadRows("x_rows_invalid", problems, what="人员")
    assert error.code == "x_rows_invalid" and error.problems == problems
    assert error.message == (f"文件中有{count}处错误（涉及{len({p.line for p in problems})}行），"
                             "未导入任何人员；请按提示逐行修改后重新导入")
    listed = error.fields["file"]
    assert listed.count("第") == min(count, MAX_LISTED)
    assert listed.endswith("……") is (count > MAX_LISTED)
    assert "未导入任何记录" in BadRows("x", problems).message
