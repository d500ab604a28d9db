"""Route guards by role. Scoping of the rows themselves is ltc.identity.in_region's job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from ltc.errors import Forbidden
from ltc.identity import Actor, ActorKind, Role, Scope

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


def scope_guard(connection: ASGIConnection[Any, Actor, Any, Any],
                handler: BaseRouteHandler) -> None:
    """App-wide: an integration client's token calls only what its scopes allow. A handler
    (or its controller) names the scope it needs as `opt={"scope": ...}`, and then only a
    token holding it gets in, never a session; `opt={"scope": None}` lets any token in;
    every other route needs Scope.role_api of a token."""
    actor = actor_of(connection)
    needed = handler.opt.get("scope", Scope.role_api)
    if actor is None or needed is None:
        return
    if actor.kind == ActorKind.token:
        if needed not in actor.scopes:
            raise Forbidden("scope_missing", f"此接口令牌无权调用该接口：需要权限范围"
                            f"「{Scope(needed).label}」（{needed}），请联系系统管理员")
    elif "scope" in handler.opt:
        raise Forbidden("scope_missing", "此接口仅供持有相应权限范围的接口令牌调用")


def actor_of(connection: ASGIConnection) -> Actor | None:
    """The signed-in actor, or None on pages that do not require signing in."""
    user = connection.scope.get("user")
    return user if isinstance(user, Actor) else None
