"""A letter for every answer: asking for missing materials (补正, the application waits in
待补正 and continues when they come) with its 补正材料通知书, and refusing (不予受理) with its
不予受理告知书 — each transition from every state, the letters' text, their hashes checked by
`ltc evidence verify`, the pages and the API."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from conftest import sign_in
from support.application_cases import (
    REQUIRED,
    ZHANG,
    actor,
    listed,
    new_application,
    snapshot,
    submitted,
    world_fixture,  # noqa: F401  (the fixture, by name)
)
from support.evidence_cases import evidence_cli, tamper
from test_entitlements import pdf_text

from ltc import clock, documents
from ltc.applications import interface, supplement
from ltc.applications import service as apps
from ltc.applications.jobs import render_materials_notice, render_refusal_letter
from ltc.applications.tables import Application
from ltc.audit.tables import AuditEvent
from ltc.clock import working_calendar, working_days_after
from ltc.db import StaleWrite
from ltc.errors import Conflict, Forbidden, InvalidInput
from ltc.jobs.tables import OutboxMessage
from ltc.regions.tables import Region

pytestmark = pytest.mark.anyio

ASKED = ["insurance_card", "medical_records"]


@pytest.fixture
def media(monkeypatch, tmp_path):
    monkeypatch.setenv("LTC_MEDIA_DIR", str(tmp_path / "media"))
    return tmp_path / "media"


async def _row(application_id: int) -> dict:
    return await Application.select().where(Application.id == application_id).first()


async def _waiting(w, **changes) -> dict:
    """张三's application, submitted without two materials, waiting for them."""
    application = await submitted(w, materials=["application_form", "id_card"], **changes)
    return await supplement.request_materials(w.clerk, application["id"], 2, ASKED,
                                              note="病历须加盖医院公章")


async def _bureau(address: str, phone: str) -> None:
    await Region.update({Region.bureau_address: address, Region.bureau_phone: phone}).where(
        Region.code == "370983")


# --- asking for materials -------------------------------------------------------------------

async def test_asking_for_materials_waits_then_continues_when_they_come(world, media) -> None:
    w = world
    waiting = await _waiting(w)
    default_due = working_days_after(clock.today(), 5, working_calendar())
    assert (waiting["state"], waiting["state_label"]) == ("SUPPLEMENT", "待补正")
    assert waiting["materials_requested"] == ASKED
    assert waiting["materials_due_on"] == default_due  # 5 working days by default
    assert waiting["materials_note"] == "病历须加盖医院公章"
    assert await OutboxMessage.count().where(
        OutboxMessage.actor_name == "applications.render_materials_notice") == 1
    # Listed under its own filter; still open, so no second application for the person.
    assert [r["id"] for r in await listed(w.clerk, state="SUPPLEMENT")] == [waiting["id"]]
    with pytest.raises(Conflict, match="application_open"):
        await new_application(w.clerk, w.people[ZHANG])

    await _bureau("肥城市新城街道龙山路1号", "0538-3211234")
    sha256 = await render_materials_notice(waiting["id"])
    text = pdf_text(sha256, media)
    assert "补正材料通知书" in text and waiting["number"] in text and "张三" in text
    assert "医保参保凭证（社会保障卡）" in text and "诊断证明或近期病历资料" in text
    assert "申请表" not in text.replace("失能评估申请", "")  # only what is missing
    assert f"{default_due.year}年{default_due.month}月{default_due.day}日前" in text
    assert "病历须加盖医院公章" in text and "肥城市医疗保障局" in text
    assert "肥城市新城街道龙山路1号" in text and "0538-3211234" in text
    assert "一次性告知" in text and "5个工作日内" in text
    assert ZHANG not in text and "370983********1235" in text
    assert (await _row(waiting["id"]))["materials_notice_sha256"] == sha256
    assert await render_materials_notice(waiting["id"]) == sha256  # a retried job: same

    received = await supplement.receive_materials(w.clerk, waiting["id"], 3, ASKED)
    assert (received["state"], received["version"]) == ("SUBMITTED", 4)
    assert received["materials"] == REQUIRED and received["materials_received_at"]
    accepted = await apps.accept_application(w.clerk, waiting["id"], 4)
    assert accepted["state"] == "ACCEPTED"
    timeline = await apps.application_timeline(w.clerk, waiting["id"])
    assert [e["action"] for e in timeline] == [
        "application.created", "application.submitted", "application.materials_requested",
        "application.materials_notice_rendered", "application.materials_received",
        "application.accepted"]
    assert json.loads(timeline[4]["summary"])["after"]["still_missing"] == []


async def test_a_request_reports_every_problem_at_once_and_changes_nothing(world) -> None:
    application = await submitted(world, materials=["id_card"])
    reviewer = await actor("reviewer", "r1")
    before = await snapshot(application["id"])
    with pytest.raises(InvalidInput) as caught:
        await supplement.request_materials(world.clerk, application["id"], 2, [],
                                           due_on=clock.today().isoformat(), note="x" * 1001)
    assert caught.value.code == "invalid_materials_request"
    assert caught.value.fields == {"materials": "请勾选需要补正的材料",
                                   "due_on": "补正期限须晚于今天",
                                   "note": "说明不能超过1000个字"}
    with pytest.raises(InvalidInput) as caught:
        await supplement.request_materials(world.clerk, application["id"], 2, ["passport"],
                                           due_on="2026-02-30")
    assert set(caught.value.fields) == {"materials", "due_on"}
    assert "不是有效日期" in caught.value.fields["due_on"]
    with pytest.raises(Forbidden):
        await supplement.request_materials(reviewer, application["id"], 2, ASKED)
    assert await snapshot(application["id"]) == before
    later = clock.today() + timedelta(days=30)
    chosen = await supplement.request_materials(world.clerk, application["id"], 2, ASKED,
                                                due_on=later)
    assert chosen["materials_due_on"] == later


async def test_one_request_per_application_and_only_what_was_asked_is_received(world) -> None:
    waiting = await _waiting(world)
    before = await snapshot(waiting["id"])
    with pytest.raises(InvalidInput) as caught:
        await supplement.receive_materials(world.clerk, waiting["id"], 3, [])
    assert caught.value.code == "invalid_materials_received"
    with pytest.raises(InvalidInput) as caught:
        await supplement.receive_materials(world.clerk, waiting["id"], 3,
                                           ["insurance_card", "care_certificate"])
    assert caught.value.fields["received"] == "以下材料不在补正通知书中：care_certificate"
    with pytest.raises(StaleWrite):
        await supplement.receive_materials(world.clerk, waiting["id"], 2, ASKED)
    assert await snapshot(waiting["id"]) == before
    # Only part came: the application goes back to the decision, which finds it incomplete.
    partly = await supplement.receive_materials(world.clerk, waiting["id"], 3,
                                                ["insurance_card"])
    assert partly["state"] == "SUBMITTED"
    with pytest.raises(Conflict) as caught:
        await supplement.request_materials(world.clerk, waiting["id"], 4, ["medical_records"])
    assert caught.value.code == "materials_already_requested"
    with pytest.raises(InvalidInput) as caught:
        await apps.accept_application(world.clerk, waiting["id"], 4)
    assert set(caught.value.fields) == {"materials_incomplete"}


# --- every transition from every state ------------------------------------------------------

STATES = ("DRAFT", "SUBMITTED", "SUPPLEMENT", "ACCEPTED", "REJECTED", "CLOSED")


async def _in_state(w, state: str) -> dict:
    if state == "DRAFT":
        return await new_application(w.clerk, w.people[ZHANG])
    application = await submitted(w)
    if state == "SUBMITTED":
        return application
    if state == "SUPPLEMENT":
        waiting = await supplement.request_materials(w.clerk, application["id"], 2, ASKED)
        # The period has run out (refusal is allowed only then).
        await Application.update({Application.materials_due_on: clock.today()
                                  - timedelta(days=1)}).where(
            Application.id == waiting["id"])
        return await apps.get_application(w.clerk, waiting["id"])
    if state == "ACCEPTED":
        return await apps.accept_application(w.clerk, application["id"], 2)
    if state == "REJECTED":
        return await apps.reject_application(w.clerk, application["id"], 2, ["other"], "x")
    return await apps.withdraw_application(w.clerk, application["id"], 2, "申请人撤回")


TRANSITIONS = {
    "submit": (lambda w, a: apps.submit_application(w.clerk, a["id"], a["version"]),
               {"DRAFT": "SUBMITTED"}),
    "request materials": (lambda w, a: supplement.request_materials(
        w.clerk, a["id"], a["version"], ASKED), {"SUBMITTED": "SUPPLEMENT"}),
    "receive materials": (lambda w, a: supplement.receive_materials(
        w.clerk, a["id"], a["version"], ASKED), {"SUPPLEMENT": "SUBMITTED"}),
    "accept": (lambda w, a: apps.accept_application(w.clerk, a["id"], a["version"]),
               {"SUBMITTED": "ACCEPTED"}),
    "reject": (lambda w, a: apps.reject_application(w.clerk, a["id"], a["version"],
                                                    ["materials_incomplete"], "逾期未补正"),
               {"SUBMITTED": "REJECTED", "SUPPLEMENT": "REJECTED"}),
    "withdraw": (lambda w, a: apps.withdraw_application(w.clerk, a["id"], a["version"], "撤回"),
                 {"DRAFT": "CLOSED", "SUBMITTED": "CLOSED", "SUPPLEMENT": "CLOSED",
                  "ACCEPTED": "CLOSED"}),
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("transition", list(TRANSITIONS))
async def test_each_transition_from_each_state(world, transition, state) -> None:
    move, allowed = TRANSITIONS[transition]
    application = await _in_state(world, state)
    before = await snapshot(application["id"])
    if state not in allowed:
        with pytest.raises(Conflict) as caught:
            await move(world, application)
        assert caught.value.code == "wrong_state"
        assert await snapshot(application["id"]) == before
        return
    after = await move(world, application)
    assert after["state"] == allowed[state]
    assert after["version"] == application["version"] + 1


# --- refusing -------------------------------------------------------------------------------

async def test_refusing_a_waiting_application_only_once_the_period_has_run_out(
        world, media) -> None:
    waiting = await _waiting(world)
    before = await snapshot(waiting["id"])
    due = waiting["materials_due_on"]
    with pytest.raises(Conflict) as caught:
        await apps.reject_application(world.clerk, waiting["id"], 3, ["materials_incomplete"],
                                      "逾期未补正", today=due)
    assert caught.value.code == "materials_not_due"
    assert due.isoformat() in caught.value.message
    assert await snapshot(waiting["id"]) == before
    rejected = await apps.reject_application(
        world.clerk, waiting["id"], 3, ["materials_incomplete"], "申请人逾期未补正材料",
        today=due + timedelta(days=1))
    (ground,) = rejected["refusal_grounds"]
    assert ground == {"code": "materials_incomplete", "detail": (
        f"未在补正期限（{due.isoformat()}）内补交以下材料：医保参保凭证（社会保障卡）、"
        "二级及以上医疗机构诊断证明或近期病历资料")}
    text = pdf_text(await render_refusal_letter(waiting["id"]), media)
    assert "不予受理告知书" in text and "申请材料不齐全" in text and "逾期未补正" in text


async def test_the_refusal_letter_gives_the_grounds_and_the_appeal_rights(world, media) -> None:
    w = world
    application = await submitted(w, disabled_since=clock.today() - timedelta(days=30),
                                  applicant_relation="本人", applicant_name="张三")
    rejected = await apps.reject_application(
        w.clerk, application["id"], 2, ["disability_too_recent", "other"],
        "失能时间不满六个月，诊断证明日期经核实为近期")
    assert await OutboxMessage.count().where(
        OutboxMessage.actor_name == "applications.render_refusal_letter") == 1
    grounds = {g["code"]: g["detail"] for g in rejected["refusal_grounds"]}
    # The rule's own finding, with the day one may apply; the clerk's ground by its name.
    eligible_from = (await _row(application["id"]))["disabled_since"]
    assert grounds["disability_too_recent"].startswith(
        f"失能自{eligible_from.isoformat()}起，不满6个月；")
    assert grounds["other"] == "其他不符合受理条件的情形"

    await _bureau("", "")  # not filled in: printed as nothing, never a placeholder
    sha256 = await render_refusal_letter(application["id"])
    text = pdf_text(sha256, media)
    decided = clock.today()
    assert "长期护理保险申请不予受理告知书" in text and rejected["number"] in text
    assert "张三" in text and "370983********1235" in text and ZHANG not in text
    assert "失能状态持续不满规定期限" in text and "起可申请" in text
    assert "其他不符合受理条件的情形" in text and "诊断证明日期经核实为近期" in text
    assert f"{decided.year}年{decided.month}月{decided.day}日" in text
    assert "肥城市医疗保障局" in text
    assert "地址" not in text and "联系电话" not in text and "待核实" not in text
    assert "六十日内向肥城市人民政府申请行政复议" in text
    assert "六个月内依法向人民法院提起行政诉讼" in text
    row = await _row(application["id"])
    assert row["refusal_letter_sha256"] == sha256
    assert await render_refusal_letter(application["id"]) == sha256
    assert await AuditEvent.count().where(
        AuditEvent.action == "application.refusal_letter_rendered") == 1


async def test_evidence_verify_checks_both_letters(world, media, settings,
                                                   database_url) -> None:
    waiting = await _waiting(world)
    notice = await render_materials_notice(waiting["id"])
    await Application.update({Application.materials_due_on: clock.today()
                              - timedelta(days=1)}).where(Application.id == waiting["id"])
    await apps.reject_application(world.clerk, waiting["id"], 3, ["materials_incomplete"],
                                  "逾期未补正")
    letter = await render_refusal_letter(waiting["id"])
    assert {s.label for s in interface.DOCUMENTS} == {"补正材料通知书", "不予受理告知书"}
    checked, problems = await documents.verify_sources(list(interface.DOCUMENTS), media)
    assert (checked, problems) == (2, [])
    tamper(documents.path_for(letter, media), b"%PDF-1.7 forged")
    run = evidence_cli(replace(settings, media_dir=media), database_url)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "不予受理告知书" in run.stdout and notice not in run.stdout


# --- pages ------------------------------------------------------------------------------------

async def test_the_clerk_asks_for_materials_on_the_page_then_refuses_with_a_letter(
        world, media, client) -> None:
    w = world
    application = await submitted(w, materials=["application_form", "id_card"])
    await sign_in(client, "city_clerk")
    csrf = client.cookies.get("ltc_csrf")
    case = f"/applications/{application['id']}"
    page = await client.get(case)
    assert "一次性告知补正" in page.text and 'name="due_on"' in page.text
    default_due = working_days_after(clock.today(), 5, working_calendar())
    assert f'value="{default_due.isoformat()}"' in page.text
    assert 'value="insurance_card" checked' in page.text  # the missing ones proposed

    bad = await client.post(case, data={"action": "request_materials", "version": "2",
                                        "due_on": "2020-01-01", "note": "", "_csrf_token": csrf})
    assert bad.status_code == 422
    assert "请勾选需要补正的材料" in bad.text and "补正期限须晚于今天" in bad.text
    assert (await _row(application["id"]))["state"] == "SUBMITTED"

    asked = await client.post(case, data={"action": "request_materials", "version": "2",
                                          "materials": ASKED,
                                          "due_on": default_due.isoformat(),
                                          "note": "", "_csrf_token": csrf})
    assert asked.status_code == 200 and "已一次性告知补正材料" in asked.text
    assert "待补正" in asked.text and "补正材料通知书正在生成" in asked.text
    assert "期限届满前不能作不予受理决定" in asked.text
    assert "一次性告知补正材料（待补正）" in asked.text  # the timeline's label
    listed_page = await client.get("/applications", params={"state": "SUPPLEMENT"})
    assert application["number"] in listed_page.text and "补正期限" in listed_page.text
    assert "待补正" in (await client.get("/applications")).text

    await render_materials_notice(application["id"])
    notice = await client.get(f"{case}/materials-notice.pdf")
    assert notice.status_code == 200 and notice.content.startswith(b"%PDF")
    assert (await client.get(f"{case}/refusal-letter.pdf")).status_code == 404

    await Application.update({Application.materials_due_on: clock.today()
                              - timedelta(days=1)}).where(Application.id == application["id"])
    overdue = await client.get(case)
    assert "已逾期" in overdue.text and 'value="materials_incomplete" checked' in overdue.text
    refused = await client.post(case, data={"action": "reject", "version": "3",
                                            "grounds": "materials_incomplete",
                                            "note": "申请人逾期未补正", "_csrf_token": csrf})
    assert refused.status_code == 200 and "不予受理理由" in refused.text
    assert "未在补正期限" in refused.text and "申请人逾期未补正" in refused.text
    assert "不予受理告知书正在生成" in refused.text
    await render_refusal_letter(application["id"])
    shown = await client.get(case)
    assert f"{case}/refusal-letter.pdf" in shown.text
    letter = await client.get(f"{case}/refusal-letter.pdf")
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF")
    assert "生成不予受理告知书" in shown.text


async def test_receiving_materials_on_the_page(world, client) -> None:
    waiting = await _waiting(world)
    await sign_in(client, "city_clerk")
    csrf = client.cookies.get("ltc_csrf")
    case = f"/applications/{waiting['id']}"
    none = await client.post(case, data={"action": "receive_materials", "version": "3",
                                         "_csrf_token": csrf})
    assert none.status_code == 422 and "请勾选申请人已补交的材料" in none.text
    done = await client.post(case, data={"action": "receive_materials", "version": "3",
                                         "received": ASKED, "_csrf_token": csrf})
    assert done.status_code == 200 and "补正材料已登记" in done.text
    assert "补正后受理答复：已用0个工作日，剩余5个工作日" in done.text
    assert (await _row(waiting["id"]))["state"] == "SUBMITTED"


# --- API --------------------------------------------------------------------------------------

async def test_the_api_asks_for_and_receives_materials_with_stable_error_codes(
        world, client) -> None:
    application = await submitted(world, materials=["application_form", "id_card"])
    await sign_in(client, "city_clerk")
    headers = {"x-csrftoken": client.cookies.get("ltc_csrf")}
    base = f"/api/v1/applications/{application['id']}"
    bad = await client.post(f"{base}/request-materials", headers=headers,
                            json={"version": 2, "materials": [], "due_on": "2020-01-01"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_materials_request"
    assert set(bad.json()["error"]["fields"]) == {"materials", "due_on"}
    asked = await client.post(f"{base}/request-materials", headers=headers,
                              json={"version": 2, "materials": ASKED})
    assert asked.status_code == 200 and asked.json()["state"] == "SUPPLEMENT"
    early = await client.post(f"{base}/reject", headers=headers,
                              json={"version": 3, "grounds": ["materials_incomplete"],
                                    "note": "逾期未补正"})
    assert early.status_code == 409 and early.json()["error"]["code"] == "materials_not_due"
    received = await client.post(f"{base}/receive-materials", headers=headers,
                                 json={"version": 3, "received": ASKED})
    assert received.status_code == 200 and received.json()["state"] == "SUBMITTED"
    again = await client.post(f"{base}/request-materials", headers=headers,
                              json={"version": 4, "materials": ASKED})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "materials_already_requested"
    document = (await client.get("/schema/openapi.json")).json()
    described = json.dumps(document["paths"], ensure_ascii=False)
    for code in ("invalid_materials_request", "materials_already_requested",
                 "invalid_materials_received", "materials_not_due"):
        assert code in described

