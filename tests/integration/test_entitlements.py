"""Decisions and entitlements: deciding a case (eligible or not) with its letter, the clerk's
suspend / resume / end, the daily refresh (expiry, renewal task), and the history of every
change."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from datetime import date

import pytest
from conftest import make_user, sign_in
from support.cases import (
    INDEPENDENT_SCORES,
    OTHER_TOWN_VILLAGE,
    Case,
    FrozenClock,
    Staff,
    assert_bureau_contact,
    assigned_case,
    clear_bureau_contact,
    complete_assessment,
    concluded_case,
    make_staff,
    user_actor,
)

from ltc import db, documents
from ltc.applications.tables import Application
from ltc.audit.tables import AuditEvent
from ltc.decision_events.tables import DecisionEvent
from ltc.entitlements import service
from ltc.entitlements.jobs import render_decision_letter
from ltc.entitlements.tables import Decision, Entitlement, EntitlementChange, Suspension
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.identity import SYSTEM
from ltc.people.tables import Person

pytestmark = pytest.mark.anyio

CONCLUDED_ON = date(2026, 11, 20)
DECIDED_ON = date(2026, 11, 28)
STARTS_ON, EXPIRES_ON = date(2026, 12, 1), date(2028, 11, 30)
RENEWAL_DUE = date(2028, 10, 1)  # 60 days before expiry


@dataclass
class Granted:
    clock: FrozenClock
    staff: Staff
    case: Case
    decision: dict
    entitlement_id: int


@pytest.fixture
async def granted(database_url, monkeypatch) -> Granted:
    """张秀英, grade 5, decided on 28 November 2026: entitled from 1 December 2026."""
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=2)
    case = await concluded_case(staff, name="张秀英")
    clock.set(DECIDED_ON)
    decision = await service.decide(SYSTEM, case.assessment_id, "no_objection", DECIDED_ON)
    entitlement = await Entitlement.select().where(Entitlement.decision == decision["id"]).first()
    return Granted(clock, staff, case, decision, entitlement["id"])


@pytest.fixture
def media(monkeypatch, tmp_path):
    monkeypatch.setenv("LTC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LTC_MEDIA_DIR", str(tmp_path / "media"))
    monkeypatch.delenv("LTC_DATABASE_URL", raising=False)
    monkeypatch.delenv("LTC_BROKER_URL", raising=False)
    return tmp_path / "media"


async def row_of(entitlement_id: int) -> dict:
    return await Entitlement.select().where(Entitlement.id == entitlement_id).first()


async def history(entitlement_id: int) -> list[tuple]:
    rows = await EntitlementChange.select().where(
        EntitlementChange.entitlement == entitlement_id).order_by(EntitlementChange.id)
    return [(r["kind"], r["state_before"], r["state_after"], r["effective_on"], r["source"])
            for r in rows]


async def snapshot(entitlement_id: int) -> tuple:
    return (await row_of(entitlement_id), await Suspension.count(),
            await EntitlementChange.count(), await AuditEvent.count())


def pdf_text(sha256: str, media_dir) -> str:
    path = documents.path_for(sha256, media_dir)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True,
                          timeout=60).stdout.decode()
    return "".join(text.split())  # lines wrap anywhere in Chinese text


# --- deciding --------------------------------------------------------------------------------

async def test_an_eligible_grade_gives_an_entitlement_and_a_letter(granted, media) -> None:
    g = granted
    assert (g.decision["eligible"], g.decision["grade"], g.decision["basis"]) == (
        True, 5, "no_objection")
    row = await row_of(g.entitlement_id)
    assert (row["starts_on"], row["expires_on"], row["state"]) == (STARTS_ON, EXPIRES_ON,
                                                                   "ACTIVE")
    assert row["policy_version"] == g.decision["policy_version"] is not None
    # Deciding again (a retried job) returns the same decision and grants nothing more.
    again = await service.decide(SYSTEM, g.case.assessment_id, "no_objection", DECIDED_ON)
    assert again["id"] == g.decision["id"]
    assert await Decision.count() == 1 and await Entitlement.count() == 1
    sha256 = await render_decision_letter(g.decision["id"])
    text = pdf_text(sha256, media)
    assert "重度失能Ⅲ级" in text and "2026年12月1日" in text and "2028年11月30日" in text
    assert "申请复核" in text and "张秀英" in text
    assert "咨询电话：0538-3221234" in text  # the pooling region's, as in 地区管理
    assert_bureau_contact(text, printed=True)
    assert g.case.resident_id not in text  # the ID number is masked even in the letter
    assert g.case.resident_id[:6] + "********" + g.case.resident_id[-4:] in text
    stored = await Decision.select().where(Decision.id == g.decision["id"]).first()
    assert stored["letter_sha256"] == sha256
    assert await render_decision_letter(g.decision["id"]) == sha256


async def test_a_letter_without_the_bureau_contact_prints_no_contact_line(granted,
                                                                          media) -> None:
    """Not reachable through the pages (a decision follows a published notice, and that
    needs the contact, which cannot be cleared): the letter still leaves the lines out."""
    await clear_bureau_contact()
    text = pdf_text(await render_decision_letter(granted.decision["id"]), media)
    assert "申请复核" in text and "肥城市医疗保障局" in text
    assert_bureau_contact(text, printed=False)


async def test_an_ineligible_grade_closes_the_case_without_an_entitlement(
        database_url, monkeypatch, media) -> None:
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=2)
    case = await concluded_case(staff, name="李桂兰", scores=INDEPENDENT_SCORES)
    assert case.grade == 0
    clock.set(DECIDED_ON)
    decision = await service.decide(SYSTEM, case.assessment_id, "no_objection", DECIDED_ON)
    assert (decision["eligible"], decision["grade"]) == (False, 0)
    assert await Entitlement.count() == 0
    application = await Application.select().where(Application.id == case.application_id).first()
    assert application["state"] == "CLOSED" and application["decided_at"] is not None
    actions = [e["action"] for e in await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.action.is_in(["decision.made", "application.decided"])).order_by(
        AuditEvent.seq)]
    assert actions == ["decision.made", "application.decided"]
    text = pdf_text(await render_decision_letter(decision["id"]), media)
    assert "不予享受" in text and "基本正常" in text
    assert "重度失能Ⅰ级、重度失能Ⅱ级、重度失能Ⅲ级" in text  # what would have qualified
    assert "6个月后重新申请" in text
    assert case.resident_id not in text


async def test_a_new_decision_replaces_the_running_entitlement(granted) -> None:
    """Two years on, the renewal re-assessment finds the person no longer eligible: the
    running entitlement ends at the end of the month of the decision."""
    g = granted
    g.clock.set(date(2028, 9, 1))
    person = await Person.select().where(Person.id == g.case.person_id).first()
    assessment = await assigned_case(g.staff, person)
    await complete_assessment(g.staff, assessment["id"], INDEPENDENT_SCORES)
    decision = await service.decide(SYSTEM, assessment["id"], "no_objection", date(2028, 9, 20))
    assert decision["eligible"] is False
    row = await row_of(g.entitlement_id)
    assert (row["ends_on"], row["end_reason"], row["state"]) == (
        date(2028, 9, 30), "reassessed", "ACTIVE")  # still paid through September
    assert (await history(g.entitlement_id))[-1][:2] == ("ended", "ACTIVE")
    assert (await service.refresh_all(date(2028, 10, 1)))["changed"] == 1
    assert (await row_of(g.entitlement_id))["state"] == "ENDED"


# --- the clerk's suspend / resume / end -------------------------------------------------------

async def test_suspend_and_resume(granted) -> None:
    g = granted
    g.clock.set(date(2027, 1, 10))
    clerk = g.staff.clerk
    before = await snapshot(g.entitlement_id)
    with pytest.raises(InvalidInput) as caught:
        await service.suspend(clerk, g.entitlement_id, 1, starts_on=date(2026, 11, 15),
                              reason="  ")
    assert set(caught.value.fields) == {"reason", "starts_on"}
    with pytest.raises(Forbidden):
        await service.suspend(g.staff.reviewer, g.entitlement_id, 1,
                              starts_on=date(2027, 1, 5), reason="外出探亲")
    with pytest.raises(Forbidden):
        await service.suspend(g.staff.assessors[0], g.entitlement_id, 1,
                              starts_on=date(2027, 1, 5), reason="外出探亲")
    with pytest.raises(db.StaleWrite):
        await service.suspend(clerk, g.entitlement_id, 2, starts_on=date(2027, 1, 5),
                              reason="外出探亲")
    assert await snapshot(g.entitlement_id) == before
    lc_clerk = await user_actor((await make_user("clerk", username="lc_clerk",
                                                 region="370983002"))["id"])
    before = await snapshot(g.entitlement_id)
    with pytest.raises(NotFound):
        await service.suspend(lc_clerk, g.entitlement_id, 1, starts_on=date(2027, 1, 5),
                              reason="外出探亲")
    assert await snapshot(g.entitlement_id) == before

    suspended = await service.suspend(clerk, g.entitlement_id, 1, starts_on=date(2027, 1, 5),
                                      reason="外出探亲三个月")
    assert suspended["state"] == "SUSPENDED" and suspended["open_suspension"]["reason"] == (
        "外出探亲三个月")
    with pytest.raises(InvalidInput) as caught:  # one open suspension at a time
        await service.suspend(clerk, g.entitlement_id, suspended["version"],
                              starts_on=date(2027, 1, 8), reason="再次暂停")
    assert set(caught.value.fields) == {"starts_on"}
    with pytest.raises(InvalidInput) as caught:
        await service.resume(clerk, g.entitlement_id, suspended["version"],
                             resumes_on=date(2027, 1, 5), reason="")
    assert set(caught.value.fields) == {"resumes_on", "reason"}
    resumed = await service.resume(clerk, g.entitlement_id, suspended["version"],
                                   resumes_on=date(2027, 1, 10), reason="已返回本地")
    assert resumed["state"] == "ACTIVE" and resumed["open_suspension"] is None
    assert [(s["starts_on"], s["resumes_on"]) for s in resumed["suspensions"]] == [
        (date(2027, 1, 5), date(2027, 1, 10))]
    with pytest.raises(Conflict) as caught:
        await service.resume(clerk, g.entitlement_id, resumed["version"],
                             resumes_on=date(2027, 1, 12), reason="再恢复")
    assert caught.value.code == "not_suspended"
    assert await history(g.entitlement_id) == [
        ("started", "", "ACTIVE", STARTS_ON, "决定 " + g.decision["number"]),
        ("suspended", "ACTIVE", "SUSPENDED", date(2027, 1, 5), "clerk"),
        ("resumed", "SUSPENDED", "ACTIVE", date(2027, 1, 10), "clerk"),
    ]
    change = (await EntitlementChange.select().where(
        EntitlementChange.kind == "suspended").first())
    assert change["reason"] == "外出探亲三个月" and change["actor_name"] == clerk.label


async def test_a_suspension_from_a_future_day_starts_with_the_daily_refresh(granted) -> None:
    g = granted
    g.clock.set(date(2027, 1, 10))
    row = await service.suspend(g.staff.clerk, g.entitlement_id, 1,
                                starts_on=date(2027, 2, 1), reason="计划外出务工")
    assert row["state"] == "ACTIVE"
    assert await service.refresh_all(date(2027, 1, 31)) == {"changed": 0, "renewals": 0}
    assert await service.refresh_all(date(2027, 2, 1)) == {"changed": 1, "renewals": 0}
    assert (await row_of(g.entitlement_id))["state"] == "SUSPENDED"
    assert (await history(g.entitlement_id))[-1] == (
        "suspended", "ACTIVE", "SUSPENDED", date(2027, 2, 1), "scheduler")


async def test_end_by_the_clerk(granted) -> None:
    g = granted
    g.clock.set(date(2027, 1, 10))
    clerk = g.staff.clerk
    before = await snapshot(g.entitlement_id)
    with pytest.raises(InvalidInput) as caught:
        await service.end(clerk, g.entitlement_id, 1, last_day=date(2026, 11, 1),
                          reason_code="expired", note=" ")
    assert set(caught.value.fields) == {"last_day", "reason_code", "reason"}
    with pytest.raises(Forbidden):
        await service.end(g.staff.reviewer, g.entitlement_id, 1, last_day=date(2027, 1, 9),
                          reason_code="recovered", note="经复查已能自理")
    with pytest.raises(db.StaleWrite):
        await service.end(clerk, g.entitlement_id, 7, last_day=date(2027, 1, 9),
                          reason_code="recovered", note="经复查已能自理")
    assert await snapshot(g.entitlement_id) == before

    ended = await service.end(clerk, g.entitlement_id, 1, last_day=date(2027, 1, 9),
                              reason_code="recovered", note="经复查已能自理")
    assert (ended["state"], ended["ends_on"], ended["end_reason"]) == (
        "ENDED", date(2027, 1, 9), "recovered")
    last = (await EntitlementChange.select().where(
        EntitlementChange.entitlement == g.entitlement_id).order_by(
        EntitlementChange.id, ascending=False).first())
    assert (last["kind"], last["state_after"], last["reason"]) == (
        "ended", "ENDED", "失能状况好转：经复查已能自理")
    for act in (
        service.suspend(clerk, g.entitlement_id, ended["version"],
                        starts_on=date(2027, 1, 12), reason="外出"),
        service.resume(clerk, g.entitlement_id, ended["version"],
                       resumes_on=date(2027, 1, 12), reason="返回"),
        service.end(clerk, g.entitlement_id, ended["version"], last_day=date(2027, 1, 5),
                    reason_code="fraud", note="冒领待遇"),
    ):
        with pytest.raises(Conflict) as caught:
            await act
        assert caught.value.code == "wrong_state"
    assert (await row_of(g.entitlement_id))["ends_on"] == date(2027, 1, 9)


async def test_an_end_on_a_future_day_takes_effect_after_it(granted) -> None:
    g = granted
    g.clock.set(date(2027, 1, 10))
    row = await service.end(g.staff.clerk, g.entitlement_id, 1, last_day=date(2027, 1, 31),
                            reason_code="fraud", note="冒用他人身份申请")
    assert (row["state"], row["ends_on"]) == ("ACTIVE", date(2027, 1, 31))
    assert (await service.refresh_all(date(2027, 1, 31)))["changed"] == 0
    assert (await service.refresh_all(date(2027, 2, 1)))["changed"] == 1
    row = await row_of(g.entitlement_id)
    assert (row["state"], row["end_reason"]) == ("ENDED", "fraud")
    last = (await history(g.entitlement_id))[-1]
    assert last == ("ended", "ACTIVE", "ENDED", date(2027, 2, 1), "scheduler")


# --- the daily refresh -----------------------------------------------------------------------

async def test_renewal_is_raised_60_days_before_expiry_once_and_expiry_ends_it(granted) -> None:
    g = granted
    assert await service.refresh_all(date(2028, 9, 30)) == {"changed": 0, "renewals": 0}
    assert await service.list_entitlements(g.staff.clerk, renewal_due=True) == []
    assert await service.refresh_all(RENEWAL_DUE) == {"changed": 0, "renewals": 1}
    assert await service.refresh_all(RENEWAL_DUE) == {"changed": 0, "renewals": 0}
    assert await service.refresh_all(date(2028, 10, 2)) == {"changed": 0, "renewals": 0}
    row = await row_of(g.entitlement_id)
    assert (row["renewal_raised_on"], row["state"]) == (RENEWAL_DUE, "ACTIVE")
    due = await service.list_entitlements(g.staff.clerk, renewal_due=True)
    assert [r["id"] for r in due] == [g.entitlement_id]
    assert await service.refresh_all(EXPIRES_ON) == {"changed": 0, "renewals": 0}
    assert await service.refresh_all(date(2028, 12, 1)) == {"changed": 1, "renewals": 0}
    assert await service.refresh_all(date(2028, 12, 2)) == {"changed": 0, "renewals": 0}
    row = await row_of(g.entitlement_id)
    assert (row["state"], row["end_reason"], row["ends_on"]) == ("ENDED", "expired", None)
    assert await service.list_entitlements(g.staff.clerk, renewal_due=True) == []
    changes = await EntitlementChange.select().where(
        EntitlementChange.entitlement == g.entitlement_id).order_by(EntitlementChange.id)
    assert [(c["kind"], c["effective_on"], c["source"]) for c in changes] == [
        ("started", STARTS_ON, "决定 " + g.decision["number"]),
        ("renewal_raised", RENEWAL_DUE, "scheduler"),
        ("ended", date(2028, 12, 1), "scheduler"),
    ]
    assert changes[-1]["reason"] == "有效期届满"
    assert "2028-11-30" in changes[1]["reason"]


async def test_every_change_has_a_history_row_and_an_audit_event(granted) -> None:
    g = granted
    g.clock.set(date(2027, 1, 10))
    clerk = g.staff.clerk
    row = await service.suspend(clerk, g.entitlement_id, 1, starts_on=date(2027, 1, 2),
                                reason="外出")
    row = await service.resume(clerk, g.entitlement_id, row["version"],
                               resumes_on=date(2027, 1, 9), reason="返回")
    await service.refresh_all(RENEWAL_DUE)
    await service.end(clerk, g.entitlement_id, (await row_of(g.entitlement_id))["version"],
                      last_day=date(2028, 10, 5), reason_code="other", note="本人申请终止")
    kinds = [k for k, *_ in await history(g.entitlement_id)]
    assert kinds == ["started", "suspended", "resumed", "renewal_raised", "ended"]
    audited = [e["action"] for e in await AuditEvent.select(AuditEvent.action).where(
        (AuditEvent.object_type == "entitlement")
        & (AuditEvent.object_id == str(g.entitlement_id))).order_by(AuditEvent.seq)]
    assert audited == [f"entitlement.{k}" for k in kinds]


# --- reading ---------------------------------------------------------------------------------

async def test_who_sees_entitlements(granted) -> None:
    g = granted
    shown = await service.get_entitlement(g.staff.reviewer, g.entitlement_id)
    assert shown["grade_label"] == "重度失能Ⅲ级" and shown["person.name"] == "张秀英"
    assert [h["kind"] for h in shown["history"]] == ["started"]
    for term in ("秀英", "zxy", g.case.resident_id[:10]):
        found = await service.list_entitlements(g.staff.clerk, search=term)
        assert [r["id"] for r in found] == [g.entitlement_id], term
    assert await service.list_entitlements(g.staff.clerk, state="ENDED") == []
    with pytest.raises(Forbidden):
        await service.list_entitlements(g.staff.assessors[0])
    lc_clerk = await user_actor((await make_user("clerk", username="lc_clerk",
                                                 region="370983002"))["id"])
    assert await service.list_entitlements(lc_clerk) == []
    with pytest.raises(NotFound):
        await service.get_entitlement(lc_clerk, g.entitlement_id)


async def test_a_decision_in_another_town_is_kept_to_its_region(
        database_url, monkeypatch) -> None:
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=2)
    case = await concluded_case(staff, name="王芳", village=OTHER_TOWN_VILLAGE)
    clock.set(DECIDED_ON)
    decision = await service.decide(SYSTEM, case.assessment_id, "no_objection", DECIDED_ON)
    assert decision["region_path"] == "370983/370983002/" + OTHER_TOWN_VILLAGE
    xc_clerk = await user_actor((await make_user("clerk", username="xc_clerk",
                                                 region="370983001"))["id"])
    assert await service.list_entitlements(xc_clerk) == []
    assert len(await service.list_entitlements(staff.clerk)) == 1


async def test_a_day_with_nothing_changing_writes_nothing(granted) -> None:
    """The pass finds what changes today in SQL; an entitlement held by a running suspension,
    not yet due for renewal, is left exactly as it was: no row, history, audit or event."""
    g = granted
    g.clock.set(date(2027, 1, 10))
    await service.suspend(g.staff.clerk, g.entitlement_id, 1, starts_on=date(2027, 1, 5),
                          reason="外出探亲三个月")
    assert await service.refresh_all(date(2027, 1, 10)) == {"changed": 0, "renewals": 0}
    before = (await snapshot(g.entitlement_id), await DecisionEvent.count())
    for day in (date(2027, 1, 11), date(2027, 3, 31), date(2028, 9, 30)):
        assert await service.refresh_all(day) == {"changed": 0, "renewals": 0}
    assert (await snapshot(g.entitlement_id), await DecisionEvent.count()) == before
    assert (await row_of(g.entitlement_id))["state"] == "SUSPENDED"


async def test_no_renewal_task_for_an_entitlement_set_to_end_before_expiry(granted) -> None:
    g = granted
    g.clock.set(date(2028, 9, 1))
    await service.end(g.staff.clerk, g.entitlement_id, 1, last_day=date(2028, 10, 31),
                      reason_code="recovered", note="经复查已能自理，十月底停止")
    assert await service.refresh_all(RENEWAL_DUE) == {"changed": 0, "renewals": 0}
    assert (await row_of(g.entitlement_id))["renewal_raised_on"] is None


async def test_the_list_exports_to_csv_for_excel(granted, client) -> None:
    """SPEC §11: the list with its filters as CSV (UTF-8 with BOM), ID numbers masked."""
    await sign_in(client, "clerk")
    response = await client.get("/entitlements/export.csv?state=ACTIVE")
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("姓名,身份证号")
    assert len(lines) == 2 and "享受待遇" in lines[1] and "2028-11-30" in lines[1]
    assert "********" in lines[1]
    assert len((await client.get("/entitlements/export.csv?state=ENDED")).content
               .decode("utf-8-sig").splitlines()) == 1
    assert await AuditEvent.count().where(AuditEvent.action == "entitlement.exported") == 2
