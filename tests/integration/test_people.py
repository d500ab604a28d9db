"""Registering, correcting, finding people: one person per resident ID, scoped by region."""

import anyio
import pytest
from conftest import make_user

from ltc.accounts import service as accounts
from ltc.audit.tables import AuditEvent
from ltc.db import StaleWrite
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.identity import SYSTEM
from ltc.people import service
from ltc.people.tables import Person
from ltc.regions.reference import load_villages
from ltc.regions.tables import Region

pytestmark = pytest.mark.anyio

XINCHENG_VILLAGE = "370983001001"  # 新城街道 龙山社区
LAOCHENG_VILLAGE = "370983002001"  # 老城街道 老城社区


async def actor(role, username, region="370983", organisation=None):
    user = await make_user(role, username=username, region=region, organisation=organisation)
    return await accounts.actor_for_user(user["id"])


async def counts():
    return await Person.count(), await AuditEvent.count()


def person_form(**changes):
    form = {"resident_id": "370983195001011235", "name": "张三", "phone": "138 1234 5678",
            "address": "龙山社区3组12号", "village_code": XINCHENG_VILLAGE,
            "insurance_number": "37098300012345"}
    return {**form, **changes}


@pytest.fixture
async def clerk(database_url):
    await load_villages()
    return await actor("clerk", "city_clerk")


async def test_villages_load_under_their_towns_and_reload_idempotently(database_url) -> None:
    assert await load_villages() == await load_villages()
    village = await Region.select().where(Region.code == XINCHENG_VILLAGE).first()
    assert village["level"] == "village"
    assert village["path"] == "370983/370983001/370983001001"
    towns = await Region.select(Region.code).where(Region.level == "town")
    for town in towns:
        assert 3 <= await Region.count().where(Region.parent.code == town["code"]) <= 5


async def test_register_derives_birth_date_sex_and_initials(clerk) -> None:
    person = await service.register_person(clerk, **person_form())
    assert person["resident_id"] == "370983195001011235"
    assert person["resident_id_masked"] == "370983********1235"
    assert (str(person["birth_date"]), person["sex"]) == ("1950-01-01", "M")
    assert (person["name_initials"], person["phone"]) == ("zs", "13812345678")
    assert person["region_path"] == "370983/370983001/370983001001"
    event = await AuditEvent.select().where(AuditEvent.action == "person.registered").first()
    assert event["object_id"] == str(person["id"]) and "1235" in event["summary"]
    assert "370983195001011235" not in event["summary"]  # the full ID stays out of the log


async def test_every_problem_is_reported_at_once_and_nothing_changes(clerk) -> None:
    before = await counts()
    with pytest.raises(InvalidInput) as caught:
        await service.register_person(clerk, **person_form(
            resident_id="370983195001011234", name="", phone="12345", address=" ",
            village_code="370983001", insurance_number="医保号"))
    fields = caught.value.fields
    assert fields["resident_id"].startswith("身份证号码校验位不正确，请核对最后一位")
    assert fields["name"] == "请填写姓名"
    assert "手机号码应为以1开头的11位数字" in fields["phone"]
    assert "请填写详细住址" in fields["address"]
    assert "新城街道不是村（社区）" in fields["village_code"]
    assert "医保个人编号" in fields["insurance_number"]
    assert await counts() == before


async def test_one_person_per_resident_id(clerk) -> None:
    first = await service.register_person(clerk, **person_form())
    before = await counts()
    with pytest.raises(Conflict) as caught:
        # Typed with spaces and a different name: still the same resident ID.
        await service.register_person(clerk, **person_form(
            resident_id="3709 8319 5001 0112 35", name="张叁"))
    assert caught.value.code == "person_exists"
    assert f"人员编号 {first['id']}" in caught.value.message
    assert caught.value.existing_person_id == first["id"]
    assert caught.value.fields["person_id"] == str(first["id"])
    assert await counts() == before


async def test_an_id_registered_in_another_town_is_refused_naming_no_one(clerk) -> None:
    """A town clerk learns only that the ID is taken elsewhere: not who holds it, nor the
    record's number (SPEC §11: personal data only within one's region)."""
    await service.register_person(clerk, **person_form(village_code=LAOCHENG_VILLAGE))
    town_clerk = await actor("clerk", "xc_clerk", region="370983001")
    before = await counts()
    with pytest.raises(Conflict) as caught:
        await service.register_person(town_clerk, **person_form(name="张叁"))
    error = caught.value
    assert error.code == "person_registered_elsewhere" and error.status_code == 409
    assert "其他辖区" in error.message and "person_id" not in error.fields
    said = error.message + "".join(error.fields.values())
    assert "张三" not in said and "人员编号" not in said and "370983195001011235" not in said
    assert await counts() == before


async def test_a_concurrent_duplicate_is_refused_by_the_database(clerk, monkeypatch) -> None:
    """Two clerks at once: both pass the friendly check, the unique index refuses one."""
    first = await service.register_person(clerk, **person_form())
    before = await counts()

    real = service._find_by_resident_id
    calls = []

    async def not_yet_committed(resident_id):
        # The first look (before the insert) misses the other clerk's uncommitted row.
        calls.append(resident_id)
        return None if len(calls) == 1 else await real(resident_id)

    monkeypatch.setattr(service, "_find_by_resident_id", not_yet_committed)
    with pytest.raises(Conflict) as caught:
        await service.register_person(clerk, **person_form(name="李四"))
    assert len(calls) == 2
    assert caught.value.existing_person_id == first["id"]
    assert f"人员编号 {first['id']}" in caught.value.message
    assert caught.value.code == "person_exists"
    assert await counts() == before


async def test_simultaneous_registrations_make_one_person(clerk) -> None:
    outcomes = []

    async def register(name):
        try:
            outcomes.append(await service.register_person(clerk, **person_form(name=name)))
        except Conflict as exc:
            outcomes.append(exc.code)

    async with anyio.create_task_group() as group:
        for name in ("张三", "张叁", "章三"):
            group.start_soon(register, name)
    assert sorted(o if isinstance(o, str) else "ok" for o in outcomes) == [
        "ok", "person_exists", "person_exists"]
    assert await Person.count() == 1


async def test_the_village_must_be_in_the_clerks_region(clerk) -> None:
    town_clerk = await actor("clerk", "xc_clerk", region="370983001")
    before = await counts()
    with pytest.raises(InvalidInput) as caught:
        await service.register_person(town_clerk, **person_form(village_code=LAOCHENG_VILLAGE))
    assert caught.value.fields == {"village_code": "老城社区不在您的管辖范围内"}
    with pytest.raises(InvalidInput) as caught:
        await service.register_person(town_clerk, **person_form(village_code="999"))
    assert "村居编码 999 不存在" in caught.value.fields["village_code"]
    assert await counts() == before


async def test_roles_that_may_not_register(clerk) -> None:
    assessor = await actor("assessor", "a1")
    reviewer = await actor("reviewer", "r1")
    before = await counts()
    for who in (assessor, reviewer):
        with pytest.raises(Forbidden):
            await service.register_person(who, **person_form())
    provider = await actor("provider", "p1", region="370983001")
    assert (await service.register_person(provider, **person_form()))["name"] == "张三"
    assert (await Person.count()) == before[0] + 1


async def test_get_is_scoped_and_revealing_the_full_id_is_audited(clerk) -> None:
    person = await service.register_person(clerk, **person_form())
    shown = await service.get_person(clerk, person["id"])
    assert "resident_id" not in shown and shown["resident_id_masked"] == "370983********1235"
    assert shown["village.name"] == "龙山社区"
    viewed = await AuditEvent.count().where(AuditEvent.action == "person.resident_id_viewed")
    revealed = await service.get_person(clerk, person["id"], reveal_resident_id=True)
    assert revealed["resident_id"] == "370983195001011235"
    assert await AuditEvent.count().where(
        AuditEvent.action == "person.resident_id_viewed") == viewed + 1

    other_town = await actor("clerk", "lc_clerk", region="370983002")
    with pytest.raises(NotFound):
        await service.get_person(other_town, person["id"])
    admin = await actor("admin", "admin1")
    assert (await service.get_person(admin, person["id"]))["id"] == person["id"]
    with pytest.raises(Forbidden):
        await service.get_person(admin, person["id"], reveal_resident_id=True)
    assessor = await actor("assessor", "a1")  # not assigned to this person
    with pytest.raises(NotFound):
        await service.get_person(assessor, person["id"])


async def test_update_is_optimistic_and_audited(clerk) -> None:
    person = await service.register_person(clerk, **person_form())
    form = {"name": "张三丰", "phone": "0538-3221234", "address": "老城社区1号",
            "village_code": LAOCHENG_VILLAGE}
    updated = await service.update_person(clerk, person["id"], 1, **form)
    assert (updated["version"], updated["name_initials"]) == (2, "zsf")
    assert updated["region_path"] == "370983/370983002/370983002001"
    assert "resident_id" not in updated
    before = await counts()
    with pytest.raises(StaleWrite):
        await service.update_person(clerk, person["id"], 1, **{**form, "name": "张君宝"})
    with pytest.raises(InvalidInput) as caught:
        await service.update_person(clerk, person["id"], 2, **{**form, "phone": "1"})
    assert set(caught.value.fields) == {"phone"}
    assert await counts() == before
    row = await Person.select().where(Person.id == person["id"]).first()
    assert (row["name"], row["version"]) == ("张三丰", 2)
    event = await AuditEvent.select().where(AuditEvent.action == "person.updated").first()
    assert "张三丰" in event["summary"] and "370983002001" in event["summary"]


async def test_search_by_name_initials_id_and_phone_with_stable_pages(clerk) -> None:
    people = [
        ("370983195001011235", "张三", "13812345678", XINCHENG_VILLAGE),
        ("11010519491231002X", "张珊珊", "13900000001", XINCHENG_VILLAGE),
        ("370983196203150043", "李四", "0538-3221234", LAOCHENG_VILLAGE),
        ("370983198002290014", "单田芳", "13700000002", LAOCHENG_VILLAGE),
    ]
    ids = {}
    for resident_id, name, phone, village in people:
        ids[name] = (await service.register_person(clerk, **person_form(
            resident_id=resident_id, name=name, phone=phone, village_code=village)))["id"]

    async def names(q, who=clerk, **kwargs):
        return [p["name"] for p in await service.search_people(who, q, **kwargs)]

    assert await names("张") == ["张三", "张珊珊"]
    assert await names("zs") == ["张三", "张珊珊"]
    assert await names("ZSS") == ["张珊珊"]
    assert await names("stf") == ["单田芳"]
    assert await names("370983") == ["张三", "李四", "单田芳"]
    assert await names("11010519491231002x") == ["张珊珊"]
    assert await names("1381234") == ["张三"]
    assert await names("05383221234") == ["李四"]
    assert await names("") == ["张三", "张珊珊", "李四", "单田芳"]
    assert await names("王") == []
    rows = await service.search_people(clerk, "张")
    assert rows[0]["resident_id_masked"] == "370983********1235" and "resident_id" not in rows[0]

    first_page = await service.search_people(clerk, "", limit=2)
    second_page = await service.search_people(clerk, "", limit=2, after_id=first_page[-1]["id"])
    assert [p["name"] for p in first_page + second_page] == ["张三", "张珊珊", "李四", "单田芳"]

    town_clerk = await actor("clerk", "xc_clerk", region="370983001")
    assert await names("", town_clerk) == ["张三", "张珊珊"]
    assert await names("李四", town_clerk) == []

    provider = await actor("provider", "p1", region="370983001")
    assert await names("张", provider) == []  # providers may not browse
    assert await names("370983195001011235", provider) == ["张三"]
    assert await names("370983196203150043", provider) == []  # another town
    with pytest.raises(Forbidden):
        await service.search_people(await actor("assessor", "a1"), "张")
    system_rows = await service.search_people(SYSTEM, "")
    assert len(system_rows) == 4
