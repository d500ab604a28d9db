"""Resident IDs (GB 11643), pinyin initials and phone numbers."""

from datetime import date

import pytest

from ltc.people.rules import (
    InvalidPhone,
    InvalidResidentId,
    name_initials,
    name_problem,
    normalise_phone,
    parse_resident_id,
    resident_id_problem,
)

TODAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("typed", "number", "birth", "sex"),
    [
        ("11010519491231002X", "11010519491231002X", date(1949, 12, 31), "F"),
        ("11010519491231002x", "11010519491231002X", date(1949, 12, 31), "F"),  # lower-case x
        (" 1101 0519 4912 3100 2x ", "11010519491231002X", date(1949, 12, 31), "F"),
        # Born before 肥城市 got its code (1992): stdnum's birth-place check would refuse it.
        ("370983195001011235", "370983195001011235", date(1950, 1, 1), "M"),
        ("370983196203150043", "370983196203150043", date(1962, 3, 15), "F"),
        ("370983198002290014", "370983198002290014", date(1980, 2, 29), "M"),  # leap day
    ],
)
def test_valid_ids_give_birth_date_and_sex(typed, number, birth, sex) -> None:
    parsed = parse_resident_id(typed, TODAY)
    assert (parsed.number, parsed.birth_date, parsed.sex) == (number, birth, sex)
    assert resident_id_problem(typed, TODAY) is None


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("370983195001011234", "身份证号码校验位不正确，请核对最后一位"),
        ("110105194912310021", "身份证号码校验位不正确，请核对最后一位"),
        ("37098319500101123", "身份证号码应为18位，您填写了17位"),
        ("3709831950010112355", "身份证号码应为18位，您填写了19位"),
        ("370983320101123", "身份证号码应为18位，您填写了15位"),  # old 15-digit cards
        ("", "请填写18位居民身份证号码"),
        ("37098319500101123A", "最后一位是数字或字母X"),
        ("3709831950O101123X", "前17位必须是数字"),
        ("3709831950010112³5", "前17位必须是数字"),  # a digit to str.isdigit(), not to int()
        ("３70983195001011235", "前17位必须是数字"),  # a full-width digit
        ("370983198102290011", "出生日期（第7至14位：19810229）不是有效日期"),
        ("370983195013011235", "不是有效日期"),
        ("37098320260101001X", "晚于今天"),  # 2026-01-01 is fine...
        ("990983195001011230", "前两位不是有效的省级地区代码"),
        ("370983189001011231", "不合理"),
    ],
)
def test_bad_ids_say_what_to_fix(typed, message) -> None:
    if typed == "37098320260101001X":
        # ...until "today" is before it.
        assert parse_resident_id(typed, TODAY).birth_date == date(2026, 1, 1)
        today = date(2025, 12, 31)
    else:
        today = TODAY
    with pytest.raises(InvalidResidentId, match=message):
        parse_resident_id(typed, today)
    assert message in resident_id_problem(typed, today)


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("张三", "zs"),
        ("王二麻子", "wemz"),
        ("欧阳修", "oyx"),
        ("长孙无忌", "zswj"),  # phrase context: zhang, not chang
        ("单田芳", "stf"),  # surname readings: shan, not dan
        ("曾国藩", "zgf"),
        ("解缙", "xj"),
        ("仇英", "qy"),
        ("翟天临", "ztl"),
        ("买买提·艾力", "mmtal"),  # the middle dot is dropped
        ("John Smith", "js"),
        ("", ""),
    ],
)
def test_name_initials(name, initials) -> None:
    assert name_initials(name) == initials


def test_name_rules() -> None:
    assert name_problem("张三") is None
    assert name_problem("买买提·艾力") is None
    assert name_problem("") == "请填写姓名"
    assert "只能包含汉字" in name_problem("张3")
    assert "不能超过50个字" in name_problem("张" * 51)


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0538-3221234", "0538-3221234"),
        ("05383221234", "0538-3221234"),
        ("(0538) 3221234", "0538-3221234"),
        ("010-62345678", "010-62345678"),
        ("0538-3221234转123", "0538-3221234-123"),
    ],
)
def test_valid_phones_are_normalised(typed, normal) -> None:
    assert normalise_phone(typed) == normal


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "请填写联系电话"),
        ("1381234567", "手机号码应为以1开头的11位数字，您填写了10位"),
        ("138123456789", "手机号码应为以1开头的11位数字，您填写了12位"),
        ("3221234", "固定电话请加区号"),
        ("abc", "电话号码只能包含数字"),
        ("12345678901", "手机号码第二位应为3至9"),
        ("0538-0221234", "电话号码格式不正确"),  # local numbers never start with 0
    ],
)
def test_bad_phones_say_what_to_fix(typed, message) -> None:
    with pytest.raises(InvalidPhone, match=message):
        normalise_phone(typed)
