"""POST and GET /api/v1/visits over HTTP, as an app on a provider's tablet uses them: the
replay of one UUID answers the first result and creates nothing; a UUID reused for other
content is a 409; bad fields a 422 naming each; the wrong role a 403; another provider's
beneficiary a 404; a signed-in provider's session works with its CSRF header."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import pytest
from conftest import csrf_token, make_user, sign_in
from test_visits import REQUIRED, World, at, december_world, visit

from ltc.accounts import service as accounts
from ltc.audit.tables import AuditEvent
from ltc.identity import SYSTEM
from ltc.organisations import interface as organisations
from ltc.organisations import service as organisations_service
from ltc.visits.tables import Visit

pytestmark = pytest.mark.anyio
URL = "/api/v1/visits"


@pytest.fixture
async def world(database_url, monkeypatch) -> World:
    return await december_world(monkeypatch)


async def _token(role: str = "provider", organisation: str | None = "T-P") -> dict[str, str]:
    token, _ = await accounts.issue_token(SYSTEM, name="上门护理App", role=role,
                                          region_code="370983", organisation_code=organisation)
    return {"authorization": f"Bearer {token}"}


def _body(world: World, **changes: Any) -> dict[str, Any]:
    """A clean visit as JSON, logged for the nurse (an app's token names its staff)."""
    values = {**visit(world, staff_id=world.nurse.id), **changes}
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()}


async def test_a_replay_of_one_uuid_returns_the_first_result_and_creates_nothing(
        client, world) -> None:
    headers = await _token()
    body = _body(world)
    first = await client.post(URL, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.headers["x-ltc-replayed"] == "false"
    answer = first.json()
    assert answer["review"] == "accepted" and answer["flags"] == []
    assert answer["client_uuid"] == body["client_uuid"] and answer["visit_on"] == "2026-12-14"
    visits, events = await Visit.count(), await AuditEvent.count()
    for _ in range(2):
        again = await client.post(URL, json=body, headers=headers)
        assert again.status_code == 200 and again.headers["x-ltc-replayed"] == "true"
        assert again.json() == answer
    assert (await Visit.count(), await AuditEvent.count()) == (visits, events) == (1, events)
    # A flagged visit replays with its flags.
    flagged = _body(world, items=REQUIRED[:3], started_at=at(13, 9).isoformat(),
                    ended_at=at(13, 10).isoformat())
    one = await client.post(URL, json=flagged, headers=headers)
    two = await client.post(URL, json=flagged, headers=headers)
    assert one.status_code == 201 and two.status_code == 200
    assert one.json() == two.json() and one.json()["flags"][0]["code"] == "required_missing"
    assert await Visit.count() == 2


async def test_a_uuid_reused_for_other_content_is_409(client, world) -> None:
    headers = await _token()
    body = _body(world)
    assert (await client.post(URL, json=body, headers=headers)).status_code == 201
    # (The PIN is not stored, so a replay is compared on everything else.)
    other = {**body, "ended_at": at(14, 10).isoformat(), "confirmation_code": "999999"}
    answer = await client.post(URL, json=other, headers=headers)
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "uuid_reused" and set(error["fields"]) == {"ended_at"}
    assert await Visit.count() == 1


async def test_bad_fields_are_422_naming_each(client, world) -> None:
    headers = await _token()
    answer = await client.post(URL, json={
        "client_uuid": "12345", "person_id": "张秀英", "started_at": "2026-12-14T09:00",
        "ended_at": "下午三点", "items": "B01", "checkin_latitude": "north",
        "checkout_latitude": 36.1, "notes": 7}, headers=headers)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_visit"
    assert set(error["fields"]) == {
        "client_uuid", "person_id", "staff_id", "started_at", "ended_at", "items",
        "checkin_latitude", "checkout_longitude", "notes", "family_confirmed_by",
        "confirmation_code"}
    assert "须带时区" in error["fields"]["started_at"]
    assert "ISO 8601" in error["fields"]["ended_at"]
    not_json = await client.post(URL, content=b"{", headers={
        **headers, "content-type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["error"]["code"] == "invalid_visit"
    listed = await client.post(URL, json=[1, 2], headers=headers)
    assert listed.status_code == 422 and "body" in listed.json()["error"]["fields"]
    assert await Visit.count() == 0


async def test_the_wrong_role_is_403_and_no_token_401(client, world) -> None:
    for role, organisation in (("clerk", None), ("reviewer", None), ("assessor", "T-A")):
        answer = await client.post(URL, json=_body(world), headers=await _token(
            role, organisation))
        assert answer.status_code == 403, role
        assert answer.json()["error"]["code"] == "wrong_role"
    assert (await client.get(f"{URL}/1")).status_code == 401
    assert await Visit.count() == 0


async def test_another_providers_beneficiary_is_404(client, world) -> None:
    other = await make_user("provider", username="other", organisation="T-P2")
    headers = await _token(organisation="T-P2")
    answer = await client.post(URL, json=_body(world, staff_id=other["id"]), headers=headers)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "beneficiary_not_found"
    # Nor may it name T-P's nurse as its staff.
    answer = await client.post(URL, json=_body(world), headers=headers)
    assert answer.status_code == 422 and set(answer.json()["error"]["fields"]) == {"staff_id"}
    assert await Visit.count() == 0


async def test_get_a_visit(client, world) -> None:
    headers = await _token()
    body = _body(world, items=[*REQUIRED, "B06"])
    logged = (await client.post(URL, json=body, headers=headers)).json()
    shown = await client.get(f"{URL}/{logged['id']}", headers=headers)
    assert shown.status_code == 200
    visit_ = shown.json()
    assert visit_["client_uuid"] == body["client_uuid"] and visit_["items"] == body["items"]
    assert visit_["review"] == "flagged" and visit_["flags"][0]["code"] == "outside_plan"
    assert visit_["started_at"].startswith("2026-12-14T01:00:00")  # stored in UTC
    assert (visit_["superseded"], visit_["superseded_by"], visit_["revision_of"]) == (
        False, None, None)
    reviewer = await client.get(f"{URL}/{logged['id']}", headers=await _token("reviewer", None))
    assert reviewer.status_code == 200
    await make_user("provider", username="other", organisation="T-P2")
    for visit_id, headers_ in ((logged["id"], await _token(organisation="T-P2")),
                               (logged["id"] + 100, headers)):
        answer = await client.get(f"{URL}/{visit_id}", headers=headers_)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "visit_not_found"


async def test_a_signed_in_provider_logs_for_themselves_with_the_csrf_header(
        client, world) -> None:
    await sign_in(client, "carer")
    body = _body(world)
    del body["staff_id"]
    refused = await client.post(URL, json=body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    answer = await client.post(URL, json=body, headers={
        "x-csrftoken": await csrf_token(client, "/visits")})
    assert answer.status_code == 201, answer.text
    assert answer.json()["staff_id"] == world.carer.id
    row = await Visit.select(Visit.client_uuid).where(Visit.id == answer.json()["id"]).first()
    assert row["client_uuid"] == uuid.UUID(body["client_uuid"])
    assert json.loads((await Visit.select(Visit.response).first())["response"]) == answer.json()


@pytest.mark.parametrize(("status", "label"), [("suspended", "暂停"), ("exited", "退出")])
async def test_a_provider_suspended_or_exited_in_the_register_logs_no_visit(
        client, world, status, label) -> None:
    """Its agreement still runs, but the register says 暂停 / 退出: the app and the phone form
    are refused with the reason; a visit logged before is still answered as a replay."""
    headers = await _token()
    before = _body(world)
    assert (await client.post(URL, json=before, headers=headers)).status_code == 201
    provider = await organisations.by_code("T-P")
    row = await organisations_service.get(SYSTEM, provider.id)
    await organisations_service.set_status(SYSTEM, provider.id, row["version"], status,
                                           "整改", date(2026, 12, 15))
    refused = await client.post(URL, json=_body(world, started_at=at(13, 9).isoformat(),
                                                ended_at=at(13, 9, 45).isoformat()),
                                headers=headers)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "provider_not_active" and f"“{label}”" in error["message"]
    assert (await client.post(URL, json=before, headers=headers)).status_code == 200  # replay
    await sign_in(client, "nurse")
    page = await client.post("/visits", data={
        "_csrf_token": await csrf_token(client, "/visits"),
        **{k: str(v) for k, v in _body(world).items() if k not in ("items", "staff_id")},
        "items": REQUIRED, "started_at": "2026-12-12T09:00", "ended_at": "2026-12-12T10:00"})
    assert page.status_code == 403 and f"状态为“{label}”，不能登记上门服务记录" in page.text
    assert await Visit.count() == 1
