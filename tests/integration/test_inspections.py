"""稽核 with real rows: the nightly run finds a pattern across visits, a second run of the
night adds nothing, a reviewer confirms a finding (its visits rejected, accepted ones
overturned) or clears it with a reason, stale decisions are refused, and decided findings
stay decided when the night is run again. Then the pages: the report, its CSV, a finding."""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import date, timedelta

import pytest
from conftest import csrf_token, sign_in
from support.cases import register
from test_visits import HOME, at, december_world, log, visit

from ltc.audit.tables import AuditEvent
from ltc.errors import Conflict, InvalidInput
from ltc.inspections import service
from ltc.inspections.tables import InspectionFinding
from ltc.visits import review as reviews
from ltc.visits.rules import EARTH_RADIUS_METRES
from ltc.visits.tables import Visit

pytestmark = pytest.mark.anyio

NIGHT = date(2026, 12, 15)  # covers 1–14 December
SIGNATURE = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
AWAY = (HOME[0] + math.degrees(30_000 / EARTH_RADIUS_METRES), HOME[1])  # 30 km north


@pytest.fixture
async def world(database_url, monkeypatch):
    return await december_world(monkeypatch)


async def travelling(world) -> tuple[dict, dict]:
    """09:00–09:45 at home, then 10:00 checked in 30 km away: 120 km/h."""
    first = await log(world.nurse, visit(world))
    second = await log(world.nurse, visit(world, started_at=at(14, 10), ended_at=at(14, 10, 45),
                                          checkin_latitude=AWAY[0],
                                          checkin_longitude=AWAY[1]))
    return first, second


async def findings() -> list[dict]:
    return await InspectionFinding.select().order_by(InspectionFinding.id)


async def test_the_night_finds_impossible_travel_once(world) -> None:
    first, second = await travelling(world)
    assert (first["review"], second["review"]) == ("accepted", "flagged")  # far from home
    run = await service.run_night(NIGHT)
    assert (run.visits, run.added) == (2, 1)
    (found,) = await findings()
    assert found["rule"] == "travel" and found["state"] == "open"
    assert json.loads(found["visit_ids"]) == [first["id"], second["id"]]
    assert found["staff"] == world.nurse.id and found["provider"] == world.organisation_id
    assert found["month"] == date(2026, 12, 1) and "公里/小时" in found["details"]
    again = await service.run_night(NIGHT)
    assert (again.added, again.updated) == (0, 0)
    assert len(await findings()) == 1
    assert await AuditEvent.count().where(AuditEvent.action == "inspection.run") == 2


async def test_confirming_rejects_the_visits_and_the_night_does_not_reopen_it(world) -> None:
    first, second = await travelling(world)
    await service.run_night(NIGHT)
    (found,) = await findings()
    reviewer = world.staff.reviewer
    with pytest.raises(InvalidInput) as refused:
        await service.decide(reviewer, found["id"], found["version"], "confirm", " ")
    assert set(refused.value.fields) == {"reason"}
    decided = await service.decide(reviewer, found["id"], found["version"], "confirm",
                                   "电话回访：家属称当天未上门")
    assert decided["state"] == "confirmed" and decided["decided_by"] == reviewer.id
    rows = {r["id"]: r for r in await Visit.select().where(
        Visit.id.is_in([first["id"], second["id"]]))}
    assert {r["review"] for r in rows.values()} == {"rejected"}
    assert all("稽核确认违规" in r["review_reason"] for r in rows.values())
    actions = [e["action"] for e in await AuditEvent.select(AuditEvent.action).order_by(
        AuditEvent.seq)]
    assert {"visit.overturned", "visit.rejected", "inspection.confirmed"} <= set(actions)
    with pytest.raises(Conflict):
        await service.decide(reviewer, found["id"], decided["version"], "clear", "再看")
    await service.run_night(NIGHT + timedelta(days=1))  # the visits no longer stand
    assert [(f["state"], f["visit_ids"]) for f in await findings()] == [
        ("confirmed", found["visit_ids"])]


async def test_confirming_rejects_the_correction_that_replaced_a_visit(world) -> None:
    first, second = await travelling(world)
    await service.run_night(NIGHT)
    (found,) = await findings()
    corrected = await reviews.revise_visit(world.nurse, second["id"], "other", "补充说明",
                                           notes="家属另有说明")
    await service.decide(world.staff.reviewer, found["id"], found["version"], "confirm",
                         "实地核查：当天未上门")
    rows = {r["id"]: r for r in await Visit.select(Visit.id, Visit.review, Visit.superseded)}
    assert rows[corrected["id"]]["review"] == "rejected"
    assert rows[second["id"]]["superseded"] and rows[second["id"]]["review"] == "flagged"
    assert rows[first["id"]]["review"] == "rejected"


async def test_clearing_changes_no_visit_and_a_stale_decision_is_refused(world) -> None:
    first, second = await travelling(world)
    await service.run_night(NIGHT)
    (found,) = await findings()
    reviewer = world.staff.reviewer
    await service.decide(reviewer, found["id"], found["version"], "clear",
                         "服务人员当天改乘家属的车，已核实")
    with pytest.raises(Conflict):
        await service.decide(reviewer, found["id"], found["version"], "confirm", "不对")
    reviews = [r["review"] for r in await Visit.select(Visit.review).order_by(Visit.id)]
    assert reviews == [first["review"], second["review"]]
    await service.run_night(NIGHT)
    (again,) = await findings()
    assert again["state"] == "cleared" and again["version"] == found["version"] + 1


async def test_a_finding_grows_while_open(world) -> None:
    first, second = await travelling(world)
    await service.run_night(NIGHT)
    third = await log(world.nurse, visit(world, started_at=at(14, 11), ended_at=at(14, 11, 45),
                                         checkin_latitude=HOME[0], checkin_longitude=HOME[1]))
    run = await service.run_night(NIGHT)
    assert (run.added, run.updated) == (1, 0)  # 30 km back in 15 minutes: a second pair
    assert [json.loads(f["visit_ids"]) for f in await findings()] == [
        [first["id"], second["id"]], [second["id"], third["id"]]]


async def test_one_signature_image_on_two_households(world, settings, monkeypatch) -> None:
    """The database finds the shared hash; the finding names both visits. The second
    household's visit is inserted as a row (its own plan is not what this is about)."""
    monkeypatch.setenv("LTC_MEDIA_DIR", str(settings.media_dir))
    first = await log(world.nurse, visit(world, confirmation_code="", signature_png=SIGNATURE))
    other = await register(world.staff, name="李桂芝")
    row = await Visit.select().where(Visit.id == first["id"]).first()
    await Visit.insert(Visit(**{**{k: v for k, v in row.items() if k != "id"},
                                "client_uuid": uuid.uuid4(), "person": other["id"],
                                "started_at": at(12, 9), "ended_at": at(12, 9, 45),
                                "visit_on": date(2026, 12, 12)}))
    await service.run_night(NIGHT)
    found = {":".join(f["key"].split(":")[:2 if f["rule"] == "shared_confirmation" else 1]): f
             for f in await findings()}
    # The copy was checked in at the same spot and names the same confirmer, too.
    assert set(found) == {"shared_confirmation:sig", "shared_confirmation:name",
                          "same_spot"}
    signature = found["shared_confirmation:sig"]
    assert len(json.loads(signature["visit_ids"])) == 2 and "签名图片" in signature["details"]
    assert signature["staff"] == world.nurse.id


# --- pages -----------------------------------------------------------------------------------

async def test_the_report_lists_exports_and_decides(client, world) -> None:
    await travelling(world)
    await service.run_night(NIGHT)
    (found,) = await findings()
    assert (await sign_in(client, "reviewer")).status_code == 302
    page = await client.get("/inspections", params={"rule": "travel"})
    assert page.status_code == 200
    assert f'href="/inspections/{found["id"]}"' in page.text and "王丽" in page.text
    assert "按护理机构" in page.text and "按服务人员" in page.text
    download = await client.get("/inspections/export.csv", params={"rule": "travel"})
    assert download.status_code == 200 and "行程不可能" in download.content.decode("utf-8-sig")
    bad = await client.get("/inspections", params={"rule": "nonsense", "state": "x"})
    assert bad.status_code == 422 and bad.text.count('class="field-error"') == 2
    detail = await client.get(f"/inspections/{found['id']}")
    assert detail.status_code == 200 and "张秀英" in detail.text
    assert len(re.findall(r'href="/visits/\d+"', detail.text)) == 2
    token = await csrf_token(client)
    empty = await client.post(f"/inspections/{found['id']}/decision", data={
        "_csrf_token": token, "expected_version": found["version"], "decision": "",
        "reason": ""})
    assert empty.status_code == 422 and empty.text.count('class="field-error"') == 2
    done = await client.post(f"/inspections/{found['id']}/decision", data={
        "_csrf_token": token, "expected_version": found["version"], "decision": "clear",
        "reason": "已核实"}, follow_redirects=False)
    assert done.status_code == 302
    stale = await client.post(f"/inspections/{found['id']}/decision", data={
        "_csrf_token": token, "expected_version": found["version"], "decision": "confirm",
        "reason": "再看"})
    assert stale.status_code == 409
    home = await client.get("/")
    assert "待核实的稽核发现" in home.text


async def test_a_pattern_that_goes_on_after_a_decision_is_found_again(world) -> None:
    """Clearing 同一位置 for two households does not clear a third one checked in at the
    same spot later: a follow-up finding names the new visit; the night after adds nothing."""
    first = await log(world.nurse, visit(world))
    row = await Visit.select().where(Visit.id == first["id"]).first()

    async def copy_for(name: str, day: int) -> int:
        other = await register(world.staff, name=name)
        [inserted] = await Visit.insert(Visit(**{
            **{k: v for k, v in row.items() if k != "id"}, "client_uuid": uuid.uuid4(),
            "person": other["id"], "started_at": at(day, 9), "ended_at": at(day, 9, 45),
            "visit_on": date(2026, 12, day), "family_confirmed_by": name})).returning(Visit.id)
        return inserted["id"]

    second = await copy_for("李桂芝", 12)
    await service.run_night(NIGHT)
    (spot,) = [f for f in await findings() if f["rule"] == "same_spot"]
    await service.decide(world.staff.reviewer, spot["id"], spot["version"], "clear",
                         "两户为同一院落的两位老人，已核实")
    assert (await service.run_night(NIGHT)).added == 0
    third = await copy_for("王秀芳", 13)
    assert (await service.run_night(NIGHT)).added == 1
    spots = [f for f in await findings() if f["rule"] == "same_spot"]
    assert [f["state"] for f in spots] == ["cleared", "open"]
    assert spots[1]["key"] == f"{spot['key']}+{third}"
    # Only the new visit: confirming it rejects nothing the reviewer cleared.
    assert json.loads(spots[1]["visit_ids"]) == [third]
    assert "此前已核实的 2 次服务不再列入" in spots[1]["details"]
    assert (await service.run_night(NIGHT)).added == 0
    await service.decide(world.staff.reviewer, spots[1]["id"], spots[1]["version"], "confirm",
                         "第三户核实未上门")
    reviews = {r["id"]: r["review"] for r in await Visit.select(Visit.id, Visit.review)}
    assert reviews[third] == "rejected"
    assert reviews[first["id"]] != "rejected" and reviews[second] != "rejected"
