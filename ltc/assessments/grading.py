"""Grading (SPEC §4): 17 item scores + a ruleset → totals, levels, grade 0–5 and an explanation.

Pure rules: the shipped instrument and rulesets are read by ltc.assessments.bundled. The bands
and the grade matrix are data in a ruleset, never constants here: cities refine the standard,
and every assessment records the ruleset version it was graded with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from ltc.grades import GRADE_LABELS

DEFAULT_RULESET = "national-2021"

INDICATORS = ("adl", "cognition", "perception")
LEVELS = ("intact", "mild", "moderate", "severe")  # least to most severe
LEVEL_LABELS = {
    "intact": "能力完好",
    "mild": "轻度受损",
    "moderate": "中度受损",
    "severe": "重度受损",
}




METHODS = ("combined", "adl_only")
UNKNOWN = "_unknown"


# ---------------------------------------------------------------------------------------------
# The instrument


class InstrumentError(ValueError):
    """The instrument fixture is malformed: a deploy-time bug, not a user error."""


@dataclass(frozen=True)
class Option:
    score: int
    wording: str


@dataclass(frozen=True)
class Item:
    code: str
    indicator: str
    name_zh: str
    name_en: str
    options: tuple[Option, ...]  # highest score first, as on the paper form
    note: str = ""

    @property
    def scores(self) -> tuple[int, ...]:
        return tuple(option.score for option in self.options)

    @property
    def choices_text(self) -> str:
        return "、".join(str(score) for score in self.scores)


@dataclass(frozen=True)
class Indicator:
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Instrument:
    version: str
    items: tuple[Item, ...]
    indicators: tuple[Indicator, ...]
    source: str = ""

    def item(self, code: str) -> Item:
        for item in self.items:
            if item.code == code:
                return item
        raise KeyError(code)

    def has_item(self, code: str) -> bool:
        return any(item.code == code for item in self.items)

    def items_of(self, indicator: str) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.indicator == indicator)

    def indicator_name(self, code: str) -> str:
        return next(i.name_zh for i in self.indicators if i.code == code)

    def max_total(self, indicator: str) -> int:
        return sum(max(item.scores) for item in self.items_of(indicator))

    def reachable_totals(self, indicator: str) -> frozenset[int]:
        """Every total some combination of options can produce (ADL totals step by 5)."""
        totals = {0}
        for item in self.items_of(indicator):
            totals = {total + score for total in totals for score in item.scores}
        return frozenset(totals)


def parse_instrument(definition: Mapping[str, Any]) -> Instrument:
    indicators = tuple(
        Indicator(code=i["code"], name_zh=i["name_zh"], name_en=i["name_en"])
        for i in definition["indicators"]
    )
    if tuple(i.code for i in indicators) != INDICATORS:
        raise InstrumentError(f"indicators must be {INDICATORS}")
    items = tuple(_parse_item(raw) for raw in definition["items"])
    codes = [item.code for item in items]
    if len(set(codes)) != len(codes):
        raise InstrumentError("item codes must be unique")
    return Instrument(version=str(definition["version"]), items=items, indicators=indicators,
                      source=definition.get("source", ""))


def _parse_item(raw: Mapping[str, Any]) -> Item:
    if raw["indicator"] not in INDICATORS:
        raise InstrumentError(f"{raw['code']}: unknown indicator {raw['indicator']!r}")
    options = tuple(sorted((Option(int(o["score"]), o["wording"]) for o in raw["options"]),
                           key=lambda option: -option.score))
    scores = [option.score for option in options]
    if len(set(scores)) != len(scores) or min(scores) != 0 or not all(o.wording for o in options):
        raise InstrumentError(f"{raw['code']}: options need distinct scores from 0 and wording")
    return Item(code=raw["code"], indicator=raw["indicator"], name_zh=raw["name_zh"],
                name_en=raw["name_en"], options=options, note=raw.get("note", ""))


# ---------------------------------------------------------------------------------------------
# Rulesets


class RulesetError(ValueError):
    """A ruleset definition is invalid; `field` names where (e.g. `bands.adl[1].max`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Band:
    level: str
    min: int
    max: int

    def contains(self, total: int) -> bool:
        return self.min <= total <= self.max

    @property
    def range_text(self) -> str:
        return str(self.min) if self.min == self.max else f"{self.min}–{self.max}"


@dataclass(frozen=True)
class Supersession:
    """A version that replaces an earlier one says which, and why (shown wherever the earlier
    version appears once this one is in force)."""

    version: int
    reason: str


@dataclass(frozen=True)
class Ruleset:
    code: str
    version: int
    effective_from: date
    description: str
    method: str  # "combined": ADL level × the worse other level; "adl_only": ADL level alone
    bands: Mapping[str, tuple[Band, ...]]  # indicator -> bands; an indicator may be absent
    matrix: Mapping[str, Mapping[str, int]]  # combined: ADL level -> worse other level -> grade
    grades: Mapping[str, int]  # adl_only: ADL level -> grade
    instrument: Instrument = field(repr=False, compare=False)  # what it was validated against
    supersedes: Supersession | None = None

    @property
    def key(self) -> str:
        """What an assessment records: `national-2021@1`."""
        return f"{self.code}@{self.version}"

    def band(self, indicator: str, total: int) -> Band | None:
        return next((b for b in self.bands.get(indicator, ()) if b.contains(total)), None)


_RULESET_FIELDS = {"code", "version", "effective_from", "description", "method", "bands",
                   "matrix", "grades", "source", "notes", "supersedes"}


def parse_ruleset(definition: Mapping[str, Any], instrument: Instrument) -> Ruleset:
    """Validate a ruleset definition (JSON data) against the instrument; raise RulesetError
    naming the first bad field. Checks that every reachable total falls in exactly one band and
    that a lower total never gives a milder level or grade."""
    if not isinstance(definition, Mapping):
        raise RulesetError("ruleset", "评估规则必须是一个 JSON 对象")
    for key in definition:
        if key not in _RULESET_FIELDS:
            raise RulesetError(str(key), "未知的字段")
    method = _choice(definition, "method", METHODS)
    bands = _parse_bands(definition.get("bands"), method, instrument)
    adl_levels = _used_levels(bands["adl"])
    matrix: dict[str, dict[str, int]] = {}
    grades: dict[str, int] = {}
    if method == "combined":
        other_levels = _used_levels(bands["cognition"] + bands["perception"])
        matrix = _parse_matrix(definition.get("matrix"), adl_levels, other_levels)
    else:
        grades = _parse_grade_map(definition.get("grades"), "grades", adl_levels)
    version = _positive_int(definition, "version")
    return Ruleset(
        code=_text(definition, "code"),
        version=version,
        effective_from=_date(definition, "effective_from"),
        description=_text(definition, "description"),
        method=method, bands=bands, matrix=matrix, grades=grades, instrument=instrument,
        supersedes=_parse_supersedes(definition.get("supersedes"), version),
    )


def _parse_supersedes(raw: Any, version: int) -> Supersession | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or set(raw) != {"version", "reason"}:
        raise RulesetError("supersedes", "必须是 {version, reason} 对象")
    if not _is_int(raw["version"]) or not 1 <= raw["version"] < version:
        raise RulesetError("supersedes.version", f"必须是小于 {version} 的正整数（被取代的版本）")
    if not isinstance(raw["reason"], str) or not raw["reason"].strip():
        raise RulesetError("supersedes.reason", "请写明取代的原因")
    return Supersession(version=raw["version"], reason=raw["reason"].strip())


def _text(definition: Mapping[str, Any], field: str) -> str:
    value = definition.get(field)
    if not isinstance(value, str) or not value.strip():
        raise RulesetError(field, "必须是非空文本")
    return value


def _positive_int(definition: Mapping[str, Any], field: str) -> int:
    value = definition.get(field)
    if not _is_int(value) or value < 1:
        raise RulesetError(field, "必须是正整数")
    return value


def _date(definition: Mapping[str, Any], field: str) -> date:
    try:
        return date.fromisoformat(definition[field])
    except (KeyError, TypeError, ValueError):
        raise RulesetError(field, "必须是 YYYY-MM-DD 格式的日期") from None


def _choice(definition: Mapping[str, Any], field: str, allowed: Iterable[str]) -> str:
    value = definition.get(field)
    if value not in allowed:
        raise RulesetError(field, f"必须是以下之一：{'、'.join(allowed)}")
    return value


def _parse_bands(raw: Any, method: str, instrument: Instrument) -> dict[str, tuple[Band, ...]]:
    if not isinstance(raw, Mapping):
        raise RulesetError("bands", "必须是一个对象（指标 → 分段列表）")
    required = INDICATORS if method == "combined" else ("adl",)
    for indicator in raw:
        if indicator not in INDICATORS:
            raise RulesetError(f"bands.{indicator}", "未知的指标")
    for indicator in required:
        if indicator not in raw:
            raise RulesetError(f"bands.{indicator}", "缺少该指标的分段")
    return {indicator: _parse_indicator_bands(raw[indicator], indicator, instrument)
            for indicator in INDICATORS if indicator in raw}


def _parse_indicator_bands(raw: Any, indicator: str, instrument: Instrument) -> tuple[Band, ...]:
    field = f"bands.{indicator}"
    if not isinstance(raw, list) or not raw:
        raise RulesetError(field, "必须是非空的分段列表")
    top = instrument.max_total(indicator)
    bands = tuple(_parse_band(entry, f"{field}[{i}]", top) for i, entry in enumerate(raw))
    _check_coverage(bands, field, instrument.reachable_totals(indicator))
    _check_band_order(bands, field)
    return bands


def _parse_band(raw: Any, field: str, top: int) -> Band:
    if not isinstance(raw, Mapping):
        raise RulesetError(field, "必须是 {level, min, max} 对象")
    level = raw.get("level")
    if level not in LEVELS:
        raise RulesetError(f"{field}.level", f"必须是以下之一：{'、'.join(LEVELS)}")
    for bound in ("min", "max"):
        if not _is_int(raw.get(bound)) or not 0 <= raw[bound] <= top:
            raise RulesetError(f"{field}.{bound}", f"必须是 0 到 {top} 之间的整数")
    if raw["min"] > raw["max"]:
        raise RulesetError(f"{field}.min", "不能大于 max")
    return Band(level=level, min=raw["min"], max=raw["max"])


def _check_coverage(bands: tuple[Band, ...], field: str, reachable: frozenset[int]) -> None:
    # Only totals the instrument can produce matter: ADL 41–44 can never occur.
    for total in sorted(reachable):
        hits = [i for i, band in enumerate(bands) if band.contains(total)]
        if not hits:
            raise RulesetError(field, f"总分 {total} 不在任何分段内")
        if len(hits) > 1:
            raise RulesetError(field, f"总分 {total} 同时落在第 {hits[0]} 和第 {hits[1]} 段")


def _check_band_order(bands: tuple[Band, ...], field: str) -> None:
    by_total = sorted(bands, key=lambda band: band.min)
    severities = [LEVELS.index(band.level) for band in by_total]
    if severities != sorted(severities, reverse=True):
        raise RulesetError(field, "总分越低，等级必须越重（或相同）")


def _used_levels(bands: Iterable[Band]) -> list[str]:
    used = {band.level for band in bands}
    return [level for level in LEVELS if level in used]


def _parse_matrix(raw: Any, rows: list[str], columns: list[str]) -> dict[str, dict[str, int]]:
    if not isinstance(raw, Mapping):
        raise RulesetError("matrix", "必须是一个对象（日常生活活动能力等级 → 等级 → 失能等级）")
    _check_keys(raw, "matrix", rows)
    matrix = {row: _parse_grade_map(raw[row], f"matrix.{row}", columns) for row in rows}
    for column in columns:  # a more severe ADL level never gives a milder grade
        _check_monotone([matrix[row][column] for row in rows], f"matrix.*.{column}")
    return matrix


def _parse_grade_map(raw: Any, field: str, levels: list[str]) -> dict[str, int]:
    if not isinstance(raw, Mapping):
        raise RulesetError(field, "必须是一个对象（等级 → 失能等级 0–5）")
    _check_keys(raw, field, levels)
    for level in levels:
        if not _is_int(raw[level]) or raw[level] not in GRADE_LABELS:
            raise RulesetError(f"{field}.{level}", "必须是 0 到 5 的整数")
    grades = {level: raw[level] for level in levels}
    _check_monotone(list(grades.values()), field)
    return grades


def _check_keys(raw: Mapping[str, Any], field: str, levels: list[str]) -> None:
    for key in raw:
        if key not in levels:
            raise RulesetError(f"{field}.{key}", "未知或未使用的等级")
    for level in levels:
        if level not in raw:
            raise RulesetError(f"{field}.{level}", "缺少该等级")


def _check_monotone(grades: list[int], field: str) -> None:
    if grades != sorted(grades):
        raise RulesetError(field, "等级越重，失能等级必须越高（或相同）")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Scores


class InvalidScores(ValueError):
    """Scores that cannot be graded; `problems` maps item code (or `_unknown`) to a message."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("；".join(f"{code}: {message}" for code, message in problems.items()))
        self.problems = dict(problems)


def score_problems(scores: Mapping[str, object], instrument: Instrument, *,
                   complete: bool = True) -> dict[str, str]:
    """Every problem with the scores at once (一次性告知), in Chinese, by item code.

    `complete=False` is for drafts: missing (or null) items are fine, but unknown items and
    scores that are not one of the item's options are still problems."""
    problems: dict[str, str] = {}
    unknown = [str(code) for code in scores if not instrument.has_item(str(code))]
    if unknown:
        problems[UNKNOWN] = f"没有这些评估项目：{'、'.join(unknown)}，请检查项目代码"
    for item in instrument.items:
        message = _item_problem(item, scores.get(item.code), complete)
        if message:
            problems[item.code] = message
    return problems


def _item_problem(item: Item, value: object, complete: bool) -> str | None:
    if value is None:
        return f"请选择“{item.name_zh}”的得分（可选：{item.choices_text}）" if complete else None
    if not _is_int(value):
        return f"“{item.name_zh}”的得分必须是整数，请从 {item.choices_text} 中选择"
    if value not in item.scores:
        return f"“{item.name_zh}”的得分 {value} 不是可选分值，请从 {item.choices_text} 中选择"
    return None


def _totals(scores: Mapping[str, object], instrument: Instrument) -> dict[str, int]:
    """Sums of the valid scores present, per indicator (partial sums for a draft)."""
    totals = dict.fromkeys(INDICATORS, 0)
    for item in instrument.items:
        value = scores.get(item.code)
        if _is_int(value) and value in item.scores:
            totals[item.indicator] += value
    return totals


# ---------------------------------------------------------------------------------------------
# Grading


@dataclass(frozen=True)
class GradeResult:
    adl_total: int
    cognition_total: int
    perception_total: int
    adl_level: str | None  # None when the ruleset does not band that indicator
    cognition_level: str | None
    perception_level: str | None
    grade: int
    grade_label: str
    ruleset: str  # "code@version"
    explanation: list[str]

    def as_dict(self) -> dict[str, Any]:
        result = asdict(self)
        for indicator in INDICATORS:
            level = result[f"{indicator}_level"]
            result[f"{indicator}_level_label"] = LEVEL_LABELS[level] if level else None
        return result


def worse(*levels: str) -> str:
    """The more severe of some levels."""
    return max(levels, key=LEVELS.index)


def grade(scores: Mapping[str, int], ruleset: Ruleset,
          instrument: Instrument | None = None) -> GradeResult:
    """Grade a complete set of 17 scores (against the ruleset's instrument unless another is
    given); raise InvalidScores listing every problem."""
    instrument = instrument or ruleset.instrument
    problems = score_problems(scores, instrument)
    if problems:
        raise InvalidScores(problems)
    totals = _totals(scores, instrument)
    levels = {i: _level(ruleset, i, totals[i]) for i in INDICATORS}
    value = _grade_value(ruleset, levels)
    return GradeResult(
        adl_total=totals["adl"], cognition_total=totals["cognition"],
        perception_total=totals["perception"], adl_level=levels["adl"],
        cognition_level=levels["cognition"], perception_level=levels["perception"],
        grade=value, grade_label=GRADE_LABELS[value], ruleset=ruleset.key,
        explanation=explain(totals, levels, value, ruleset, instrument),
    )


def _level(ruleset: Ruleset, indicator: str, total: int) -> str | None:
    band = ruleset.band(indicator, total)
    return band.level if band else None


def _grade_value(ruleset: Ruleset, levels: Mapping[str, str | None]) -> int:
    # parse_ruleset guarantees a band for every reachable total of each indicator it needs.
    adl = str(levels["adl"])
    if ruleset.method == "adl_only":
        return ruleset.grades[adl]
    return ruleset.matrix[adl][worse(str(levels["cognition"]), str(levels["perception"]))]


def explain(totals: Mapping[str, int], levels: Mapping[str, str | None], value: int,
            ruleset: Ruleset, instrument: Instrument) -> list[str]:
    """Sentences a person can read: each total and its band, the combination, the grade."""
    lines = [_total_sentence(i, totals[i], ruleset, instrument) for i in INDICATORS]
    adl_name = instrument.indicator_name("adl")
    adl_label = LEVEL_LABELS[str(levels["adl"])]
    grade_text = f"{value}级 {GRADE_LABELS[value]}"
    if ruleset.method == "adl_only":
        lines.append(f"本规则仅依据{adl_name}分级：{adl_label}，评定为{grade_text}")
    else:
        cognition, perception = str(levels["cognition"]), str(levels["perception"])
        other = LEVEL_LABELS[worse(cognition, perception)]
        cog_name = instrument.indicator_name("cognition")
        per_name = instrument.indicator_name("perception")
        if cognition == perception:
            lines.append(f"{cog_name}与{per_name}均为{other}")
        else:
            lines.append(f"{cog_name}（{LEVEL_LABELS[cognition]}）与{per_name}"
                         f"（{LEVEL_LABELS[perception]}）中较重者为{other}")
        lines.append(f"{adl_name}{adl_label}，与{other}组合，评定为{grade_text}")
    lines.append(f"评估规则：{ruleset.code} 第{ruleset.version}版"
                 f"（{ruleset.effective_from.isoformat()}起）")
    return lines


def _total_sentence(indicator: str, total: int, ruleset: Ruleset,
                    instrument: Instrument) -> str:
    name = instrument.indicator_name(indicator)
    band = ruleset.band(indicator, total)
    if band is None:
        return f"{name}总分 {total} 分（本规则不据此分级）"
    return f"{name}总分 {total} 分，属{LEVEL_LABELS[band.level]}（{band.range_text}）"


def preview(scores: Mapping[str, object], ruleset: Ruleset,
            instrument: Instrument | None = None) -> dict[str, Any]:
    """Live figures for a half-filled form: totals of what is filled and valid, what is missing,
    every problem, and the grade (with levels and explanation) only once all 17 are valid."""
    instrument = instrument or ruleset.instrument
    problems = score_problems(scores, instrument, complete=False)
    missing = [item.code for item in instrument.items if scores.get(item.code) is None]
    totals = _totals(scores, instrument)
    complete = not missing and not problems
    figures: dict[str, Any] = {f"{i}_total": totals[i] for i in INDICATORS}
    figures.update(missing=len(missing), missing_items=missing, problems=problems,
                   complete=complete, grade=None, grade_label=None, ruleset=ruleset.key)
    if complete:
        figures.update(grade(scores, ruleset, instrument).as_dict())
    return figures
