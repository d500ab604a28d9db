"""改判影响 (issue 12): the dry run of a ruleset change over a region's concluded assessments,
changing nothing; and a reviewer raising a re-assessment for one person from the list."""

import json
from datetime import timedelta

import pytest
from conftest import SEVERE_SCORES, make_user, sign_in
from test_assessments import actor
from test_cli import ltc

from ltc import clock
from ltc.applications.regrading import raise_regrading
from ltc.applications.tables import Application
from ltc.assessments import grading, rulesets
from ltc.assessments.tables import Assessment, Ruleset
from ltc.audit.tables import AuditEvent
from ltc.desk.regrading import compute_impact
from ltc.entitlements import service as entitlements
from ltc.entitlements.tables import Entitlement
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.identity import SYSTEM
from ltc.people.tables import Person
from ltc.regions.tables import Region

pytestmark = pytest.mark.anyio

INTACT_OTHERS = {"time_orientation": 4, "person_orientation": 4, "place_orientation": 4,
                 "memory": 4, "vision": 4, "hearing": 4, "communication": 4}
ADL_50 = {"eating": 10, "dressing": 5, "face_mouth_hygiene": 5, "bowel_control": 10,
          "bladder_control": 10, "toileting": 5, "walking": 5, "bed_chair_transfer": 0,
          "stairs": 0, "bathing": 0}
# ADL 50 (moderate) and cognition 3: severe by version 1 → 重度失能Ⅰ级 (eligible); moderate by
# version 2 → 中度失能 (not eligible).
LOSES = {**ADL_50, **INTACT_OTHERS, "time_orientation": 1, "person_orientation": 1,
         "place_orientation": 1, "memory": 0}
# ADL 20 with cognition and perception intact: 重度失能Ⅰ级 by both versions.
UNCHANGED = {**SEVERE_SCORES, **INTACT_OTHERS}
NAMES = {"11010519491231002X": "张秀英", "110105194912310038": "李桂兰",
         "110105194912310046": "王淑珍", "110105194912310054": "赵玉梅",
         "110105194912310062": "刘凤英"}


async def _person(resident_id: str, town_code: str = "370983001") -> int:
    town = await Region.select().where(Region.code == town_code).first()
    person = Person(resident_id=resident_id, name=NAMES[resident_id], name_initials="x",
                    sex="F", birth_date=clock.today().replace(year=1949), phone="13800000000",
                    address="某村1号", village=town["id"], region_path=town["path"])
    await person.save()
    return person.id


async def _concluded(person_id: int, scores: dict, version: int = 1, *,
                     decide: bool = True) -> int:
    """A case through to its conclusion (graded by national-2021 `version`) and decision."""
    clerk, a1, a2 = [(await actor(name)).id for name in ("clerk", "a1", "a2")]
    person = await Person.select().where(Person.id == person_id).first()
    number = f"SQ2026112{person_id:03d}{await Application.count():02d}"
    application = Application(number=number, person=person_id,
                              region_path=person["region_path"], state="ASSIGNED",
                              applicant_name="李明", applicant_relation="子女",
                              applicant_phone="13900000000",
                              disabled_since=clock.today() - timedelta(days=400),
                              created_by=clerk)
    await application.save()
    row = await Ruleset.select().where((Ruleset.code == "national-2021")
                                       & (Ruleset.version == version)).first()
    result = grading.grade(scores, rulesets.of_row(row))
    assessment = Assessment(
        application=application.id, region_path=person["region_path"], kind="initial",
        state="CONCLUDED", assessor_1=a1, assessor_2=a2, draw="{}",
        scores=json.dumps(scores), ruleset=row["id"], grade=result.grade,
        result=json.dumps(result.as_dict(), ensure_ascii=False), concluded_at=clock.now())
    await assessment.save()
    if decide:
        await entitlements.decide(SYSTEM, assessment.id, "no_objection", clock.today())
    return assessment.id


@pytest.fixture
async def region(database_url):
    """Five people of Feicheng, each with a decided case graded by version 1."""
    for role, name in (("reviewer", None), ("admin", None), ("clerk", None),
                       ("assessor", "a1"), ("assessor", "a2")):
        await make_user(role, username=name)
    people = {}
    people["lower"] = await _person("11010519491231002X")
    await _concluded(people["lower"], SEVERE_SCORES)  # Ⅲ → Ⅱ
    people["loses"] = await _person("110105194912310038", "370983002")
    await _concluded(people["loses"], LOSES)  # Ⅰ → 中度
    people["same"] = await _person("110105194912310046")
    await _concluded(people["same"], UNCHANGED)
    people["later"] = await _person("110105194912310054")  # the older conclusion would
    await _concluded(people["later"], LOSES, decide=False)  # change; the later one
    await Assessment.update({Assessment.concluded_at: clock.now() - timedelta(days=400)}).where(
        Assessment.application.person == people["later"])
    await _concluded(people["later"], UNCHANGED)  # does not
    people["v2"] = await _person("110105194912310062")
    await _concluded(people["v2"], LOSES, version=2)  # already graded by version 2
    return people


async def _counts() -> tuple[int, ...]:
    return (await Assessment.count(), await Application.count(), await AuditEvent.count(),
            await Entitlement.count())


async def test_the_dry_run_lists_who_would_change_and_changes_nothing(region) -> None:
    before = await _counts()
    impact = await compute_impact(await actor("reviewer"), "370983", "national-2021@2")
    assert await _counts() == before
    assert (impact.read, impact.people, impact.already, impact.unchanged) == (6, 5, 1, 2)
    by_person = {row.person_id: row for row in impact.rows}
    assert set(by_person) == {region["lower"], region["loses"]}
    lower, loses = by_person[region["lower"]], by_person[region["loses"]]
    assert (lower.old_grade, lower.new_grade, lower.kind) == (5, 4, "lower")
    assert lower.grade_change == "重度失能Ⅲ级 → 重度失能Ⅱ级"
    assert (loses.old_grade, loses.new_grade, loses.kind) == (3, 2, "loses")
    assert (lower.town, loses.town) == ("新城街道", "老城街道")
    assert lower.resident_id_masked == "110105********002X" and lower.name == "张秀英"
    assert lower.old_ruleset == "national-2021@1"
    # Feicheng's policy: ¥450 subsidy + visits (Ⅰ 2, Ⅱ 3, Ⅲ 4 a month) at ¥80.
    assert (lower.monthly_old_fen, lower.monthly_new_fen, lower.at_stake_fen) == (
        77000, 69000, 8000)
    assert (loses.monthly_old_fen, loses.monthly_new_fen, loses.at_stake_fen) == (
        61000, 0, 61000)
    assert loses.entitlement_state and loses.entitlement_label != "无"
    assert (loses.months_paid, loses.paid_fen) == (0, 0)
    assert impact.by_kind == {"loses": 1, "gains": 0, "lower": 1, "higher": 0}
    assert [(town, total) for town, _, total in impact.by_town] == [("新城街道", 1),
                                                                    ("老城街道", 1)]
    assert impact.monthly_at_stake_fen == 69000


async def test_the_dry_run_back_to_version_1(region) -> None:
    impact = await compute_impact(await actor("admin"), "370983", "national-2021@1")
    assert [(r.person_id, r.kind) for r in impact.rows] == [(region["v2"], "gains")]


@pytest.mark.parametrize(("region_code", "target", "error"), [
    ("370983", "national-2021", "invalid_ruleset_key"),
    ("370983", "national-2021@9", "ruleset_not_found"),
    ("999999", "national-2021@2", "region_not_found")])
async def test_bad_requests_are_refused(region, region_code: str, target: str,
                                        error: str) -> None:
    with pytest.raises((InvalidInput, NotFound)) as raised:
        await compute_impact(await actor("reviewer"), region_code, target)
    assert raised.value.code == error


async def test_scope_and_roles(region) -> None:
    await make_user("reviewer", username="town_reviewer", region="370983001")
    with pytest.raises(NotFound):
        await compute_impact(await actor("town_reviewer"), "370983", "national-2021@2")
    town = await compute_impact(await actor("town_reviewer"), "370983001", "national-2021@2")
    assert [r.person_id for r in town.rows] == [region["lower"]]
    await make_user("clerk", username="clerk1")
    with pytest.raises(Forbidden):
        await compute_impact(await actor("clerk1"), "370983", "national-2021@2")


async def test_a_reviewer_raises_a_reassessment_once(region) -> None:
    reviewer = await actor("reviewer")
    person = region["loses"]
    entitlement = await Entitlement.select().where(Entitlement.person == person).first()
    first = await raise_regrading(reviewer, person_id=person, reason="按第2版重算：中度失能",
                                  ruleset="national-2021@2")
    again = await raise_regrading(reviewer, person_id=person, reason="再次提交",
                                  ruleset="national-2021@2")
    assert again["id"] == first["id"]
    assert (first["state"], first["origin"], first["origin_reason"]) == (
        "ACCEPTED", "regrading", "按第2版重算：中度失能")
    raised = await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.action == "application.regrading_raised")
    assert len(raised) == 1
    # Nothing about the decided case changed: it changes through the new assessment only.
    assert await Entitlement.select().where(Entitlement.person == person).first() == entitlement
    impact = await compute_impact(reviewer, "370983", "national-2021@2")
    row = next(r for r in impact.rows if r.person_id == person)
    assert (row.open_case, row.open_case_origin) == (first["number"], "regrading")


async def test_raising_is_refused_clearly(region) -> None:
    reviewer = await actor("reviewer")
    with pytest.raises(InvalidInput) as raised:
        await raise_regrading(reviewer, person_id=region["lower"], reason=" ", ruleset="x@2")
    assert raised.value.code == "reason_required" and "reason" in raised.value.fields
    with pytest.raises(Forbidden):
        await raise_regrading(await actor("admin"), person_id=region["lower"], reason="r",
                              ruleset="national-2021@2")
    await make_user("reviewer", username="town2", region="370983002")
    with pytest.raises(NotFound):
        await raise_regrading(await actor("town2"), person_id=region["lower"], reason="r",
                              ruleset="national-2021@2")
    await Application.update({Application.state: "SUBMITTED"}).where(
        Application.person == region["lower"])
    with pytest.raises(Conflict) as conflict:
        await raise_regrading(reviewer, person_id=region["lower"], reason="r",
                              ruleset="national-2021@2")
    assert conflict.value.code == "application_open"
    assert "无需另行发起复评" in conflict.value.message
    assert await Application.count().where(Application.origin == "regrading") == 0


async def test_the_page_csv_and_raising_from_the_list(region, client) -> None:
    await sign_in(client, "reviewer")
    page = await client.get("/regrading", params={"region": "370983",
                                                  "to": "national-2021@2"})
    assert page.status_code == 200
    assert "张秀英" in page.text and "李桂兰" in page.text and "王淑珍" not in page.text
    assert "重度失能Ⅲ级 → 重度失能Ⅱ级" in page.text and "失去待遇资格" in page.text
    assert "发起重新评估" in page.text
    narrowed = await client.get("/regrading", params={"kind": "loses", "q": "李"})
    assert "李桂兰" in narrowed.text and "张秀英" not in narrowed.text
    exported = await client.get("/regrading/export.csv", params={"to": "national-2021@2"})
    assert exported.content.startswith(b"\xef\xbb\xbf")
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("姓名,身份证号（脱敏）,镇街,原等级,新等级") and len(lines) == 3
    csrf = client.cookies.get("ltc_csrf")
    refused = await client.post("/regrading/raise", data={
        "_csrf_token": csrf, "person_id": str(region["loses"]),
        "assessment_id": "1", "to": "national-2021@2", "reason": ""})
    assert refused.status_code == 422 and "请填写原因" in refused.text
    done = await client.post("/regrading/raise", follow_redirects=True, data={
        "_csrf_token": csrf, "person_id": str(region["loses"]), "assessment_id": "1",
        "to": "national-2021@2", "reason": "按第2版重算"})
    assert done.status_code == 200 and "已发起重新评估" in done.text
    assert "已发起改判复评 SQ" in done.text


async def test_an_admin_sees_the_page_without_raising(region, client) -> None:
    await sign_in(client, "admin")
    page = await client.get("/regrading")
    assert page.status_code == 200 and "张秀英" in page.text
    assert "发起重新评估</button>" not in page.text and "由审核员发起复评" in page.text


async def test_ltc_ruleset_impact(region, settings, database_url, tmp_path) -> None:
    env = {"LTC_DATABASE_URL": database_url, "LTC_VAR_DIR": str(settings.var_dir)}
    if not database_url.startswith("sqlite"):
        env.update(LTC_SECRET_KEY="x" * 40, LTC_BROKER_URL="redis://127.0.0.1:6379/15")
    out = tmp_path / "impact.csv"
    result = ltc("ruleset", "impact", "--region", "370983", "--to", "national-2021@2",
                 "--csv", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert "would change 2" in result.stdout and "失去待遇资格 (loses): 1" in result.stdout
    assert "老城街道: 1" in result.stdout
    assert out.read_bytes().startswith(b"\xef\xbb\xbf") and "李桂兰" in out.read_text("utf-8")
    bad = ltc("ruleset", "impact", "--region", "370983", "--to", "national-2021", env=env)
    assert bad.returncode == 2 and "invalid_ruleset_key" in bad.stderr


async def test_the_raised_case_says_where_it_came_from(region, client) -> None:
    reviewer = await actor("reviewer")
    raised = await raise_regrading(reviewer, person_id=region["loses"], reason="按第2版重算",
                                   ruleset="national-2021@2")
    await sign_in(client, "clerk")
    page = await client.get(f"/applications/{raised['id']}")
    assert page.status_code == 200
    assert "改判复评" in page.text and "按第2版重算" in page.text and "已受理" in page.text


async def test_two_requests_at_once_raise_one_reassessment(region) -> None:
    import asyncio

    reviewer = await actor("reviewer")
    results = await asyncio.gather(*(
        raise_regrading(reviewer, person_id=region["lower"], reason=f"第{n}次",
                        ruleset="national-2021@2") for n in range(2)))
    assert results[0]["id"] == results[1]["id"]
    assert await Application.count().where(Application.origin == "regrading") == 1


async def test_a_town_reviewer_sees_their_town(region, client) -> None:
    await make_user("reviewer", username="town_reviewer", region="370983002")
    await sign_in(client, "town_reviewer")
    page = await client.get("/regrading")
    assert page.status_code == 200
    assert 'value="370983002" selected' in page.text and "肥城市" not in page.text
    assert "李桂兰" in page.text and "张秀英" not in page.text
