"""The clerk's intake pages: every problem at once, refusal grounds shown, nothing changed."""

import re
from datetime import timedelta

import pytest
from conftest import make_user, sign_in
from stdnum.cn.ric import calc_check_digit

from ltc import clock
from ltc.applications.tables import Application
from ltc.audit.tables import AuditEvent
from ltc.people.tables import Person

pytestmark = pytest.mark.anyio



def resident_id(body: str) -> str:
    return body + calc_check_digit(body + "0")  # stdnum ignores the last character


async def _clerk(client) -> str:
    await make_user("clerk")
    await sign_in(client, "clerk")
    return client.cookies.get("ltc_csrf")


def _form(csrf: str, **overrides: str) -> dict:
    form = {"resident_id": resident_id("37098319420315002"), "name": "张秀英",
            "phone": "13800000001", "village": "370983001001", "address": "某村3号",
            "applicant_name": "李明", "applicant_relation": "子女",
            "applicant_phone": "13900000002",
            "disabled_since": (clock.today() - timedelta(days=400)).isoformat(),
            "materials": ["application_form", "id_card", "insurance_card", "medical_records"],
            "_csrf_token": csrf}
    form.update(overrides)
    return form


async def test_intake_form_shows_every_problem_and_creates_nothing(client) -> None:
    csrf = await _clerk(client)
    events = await AuditEvent.count()
    response = await client.post("/applications/new", data=_form(
        csrf, resident_id="370983194203150021", phone="12345", applicant_name="",
        disabled_since="昨天"))
    assert response.status_code == 422
    text = response.text
    assert "校验位" in text  # the wrong check digit, named
    assert "失能开始日期“昨天”不是有效日期" in text
    assert "请填写申请人姓名" in text  # checked although the person could not be registered
    assert await Person.count() == 0 and await Application.count() == 0
    assert await AuditEvent.count() == events


@pytest.mark.parametrize("problem", [{"applicant_phone": "12345"}, {"applicant_name": ""},
                                     {"disabled_since": "2099-01-01"}])
async def test_a_good_person_with_a_bad_application_registers_no_one(client, problem) -> None:
    """The person's fields are fine but the application's are not: the form comes back
    with the problem, and no person is left registered behind it."""
    csrf = await _clerk(client)
    events = await AuditEvent.count()
    response = await client.post("/applications/new", data=_form(csrf, **problem))
    assert response.status_code == 422
    assert f'id="{next(iter(problem))}-error"' in response.text
    assert await Person.count() == 0 and await Application.count() == 0
    assert await AuditEvent.count() == events


async def test_an_empty_intake_form_names_every_missing_field_beside_it(client) -> None:
    """Blank, the form is sent as it is (no browser-only checks) and every problem comes
    back at once, each under its own field."""
    csrf = await _clerk(client)
    page = await client.get("/applications/new")
    assert " required" not in page.text
    blank = {key: "" for key in _form(csrf) if key not in ("materials", "_csrf_token")}
    response = await client.post("/applications/new", data={**blank, "_csrf_token": csrf})
    assert response.status_code == 422
    for field in ("resident_id", "name", "applicant_name", "applicant_phone",
                  "disabled_since"):
        beside = re.search(rf'<input id="{field}"[^>]*aria-invalid="true"[^>]*>\s*'
                           rf'<p class="field-error" id="{field}-error">([^<]+)</p>',
                           response.text)
        assert beside, field
        assert beside.group(1).startswith("请"), beside.group(1)  # says what to do
    assert await Person.count() == 0 and await Application.count() == 0


async def test_refusal_grounds_are_listed_then_the_clerk_rejects(client) -> None:
    csrf = await _clerk(client)
    created = await client.post("/applications/new", data=_form(csrf))
    assert created.status_code == 200, created.text
    application = await Application.select().first()
    case = f"/applications/{application['id']}"
    await client.post(case, data={"action": "submit", "version": "1", "_csrf_token": csrf})
    refused = await client.post(case, data={"action": "accept", "version": "2",
                                            "_csrf_token": csrf})
    assert refused.status_code == 422
    assert "存在以下不予受理情形" in refused.text and "医疗保险" in refused.text
    assert (await Application.select().first())["state"] == "SUBMITTED"
    no_reason = await client.post(case, data={"action": "reject", "version": "2",
                                              "grounds": "not_enrolled", "note": "",
                                              "_csrf_token": csrf})
    assert no_reason.status_code == 422
    assert (await Application.select().first())["state"] == "SUBMITTED"
    rejected = await client.post(case, data={"action": "reject", "version": "2",
                                             "grounds": "not_enrolled",
                                             "note": "未参加城乡居民基本医疗保险",
                                             "_csrf_token": csrf})
    assert rejected.status_code == 200 and "已作出不予受理决定" in rejected.text
    assert (await Application.select().first())["state"] == "REJECTED"
    stale = await client.post(case, data={"action": "accept", "version": "2",
                                          "_csrf_token": csrf})
    assert stale.status_code in (409, 422) and "不予受理" in stale.text


async def test_a_double_submitted_intake_form_makes_one_application(client) -> None:
    csrf = await _clerk(client)
    first = await client.post("/applications/new", data=_form(csrf))
    second = await client.post("/applications/new", data=_form(csrf))
    assert first.status_code == 200
    assert second.status_code in (409, 422)
    assert await Application.count() == 1 and await Person.count() == 1


async def test_queue_exports_to_excel_csv_with_masked_ids_and_an_audit_event(client) -> None:
    csrf = await _clerk(client)
    await client.post("/applications/new", data=_form(csrf))
    response = await client.get("/applications/export.csv")
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with a BOM
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "申请编号,姓名,身份证号,村（居）,状态,登记日期"
    assert len(lines) == 2 and "张秀英" in lines[1] and "370983********" in lines[1]
    assert await AuditEvent.count().where(AuditEvent.action == "application.exported") == 1


async def test_person_page_shows_the_full_id_only_on_request_and_audits_it(client) -> None:
    csrf = await _clerk(client)
    await client.post("/applications/new", data=_form(csrf))
    person = await Person.select().first()
    page = await client.get(f"/people/{person['id']}")
    assert page.status_code == 200 and person["resident_id"] not in page.text
    assert "370983********" in page.text
    revealed = await client.post(f"/people/{person['id']}/resident-id",
                                 data={"_csrf_token": csrf})
    assert person["resident_id"] in revealed.text
    assert await AuditEvent.count().where(
        AuditEvent.action == "person.resident_id_viewed") == 1


async def test_an_id_held_by_another_town_is_a_field_error_that_names_no_one(client) -> None:
    """The intake page for a town clerk: the ID is taken in another town, said next to the
    field, without the holder's name or record number, and nothing is created."""
    csrf = await _clerk(client)
    await client.post("/applications/new", data=_form(csrf))
    await client.post("/logout", data={"_csrf_token": csrf})
    await make_user("clerk", "town_clerk", region="370983002")
    await sign_in(client, "town_clerk")
    csrf = client.cookies.get("ltc_csrf")
    applications, people = await Application.count(), await Person.count()
    response = await client.post("/applications/new", data=_form(
        csrf, name="张三", village="370983002001"))
    assert response.status_code == 422
    assert "已在其他辖区登记" in response.text
    assert "张秀英" not in response.text and "人员编号" not in response.text
    assert (await Application.count(), await Person.count()) == (applications, people)
