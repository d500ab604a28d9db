"""The scoping helper: queries return only what lies in the actor's region or organisation."""

import pytest
from conftest import make_user

from ltc.accounts import service
from ltc.accounts.tables import User
from ltc.identity import in_region, of_organisation

pytestmark = pytest.mark.anyio


async def _visible_usernames(actor) -> set[str]:
    rows = await User.select(User.username).where(
        in_region(actor, User.region.path) & of_organisation(actor, User.organisation))
    return {row["username"] for row in rows}


async def test_region_and_organisation_scoping(database_url) -> None:
    await make_user("clerk", username="city_clerk", region="370983")
    await make_user("clerk", username="xincheng_clerk", region="370983001")
    await make_user("clerk", username="laocheng_clerk", region="370983002")
    await make_user("assessor", username="a1", organisation="T-A")
    await make_user("assessor", username="a2", organisation="T-A")
    await make_user("provider", username="p1", organisation="T-P")

    city = await service.actor_for_user((await User.select(User.id).where(
        User.username == "city_clerk").first())["id"])
    town = await service.actor_for_user((await User.select(User.id).where(
        User.username == "xincheng_clerk").first())["id"])
    assessor = await service.actor_for_user((await User.select(User.id).where(
        User.username == "a1").first())["id"])

    everyone = {"city_clerk", "xincheng_clerk", "laocheng_clerk", "a1", "a2", "p1"}
    assert await _visible_usernames(city) == everyone
    assert await _visible_usernames(town) == {"xincheng_clerk"}  # not the sibling town
    assert await _visible_usernames(assessor) == {"a1", "a2"}  # own organisation only
