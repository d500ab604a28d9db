"""The instrument and the grading rulesets shipped in fixtures/: read from disk here, so the
grading rules (ltc.assessments.grading) stay pure."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from ltc.assessments.grading import (
    Instrument,
    Ruleset,
    RulesetError,
    parse_instrument,
    parse_ruleset,
)

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures"
RULESETS_DIR = FIXTURES / "rulesets"


@cache
def load_instrument() -> Instrument:
    """The bundled instrument (fixtures/instrument.json), read once per process."""
    return parse_instrument(json.loads((FIXTURES / "instrument.json").read_text(encoding="utf-8")))


@cache
def _bundled_texts() -> dict[str, str]:
    return {path.stem: path.read_text(encoding="utf-8")
            for path in sorted(RULESETS_DIR.glob("*.json"))}


def load_bundled_rulesets() -> dict[str, dict]:
    """code -> definition of every ruleset shipped in fixtures/rulesets/ (fresh dicts)."""
    definitions = [json.loads(text) for text in _bundled_texts().values()]
    return {definition["code"]: definition for definition in definitions}


def load_ruleset(code: str, instrument: Instrument | None = None) -> Ruleset:
    """A bundled ruleset by code, validated."""
    bundled = load_bundled_rulesets()
    if code not in bundled:
        raise RulesetError("ruleset", f"未知的评估规则“{code}”，可用：{'、'.join(sorted(bundled))}")
    return parse_ruleset(bundled[code], instrument or load_instrument())
