"""The organisation register (定点机构) and the region admin: register, duplicate and bad
codes, status history keeping `active`, the CSV import (every bad row with its line, nothing
imported), the admin pages and API, the `ltc org` and `ltc region` commands."""

import json
import sys
from datetime import date, timedelta

import anyio
import pytest
from conftest import app_env, make_user, sign_in
from support.cases import FrozenClock

from ltc import db
from ltc.accounts import service as accounts
from ltc.audit.tables import AuditEvent
from ltc.careplans.item_pages import set_national_code
from ltc.careplans.tables import CareItem
from ltc.csvimport import REFUSED_CELL, BadRows
from ltc.errors import Conflict, Forbidden, InvalidInput
from ltc.identity import SYSTEM
from ltc.organisations import interface, service
from ltc.organisations.rules import Entry
from ltc.organisations.tables import Organisation, OrganisationStatusChange
from ltc.regions import service as regions
from ltc.regions.tables import Region

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("database_url")]

HEADER = ("code,national_code,name,category,licence_no,legal_representative,address,"
          "contact_name,contact_phone,service_towns,bank_name,bank_account_name,"
          "bank_account_no\n")


def entry(**changes) -> Entry:
    values = {"code": "ORG-P-002", "national_code": "H37098300002", "name": "老城卫生院",
              "category": "health_centre", "licence_no": "PDY12345", "address": "老城街道1号",
              "legal_representative": "王院长", "contact_name": "李护士长",
              "contact_phone": "0538-3221234", "service_towns": "370983002",
              "bank_name": "农业银行肥城支行", "bank_account_name": "肥城市老城卫生院",
              "bank_account_no": "6228480012345678"}
    return Entry.from_mapping({**values, **changes})


async def test_register_then_duplicates_and_bad_codes_are_refused() -> None:
    row = await service.register(SYSTEM, entry(), "370983")
    assert (row["kind"], row["status"], row["active"]) == ("provider", "normal", True)
    ref = await interface.by_code("ORG-P-002")
    assert ref is not None and ref.active and ref.kind == "provider"
    count = await Organisation.count()
    with pytest.raises(Conflict) as duplicate:
        await service.register(SYSTEM, entry(code="ORG-P-003"), "370983")
    assert duplicate.value.code == "duplicate_organisation"
    assert "national_code" in duplicate.value.fields
    with pytest.raises(InvalidInput) as bad:
        await service.register(SYSTEM, entry(code="ORG-P-004", national_code="H12345600002",
                                             contact_phone="1"), "370983")
    assert {"national_code", "contact_phone"} <= set(bad.value.fields)
    assert await Organisation.count() == count


async def test_a_region_pattern_replaces_the_default() -> None:
    await regions.set_bureau(SYSTEM, "370983", address="肥城市某路1号", phone="0538-3221234",
                             code_pattern=r"LTC\d{4}")
    with pytest.raises(InvalidInput):
        await service.register(SYSTEM, entry(), "370983")
    assert (await service.register(SYSTEM, entry(national_code="LTC0001"), "370983"))["id"]
    with pytest.raises(InvalidInput) as bad:
        await regions.set_bureau(SYSTEM, "370983", address="", phone="12",
                                 code_pattern="(")
    assert set(bad.value.fields) == {"bureau_address", "bureau_phone",
                                     "organisation_code_pattern"}


async def test_status_changes_keep_active_and_a_history(monkeypatch) -> None:
    FrozenClock(monkeypatch, date(2027, 4, 1))
    row = await service.register(SYSTEM, entry(), "370983")
    row = await service.set_status(SYSTEM, row["id"], row["version"], "suspended",
                                   "协议考核不合格，限期整改", date(2026, 12, 1))
    assert (row["status"], row["active"]) == ("suspended", False)
    assert (await interface.by_id(row["id"])).active is False
    with pytest.raises(InvalidInput) as no_reason:
        await service.set_status(SYSTEM, row["id"], row["version"], "normal", " ", None)
    assert set(no_reason.value.fields) == {"reason", "effective_on"}
    row = await service.set_status(SYSTEM, row["id"], row["version"], "exited", "主动退出",
                                   date(2027, 3, 1))
    with pytest.raises(InvalidInput) as final:
        await service.set_status(SYSTEM, row["id"], row["version"], "normal", "恢复",
                                 date(2027, 4, 1))
    assert "已退出" in final.value.fields["status"]
    history = await OrganisationStatusChange.select().where(
        OrganisationStatusChange.organisation == row["id"]).order_by(
        OrganisationStatusChange.id)
    assert [(h["status"], h["reason"]) for h in history] == [
        ("suspended", "协议考核不合格，限期整改"), ("exited", "主动退出")]
    assert await AuditEvent.count().where(
        AuditEvent.action == "organisation.status_changed") == 2


@pytest.mark.parametrize(("days", "refused"), [(-400, False), (-1, False), (0, False),
                                              (1, True), (30, True)])
async def test_a_status_change_takes_effect_when_recorded_so_no_later_date(
        monkeypatch, days, refused) -> None:
    today = date(2027, 4, 1)
    FrozenClock(monkeypatch, today)
    row = await service.register(SYSTEM, entry(), "370983")
    change = service.set_status(SYSTEM, row["id"], row["version"], "suspended", "整改",
                                today + timedelta(days=days))
    if refused:
        with pytest.raises(InvalidInput) as caught:
            await change
        assert "不能晚于今天" in caught.value.fields["effective_on"]
        assert (await interface.by_id(row["id"])).active
        assert not await OrganisationStatusChange.exists()
    else:
        assert (await change)["active"] is False


async def test_an_edit_with_empty_bank_fields_keeps_the_account_and_clearing_is_explicit(
        ) -> None:
    row = await service.register(SYSTEM, entry(), "370983")
    row = await service.update(SYSTEM, row["id"], row["version"], entry(
        bank_name="", bank_account_name="", bank_account_no="", contact_name="新联系人"))
    assert (row["contact_name"], row["bank_name"], row["bank_account_no"]) == (
        "新联系人", "农业银行肥城支行", "6228480012345678")
    row = await service.update(SYSTEM, row["id"], row["version"], entry(
        bank_name="农商银行", bank_account_no=""))  # a renamed bank, the same number
    assert (row["bank_name"], row["bank_account_no"]) == ("农商银行", "6228480012345678")
    row = await service.update(SYSTEM, row["id"], row["version"], entry(), clear_account=True)
    assert (row["bank_name"], row["bank_account_name"], row["bank_account_no"]) == ("", "", "")


async def test_a_changed_account_number_is_in_the_audit_log_by_its_tail() -> None:
    row = await service.register(SYSTEM, entry(), "370983")
    await service.update(SYSTEM, row["id"], row["version"],
                         entry(bank_account_no="6228489999999999"))
    (event,) = await AuditEvent.select().where(AuditEvent.action == "organisation.updated")
    summary = json.dumps(event, default=str, ensure_ascii=False)
    assert "尾号5678" in summary and "尾号9999" in summary
    assert "6228480012345678" not in summary and "6228489999999999" not in summary


@pytest.mark.parametrize("category", ["assessment", "home_care", "institution"])
async def test_a_category_of_the_other_kind_is_refused_once_anything_refers_to_it(
        category) -> None:
    row = await service.register(SYSTEM, entry(), "370983")  # a provider (health centre)
    kept = await service.update(SYSTEM, row["id"], row["version"], entry(category=category))
    assert kept["kind"] == ("assessment" if category == "assessment" else "provider")
    kept = await service.update(SYSTEM, row["id"], kept["version"], entry())
    await make_user("provider", "porg", organisation="ORG-P-002")  # a user and a staff record
    change = service.update(SYSTEM, row["id"], kept["version"], entry(category=category))
    if category != "assessment":  # the same kind: a finer category may change
        assert (await change)["category"] == category
        return
    with pytest.raises(InvalidInput) as caught:
        await change
    assert "不能在评估机构与护理服务机构之间变更类别" in caught.value.fields["category"]
    assert (await interface.by_id(row["id"])).kind == "provider"
    data = csv_file(f"ORG-P-002,H37098300002,老城卫生院,{category},PDY12345,王院长,"
                    "老城街道1号,李护士长,0538-3221234,,,,")
    with pytest.raises(BadRows) as in_file:
        await service.import_organisations(SYSTEM, data, filename="orgs.csv",
                                           region_code="370983", dry_run=True)
    assert [(p.line, p.field) for p in in_file.value.problems] == [(2, "category")]


def csv_file(*rows: str, bom: bool = False) -> bytes:
    return (b"\xef\xbb\xbf" if bom else b"") + (HEADER + "".join(r + "\n" for r in rows)
                                                 ).encode()


GOOD = ("ORG-H-01,H37098300011,王瓜店卫生院,health_centre,L-1,赵一,王瓜店街道,钱二,"
        "13812345678,370983003;370983004,,,")
GOOD2 = ("ORG-I-01,H37098300012,康宁护理院,institution,L-2,孙三,新城街道,周四,0538-3221235,,"
         "建设银行,康宁护理院,6217000012345678")


async def test_an_import_with_bad_rows_lists_each_line_and_imports_nothing() -> None:
    before = await Organisation.count()
    data = csv_file(GOOD, "ORG-H-02,X1,,hospital,L-3,吴五,某地,郑六,123,370983999,,,",
                    GOOD.replace("ORG-H-01", "ORG-H-03"), bom=True)
    with pytest.raises(BadRows) as caught:
        await service.import_organisations(SYSTEM, data, filename="orgs.csv",
                                           region_code="370983")
    lines = {(p.line, p.field) for p in caught.value.problems}
    assert {(3, "national_code"), (3, "name"), (3, "category"), (3, "contact_phone"),
            (3, "service_towns"), (4, "national_code")} <= lines
    assert "第3行" in caught.value.fields["file"]
    assert await Organisation.count() == before


@pytest.mark.parametrize(("column", "cell"), [("code", "ORG-I-01,"), ("name", ",康宁护理院,i"),
                                              ("bank_account_name", ",康宁护理院,6217")])
async def test_a_nul_in_an_imported_cell_is_a_row_problem_not_a_server_error(column,
                                                                             cell) -> None:
    before = await Organisation.count()
    data = csv_file(GOOD, GOOD2.replace(cell, cell[:3] + "\x00" + cell[3:]))
    for dry_run in (True, False):  # PostgreSQL refused the NUL in a query or a write: a 500
        with pytest.raises(BadRows) as caught:
            await service.import_organisations(SYSTEM, data, filename="orgs.csv",
                                               region_code="370983", dry_run=dry_run)
        assert [(p.line, p.field, p.message) for p in caught.value.problems] == [
            (3, column, REFUSED_CELL)]
    assert await Organisation.count() == before


async def test_an_import_dry_run_then_upsert_by_code() -> None:
    before = await Organisation.count()
    data = csv_file(GOOD, GOOD2, bom=True)
    report = await service.import_organisations(SYSTEM, data, filename="orgs.csv",
                                                region_code="370983", dry_run=True)
    assert (report.rows, report.new, report.updated) == (2, 2, 0)
    assert await Organisation.count() == before
    await service.import_organisations(SYSTEM, data, filename="orgs.csv", region_code="370983")
    assert await Organisation.count() == before + 2
    again = csv_file(GOOD2.replace("康宁护理院,institution", "康宁护理院（新址）,institution")
                     .replace(",建设银行,康宁护理院,6217000012345678", ",,,"))
    report = await service.import_organisations(SYSTEM, again, filename="orgs2.csv",
                                                region_code="370983")
    assert (report.new, report.updated) == (0, 1)
    stored = await Organisation.select().where(Organisation.code == "ORG-I-01").first()
    assert stored["name"] == "康宁护理院（新址）"
    assert stored["bank_account_no"] == "6217000012345678"  # empty bank cells keep it


@pytest.mark.parametrize(("region", "may_change"), [("370983", True), ("370983001", False)])
async def test_only_an_admin_of_the_whole_pooling_region_changes_it(region,
                                                                    may_change) -> None:
    admin = await accounts.actor_for_user((await make_user("admin", region=region))["id"])
    assert (await regions.overview(admin, "370983"))["region"].code == "370983"  # may read
    before = await Region.select().order_by(Region.id)
    places = "code,name,parent_code\n370983111,新镇,370983\n".encode()
    changes = [regions.set_bureau(admin, "370983", address="肥城市某路1号",
                                  phone="0538-3221234", code_pattern=r"LTC\d{4}"),
               regions.import_places(admin, places, filename="r.csv", region_code="370983")]
    for change in changes:
        if may_change:
            await change
            continue
        with pytest.raises(Forbidden) as caught:
            await change
        assert caught.value.code == "region_not_covered"
    assert (await Region.select().order_by(Region.id) == before) is not may_change


async def test_two_care_items_never_share_a_national_code_but_may_both_have_none() -> None:
    items = await CareItem.select(CareItem.code).order_by(CareItem.code).limit(3)
    first, second, third = (i["code"] for i in items)
    await set_national_code(SYSTEM, first, "LTC-01")
    with pytest.raises(InvalidInput) as caught:
        await set_national_code(SYSTEM, second, "LTC-01")
    assert caught.value.code == "duplicate_care_item_code"
    # The database refuses it too (two admins at once), and "" (none) never collides.
    with pytest.raises(db.UNIQUE_VIOLATIONS):
        async with db.write_transaction():
            await CareItem.update({CareItem.national_code: "LTC-01"}).where(
                CareItem.code == second)
    await set_national_code(SYSTEM, first, "")
    await CareItem.update({CareItem.national_code: ""}).where(
        CareItem.code.is_in([second, third]))
    assert await CareItem.count().where(CareItem.national_code == "") >= 3


async def test_region_import_upserts_towns_and_villages() -> None:
    good = ("code,name,parent_code\n370983111,新镇,370983\n370983111001,新镇一村,370983111\n"
            "370983001001,改名村,370983001\n").encode()
    bad = ("code,name,parent_code\n370983112,某镇,370983\n370983002001,错村,370983001\n"
           "370983112001,,370983112\n").encode()
    before = await Region.count()
    with pytest.raises(BadRows) as caught:
        await regions.import_places(SYSTEM, bad, filename="bad.csv", region_code="370983")
    assert {(p.line, p.field) for p in caught.value.problems} == {(3, "code"), (4, "name")}
    assert "须以所属镇街编码开头" in str(caught.value.problems[0])
    assert await Region.count() == before
    report = await regions.import_places(SYSTEM, b"\xef\xbb\xbf" + good, filename="r.csv",
                                         region_code="370983")
    assert (report.new, report.updated) == (2, 1)
    village = await Region.select().where(Region.code == "370983111001").first()
    assert (village["level"], village["path"]) == ("village", "370983/370983111/370983111001")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (HEADER.encode(), "文件中没有数据行"),
        (HEADER.replace("\n", ",remark\n").encode() + (GOOD + ",x\n").encode(),
         "表头有无法识别的列：remark"),
    ],
)
async def test_an_organisation_file_without_rows_or_with_unknown_columns_is_refused(
        data, message) -> None:
    before = await Organisation.count()
    with pytest.raises(BadRows) as caught:
        await service.import_organisations(SYSTEM, data, filename="orgs.csv",
                                           region_code="370983")
    (problem,) = caught.value.problems
    assert message in problem.message
    assert await Organisation.count() == before
    with pytest.raises(BadRows):
        await regions.import_places(SYSTEM, b"code,name,parent_code\n", filename="r.csv",
                                    region_code="370983")


async def test_admin_pages(client) -> None:
    await make_user("admin")
    await sign_in(client, "admin")
    csrf = client.cookies.get("ltc_csrf")
    form = {**{k: getattr(entry(), k) for k in Entry.__dataclass_fields__},
            "region": "370983", "_csrf_token": csrf}
    bad = await client.post("/admin/organisations/new", data={
        **form, "national_code": "X", "contact_phone": "", "name": ""})
    assert bad.status_code == 422
    for problem in ("医保信息业务编码格式不对", "请填写联系电话", "请填写机构名称"):
        assert problem in bad.text
    # Blank, region included: every field's problem at once, not just the region's.
    blank = await client.post("/admin/organisations/new", data={
        **{k: "" for k in form}, "_csrf_token": csrf})
    assert blank.status_code == 422
    for field in ("region", "name", "code", "national_code", "licence_no",
                  "legal_representative", "address", "contact_name", "contact_phone"):
        assert f'id="{field}-error"' in blank.text, field
    created = await client.post("/admin/organisations/new", data=form)
    assert created.status_code == 200 and "老城卫生院" in created.text
    assert "6228480012345678" in created.text  # the detail page, to an admin: audited
    assert await AuditEvent.count().where(
        AuditEvent.action == "organisation.account_viewed") == 1
    listing = await client.get("/admin/organisations?q=老城&status=normal")
    assert "老城卫生院" in listing.text and "6228480012345678" not in listing.text
    assert "************5678" in listing.text
    assert "老城卫生院" not in (await client.get("/admin/organisations?status=exited")).text
    export = await client.get("/admin/organisations/export.csv?q=老城")
    assert export.content.startswith(b"\xef\xbb\xbf") and "老城卫生院" in export.text
    assert "6228480012345678" not in export.text
    row = await Organisation.select().where(Organisation.code == "ORG-P-002").first()
    refused = await client.post(f"/admin/organisations/{row['id']}/status", data={
        "version": str(row["version"]), "status": "suspended", "reason": "",
        "effective_on": "", "_csrf_token": csrf})
    assert refused.status_code == 422 and "请填写变更原因" in refused.text
    changed = await client.post(f"/admin/organisations/{row['id']}/status", data={
        "version": str(row["version"]), "status": "suspended", "reason": "整改",
        "effective_on": "2026-12-01", "_csrf_token": csrf})
    assert changed.status_code == 200 and "整改" in changed.text and "暂停" in changed.text
    stale = await client.post(f"/admin/organisations/{row['id']}/edit", data={
        **form, "version": str(row["version"])})
    assert stale.status_code == 409 and "刚被其他人修改过" in stale.text
    upload = await client.post("/admin/organisations/import", data={
        "region": "370983", "_csrf_token": csrf},
        files={"file": ("orgs.csv", csv_file("ORG-X,X,,,,,,,,,,,"), "text/csv")})
    assert upload.status_code == 422 and "第2行" in upload.text
    regions_page = await client.get("/admin/regions")
    assert "山东省肥城市测试路1号" in regions_page.text and "新城街道" in regions_page.text
    saved = await client.post("/admin/regions/bureau", data={
        "bureau_address": "", "bureau_phone": "x", "organisation_code_pattern": "",
        "_csrf_token": csrf})
    assert saved.status_code == 422 and "请填写医保经办机构的办公地址" in saved.text
    items = await client.get("/admin/care-items")
    assert items.status_code == 200 and "国家服务项目编码" in items.text
    code = (await client.post("/admin/care-items/B01", data={
        "national_code": "LTC-B01", "_csrf_token": csrf}))
    assert code.status_code == 200 and 'value="LTC-B01"' in code.text


async def test_the_edit_page_never_shows_the_full_account_and_blank_keeps_it(client) -> None:
    await make_user("admin")
    await sign_in(client, "admin")
    row = await service.register(SYSTEM, entry(), "370983")
    page = await client.get(f"/admin/organisations/{row['id']}/edit")
    assert "6228480012345678" not in page.text and "************5678" in page.text
    assert 'name="bank_account_no" type="text" value=""' in page.text
    assert not await AuditEvent.exists().where(
        AuditEvent.action == "organisation.account_viewed")
    form = {**{k: getattr(entry(), k) for k in Entry.__dataclass_fields__},
            "bank_account_no": "", "version": str(row["version"]),
            "_csrf_token": client.cookies.get("ltc_csrf")}
    saved = await client.post(f"/admin/organisations/{row['id']}/edit",
                              data={**form, "contact_name": "新联系人"})
    assert saved.status_code == 200
    stored = await Organisation.select().where(Organisation.id == row["id"]).first()
    assert (stored["contact_name"], stored["bank_account_no"]) == ("新联系人", "6228480012345678")
    refused = await client.post(f"/admin/organisations/{row['id']}/edit", data={
        **form, "version": str(stored["version"]), "name": ""})
    assert refused.status_code == 422 and "************5678" in refused.text
    cleared = await client.post(f"/admin/organisations/{row['id']}/edit", data={
        **form, "version": str(stored["version"]), "clear_account": "on"})
    assert cleared.status_code == 200
    stored = await Organisation.select().where(Organisation.id == row["id"]).first()
    assert (stored["bank_name"], stored["bank_account_no"]) == ("", "")


async def test_api_errors_have_stable_codes(client) -> None:
    await make_user("admin")
    await sign_in(client, "admin")
    csrf = client.cookies.get("ltc_csrf")
    body = {k: getattr(entry(), k) for k in Entry.__dataclass_fields__}
    body["service_towns"] = ["370983002"]
    headers = {"x-csrftoken": csrf}
    created = await client.post("/api/v1/organisations", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["bank_account_masked"] == "************5678"
    again = await client.post("/api/v1/organisations", json={**body, "code": "ORG-9"},
                              headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_organisation"
    bad = await client.post("/api/v1/organisations", json={**body, "national_code": "1"},
                            headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_organisation"
    listed = await client.get("/api/v1/organisations?q=老城")
    assert [o["code"] for o in listed.json()] == ["ORG-P-002"]
    url = f"/api/v1/organisations/{created.json()['id']}"
    got = (await client.get(url)).json()
    assert got["bank_account_name"] == "肥城市老城卫生院"
    fields = [k for k in Entry.__dataclass_fields__
              if k not in ("bank_account_no", "legal_representative_id")]  # not shown
    echoed = {k: got[k] for k in fields}  # what a GET shows, sent back: the account stays
    no_version = await client.put(url, json=echoed, headers=headers)
    assert no_version.status_code == 400 and "version" in no_version.text
    put = await client.put(url, json={**echoed, "contact_phone": "0538-3229999",
                                      "version": got["version"]}, headers=headers)
    assert put.status_code == 200, put.text
    assert put.json()["bank_account_masked"] == "************5678"
    bare = {k: got[k] for k in fields if not k.startswith("bank_")}
    put = await client.put(url, json={**bare, "version": put.json()["version"]},
                           headers=headers)
    assert (put.json()["bank_name"], put.json()["bank_account_masked"]) == (
        "农业银行肥城支行", "************5678")
    cleared = await client.put(url, json={**bare, "clear_bank_account": True,
                                          "version": put.json()["version"]}, headers=headers)
    assert (cleared.json()["bank_account_name"], cleared.json()["bank_account_masked"]) == (
        "", "")
    assert "/api/v1/organisations" in (await client.get("/schema/openapi.json")).text


async def ltc(*args: str, env: dict[str, str], stdin: bytes = b"") -> tuple[int, str, str]:
    done = await anyio.run_process([sys.executable, "-m", "ltc.cli", *args], env=env,
                                   input=stdin, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def test_the_commands(database_url, tmp_path) -> None:
    """From a CSV to a provider user, without SQL (the gap `ltc createuser` had)."""
    env = app_env(database_url, tmp_path)
    path = tmp_path / "orgs.csv"
    path.write_bytes(csv_file(GOOD, "ORG-BAD,1,,,,,,,,,,,"))
    code, _, err = await ltc("org", "import", str(path), "--region", "370983", env=env)
    assert code == 2 and "第3行" in err and "未导入任何记录" in err
    assert not await Organisation.exists().where(Organisation.code == "ORG-H-01")
    path.write_bytes(csv_file(GOOD))
    code, out, err = await ltc("org", "import", str(path), "--region", "370983", env=env)
    assert code == 0 and "new 1" in out, err
    code, out, err = await ltc("org", "set-status", "ORG-H-01", "suspended", "--reason", "整改",
                               "--from", "2026-12-01", env=env)
    assert code == 0 and "suspended" in out, err
    code, out, _ = await ltc("org", "list", env=env)
    assert "王瓜店卫生院" in out and "暂停" in out
    code, out, err = await ltc("org", "add", "--region", "370983", "--code", "ORG-C-1",
                               "--national-code", "H37098300031", "--name", "居家护理中心",
                               "--category", "home_care", "--licence", "L-9",
                               "--legal-representative", "冯七", "--address", "仪阳街道",
                               "--contact", "陈八", "--phone", "13912345678", "--towns",
                               "370983004", env=env)
    assert code == 0, err
    code, _, err = await ltc("createuser", "--username", "hc1", "--name", "王护士", "--role",
                             "provider", "--region", "370983", "--organisation", "ORG-C-1",
                             "--password-stdin", env=env, stdin=b"abc12345\n")
    assert code == 0, err
    code, _, err = await ltc("region", "set-bureau", "370983", "--address", "", "--phone", "1",
                             env=env)
    assert code == 2 and "bureau_address" in err
