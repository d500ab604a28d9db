"""Re-grading in bulk (改判影响): the fast re-grader agrees with the grading rules on every
ruleset, and each kind of change is named."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltc.assessments.bundled import load_instrument, load_ruleset
from ltc.assessments.grading import grade
from ltc.assessments.regrade import ChangeKind, Regrader, change_kind

INSTRUMENT = load_instrument()
RULESETS = [load_ruleset(key) for key in ("national-2021@1", "national-2021@2",
                                          "barthel-legacy")]
REGRADERS = [Regrader(ruleset, INSTRUMENT) for ruleset in RULESETS]


def full_scores() -> st.SearchStrategy[dict[str, int]]:
    return st.fixed_dictionaries(
        {item.code: st.sampled_from(item.scores) for item in INSTRUMENT.items})


@given(full_scores())
def test_the_regrader_agrees_with_the_grading_rules(scores: dict[str, int]) -> None:
    for ruleset, regrader in zip(RULESETS, REGRADERS, strict=True):
        assert regrader.grade(scores) == grade(scores, ruleset, INSTRUMENT).grade


@pytest.mark.parametrize("change", [{"eating": 7}, {"eating": None}, {"eating": "10"},
                                    {"vision": True}, {"memory": 5}])
def test_scores_that_cannot_be_graded_give_none(change: dict) -> None:
    scores = {item.code: item.scores[0] for item in INSTRUMENT.items}
    scores.update(change)
    scores = {k: v for k, v in scores.items() if v is not None}
    assert REGRADERS[1].grade(scores) is None


@pytest.mark.parametrize(
    ("old", "new", "old_eligible", "new_eligible", "kind"),
    [(3, 2, True, False, ChangeKind.LOSES), (5, 1, True, False, ChangeKind.LOSES),
     (2, 3, False, True, ChangeKind.GAINS), (5, 4, True, True, ChangeKind.LOWER),
     (2, 1, False, False, ChangeKind.LOWER), (4, 5, True, True, ChangeKind.HIGHER),
     (0, 1, False, False, ChangeKind.HIGHER), (3, 3, True, True, None),
     (0, 0, False, False, None)],
)
def test_kinds_of_change(old: int, new: int, old_eligible: bool, new_eligible: bool,
                         kind: ChangeKind | None) -> None:
    assert change_kind(old, new, old_eligible, new_eligible) == kind


def test_kind_labels() -> None:
    assert [k.label for k in ChangeKind] == ["失去待遇资格", "新获待遇资格", "等级降低（资格不变）",
                                             "等级提高（资格不变）"]
