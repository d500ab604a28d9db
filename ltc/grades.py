"""The six disability grades of the national standard (医保办发〔2021〕37号) and their names,
fixed by the standard and spoken of by every context (SPEC §4, §11): 重度失能Ⅱ级, never a bare
number. Which scores lead to which grade is data (ltc.assessments.grading)."""

from __future__ import annotations

from enum import IntEnum

GRADE_LABELS = {
    0: "基本正常",
    1: "轻度失能",
    2: "中度失能",
    3: "重度失能Ⅰ级",
    4: "重度失能Ⅱ级",
    5: "重度失能Ⅲ级",
}


class Grade(IntEnum):
    """The standard's six grades, for templates: `Grade.label_of(row.grade)`."""

    normal = 0
    mild = 1
    moderate = 2
    severe_1 = 3
    severe_2 = 4
    severe_3 = 5

    @property
    def label(self) -> str:
        return GRADE_LABELS[self]

    @staticmethod
    def label_of(grade: int | None) -> str:
        """重度失能Ⅱ级, never a bare number (SPEC §11); empty while not graded."""
        return "" if grade is None else GRADE_LABELS.get(grade, "")
