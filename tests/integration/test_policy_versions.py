"""Policy versions: loaded from fixtures and validated, looked up by region and day, added by
admins only from a future date, and never changed once stored."""

import json
import re
from datetime import date, timedelta

import pytest
from conftest import make_user, sign_in

from ltc import clock
from ltc.policy import service
from ltc.policy.form import form_values
from ltc.policy.tables import PolicyVersion

pytestmark = pytest.mark.anyio
VILLAGE_PATH = "370983/370983001/370983001001"


async def _admin(client) -> str:
    await make_user("admin")
    await sign_in(client, "admin")
    return client.cookies.get("ltc_csrf")


async def _form(csrf: str, **changes: str) -> dict[str, str]:
    current = await service.policy_in_force(VILLAGE_PATH, clock.today())
    return {**form_values(current.policy), "region": "370983", "note": "2027年调整",
            "effective_from": (clock.today() + timedelta(days=40)).isoformat(),
            "_csrf_token": csrf, **changes}


async def test_the_feicheng_defaults_are_in_force(database_url) -> None:
    in_force = await service.policy_in_force(VILLAGE_PATH, date(2026, 11, 22))
    assert (in_force.region_code, in_force.version) == ("370983", 1)
    assert in_force.policy.family_subsidy_fen == 45000
    assert in_force.policy.visits_per_month == {3: 2, 4: 3, 5: 4}
    assert in_force.policy.notice_days == 5 and in_force.policy.validity_months == 24
    with pytest.raises(Exception, match="没有生效的长护险政策版本"):
        await service.policy_in_force(VILLAGE_PATH, date(2020, 12, 31))


async def test_a_bad_policy_file_is_refused_naming_the_field(database_url, tmp_path,
                                                             monkeypatch) -> None:
    good = json.loads((service.FIXTURES / "feicheng.json").read_text(encoding="utf-8"))
    good["effective_from"] = "2030-01-01"
    good["definition"]["notice_days"] = 0
    good["definition"]["family_subsidy_fen"] = 450.5
    (tmp_path / "bad.json").write_text(json.dumps(good), encoding="utf-8")
    monkeypatch.setattr(service, "FIXTURES", tmp_path)
    with pytest.raises(RuntimeError) as refused:
        await service.load_policies()
    assert "notice_days" in str(refused.value) and "family_subsidy_fen" in str(refused.value)
    assert await PolicyVersion.count() == 1


async def test_a_stored_version_with_the_retired_bureau_contact_still_reads(
        database_url, tmp_path, monkeypatch) -> None:
    """Versions stored before the bureau's address and phone moved to the pooling region
    keep them (versions are immutable); they are read as before, the two keys ignored. A
    policy file naming them now is refused, saying where they are set."""
    file = json.loads((service.FIXTURES / "feicheng.json").read_text(encoding="utf-8"))
    old = {**file["definition"], "bureau_phone": "0538-3200000",
           "bureau_address": "山东省肥城市新城街道（地址待核实）"}
    first = await PolicyVersion.select().first()
    await PolicyVersion(region=first["region"], version=2, effective_from=date(2030, 1, 1),
                        note="", definition=json.dumps(old, ensure_ascii=False)).save()
    in_force = await service.policy_in_force(VILLAGE_PATH, date(2030, 1, 1))
    assert in_force.version == 2
    assert in_force.policy == (await service.policy_in_force(VILLAGE_PATH,
                                                             date(2029, 12, 31))).policy
    (tmp_path / "old.json").write_text(json.dumps(
        {**file, "effective_from": "2031-01-01", "definition": old}), encoding="utf-8")
    monkeypatch.setattr(service, "FIXTURES", tmp_path)
    with pytest.raises(RuntimeError) as refused:
        await service.load_policies()
    assert "bureau_phone: 咨询电话已改在统筹地区中设置" in str(refused.value)
    assert "bureau_address: 办公地址已改在统筹地区中设置" in str(refused.value)
    assert await PolicyVersion.count() == 2


async def test_admin_adds_a_future_version_which_applies_from_its_date(client) -> None:
    csrf = await _admin(client)
    form = await _form(csrf, family_subsidy_fen="500.00", **{"visits_per_month.5": "5"})
    response = await client.post("/admin/policies", data=form)
    assert response.status_code == 200 and "新的政策版本已保存" in response.text
    starts = date.fromisoformat(form["effective_from"])
    before = await service.policy_in_force(VILLAGE_PATH, starts - timedelta(days=1))
    after = await service.policy_in_force(VILLAGE_PATH, starts)
    assert before.policy.family_subsidy_fen == 45000 and before.version == 1
    assert after.policy.family_subsidy_fen == 50000 and after.version == 2
    assert after.policy.visits_per_month[5] == 5
    assert "500.00元/月" in (await client.get("/admin/policies")).text


async def test_bad_versions_show_every_problem_and_store_nothing(client) -> None:
    csrf = await _admin(client)
    form = await _form(csrf, effective_from=clock.today().isoformat(), notice_days="0",
                       family_subsidy_fen="四百", **{"visits_per_month.4": ""})
    response = await client.post("/admin/policies", data=form)
    assert response.status_code == 422
    for problem in ("生效日期必须晚于今天", "公示期应为1到60之间的整数", "请填写金额",
                    "请填写此等级的每月上门次数"):
        assert problem in response.text, problem
    assert await PolicyVersion.count() == 1
    # The care package may only name catalogue items.
    unknown = await client.post("/admin/policies",
                                data=await _form(csrf, **{"care_optional.B99": "on"}))
    assert unknown.status_code == 422 and "护理项目目录中没有这些编号：B99" in unknown.text
    assert await PolicyVersion.count() == 1
    # Two versions cannot start on one day.
    first = await _form(csrf)
    assert (await client.post("/admin/policies", data=first)).status_code == 200
    clash = await client.post("/admin/policies", data=first)
    assert clash.status_code == 409 and "同一天只能生效一个版本" in clash.text
    assert await PolicyVersion.count() == 2


async def test_the_form_speaks_chinese_and_shows_every_problem_beside_its_field(
        client) -> None:
    csrf = await _admin(client)
    html = (await client.get("/admin/policies")).text
    form = html.split("<h2>新增政策版本</h2>", 1)[1]
    # The version in force, prefilled: grades and care items ticked by name, percentages.
    assert re.search(r'name="eligible_grades.4" value="on" checked> 重度失能Ⅱ级', form)
    assert 'name="eligible_grades.2" value="on">' in form  # 中度失能 not eligible
    assert re.search(r'name="care_required.B01" value="on" checked> [^<a-zA-Z]+<', form)
    assert re.search(r'质量保证金比例（%）</label>\s*<input id="deposit_basis_points" '
                     r'name="deposit_basis_points" value="5"', form)
    assert " required" not in form and "基点" not in html
    assert "施行中" in html and "系统初始化" in html
    # Every problem at once, each next to its field; nothing stored.
    posted = {k: v for k, v in (await _form(csrf)).items()
              if not k.startswith(("eligible_grades.", "care_required."))}
    response = await client.post("/admin/policies", data={
        **posted, "deposit_basis_points": "100.001", "spotcheck_basis_points": "-1",
        "family_subsidy_fen": "450.005"})
    assert response.status_code == 422
    for name, problem in [
            ("eligible_grades", "请选择享受待遇的失能等级"),
            ("care_required", "请至少选择一个必选护理项目"),
            ("deposit_basis_points", "质量保证金比例应为0到100之间的百分数"),
            ("spotcheck_basis_points", "评估结论每月抽查比例（29号）应为0到100之间的百分数"),
            ("family_subsidy_fen", "请填写金额")]:
        assert re.search(f'<p class="field-error" id="{name}-error">{problem}', response.text), name
    assert 'value="100.001"' in response.text  # what was typed stays to be corrected
    assert await PolicyVersion.count() == 1


async def test_a_percentage_is_stored_as_exact_basis_points(client) -> None:
    csrf = await _admin(client)
    form = await _form(csrf, deposit_basis_points="12.34", spotcheck_basis_points="0.01")
    assert (await client.post("/admin/policies", data=form)).status_code == 200
    stored = await service.policy_in_force(
        VILLAGE_PATH, date.fromisoformat(form["effective_from"]))
    assert (stored.policy.deposit_basis_points, stored.policy.spotcheck_basis_points) == (1234, 1)
    assert "12.34%" in (await client.get("/admin/policies")).text


async def test_only_admins_add_versions(client) -> None:
    await make_user("clerk")
    await sign_in(client, "clerk")
    response = await client.post("/admin/policies", data={
        "_csrf_token": client.cookies.get("ltc_csrf")})
    assert response.status_code == 403
    assert await PolicyVersion.count() == 1


async def test_stored_versions_cannot_be_changed_or_deleted(database_url) -> None:
    with pytest.raises(Exception, match="immutable"):
        await PolicyVersion.update({PolicyVersion.note: "改过"}).where(PolicyVersion.id > 0)
    with pytest.raises(Exception, match="immutable"):
        await PolicyVersion.delete().where(PolicyVersion.id > 0)
    assert (await PolicyVersion.select(PolicyVersion.note).first())["note"] != "改过"
