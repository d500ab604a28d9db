"""The admin's policy form (ltc.policy.rules.PARAMETERS): a policy as input values and back,
and as the lines of the version list. No I/O.

Each kind of parameter has one way to be typed: money in 元 with up to two decimals (stored
as fen), percentages with up to two decimals (stored as basis points), grades and care items
ticked (one checkbox each, named "<parameter>.<grade or code>"), per-grade values one input
per grade ("visits_per_month.3"). What cannot be read is passed on as typed, so parse_policy
reports it under that input's name, next to the input.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from ltc.grades import GRADE_LABELS
from ltc.money import parse_yuan, plain_yuan
from ltc.policy.rules import MAX_GRADE, MIN_GRADE, PARAMETERS, Parameter, Policy, percent_text

_INTEGER = re.compile(r"-?[0-9]{1,9}")
_PERCENT = re.compile(r"([0-9]{1,3})(?:\.([0-9]{1,2}))?")
_TRUE = frozenset({"true", "on", "1", "yes", "是"})
_FALSE = frozenset({"", "false", "off", "0", "no", "否"})
TICKED = "on"  # what a ticked checkbox posts


def parse_percent(text: str) -> int:
    """`5` / `12.5` / `0.01` / `5%` (full-width too) → basis points (500, 1250, 1), exactly:
    digits are counted, never put through a float. ValueError for a sign, a third decimal or
    anything but a number; whether it is within range is the parameter's `bounds`."""
    cleaned = unicodedata.normalize("NFKC", text).strip().removesuffix("%").strip()
    match = _PERCENT.fullmatch(cleaned)
    if not match:
        raise ValueError(text)
    return int(match[1]) * 100 + int((match[2] or "").ljust(2, "0"))


def _typed(convert: Any, text: str) -> Any:
    try:
        return convert(text)
    except ValueError:
        return text


def _form_int(text: str) -> int | str:
    cleaned = unicodedata.normalize("NFKC", text).strip()
    return int(cleaned) if _INTEGER.fullmatch(cleaned) else text


def _form_bool(text: str | None) -> bool | str:
    if text is None:  # an unticked checkbox is not posted at all
        return False
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return text


def _ticked(values: Mapping[str, Any], name: str) -> list[str]:
    """The suffixes of the ticked "<name>.<suffix>" checkboxes."""
    prefix = name + "."
    return [key[len(prefix):] for key, value in values.items()
            if key.startswith(prefix) and isinstance(value, str) and value.strip()]


def _form_grades(ticked: list[str]) -> list[int] | str:
    if not all(len(g) == 1 and str(MIN_GRADE) <= g <= str(MAX_GRADE) for g in ticked):
        return ",".join(ticked)  # not a grade: parse_policy says what to choose
    return [int(g) for g in ticked]


def form_values(policy: Policy) -> dict[str, str]:
    """The policy as the admin form's input values: money in 元 with two decimals,
    percentages as typed, a ticked checkbox per eligible grade and per care item, one input
    per eligible grade for per-grade values ("visits_per_month.3")."""
    values: dict[str, str] = {}
    for parameter in PARAMETERS:
        name, kind = parameter.name, parameter.kind
        value = getattr(policy, name)
        if kind in ("grades", "codes"):
            values.update({f"{name}.{item}": TICKED for item in value})
        elif kind == "fen":
            values[name] = "" if value is None else plain_yuan(value)
        elif kind == "percent":
            values[name] = percent_text(value)
        elif kind == "bool":
            values[name] = "true" if value else "false"
        elif kind in ("grade_int", "grade_fen"):
            for grade, amount in sorted(value.items()):
                values[f"{name}.{grade}"] = (plain_yuan(amount) if kind == "grade_fen"
                                             else str(amount))
        else:  # int, text, choice
            values[name] = str(value)
    return values


def from_form(values: Mapping[str, Any]) -> dict[str, Any]:
    """Posted form strings → a definition for parse_policy.

    Inputs that are not parameters (a CSRF token, the button) are ignored; a missing checkbox
    is "no" (and an unticked grade or item is not chosen); per-grade inputs count only for
    the eligible grades ticked (when those are valid), so the form shows an input for every
    grade 1–5.
    """
    definition: dict[str, Any] = {}
    for parameter in PARAMETERS:
        name, kind = parameter.name, parameter.kind
        if kind == "bool":
            definition[name] = _form_bool(values.get(name))
        elif kind == "grades":
            definition[name] = _form_grades(_ticked(values, name))
        elif kind == "codes":
            definition[name] = _ticked(values, name)
        elif kind in ("grade_int", "grade_fen"):
            definition[name] = _grade_inputs(parameter, values, definition.get("eligible_grades"))
        elif name not in values:
            if parameter.optional:
                definition[name] = None
            # else parse_policy reports it missing
        elif not isinstance(text := values[name], str):
            definition[name] = text
        elif kind == "fen":
            definition[name] = (None if parameter.optional and not text.strip()
                                else _typed(parse_yuan, text))
        elif kind == "percent":
            definition[name] = _typed(parse_percent, text)
        elif kind == "int":
            definition[name] = _form_int(text)
        elif kind == "choice":
            definition[name] = text.strip()
        else:  # text
            definition[name] = text.replace("\r\n", "\n").strip()
    return definition


def _grade_inputs(parameter: Parameter, values: Mapping[str, Any], grades: Any
                  ) -> dict[str, Any]:
    prefix = parameter.name + "."
    posted = {k[len(prefix):]: v for k, v in values.items()
              if k.startswith(prefix) and isinstance(v, str) and v.strip()}
    if isinstance(grades, list):
        posted = {str(g): posted[str(g)] for g in grades if str(g) in posted}
    if parameter.kind == "grade_fen":
        return {grade: _typed(parse_yuan, text) for grade, text in posted.items()}
    return {grade: _form_int(text) for grade, text in posted.items()}


def describe(policy: Policy, item_names: Mapping[str, str]) -> list[tuple[str, str]]:
    """(label, value) for every parameter, as the version list shows a version: grades and
    care items by name, money in 元, percentages with %."""
    lines = []
    for parameter in PARAMETERS:
        value = getattr(policy, parameter.name)
        lines.append((parameter.label_zh, _shown(parameter, value, item_names)))
    return lines


def _shown(parameter: Parameter, value: Any, item_names: Mapping[str, str]) -> str:
    kind, unit = parameter.kind, parameter.unit_zh
    if kind == "grades":
        return "、".join(GRADE_LABELS[g] for g in value)
    if kind == "codes":
        return "、".join(item_names.get(code, code) for code in value) or "无"
    if kind in ("grade_int", "grade_fen"):
        return "；".join(f"{GRADE_LABELS[g]} {plain_yuan(n) if kind == 'grade_fen' else n}{unit}"
                        for g, n in sorted(value.items()))
    if kind == "fen":
        return "未设定" if value is None else f"{plain_yuan(value)}{unit}"
    if kind == "percent":
        return f"{percent_text(value)}%"
    if kind == "bool":
        return "是" if value else "否"
    if kind == "choice":
        return dict(parameter.choices).get(value, value)
    return f"{value}{unit}"
