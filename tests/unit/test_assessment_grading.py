"""Grading (SPEC §4): every band edge, every matrix cell, bad input, rulesets as data.

NATIONAL here is national-2021 version 1, with the first edition's bands: assessments graded
by it keep its grade, so it must go on grading exactly as before. The corrected version 2 is
tested in test_assessment_grading_corrected.py."""

import copy
import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltc.assessments.bundled import load_bundled_rulesets, load_instrument, load_ruleset
from ltc.assessments.grading import (
    INDICATORS,
    LEVEL_LABELS,
    LEVELS,
    InvalidScores,
    RulesetError,
    grade,
    parse_ruleset,
    preview,
    score_problems,
    worse,
)
from ltc.grades import GRADE_LABELS

INSTRUMENT = load_instrument()
NATIONAL = load_ruleset("national-2021@1")
BARTHEL = load_ruleset("barthel-legacy")

# SPEC §4, written out independently of the fixtures so the fixtures are checked against it.
SPEC_ITEMS = {
    "eating": ("adl", "进食", {0, 5, 10}),
    "dressing": ("adl", "穿衣", {0, 5, 10}),
    "face_mouth_hygiene": ("adl", "面部与口腔清洁", {0, 5}),
    "bowel_control": ("adl", "大便控制", {0, 5, 10}),
    "bladder_control": ("adl", "小便控制", {0, 5, 10}),
    "toileting": ("adl", "用厕", {0, 5, 10}),
    "walking": ("adl", "平地行走", {0, 5, 10, 15}),
    "bed_chair_transfer": ("adl", "床椅转移", {0, 5, 10, 15}),
    "stairs": ("adl", "上下楼梯", {0, 5, 10}),
    "bathing": ("adl", "洗澡", {0, 5}),
    "time_orientation": ("cognition", "时间定向", {0, 1, 2, 3, 4}),
    "person_orientation": ("cognition", "人物定向", {0, 1, 2, 3, 4}),
    "place_orientation": ("cognition", "空间定向", {0, 1, 2, 3, 4}),
    "memory": ("cognition", "记忆力", {0, 1, 2, 3, 4}),
    "vision": ("perception", "视力", {0, 1, 2, 3, 4}),
    "hearing": ("perception", "听力", {0, 1, 2, 3, 4}),
    "communication": ("perception", "沟通能力", {0, 1, 2, 3, 4}),
}
SPEC_MATRIX = {  # ADL level -> worse of cognition and perception -> grade
    "intact": {"intact": 0, "mild": 0, "moderate": 1, "severe": 1},
    "mild": {"intact": 1, "mild": 1, "moderate": 1, "severe": 2},
    "moderate": {"intact": 2, "mild": 2, "moderate": 2, "severe": 3},
    "severe": {"intact": 3, "mild": 4, "moderate": 5, "severe": 5},
}
MAX = {"adl": 100, "cognition": 16, "perception": 12}
# A total well inside each band, for the matrix tests.
TYPICAL = {
    "adl": {"intact": 100, "mild": 80, "moderate": 50, "severe": 20},
    "cognition": {"intact": 16, "mild": 13, "moderate": 8, "severe": 2},
    "perception": {"intact": 12, "mild": 9, "moderate": 5, "severe": 1},
}


def indicator_scores(indicator: str, total: int) -> dict[str, int]:
    """Item scores for one indicator that add up to exactly `total` (greedy, highest first)."""
    chosen, left = {}, total
    for item in INSTRUMENT.items_of(indicator):
        chosen[item.code] = next(score for score in item.scores if score <= left)
        left -= chosen[item.code]
    assert left == 0, f"{indicator} cannot reach {total}"
    return chosen


def scores(adl: int = 100, cognition: int = 16, perception: int = 12) -> dict[str, int]:
    return {**indicator_scores("adl", adl), **indicator_scores("cognition", cognition),
            **indicator_scores("perception", perception)}


def full_scores() -> st.SearchStrategy[dict[str, int]]:
    return st.fixed_dictionaries(
        {item.code: st.sampled_from(item.scores) for item in INSTRUMENT.items})


def national_definition() -> dict:
    return copy.deepcopy(load_bundled_rulesets()["national-2021"])


# --- the instrument --------------------------------------------------------------------------


def test_the_instrument_has_the_17_items_of_the_standard_in_order() -> None:
    assert [item.code for item in INSTRUMENT.items] == list(SPEC_ITEMS)
    assert [i.code for i in INSTRUMENT.indicators] == list(INDICATORS)
    assert [i.name_zh for i in INSTRUMENT.indicators] == ["日常生活活动能力", "认知能力",
                                                           "感知觉与沟通能力"]
    assert {i: INSTRUMENT.max_total(i) for i in INDICATORS} == MAX
    assert INSTRUMENT.version and "医保办发〔2021〕37号" in INSTRUMENT.source
    assert "each adopting city must check" in INSTRUMENT.source


@pytest.mark.parametrize("code", list(SPEC_ITEMS))
def test_each_item_has_the_spec_options_each_with_wording(code: str) -> None:
    indicator, name_zh, options = SPEC_ITEMS[code]
    item = INSTRUMENT.item(code)
    assert (item.indicator, item.name_zh, set(item.scores)) == (indicator, name_zh, options)
    assert item.scores == tuple(sorted(options, reverse=True))  # best first, as on the form
    assert item.name_en and all(len(option.wording) >= 2 for option in item.options)
    assert len({option.wording for option in item.options}) == len(item.options)


@pytest.mark.parametrize(
    ("code", "score", "words"),
    [("eating", 10, "独立使用餐具进食"), ("eating", 5, "需部分帮助"), ("eating", 0, "留置营养管"),
     ("walking", 15, "独立步行"), ("bed_chair_transfer", 5, "至少2人"),
     ("bladder_control", 0, "留置导尿管"), ("bathing", 5, "准备好洗澡水后"),
     ("time_orientation", 4, "时间观念（年、月）清楚，日期（或星期几）可相差一天"),
     ("time_orientation", 0, "无时间观念"), ("memory", 4, "记住3个词语"),
     ("vision", 0, "完全失明"), ("hearing", 0, "完全失聪"),
     ("communication", 4, "能与他人正常沟通和交流")],
)
def test_option_wording_follows_the_standard(code: str, score: int, words: str) -> None:
    wording = next(o.wording for o in INSTRUMENT.item(code).options if o.score == score)
    assert words in wording


def test_reachable_totals() -> None:
    assert INSTRUMENT.reachable_totals("adl") == frozenset(range(0, 101, 5))
    assert INSTRUMENT.reachable_totals("cognition") == frozenset(range(17))
    assert INSTRUMENT.reachable_totals("perception") == frozenset(range(13))


def test_the_instrument_is_loaded_once() -> None:
    assert load_instrument() is INSTRUMENT


# --- bands: every edge of every indicator ----------------------------------------------------

BAND_EDGES = [
    ("adl", 100, "intact"), ("adl", 95, "mild"), ("adl", 65, "mild"), ("adl", 60, "moderate"),
    ("adl", 45, "moderate"), ("adl", 40, "severe"), ("adl", 0, "severe"),
    ("cognition", 16, "intact"), ("cognition", 15, "mild"), ("cognition", 12, "mild"),
    ("cognition", 11, "moderate"), ("cognition", 4, "moderate"), ("cognition", 3, "severe"),
    ("cognition", 0, "severe"),
    ("perception", 12, "intact"), ("perception", 11, "mild"), ("perception", 8, "mild"),
    ("perception", 7, "moderate"), ("perception", 4, "moderate"), ("perception", 3, "severe"),
    ("perception", 0, "severe"),
]


@pytest.mark.parametrize(("indicator", "total", "level"), BAND_EDGES)
def test_every_band_edge(indicator: str, total: int, level: str) -> None:
    result = grade(scores(**{indicator: total}), NATIONAL)
    assert getattr(result, f"{indicator}_total") == total
    assert getattr(result, f"{indicator}_level") == level
    others = [i for i in INDICATORS if i != indicator]
    assert all(getattr(result, f"{i}_level") == "intact" for i in others)


@pytest.mark.parametrize("indicator", INDICATORS)
def test_every_reachable_total_has_exactly_one_band(indicator: str) -> None:
    for total in INSTRUMENT.reachable_totals(indicator):
        bands = [b for b in NATIONAL.bands[indicator] if b.contains(total)]
        assert len(bands) == 1


# --- the matrix: every cell, whichever of the two other indicators is the worse --------------

MATRIX_CELLS = [(adl, other, which) for adl in LEVELS for other in LEVELS
                for which in ("cognition", "perception", "both")]


@pytest.mark.parametrize(("adl", "other", "which"), MATRIX_CELLS)
def test_every_cell_of_the_grade_matrix(adl: str, other: str, which: str) -> None:
    cognition = TYPICAL["cognition"][other] if which in ("cognition", "both") else 16
    perception = TYPICAL["perception"][other] if which in ("perception", "both") else 12
    result = grade(scores(TYPICAL["adl"][adl], cognition, perception), NATIONAL)
    assert result.adl_level == adl
    assert worse(result.cognition_level, result.perception_level) == other
    assert result.grade == SPEC_MATRIX[adl][other]
    assert result.grade_label == GRADE_LABELS[result.grade]


def test_the_worse_level_decides_even_when_the_other_is_intact() -> None:
    # Severe ADL + intact cognition + moderate perception → Ⅲ, not Ⅰ.
    result = grade(scores(adl=0, cognition=16, perception=5), NATIONAL)
    assert (result.grade, result.grade_label) == (5, "重度失能Ⅲ级")


def test_grade_and_level_labels() -> None:
    assert GRADE_LABELS == {0: "基本正常", 1: "轻度失能", 2: "中度失能", 3: "重度失能Ⅰ级",
                            4: "重度失能Ⅱ级", 5: "重度失能Ⅲ级"}
    assert LEVEL_LABELS == {"intact": "能力完好", "mild": "轻度受损", "moderate": "中度受损",
                            "severe": "重度受损"}
    assert worse("mild", "severe") == worse("severe", "intact") == "severe"


# --- barthel-legacy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("adl", "expected"),
    [(100, 0), (95, 1), (65, 1), (60, 2), (45, 2), (40, 3), (0, 3)],
)
@pytest.mark.parametrize(("cognition", "perception"), [(16, 12), (0, 0)])
def test_barthel_legacy_grades_by_adl_alone(adl: int, expected: int, cognition: int,
                                            perception: int) -> None:
    result = grade(scores(adl, cognition, perception), BARTHEL)
    assert (result.grade, result.ruleset) == (expected, "barthel-legacy@1")
    assert (result.cognition_total, result.perception_total) == (cognition, perception)
    assert result.cognition_level is None and result.perception_level is None


def test_barthel_legacy_explanation() -> None:
    result = grade(scores(35, 10, 6), BARTHEL)
    assert result.explanation == [
        "日常生活活动能力总分 35 分，属重度受损（0–40）",
        "认知能力总分 10 分（本规则不据此分级）",
        "感知觉与沟通能力总分 6 分（本规则不据此分级）",
        "本规则仅依据日常生活活动能力分级：重度受损，评定为3级 重度失能Ⅰ级",
        "评估规则：barthel-legacy 第1版（2016-06-27起）",
    ]


# --- the result and its explanation ---------------------------------------------------------


def test_explanation_reads_as_sentences() -> None:
    result = grade(scores(35, 13, 6), NATIONAL)
    assert result.explanation == [
        "日常生活活动能力总分 35 分，属重度受损（0–40）",
        "认知能力总分 13 分，属轻度受损（12–15）",
        "感知觉与沟通能力总分 6 分，属中度受损（4–7）",
        "认知能力（轻度受损）与感知觉与沟通能力（中度受损）中较重者为中度受损",
        "日常生活活动能力重度受损，与中度受损组合，评定为5级 重度失能Ⅲ级",
        "评估规则：national-2021 第1版（2021-07-16起）",
    ]


def test_explanation_when_both_other_levels_are_equal() -> None:
    result = grade(scores(100, 16, 12), NATIONAL)
    assert result.explanation[0] == "日常生活活动能力总分 100 分，属能力完好（100）"
    assert result.explanation[3] == "认知能力与感知觉与沟通能力均为能力完好"
    assert result.explanation[4] == "日常生活活动能力能力完好，与能力完好组合，评定为0级 基本正常"


def test_as_dict_has_the_cli_fields_and_is_json() -> None:
    result = grade(scores(50, 8, 12), NATIONAL).as_dict()
    assert {"adl_total": 50, "cognition_total": 8, "perception_total": 12, "adl_level": "moderate",
            "cognition_level": "moderate", "perception_level": "intact", "grade": 2,
            "grade_label": "中度失能", "ruleset": "national-2021@1",
            "adl_level_label": "中度受损"}.items() <= result.items()
    assert json.loads(json.dumps(result, ensure_ascii=False)) == result


# --- bad scores: every problem at once, by item ---------------------------------------------


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [({"eating": None}, "eating", "请选择“进食”的得分（可选：10、5、0）"),
     ({"eating": 7}, "eating", "“进食”的得分 7 不是可选分值，请从 10、5、0 中选择"),
     ({"walking": 20}, "walking", "不是可选分值"),
     ({"bathing": 10}, "bathing", "请从 5、0 中选择"),
     ({"memory": 5}, "memory", "“记忆力”的得分 5 不是可选分值"),
     ({"vision": -1}, "vision", "不是可选分值"),
     ({"eating": "10"}, "eating", "必须是整数"),
     ({"eating": 10.0}, "eating", "必须是整数"),
     ({"hearing": True}, "hearing", "必须是整数"),
     ({"hearing": [4]}, "hearing", "必须是整数"),
     ({"eatting": 10}, "_unknown", "没有这些评估项目：eatting")],
)
def test_bad_scores_are_named_by_item(change: dict, code: str, words: str) -> None:
    bad = {**scores(), **change}
    bad = {k: v for k, v in bad.items() if v is not None}
    with pytest.raises(InvalidScores) as raised:
        grade(bad, NATIONAL)
    assert list(raised.value.problems) == [code]
    assert words in raised.value.problems[code]
    assert code in str(raised.value)


def test_every_problem_is_reported_at_once() -> None:
    bad = {**scores(), "eating": 3, "memory": "4", "x": 1, "y": 2}
    del bad["vision"]
    problems = score_problems(bad, INSTRUMENT)
    assert set(problems) == {"_unknown", "eating", "memory", "vision"}
    assert "x、y" in problems["_unknown"]


def test_drafts_may_be_incomplete_but_not_wrong() -> None:
    assert score_problems({}, INSTRUMENT, complete=False) == {}
    assert score_problems({"eating": None}, INSTRUMENT, complete=False) == {}
    assert set(score_problems({}, INSTRUMENT)) == set(SPEC_ITEMS)
    assert set(score_problems({"eating": 4, "zzz": 1}, INSTRUMENT, complete=False)) == {
        "eating", "_unknown"}


# --- preview for a half-filled form ---------------------------------------------------------


def test_preview_of_an_empty_form() -> None:
    figures = preview({}, NATIONAL)
    assert (figures["adl_total"], figures["cognition_total"], figures["perception_total"]) == (
        0, 0, 0)
    assert (figures["missing"], figures["complete"], figures["grade"]) == (17, False, None)
    assert figures["missing_items"] == list(SPEC_ITEMS)


def test_preview_of_a_partial_form_counts_only_valid_scores() -> None:
    figures = preview({"eating": 10, "walking": 15, "memory": 3, "vision": 7}, NATIONAL)
    assert (figures["adl_total"], figures["cognition_total"], figures["perception_total"]) == (
        25, 3, 0)
    assert figures["missing"] == 13 and figures["grade"] is None  # vision is filled, wrongly
    assert list(figures["problems"]) == ["vision"]


def test_preview_of_a_complete_form_has_the_grade() -> None:
    complete = scores(40, 16, 12)
    figures = preview(complete, NATIONAL)
    assert figures["complete"] and figures["missing"] == 0 and figures["problems"] == {}
    assert figures | grade(complete, NATIONAL).as_dict() == figures
    assert (figures["grade"], figures["grade_label"]) == (3, "重度失能Ⅰ级")


# --- rulesets are data ---------------------------------------------------------------------


def test_bundled_rulesets_parse() -> None:
    assert set(load_bundled_rulesets()) == {"national-2021", "barthel-legacy"}
    assert (NATIONAL.code, NATIONAL.version, NATIONAL.method) == ("national-2021", 1, "combined")
    assert (BARTHEL.key, BARTHEL.method, BARTHEL.grades["severe"]) == (
        "barthel-legacy@1", "adl_only", 3)
    assert {level: dict(row) for level, row in NATIONAL.matrix.items()} == SPEC_MATRIX
    assert NATIONAL.effective_from.isoformat() == "2021-07-16"


def test_bundled_definitions_are_fresh_copies() -> None:
    load_bundled_rulesets()["national-2021"]["matrix"]["severe"]["severe"] = 0
    assert load_bundled_rulesets()["national-2021"]["matrix"]["severe"]["severe"] == 5


def test_unknown_ruleset() -> None:
    with pytest.raises(RulesetError) as raised:
        load_ruleset("shanghai-2030")
    assert raised.value.field == "ruleset"
    assert "barthel-legacy、national-2021" in raised.value.message


def test_grading_follows_the_data_not_the_code() -> None:
    definition = national_definition()
    definition["bands"]["adl"] = [  # a city that calls 45 severe and 100 only mild
        {"level": "mild", "min": 65, "max": 100}, {"level": "moderate", "min": 50, "max": 60},
        {"level": "severe", "min": 0, "max": 45}]
    definition["matrix"] = {row: cols for row, cols in definition["matrix"].items()
                            if row != "intact"}
    definition["matrix"]["severe"]["intact"] = 4
    city = parse_ruleset({**definition, "code": "city-2026", "version": 3}, INSTRUMENT)
    assert grade(scores(45), city).grade == 4
    assert grade(scores(45), NATIONAL).grade == 2
    assert grade(scores(100), city).adl_level == "mild"
    assert grade(scores(100), city).ruleset == "city-2026@3"


def _set(path: str, value: object) -> Callable[[dict], None]:
    def change(definition: dict) -> None:
        *parents, last = path.split(".")
        target = definition
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        elif value is KeyError:
            del target[last]
        else:
            target[last] = value
    return change


@pytest.mark.parametrize(
    ("change", "field"),
    [(_set("code", KeyError), "code"), (_set("code", " "), "code"),
     (_set("version", "1"), "version"), (_set("version", True), "version"),
     (_set("version", 0), "version"), (_set("effective_from", "2021/07/16"), "effective_from"),
     (_set("effective_from", KeyError), "effective_from"),
     (_set("description", KeyError), "description"),
     (_set("method", "points"), "method"), (_set("colour", "red"), "colour"),
     (_set("bands", []), "bands"), (_set("bands.cognition", KeyError), "bands.cognition"),
     (_set("bands.mobility", []), "bands.mobility"), (_set("bands.adl", []), "bands.adl"),
     (_set("bands.adl.1", "65-95"), "bands.adl[1]"),
     (_set("bands.adl.1.level", "light"), "bands.adl[1].level"),
     (_set("bands.adl.1.max", 95.0), "bands.adl[1].max"),
     (_set("bands.adl.1.min", KeyError), "bands.adl[1].min"),
     (_set("bands.cognition.0.max", 17), "bands.cognition[0].max"),
     (_set("bands.cognition.1.min", 16), "bands.cognition[1].min"),
     (_set("bands.adl.2.min", 50), "bands.adl"),  # 45 falls in no band
     (_set("bands.perception.2.max", 8), "bands.perception"),  # 8 falls in two bands
     (_set("bands.cognition.3.level", "mild"), "bands.cognition"),  # 0–3 milder than 4–11
     (_set("matrix", None), "matrix"), (_set("matrix.mild", KeyError), "matrix.mild"),
     (_set("matrix.mild.severe", KeyError), "matrix.mild.severe"),
     (_set("matrix.mild.awful", 5), "matrix.mild.awful"),
     (_set("matrix.mild.severe", 6), "matrix.mild.severe"),
     (_set("matrix.mild.severe", "2"), "matrix.mild.severe"),
     (_set("matrix.mild.severe", 0), "matrix.mild"),  # milder than mild × moderate
     (_set("matrix.moderate.intact", 0), "matrix.*.intact")],  # milder than mild × intact
)
def test_invalid_rulesets_name_the_field(change: Callable[[dict], None], field: str) -> None:
    definition = national_definition()
    change(definition)
    with pytest.raises(RulesetError) as raised:
        parse_ruleset(definition, INSTRUMENT)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")


def test_an_adl_only_ruleset_needs_its_grade_map() -> None:
    definition = copy.deepcopy(load_bundled_rulesets()["barthel-legacy"])
    del definition["grades"]["moderate"]
    with pytest.raises(RulesetError) as raised:
        parse_ruleset(definition, INSTRUMENT)
    assert raised.value.field == "grades.moderate"
    with pytest.raises(RulesetError):
        parse_ruleset("national-2021", INSTRUMENT)  # type: ignore[arg-type]


# --- properties ----------------------------------------------------------------------------


@given(full_scores())
def test_totals_are_the_sums_and_levels_their_bands(item_scores: dict[str, int]) -> None:
    result = grade(item_scores, NATIONAL)
    for indicator in INDICATORS:
        total = sum(item_scores[item.code] for item in INSTRUMENT.items_of(indicator))
        assert getattr(result, f"{indicator}_total") == total
        assert NATIONAL.band(indicator, total).level == getattr(result, f"{indicator}_level")
    assert result.grade == SPEC_MATRIX[result.adl_level][
        worse(result.cognition_level, result.perception_level)]
    assert result.grade_label == GRADE_LABELS[result.grade]
    assert len(result.explanation) == 6


@given(full_scores(), st.sampled_from(list(SPEC_ITEMS)), st.data())
def test_lowering_any_score_never_lowers_the_grade(item_scores: dict[str, int], code: str,
                                                   data: st.DataObject) -> None:
    lower = data.draw(st.sampled_from(
        [s for s in INSTRUMENT.item(code).scores if s <= item_scores[code]]))
    worse_scores = {**item_scores, code: lower}
    for ruleset in (NATIONAL, BARTHEL):
        assert grade(worse_scores, ruleset).grade >= grade(item_scores, ruleset).grade


@given(full_scores(), st.sets(st.sampled_from(list(SPEC_ITEMS))))
def test_preview_totals_are_the_sums_of_what_is_filled(item_scores: dict[str, int],
                                                       blank: set[str]) -> None:
    draft = {code: score for code, score in item_scores.items() if code not in blank}
    figures = preview(draft, NATIONAL)
    for indicator in INDICATORS:
        assert figures[f"{indicator}_total"] == sum(
            draft.get(item.code, 0) for item in INSTRUMENT.items_of(indicator))
    assert figures["missing"] == len(blank)
    assert (figures["grade"] is None) == bool(blank)
