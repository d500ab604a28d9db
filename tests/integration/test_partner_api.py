"""What partners read (issue 17 item 3) over HTTP: a person's status, entitlement and care plan
by resident ID at several stages (applied; beneficiary with a confirmed plan; entitlement
suspended, resumed and ended), for tokens with the scope partner.read only; region scoping
without an oracle; invalid and unknown resident IDs; revoked tokens; every answer about a
person audited as the client's read."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import make_user, sign_in
from support.cases import (
    OTHER_TOWN_VILLAGE,
    FrozenClock,
    assigned_case,
    entitled_case,
    make_staff,
    register,
    resident_id,
)
from support.cli import ltc_on
from test_careplans import REQUIRED, STARTS_ON, propose, world  # noqa: F401 (a fixture)

from ltc import clock
from ltc.accounts import service as accounts
from ltc.accounts.tables import ApiToken
from ltc.audit.tables import AuditEvent
from ltc.careplans import service as careplans
from ltc.entitlements import service as entitlements
from ltc.identity import SYSTEM

pytestmark = pytest.mark.anyio
ENDPOINTS = ("/api/v1/partner/status", "/api/v1/partner/entitlement",
             "/api/v1/partner/care-plan")


async def _token(scopes=("partner.read",), region: str = "370983") -> str:
    token, _ = await accounts.issue_token(SYSTEM, name="商业保险经办", role="clerk",
                                          region_code=region, organisation_code=None,
                                          scopes=scopes)
    return token


async def _ask(client, token: str, path: str, rid):
    return await client.post(path, json={"resident_id": rid},
                             headers={"authorization": f"Bearer {token}"})


async def _answers(client, token: str, rid: str) -> tuple[dict, dict, dict]:
    found = []
    for path in ENDPOINTS:
        answer = await _ask(client, token, path, rid)
        assert answer.status_code == 200, answer.text
        found.append(answer.json())
    return found[0], found[1], found[2]


async def _partner_reads() -> list[tuple[str, str, str, str]]:
    rows = await AuditEvent.select(AuditEvent.action, AuditEvent.actor_kind,
                                   AuditEvent.actor_name, AuditEvent.object_id).where(
        AuditEvent.action.like("partner.%")).order_by(AuditEvent.seq)
    return [(r["action"], r["actor_kind"], r["actor_name"], r["object_id"]) for r in rows]


async def test_an_applicant_has_an_application_and_nothing_granted(client, monkeypatch) -> None:
    FrozenClock(monkeypatch, date(2026, 11, 20))
    staff = await make_staff(assessors=2)
    person = await register(staff, name="王桂兰")
    await assigned_case(staff, person)
    token = await _token()
    # Typed as on a phone: spaces, and a lower-case x is accepted as X.
    typed = " ".join((person["resident_id"][:6], person["resident_id"][6:].lower()))
    status, entitlement, plan = await _answers(client, token, typed)
    masked = person["resident_id"][:6] + "*" * 8 + person["resident_id"][-4:]
    assert status["resident_id_masked"] == masked
    assert status["registered"] is True and status["deceased_on"] is None
    assert status["application"]["state"] == "ASSIGNED"
    assert status["application"]["state_label"] == "已派评估"
    assert status["application"]["in_progress"] is True
    assert status["grade"] is None and status["entitlement_state"] is None
    assert entitlement == {"resident_id_masked": masked, "entitlement": None}
    assert plan == {"resident_id_masked": masked, "care_plan": None}
    assert await _partner_reads() == [
        (action, "token", "接口:商业保险经办", str(person["id"]))
        for action in ("partner.status_read", "partner.entitlement_read",
                       "partner.care_plan_read")]


async def test_a_beneficiary_with_a_confirmed_plan(client, world) -> None:  # noqa: F811
    w = world
    proposed = await propose(w)
    w.clock.advance(hours=2)
    await careplans.confirm_plan(w.clerk, proposed["id"], proposed["version"])
    rid = (await register_id(w.person_id))
    status, held, answer = await _answers(client, await _token(), rid)

    assert status["application"]["state"] == "CLOSED"
    assert status["application"]["in_progress"] is False
    grade = status["grade"]
    assert (grade["grade"], grade["concluded_on"], grade["valid_until"]) == (
        5, "2026-11-20", "2028-11-19")
    assert grade["validity"] == "valid" and grade["with_benefits"] is True
    assert status["entitlement_state"] == "ACTIVE"

    entitlement = held["entitlement"]
    assert (entitlement["state"], entitlement["state_label"], entitlement["grade"]) == (
        "ACTIVE", "享受待遇", 5)
    assert entitlement["starts_on"] == STARTS_ON.isoformat()
    assert entitlement["ends_on"] is None and entitlement["end_reason"] is None
    assert entitlement["suspensions"] == []
    benefit = entitlement["benefit"]
    assert benefit["home_visits_per_month"] == 4
    assert benefit["home_care_month_fen"] > 0 and benefit["bed_day_rate_fen"] > 0

    plan = answer["care_plan"]
    assert plan["provider_name"] and plan["care_form"] == "home"
    assert plan["care_form_label"] == "居家护理"
    assert (plan["plan_no"], plan["visits_per_month"]) == (1, 4)
    assert plan["starts_on"] == STARTS_ON.isoformat()
    required = {item["code"]: item["required"] for item in plan["items"]}
    assert required == {**dict.fromkeys(REQUIRED, True), "B02": False}
    assert all(item["name"] for item in plan["items"])
    # When the clerk confirmed it (two hours after the provider proposed it), in UTC.
    assert plan["confirmed_at"].startswith("2026-12-01T04:00:00")


async def register_id(person_id: int) -> str:
    from ltc.people import interface as people

    found = await people.person_by_id(person_id)
    assert found is not None
    return found.resident_id


async def test_an_ended_entitlement_with_its_reason_and_suspensions(client,
                                                                   monkeypatch) -> None:
    frozen = FrozenClock(monkeypatch, date(2026, 10, 15))
    staff = await make_staff(assessors=2)
    case, entitlement_id = await entitled_case(staff, decided_on=date(2026, 10, 15))
    frozen.set(date(2026, 12, 20))
    row = await entitlements.suspend(staff.clerk, entitlement_id, 1, starts_on=date(
        2026, 12, 1), reason="外出探亲")
    row = await entitlements.resume(staff.clerk, entitlement_id, row["version"],
                                    resumes_on=date(2026, 12, 10), reason="已返回")
    await entitlements.end(staff.clerk, entitlement_id, row["version"],
                           last_day=date(2026, 12, 19), reason_code="recovered",
                           note="复查好转")
    status, held, plan = await _answers(client, await _token(), case.resident_id)
    assert status["entitlement_state"] == "ENDED"
    entitlement = held["entitlement"]
    assert (entitlement["state"], entitlement["ends_on"], entitlement["end_reason"],
            entitlement["end_reason_label"]) == ("ENDED", "2026-12-19", "recovered",
                                                 "失能状况好转")
    assert entitlement["expires_on"] > entitlement["ends_on"]
    assert entitlement["suspensions"] == [
        {"reason": "外出探亲", "starts_on": "2026-12-01", "resumes_on": "2026-12-10"}]
    assert plan["care_plan"] is None


async def test_only_tokens_with_the_scope_may_read(client, monkeypatch) -> None:
    FrozenClock(monkeypatch, date(2026, 11, 20))
    staff = await make_staff(assessors=0)
    person = await register(staff, name="李秀珍")
    legacy = await _token(scopes=("role.api", "enrolment.events"))
    for path in ENDPOINTS:
        refused = await _ask(client, legacy, path, person["resident_id"])
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "scope_missing"
        assert "partner.read" in refused.json()["error"]["message"]
    # A partner's token reads nothing else, and may still ask who it is.
    partner = await _token()
    auth = {"authorization": f"Bearer {partner}"}
    elsewhere = await client.get("/api/v1/staff", headers=auth)
    assert elsewhere.status_code == 403 and elsewhere.json()["error"]["code"] == "scope_missing"
    events = await client.post("/api/v1/enrollment/events", content=b"{}", headers=auth)
    assert events.status_code == 403 and events.json()["error"]["code"] == "scope_missing"
    me = await client.get("/api/v1/me", headers=auth)
    assert me.status_code == 200 and me.json()["scopes"] == ["partner.read"]
    # Staff signed in have the person page; these endpoints are for integration clients.
    await make_user("admin", username="boss")
    await sign_in(client, "boss")
    session = await client.post(ENDPOINTS[0], json={"resident_id": person["resident_id"]},
                                headers={"x-csrftoken": client.cookies.get("ltc_csrf")})
    assert session.status_code == 403 and session.json()["error"]["code"] == "scope_missing"
    assert await _partner_reads() == []


async def test_out_of_region_answers_as_unknown_and_bad_ids_are_refused(client,
                                                                         monkeypatch) -> None:
    FrozenClock(monkeypatch, date(2026, 11, 20))
    staff = await make_staff(assessors=0)
    elsewhere = await register(staff, name="赵玉兰", village=OTHER_TOWN_VILLAGE)
    town_token = await _token(region="370983001")  # 新城街道; the person lives in 老城街道
    unknown = resident_id(date(1950, 2, 2))
    for path in ENDPOINTS:
        out = await _ask(client, town_token, path, elsewhere["resident_id"])
        none = await _ask(client, town_token, path, unknown)
        assert out.status_code == none.status_code == 404
        assert out.json() == none.json()
        assert out.json()["error"]["code"] == "person_not_found"
    # The county's token finds the person.
    found = await _ask(client, await _token(), ENDPOINTS[0], elsewhere["resident_id"])
    assert found.status_code == 200

    wrong_check = elsewhere["resident_id"][:17] + (
        "0" if elsewhere["resident_id"][17] != "0" else "1")
    for bad, problem in (("12345", "应为18位"), (wrong_check, "校验位"), ("", "请填写"),
                         ("3709831950010112³5", "前17位必须是数字")):
        refused = await _ask(client, town_token, ENDPOINTS[1], bad)
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["code"] == "invalid_resident_id" and problem in error["fields"][
            "resident_id"]
    malformed = await _ask(client, town_token, ENDPOINTS[2], 370983)
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "invalid_request"
    # Only the county token's answer about a person is a read of personal data.
    assert [r[0] for r in await _partner_reads()] == ["partner.status_read"]


async def test_a_revoked_token_reads_nothing(client, monkeypatch) -> None:
    FrozenClock(monkeypatch, date(2026, 11, 20))
    staff = await make_staff(assessors=0)
    person = await register(staff, name="孙秀英")
    token = await _token()
    assert (await _ask(client, token, ENDPOINTS[0], person["resident_id"])).status_code == 200
    row = await ApiToken.select(ApiToken.id).first()
    await accounts.revoke_token(SYSTEM, row["id"])
    refused = await _ask(client, token, ENDPOINTS[0], person["resident_id"])
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
    assert len(await _partner_reads()) == 1


async def test_tokens_issued_before_scopes_keep_what_they_could_do(database_url) -> None:
    """A row as the token table held it before the scopes column: the migration's default
    gives it role.api and enrolment.events, nothing more."""
    _, row = await accounts.issue_token(SYSTEM, name="旧令牌", role="clerk",
                                        region_code="370983", organisation_code=None)
    await ApiToken.raw("INSERT INTO api_token (name, token_hash, role, region, "
                       "signing_secret, created_at) VALUES ({}, {}, {}, {}, {}, {})",
                       "旧令牌2", "f" * 64, "clerk", row["region"], "s", clock.now())
    stored = await ApiToken.select(ApiToken.scopes).where(ApiToken.token_hash == "f" * 64
                                                          ).first()
    assert stored["scopes"] == "enrolment.events role.api" == row["scopes"]


async def test_ltc_token_takes_scopes(settings, database_url) -> None:
    issued = await ltc_on(settings, database_url, "token", "--name", "商业保险经办", "--role",
                          "clerk", "--region", "370983", "--scope", "partner.read")
    assert issued.returncode == 0, issued.stderr.decode()
    assert issued.stdout.decode().startswith("ltc_")
    default = await ltc_on(settings, database_url, "token", "--name", "医保参保系统", "--role",
                           "clerk", "--region", "370983")
    assert default.returncode == 0, default.stderr.decode()
    refused = await ltc_on(settings, database_url, "token", "--name", "x", "--role", "clerk",
                           "--region", "370983", "--scope", "admin.all")
    assert refused.returncode != 0 and "admin.all" in refused.stderr.decode()
    rows = await ApiToken.select(ApiToken.name, ApiToken.scopes).order_by(ApiToken.id)
    assert rows == [{"name": "商业保险经办", "scopes": "partner.read"},
                    {"name": "医保参保系统", "scopes": "enrolment.events role.api"}]
