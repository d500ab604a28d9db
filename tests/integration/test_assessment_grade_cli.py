"""`ltc grade` as support staff and scripts use it: JSON on stdin, JSON on stdout, exit 2 on
bad input with every problem named on stderr. Runs the real command in a subprocess."""

import json
import os
import subprocess
import sys

import pytest

from ltc.assessments.bundled import load_instrument

# ADL 35 (severe), cognition 13 (mild), perception 6: moderate by national-2021 version 1 → 5
# 重度失能Ⅲ级; mild by the corrected version 2 (the default) → 4 重度失能Ⅱ级.
SEVERE = {"eating": 5, "dressing": 5, "face_mouth_hygiene": 0, "bowel_control": 10,
          "bladder_control": 5, "toileting": 5, "walking": 5, "bed_chair_transfer": 0,
          "stairs": 0, "bathing": 0, "time_orientation": 3, "person_orientation": 4,
          "place_orientation": 3, "memory": 3, "vision": 2, "hearing": 2, "communication": 2}
INTACT = {item.code: max(item.scores) for item in load_instrument().items}
FIELDS = {"adl_total", "cognition_total", "perception_total", "adl_level", "cognition_level",
          "perception_level", "grade", "grade_label", "ruleset", "explanation"}


def ltc_grade(stdin: str | bytes, *args: str) -> subprocess.CompletedProcess:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    # A C locale proves the output is UTF-8 regardless of the terminal.
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": "ascii"}
    env = {k: v for k, v in env.items() if not k.startswith("LTC_")}
    result = subprocess.run([sys.executable, "-m", "ltc.assessments.cli", *args],
                            input=data, capture_output=True, env=env, timeout=60)
    result.stdout = result.stdout.decode("utf-8")
    result.stderr = result.stderr.decode("utf-8")
    return result


def test_an_object_in_gives_an_object_out() -> None:
    result = ltc_grade(json.dumps(SEVERE))
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert FIELDS <= output.keys()
    assert (output["adl_total"], output["cognition_total"], output["perception_total"]) == (
        35, 13, 6)
    assert (output["adl_level"], output["cognition_level"], output["perception_level"]) == (
        "severe", "mild", "mild")
    assert (output["grade"], output["grade_label"], output["ruleset"]) == (
        4, "重度失能Ⅱ级", "national-2021@2")
    assert "日常生活活动能力总分 35 分，属重度受损（0–40）" in output["explanation"]
    assert "感知觉与沟通能力总分 6 分，属轻度受损（4–11）" in output["explanation"]
    assert "重度失能Ⅱ级" in result.stdout  # Chinese as is, not \u escapes
    assert result.stderr == ""  # the version in force: nothing to warn about


def test_version_1_still_grades_and_says_it_is_superseded_and_why() -> None:
    result = ltc_grade(json.dumps(SEVERE), "--ruleset", "national-2021@1")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert (output["grade"], output["grade_label"], output["ruleset"]) == (
        5, "重度失能Ⅲ级", "national-2021@1")
    assert "national-2021 第1版已被第2版取代" in result.stderr
    assert "取代原因：" in result.stderr and "医保办发〔2021〕37号" in result.stderr


@pytest.mark.parametrize(("spec", "words"), [
    ("national-2021@7", "没有第7版，可用：national-2021@1、national-2021@2"),
    ("national-2021@x", "版本号“x”无效")])
def test_an_unknown_version_exits_2(spec: str, words: str) -> None:
    result = ltc_grade(json.dumps(SEVERE), "--ruleset", spec)
    assert result.returncode == 2 and result.stdout == ""
    assert words in result.stderr


def test_an_array_in_gives_an_array_out_in_order() -> None:
    result = ltc_grade(json.dumps([SEVERE, INTACT, SEVERE]))
    assert result.returncode == 0, result.stderr
    assert [r["grade"] for r in json.loads(result.stdout)] == [4, 0, 4]
    empty = ltc_grade("[]")
    assert (empty.returncode, json.loads(empty.stdout)) == (0, [])


def test_another_ruleset_by_name() -> None:
    result = ltc_grade(json.dumps(SEVERE), "--ruleset", "barthel-legacy")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert (output["grade"], output["grade_label"], output["ruleset"]) == (
        3, "重度失能Ⅰ级", "barthel-legacy@1")
    assert output["cognition_level"] is None


def test_a_byte_order_mark_is_tolerated() -> None:
    result = ltc_grade(b"\xef\xbb\xbf" + json.dumps(INTACT).encode())
    assert result.returncode == 0, result.stderr


def without(code: str) -> dict:
    return {k: v for k, v in SEVERE.items() if k != code}


@pytest.mark.parametrize(
    ("record", "named"),
    [(without("memory"), "memory: 请选择“记忆力”的得分"),
     ({**SEVERE, "eatting": 10}, "eatting: 没有这个评估项目，请检查项目代码"),
     ({**SEVERE, "walking": 7}, "walking: “平地行走”的得分 7 不是可选分值"),
     ({**SEVERE, "vision": 5}, "vision: “视力”的得分 5 不是可选分值"),
     ({**SEVERE, "hearing": "2"}, "hearing: “听力”的得分必须是整数"),
     ({**SEVERE, "bathing": None}, "bathing: 请选择“洗澡”的得分"),
     ({**SEVERE, "stairs": 5.0}, "stairs: “上下楼梯”的得分必须是整数")],
)
def test_bad_records_exit_2_naming_the_item(record: dict, named: str) -> None:
    alone = ltc_grade(json.dumps(record))
    assert (alone.returncode, alone.stdout) == (2, "")
    assert named in alone.stderr and "Traceback" not in alone.stderr
    in_array = ltc_grade(json.dumps([INTACT, record]))
    assert (in_array.returncode, in_array.stdout) == (2, "")
    assert f"[1] {named}" in in_array.stderr and "[0]" not in in_array.stderr


def test_every_problem_in_every_record_is_listed() -> None:
    bad = [{**SEVERE, "eating": 1, "x": 0, "y": 0}, INTACT, without("vision")]
    result = ltc_grade(json.dumps(bad))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "[0] x: 没有这个评估项目，请检查项目代码",
        "[0] y: 没有这个评估项目，请检查项目代码",
        "[0] eating: “进食”的得分 1 不是可选分值，请从 10、5、0 中选择",
        "[2] vision: 请选择“视力”的得分（可选：4、3、2、1、0）",
    ]


@pytest.mark.parametrize(
    ("stdin", "message"),
    [("", "不是有效的 UTF-8 JSON"), ('{"eating": 10,', "不是有效的 UTF-8 JSON"),
     (b"\xff\xfe{}", "不是有效的 UTF-8 JSON"), ("42", "必须是 JSON 对象"),
     ('"eating"', "必须是 JSON 对象"), ("null", "必须是 JSON 对象"),
     ('[{"eating": 10}, 7]', "[1] 输入必须是 JSON 对象")],
)
def test_input_that_is_not_score_objects_exits_2(stdin: str | bytes, message: str) -> None:
    result = ltc_grade(stdin)
    assert (result.returncode, result.stdout) == (2, "")
    assert message in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_ruleset_exits_2_listing_the_known_ones() -> None:
    result = ltc_grade(json.dumps(SEVERE), "--ruleset", "feicheng-2030")
    assert (result.returncode, result.stdout) == (2, "")
    assert "未知的评估规则“feicheng-2030”" in result.stderr
    assert "barthel-legacy、national-2021" in result.stderr
