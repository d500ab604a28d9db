"""POST /api/v1/enrollment/events over HTTP: signatures, replays, unknown people, bad fields,
and the effects a bureau would check (hospital stays in either order, death in hospital)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from support.cases import FrozenClock, concluded_case, make_staff

from ltc.accounts import service as accounts
from ltc.enrollment.events import sign
from ltc.enrollment.tables import EnrollmentEvent, HospitalStay
from ltc.entitlements import service as entitlements
from ltc.entitlements.tables import Entitlement, EntitlementChange
from ltc.identity import SYSTEM

pytestmark = pytest.mark.anyio
URL = "/api/v1/enrollment/events"


async def _client_token(role: str = "clerk") -> tuple[str, str]:
    token, row = await accounts.issue_token(SYSTEM, name="医保参保系统", role=role,
                                            region_code="370983", organisation_code=None)
    return token, row["signing_secret"]


def _event(event_id: str, kind: str, resident_id: str, day: date) -> bytes:
    return json.dumps({"event_id": event_id, "type": kind, "resident_id": resident_id,
                       "effective_date": day.isoformat()}).encode()


async def _post(client, token: str, body: bytes, signature: str | None):
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    if signature is not None:
        headers["x-ltc-signature"] = signature
    return await client.post(URL, content=body, headers=headers)


@pytest.fixture
async def beneficiary(client, monkeypatch):
    """A person with an entitlement from 2026-11-01 (decided 2026-10-15), and the clock on
    2026-11-20; plus an integration client's token and signing secret."""
    frozen = FrozenClock(monkeypatch, date(2026, 10, 15))
    staff = await make_staff(assessors=2)
    case = await concluded_case(staff, name="王桂兰")
    await entitlements.decide(SYSTEM, case.assessment_id, "no_objection", frozen.today)
    frozen.set(date(2026, 11, 20))
    token, secret = await _client_token()
    return case, token, secret, frozen


async def _entitlement(person_id: int) -> dict:
    return await Entitlement.select().where(Entitlement.person == person_id).first()


async def test_bad_or_missing_signature_is_401_and_changes_nothing(client, beneficiary) -> None:
    case, token, secret, _ = beneficiary
    body = _event("e-1", "hospital_admitted", case.resident_id, date(2026, 11, 10))
    for signature in (None, "sha256=" + "0" * 64, sign("another-secret", body),
                      sign(secret, body + b" ")):
        response = await _post(client, token, body, signature)
        assert response.status_code == 401, signature
        assert response.json()["error"]["code"] == "bad_signature"
    assert await EnrollmentEvent.count() == 0
    assert await HospitalStay.count() == 0
    assert (await _entitlement(case.person_id))["state"] == "ACTIVE"


async def test_replay_returns_the_first_answer_and_has_no_second_effect(client,
                                                                      beneficiary) -> None:
    case, token, secret, _ = beneficiary
    body = _event("e-2", "hospital_admitted", case.resident_id, date(2026, 11, 10))
    first = await _post(client, token, body, sign(secret, body))
    assert first.status_code == 200, first.text
    assert first.json()["effects"] == ["hospital_stay_recorded", "entitlement_suspended"]
    assert first.headers["x-ltc-replayed"] == "false"
    changes = await EntitlementChange.count()
    again = await _post(client, token, body, sign(secret, body))
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["x-ltc-replayed"] == "true"
    assert await HospitalStay.count() == 1
    assert await EntitlementChange.count() == changes
    assert await EnrollmentEvent.count() == 1
    # The same event id with other content is a client bug, not a replay.
    other = _event("e-2", "hospital_admitted", case.resident_id, date(2026, 11, 11))
    clash = await _post(client, token, other, sign(secret, other))
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "event_id_reused"


async def test_unknown_person_is_a_clear_error_and_nothing_is_recorded(client,
                                                                     beneficiary) -> None:
    _, token, secret, _ = beneficiary
    body = _event("e-3", "deceased", "370983195001011235", date(2026, 11, 1))
    response = await _post(client, token, body, sign(secret, body))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "person_not_found"
    assert "370983" in response.json()["error"]["message"]
    assert await EnrollmentEvent.count() == 0


async def test_bad_fields_are_all_named(client, beneficiary) -> None:
    _, token, secret, _ = beneficiary
    body = json.dumps({"event_id": "", "type": "married", "resident_id": "370983195001011234",
                       "effective_date": "2026-13-01"}).encode()
    response = await _post(client, token, body, sign(secret, body))
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"event_id", "type", "resident_id",
                                              "effective_date"}
    future = _event("e-4", "deceased", "370983195001011235", date(2026, 11, 21))
    response = await _post(client, token, future, sign(secret, future))
    assert response.json()["error"]["fields"] == {"effective_date": "事件生效日期不能晚于今天"}
    assert await EnrollmentEvent.count() == 0


async def test_only_clerk_tokens_and_never_browser_sessions(client, beneficiary) -> None:
    case, _, _, _ = beneficiary
    token, secret = await _client_token(role="reviewer")
    body = _event("e-5", "deceased", case.resident_id, date(2026, 11, 1))
    response = await _post(client, token, body, sign(secret, body))
    assert response.status_code == 403 and response.json()["error"]["code"] == "wrong_role"
    # Without a bearer token a POST is a browser's, and browsers must pass the CSRF check.
    anonymous = await client.post(URL, content=body)
    assert anonymous.status_code == 403
    assert await EnrollmentEvent.count() == 0


async def test_discharge_before_admission_still_gives_the_right_stay(client,
                                                                   beneficiary) -> None:
    case, token, secret, _ = beneficiary
    discharge = _event("d-1", "hospital_discharged", case.resident_id, date(2026, 11, 15))
    answer = (await _post(client, token, discharge, sign(secret, discharge))).json()
    assert answer["effects"] == ["discharge_waiting_for_admission"]
    assert (await _entitlement(case.person_id))["state"] == "ACTIVE"
    admission = _event("a-1", "hospital_admitted", case.resident_id, date(2026, 11, 5))
    await _post(client, token, admission, sign(secret, admission))
    stays = await HospitalStay.select(HospitalStay.admitted_on, HospitalStay.discharged_on)
    assert stays == [{"admitted_on": date(2026, 11, 5), "discharged_on": date(2026, 11, 15)}]
    # Back home since the 15th: active today (the 20th); days 5–14 were suspended.
    assert (await _entitlement(case.person_id))["state"] == "ACTIVE"
    history = await EntitlementChange.select(EntitlementChange.kind,
                                             EntitlementChange.effective_on).where(
        EntitlementChange.kind == "suspended")
    assert history == [{"kind": "suspended", "effective_on": date(2026, 11, 5)}]


async def test_death_during_a_hospital_stay_ends_after_the_day_of_death(client,
                                                                      beneficiary) -> None:
    case, token, secret, _ = beneficiary
    admission = _event("a-2", "hospital_admitted", case.resident_id, date(2026, 11, 10))
    await _post(client, token, admission, sign(secret, admission))
    assert (await _entitlement(case.person_id))["state"] == "SUSPENDED"
    death = _event("x-1", "deceased", case.resident_id, date(2026, 11, 18))
    answer = (await _post(client, token, death, sign(secret, death))).json()
    assert "entitlement_ended" in answer["effects"]
    row = await _entitlement(case.person_id)
    assert (row["state"], row["ends_on"], row["end_reason"]) == (
        "ENDED", date(2026, 11, 18), "deceased")
