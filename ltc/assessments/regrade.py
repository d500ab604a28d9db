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
from operator import itemgetter

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
        items = sorted(instrument.items, key=lambda item: INDICATORS.index(item.indicator))
        self._get = itemgetter(*(item.code for item in items))
        self._allowed = tuple(frozenset(item.scores) for item in items)
        ends = [sum(1 for item in items if INDICATORS.index(item.indicator) <= i)
                for i in range(len(INDICATORS))]
        self._slices = (slice(0, ends[0]), slice(ends[0], ends[1]), slice(ends[1], ends[2]))
        reachable = [sorted(instrument.reachable_totals(i)) for i in INDICATORS]
        self._table: dict[tuple[int, int, int], int] = {}
        for totals in product(*reachable):
            levels = {i: _level(ruleset, i, t) for i, t in zip(INDICATORS, totals, strict=True)}
            self._table[totals] = _grade_value(ruleset, levels)

    def grade(self, scores: Mapping[str, object]) -> int | None:
        try:
            values = self._get(scores)
        except (KeyError, TypeError):
            return None
        # Every value an int (not a bool) and one of its item's options; C-level loops.
        if set(map(type, values)) != {int} or not all(
                map(frozenset.__contains__, self._allowed, values)):
            return None
        adl, cognition, perception = (sum(values[part]) for part in self._slices)
        return self._table[(adl, cognition, perception)]


def _level(ruleset: Ruleset, indicator: str, total: int) -> str | None:
    band = ruleset.band(indicator, total)
    return band.level if band else None
