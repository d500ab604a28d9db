"""`ltc grade`: grade item scores from stdin, for support staff and scripts.

One JSON object of item scores in → one result object out; an array in → an array out, in the
same order. Any bad input prints every problem on stderr, naming the item (and, for arrays, the
index), prints nothing on stdout, and exits 2. Needs no database: it grades by the shipped
rulesets (fixtures/rulesets/), by default the newest version of national-2021; an older version
(`--ruleset national-2021@1`) still grades, with a note on stderr saying what superseded it
and why.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from ltc.assessments import bundled, grading
from ltc.assessments.grading import Instrument, Ruleset, RulesetError
from ltc.assessments.ruleset_cli import ruleset

INVALID_INPUT = 2


def _fail(lines: list[str]) -> NoReturn:
    _write("stderr", "\n".join(lines) + "\n")
    sys.exit(INVALID_INPUT)


def _write(stream: str, text: str) -> None:
    # Bytes, not text: the output is UTF-8 whatever the terminal's locale says.
    out = getattr(sys, stream).buffer
    out.write(text.encode("utf-8"))
    out.flush()


def _json_type(value: Any) -> str:
    names = {bool: "布尔值", int: "数字", float: "数字", str: "文本", list: "数组"}
    return "空值（null）" if value is None else names.get(type(value), type(value).__name__)


def _problems(record: Any, prefix: str, instrument: Instrument) -> list[str]:
    if not isinstance(record, dict):
        return [f"{prefix}输入必须是 JSON 对象（项目代码 → 分值），实际是{_json_type(record)}"]
    problems = grading.score_problems(record, instrument)
    # One line per unknown item, so that every line starts with the item it is about.
    unknown = [f"{prefix}{code}: 没有这个评估项目，请检查项目代码"
               for code in record if not instrument.has_item(code)]
    return unknown + [f"{prefix}{code}: {message}" for code, message in problems.items()
                      if code != grading.UNKNOWN]


def grade_document(document: Any, ruleset: Ruleset, instrument: Instrument) -> Any:
    """The output for one parsed input document, or SystemExit(2) listing every problem."""
    is_array = isinstance(document, list)
    records = document if is_array else [document]
    prefixes = [f"[{i}] " if is_array else "" for i in range(len(records))]
    problems = [line for record, prefix in zip(records, prefixes, strict=True)
                for line in _problems(record, prefix, instrument)]
    if problems:
        _fail(problems)
    results = [grading.grade(record, ruleset, instrument).as_dict() for record in records]
    return results if is_array else results[0]


def superseded_note(ruleset: Ruleset, instrument: Instrument) -> str | None:
    newer = bundled.superseded_by(ruleset, instrument)
    if newer is None:
        return None
    reason = newer.supersedes.reason if newer.supersedes else ""
    return (f"注意：评估规则 {ruleset.code} 第{ruleset.version}版已被第{newer.version}版取代"
            + (f"。取代原因：{reason}" if reason else "")
            + f"\n（按现行版本评定请去掉 @{ruleset.version}，或用 --ruleset {newer.key}）")


@click.command("grade")
@click.option("--ruleset", "ruleset_code", default=grading.DEFAULT_RULESET, show_default=True,
              help="A bundled ruleset (fixtures/rulesets/): its code for the newest version "
                   "(e.g. barthel-legacy), or code@version (e.g. national-2021@1).")
def grade(ruleset_code: str) -> None:
    """Grade item scores read from stdin as JSON: one object, or an array of objects.

    Example: echo '{"eating": 10, ...all 17 items...}' | ltc grade
    """
    instrument = bundled.load_instrument()
    try:
        ruleset = bundled.load_ruleset(ruleset_code, instrument)
    except RulesetError as exc:
        _fail([f"--ruleset: {exc.message}"])
    raw = sys.stdin.buffer.read()
    try:
        document = json.loads(raw.decode("utf-8-sig"))  # tolerate a BOM from Windows tools
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail([f"输入不是有效的 UTF-8 JSON：{exc}"])
    output = grade_document(document, ruleset, instrument)
    _write("stdout", json.dumps(output, ensure_ascii=False, indent=2) + "\n")
    if note := superseded_note(ruleset, instrument):
        _write("stderr", note + "\n")


COMMANDS = [grade, ruleset]


if __name__ == "__main__":
    grade(prog_name="ltc grade")
