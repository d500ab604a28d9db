"""Sessions (issue 13): a new id at every sign-in, idle and absolute timeouts, sign-out
everywhere when an admin disables a user or moves them to another role or region."""

import json
import time
from datetime import timedelta

import pytest
from conftest import make_user, sign_in
from litestar.testing import AsyncTestClient

from ltc import clock
from ltc.accounts.tables import User, WebSession

pytestmark = pytest.mark.anyio
COOKIE = "session"


async def signed_in(client: AsyncTestClient) -> bool:
    return (await client.get("/", follow_redirects=False)).status_code == 200


async def test_sign_in_gives_a_new_session_id_and_the_old_one_dies(client) -> None:
    await make_user("clerk", username="wang")
    await make_user("reviewer", username="zhao")
    await sign_in(client, "wang")
    first = client.cookies.get(COOKIE)
    assert first and await signed_in(client)
    # The same browser signs in again (or an attacker planted `first` before sign-in).
    await sign_in(client, "zhao")
    second = client.cookies.get(COOKIE)
    assert second and second != first and await signed_in(client)
    assert await WebSession.count().where(WebSession.key == first) == 0
    async with AsyncTestClient(app=client.app, base_url="https://testserver.local") as planted:
        planted.cookies.set(COOKIE, first)
        assert not await signed_in(planted)


async def test_an_idle_session_expires(client, settings) -> None:
    await make_user("clerk", username="wang")
    await sign_in(client, "wang")
    row = await WebSession.select().first()
    # Renewed on each request: the expiry is the idle timeout from now.
    left = row["expires_at"] - clock.now()
    assert timedelta(minutes=settings.session_idle_minutes - 1) < left <= timedelta(
        minutes=settings.session_idle_minutes)
    await WebSession.update({WebSession.expires_at: clock.now() - timedelta(seconds=1)}).where(
        WebSession.id == row["id"])
    assert not await signed_in(client)


async def test_a_session_ends_after_the_absolute_lifetime_however_active(client,
                                                                         settings) -> None:
    await make_user("clerk", username="wang")
    await sign_in(client, "wang")
    row = await WebSession.select().first()
    data = json.loads(row["data"])
    data["signed_in_at"] = int(time.time()) - settings.session_max_hours * 3600 - 60
    await WebSession.update({WebSession.data: json.dumps(data)}).where(
        WebSession.id == row["id"])
    assert not await signed_in(client)


@pytest.mark.parametrize(("change", "ends"), [
    ({"display_name": "赵审核二"}, False),
    ({"role": "clerk"}, True),
    ({"region": "370983001"}, True),
    ({"active": None}, True),
])
async def test_an_admin_change_of_role_region_or_activity_signs_the_user_out_everywhere(
        client, change, ends) -> None:
    await make_user("admin")
    await sign_in(client, "admin")
    csrf = client.cookies.get("ltc_csrf")
    await make_user("reviewer", username="zhao")
    zhao = await User.select().where(User.username == "zhao").first()
    async with (AsyncTestClient(app=client.app, base_url="https://testserver.local") as phone,
                AsyncTestClient(app=client.app, base_url="https://testserver.local") as desk):
        for browser in (phone, desk):
            await sign_in(browser, "zhao")
            assert await signed_in(browser)
        form = {"version": "1", "display_name": "赵审核", "role": "reviewer",
                "region": "370983", "organisation": "", "active": "on", "_csrf_token": csrf,
                **change}
        form = {k: v for k, v in form.items() if v is not None}
        assert (await client.post(f"/admin/users/{zhao['id']}", data=form)).status_code == 200
        for browser in (phone, desk):
            assert await signed_in(browser) is not ends
    assert (await WebSession.count().where(WebSession.user_id == zhao["id"]) == 0) is ends
