"""The administrator's side of decision events: subscribers registered, shown their secret
once, paused and resumed on the pages and over the API; deliveries listed, inspected with
every attempt, and re-sent; the workbench shows dead ones; `ltc events` does the same."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import make_user, sign_in
from support.cli import ltc_on

from ltc import clock, db
from ltc.accounts import service as accounts
from ltc.audit.tables import AuditEvent
from ltc.decision_events import delivery
from ltc.decision_events.interface import EventType, Subject, emit
from ltc.decision_events.tables import DecisionEvent, EventDelivery, EventSubscriber
from ltc.identity import SYSTEM

pytestmark = pytest.mark.anyio

NOWHERE = "http://127.0.0.1:9/ltc-events"  # the discard port: nothing answers there


async def _token() -> dict[str, str]:
    token, _ = await accounts.issue_token(SYSTEM, name="运维平台", role="admin",
                                          region_code="370983", organisation_code=None)
    return {"authorization": f"Bearer {token}"}


async def _emit(n: int = 1) -> str:
    async with db.write_transaction():
        return await emit(EventType.entitlement_suspended,
                          Subject("person", str(n), {"resident_id": f"R{n}", "name": "张三"}),
                          {"reason": "住院"})


async def test_a_subscriber_is_registered_on_the_page_with_its_secret_shown_once(
        client, database_url) -> None:
    await make_user("admin", "admin")
    assert (await sign_in(client, "admin")).status_code == 302
    csrf = client.cookies.get("ltc_csrf")
    bad = await client.post("/admin/event-subscribers/new", data={
        "_csrf_token": csrf, "name": "", "url": "ftp://x"})
    assert bad.status_code == 422
    for problem in ("请填写订阅方名称", "http:// 或 https://", "请至少选择一种事件"):
        assert problem in bad.text  # every problem at once, beside its field
    assert await EventSubscriber.count() == 0

    made = await client.post("/admin/event-subscribers/new", data={
        "_csrf_token": csrf, "name": "医保核心", "url": NOWHERE,
        "event_types": ["entitlement.suspended", "entitlement.ended"]})
    assert made.status_code == 200
    secret = re.search(r'<code class="wrap" id="secret">([0-9a-f]{64})</code>', made.text)[1]
    row = await EventSubscriber.select().first()
    assert row["secret"] == secret
    again = await client.get(f"/admin/event-subscribers/{row['id']}")
    assert secret not in again.text and "只显示这一次" not in again.text

    paused = await client.post(f"/admin/event-subscribers/{row['id']}/pause",
                               data={"version": "1", "_csrf_token": csrf},
                               follow_redirects=False)
    assert paused.status_code == 302
    stale = await client.post(f"/admin/event-subscribers/{row['id']}/resume",
                              data={"version": "1", "_csrf_token": csrf},
                               follow_redirects=False)
    assert stale.status_code == 409 and "刚被其他人修改过" in stale.text
    assert (await EventSubscriber.select().first())["active"] is False
    actions = [e["action"] for e in await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.object_type == "event_subscriber")]
    assert actions == ["event_subscriber.created", "event_subscriber.paused"]


async def test_deliveries_are_listed_inspected_and_resent_from_the_pages(
        client, database_url, settings) -> None:
    await make_user("admin", "admin")
    added = await ltc_on(settings, database_url, "events", "subscriber", "add", "--name", "民政",
                         "--url", NOWHERE, "--type", "entitlement.suspended")
    assert added.returncode == 0 and b"secret (shown once): " in added.stdout
    event_id = await _emit()
    start = clock.now()
    with clock.travel_to(start):
        await delivery.deliver_until_idle(settings)
    with clock.travel_to(start + timedelta(hours=25)):
        await delivery.deliver_until_idle(settings)
    row = await EventDelivery.select().first()
    assert row["state"] == "dead"

    assert (await sign_in(client, "admin")).status_code == 302
    csrf = client.cookies.get("ltc_csrf")
    home = await client.get("/")
    assert "/admin/event-deliveries?state=dead" in home.text
    listed = await client.get("/admin/event-deliveries", params={"state": "dead"})
    assert f'href="/admin/event-deliveries/{row["id"]}"' in listed.text
    assert "已放弃（死信）" in listed.text
    shown = await client.get(f"/admin/event-deliveries/{row['id']}")
    assert event_id in shown.text and "连接失败" in shown.text
    assert await AuditEvent.exists().where(AuditEvent.action == "event_delivery.viewed")
    resent = await client.post(f"/admin/event-deliveries/{row['id']}/resend",
                               data={"_csrf_token": csrf}, follow_redirects=False)
    assert resent.status_code == 302
    assert (await EventDelivery.select().first())["state"] == "pending"
    refused = await client.post(f"/admin/event-deliveries/{row['id']}/resend",
                               data={"_csrf_token": csrf}, follow_redirects=False)
    assert "无需重新投递" in (await client.get(refused.headers["location"])).text


async def test_the_api_manages_subscribers_and_deliveries(client, database_url) -> None:
    headers = await _token()
    bad = await client.post("/api/v1/event-subscribers", headers=headers,
                            json={"name": "x", "url": "mailto:a@b.cn", "event_types": []})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_subscriber"
    assert set(bad.json()["error"]["fields"]) == {"url", "event_types"}

    made = await client.post("/api/v1/event-subscribers", headers=headers, json={
        "name": "商保经办", "url": NOWHERE, "event_types": ["entitlement.suspended"]})
    assert made.status_code == 201, made.text
    subscriber, secret = made.json()["subscriber"], made.json()["secret"]
    assert len(secret) == 64
    one = await client.get(f"/api/v1/event-subscribers/{subscriber['id']}", headers=headers)
    assert "secret" not in one.json() and secret not in one.text

    paused = await client.post(f"/api/v1/event-subscribers/{subscriber['id']}/pause",
                               headers=headers, json={"version": subscriber["version"]})
    assert paused.json()["active"] is False
    stale = await client.post(f"/api/v1/event-subscribers/{subscriber['id']}/resume",
                              headers=headers, json={"version": subscriber["version"]})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_write"

    event_id = await _emit()
    found = await client.get("/api/v1/event-deliveries", headers=headers,
                             params={"event_id": event_id})
    [listed] = found.json()
    assert (listed["state"], listed["sequence"]) == ("pending", 1)
    pending = await client.post(f"/api/v1/event-deliveries/{listed['id']}/resend",
                                headers=headers)
    assert pending.status_code == 422
    assert pending.json()["error"]["code"] == "delivery_pending"
    detail = await client.get(f"/api/v1/event-deliveries/{listed['id']}", headers=headers)
    assert event_id in detail.json()["body"] and detail.json()["attempt_log"] == []

    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/event-subscribers" in schema["paths"]
    assert "/api/v1/event-deliveries/{delivery_id}/resend" in schema["paths"]


async def test_the_command_line_lists_pauses_resumes_and_resends(database_url,
                                                                 settings) -> None:
    bad = await ltc_on(settings, database_url, "events", "subscriber", "add", "--name", "x",
                       "--url", "localhost/in", "--type", "payout.paid")
    assert bad.returncode == 2 and "url: 请填写以 http://" in bad.stderr.decode()
    await ltc_on(settings, database_url, "events", "subscriber", "add", "--name", "商保",
                 "--url", NOWHERE, "--type", "payout.paid")
    [row] = await EventSubscriber.select()
    paused = await ltc_on(settings, database_url, "events", "subscriber", "pause",
                          str(row["id"]))
    assert paused.returncode == 0
    listed = await ltc_on(settings, database_url, "events", "subscriber", "list")
    assert f"{row['id']}\tpaused\t商保\t{NOWHERE}\tpayout.paid\tdead=0" in \
        listed.stdout.decode()
    await ltc_on(settings, database_url, "events", "subscriber", "resume", str(row["id"]))
    assert (await EventSubscriber.select().first())["active"] is True
    await EventDelivery.insert(EventDelivery(
        subscriber=row["id"], event=await _event_row(), stream="person:1", sequence=1,
        state="dead"))
    resent = await ltc_on(settings, database_url, "events", "resend", "--dead-of",
                          str(row["id"]))
    assert b"1 dead deliveries back to pending" in resent.stdout
    assert (await EventDelivery.select().first())["state"] == "pending"


async def _event_row() -> int:
    await _emit()
    return (await DecisionEvent.select(DecisionEvent.id).first())["id"]


async def test_a_family_caregivers_resident_id_is_masked_in_every_list(client, database_url,
                                                                       settings) -> None:
    """A payout event's stream is the payee key, which for a family caregiver holds the
    resident ID number: lists, the workbench, the CSV and the API show it masked."""
    await make_user("admin", "admin")
    await EventSubscriber(name="银行", url=NOWHERE, event_types='["payout.paid"]',
                          secret="s").save()
    number = "370983195001011235"
    async with db.write_transaction():
        await emit(EventType.payout_paid, Subject("payee", f"cg:{number}", {
            "payee_key": f"cg:{number}", "name": "李明"}), {"amount_fen": 45000})
    await EventDelivery.update({EventDelivery.state: "dead"}).where(
        EventDelivery.id.is_not_null())
    assert (await sign_in(client, "admin")).status_code == 302
    for page in ("/admin/event-deliveries", "/admin/event-deliveries/export.csv", "/"):
        shown = await client.get(page)
        assert shown.status_code == 200, page
        assert number not in shown.text and "3709************35" in shown.text, page
    api = await client.get("/api/v1/event-deliveries", headers=await _token())
    assert number not in api.text and "3709************35" in api.text


async def test_an_odd_subscriber_filter_lists_everything_instead_of_failing(
        client, database_url) -> None:
    await make_user("admin", "admin")
    assert (await sign_in(client, "admin")).status_code == 302
    for page in ("/admin/event-deliveries", "/admin/event-deliveries/export.csv"):
        for odd in ("²", "abc", "99999999999"):
            assert (await client.get(page, params={"subscriber": odd})).status_code == 200
