"""Work queues (ltc.desk.queues): what waits for each role, counted as the linked pages
list it, the most urgent first; the workbench shows them and the navigation their counts."""

from datetime import date, timedelta

import pytest
from conftest import sign_in
from support.cases import (
    FrozenClock,
    assessment_version,
    assigned_case,
    concluded_case,
    make_staff,
    register,
    submit_assessment,
    user_actor,
)
from support.notice_cases import objected_with_three_assessors
from support.workbench import badges, queue_counts, queue_links
from test_payout_accounts import _approved_without_provider_account
from test_payout_pages import computed_december

from ltc.accounts.tables import User
from ltc.applications import service as applications
from ltc.assessments import service as assessments
from ltc.desk.queues import QUEUES, navigation_counts, work_queues
from ltc.identity import STAFF_ROLES, Role
from ltc.notices import service as notices
from ltc.payouts import service as payouts

pytestmark = pytest.mark.anyio

MONDAY = date(2026, 11, 2)


def _counts(queues) -> dict[str, int]:
    return {q.key: q.count for q in queues if q.count}


async def test_every_role_has_queues_with_chinese_labels_and_links() -> None:
    for role in STAFF_ROLES:
        specs = QUEUES[role]
        assert specs, role
        for spec in specs:
            assert spec.href.startswith("/") and not spec.label.isascii(), spec


async def test_clerk_assessor_and_reviewer_queues_follow_a_case(database_url, monkeypatch,
                                                                client) -> None:
    when = FrozenClock(monkeypatch, MONDAY)
    staff = await make_staff()
    clerk = staff.clerk
    # Waiting to be accepted since Monday; another accepted and drawn; a third concluded.
    person = await register(staff, name="张秀英")
    draft = await applications.create_application(
        clerk, person_id=person["id"], applicant_name="李明", applicant_relation="子女",
        applicant_phone="13900000000", disabled_since=MONDAY - timedelta(days=400),
        materials=["application_form", "id_card", "insurance_card", "medical_records"])
    waiting = await applications.submit_application(clerk, draft["id"], draft["version"])
    drawn = await assigned_case(staff, await register(staff, name="李桂兰"))
    await concluded_case(staff, name="王淑珍")

    when.set(MONDAY + timedelta(days=9))  # 7 working days on: 2 past the 5-day answer limit
    queues = await work_queues(clerk)
    assert _counts(queues) == {"submitted": 1, "to_notice": 1}
    first = queues[0]  # the overdue one leads
    assert first.key == "submitted" and first.overdue == 1
    (item,) = first.items
    assert item.href == f"/applications/{waiting['id']}" and "张秀英" in item.label
    assert item.days_left == -2 and item.unit == "个工作日"
    assert await navigation_counts(clerk) == {"/applications": 1, "/notice-batches": 1}

    # The assessors: the case drawn for them, with its letter deadline (30 working days).
    first_assessor = await user_actor(drawn["assessor_1"])
    (assigned,) = [q for q in await work_queues(first_assessor) if q.count]
    assert (assigned.key, assigned.count) == ("assigned", 1)
    assert assigned.items[0].href == f"/assessments/{drawn['id']}"
    assert assigned.items[0].days_left == 23 and not assigned.items[0].overdue

    # Submitted: it moves to the reviewer; returned: back to the assessors, as returned.
    await submit_assessment(drawn["id"])
    assert _counts(await work_queues(first_assessor)) == {}
    # the reviewer also watches the 22号 deadlines: 张秀英 is past hers
    assert _counts(await work_queues(staff.reviewer)) == {"assessments": 1, "deadlines": 1}
    assert await navigation_counts(staff.reviewer) == {"/review": 1}
    await assessments.return_to_assessors(
        staff.reviewer, drawn["id"], expected_version=await assessment_version(drawn["id"]),
        reason="照片不清晰")
    (returned,) = [q for q in await work_queues(first_assessor) if q.count]
    assert returned.key == "returned" and returned.items[0].note == "照片不清晰"

    # The pages: the workbench, the badges, and each link lists what the queue counted.
    await sign_in(client, "clerk")
    html = (await client.get("/")).text
    assert queue_counts(html) == {"submitted": 1, "to_notice": 1}
    assert badges(html) == {"/applications": 1, "/notice-batches": 1}
    assert "已超时 2 个工作日" in html
    listed = (await client.get(queue_links(html)["submitted"])).text
    assert "张秀英" in listed and "李桂兰" not in listed
    assert badges(listed) == badges(html)  # every page shows the badges
    # The progress poll (ltc.js) swaps only <main>: its fetches skip the badges, the
    # workbench it fetches still counts its queues.
    polled = (await client.get("/", headers={"X-LTC-Poll": "1"})).text
    assert badges(polled) == {} and queue_counts(polled) == queue_counts(html)
    name = (await User.select(User.username).where(User.id == first_assessor.id).first())
    await sign_in(client, name["username"])
    html = (await client.get("/")).text
    assert queue_counts(html) == {"returned": 1}
    assert badges(html) == {"/assessments": 1}
    mine = (await client.get(queue_links(html)["returned"])).text
    assert "李桂兰" in mine and "照片不清晰" in mine
    assert "李桂兰" not in (await client.get("/assessments?state=ASSIGNED")).text


async def test_a_failing_count_leaves_the_page_and_the_other_counts(database_url, monkeypatch,
                                                                    client) -> None:
    FrozenClock(monkeypatch, MONDAY)
    staff = await make_staff(assessors=2)
    await concluded_case(staff, name="王淑珍")

    async def broken(actor) -> int:
        raise RuntimeError("the database went away")

    spec = next(s for s in QUEUES[Role.clerk] if s.key == "submitted")
    monkeypatch.setitem(QUEUES, Role.clerk, [
        s if s is not spec else type(spec)(s.key, s.label, s.href, broken, None, s.nav)
        for s in QUEUES[Role.clerk]])
    assert _counts(await work_queues(staff.clerk)) == {"to_notice": 1}
    await sign_in(client, "clerk")
    response = await client.get("/")
    assert response.status_code == 200
    assert badges(response.text) == {"/notice-batches": 1}


async def test_the_notice_queues_follow_an_objected_notice(database_url, monkeypatch,
                                                           client) -> None:
    when, staff, _, batch, _ = await objected_with_three_assessors(monkeypatch)
    clerk = staff.clerk
    # The period ended yesterday; the nightly job has not closed it yet.
    assert _counts(await work_queues(clerk)) == {"to_close": 1, "objected": 1}
    (to_close,) = [q for q in await work_queues(clerk) if q.key == "to_close"]
    assert to_close.items[0].href == f"/notice-batches/{batch['id']}"
    await sign_in(client, "clerk")
    for todo in ("close", "objected"):
        listed = (await client.get(f"/notice-batches?todo={todo}")).text
        assert f"/notice-batches/{batch['id']}\"" in listed
    assert f"/notice-batches/{batch['id']}\"" not in (
        await client.get("/notice-batches?todo=reassess")).text

    await notices.close_batch(batch["id"], when.today)
    # One assessor of another organisation is not two: the re-assessment waits for the clerk.
    assert _counts(await work_queues(clerk)) == {"reassess": 1}
    listed = (await client.get("/notice-batches?todo=reassess")).text
    assert f"/notice-batches/{batch['id']}\"" in listed


async def test_payout_queues_the_reviewer_approves_and_the_clerk_mends(database_url,
                                                                      monkeypatch,
                                                                      client) -> None:
    world, batch = await computed_december(monkeypatch)
    clerk, reviewer = world.staff.clerk, world.staff.reviewer
    batch = await payouts.submit(clerk, batch["id"], batch["version"])
    assert _counts(await work_queues(reviewer))["payouts"] == 1
    assert (await navigation_counts(reviewer))["/payouts"] == 1
    batch = await payouts.return_batch(reviewer, batch["id"], batch["version"], "护理院床位数不对")
    (returned,) = [q for q in await work_queues(clerk) if q.key == "returned_batches"]
    assert returned.count == 1 and returned.items[0].note == "护理院床位数不对"
    assert returned.items[0].href == f"/payouts/{batch['id']}"
    await sign_in(client, "clerk")
    html = (await client.get("/")).text
    assert badges(html)["/payouts"] == 1
    listed = (await client.get(queue_links(html)["returned_batches"])).text
    assert f"/payouts/{batch['id']}\"" in listed and "护理院床位数不对" in listed
    assert f"/payouts/{batch['id']}\"" not in (await client.get("/payouts?todo=submitted")).text


async def test_an_approved_batch_waits_for_the_clerk_to_check_and_export(client,
                                                                         monkeypatch) -> None:
    """Its item opens the export check, which names the payee without an account."""
    world, batch = await _approved_without_provider_account(monkeypatch)
    (waiting,) = [q for q in await work_queues(world.staff.clerk) if q.key == "to_export"]
    assert waiting.count == 1 and waiting.items[0].note == "导出前请核对收款账户"
    assert waiting.items[0].href == f"/payouts/{batch['id']}?check=export#export"
    await sign_in(client, "clerk")
    html = (await client.get(waiting.items[0].href)).text
    missing = html[html.index('id="missing-accounts"'):]
    assert "新城街道社区卫生服务中心" in missing[:missing.index("</div>")]
