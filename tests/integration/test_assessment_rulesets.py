"""Ruleset versions (issue 12): the corrected national-2021 loads waiting for its date, an
admin sets the day it takes effect (page and `ltc ruleset activate`), new conclusions grade
by the version in force, and every assessment keeps the version it was graded with."""

from datetime import timedelta

import pytest
from conftest import make_user, sign_in
from test_assessments import _add_video, _onsite, _version, actor, case  # noqa: F401
from test_cli import ltc

from ltc import clock
from ltc.assessments import rulesets, service
from ltc.assessments.tables import Assessment, Ruleset
from ltc.audit.tables import AuditEvent
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.identity import SYSTEM

pytestmark = pytest.mark.anyio


async def _states() -> dict[str, tuple[str, str]]:
    rows = await Ruleset.select(Ruleset.code, Ruleset.version, Ruleset.state,
                                Ruleset.effective_from)
    return {f"{r['code']}@{r['version']}": (r["state"], r["effective_from"].isoformat())
            for r in rows}


async def _activations() -> int:
    return await AuditEvent.count().where(AuditEvent.action == "ruleset.activated")


async def _conclude(assessment_id: int) -> dict:
    for who in ("a1", "a2"):
        if who == "a1":
            await _onsite(assessment_id)
        await service.sign(await actor(who), assessment_id,
                           expected_version=await _version(assessment_id))
    await _add_video(assessment_id)
    await service.submit(await actor("a1"), assessment_id,
                         expected_version=await _version(assessment_id))
    reviewer = await actor("reviewer")
    await service.conclude(reviewer, assessment_id,
                           expected_version=await _version(assessment_id))
    return await service.get_assessment(reviewer, assessment_id)


async def test_the_corrected_version_waits_for_its_date(database_url) -> None:
    states = await _states()
    assert states["national-2021@1"] == ("ACTIVE", "2021-07-16")
    assert states["national-2021@2"][0] == "PENDING"
    in_force = await service.ruleset_for("370983/370983001", clock.now())
    assert (in_force["code"], in_force["version"]) == ("national-2021", 1)


async def test_conclusions_grade_by_the_version_in_force_and_keep_it(case) -> None:  # noqa: F811
    admin = await actor(( await make_user("admin"))["username"])
    first = await _conclude(case)
    assert (first["grade"], first["ruleset.version"]) == (5, 1)  # cognition 8: moderate in v1

    await rulesets.activate(admin, "national-2021", 2, clock.today(), "医保局通知")
    in_force = await service.ruleset_for("370983/370983001", clock.now())
    assert in_force["version"] == 2

    # A second assessment of the same scores now grades by version 2 …
    row = await Assessment.select().where(Assessment.id == case).first()
    second = Assessment(**{k: v for k, v in row.items() if k not in (
        "id", "state", "ruleset", "result", "grade", "signed_1_at", "signed_2_at",
        "submitted_at", "reviewed_by", "concluded_at", "version")}, state="ASSIGNED")
    await second.save()
    again = await _conclude(second.id)
    assert (again["grade"], again["ruleset.version"]) == (4, 2)
    assert again["result"]["ruleset"] == "national-2021@2"
    assert again["result"]["explanation"][-1] == (
        f"评估规则：national-2021 第2版（{clock.today().isoformat()}起）")
    # … and the first keeps version 1 and its grade.
    kept = await service.get_assessment(await actor("reviewer"), case)
    assert (kept["grade"], kept["ruleset.version"], kept["result"]["ruleset"]) == (
        5, 1, "national-2021@1")
    status = await rulesets.status_of(kept["ruleset"])
    assert status.label == f"已被第2版取代（{clock.today().isoformat()}起）"
    assert "医保办发〔2021〕37号" in status.reason


async def test_activation_is_audited_and_safe_when_sent_twice(database_url) -> None:
    admin = await actor((await make_user("admin"))["username"])
    later = clock.today() + timedelta(days=30)
    await rulesets.activate(admin, "national-2021", 2, later.isoformat(), "第一次")
    await rulesets.activate(admin, "national-2021", 2, later.isoformat(), "重复提交")
    assert (await _states())["national-2021@2"] == ("ACTIVE", later.isoformat())
    assert await _activations() == 1
    event = await AuditEvent.select().where(AuditEvent.action == "ruleset.activated").first()
    assert "第一次" in event["summary"] and "重复提交" not in event["summary"]
    # Not yet in force: version 1 still grades, and the date may still move.
    assert (await service.ruleset_for("370983", clock.now()))["version"] == 1
    assert (await service.ruleset_for(
        "370983", clock.now() + timedelta(days=30)))["version"] == 2
    sooner = clock.today() + timedelta(days=7)
    await rulesets.activate(admin, "national-2021", 2, sooner)
    assert (await _states())["national-2021@2"] == ("ACTIVE", sooner.isoformat())
    assert await _activations() == 2


async def test_a_version_in_force_keeps_its_date(database_url) -> None:
    await rulesets.activate(SYSTEM, "national-2021", 2, clock.today())
    with pytest.raises(Conflict) as raised:
        await rulesets.activate(SYSTEM, "national-2021", 2, clock.today() + timedelta(days=3))
    assert raised.value.code == "ruleset_in_force"
    assert "已于" in raised.value.message and "不能再更改" in raised.value.message


@pytest.mark.parametrize(
    ("code", "version", "day", "error", "words"),
    [("national-2021", 2, "yesterday", "invalid_ruleset_activation", "不能早于今天"),
     ("national-2021", 2, "2027/01/01", "invalid_ruleset_activation", "格式为 YYYY-MM-DD"),
     ("national-2021", 2, "", "invalid_ruleset_activation", "请填写生效日期"),
     ("national-2021", 3, "today", "ruleset_not_found", "没有第3版（已加载：第1版、第2版）"),
     ("shanghai-2030", 1, "today", "ruleset_not_found", "没有第1版")],
)
async def test_bad_activations_are_refused_and_change_nothing(
        database_url, code: str, version: int, day: str, error: str, words: str) -> None:
    admin = await actor((await make_user("admin"))["username"])
    before = await _states()
    value = {"yesterday": (clock.today() - timedelta(days=1)).isoformat(),
             "today": clock.today().isoformat()}.get(day, day)
    with pytest.raises((InvalidInput, NotFound)) as raised:
        await rulesets.activate(admin, code, version, value)
    assert raised.value.code == error
    assert words in (raised.value.fields.get("effective_from") or raised.value.message)
    assert await _states() == before and await _activations() == 0


async def test_only_an_admin_sets_the_date(database_url) -> None:
    reviewer = await actor((await make_user("reviewer"))["username"])
    with pytest.raises(Forbidden):
        await rulesets.activate(reviewer, "national-2021", 2, clock.today())
    assert (await _states())["national-2021@2"][0] == "PENDING"


async def test_the_admin_page_shows_versions_reasons_and_sets_the_date(client) -> None:
    await make_user("admin")
    await sign_in(client, "admin")
    page = await client.get("/admin/rulesets")
    csrf = client.cookies.get("ltc_csrf")
    assert page.status_code == 200
    assert "长期护理失能等级评估标准（试行）（医保办发〔2021〕37号）组合法 第2版" in page.text
    assert "待启用" in page.text and "规则编号 national-2021" in page.text
    assert "4–15" in page.text and "重度失能Ⅲ级" in page.text

    refused = await client.post("/admin/rulesets/activate", data={
        "_csrf_token": csrf, "code": "national-2021", "version": "2",
        "effective_from": (clock.today() - timedelta(days=1)).isoformat()})
    assert refused.status_code == 422 and "不能早于今天" in refused.text
    assert (await _states())["national-2021@2"][0] == "PENDING"

    done = await client.post("/admin/rulesets/activate", follow_redirects=True, data={
        "_csrf_token": csrf, "code": "national-2021", "version": "2",
        "effective_from": clock.today().isoformat(), "note": "更正分段"})
    assert done.status_code == 200 and "生效日期已设定" in done.text
    assert "已被第2版取代" in done.text and "取代原因" in done.text


async def test_ltc_ruleset_activate_and_list(settings, database_url) -> None:
    env = {"LTC_DATABASE_URL": database_url, "LTC_VAR_DIR": str(settings.var_dir)}
    if not database_url.startswith("sqlite"):
        env["LTC_SECRET_KEY"] = "x" * 40
        env["LTC_BROKER_URL"] = "redis://127.0.0.1:6379/15"
    listed = ltc("ruleset", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "national-2021@2" in listed.stdout and "待启用" in listed.stdout
    bad = ltc("ruleset", "activate", "national-2021", "2", "--from", "2020-01-01", env=env)
    assert bad.returncode == 2 and "invalid_ruleset_activation" in bad.stderr
    assert "不能早于今天" in bad.stderr
    day = clock.today().isoformat()
    for _ in range(2):  # safe when sent twice
        done = ltc("ruleset", "activate", "national-2021", "2", "--from", day, env=env)
        assert done.returncode == 0, done.stderr
        assert f"in force from {day}" in done.stdout
    listed = ltc("ruleset", "list", env=env)
    assert "已被第2版取代" in listed.stdout and "取代原因" in listed.stdout
    assert await _activations() == 1


async def test_the_assessment_page_says_its_ruleset_was_superseded(case, client) -> None:  # noqa: F811
    await _conclude(case)
    await sign_in(client, "reviewer")
    before = await client.get(f"/assessments/{case}")
    assert "依据规则 national-2021@1" in before.text and "取代" not in before.text
    await rulesets.activate(SYSTEM, "national-2021", 2, clock.today())
    after = await client.get(f"/assessments/{case}")
    assert "所依据的评估规则已被第2版取代" in after.text and "取代原因：" in after.text
    assert "本结论仍按原规则有效" in after.text
