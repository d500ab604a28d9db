"""评估抽查 pages: the bureau's list (filters, CSV, results per organisation and assessor,
the draws with their replay), the expert's queue and the check page where the finding is
recorded — every problem next to its field, and a participant refused."""

from __future__ import annotations

import re

import pytest
from conftest import sign_in
from support.workbench import badges
from test_spotchecks import CITY, OCTOBER, world  # noqa: F401  (the fixture)

from ltc.accounts.tables import User
from ltc.assessments.tables import Assessment
from ltc.identity import SYSTEM
from ltc.people.tables import Person
from ltc.spotchecks import service
from ltc.spotchecks.tables import SpotCheck

pytestmark = pytest.mark.anyio


async def _form(client, path: str) -> str:
    await client.get(path)
    return client.cookies.get("ltc_csrf")


async def test_the_expert_records_a_finding_on_the_page(world, client) -> None:  # noqa: F811
    await service.draw_month(SYSTEM, CITY, OCTOBER)
    check = await SpotCheck.select().order_by(SpotCheck.id).first()
    await sign_in(client, "c1")
    queue = await client.get("/spotchecks/mine")
    assert queue.status_code == 200 and f'href="/spotchecks/{check["id"]}"' in queue.text
    shown = await client.get(f"/spotchecks/{check['id']}")
    assert shown.status_code == 200
    assert "评分记录" in shown.text and "▶ 播放" in shown.text and "提交抽查结论" in shown.text
    token = client.cookies.get("ltc_csrf")
    refused = await client.post(f"/spotchecks/{check['id']}/finding", data={
        "_csrf_token": token, "expected_version": str(check["version"]),
        "finding": "nonconform", "notes": ""})
    assert refused.status_code == 422
    assert "结论为不符合时必须写明理由" in refused.text and 'id="notes-error"' in refused.text
    done = await client.post(f"/spotchecks/{check['id']}/finding", data={
        "_csrf_token": token, "expected_version": str(check["version"]),
        "finding": "nonconform", "notes": "视频显示可独立行走"}, follow_redirects=True)
    assert done.status_code == 200 and "已发起重新评估" in done.text
    row = await SpotCheck.select().where(SpotCheck.id == check["id"]).first()
    assert row["finding"] == "nonconform" and row["application"] is not None
    # Sent twice (a double click): refused as already recorded, nothing else raised.
    again = await client.post(f"/spotchecks/{check['id']}/finding", data={
        "_csrf_token": token, "expected_version": str(check["version"]),
        "finding": "nonconform", "notes": "视频显示可独立行走"})
    assert again.status_code == 409


async def test_the_experts_badge_counts_what_their_queue_offers(world, client) -> None:  # noqa: F811
    await service.draw_month(SYSTEM, CITY, OCTOBER)
    await sign_in(client, "c1")
    listed = (await client.get("/spotchecks/mine")).text
    offered = set(re.findall(r'href="/spotchecks/(\d+)"', listed))
    assert offered and badges(listed)["/spotchecks/mine"] == len(offered)
    check = await SpotCheck.select().where(SpotCheck.id == int(min(offered))).first()
    await client.post(f"/spotchecks/{check['id']}/finding", data={
        "_csrf_token": client.cookies.get("ltc_csrf"), "expected_version": str(check["version"]),
        "finding": "conform", "notes": ""})
    # right after their own finding the badge has one fewer (counted, not cached)
    assert badges((await client.get("/")).text).get("/spotchecks/mine", 0) == len(offered) - 1


async def test_a_participant_cannot_open_or_record_it(world, client) -> None:  # noqa: F811
    await service.draw_month(SYSTEM, CITY, OCTOBER)
    check = await SpotCheck.select().order_by(SpotCheck.id).first()
    first = await Assessment.select().where(Assessment.id == check["assessment"]).first()
    user = await User.select(User.username).where(User.id == first["assessor_1"]).first()
    await sign_in(client, user["username"])
    page = await client.get(f"/spotchecks/{check['id']}")
    assert page.status_code == 403 and "参与了该评估" in page.text
    api = await client.post(f"/spotchecks/{check['id']}/finding", data={
        "_csrf_token": client.cookies.get("ltc_csrf"), "expected_version": "1",
        "finding": "conform", "notes": ""}, headers={"accept": "application/json"})
    assert api.status_code == 403
    assert (await SpotCheck.select().where(SpotCheck.id == check["id"]).first())[
        "state"] == "PENDING"


async def test_the_bureau_lists_filters_exports_and_sums_up(world, client) -> None:  # noqa: F811
    await service.draw_month(SYSTEM, CITY, OCTOBER)
    checks = await SpotCheck.select().order_by(SpotCheck.id)
    await service.record_finding(world.experts[0], checks[0]["id"], checks[0]["version"],
                                 finding="conform", notes="")
    await sign_in(client, "reviewer")
    listed = await client.get("/spotchecks?month=2026-10")
    assert listed.status_code == 200
    assert listed.text.count('href="/spotchecks/') >= 2
    assert "抽查结果按评估机构" in listed.text and "100.0%" in listed.text
    assert "按种子重新抽取，结果一致" in listed.text
    assert "<td>肥城市</td><td>5%</td>" in listed.text  # the draw's region and rate in words
    conform = await client.get("/spotchecks?finding=conform")
    assert f'href="/spotchecks/{checks[0]["id"]}"' in conform.text
    assert f'href="/spotchecks/{checks[1]["id"]}"' not in conform.text
    bad = await client.get("/spotchecks?month=2026-13")
    assert bad.status_code == 422 and "请按“年-月”填写月份" in bad.text
    csv = await client.get("/spotchecks/export.csv?finding=conform")
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf")
    assert csv.text.count("\n") == 2 and "符合" in csv.text
    detail = await client.get(f"/spotchecks/{checks[0]['id']}")
    assert detail.status_code == 200 and "记录与视频" not in detail.text
    assert "测试评估员" in detail.text  # the expert who recorded it


async def test_an_assessor_does_not_reach_the_bureau_list(world, client) -> None:  # noqa: F811
    await sign_in(client, "c1")
    assert (await client.get("/spotchecks")).status_code == 403


async def test_the_bureau_finds_a_check_by_application_or_person(world, client) -> None:  # noqa: F811
    await service.draw_month(SYSTEM, CITY, OCTOBER)
    checks = await SpotCheck.select(
        SpotCheck.id, SpotCheck.assessment.application.number.as_alias("number"),
        SpotCheck.assessment.application.person.as_alias("person")).order_by(SpotCheck.id)
    assert len(checks) >= 2
    mine, other = checks[0], next(c for c in checks if c["person"] != checks[0]["person"])
    # The test people share one phone: give this one their own.
    await Person.update({Person.phone: "13712345678"}).where(Person.id == mine["person"])
    person = await Person.select().where(Person.id == mine["person"]).first()
    await sign_in(client, "reviewer")
    for q in (person["name"], person["name_initials"], person["resident_id"], person["phone"],
              mine["number"]):
        listed = (await client.get("/spotchecks", params={"q": q})).text
        assert f'href="/spotchecks/{mine["id"]}"' in listed, q
        assert f'href="/spotchecks/{other["id"]}"' not in listed, q
    assert f'value="{person["name"]}"' in (await client.get(
        "/spotchecks", params={"q": person["name"]})).text  # the box keeps what was typed
    csv = await client.get("/spotchecks/export.csv", params={"q": person["name"]})
    assert csv.text.count("\n") == 2 and person["name"] in csv.text
    nobody = (await client.get("/spotchecks", params={"q": "13999999999"})).text
    assert "没有符合条件的抽查" in nobody
