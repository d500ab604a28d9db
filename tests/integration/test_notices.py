"""Public notices (公示): assembling a batch, what the public sees, publication and
objections."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from conftest import make_user, sign_in
from support.cases import (
    user_actor,
)
from support.notice_cases import (
    CLOSING_DAY,
    CONCLUDED_ON,
    LAST_DAY,
    OTHER_TOWN,
    PUBLISHED_ON,
    TOWN,
    entry_of,
    new_batch,
    objection,
    published,
    world_fixture,  # noqa: F401  (the fixture, by name)
    written,
)

from ltc import db
from ltc.audit.tables import AuditEvent
from ltc.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from ltc.identity import PUBLIC
from ltc.jobs.tables import OutboxMessage
from ltc.notices import service
from ltc.notices.tables import Objection
from ltc.people.tables import Person

pytestmark = pytest.mark.anyio


# --- assembling ------------------------------------------------------------------------------

async def test_a_bad_batch_reports_every_problem_and_writes_nothing(world) -> None:
    w = world
    other_region = await user_actor((await make_user("clerk", username="lc_clerk",
                                                     region=OTHER_TOWN))["id"])
    before = await written()
    with pytest.raises(InvalidInput) as caught:
        await service.create_batch(w.staff.clerk, town_code="370983999", assessment_ids=[])
    assert set(caught.value.fields) == {"town", "assessment_ids"}
    with pytest.raises(InvalidInput) as caught:  # 老城社区 is in 老城街道, not 新城街道
        await service.create_batch(w.staff.clerk, town_code=TOWN, village_code="370983002001",
                                   assessment_ids=[])
    assert set(caught.value.fields) == {"village", "assessment_ids"}
    with pytest.raises(InvalidInput) as caught:  # a village code given as the town
        await service.create_batch(w.staff.clerk, town_code="370983001001",
                                   assessment_ids=[w.zhang.assessment_id])
    assert set(caught.value.fields) == {"town"}
    with pytest.raises(InvalidInput) as caught:  # a clerk of 老城街道 and a 新城街道 batch
        await service.create_batch(other_region, town_code=TOWN,
                                   assessment_ids=[w.zhang.assessment_id])
    assert set(caught.value.fields) == {"town"}
    with pytest.raises(Conflict) as conflict:  # the case lives in 新城街道
        await service.create_batch(w.staff.clerk, town_code=OTHER_TOWN,
                                   assessment_ids=[w.zhang.assessment_id])
    assert conflict.value.code == "not_noticeable"
    with pytest.raises(Conflict):  # 张秀英 lives in 龙山社区, not 凤山社区
        await new_batch(w, w.zhang, village="370983001002")
    with pytest.raises(Forbidden):
        await service.create_batch(w.staff.reviewer, town_code=TOWN,
                                   assessment_ids=[w.zhang.assessment_id])
    assert await written() == before


async def test_a_case_is_on_one_notice_only(world) -> None:
    w = world
    waiting = await service.noticeable(w.staff.clerk, "370983/" + TOWN)
    assert {r["id"] for r in waiting} == {w.zhang.assessment_id, w.ouyang.assessment_id}
    first = await new_batch(w, w.zhang)
    assert first["state"] == "DRAFT" and first["number"].startswith("GS20261122")
    assert [r["id"] for r in await service.noticeable(w.staff.clerk, "370983/" + TOWN)] == [
        w.ouyang.assessment_id]
    before = await written()
    with pytest.raises(Conflict) as caught:
        await new_batch(w, w.zhang, w.ouyang)
    assert caught.value.code == "not_noticeable"
    assert await written() == before
    village_batch = await new_batch(w, w.ouyang, village="370983001002")
    assert village_batch["region_path"] == "370983/370983001/370983001002"
    assert await service.noticeable(w.staff.clerk, "370983") == []


# --- what the public sees --------------------------------------------------------------------

async def test_the_public_sees_masked_entries_only(world) -> None:
    w = world
    batch = await new_batch(w)
    with pytest.raises(NotFound):  # a draft is not public yet
        await service.public_batch(batch["number"])
    await service.publish(w.staff.clerk, batch["id"], batch["version"])
    public = await service.public_batch(batch["number"])
    entries = {e["masked_name"]: e for e in public["entries"]}
    assert set(entries) == {"张**", "欧阳**"}
    assert entries["张**"]["village_name"] == "龙山社区"
    assert entries["张**"]["grade_label"] == "重度失能Ⅲ级"
    assert (entries["张**"]["sex"], entries["张**"]["age"]) == ("F", 77)
    assert (entries["欧阳**"]["sex"], entries["欧阳**"]["age"]) == ("M", 85)
    assert entries["张**"]["assessed_on"] == CONCLUDED_ON
    assert entries["张**"]["organisation_name"] == "测试机构T-A"
    assert public["open"] is True
    context = await service.document_context(batch["id"], "https://ltc.example.gov.cn")
    assert context["public_url"] == f"https://ltc.example.gov.cn/n/{batch['number']}"
    assert context["notice_days"] == 5 and context["bureau"]["name"] == "肥城市医疗保障局"
    for shown in (public, context):
        text = json.dumps(shown, default=str, ensure_ascii=False)
        for secret in ("张秀英", "欧阳娜娜", w.zhang.resident_id, w.ouyang.resident_id,
                       "scores", "eating"):
            assert secret not in text


# --- publishing ------------------------------------------------------------------------------

async def test_publication_fixes_the_period_from_the_policy(world) -> None:
    w = world
    batch = await new_batch(w)
    with pytest.raises(Forbidden):
        await service.publish(w.staff.reviewer, batch["id"], batch["version"])
    with pytest.raises(db.StaleWrite):
        await service.publish(w.staff.clerk, batch["id"], batch["version"] + 1)
    after = await service.publish(w.staff.clerk, batch["id"], batch["version"])
    assert after["state"] == "PUBLISHED" and after["published_on"] == PUBLISHED_ON
    assert (after["starts_on"], after["ends_on"]) == (date(2026, 11, 23), LAST_DAY)
    assert after["policy_version"] is not None and after["published_by"] == w.staff.clerk.id
    assert await OutboxMessage.count().where(
        OutboxMessage.actor_name == "notices.render_document") == 1
    with pytest.raises(Conflict) as caught:
        await service.publish(w.staff.clerk, batch["id"], after["version"])
    assert caught.value.code == "wrong_state"
    event = await AuditEvent.select().where(AuditEvent.action == "notice_batch.published").first()
    assert '"ends_on": "2026-11-27"' in event["summary"]


# --- objections ------------------------------------------------------------------------------

async def test_an_objection_with_problems_reports_them_all(world) -> None:
    w = world
    await published(w)
    entry = await entry_of(w.zhang)
    with pytest.raises(InvalidInput) as caught:
        await service.record_objection(PUBLIC, entry["id"], **objection(
            objector_name="王", objector_phone="12345", relation="朋友", reason="不对",
            channel="paper"))
    assert set(caught.value.fields) == {"objector_name", "objector_phone", "relation",
                                        "reason", "channel"}
    assert await Objection.count() == 0
    with pytest.raises(NotFound):
        await service.record_objection(PUBLIC, entry["id"] + 100, **objection())


async def test_objections_only_during_the_period(world) -> None:
    w = world
    draft = await new_batch(w, w.zhang)
    entry = await entry_of(w.zhang)
    with pytest.raises(Conflict) as caught:  # not published yet
        await service.record_objection(PUBLIC, entry["id"], **objection())
    assert caught.value.code == "notice_not_open"
    await service.publish(w.staff.clerk, draft["id"], draft["version"])
    # From the publication day itself through the last day.
    first = await service.record_objection(PUBLIC, entry["id"], **objection())
    assert first["channel"] == "online" and first["recorded_by"] is None
    w.clock.set(LAST_DAY)
    await service.record_objection(PUBLIC, entry["id"], **objection(
        objector_phone="13912345679"))
    w.clock.set(CLOSING_DAY)
    with pytest.raises(Conflict) as caught:
        await service.record_objection(PUBLIC, entry["id"], **objection(
            objector_phone="13912345670"))
    assert caught.value.code == "notice_not_open" and "2026-11-27" in caught.value.message
    assert await Objection.count() == 2


async def test_the_same_phone_objects_to_an_entry_once(world) -> None:
    w = world
    await published(w)
    zhang, ouyang = await entry_of(w.zhang), await entry_of(w.ouyang)
    await service.record_objection(PUBLIC, zhang["id"], **objection())
    with pytest.raises(DomainError) as caught:
        await service.record_objection(PUBLIC, zhang["id"], **objection(key="client-b"))
    assert (caught.value.code, caught.value.status_code) == ("duplicate_objection", 409)
    # The same person may object to another entry.
    await service.record_objection(PUBLIC, ouyang["id"], **objection())
    assert await Objection.count() == 2


async def test_public_objections_are_rate_limited(world) -> None:
    w = world
    await published(w)
    entry = await entry_of(w.zhang)
    for n in range(service.PUBLIC_LIMIT_PER_HOUR):
        await service.record_objection(PUBLIC, entry["id"], **objection(
            objector_phone=f"1391234560{n}"))
    with pytest.raises(DomainError) as caught:
        await service.record_objection(PUBLIC, entry["id"], **objection(
            objector_phone="13912345699"))
    assert (caught.value.code, caught.value.status_code) == ("too_many_objections", 429)
    assert await Objection.count() == service.PUBLIC_LIMIT_PER_HOUR
    # An hour later the same client may object again.
    w.clock.advance(hours=1, minutes=1)
    await service.record_objection(PUBLIC, entry["id"], **objection(
        objector_phone="13912345699"))


async def test_a_clerk_records_an_objection_received_on_paper(world) -> None:
    w = world
    await published(w)
    entry = await entry_of(w.zhang)
    w.clock.set(CLOSING_DAY)  # the letter was received on the 25th, entered on the 28th
    with pytest.raises(Forbidden):
        await service.record_objection(w.staff.reviewer, entry["id"], **objection(
            channel="paper", received_on=date(2026, 11, 25)))
    lc_clerk = await user_actor((await make_user("clerk", username="lc_clerk",
                                                 region=OTHER_TOWN))["id"])
    with pytest.raises(NotFound):  # a clerk of another town does not see the entry
        await service.record_objection(lc_clerk, entry["id"], **objection(
            channel="paper", received_on=date(2026, 11, 25)))
    with pytest.raises(InvalidInput) as caught:  # outside the period
        await service.record_objection(w.staff.clerk, entry["id"], **objection(
            channel="paper", received_on=date(2026, 11, 21)))
    assert set(caught.value.fields) == {"received_on"}
    with pytest.raises(InvalidInput) as caught:  # after the period, i.e. today
        await service.record_objection(w.staff.clerk, entry["id"], **objection(
            channel="phone"))
    assert set(caught.value.fields) == {"received_on"}
    with pytest.raises(InvalidInput) as caught:
        await service.record_objection(w.staff.clerk, entry["id"], **objection(
            channel="fax", received_on=date(2026, 11, 25)))
    assert set(caught.value.fields) == {"channel"}
    paper = await service.record_objection(w.staff.clerk, entry["id"], **objection(
        channel="paper", received_on=date(2026, 11, 25), key="clerk"))
    assert paper["recorded_by"] == w.staff.clerk.id
    assert paper["received_at"] == datetime.fromisoformat("2026-11-25T00:00:00+08:00")
    with pytest.raises(DomainError) as caught:  # the same form sent twice
        await service.record_objection(w.staff.clerk, entry["id"], **objection(
            channel="paper", received_on=date(2026, 11, 25), key="clerk"))
    assert (caught.value.code, caught.value.status_code) == ("duplicate_objection", 409)
    assert await Objection.count() == 1
    assert await service.close_due(CLOSING_DAY) == 1
    assert (await entry_of(w.zhang))["outcome"] == "OBJECTED"




async def test_publishing_is_refused_until_the_region_has_the_bureau_contact(world) -> None:
    """No placeholder is ever printed: without the bureau's address and phone (地区管理),
    publishing is refused naming what to fill in, and nothing changes."""
    from ltc.notices.tables import NoticeBatch
    from ltc.regions.tables import Region

    w = world
    batch = await new_batch(w)
    await Region.update({Region.bureau_address: "", Region.bureau_phone: ""}).where(
        Region.code == "370983")
    with pytest.raises(Conflict) as caught:
        await service.publish(w.staff.clerk, batch["id"], batch["version"])
    assert caught.value.code == "bureau_contact_missing"
    assert "办公地址和咨询电话" in caught.value.message and "地区管理" in caught.value.message
    stored = await NoticeBatch.select(NoticeBatch.state).where(
        NoticeBatch.id == batch["id"]).first()
    assert stored["state"] == "DRAFT"
    await Region.update({Region.bureau_address: "肥城市某路1号"}).where(
        Region.code == "370983")
    with pytest.raises(Conflict) as only_phone:
        await service.publish(w.staff.clerk, batch["id"], batch["version"])
    assert "咨询电话" in only_phone.value.message and "办公地址" not in only_phone.value.message
    await Region.update({Region.bureau_phone: "0538-3221234"}).where(Region.code == "370983")
    after = await service.publish(w.staff.clerk, batch["id"], batch["version"])
    assert (after["bureau_address"], after["bureau_phone"]) == ("肥城市某路1号", "0538-3221234")


# --- the clerk's list of batches ---------------------------------------------------------------

async def test_the_batch_list_finds_a_batch_by_number_place_or_person(world, client) -> None:
    w = world
    zhangs = await new_batch(w, w.zhang)
    ouyangs = await new_batch(w, w.ouyang, village="370983001002")
    await Person.update({Person.phone: "13712345678"}).where(Person.id == w.zhang.person_id)
    zhang = await Person.select().where(Person.id == w.zhang.person_id).first()

    async def found(q: str) -> set[int]:
        return {b["id"] for b in await service.list_batches(w.staff.clerk, search=q)}

    for q in (zhang["name"], zhang["name"][1:], zhang["name_initials"], zhang["resident_id"],
              zhang["phone"], zhangs["number"]):
        assert await found(q) == {zhangs["id"]}, q
    assert await found("") == await found("新城") == {zhangs["id"], ouyangs["id"]}
    assert await found("13999999999") == set()
    # Newest first, one page after the other.
    first = await service.list_batches(w.staff.clerk, limit=1)
    assert [b["id"] for b in first] == [ouyangs["id"]]
    assert [b["id"] for b in await service.list_batches(
        w.staff.clerk, before_id=first[0]["id"])] == [zhangs["id"]]

    assert (await sign_in(client, "clerk")).status_code == 302
    page = (await client.get("/notice-batches", params={"q": zhang["name"]})).text
    assert zhangs["number"] in page and ouyangs["number"] not in page
    csv = await client.get("/notice-batches/export.csv", params={"q": zhang["name"]})
    assert csv.status_code == 200 and csv.text.count("\n") == 2 and zhangs["number"] in csv.text
    assert await AuditEvent.count().where(AuditEvent.action == "notice_batch.exported") == 1
