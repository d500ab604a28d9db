"""Signing in, sessions, CSRF, role guards and API tokens, over HTTP."""

import sys
from datetime import date

import anyio
import httpx
import pytest
from conftest import TEST_PASSWORD, app_env, free_port, make_user, sign_in, start_app
from support.cases import FrozenClock

from ltc.accounts import service as accounts
from ltc.accounts.tables import ApiToken, LoginAttempt, WebSession
from ltc.audit.tables import AuditEvent
from ltc.errors import InvalidInput, TooManyAttempts
from ltc.identity import STAFF_ROLES, SYSTEM, Role

pytestmark = pytest.mark.anyio

HOME_TITLES = {
    Role.clerk: "经办员工作台",
    Role.assessor: "评估员工作台",
    Role.provider: "护理机构工作台",
    Role.reviewer: "审核员工作台",
    Role.admin: "系统管理",
}


@pytest.mark.parametrize("role", STAFF_ROLES)
async def test_each_role_signs_in_and_reaches_its_home_page(client, role: Role) -> None:
    await make_user(role)
    response = await sign_in(client, str(role))
    assert response.status_code in (302, 303) and response.headers["location"] == "/"
    home = await client.get("/")
    assert home.status_code == 200
    assert f"<h1>{HOME_TITLES[role]}</h1>" in home.text
    assert role.label in home.text
    # The session lives in the database, so any app process can serve the next request.
    assert await WebSession.count() == 1


async def test_unauthenticated_page_redirects_to_login_and_back(client) -> None:
    response = await client.get("/admin/tokens?x=1", follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/login?next=/admin/tokens%3Fx%3D1"
    await make_user(Role.admin)
    signed_in = await sign_in(client, "admin", next="/admin/tokens?x=1")
    assert signed_in.headers["location"] == "/admin/tokens?x=1"


async def test_login_never_redirects_off_site(client) -> None:
    await make_user(Role.clerk)
    response = await sign_in(client, "clerk", next="//evil.example/phish")
    assert response.headers["location"] == "/"


async def test_wrong_password_is_refused_in_chinese_and_recorded(client) -> None:
    await make_user(Role.clerk)
    response = await sign_in(client, "clerk", "wrong-password-1")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "用户名或密码错误" in response.text
    assert (await client.get("/", follow_redirects=False)).status_code in (302, 303)
    assert await LoginAttempt.count().where(LoginAttempt.succeeded.eq(False)) == 1


async def test_repeated_failures_lock_the_username_at_that_address(client, settings,
                                                                    monkeypatch) -> None:
    frozen = FrozenClock(monkeypatch, date(2026, 12, 3))
    await make_user(Role.clerk)
    for _ in range(settings.login_max_failures):
        assert (await sign_in(client, "clerk", "wrong-password-1")).status_code == 422
        frozen.advance(seconds=60)  # past each growing wait
    locked = await sign_in(client, "clerk")  # the right password, from the same address
    assert locked.status_code == 429
    assert "登录失败次数过多" in locked.text
    assert (await client.get("/", follow_redirects=False)).status_code in (302, 303)
    # Another user is not locked out by the clerk's failures.
    await make_user(Role.reviewer)
    assert (await sign_in(client, "reviewer")).status_code in (302, 303)


async def test_failures_slow_down_one_address_and_never_block_the_real_user(
        database_url, settings, monkeypatch) -> None:
    """A stranger guessing the clerk's password from 10.0.0.66 waits longer and longer and is
    then locked out; the clerk at 10.0.0.5 signs in throughout."""
    frozen = FrozenClock(monkeypatch, date(2026, 12, 3))
    await make_user(Role.clerk)
    limits = {"max_failures": settings.login_max_failures,
              "window_seconds": settings.login_window_seconds}
    refused = []
    for _ in range(3 * settings.login_max_failures):
        try:
            await accounts.authenticate("clerk", "guess-1234", "10.0.0.66", **limits)
        except InvalidInput:
            refused.append("wrong")
        except TooManyAttempts:
            refused.append("wait")
        frozen.advance(seconds=1)
        actor = await accounts.authenticate("clerk", TEST_PASSWORD, "10.0.0.5", **limits)
        assert actor.role == Role.clerk
    # Two free failures, then waits of 1, 2, 4 … seconds (attempts a second apart are
    # refused while waiting), then the lock.
    assert refused[:3] == ["wrong", "wrong", "wrong"] and "wait" in refused
    assert refused.count("wrong") == settings.login_max_failures
    assert refused[-1] == "wait"
    with pytest.raises(TooManyAttempts):  # even the right password, from that address
        await accounts.authenticate("clerk", TEST_PASSWORD, "10.0.0.66", **limits)


async def test_one_address_failing_for_many_usernames_is_refused_for_all(database_url,
                                                                         settings) -> None:
    await make_user(Role.clerk)
    limits = {"max_failures": settings.login_max_failures,
              "window_seconds": settings.login_window_seconds}
    for n in range(settings.login_max_failures * 4):
        with pytest.raises(InvalidInput):
            await accounts.authenticate(f"user{n}", "guess-1234", "10.0.0.66", **limits)
    with pytest.raises(TooManyAttempts) as caught:
        await accounts.authenticate("clerk", TEST_PASSWORD, "10.0.0.66", **limits)
    assert caught.value.code == "login_rate_limited_address"
    assert (await accounts.authenticate("clerk", TEST_PASSWORD, "10.0.0.5", **limits)).id


async def test_form_without_csrf_token_is_refused_and_changes_nothing(client) -> None:
    await make_user(Role.admin)
    await sign_in(client, "admin")
    before = await AuditEvent.count()
    response = await client.post("/admin/tokens", data={
        "name": "医保系统", "role": "clerk", "region": "370983", "organisation": ""})
    assert response.status_code == 403
    assert "请刷新页面后重新提交" in response.text
    assert await ApiToken.count() == 0
    assert await AuditEvent.count() == before
    # A forged token is refused the same way.
    forged = await client.post("/admin/tokens", data={
        "name": "医保系统", "role": "clerk", "region": "370983", "_csrf_token": "forged" * 10})
    assert forged.status_code == 403 and await ApiToken.count() == 0


async def test_wrong_role_gets_403_page(client) -> None:
    await make_user(Role.clerk)
    await sign_in(client, "clerk")
    response = await client.get("/admin/tokens")
    assert response.status_code == 403
    assert "系统管理员" in response.text and "无权" in response.text


async def test_logout_ends_the_session(client) -> None:
    await make_user(Role.reviewer)
    await sign_in(client, "reviewer")
    token = client.cookies.get("ltc_csrf")
    response = await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert response.headers["location"] == "/login"
    assert (await client.get("/", follow_redirects=False)).status_code in (302, 303)
    actions = await AuditEvent.select(AuditEvent.action).order_by(AuditEvent.seq)
    assert [a["action"] for a in actions][-2:] == ["session.signed_in", "session.signed_out"]


async def test_admin_issues_a_token_shown_once_and_revokes_it_with_audit(client) -> None:
    await make_user(Role.admin)
    await sign_in(client, "admin")
    token = client.cookies.get("ltc_csrf")
    form = await client.get("/admin/tokens")
    # What every token could call before scopes existed is chosen unless the admin unticks it.
    assert 'name="scope.role.api" value="on" checked' in form.text
    assert 'name="scope.partner.read" value="on">' in form.text
    created = await client.post("/admin/tokens", data={
        "name": "医保参保系统", "role": "clerk", "region": "370983", "organisation": "",
        "scope.role.api": "on", "scope.enrolment.events": "on", "_csrf_token": token})
    assert created.status_code == 200
    row = await ApiToken.select().first()
    assert row["scopes"] == "enrolment.events role.api"
    plain = created.text.split('<p class="secret">')[1].split("</p>")[0]
    assert plain.startswith("ltc_") and row["token_hash"] != plain
    listing = await client.get("/admin/tokens")
    assert "医保参保系统" in listing.text and plain not in listing.text
    assert "推送参保事件、按角色调用业务接口" in listing.text

    api = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert api.status_code == 200 and api.json()["role"] == "clerk"

    revoked = await client.post(f"/admin/tokens/{row['id']}/revoke",
                                data={"_csrf_token": token})
    assert revoked.status_code == 200 and "令牌已吊销" in revoked.text
    refused = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
    actions = [e["action"] for e in await AuditEvent.select(AuditEvent.action).order_by(
        AuditEvent.seq)]
    assert actions[-2:] == ["api_token.issued", "api_token.revoked"]
    assert "session.signed_in" in actions


async def test_token_form_shows_every_problem_at_once(client) -> None:
    await make_user(Role.admin)
    await sign_in(client, "admin")
    response = await client.post("/admin/tokens", data={
        "name": " ", "role": "assessor", "region": "999999", "organisation": "",
        "_csrf_token": client.cookies.get("ltc_csrf")})
    assert response.status_code == 422
    for problem in ("请填写令牌名称", "地区编码 999999 不存在", "评估员必须属于一个机构",
                    "请至少选择一项权限范围"):
        assert problem in response.text
    assert await ApiToken.count() == 0


async def test_api_errors_are_structured_json(client) -> None:
    unauthenticated = await client.get("/api/v1/me")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["code"] == "unauthenticated"
    bad = await client.get("/api/v1/me", headers={"Authorization": "Bearer ltc_nope"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_token"

    from ltc.accounts import service
    from ltc.identity import SYSTEM

    clerk_token, _ = await service.issue_token(SYSTEM, name="x", role="clerk",
                                               region_code="370983", organisation_code=None)
    auth = {"Authorization": f"Bearer {clerk_token}"}
    wrong_role = await client.post("/api/v1/tokens", headers=auth, json={
        "name": "y", "role": "admin", "region": "370983"})
    assert wrong_role.status_code == 403
    assert wrong_role.json()["error"]["code"] == "wrong_role"
    assert await ApiToken.count() == 1

    admin_token, _ = await service.issue_token(SYSTEM, name="ops", role="admin",
                                               region_code="370983", organisation_code=None)
    admin = {"Authorization": f"Bearer {admin_token}"}
    malformed = await client.post("/api/v1/tokens", headers=admin, json={"name": 3})
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "invalid_request"
    invalid = await client.post("/api/v1/tokens", headers=admin, json={
        "name": "z", "role": "king", "region": "370983"})
    assert invalid.status_code == 422
    assert invalid.json()["error"]["code"] == "invalid_token_request"
    assert "role" in invalid.json()["error"]["fields"]
    issued = await client.post("/api/v1/tokens", headers=admin, json={
        "name": "z", "role": "reviewer", "region": "370983"})
    assert issued.status_code == 201 and issued.json()["token"].startswith("ltc_")
    assert await ApiToken.count() == 3


async def test_openapi_schema_documents_the_api(client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/me" in schema["paths"] and "/api/v1/tokens" in schema["paths"]


async def test_healthz_checks_database_and_broker(client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True, "broker": True,
                               "enrolment": {"kind": "local"}}


async def test_healthz_reports_an_unreachable_broker(settings) -> None:
    from dataclasses import replace

    from litestar.testing import AsyncTestClient

    from ltc.app import create_app

    app = create_app(replace(settings, broker_url="redis://127.0.0.1:1/0"))
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": True, "broker": False,
                               "enrolment": {"kind": "local"}}


async def test_an_unknown_page_is_a_chinese_404(client) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404 and "页面不存在" in response.text
    api = await client.get("/api/v1/no/such/thing")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


async def test_a_request_that_does_not_change_the_session_does_not_overwrite_it(client) -> None:
    """Overlapping requests of one browser (an htmx preview during a form post) must not
    undo each other's session changes, such as a flash message."""
    from litestar.connection import ASGIConnection

    from ltc.accounts.sessions import ChangedOnlySessionBackend, SessionConfig

    await make_user(Role.clerk)
    await sign_in(client, "clerk")
    session_id = client.cookies.get("session")
    backend = ChangedOnlySessionBackend(config=SessionConfig())
    handler = next(r for r in client.app.routes if r.path == "/").route_handlers[0]
    scope = {"type": "http", "app": client.app, "litestar_app": client.app,
             "route_handler": handler, "state": {},
             "path": "/", "query_string": b"",
             "headers": [(b"cookie", f"session={session_id}".encode())]}
    connection = ASGIConnection(scope)
    # A slow request (the preview) loads the session...
    loaded = await backend.load_from_connection(connection)
    # ...another request of the same browser then saves a flash message...
    row = await WebSession.select().first()
    changed = row["data"].replace("{", '{"_messages":[{"message":"已保存","category":"s"}],', 1)
    await WebSession.update({WebSession.data: changed}).where(WebSession.id == row["id"])
    # ...and the slow one finishes without having changed anything itself.
    message = {"type": "http.response.start", "status": 200, "headers": []}
    await backend.store_in_message(loaded, message, connection)
    assert (await WebSession.select().first())["data"] == changed
    assert any(name == b"set-cookie" for name, _ in message["headers"])  # cookie still renewed


async def test_options_requests_are_refused_cleanly_not_500(client) -> None:
    """Litestar does not authenticate OPTIONS but still runs the guards (found by schemathesis)."""
    page = await client.options("/admin/users", follow_redirects=False)
    assert page.status_code in (302, 303)
    api = await client.options("/api/v1/users")
    assert api.status_code == 401 and api.json()["error"]["code"] == "unauthenticated"


async def test_ids_beyond_the_database_range_are_a_400(client) -> None:
    await make_user(Role.admin)
    await sign_in(client, "admin")
    # 2**40 fits SQLite's integers but not PostgreSQL's 32-bit SERIAL ids.
    for too_large in (2**40, 2**70):
        response = await client.get(f"/api/v1/users?after={too_large}")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_request"
        page = await client.get(f"/admin/users/{too_large}")
        assert page.status_code in (400, 404)


async def test_token_authenticated_calls_store_no_session_and_set_no_cookie(client) -> None:
    token, _ = await accounts.issue_token(SYSTEM, name="护理APP", role="clerk",
                                          region_code="370983", organisation_code="")
    client.cookies.clear()
    for _ in range(3):
        answer = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        assert "session" not in answer.headers.get("set-cookie", "")
    assert await WebSession.count() == 0


async def test_the_access_log_shows_no_resident_id_or_phone(server_process) -> None:
    """A real uvicorn process: a search by resident ID (typed plainly or with spaces) and by
    phone reaches the access log masked; short numbers such as record ids stay readable."""
    base, process = server_process
    resident_id, phone = "370983195001011235", "13812345678"
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        for query in (resident_id, "3709 8319 5001 0112 35", phone):
            await http.get("/applications", params={"q": query})
        await http.get("/applications/1234567")
    process.terminate()
    log = process.communicate(timeout=10)[0]
    assert "/applications?q=" in log and "/applications/1234567" in log
    assert resident_id not in log and phone not in log and "8319" not in log
    assert "****************35" in log and "*********78" in log


async def _form_login(http: httpx.AsyncClient, username: str, password: str,
                      forwarded_for: str | None = None) -> int:
    await http.get("/login")
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = await http.post("/login", headers=headers, data={
        "username": username, "password": password,
        "_csrf_token": http.cookies.get("ltc_csrf")})
    return response.status_code


async def test_a_forged_x_forwarded_for_is_not_believed(database_url, tmp_path,
                                                        settings) -> None:
    """`ltc serve` as the README sets it up (no LTC_TRUSTED_PROXIES): a client at 127.0.0.1
    rotating X-Forwarded-For is still one address and hits the per-address limit; the real
    user at 127.0.0.2 signs in."""
    await make_user(Role.clerk)
    port = free_port()
    env = app_env(database_url, tmp_path, LTC_TRUSTED_PROXIES="",
                  LTC_SECURE_COOKIES="false")  # plain http here
    process = await anyio.to_thread.run_sync(start_app, [
        sys.executable, "-m", "ltc.cli", "serve", "--workers", "1", "--port", str(port)],
        env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 by default: the stranger is there.
        async with httpx.AsyncClient(base_url=base, timeout=5) as stranger:
            answers = [await _form_login(stranger, f"user{n}", "guess-1234",
                                         forwarded_for=f"10.9.{n}.{n}")
                       for n in range(settings.login_max_failures * 4)]
            assert set(answers) == {422}
            assert await _form_login(stranger, "clerk", TEST_PASSWORD,
                                     forwarded_for="10.9.200.200") == 429
        real_user = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(base_url=base, timeout=5, transport=real_user) as clerk:
            assert await _form_login(clerk, "clerk", TEST_PASSWORD) in (302, 303)
    finally:
        process.terminate()
        process.wait(timeout=10)
    seen = {row["ip"] for row in await LoginAttempt.select(LoginAttempt.ip)}
    assert seen == {"127.0.0.2", "127.0.0.1"}
