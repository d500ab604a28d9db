"""Re-grading many stored score sets under another ruleset version, fast, and naming the kind
of change (改判影响). Pure: no I/O.

`Regrader` gives exactly the grade ltc.assessments.grading.grade gives (a property test checks
it over random score sets) from a table of every reachable (ADL, cognition, perception) total
triple, built once per ruleset, so a million assessments cost a JSON decode and a few
additions each.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from itertools import product

from ltc.assessments.grading import INDICATORS, Instrument, Ruleset, _grade_value


class ChangeKind(StrEnum):
    LOSES = "loses"  # eligible now, not under the other version
    GAINS = "gains"  # not eligible now, eligible under the other version
    LOWER = "lower"  # a lower grade, eligibility unchanged
    HIGHER = "higher"  # a higher grade, eligibility unchanged

    @property
    def label(self) -> str:
        return CHANGE_LABELS[self]


CHANGE_LABELS = {
    ChangeKind.LOSES: "失去待遇资格",
    ChangeKind.GAINS: "新获待遇资格",
    ChangeKind.LOWER: "等级降低（资格不变）",
    ChangeKind.HIGHER: "等级提高（资格不变）",
}


def change_kind(old_grade: int, new_grade: int, old_eligible: bool,
                new_eligible: bool) -> ChangeKind | None:
    """What re-grading changes for a person; None when neither grade nor eligibility does."""
    if old_eligible and not new_eligible:
        return ChangeKind.LOSES
    if new_eligible and not old_eligible:
        return ChangeKind.GAINS
    if new_grade < old_grade:
        return ChangeKind.LOWER
    if new_grade > old_grade:
        return ChangeKind.HIGHER
    return None


class Regrader:
    """grade(scores) → the grade under `ruleset`, or None for scores that cannot be graded
    (an item missing or not one of its options)."""

    def __init__(self, ruleset: Ruleset, instrument: Instrument) -> None:
        self.ruleset = ruleset
        self._items = [(item.code, frozenset(item.scores), INDICATORS.index(item.indicator))
                       for item in instrument.items]
        reachable = [sorted(instrument.reachable_totals(i)) for i in INDICATORS]
        self._table: dict[tuple[int, int, int], int] = {}
        for totals in product(*reachable):
            levels = {i: _level(ruleset, i, t) for i, t in zip(INDICATORS, totals, strict=True)}
            self._table[totals] = _grade_value(ruleset, levels)

    def grade(self, scores: Mapping[str, object]) -> int | None:
        totals = [0, 0, 0]
        try:
            for code, allowed, indicator in self._items:
                value = scores[code]
                if value not in allowed or isinstance(value, bool):
                    return None
                totals[indicator] += value  # type: ignore[operator]
        except (KeyError, TypeError):
            return None
        return self._table[(totals[0], totals[1], totals[2])]


def _level(ruleset: Ruleset, indicator: str, total: int) -> str | None:
    band = ruleset.band(indicator, total)
    return band.level if band else None
