"""Route guards by role. Scoping of the rows themselves is ltc.identity.in_region's job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from ltc.errors import Forbidden
from ltc.identity import Actor, Role

# The family's pages: the only ones a family actor (Role.family) may open.
FAMILY_PATH = "/family"


class StaffOnly(PermissionDeniedException):
    """A family actor on a staff page or API."""


def role_guard(*roles: Role) -> Callable[[ASGIConnection, BaseRouteHandler], None]:
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Actor, Any, Any], _: BaseRouteHandler) -> None:
        # Litestar does not authenticate OPTIONS requests but still runs the guards.
        actor = actor_of(connection)
        if actor is None:
            raise NotAuthorizedException("not_signed_in")
        if actor.role not in allowed:
            needed = "、".join(r.label for r in roles)
            raise Forbidden("wrong_role", f"此功能仅限{needed}使用，您当前的角色无权访问")

    return guard


def actor_of(connection: ASGIConnection) -> Actor | None:
    """The signed-in actor, or None on pages that do not require signing in."""
    user = connection.scope.get("user")
    return user if isinstance(user, Actor) else None
