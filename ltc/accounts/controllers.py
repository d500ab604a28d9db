"""Sign-in, sign-out, each role's home page, and API token management."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from msgspec import Struct

from ltc.accounts import service
from ltc.accounts.rules import ROLE_LABELS, Actor, Role
from ltc.accounts.tables import ApiToken, User
from ltc.audit.tables import AuditEvent
from ltc.errors import InvalidInput, TooManyAttempts
from ltc.organisations.tables import Organisation
from ltc.regions.tables import Region
from ltc.settings import Settings
from ltc.web.guards import role_guard
from ltc.web.pages import page

Form = URLEncodedBody[dict[str, str]]


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after login is a phishing aid.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class SessionController(Controller):
    @get("/login", exclude_from_auth=True)
    async def login_page(self, request: Request, next: FromQuery[str | None] = None) -> Template:
        return page(request, "login.html", next=_safe_next(next), username="", error=None)

    @post("/login", exclude_from_auth=True, status_code=200)
    async def login(self, request: Request, data: Form,
                    settings: NamedDependency[Settings]) -> Any:
        username = data.get("username", "").strip()
        try:
            actor = await service.authenticate(
                username, data.get("password", ""), client_ip(request),
                max_failures=settings.login_max_failures,
                window_seconds=settings.login_window_seconds,
            )
        except (InvalidInput, TooManyAttempts) as exc:
            return page(request, "login.html", status_code=exc.status_code,
                        next=_safe_next(data.get("next")), username=username, error=exc.message)
        # A fresh session on sign-in: a session id planted before login is worthless after.
        request.clear_session()
        request.set_session({"user_id": actor.id})
        return Redirect(_safe_next(data.get("next")))

    @post("/logout")
    async def logout(self, request: Request[Actor, Any, Any]) -> Redirect:
        await service.sign_out(request.user)
        request.clear_session()
        return Redirect("/login")


class HomeController(Controller):
    @get("/")
    async def home(self, request: Request[Actor, Any, Any]) -> Template:
        actor = request.user
        region = await Region.select(Region.name).where(Region.id == actor.region_id).first()
        organisation = None
        if actor.organisation_id:
            organisation = await (
                Organisation.select(Organisation.name)
                .where(Organisation.id == actor.organisation_id)
                .first()
            )
        context: dict[str, Any] = {
            "region_name": region["name"] if region else "",
            "organisation_name": organisation["name"] if organisation else "",
        }
        if actor.role == Role.admin:
            context["stats"] = {
                "users": await User.count().where(User.active.eq(True)),
                "tokens": await ApiToken.count().where(ApiToken.revoked_at.is_null()),
                "audit_events": await AuditEvent.count(),
            }
        return page(request, f"home/{actor.role}.html", **context)


class TokenPageController(Controller):
    path = "/admin/tokens"
    guards = [role_guard(Role.admin)]  # noqa: RUF012

    async def _render(self, request: Request, status_code: int = 200, **context: Any) -> Template:
        return page(
            request, "admin/tokens.html", status_code=status_code,
            tokens=await service.list_tokens(), roles=list(Role),
            role_label=lambda value: ROLE_LABELS.get(Role(value), value),
            form=context.pop("form", {"role": "clerk", "region": "", "name": "",
                                      "organisation": ""}),
            errors=context.pop("errors", {}), **context,
        )

    @get("/")
    async def list_page(self, request: Request) -> Template:
        return await self._render(request)

    @post("/", status_code=200)
    async def create(self, request: Request[Actor, Any, Any], data: Form) -> Template:
        try:
            token, row = await service.issue_token(
                request.user, name=data.get("name", ""), role=data.get("role", ""),
                region_code=data.get("region", "").strip(),
                organisation_code=data.get("organisation", "").strip() or None,
            )
        except InvalidInput as exc:
            return await self._render(request, status_code=exc.status_code, form=data,
                                      errors=exc.fields)
        return await self._render(request, new_token=token, new_token_name=row["name"])

    @post("/{token_id:int}/revoke")
    async def revoke(self, request: Request[Actor, Any, Any], token_id: FromPath[int]) -> Redirect:
        await service.revoke_token(request.user, token_id)
        flash(request, "令牌已吊销", category="success")
        return Redirect("/admin/tokens")


class Me(Struct):
    kind: str
    name: str
    role: str | None
    region_id: int | None
    organisation_id: int | None


class TokenRequest(Struct):
    name: str
    role: str
    region: str
    organisation: str | None = None


class IssuedToken(Struct):
    id: int
    name: str
    role: str
    token: str


class AccountsApi(Controller):
    path = "/api/v1"
    tags = ["accounts"]  # noqa: RUF012

    @get("/me", summary="Who the caller is")
    async def me(self, request: Request[Actor, Any, Any]) -> Me:
        actor = request.user
        return Me(kind=str(actor.kind), name=actor.name, role=actor.role,
                  region_id=actor.region_id, organisation_id=actor.organisation_id)

    @post("/tokens", guards=[role_guard(Role.admin)], summary="Issue an API token (shown once)")
    async def issue(
        self, request: Request[Actor, Any, Any], data: JSONBody[TokenRequest]
    ) -> IssuedToken:
        token, row = await service.issue_token(
            request.user, name=data.name, role=data.role, region_code=data.region,
            organisation_code=data.organisation,
        )
        return IssuedToken(id=row["id"], name=row["name"], role=row["role"], token=token)

    @post("/tokens/{token_id:int}/revoke", guards=[role_guard(Role.admin)], status_code=204,
          summary="Revoke an API token")
    async def revoke(self, request: Request[Actor, Any, Any], token_id: FromPath[int]) -> None:
        await service.revoke_token(request.user, token_id)
