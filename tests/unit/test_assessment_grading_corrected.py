"""national-2021 version 2: the standard's own bands (SPEC §4, 2026-12 correction), table by
table; version 1 unchanged beside it; the rule that says which version is in force."""

from datetime import date

import pytest

from ltc.assessments.bundled import load_bundled_versions, load_instrument, load_ruleset
from ltc.assessments.grading import LEVELS, RulesetError, grade, parse_ruleset, worse
from ltc.assessments.rules import RulesetVersion, version_status
from ltc.grades import GRADE_LABELS

INSTRUMENT = load_instrument()
CORRECTED = load_ruleset("national-2021")
FIRST = load_ruleset("national-2021@1")

# SPEC §4 as corrected, written out here independently of the fixture.
SPEC_BANDS = {
    "adl": {"intact": (100, 100), "mild": (65, 95), "moderate": (45, 60), "severe": (0, 40)},
    "cognition": {"intact": (16, 16), "mild": (4, 15), "moderate": (2, 3), "severe": (0, 1)},
    "perception": {"intact": (12, 12), "mild": (4, 11), "moderate": (2, 3), "severe": (0, 1)},
}
SPEC_MATRIX = {
    "intact": {"intact": 0, "mild": 0, "moderate": 1, "severe": 1},
    "mild": {"intact": 1, "mild": 1, "moderate": 1, "severe": 2},
    "moderate": {"intact": 2, "mild": 2, "moderate": 2, "severe": 3},
    "severe": {"intact": 3, "mild": 4, "moderate": 5, "severe": 5},
}
INTACT = {"adl": 100, "cognition": 16, "perception": 12}

# Both sides of every edge: (indicator, total, level).
EDGES = [
    ("adl", 100, "intact"), ("adl", 95, "mild"), ("adl", 65, "mild"), ("adl", 60, "moderate"),
    ("adl", 45, "moderate"), ("adl", 40, "severe"), ("adl", 0, "severe"),
    ("cognition", 16, "intact"), ("cognition", 15, "mild"), ("cognition", 4, "mild"),
    ("cognition", 3, "moderate"), ("cognition", 2, "moderate"), ("cognition", 1, "severe"),
    ("cognition", 0, "severe"),
    ("perception", 12, "intact"), ("perception", 11, "mild"), ("perception", 4, "mild"),
    ("perception", 3, "moderate"), ("perception", 2, "moderate"), ("perception", 1, "severe"),
    ("perception", 0, "severe"),
]


def indicator_scores(indicator: str, total: int) -> dict[str, int]:
    chosen, left = {}, total
    for item in INSTRUMENT.items_of(indicator):
        chosen[item.code] = next(score for score in item.scores if score <= left)
        left -= chosen[item.code]
    assert left == 0
    return chosen


def scores(adl: int = 100, cognition: int = 16, perception: int = 12) -> dict[str, int]:
    return {**indicator_scores("adl", adl), **indicator_scores("cognition", cognition),
            **indicator_scores("perception", perception)}


def test_version_2_is_the_newest_and_names_version_1_with_a_reason() -> None:
    assert [(d["code"], d["version"]) for d in load_bundled_versions()] == [
        ("barthel-legacy", 1), ("national-2021", 1), ("national-2021", 2)]
    assert CORRECTED.key == "national-2021@2" and FIRST.key == "national-2021@1"
    assert CORRECTED.supersedes.version == 1
    assert "医保办发〔2021〕37号" in CORRECTED.supersedes.reason
    assert FIRST.supersedes is None


@pytest.mark.parametrize("indicator", list(SPEC_BANDS))
def test_the_bands_are_the_standards(indicator: str) -> None:
    bands = {b.level: (b.min, b.max) for b in CORRECTED.bands[indicator]}
    assert bands == SPEC_BANDS[indicator]


@pytest.mark.parametrize(("indicator", "total", "level"), EDGES)
def test_every_band_edge_from_both_sides(indicator: str, total: int, level: str) -> None:
    result = grade(scores(**{indicator: total}), CORRECTED)
    assert getattr(result, f"{indicator}_total") == total
    assert getattr(result, f"{indicator}_level") == level
    assert all(getattr(result, f"{other}_level") == "intact"
               for other in SPEC_BANDS if other != indicator)
    assert result.ruleset == "national-2021@2"


@pytest.mark.parametrize("indicator", list(SPEC_BANDS))
def test_every_reachable_total_gets_the_spec_level(indicator: str) -> None:
    for total in INSTRUMENT.reachable_totals(indicator):
        expected = next(level for level, (low, high) in SPEC_BANDS[indicator].items()
                        if low <= total <= high)
        assert CORRECTED.band(indicator, total).level == expected, total


def _total(indicator: str, level: str, side: str) -> int:
    low, high = SPEC_BANDS[indicator][level]
    return low if side == "low" else high


@pytest.mark.parametrize("adl", LEVELS)
@pytest.mark.parametrize("other", LEVELS)
@pytest.mark.parametrize("which", ["cognition", "perception", "both"])
@pytest.mark.parametrize("side", ["low", "high"])
def test_every_cell_of_the_matrix(adl: str, other: str, which: str, side: str) -> None:
    totals = {"adl": _total("adl", adl, side), **{k: INTACT[k] for k in ("cognition",
                                                                         "perception")}}
    for indicator in ("cognition", "perception"):
        if which in (indicator, "both"):
            totals[indicator] = _total(indicator, other, side)
    result = grade(scores(**totals), CORRECTED)
    assert (result.adl_level, worse(result.cognition_level, result.perception_level)) == (
        adl, other)
    assert result.grade == SPEC_MATRIX[adl][other]
    assert result.grade_label == GRADE_LABELS[SPEC_MATRIX[adl][other]]


# What the correction changes, and what it does not: the same scores under each version.
@pytest.mark.parametrize(
    ("adl", "cognition", "perception", "first", "corrected"),
    [(20, 8, 8, 5, 4),      # cognition 8 and perception 8: moderate/mild → both mild
     (50, 3, 12, 3, 2),     # cognition 3: severe → moderate; 重度Ⅰ → 中度 (loses eligibility)
     (50, 11, 12, 2, 2),    # moderate ADL: mild or moderate other levels give 中度 either way
     (35, 13, 6, 5, 4),     # the `ltc grade` example: Ⅲ → Ⅱ
     (40, 12, 7, 5, 4),
     (40, 16, 12, 3, 3),    # intact others: unchanged
     (0, 1, 0, 5, 5),       # severe everywhere: unchanged
     (100, 4, 12, 1, 0),    # cognition 4: moderate → mild
     (80, 0, 12, 2, 2)],
)
def test_the_same_scores_under_each_version(adl: int, cognition: int, perception: int,
                                            first: int, corrected: int) -> None:
    item_scores = scores(adl, cognition, perception)
    assert grade(item_scores, FIRST).grade == first
    assert grade(item_scores, CORRECTED).grade == corrected


def test_the_corrected_version_never_grades_higher_than_version_1() -> None:
    for cognition in INSTRUMENT.reachable_totals("cognition"):
        for perception in INSTRUMENT.reachable_totals("perception"):
            for adl in (100, 80, 50, 20):
                item_scores = scores(adl, cognition, perception)
                assert grade(item_scores, CORRECTED).grade <= grade(item_scores, FIRST).grade


@pytest.mark.parametrize(
    ("supersedes", "field"),
    [({"version": 2, "reason": "x"}, "supersedes.version"),
     ({"version": 0, "reason": "x"}, "supersedes.version"),
     ({"version": "1", "reason": "x"}, "supersedes.version"),
     ({"version": 1, "reason": " "}, "supersedes.reason"),
     ({"version": 1}, "supersedes"), ("version 1", "supersedes")],
)
def test_a_bad_supersedes_is_named(supersedes: object, field: str) -> None:
    definition = load_bundled_versions()[-1]
    definition["supersedes"] = supersedes
    with pytest.raises(RulesetError) as raised:
        parse_ruleset(definition, INSTRUMENT)
    assert raised.value.field == field


# --- which version is in force ------------------------------------------------------------

TODAY = date(2026, 12, 3)
REASON = "分段更正"


def v1(state: str = "ACTIVE") -> RulesetVersion:
    return RulesetVersion(1, state, date(2021, 7, 16))


def v2(state: str, day: date) -> RulesetVersion:
    return RulesetVersion(2, state, day, supersedes=1, reason=REASON)


def test_a_pending_version_leaves_version_1_in_force() -> None:
    versions = [v1(), v2("PENDING", date(2026, 12, 3))]
    first = version_status(versions[0], versions, TODAY)
    assert (first.in_force, first.label, first.superseded_by) == (True, "现行", None)
    pending = version_status(versions[1], versions, TODAY)
    assert (pending.in_force, pending.label) == (False, "待启用（尚未设定生效日期）")


def test_a_version_scheduled_for_a_later_day() -> None:
    versions = [v1(), v2("ACTIVE", date(2027, 1, 1))]
    first = version_status(versions[0], versions, TODAY)
    assert first.in_force and first.superseded_by == 2 and first.reason == REASON
    assert first.label == "现行（将于 2027-01-01 起被第2版取代）"
    assert version_status(versions[1], versions, TODAY).label == "定于 2027-01-01 起施行"
    assert not version_status(versions[1], versions, TODAY).in_force


@pytest.mark.parametrize("day", [date(2026, 12, 3), date(2026, 11, 1)])
def test_a_version_in_force_supersedes_the_one_it_names(day: date) -> None:
    versions = [v1(), v2("ACTIVE", day)]
    first = version_status(versions[0], versions, TODAY)
    assert not first.in_force and first.superseded_from == day and first.reason == REASON
    assert first.label == f"已被第2版取代（{day.isoformat()}起）"
    assert version_status(versions[1], versions, TODAY).label == "现行"


def test_the_day_before_the_new_version_the_old_one_is_still_in_force() -> None:
    versions = [v1(), v2("ACTIVE", date(2026, 12, 4))]
    assert version_status(versions[0], versions, TODAY).in_force
    assert not version_status(versions[0], versions, date(2026, 12, 4)).in_force
