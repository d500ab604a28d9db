"""The enrolment CSV import (all or nothing, every bad row reported) and the local gateway."""

import os
import sys
from datetime import date

import anyio
import pytest

from ltc.audit.tables import AuditEvent
from ltc.csvimport import REFUSED_CELL
from ltc.enrollment.gateway import (
    EnrollmentCheck,
    EnrollmentGateway,
    LocalEnrollmentGateway,
    configured_gateway,
    set_gateway,
)
from ltc.enrollment.importer import BadRows, import_enrollment
from ltc.enrollment.rules import EnrolmentStatus
from ltc.enrollment.tables import EnrollmentRecord
from ltc.errors import Forbidden
from ltc.identity import SYSTEM

pytestmark = pytest.mark.anyio

HEADER = "resident_id,insurance_number,name,scheme,region_code,status,start_date,end_date"
ZHANG = "370983195001011235,37098300012345,张三,resident,370983,enrolled,2020-01-01,"
LI = "370983196203150043,37098300012346,李四,resident,370983,ended,2018-01-01,2026-01-31"
WANG = "11010519491231002x,11010500099999,王五,employee,110105,enrolled,2015-07-01,"
GOOD = "\n".join([HEADER, ZHANG, LI, WANG]) + "\n"


def csv_bytes(text: str, bom: bool = False) -> bytes:
    return ("\ufeff" if bom else "").encode() + text.encode("utf-8")


async def counts():
    return await EnrollmentRecord.count(), await AuditEvent.count()


async def test_a_good_file_is_imported_with_one_audit_event(database_url) -> None:
    report = await import_enrollment(SYSTEM, csv_bytes(GOOD, bom=True), filename="/tmp/a.csv")
    assert (report.rows, report.new, report.updated, report.unchanged) == (3, 3, 0, 0)
    wang = await EnrollmentRecord.select().where(
        EnrollmentRecord.resident_id == "11010519491231002X").first()
    assert (wang["scheme"], wang["start_date"], wang["end_date"]) == (
        "employee", date(2015, 7, 1), None)
    assert wang["source"] == f"a.csv sha256:{report.sha256[:16]}"
    events = await AuditEvent.select().where(AuditEvent.action == "enrollment.imported")
    assert len(events) == 1 and report.sha256 in events[0]["summary"]
    assert '"new": 3' in events[0]["summary"]

    # The same file again: nothing to change. A corrected file: one update, one new.
    again = await import_enrollment(SYSTEM, csv_bytes(GOOD), filename="a.csv")
    assert (again.new, again.updated, again.unchanged) == (0, 0, 3)
    changed = GOOD.replace("李四,resident,370983,ended", "李四,resident,370983001,ended") + (
        "370983198002290014,37098300012347,单田芳,resident,370983,enrolled,2026-12-01,\n")
    third = await import_enrollment(SYSTEM, csv_bytes(changed), filename="b.csv")
    assert (third.new, third.updated, third.unchanged) == (1, 1, 2)
    assert await EnrollmentRecord.count() == 4
    assert await AuditEvent.count().where(AuditEvent.action == "enrollment.imported") == 3


async def test_every_bad_row_is_reported_and_nothing_is_imported(database_url) -> None:
    await import_enrollment(SYSTEM, csv_bytes(GOOD), filename="a.csv")
    before = await counts()
    text = "\n".join([
        HEADER,
        ZHANG.replace("张三", "张三丰"),  # line 2: good, but must not be imported either
        "370983195001011234,1,李四,resident,370983,enrolled,2020-01-01,",  # 3: check digit
        "370983196203150043,,李四,farmer,37,ended,2020-13-01,",  # 4: five problems
        "370983198002290014,9,单田芳,resident,370983,enrolled,2020/01/01,2021-01-01",  # 5
        "370983198002290014,9,单田芳,resident,370983,ended,2020-01-01,2019-12-31",  # 6
        "11010519491231002X,9,王五,resident,370983,enrolled,2020-01-01,,extra",  # 7
        "11010519491231002X,9,王五,resident,370983,enrolled,2020-01-01,",  # 8: good
        "11010519491231002x,9,王五,resident,370983,enrolled,2020-01-01,",  # 9: duplicate
    ]) + "\n"
    with pytest.raises(BadRows) as caught:
        await import_enrollment(SYSTEM, csv_bytes(text), filename="bad.csv")
    found = {(p.line, p.field) for p in caught.value.problems}
    assert found == {
        (3, "resident_id"),
        (4, "insurance_number"), (4, "scheme"), (4, "region_code"), (4, "start_date"),
        (4, "end_date"),
        (5, "start_date"), (5, "end_date"),
        (6, "end_date"),
        (7, ""),
        (9, "resident_id"),
    }
    messages = [str(p) for p in caught.value.problems]
    assert "第3行 resident_id（身份证号码）：身份证号码校验位不正确，请核对最后一位" in messages[0]
    assert any("第9行" in m and "与第8行重复" in m for m in messages)
    assert any("第6行" in m and "早于参保开始日期" in m for m in messages)
    assert any("第7行" in m and "这一行有9列" in m for m in messages)
    assert caught.value.code == "enrollment_rows_invalid" and "未导入任何记录" in (
        caught.value.message)
    assert await counts() == before
    zhang = await EnrollmentRecord.select().where(
        EnrollmentRecord.resident_id == "370983195001011235").first()
    assert zhang["name"] == "张三"


@pytest.mark.parametrize("dry_run", [True, False])
async def test_a_nul_in_a_cell_is_a_row_problem_not_a_server_error(database_url,
                                                                    dry_run) -> None:
    before = await counts()
    text = "\n".join([HEADER, ZHANG, LI.replace("李四", "李\x00四"), WANG]) + "\n"
    with pytest.raises(BadRows) as caught:  # PostgreSQL refused the NUL when written: a 500
        await import_enrollment(SYSTEM, csv_bytes(text), filename="nul.csv", dry_run=dry_run)
    assert [(p.line, p.field, p.message) for p in caught.value.problems] == [
        (3, "name", REFUSED_CELL)]
    assert await counts() == before


async def test_a_dry_run_counts_and_writes_nothing(database_url) -> None:
    await import_enrollment(SYSTEM, csv_bytes("\n".join([HEADER, ZHANG])), filename="a.csv")
    before = await counts()
    report = await import_enrollment(SYSTEM, csv_bytes(GOOD.replace("张三", "张三丰")),
                                     filename="a.csv", dry_run=True)
    assert (report.dry_run, report.new, report.updated, report.unchanged) == (True, 2, 1, 0)
    assert await counts() == before
    with pytest.raises(BadRows):
        await import_enrollment(SYSTEM, csv_bytes(HEADER + "\nx,,,,,,,\n"), filename="a.csv",
                                dry_run=True)


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (b"", 0, "文件是空的"),
        (csv_bytes(HEADER + "\n"), 0, "文件中没有数据行"),
        (csv_bytes("resident_id,name\n" + ZHANG), 1, "表头缺少列：insurance_number"),
        (csv_bytes(HEADER + ",name\n" + ZHANG + ",x"), 1, "表头有重复的列：name"),
        ((HEADER + "\n" + ZHANG + "\n").encode() + LI.encode("gbk"), 3, "不是UTF-8编码"),
    ],
)
async def test_file_level_problems(database_url, data, line, message) -> None:
    before = await counts()
    with pytest.raises(BadRows) as caught:
        await import_enrollment(SYSTEM, data, filename="f.csv")
    (problem,) = caught.value.problems
    assert problem.line == line and message in problem.message
    assert await counts() == before


async def test_bom_blank_lines_crlf_and_quoted_cells(database_url) -> None:
    text = "\r\n".join([HEADER.upper(), '"370983195001011235","1","张三",resident,370983,'
                        'enrolled,2020-01-01,', "", LI, ""])
    report = await import_enrollment(SYSTEM, csv_bytes(text, bom=True), filename="excel.csv")
    assert report.new == 2
    # A quoted cell spanning two lines: the next record's line number is still right.
    text = "\n".join([HEADER, '370983198002290014,1,"单田\n芳",resident,370983,enrolled,'
                      '2020-01-01,', "11010519491231002X,1,王五,resident,370983,ended,,"])
    with pytest.raises(BadRows) as caught:
        await import_enrollment(SYSTEM, csv_bytes(text), filename="f.csv")
    assert {(p.line, p.field) for p in caught.value.problems} == {
        (2, "name"), (4, "start_date"), (4, "end_date")}


async def test_columns_the_bureau_adds_are_ignored(database_url) -> None:
    text = "\n".join(["remark," + HEADER + ",机构", "x," + ZHANG + ",y", "," + LI + ","])
    report = await import_enrollment(SYSTEM, csv_bytes(text), filename="bureau.csv")
    assert report.new == 2


async def test_only_clerks_import(database_url) -> None:
    from conftest import make_user

    from ltc.accounts import service as accounts

    reviewer = await accounts.actor_for_user((await make_user("reviewer"))["id"])
    with pytest.raises(Forbidden):
        await import_enrollment(reviewer, csv_bytes(GOOD), filename="a.csv")
    clerk = await accounts.actor_for_user((await make_user("clerk"))["id"])
    assert (await import_enrollment(clerk, csv_bytes(GOOD), filename="a.csv")).new == 3


async def test_the_local_gateway_answers_from_the_imported_records(database_url) -> None:
    await import_enrollment(SYSTEM, csv_bytes(GOOD + "370983198002290014,9,单田芳,resident,"
                                              "370983,enrolled,2026-12-01,\n"), filename="a.csv")
    gateway = LocalEnrollmentGateway()
    assert isinstance(gateway, EnrollmentGateway)
    on = date(2026, 11, 22)
    zhang = await gateway.check("370983195001011235", on)
    assert (zhang.enrolled, zhang.scheme, zhang.insurance_number, zhang.region_code) == (
        True, "resident", "37098300012345", "370983")
    assert zhang.reason is None and zhang.source.startswith("local:a.csv")
    li = await gateway.check("370983196203150043", on)
    assert not li.enrolled and li.reason == "基本医疗保险参保已于2026-01-31终止"
    assert (await gateway.check("370983196203150043", date(2026, 1, 31))).enrolled
    later = await gateway.check("370983198002290014", on)
    assert not later.enrolled and "2026-12-01起生效" in later.reason
    assert (await gateway.check("11010519491231002x", on)).enrolled  # lower-case x
    nobody = await gateway.check("370983198102280016", on)
    assert not nobody.enrolled and "未查到" in nobody.reason and nobody.scheme is None


async def test_the_configured_gateway_can_be_swapped(database_url) -> None:
    class Always:
        async def check(self, resident_id, on):
            return EnrollmentCheck(EnrolmentStatus.enrolled, "resident", "X", "370983", None,
                                   "test")

    assert isinstance(configured_gateway(), LocalEnrollmentGateway)
    set_gateway(Always())
    try:
        assert (await configured_gateway().check("x", date.today())).source == "test"
    finally:
        set_gateway(None)
    assert isinstance(configured_gateway(), LocalEnrollmentGateway)


def cli_env(database_url: str, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    env.update({"LTC_DATABASE_URL": database_url, "LTC_VAR_DIR": str(tmp_path / "var")})
    if database_url.startswith("postgres"):
        # Settings demand a shared broker and a secret with PostgreSQL; import uses neither.
        env.update({"LTC_BROKER_URL": "redis://127.0.0.1:6379/0",
                    "LTC_SECRET_KEY": "k" * 40, "LTC_DATABASE_POOL_SIZE": "0"})
    return env


async def run_cli(*args, env):
    return await anyio.run_process([sys.executable, "-m", "ltc.enrollment.cli", *args],
                                   env=env, check=False)


async def test_cli_exit_codes(database_url, tmp_path) -> None:
    env = cli_env(database_url, tmp_path)
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(GOOD, bom=True))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(GOOD + "370983195001011234,1,李四,resident,370983,enrolled,"
                              "2020-01-01,\n"))

    result = await run_cli("import", str(bad), env=env)
    assert result.returncode == 2, result.stderr.decode()
    err = result.stderr.decode()
    assert "未导入任何记录" in err
    assert "第5行 resident_id（身份证号码）：身份证号码校验位不正确" in err
    assert await EnrollmentRecord.count() == 0

    dry = await run_cli("import", str(good), "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr.decode()
    assert "new 3" in dry.stdout.decode() and "dry run" in dry.stdout.decode()
    assert await EnrollmentRecord.count() == 0

    real = await run_cli("import", str(good), env=env)
    assert real.returncode == 0, real.stderr.decode()
    assert "new 3" in real.stdout.decode() and "imported" in real.stdout.decode()
    assert await EnrollmentRecord.count() == 3
    event = await AuditEvent.select().where(AuditEvent.action == "enrollment.imported").first()
    assert event["actor_name"] == "命令行 ltc enrollment import"

    missing = await run_cli("import", str(tmp_path / "nope.csv"), env=env)
    assert missing.returncode == 1 and "文件不存在" in missing.stderr.decode()
