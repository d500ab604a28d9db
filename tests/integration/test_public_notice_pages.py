"""The public notice pages over HTTP, without signing in: only published notices, only masked
entries, and an objection form that refuses bots, forged posts and late objections."""

from datetime import date, timedelta

import pytest
from support.cases import TOWN, FrozenClock, concluded_case, make_staff

from ltc.notices import service
from ltc.notices.tables import Objection

pytestmark = pytest.mark.anyio


@pytest.fixture
async def notice(client, monkeypatch):
    frozen = FrozenClock(monkeypatch, date(2026, 11, 20))
    staff = await make_staff(assessors=2)
    case = await concluded_case(staff, name="司马光明")
    batch = await service.create_batch(staff.clerk, town_code=TOWN,
                                       assessment_ids=[case.assessment_id])
    return staff, case, batch, frozen


async def _objection(client, number: str, entry_id: int, **changes: str):
    await client.get(f"/notices/{number}")
    form = {"entry": str(entry_id), "objector_name": "李建国", "objector_phone": "13612345678",
            "relation": "邻居", "reason": "老人每天自己赶集买菜，生活能够自理。", "website": "",
            "_csrf_token": client.cookies.get("ltc_csrf"), **changes}
    return await client.post(f"/notices/{number}/objections", data=form)


async def test_drafts_are_not_public_and_published_entries_are_masked(client, notice) -> None:
    staff, case, batch, _ = notice
    assert (await client.get(f"/notices/{batch['number']}")).status_code == 404
    assert batch["number"] not in (await client.get("/notices")).text
    await service.publish(staff.clerk, batch["id"], batch["version"])
    index = await client.get("/notices")
    assert index.status_code == 200 and batch["number"] in index.text
    assert batch["number"] in (await client.get(f"/notices?town={TOWN}")).text
    assert batch["number"] not in (await client.get("/notices?town=370983002")).text
    short = await client.get(f"/n/{batch['number']}", follow_redirects=False)
    assert short.headers["location"] == f"/notices/{batch['number']}"
    page = await client.get(f"/notices/{batch['number']}")
    assert "司马**" in page.text and "重度失能Ⅲ级" in page.text
    assert "司马光明" not in page.text and case.resident_id not in page.text
    assert "提出异议" in page.text


async def test_a_public_objection_is_recorded_once(client, notice) -> None:
    staff, _, batch, _ = notice
    await service.publish(staff.clerk, batch["id"], batch["version"])
    entry = (await service.public_batch(batch["number"]))["entries"][0]
    first = await _objection(client, batch["number"], entry["id"])
    assert first.status_code == 200 and "您的异议已提交" in first.text
    again = await _objection(client, batch["number"], entry["id"])
    assert again.status_code == 409 and "无需重复提交" in again.text
    assert await Objection.count() == 1


async def test_bots_forgeries_and_bad_forms_change_nothing(client, notice) -> None:
    staff, _, batch, _ = notice
    await service.publish(staff.clerk, batch["id"], batch["version"])
    entry = (await service.public_batch(batch["number"]))["entries"][0]
    bot = await _objection(client, batch["number"], entry["id"], website="http://spam")
    assert bot.status_code == 422
    forged = await client.post(f"/notices/{batch['number']}/objections",
                               data={"entry": str(entry["id"]), "objector_name": "李建国"})
    assert forged.status_code == 403
    bad = await _objection(client, batch["number"], entry["id"], objector_name="",
                           objector_phone="12", reason="不对")
    assert bad.status_code == 422
    for problem in ("请填写异议人的真实姓名", "请写明异议的理由"):
        assert problem in bad.text, problem
    other = await _objection(client, batch["number"], 999_999)
    assert other.status_code == 422 and "请选择公示名单中的人员" in other.text
    assert await Objection.count() == 0


async def test_objections_close_with_the_period(client, notice) -> None:
    staff, _, batch, frozen = notice
    published = await service.publish(staff.clerk, batch["id"], batch["version"])
    entry = (await service.public_batch(batch["number"]))["entries"][0]
    frozen.set(published["ends_on"] + timedelta(days=1))
    page = await client.get(f"/notices/{batch['number']}")
    assert "不在公示期内" in page.text and "提交异议" not in page.text
    late = await _objection(client, batch["number"], entry["id"])
    assert late.status_code == 409 and "现在不能提出异议" in late.text
    assert await Objection.count() == 0
