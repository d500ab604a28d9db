"""The staff register (实名制): bad input refused all at once with nothing written, the CSV
import (dry run, every bad row by line, all or nothing), the pages and the API, the clerk's
30-day list, and the certificate stopping the draw and visit logging at the edge day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from conftest import csrf_token, make_staff_record, make_user, sign_in, staff_resident_id
from support.cases import FrozenClock, add_assessors, make_staff
from support.workbench import queue_counts
from test_visit_api import URL as VISITS
from test_visit_api import _body, _token
from test_visits import World, december_world

from ltc.accounts import service as accounts
from ltc.assessments import assignment
from ltc.audit.tables import AuditEvent
from ltc.csvimport import REFUSED_CELL
from ltc.errors import Conflict, InvalidInput
from ltc.identity import SYSTEM
from ltc.staff import service
from ltc.staff.tables import StaffMember, StaffTraining
from ltc.visits.tables import Visit

pytestmark = pytest.mark.anyio
TODAY = date(2026, 11, 20)


async def _provider_org() -> None:
    await make_user("provider", username="seed", qualification="")  # organisation T-P


def _form(**changes: str) -> dict[str, str]:
    return {"resident_id": staff_resident_id(900_001), "name": "王丽", "kind": "nurse",
            "certificate_no": "HS-001", "certificate_until": "2027-06-30",
            "staff_code": "N3709830900001", "organisation": "T-P", "status": "active",
            **changes}


async def _written() -> tuple[int, int, int]:
    return (await StaffMember.count(), await StaffTraining.count(), await AuditEvent.count())


async def test_bad_input_is_refused_all_at_once_and_nothing_is_written(database_url) -> None:
    await _provider_org()
    await make_user("assessor", username="zhao", qualification="")  # organisation T-A
    before = await _written()
    with pytest.raises(InvalidInput) as caught:
        await service.create_staff(SYSTEM, _form(
            resident_id="370983197503120116", staff_code="N12", certificate_until="2027-02-30",
            organisation="T-A", username="nobody"))
    assert caught.value.code == "invalid_staff"
    assert set(caught.value.fields) == {"resident_id", "staff_code", "certificate_until",
                                        "organisation", "username"}
    assert "校验位" in caught.value.fields["resident_id"]
    assert "护士须属于护理服务机构" in caught.value.fields["organisation"]
    assert await _written() == before

    first = await service.create_staff(SYSTEM, _form())
    # The same resident ID or staff code again, and an account of the wrong role or employer.
    with pytest.raises(InvalidInput) as again:
        await service.create_staff(SYSTEM, _form(name="王丽丽", username="zhao"))
    assert set(again.value.fields) == {"resident_id", "staff_code", "username"}
    assert "已登记给王丽" in again.value.fields["staff_code"]
    assert "护理机构角色" in again.value.fields["username"]
    with pytest.raises(InvalidInput) as code_taken:
        await service.create_staff(SYSTEM, _form(resident_id=staff_resident_id(900_002)))
    assert set(code_taken.value.fields) == {"staff_code"}
    assert await StaffMember.count() == before[0] + 1
    events = await AuditEvent.select(AuditEvent.action).where(
        (AuditEvent.object_type == "staff") & (AuditEvent.object_id == str(first["id"])))
    assert [e["action"] for e in events] == ["staff.registered"]


async def test_a_changed_resident_id_shows_masked_in_the_audit_log(database_url) -> None:
    await _provider_org()
    row = await service.create_staff(SYSTEM, _form())
    await service.update_staff(SYSTEM, row["id"], expected_version=row["version"],
                               values=_form(resident_id=staff_resident_id(900_002)))
    events = await AuditEvent.select().where(AuditEvent.action.is_in(
        ["staff.registered", "staff.updated"])).order_by(AuditEvent.id)
    old, new = staff_resident_id(900_001), staff_resident_id(900_002)
    text = [str(e["summary"]) for e in events]
    assert old[:6] + "********" + old[-4:] in text[0]
    assert old[-4:] in text[1] and new[-4:] in text[1]
    assert not any(old in t or new in t for t in text)


CSV_HEADER = "resident_id,name,kind,certificate_no,certificate_until,staff_code,organisation\n"


async def test_the_import_reports_every_bad_row_and_imports_nothing_then_all(
        database_url) -> None:
    await _provider_org()
    good = [f"{staff_resident_id(900_010 + i)},护理员{'甲乙'[i]},care_worker,HL-{i},2027-01-31,"
            f"N370983090001{i},T-P" for i in range(2)]
    bad = "\ufeff" + CSV_HEADER + "\n".join([
        good[0],
        "370983197503120116,李四,nurse,HS-9,2027-13-01,N12,T-X",  # line 3: five problems
        good[1].replace("N3709830900011", "N3709830900010"),  # line 4: code of line 2
        "only,three,cells",  # line 5
    ]) + "\n"
    before = await _written()
    for dry_run in (True, False):
        with pytest.raises(service.BadRows) as caught:
            await service.import_staff(SYSTEM, bad.encode(), filename="staff.csv",
                                       dry_run=dry_run)
        lines = [(p.line, p.field) for p in caught.value.problems]
        assert lines == [(3, "certificate_until"), (3, "organisation"), (3, "resident_id"),
                         (3, "staff_code"), (4, "staff_code"), (5, "")]
        assert caught.value.code == "staff_rows_invalid"
        assert "第4行 staff_code（医保人员编码）：与第2行重复" in caught.value.fields["file"]
    assert await _written() == before

    ok = (CSV_HEADER + "\n".join(good) + "\n").encode()
    report = await service.import_staff(SYSTEM, ok, filename="staff.csv", dry_run=True)
    assert (report.rows, report.dry_run) == (2, True)
    assert await _written() == before
    await service.import_staff(SYSTEM, ok, filename="staff.csv")
    assert await StaffMember.count() == before[0] + 2
    # The same file again: every row is now a duplicate, and nothing more is written.
    with pytest.raises(service.BadRows) as twice:
        await service.import_staff(SYSTEM, ok, filename="staff.csv")
    assert {p.line for p in twice.value.problems} == {2, 3}
    assert await StaffMember.count() == before[0] + 2


@pytest.mark.parametrize("column", ["organisation", "name", "resident_id"])
async def test_a_nul_in_an_imported_cell_is_a_row_problem_not_a_server_error(
        database_url, column) -> None:
    await _provider_org()
    cells = {"resident_id": staff_resident_id(900_030), "name": "护理员丁",
             "kind": "care_worker", "certificate_no": "HL-8", "certificate_until": "2027-01-31",
             "staff_code": "N3709830900018", "organisation": "T-P"}
    cells[column] = cells[column][:2] + "\x00" + cells[column][2:]
    data = (CSV_HEADER + ",".join(cells.values()) + "\n").encode()
    before = await _written()
    for dry_run in (True, False):  # PostgreSQL refused the NUL in a query: a 500
        with pytest.raises(service.BadRows) as caught:
            await service.import_staff(SYSTEM, data, filename="staff.csv", dry_run=dry_run)
        assert [(p.line, p.field, p.message) for p in caught.value.problems] == [
            (2, column, REFUSED_CELL)]
    assert await _written() == before


async def test_the_import_ignores_columns_it_does_not_know(database_url) -> None:
    await _provider_org()
    data = (CSV_HEADER.replace("\n", ",备注\n")
            + f"{staff_resident_id(900_020)},护理员丙,care_worker,HL-7,2027-01-31,"
            "N3709830900017,T-P,新入职\n").encode()
    report = await service.import_staff(SYSTEM, data, filename="staff.csv", dry_run=True)
    assert report.rows == 1


async def test_an_expired_certificate_keeps_an_assessor_out_of_the_draw(
        database_url, monkeypatch) -> None:
    clock = FrozenClock(monkeypatch, TODAY)
    staff = await make_staff(assessors=0)
    plain = await add_assessors(staff, 2, qualification="assessor")
    # An expert certified through today: drawn today, the last valid day.
    expert = (await add_assessors(staff, 1, qualified_until=TODAY))[0]
    pair, _record = await assignment.draw_assessors("370983", on=TODAY, seed="s")
    assert pair[0] == expert.id
    # A 评估员 whose certificate ends today is left out of tomorrow's draw entirely.
    await StaffMember.update({StaffMember.certificate_until: TODAY}).where(
        StaffMember.user == plain[0].id)
    clock.set(TODAY + timedelta(days=1))
    tomorrow = TODAY + timedelta(days=1)
    candidates = await assignment.eligible_assessors("370983", on=tomorrow)
    assert [c.user_id for c in candidates] == [plain[1].id]
    with pytest.raises(Conflict) as caught:
        await assignment.draw_assessors("370983", on=tomorrow, seed="s")
    assert caught.value.code == "not_enough_assessors"
    assert "按服务人员实名登记不能抽取" in caught.value.message
    assert "资格证书（CERT-assessor3）已于2026-11-20到期" in caught.value.message
    # No staff record at all: not drawn either.
    await StaffMember.delete().where(StaffMember.user == plain[1].id)
    assert plain[1].id not in {c.user_id for c in await assignment.eligible_assessors(
        "370983", on=TODAY)}


@pytest.fixture
async def world(database_url, monkeypatch) -> World:
    return await december_world(monkeypatch)


async def test_visit_logging_is_refused_for_an_expired_or_missing_certificate(
        client, world) -> None:
    """The default visit is on 2026-12-14: a certificate ending that day still counts."""
    headers = await _token()
    nurse = StaffMember.user == world.nurse.id
    await StaffMember.update({StaffMember.certificate_until: date(2026, 12, 13)}).where(nurse)
    before = await Visit.count()
    refused = await client.post(VISITS, json=_body(world), headers=headers)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "staff_certificate_expired"
    assert "资格证书（CERT-nurse）已于2026-12-13到期" in error["fields"]["staff_id"]
    assert await Visit.count() == before

    await StaffMember.update({StaffMember.certificate_until: date(2026, 12, 14)}).where(nurse)
    assert (await client.post(VISITS, json=_body(world), headers=headers)).status_code == 201

    await StaffMember.delete().where(nurse)
    missing = await client.post(VISITS, json=_body(world), headers=headers)
    assert missing.json()["error"]["code"] == "staff_not_registered"
    assert await Visit.count() == before + 1

    # The phone form says why, in Chinese, next to the staff member.
    await sign_in(client, "nurse")
    page = await client.post("/visits", data={
        "_csrf_token": await csrf_token(client, "/visits/new"),
        **{k: str(v) for k, v in _body(world).items() if k not in ("items", "staff_id")},
        "started_at": "2026-12-14T09:00", "ended_at": "2026-12-14T10:00"})
    assert page.status_code == 422
    assert "未在服务人员实名登记中登记" in page.text
    assert await Visit.count() == before + 1


async def test_pages_list_export_register_train_and_the_clerks_30_day_list(
        client, database_url, monkeypatch) -> None:
    FrozenClock(monkeypatch, TODAY)
    await make_user("clerk", username="clerk")
    await make_user("provider", username="soon", qualification="care_worker",
                           qualified_until=TODAY + timedelta(days=30))
    await make_user("provider", username="later", qualified_until=TODAY + timedelta(days=31))
    await make_user("provider", username="gone", qualified_until=TODAY - timedelta(days=1))
    left = await make_user("provider", username="left", qualified_until=TODAY - timedelta(days=9))
    await StaffMember.update({StaffMember.status: "left"}).where(
        StaffMember.user == left["id"])
    await sign_in(client, "clerk")
    home = await client.get("/")  # an expired certificate stays on it until renewed or 离职
    assert queue_counts(home.text)["certificates"] == 2
    due = await client.get("/staff?status=active&expiry=due")
    assert "CERT-soon" in due.text and "CERT-gone" in due.text
    assert "CERT-later" not in due.text and "CERT-left" not in due.text
    expiring = await client.get("/staff?status=active&expiry=expiring")
    assert "CERT-soon" in expiring.text and "CERT-later" not in expiring.text
    assert "即将到期" in expiring.text
    assert "CERT-gone" in (await client.get("/staff?expiry=expired")).text

    export = await client.get("/staff/export.csv?kind=care_worker")
    assert export.content.startswith(b"\xef\xbb\xbf")
    lines = export.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and "370983********" in lines[1] and "护理员" in lines[1]

    csrf = await csrf_token(client, "/staff/new")
    refused = await client.post("/staff/new", data={**_form(resident_id="123",
                                                            staff_code=""),
                                                    "_csrf_token": csrf})
    assert refused.status_code == 422
    assert "身份证号码应为18位" in refused.text and "请填写医保人员编码" in refused.text
    created = await client.post("/staff/new", data={**_form(), "_csrf_token": csrf},
                                follow_redirects=False)
    staff_id = int(created.headers["location"].rsplit("/", 1)[-1])
    bad_training = await client.post(f"/staff/{staff_id}/training", data={
        "trained_on": "2026-11-01", "course": "", "hours": "0", "issuer": "泰安市医保局",
        "_csrf_token": csrf})
    assert bad_training.status_code == 422 and "学时应为1至1000之间的整数" in bad_training.text
    await client.post(f"/staff/{staff_id}/training", data={
        "trained_on": "2026-11-01", "course": "居家护理规范", "hours": "8",
        "issuer": "泰安市医保局", "_csrf_token": csrf})
    detail = await client.get(f"/staff/{staff_id}")
    assert "居家护理规范" in detail.text and "登记服务人员（实名制）" in detail.text
    assert "登记培训记录" in detail.text

    edit = await client.get(f"/staff/{staff_id}/edit")
    assert staff_resident_id(900_001) in edit.text  # the full number, and that is audited
    assert await AuditEvent.count().where(AuditEvent.action == "staff.resident_id_viewed") == 1
    renewed = await client.post(f"/staff/{staff_id}/edit", data={
        **_form(certificate_until="2029-06-30"), "version": "1", "_csrf_token": csrf},
        follow_redirects=False)
    assert renewed.status_code == 302
    stale = await client.post(f"/staff/{staff_id}/edit", data={
        **_form(name="王莉"), "version": "1", "_csrf_token": csrf})
    assert stale.status_code == 409
    assert (await StaffMember.select(StaffMember.name, StaffMember.certificate_until).where(
        StaffMember.id == staff_id).first()) == {"name": "王丽",
                                                 "certificate_until": date(2029, 6, 30)}


async def test_the_api_registers_lists_edits_and_imports(client, database_url) -> None:
    await _provider_org()
    token, _ = await accounts.issue_token(SYSTEM, name="人员系统", role="clerk",
                                          region_code="370983", organisation_code=None)
    headers = {"authorization": f"Bearer {token}"}
    bad = await client.post("/api/v1/staff", headers=headers, json=_form(staff_code="X1"))
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_staff"
    assert set(bad.json()["error"]["fields"]) == {"staff_code"}
    made = await client.post("/api/v1/staff", headers=headers, json=_form())
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["resident_id_masked"].startswith("370983********")
    assert (body["kind"], body["staff_code"], body["version"]) == ("nurse", "N3709830900001", 1)
    put = await client.put(f"/api/v1/staff/{body['id']}", headers=headers,
                           json={**_form(status="left"), "version": 1})
    assert put.json()["status"] == "left"
    assert [s["id"] for s in (await client.get("/api/v1/staff?status=left",
                                               headers=headers)).json()] == [body["id"]]
    training = await client.post(f"/api/v1/staff/{body['id']}/training", headers=headers,
                                 json={"trained_on": "2026-01-05", "course": "护理规范",
                                       "hours": 4, "issuer": "卫健委"})
    assert training.status_code == 201 and training.json()["hours"] == 4
    imported = await client.post("/api/v1/staff/import", headers=headers, json={
        "filename": "x.csv", "csv": CSV_HEADER + "a,b,c,d,e,f,g\n"})
    assert imported.status_code == 422
    assert imported.json()["error"]["code"] == "staff_rows_invalid"
    assert "第2行" in imported.json()["error"]["fields"]["file"]


async def test_a_provider_account_links_to_one_record_only(database_url) -> None:
    user = await make_user("provider", username="nurse", qualification="")
    await make_staff_record(user, "nurse")
    with pytest.raises(InvalidInput) as caught:
        await make_staff_record(user, "care_worker")
    assert "已关联" in caught.value.fields["username"]
