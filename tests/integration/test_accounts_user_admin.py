"""Admins manage users; two admins editing one user at once: the second save is refused."""


import pytest
from conftest import TEST_PASSWORD, make_user, sign_in

from ltc.accounts import service
from ltc.accounts.tables import User
from ltc.audit.tables import AuditEvent
from ltc.identity import SYSTEM

pytestmark = pytest.mark.anyio


async def _admin_client(client):
    await make_user("admin")
    await sign_in(client, "admin")
    return client.cookies.get("ltc_csrf")


async def test_admin_creates_a_user_who_can_then_sign_in(client) -> None:
    csrf = await _admin_client(client)
    response = await client.post("/admin/users/new", data={
        "username": "wang_clerk", "display_name": "王经办", "role": "clerk",
        "region": "370983001", "organisation": "", "password": "abc12345", "_csrf_token": csrf})
    assert response.status_code == 200 and "用户 wang_clerk 已创建" in response.text
    assert "王经办" in (await client.get("/admin/users?q=王")).text
    assert "王经办" not in (await client.get("/admin/users?role=assessor")).text
    client.cookies.clear()
    assert (await sign_in(client, "wang_clerk", "abc12345")).status_code in (302, 303)


async def test_user_form_lists_every_problem_and_creates_nothing(client) -> None:
    csrf = await _admin_client(client)
    before = await User.count()
    response = await client.post("/admin/users/new", data={
        "username": "张三", "display_name": "", "role": "provider", "region": "370983",
        "organisation": "", "password": "123", "_csrf_token": csrf})
    assert response.status_code == 422
    for problem in ("用户名只能由字母、数字和下划线组成", "请填写姓名", "密码至少需要8个字符",
                    "护理机构必须属于一个机构"):
        assert problem in response.text
    assert await User.count() == before
    duplicate = await client.post("/admin/users/new", data={
        "username": "admin", "display_name": "重名", "role": "clerk", "region": "370983",
        "organisation": "", "password": "abc12345", "_csrf_token": csrf})
    assert duplicate.status_code == 409 and "该用户名已被使用" in duplicate.text
    assert await User.count() == before


async def test_a_stale_edit_is_refused_with_the_latest_values_shown(client) -> None:
    csrf = await _admin_client(client)
    clerk = await make_user("clerk", username="li")
    form = {"version": "1", "display_name": "李经办", "role": "clerk", "region": "370983",
            "organisation": "", "active": "on", "_csrf_token": csrf}
    first = await client.post(f"/admin/users/{clerk['id']}", data=form)
    assert first.status_code == 200 and "用户信息已保存" in first.text
    # A second admin's form was loaded at version 1 too.
    stale = await client.post(f"/admin/users/{clerk['id']}",
                              data={**form, "display_name": "李某某"})
    assert stale.status_code == 409
    assert "刚被其他人修改过" in stale.text and 'value="李经办"' in stale.text
    row = await User.select().where(User.id == clerk["id"]).first()
    assert (row["display_name"], row["version"]) == ("李经办", 2)
    updates = await AuditEvent.count().where(AuditEvent.action == "user.updated")
    assert updates == 1


async def test_a_deactivated_user_is_signed_out_at_once(client) -> None:
    csrf = await _admin_client(client)
    await make_user("reviewer", username="zhao")
    reviewer = await User.select().where(User.username == "zhao").first()
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=client.app, base_url="https://testserver.local") as other:
        await sign_in(other, "zhao")
        assert (await other.get("/")).status_code == 200
        await client.post(f"/admin/users/{reviewer['id']}", data={
            "version": "1", "display_name": "赵审核", "role": "reviewer", "region": "370983",
            "organisation": "", "_csrf_token": csrf})  # no "active": unticked
        assert (await other.get("/", follow_redirects=False)).status_code in (302, 303)
        assert (await sign_in(other, "zhao")).status_code == 422


async def test_an_admin_cannot_lock_themselves_out_or_reach_beyond_their_region(client) -> None:
    csrf = await _admin_client(client)
    admin = await User.select().where(User.username == "admin").first()
    response = await client.post(f"/admin/users/{admin['id']}", data={
        "version": "1", "display_name": "管理员", "role": "admin", "region": "370983",
        "organisation": "", "_csrf_token": csrf})
    assert response.status_code == 422 and "不能停用自己的账号" in response.text
    town_admin = await service.create_user(
        SYSTEM, username="town_admin", display_name="镇管理员", role="admin",
        region_code="370983001", organisation_code=None, password=TEST_PASSWORD,
        password_iterations=1000)
    city_clerk = await make_user("clerk", username="city_clerk")
    actor = await service.actor_for_user(town_admin["id"])
    assert [u["username"] for u in await service.list_users(actor)] == ["town_admin"]
    with pytest.raises(Exception, match="user_not_found"):
        await service.get_user(actor, city_clerk["id"])
    with pytest.raises(Exception, match="invalid_user") as caught:
        await service.create_user(actor, username="x1", display_name="x", role="clerk",
                                  region_code="370983", organisation_code=None,
                                  password=TEST_PASSWORD, password_iterations=1000)
    assert "不在您的管辖范围内" in caught.value.fields["region"]


async def test_api_update_with_a_stale_version_is_409(client) -> None:
    token, _ = await service.issue_token(SYSTEM, name="ops", role="admin", region_code="370983",
                                         organisation_code=None)
    auth = {"Authorization": f"Bearer {token}"}
    created = await client.post("/api/v1/users", headers=auth, json={
        "username": "sun", "display_name": "孙经办", "role": "clerk", "region": "370983",
        "password": "abc12345"})
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    user_id = created.json()["id"]
    body = {"version": 1, "display_name": "孙经办2", "role": "clerk", "region": "370983",
            "active": True}
    assert (await client.put(f"/api/v1/users/{user_id}", headers=auth, json=body)).json()[
        "version"] == 2
    stale = await client.put(f"/api/v1/users/{user_id}", headers=auth,
                             json={**body, "display_name": "孙经办3"})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_write"
    listed = (await client.get("/api/v1/users?q=sun", headers=auth)).json()
    assert [(u["username"], u["display_name"]) for u in listed] == [("sun", "孙经办2")]


@pytest.mark.parametrize("active", [0, 1, "false", "true", None])
async def test_api_booleans_are_json_true_or_false_as_documented(client, active) -> None:
    token, _ = await service.issue_token(SYSTEM, name="ops", role="admin", region_code="370983",
                                         organisation_code=None)
    auth = {"Authorization": f"Bearer {token}"}
    created = (await client.post("/api/v1/users", headers=auth, json={
        "username": "sun", "display_name": "孙经办", "role": "clerk", "region": "370983",
        "password": "abc12345"})).json()
    refused = await client.put(f"/api/v1/users/{created['id']}", headers=auth, json={
        "version": 1, "display_name": "孙经办", "role": "clerk", "region": "370983",
        "active": active})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_request"
    assert "active" in refused.json()["error"]["fields"]
    after = (await client.get("/api/v1/users?q=sun", headers=auth)).json()
    assert [(u["active"], u["version"]) for u in after] == [(True, 1)]  # nothing changed
