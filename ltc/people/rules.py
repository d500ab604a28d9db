"""Pure rules about people: the resident ID (GB 11643), pinyin initials for search, phones.

No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pypinyin import Style, lazy_pinyin
from stdnum.cn import ric

# Phones are checked by several contexts (people, applications, agreements, notices,
# assessments): the rules live in the kernel, and are re-exported here for the older callers.
from ltc.phones import InvalidPhone as InvalidPhone
from ltc.phones import normalise_phone as normalise_phone
from ltc.phones import phone_problem as phone_problem

RESIDENT_ID_LENGTH = 18
EARLIEST_BIRTH_YEAR = 1900

# GB/T 2260 province-level codes (the first two digits). stdnum's full birth-place check is
# not used: it rejects a county code for anyone born before the county got that code (肥城市
# 370983 dates from 1992, so every Feicheng resident born earlier would be refused).
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83",
})


class InvalidResidentId(ValueError):
    """The resident ID is malformed; `str(exc)` is a Chinese message that says what to fix."""


@dataclass(frozen=True)
class ResidentId:
    number: str  # normalised: 18 characters, upper-case X
    birth_date: date
    sex: str  # M | F

    @property
    def sex_label(self) -> str:
        return "男" if self.sex == "M" else "女"


def normalise_resident_id(value: str) -> str:
    """Strip spaces and upper-case a trailing x, as typed on a phone keyboard."""
    return re.sub(r"\s+", "", value or "").upper()


def parse_resident_id(value: str, today: date) -> ResidentId:
    """Validate an 18-character resident ID and derive birth date and sex from it."""
    number = normalise_resident_id(value)
    if not number:
        raise InvalidResidentId("请填写18位居民身份证号码")
    if len(number) != RESIDENT_ID_LENGTH:
        raise InvalidResidentId(
            f"身份证号码应为18位，您填写了{len(number)}位，请核对后重新填写")
    # ASCII only: str.isdigit() also takes "³" and other digits int() and stdnum refuse.
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        raise InvalidResidentId("身份证号码前17位必须是数字，最后一位是数字或字母X")
    if number[:2] not in PROVINCE_CODES:
        raise InvalidResidentId("身份证号码前两位不是有效的省级地区代码，请核对")
    try:
        birth = ric.get_birth_date(number)
    except Exception as exc:  # stdnum raises InvalidComponent for an impossible date
        raise InvalidResidentId(
            f"身份证号码中的出生日期（第7至14位：{number[6:14]}）不是有效日期，请核对") from exc
    if birth > today:
        raise InvalidResidentId(
            f"身份证号码中的出生日期 {birth.isoformat()} 晚于今天，请核对第7至14位")
    if birth.year < EARLIEST_BIRTH_YEAR:
        raise InvalidResidentId(
            f"身份证号码中的出生日期 {birth.isoformat()} 不合理，请核对第7至14位")
    if number[17] != ric.calc_check_digit(number):
        raise InvalidResidentId("身份证号码校验位不正确，请核对最后一位（也可能是前面某位输错）")
    sex = "M" if int(number[16]) % 2 == 1 else "F"
    return ResidentId(number=number, birth_date=birth, sex=sex)


def resident_id_problem(value: str, today: date) -> str | None:
    try:
        parse_resident_id(value, today)
    except InvalidResidentId as exc:
        return str(exc)
    return None


# Surnames whose reading differs from the character's common reading. Clerks type the
# surname as it is said (单 shan, 曾 zeng), so the initial follows the surname reading.
SURNAME_INITIALS = {
    "单": "s", "曾": "z", "仇": "q", "解": "x", "区": "o", "查": "z", "翟": "z", "种": "c",
    "秘": "b", "覃": "q", "召": "s",
}
INITIALS_MAX_LENGTH = 20  # Person.name_initials


def _is_hanzi(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def name_initials(name: str) -> str:
    """Pinyin initials for search: 张三 → zs, 单田芳 → stf. Latin letters are kept (lower-case);
    digits, spaces and the middle dot of minority names (·) are dropped."""
    name = (name or "").strip()
    # Whole-name conversion keeps pypinyin's phrase context (长孙 zhangsun); the errors
    # callback turns a non-Chinese run into its Latin words, so "John Smith" gives "js".
    letters = lazy_pinyin(name, style=Style.FIRST_LETTER,
                          errors=lambda chunk: re.findall(r"[A-Za-z]+", chunk))
    initials = [item[:1].lower() for item in letters if item[:1].isascii() and item[:1].isalpha()]
    if name and _is_hanzi(name[0]) and name[0] in SURNAME_INITIALS and initials:
        initials[0] = SURNAME_INITIALS[name[0]]
    return "".join(initials)[:INITIALS_MAX_LENGTH]


# Person names: Chinese names, with the middle dot of minority names; Latin letters for
# foreign residents. Anything else (digits, punctuation) is a typing slip.
NAME_PATTERN = re.compile(r"^[\u3400-\u9fff\uf900-\ufaffA-Za-z·•\- ]+$")
NAME_MAX_LENGTH = 50


def name_problem(value: str, label: str = "姓名") -> str | None:
    name = (value or "").strip()
    if not name:
        return f"请填写{label}"
    if len(name) > NAME_MAX_LENGTH:
        return f"{label}不能超过{NAME_MAX_LENGTH}个字"
    if not NAME_PATTERN.match(name):
        return f"{label}只能包含汉字、字母和间隔号（·），请删去数字或其他符号"
    return None


INSURANCE_NUMBER = re.compile(r"^[0-9A-Za-z\-]{1,40}$")


def insurance_number_problem(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if not INSURANCE_NUMBER.match(value.strip()):
        return "医保个人编号只能包含字母、数字和连字符，最长40位"
    return None


ID_TAIL_LENGTH = 4


def resident_id_tail(text: str) -> str | None:
    """The last four characters of a resident ID as typed into a search box (`1235`,
    `002x`), or None when `text` is not one: three digits and a digit or X."""
    compact = normalise_resident_id(text)
    if len(compact) == ID_TAIL_LENGTH and compact[:3].isdigit() and (
            compact[3].isdigit() or compact[3] == "X"):
        return compact
    return None


def mask_resident_id(resident_id: str) -> str:
    """`110105199001011234` → `110105********1234`: region and last four only, for lists."""
    if len(resident_id) != 18:
        return "*" * len(resident_id)
    return resident_id[:6] + "*" * 8 + resident_id[-4:]
