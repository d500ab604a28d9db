"""When the bureau's enrolment system cannot answer (a real HTTP server on 127.0.0.1, stopped):
acceptance is refused with `enrolment_unknown` and nothing changes, the case page offers a
real retry; a payout computed meanwhile keeps the lines but marks them, submission is
refused, and the re-check after recovery clears them. A "not enrolled" answer marks the
lines too, until the enrolment event is recorded and the recompute drops them."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from conftest import csrf_token, sign_in
from support.application_cases import snapshot, submitted, world_fixture  # noqa: F401
from support.bureau import bureau_fixture, gateway  # noqa: F401
from support.payout_cases import SCENARIOS, build, computed, lines_of
from test_enrollment_events_service import apply

from ltc.applications import service as apps
from ltc.applications.tables import Application
from ltc.enrollment.gateway import set_gateway
from ltc.errors import Conflict
from ltc.jobs.tables import OutboxMessage
from ltc.payouts import enrolment, service
from ltc.payouts import jobs as payout_jobs
from ltc.payouts.tables import PayoutBatch

pytestmark = pytest.mark.anyio
DECEMBER = date(2026, 12, 1)


# --- acceptance -------------------------------------------------------------------------------

async def test_unknown_is_no_refusal_ground_and_accepting_changes_nothing(world,
                                                                          bureau) -> None:
    set_gateway(gateway(bureau, retries=0))
    bureau.stop()
    application = await submitted(world)
    assert await apps.acceptance_check(world.clerk, application["id"]) == []
    before = await snapshot(application["id"])
    with pytest.raises(Conflict) as caught:
        await apps.accept_application(world.clerk, application["id"], 2)
    assert caught.value.code == "enrolment_unknown"
    assert caught.value.message.startswith("参保状态暂无法查询，请稍后重试")
    assert await snapshot(application["id"]) == before
    # Nor may a refusal letter say "not enrolled" on the strength of an unknown.
    with pytest.raises(Conflict) as caught:
        await apps.reject_application(world.clerk, application["id"], 2, ["not_enrolled"],
                                      "未参保")
    assert caught.value.code == "enrolment_unknown" and "grounds" in caught.value.fields
    assert await snapshot(application["id"]) == before


async def test_the_case_page_says_so_and_retries_for_real(client, world, bureau) -> None:
    set_gateway(gateway(bureau, retries=0))
    bureau.stop()
    application = await submitted(world)
    await sign_in(client, "city_clerk")
    case = f"/applications/{application['id']}"
    form = {"action": "accept", "version": "2", "_csrf_token": await csrf_token(client, case)}
    refused = await client.post(case, data=form)
    assert refused.status_code == 409
    assert "参保状态暂无法查询" in refused.text and "存在以下不予受理情形" not in refused.text
    retry = re.search(r'id="enrolment-unknown".*?</form>', refused.text, re.S).group(0)
    assert 'value="accept"' in retry and "重新查询" in retry and 'value="2"' in retry
    assert (await Application.select().first())["state"] == "SUBMITTED"

    bureau.start()
    accepted = await client.post(case, data=form)
    assert accepted.status_code == 200 and "申请已受理" in accepted.text
    assert (await Application.select().first())["state"] == "ACCEPTED"
    assert bureau.hits == 1  # the retry asked the system, now up


# --- payouts ----------------------------------------------------------------------------------

async def _december(monkeypatch):
    return await build(monkeypatch, SCENARIOS[0])  # 张秀英, one family-subsidy line


async def test_a_payout_computed_while_down_is_marked_then_cleared(
        database_url, monkeypatch, bureau) -> None:
    world = await _december(monkeypatch)
    set_gateway(gateway(bureau, retries=0))
    bureau.stop()
    batch = await computed(monkeypatch, DECEMBER, world.staff.clerk)
    assert list(await lines_of(batch["id"])) == ["family_subsidy"]  # kept, not dropped
    [mark] = await enrolment.open_marks(batch["id"])
    assert (mark["status"], mark["lines"], mark["name"]) == ("unknown", 1, "张秀英")
    assert "暂无法查询" in mark["reason"]
    assert await OutboxMessage.exists().where(
        OutboxMessage.actor_name == enrolment.RECHECK_JOB)

    with pytest.raises(Conflict) as caught:
        await service.submit(world.staff.clerk, batch["id"], batch["version"])
    assert caught.value.code == "enrolment_unverified"
    assert caught.value.fields == {"lines": "1", "people": "1"}
    assert "1条结算明细" in caught.value.message
    # The job tries again while the system is down (Dramatiq retries it with backoff).
    with pytest.raises(payout_jobs.EnrolmentStillUnknown):
        await payout_jobs.recheck_batch(batch["id"])

    bureau.start()
    await payout_jobs.recheck_batch(batch["id"])
    assert await enrolment.open_marks(batch["id"]) == []
    assert json.loads(bureau.requests[-1]["body"])["date"] == "2026-12-31"  # the month's end
    sent = await service.submit(world.staff.clerk, batch["id"], batch["version"])
    assert sent["state"] == "SUBMITTED"


async def test_not_enrolled_is_settled_by_the_enrolment_event(database_url, monkeypatch,
                                                              bureau) -> None:
    world = await _december(monkeypatch)
    bureau.not_enrolled[world.case.resident_id] = "已于2026-11-30终止参保"
    set_gateway(gateway(bureau))
    batch = await computed(monkeypatch, DECEMBER, world.staff.clerk)
    [mark] = await enrolment.open_marks(batch["id"])
    assert (mark["status"], mark["reason"]) == ("not_enrolled", "已于2026-11-30终止参保")
    with pytest.raises(Conflict):
        await service.submit(world.staff.clerk, batch["id"], batch["version"])

    # The clerk records the event that never came; the recompute drops the line.
    await apply("enrollment_ended", world.case.person_id, DECEMBER)
    await service.request_compute(world.staff.clerk, batch["id"])
    batch = await service.compute(batch["id"])
    assert await lines_of(batch["id"]) == {}
    assert await enrolment.open_marks(batch["id"]) == []
    assert (await service.submit(world.staff.clerk, batch["id"],
                                 batch["version"]))["state"] == "SUBMITTED"


async def test_the_batch_page_shows_why_and_rechecks(client, database_url, monkeypatch,
                                                     bureau) -> None:
    world = await _december(monkeypatch)
    set_gateway(gateway(bureau, retries=0))
    bureau.stop()
    batch = await computed(monkeypatch, DECEMBER, world.staff.clerk)
    await sign_in(client, "clerk")
    page = f"/payouts/{batch['id']}"
    shown = (await client.get(page)).text
    marks = re.search(r'id="enrolment-marks".*?</section>', shown, re.S).group(0)
    assert "待核验参保（1人，1条明细）" in marks and "张秀英" in marks
    assert "参保状态暂无法查询" in marks and "重新核验参保" in marks
    # A whole city marked while the system is down: the page counts them all, lists a few.
    monkeypatch.setattr(enrolment, "SHOWN_MARKS", 0)
    few = re.search(r'id="enrolment-marks".*?</section>', (await client.get(page)).text,
                    re.S).group(0)
    assert "待核验参保（1人，1条明细）" in few and "仅列出前0人" in few and "张秀英" not in few
    [line] = (await lines_of(batch["id"])).values()
    explained = (await client.get(f"{page}/lines/{line['id']}")).text
    assert re.search(r'id="enrolment-mark".*参保状态暂无法查询', explained)
    token = await csrf_token(client, page)
    refused = await client.post(page, data={"action": "submit", "version": batch["version"],
                                            "_csrf_token": token})
    assert refused.status_code == 409 and "1条结算明细" in refused.text

    bureau.start()
    rechecked = await client.post(page, data={"action": "recheck_enrolment",
                                              "_csrf_token": token})
    assert rechecked.status_code == 200 and "已重新核验参保" in rechecked.text
    assert 'id="enrolment-marks"' not in rechecked.text
    version = (await PayoutBatch.select().where(PayoutBatch.id == batch["id"]).first())[
        "version"]
    submitted_ = await client.post(page, data={"action": "submit", "version": version,
                                               "_csrf_token": token})
    assert submitted_.status_code == 200 and "已提交审批" in submitted_.text


async def test_the_local_adapter_marks_nothing(database_url, monkeypatch) -> None:
    world = await _december(monkeypatch)
    batch = await computed(monkeypatch, DECEMBER, world.staff.clerk)
    assert await enrolment.open_marks(batch["id"]) == []
    assert (await service.submit(world.staff.clerk, batch["id"],
                                 batch["version"]))["state"] == "SUBMITTED"
