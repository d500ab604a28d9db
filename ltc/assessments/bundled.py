"""The instrument and the grading rulesets shipped in fixtures/: read from disk here, so the
grading rules (ltc.assessments.grading) stay pure.

A ruleset file holds one version: `fixtures/rulesets/<code>.json` or `<code>@<version>.json`.
Versions are immutable; a correction is a new file with a higher version that names the one
it supersedes and why.
"""

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


def load_bundled_versions() -> list[dict]:
    """Every version of every shipped ruleset (fresh dicts), by code, then version."""
    definitions = [json.loads(text) for text in _bundled_texts().values()]
    return sorted(definitions, key=lambda d: (d["code"], d["version"]))


def load_bundled_rulesets() -> dict[str, dict]:
    """code -> the newest shipped version of each ruleset (fresh dicts)."""
    return {definition["code"]: definition for definition in load_bundled_versions()}


def split_key(spec: str) -> tuple[str, int | None]:
    """`national-2021` → (code, None: the newest); `national-2021@1` → (code, 1)."""
    code, _, version = spec.strip().partition("@")
    if not version:
        return code, None
    if not version.isdigit() or int(version) < 1:
        raise RulesetError("ruleset", f"版本号“{version}”无效，应为正整数，如 {code}@1")
    return code, int(version)


def load_ruleset(spec: str, instrument: Instrument | None = None) -> Ruleset:
    """A bundled ruleset by code (its newest version) or by `code@version`, validated."""
    code, version = split_key(spec)
    versions = [d for d in load_bundled_versions() if d["code"] == code]
    if not versions:
        known = sorted({d["code"] for d in load_bundled_versions()})
        raise RulesetError("ruleset", f"未知的评估规则“{code}”，可用：{'、'.join(known)}")
    if version is None:
        return parse_ruleset(versions[-1], instrument or load_instrument())
    chosen = [d for d in versions if d["version"] == version]
    if not chosen:
        have = "、".join(f"{code}@{d['version']}" for d in versions)
        raise RulesetError("ruleset", f"评估规则 {code} 没有第{version}版，可用：{have}")
    return parse_ruleset(chosen[0], instrument or load_instrument())


def superseded_by(ruleset: Ruleset, instrument: Instrument | None = None) -> Ruleset | None:
    """The shipped version that supersedes this one, if any (the newest that names it)."""
    newer = [parse_ruleset(d, instrument or load_instrument()) for d in load_bundled_versions()
             if d["code"] == ruleset.code and d["version"] > ruleset.version]
    naming = [r for r in newer if r.supersedes and r.supersedes.version == ruleset.version]
    return naming[-1] if naming else (newer[-1] if newer else None)
