"""The organisation register's pure rules: categories, status changes, national code format,
an entry's validity, masking; the region tree's code rules."""

import pytest

from ltc.organisations.rules import (
    Category,
    Entry,
    Status,
    category_label,
    check_entry,
    mask_account,
    national_code_problem,
    status_change_problem,
)
from ltc.regions.rules import (
    code_pattern_problem,
    default_code_pattern,
    missing_bureau_contact,
    place_problems,
)

TOWNS = {"370983001": "新城街道", "370983002": "老城街道"}
PATTERN = default_code_pattern("370983")


def entry(**changes) -> Entry:
    values = {"code": "ORG-P-002", "national_code": "H37098300002", "name": "老城卫生院",
              "category": "health_centre", "licence_no": "PDY12345-3709",
              "legal_representative": "王院长", "address": "肥城市老城街道1号",
              "contact_name": "李护士长", "contact_phone": "0538 322 1234",
              "service_towns": "370983002,370983001"}
    return Entry.from_mapping({**values, **changes})


@pytest.mark.parametrize(("category", "kind"), [
    ("assessment", "assessment"), ("health_centre", "provider"), ("home_care", "provider"),
    ("institution", "provider")])
def test_every_category_maps_to_the_kind_other_contexts_read(category, kind) -> None:
    assert Category(category).kind == kind
    assert category_label(category, kind) == Category(category).label


def test_rows_from_before_the_register_are_labelled_by_kind() -> None:
    assert category_label("", "provider") == "护理服务机构"
    assert category_label("", "assessment") == "评估机构"


@pytest.mark.parametrize(("current", "new", "problem"), [
    ("normal", "suspended", None), ("normal", "exited", None), ("suspended", "normal", None),
    ("suspended", "exited", None), ("normal", "normal", "已经是“正常”"),
    ("suspended", "suspended", "已经是“暂停”"), ("exited", "normal", "已退出"),
    ("exited", "suspended", "已退出"), ("normal", "closed", "请选择状态")])
def test_status_changes(current, new, problem) -> None:
    found = status_change_problem(current, new)
    assert (found is None) if problem is None else (problem in found)


def test_only_a_normal_organisation_is_active() -> None:
    assert [s.active for s in Status] == [True, False, False]


@pytest.mark.parametrize(("code", "ok"), [
    ("H37098300001", True), ("P37098312345", True), ("h37098300001", False),
    ("H37098400001", False), ("H3709830001", False), ("H370983000011", False),
    ("37098300001X", False), ("", False)])
def test_the_default_national_code_format(code, ok) -> None:
    assert (national_code_problem(code, PATTERN) is None) == ok


def test_a_region_may_set_its_own_pattern() -> None:
    assert national_code_problem("LTC-0001", r"LTC-\d{4}") is None
    assert "本地区格式" in national_code_problem("H37098300001", r"LTC-\d{4}")
    assert code_pattern_problem(r"LTC-\d{4}") is None
    assert "正则表达式" in code_pattern_problem("LTC-(")


def test_a_valid_entry_is_normalised() -> None:
    values, problems = check_entry(entry(), pattern=PATTERN, towns=TOWNS)
    assert problems == {}
    assert values["kind"] == "provider" and values["contact_phone"] == "0538-3221234"
    assert values["service_towns"] == "370983001,370983002"


def test_every_problem_of_an_entry_at_once() -> None:
    values, problems = check_entry(entry(
        code="机构", national_code="X1", name="", category="hospital", licence_no="",
        legal_representative="", address="", contact_name="", contact_phone="12345",
        service_towns="370983009", bank_account_no="12ab"), pattern=PATTERN, towns=TOWNS)
    assert values == {}
    assert set(problems) == {"code", "national_code", "name", "category", "licence_no",
                             "legal_representative", "address", "contact_name",
                             "contact_phone", "service_towns", "bank_account_no"}


@pytest.mark.parametrize(("changes", "field", "problem"), [
    ({"service_towns": ""}, "service_towns", "至少一个"),
    ({"service_towns": "370983001,370983001"}, "service_towns", "重复"),
    ({"bank_account_no": "6222020200001234"}, "bank_account_no", "同时填写开户银行"),
    ({"bank_name": "农业银行"}, "bank_account_no", "请填写银行账号"),
])
def test_towns_and_account(changes, field, problem) -> None:
    _, problems = check_entry(entry(**changes), pattern=PATTERN, towns=TOWNS)
    assert problem in problems[field]


def test_an_institution_or_assessment_organisation_may_serve_no_town() -> None:
    for category in ("institution", "assessment"):
        assert check_entry(entry(category=category, service_towns=""), pattern=PATTERN,
                           towns=TOWNS)[1] == {}


@pytest.mark.parametrize(("number", "masked"), [
    ("", ""), ("12345678", "****5678"), ("6222020200001234", "************1234")])
def test_masking(number, masked) -> None:
    assert mask_account(number) == masked


@pytest.mark.parametrize(("code", "parent", "level", "fields"), [
    ("370983111", "370983", "pooling", set()), ("370983001009", "370983001", "town", set()),
    ("370983002009", "370983001", "town", {"code"}), ("37098300100", "370983001", "town",
                                                      {"code"}),
    ("370983001009001", "370983001009", "village", {"parent_code"}),
    ("370983001009", "999999", None, {"parent_code"})])
def test_place_codes_start_with_their_parent(code, parent, level, fields) -> None:
    assert set(place_problems(code, "某村", parent, level)) == fields


def test_bureau_contact_missing() -> None:
    assert missing_bureau_contact("", "") == ["办公地址", "咨询电话"]
    assert missing_bureau_contact("某路1号", "") == ["咨询电话"]
    assert missing_bureau_contact("某路1号", "0538-3221234") == []


@pytest.mark.parametrize(("typed", "stored", "refused"), [
    ("", "", False),  # optional
    ("370983 19800101123x", None, True),  # a wrong check digit
    ("37098319800101123", None, True),  # 17 digits
    ("370983 198001011239", "370983198001011239", False),  # spaces removed
])
def test_the_legal_representatives_resident_id(typed, stored, refused) -> None:
    values, problems = check_entry(entry(legal_representative_id=typed), pattern=PATTERN,
                                   towns=TOWNS)
    assert ("legal_representative_id" in problems) is refused
    if not refused:
        assert values["legal_representative_id"] == stored
