"""Sign-in, sign-out, users and API token management. (Each role's home page: ltc.desk.home.)"""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Stream, Template
from msgspec import Struct

from ltc.accounts import service
from ltc.accounts.sessions import renew_session_id
from ltc.audit import service as audit
from ltc.db import StaleWrite
from ltc.errors import Conflict, InvalidInput, TooManyAttempts
from ltc.identity import LEGACY_SCOPES, STAFF_ROLES, Actor, Role, Scope
from ltc.settings import Settings
from ltc.web.exports import Page, keyset_page, paged_csv
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import AfterId, Id, PageSize, Version, form_int

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
        # A fresh session under a new id on sign-in: an id planted before is worthless after.
        request.clear_session()
        request.set_session({"user_id": actor.id, "signed_in_at": int(time.time())})
        renew_session_id(request.scope)
        return Redirect(_safe_next(data.get("next")))

    @post("/logout")
    async def logout(self, request: Request[Actor, Any, Any]) -> Redirect:
        await service.sign_out(request.user)
        request.clear_session()
        return Redirect("/login")


class TokenPageController(Controller):
    path = "/admin/tokens"
    guards = [role_guard(Role.admin)]  # noqa: RUF012

    async def _render(self, request: Request, status_code: int = 200, **context: Any) -> Template:
        return page(
            request, "admin/tokens.html", status_code=status_code,
            tokens=await service.list_tokens(), roles=STAFF_ROLES, scopes=list(Scope),
            form=context.pop("form", {"role": "clerk", "region": "", "name": "",
                                      "organisation": "",
                                      **{f"scope.{s}": "on" for s in LEGACY_SCOPES}}),
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
                # One checkbox per scope, named scope.<scope>: a form dict keeps one value a name.
                scopes=[name.removeprefix("scope.") for name in data
                        if name.startswith("scope.")],
            )
        except InvalidInput as exc:
            return await self._render(request, status_code=exc.status_code, form=data,
                                      errors=exc.fields)
        return await self._render(request, new_token=token, new_token_name=row["name"],
                                  new_token_secret=row["signing_secret"])

    @post("/{token_id:int}/revoke")
    async def revoke(self, request: Request[Actor, Any, Any], token_id: Id) -> Redirect:
        await service.revoke_token(request.user, token_id)
        flash(request, "令牌已吊销", category="success")
        return Redirect("/admin/tokens")


def _user_form(row: dict[str, Any]) -> dict[str, Any]:
    return {"username": row["username"], "display_name": row["display_name"],
            "role": row["role"], "region": row["region.code"],
            "organisation": row["organisation.code"], "active": row["active"],
            "version": row["version"]}


PAGE_SIZE = 50
EXPORT_PAGE = 500
EXPORT_HEADER = ["用户名", "姓名", "角色", "地区", "机构", "状态"]


class UserPageController(Controller):
    path = "/admin/users"
    guards = [role_guard(Role.admin)]  # noqa: RUF012

    def _form_page(self, request: Request, status_code: int = 200, **context: Any) -> Template:
        return page(request, "admin/user_form.html", status_code=status_code, roles=STAFF_ROLES,
                    errors=context.pop("errors", {}),
                    error=context.pop("error", None),
                    **context)

    @get("/")
    async def list_page(self, request: Request[Actor, Any, Any], q: FromQuery[str] = "",
                        role: FromQuery[str] = "", after: AfterId = 0) -> Template:
        users = await service.list_users(request.user, q, role, PAGE_SIZE + 1, after)
        more = len(users) > PAGE_SIZE
        users = users[:PAGE_SIZE]
        return page(request, "admin/users.html", users=users, q=q, role=role,
                    roles=STAFF_ROLES, query={"q": q, "role": role},
                    next_after=users[-1]["id"] if more else None)

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any], q: FromQuery[str] = "",
                     role: FromQuery[str] = "") -> Stream:
        """The user list with its filters as CSV for Excel, page by page; audited."""
        actor = request.user

        async def fetch(after: int | None) -> Page:
            return keyset_page(await service.list_users(actor, q, role, EXPORT_PAGE, after or 0),
                               EXPORT_PAGE)

        def line(u: dict[str, Any]) -> list[Any]:
            return [u["username"], u["display_name"], Role(u["role"]).label,
                    u["region.name"] or "", u["organisation.name"] or "",
                    "启用" if u["active"] else "已停用"]

        return await paged_csv("users.csv", EXPORT_HEADER, fetch, line,
                               audited=lambda: audit.record_list_read(
                                   actor, "user.exported", "user_list", {"q": q, "role": role}))

    @get("/new")
    async def new_page(self, request: Request) -> Template:
        return self._form_page(request, user_id=None, form={"role": "clerk"})

    @post("/new", status_code=200)
    async def create(self, request: Request[Actor, Any, Any], data: Form,
                     settings: NamedDependency[Settings]) -> Any:
        try:
            user = await service.create_user(
                request.user, username=data.get("username", ""),
                display_name=data.get("display_name", ""), role=data.get("role", ""),
                region_code=data.get("region", "").strip(),
                organisation_code=data.get("organisation", "").strip() or None,
                password=data.get("password", ""),
                password_iterations=settings.password_iterations)
        except (InvalidInput, Conflict) as exc:
            return self._form_page(request, status_code=exc.status_code, user_id=None,
                                   form=data, errors=exc.fields, error=exc.message)
        flash(request, f"用户 {user['username']} 已创建", category="success")
        return Redirect("/admin/users")

    @get("/{user_id:int}")
    async def edit_page(self, request: Request[Actor, Any, Any],
                        user_id: Id) -> Template:
        row = await service.get_user(request.user, user_id)
        return self._form_page(request, user_id=user_id, form=_user_form(row))

    @post("/{user_id:int}", status_code=200)
    async def update(self, request: Request[Actor, Any, Any], user_id: Id,
                     data: Form) -> Any:
        try:
            await service.update_user(
                request.user, user_id, expected_version=form_int(data, "version"),
                display_name=data.get("display_name", ""), role=data.get("role", ""),
                region_code=data.get("region", "").strip(),
                organisation_code=data.get("organisation", "").strip() or None,
                active=data.get("active") == "on")
        except InvalidInput as exc:
            row = await service.get_user(request.user, user_id)
            form = {**_user_form(row), **data, "active": data.get("active") == "on"}
            return self._form_page(request, status_code=exc.status_code, user_id=user_id,
                                   form=form, errors=exc.fields, error=exc.message)
        except StaleWrite:
            # Show what is saved now; the clerk re-applies their change to it.
            row = await service.get_user(request.user, user_id)
            return self._form_page(
                request, status_code=409, user_id=user_id, form=_user_form(row),
                error="该用户刚被其他人修改过，下面显示的是最新内容。请核对后重新修改并保存。")
        flash(request, "用户信息已保存", category="success")
        return Redirect("/admin/users")


class UserOut(Struct):
    id: int
    username: str
    display_name: str
    role: str
    region: str
    organisation: str | None
    active: bool
    version: Version


class UserCreate(Struct):
    username: str
    display_name: str
    role: str
    region: str
    password: str
    organisation: str | None = None


class UserUpdate(Struct):
    version: Version
    display_name: str
    role: str
    region: str
    active: bool
    organisation: str | None = None


def _user_out(row: dict[str, Any]) -> UserOut:
    return UserOut(id=row["id"], username=row["username"], display_name=row["display_name"],
                   role=row["role"], region=row["region.code"],
                   organisation=row["organisation.code"], active=row["active"],
                   version=row["version"])


class UserApi(Controller):
    path = "/api/v1/users"
    tags = ["accounts"]  # noqa: RUF012
    guards = [role_guard(Role.admin)]  # noqa: RUF012

    @get("/", summary="Users in the caller's region (keyset pagination by id)")
    async def list_users(self, request: Request[Actor, Any, Any], q: FromQuery[str] = "",
                         role: FromQuery[str] = "", after: AfterId = 0,
                         limit: PageSize = PAGE_SIZE) -> list[UserOut]:
        rows = await service.list_users(request.user, q, role, max(1, min(limit, 200)), after)
        return [_user_out(row) for row in rows]

    @post("/", summary="Create a user")
    async def create(self, request: Request[Actor, Any, Any], data: JSONBody[UserCreate],
                     settings: NamedDependency[Settings]) -> UserOut:
        user = await service.create_user(
            request.user, username=data.username, display_name=data.display_name,
            role=data.role, region_code=data.region, organisation_code=data.organisation,
            password=data.password, password_iterations=settings.password_iterations)
        return _user_out(await service.get_user(request.user, user["id"]))

    @put("/{user_id:int}", summary="Update a user (send the version you read; 409 if stale)")
    async def update(self, request: Request[Actor, Any, Any], user_id: Id,
                     data: JSONBody[UserUpdate]) -> UserOut:
        await service.update_user(
            request.user, user_id, expected_version=data.version,
            display_name=data.display_name, role=data.role, region_code=data.region,
            organisation_code=data.organisation, active=data.active)
        return _user_out(await service.get_user(request.user, user_id))


class Me(Struct):
    kind: str
    name: str
    role: str | None
    region_id: int | None
    organisation_id: int | None
    scopes: list[str]  # an API token's (ltc.identity.Scope); empty for a signed-in user


class TokenRequest(Struct):
    name: str
    role: str
    region: str
    organisation: str | None = None
    # role.api, enrolment.events, partner.read (ltc.identity.Scope); when left out, what
    # every token could call before scopes existed: role.api and enrolment.events.
    scopes: list[str] | None = None


class IssuedToken(Struct):
    id: int
    name: str
    role: str
    token: str
    scopes: list[str]


class AccountsApi(Controller):
    path = "/api/v1"
    tags = ["accounts"]  # noqa: RUF012

    # Any token may ask who it is, whatever its scopes.
    @get("/me", summary="Who the caller is", opt={"scope": None})
    async def me(self, request: Request[Actor, Any, Any]) -> Me:
        actor = request.user
        return Me(kind=str(actor.kind), name=actor.name, role=actor.role,
                  region_id=actor.region_id, organisation_id=actor.organisation_id,
                  scopes=sorted(actor.scopes))

    @post("/tokens", guards=[role_guard(Role.admin)], summary="Issue an API token (shown once)")
    async def issue(
        self, request: Request[Actor, Any, Any], data: JSONBody[TokenRequest]
    ) -> IssuedToken:
        token, row = await service.issue_token(
            request.user, name=data.name, role=data.role, region_code=data.region,
            organisation_code=data.organisation,
            scopes=LEGACY_SCOPES if data.scopes is None else data.scopes,
        )
        return IssuedToken(id=row["id"], name=row["name"], role=row["role"], token=token,
                           scopes=row["scopes"].split())

    @post("/tokens/{token_id:int}/revoke", guards=[role_guard(Role.admin)], status_code=204,
          summary="Revoke an API token")
    async def revoke(self, request: Request[Actor, Any, Any], token_id: Id) -> None:
        await service.revoke_token(request.user, token_id)
