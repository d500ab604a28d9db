"""The family portal's rules (家属端): sign-in limits, answers on visits, ratings. Pure."""

from __future__ import annotations

from enum import StrEnum

# Wrong PINs per person per civil day on the family's sign-in page before it is locked until
# the next day (as for visits: ltc.visits.rules.MAX_WRONG_PINS; counted separately).
MAX_WRONG_PINS = 5
WORDS_MAX = 200
COMMENT_MAX = 200

# Why a family link does not sign in: careplans.letters.letter_for_link's statuses.
LINK_PROBLEMS = {
    "tampered": ("链接无效", "这个链接不完整或已被改动。"
                 "请用手机直接扫描《护理计划告知书》上的二维码。"),
    "expired": ("链接已过期", "这份《护理计划告知书》上的二维码已过有效期。"
                "请联系医保经办机构重新出具告知书。"),
    "replaced": ("告知书已重新出具", "这份《护理计划告知书》已作废，医保经办机构已为您重新出具。"
                 "请扫描新告知书上的二维码，使用新告知书上的家庭确认码。"),
    "not_issued": ("告知书尚未出具", "这份《护理计划告知书》还在出具中，请稍后再试。"),
}


def sign_in_locked(wrong_today: int) -> bool:
    return wrong_today >= MAX_WRONG_PINS


def wrong_pin_message(wrong_today: int) -> str:
    """What to say after a wrong PIN, `wrong_today` counting it."""
    if sign_in_locked(wrong_today):
        return (f"家庭确认码今天已输错{MAX_WRONG_PINS}次，已锁定至明天0时。"
                "如确认码遗失，请联系医保经办机构重新出具告知书")
    return (f"家庭确认码不正确，请核对《护理计划告知书》上的6位确认码；"
            f"今天还可再试{MAX_WRONG_PINS - wrong_today}次")


class Answer(StrEnum):
    confirmed = "confirmed"
    disputed = "disputed"


ANSWER_LABELS = {Answer.confirmed: "已确认属实", Answer.disputed: "已提出异议"}


def answer_problems(answer: str, words: str) -> dict[str, str]:
    """Every problem of a family's answer on a visit, by field."""
    problems = {}
    if answer not in Answer.__members__:
        problems["answer"] = "请选择“属实”或“有异议”"
    elif answer == Answer.disputed and len(words.strip()) < 2:
        problems["words"] = "请写明哪里不属实（如“当天没有上门”“项目没有做”），至少2个字"
    if len(words.strip()) > WORDS_MAX:
        problems["words"] = f"说明不超过{WORDS_MAX}个字"
    return problems


def rating_problems(score: int | None, comment: str) -> dict[str, str]:
    """Every problem of a satisfaction rating, by field."""
    problems = {}
    if score is None or not 1 <= score <= 5:
        problems["score"] = "请选择1到5颗星（5颗星最满意）"
    if len(comment.strip()) > COMMENT_MAX:
        problems["comment"] = f"意见不超过{COMMENT_MAX}个字"
    return problems
