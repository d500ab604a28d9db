"""Use cases for the people who sign in and the integration clients' tokens."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from ltc import clock, db
from ltc.accounts.rules import (
    check_password,
    chosen_scopes,
    hash_password,
    login_wait_seconds,
    new_api_token,
    password_problems,
    scopes_of,
    stored_scopes,
    token_hash,
)
from ltc.accounts.sessions import end_sessions_of
from ltc.accounts.tables import ApiToken, LoginAttempt, User
from ltc.audit import service as audit
from ltc.errors import Conflict, InvalidInput, NotFound, TooManyAttempts
from ltc.identity import (
    LEGACY_SCOPES,
    STAFF_ROLES,
    Actor,
    ActorKind,
    Role,
    in_region,
    region_covers,
)
from ltc.organisations import interface as organisations
from ltc.regions import interface as regions

# Per IP the limit is wider than per username: a village clinic's staff share one address.
IP_LIMIT_FACTOR = 4


async def _region_and_organisation(
    actor: Actor, role: Role, region_code: str, organisation_code: str | None,
    fields: dict[str, str],
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    place = await regions.by_code(region_code)
    region = {"id": place.id, "path": place.path} if place else None
    if place is None:
        fields["region"] = f"地区编码 {region_code} 不存在"
    elif actor.region_path and not region_covers(actor.region_path, place.path):
        fields["region"] = f"地区 {region_code} 不在您的管辖范围内"
    organisation = None
    if role.needs_organisation:
        if not organisation_code:
            fields["organisation"] = f"{role.label}必须属于一个机构，请填写机构编码"
        else:
            found = await organisations.by_code(organisation_code)
            organisation = {"id": found.id} if found else None
            if organisation is None:
                fields["organisation"] = f"机构编码 {organisation_code} 不存在"
    elif organisation_code:
        fields["organisation"] = f"{role.label}不属于机构，请不要填写机构编码"
    return region, organisation


def _role(value: str, fields: dict[str, str]) -> Role | None:
    if value in STAFF_ROLES:
        return Role(value)
    fields["role"] = "角色只能是：" + "、".join(f"{r.value}（{r.label}）" for r in STAFF_ROLES)
    return None


async def _assignment(
    actor: Actor, role: str, region_code: str, organisation_code: str | None,
    fields: dict[str, str],
) -> tuple[Role | None, dict[str, Any] | None, dict[str, Any] | None]:
    """The role, region and organisation a user or token is given; problems go to `fields`."""
    the_role = _role(role, fields)
    if the_role is None:
        return None, None, None
    region, organisation = await _region_and_organisation(
        actor, the_role, region_code, organisation_code, fields)
    return the_role, region, organisation


async def create_user(
    actor: Actor,
    *,
    username: str,
    display_name: str,
    role: str,
    region_code: str,
    organisation_code: str | None,
    password: str,
    password_iterations: int,
) -> dict[str, Any]:
    """A new account. (Qualifications are in the staff register, ltc.staff.)"""
    fields: dict[str, str] = {}
    username = username.strip()
    if not username or not username.isascii() or not username.replace("_", "").isalnum():
        fields["username"] = "用户名只能由字母、数字和下划线组成"
    if not display_name.strip():
        fields["display_name"] = "请填写姓名"
    if problems := password_problems(password):
        fields["password"] = "；".join(problems)
    the_role, region, organisation = await _assignment(
        actor, role, region_code, organisation_code, fields)
    if fields:
        raise InvalidInput("invalid_user", "用户信息有误，请按提示修改", fields)
    async with db.write_transaction():
        if await User.exists().where(User.username == username):
            raise Conflict("username_taken", f"用户名 {username} 已被使用",
                           {"username": "该用户名已被使用，请换一个"})
        user = User(
            username=username,
            display_name=display_name.strip(),
            role=str(the_role),
            region=region["id"],
            organisation=organisation["id"] if organisation else None,
            password_hash=hash_password(password, password_iterations),
        )
        await user.save()
        await audit.record(actor, "user.created", "user", user.id,
                           after={"username": username, "role": str(the_role),
                                  "region": region_code, "organisation": organisation_code})
    return user.to_dict()


async def reset_passwords(actor: Actor, password: str, password_iterations: int) -> int:
    """Every active user's password set to `password` (the demo's fresh password at each
    start), one audit event per user. Returns how many."""
    if problems := password_problems(password):
        raise InvalidInput("invalid_password", "；".join(problems), {"password": problems[0]})
    password_hash = hash_password(password, password_iterations)
    async with db.write_transaction():
        users = await User.select(User.id).where(User.active.eq(True)).order_by(User.id)
        await User.update({User.password_hash: password_hash}).where(User.active.eq(True))
        for user in users:
            await audit.record(actor, "user.password_reset", "user", user["id"])
    return len(users)


def _actor_from(row: dict[str, Any], kind: ActorKind, name: str) -> Actor:
    return Actor(
        kind=kind,
        id=row["id"],
        name=name,
        role=Role(row["role"]),
        region_id=row["region"],
        region_path=row["region.path"],
        organisation_id=row["organisation"],
        scopes=scopes_of(row["scopes"]) if kind == ActorKind.token else frozenset(),
    )


async def actor_for_user(user_id: int) -> Actor | None:
    row = await (
        User.select(User.all_columns(), User.region.path)
        .where((User.id == user_id) & (User.active.eq(True)))
        .first()
    )
    return _actor_from(row, ActorKind.user, row["display_name"]) if row else None


async def _failures(where: Any, window: timedelta) -> tuple[int, datetime | None]:
    """How many failed attempts match `where` within the window, and the latest one's time."""
    since = clock.now() - window
    rows = await LoginAttempt.select(LoginAttempt.at).where(
        where & LoginAttempt.succeeded.eq(False) & (LoginAttempt.at > since)
    ).order_by(LoginAttempt.at, ascending=False)
    return len(rows), (rows[0]["at"] if rows else None)


async def authenticate(
    username: str, password: str, ip: str, *, max_failures: int, window_seconds: int
) -> Actor:
    """The actor for a correct username and password.

    Throttling cannot be turned against a user: failures count per (username, address), so a
    stranger guessing from elsewhere never blocks the real user. After FREE_FAILURES failures
    each further attempt from that pair waits twice as long as the last (1 s, 2 s, 4 s …);
    at `max_failures` the pair waits the whole window. An address failing for many usernames
    (IP_LIMIT_FACTOR × `max_failures`) is refused for every username."""
    window = timedelta(seconds=window_seconds)
    pair, latest = await _failures(
        (LoginAttempt.username == username) & (LoginAttempt.ip == ip), window)
    by_address, _ = await _failures(LoginAttempt.ip == ip, window)
    wait = login_wait_seconds(pair, max_failures, window_seconds)
    if latest is not None and wait and clock.now() < latest + timedelta(seconds=wait):
        seconds = int((latest + timedelta(seconds=wait) - clock.now()).total_seconds()) + 1
        raise TooManyAttempts("login_rate_limited", "登录失败次数过多，请"
                              + (f"{seconds}秒" if seconds < 120 else f"{seconds // 60}分钟")
                              + "后再试，或联系系统管理员")
    if by_address >= max_failures * IP_LIMIT_FACTOR:
        raise TooManyAttempts("login_rate_limited_address",
                              "本机登录失败次数过多，请稍后再试，或联系系统管理员")
    user = await User.select().where(User.username == username).first()
    ok = bool(user and user["active"] and check_password(password, user["password_hash"]))
    actor = await actor_for_user(user["id"]) if ok else None
    async with db.write_transaction():
        await LoginAttempt(username=username[:50], ip=ip[:45], succeeded=ok,
                           at=clock.now()).save()
        if actor is not None:
            await audit.record(actor, "session.signed_in", "user", actor.id, note=f"IP {ip}")
    if actor is None:
        raise InvalidInput("login_failed", "用户名或密码错误，请重新输入")
    return actor


async def sign_out(actor: Actor) -> None:
    async with db.write_transaction():
        await audit.record(actor, "session.signed_out", "user", actor.id)


async def issue_token(
    actor: Actor, *, name: str, role: str, region_code: str, organisation_code: str | None,
    scopes: Iterable[str] = LEGACY_SCOPES,
) -> tuple[str, dict[str, Any]]:
    """A new API token for an integration client, allowed `scopes` (ltc.identity.Scope);
    the plain token is returned only here, and so is the client's HMAC signing secret
    (`signing_secret` in the returned row)."""
    fields: dict[str, str] = {}
    if not name.strip():
        fields["name"] = "请填写令牌名称（例如调用方系统的名称）"
    the_scopes, problem = chosen_scopes(scopes)
    if problem:
        fields["scopes"] = problem
    the_role, region, organisation = await _assignment(
        actor, role, region_code, organisation_code, fields)
    if fields:
        raise InvalidInput("invalid_token_request", "令牌信息有误，请按提示修改", fields)
    token, hashed = new_api_token()
    async with db.write_transaction():
        row = ApiToken(
            name=name.strip(),
            token_hash=hashed,
            role=str(the_role),
            region=region["id"],
            organisation=organisation["id"] if organisation else None,
            created_by=actor.id if actor.kind == ActorKind.user else None,
            signing_secret=secrets.token_hex(32),
            scopes=stored_scopes(the_scopes),
        )
        await row.save()
        await audit.record(actor, "api_token.issued", "api_token", row.id,
                           after={"name": row.name, "role": str(the_role), "region": region_code,
                                  "scopes": row.scopes})
    return token, row.to_dict()


async def revoke_token(actor: Actor, token_id: int) -> None:
    async with db.write_transaction():
        rows = await (
            ApiToken.update({ApiToken.revoked_at: clock.now()})
            .where((ApiToken.id == token_id) & ApiToken.revoked_at.is_null())
            .returning(ApiToken.id, ApiToken.name)
        )
        if not rows:
            raise NotFound("token_not_found", f"令牌 {token_id} 不存在或已吊销")
        await audit.record(actor, "api_token.revoked", "api_token", token_id,
                           before={"name": rows[0]["name"]})


# "Last used" to the minute is enough for an admin; writing it on every call would make all
# requests of a busy app queue on the token's row lock.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


async def actor_for_token(token: str) -> Actor | None:
    row = await (
        ApiToken.select(ApiToken.all_columns(), ApiToken.region.path)
        .where((ApiToken.token_hash == token_hash(token)) & ApiToken.revoked_at.is_null())
        .first()
    )
    if row is None:
        return None
    now = clock.now()
    if row["last_used_at"] is None or now - row["last_used_at"] > TOKEN_USE_RESOLUTION:
        await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["id"])
    return _actor_from(row, ActorKind.token, f"接口:{row['name']}")


async def list_tokens() -> list[dict[str, Any]]:
    """Every token, oldest first; `scopes` as a sorted list of ltc.identity.Scope."""
    rows = await ApiToken.select(
        ApiToken.id, ApiToken.name, ApiToken.role, ApiToken.region.code, ApiToken.scopes,
        ApiToken.created_at, ApiToken.revoked_at, ApiToken.last_used_at,
    ).order_by(ApiToken.id)
    return [{**row, "scopes": sorted(scopes_of(row["scopes"]))} for row in rows]


async def list_users(actor: Actor, search: str = "", role: str = "", limit: int = 50,
                     after_id: int = 0) -> list[dict[str, Any]]:
    """Users in the actor's region, by id (stable keyset pagination), optionally filtered."""
    query = User.select(
        User.id, User.username, User.display_name, User.role, User.active, User.version,
        User.region.code, User.region.name, User.organisation.code, User.organisation.name,
    ).where(in_region(actor, User.region.path) & (User.id > after_id))
    if search.strip():
        term = search.strip()
        query = query.where(db.contains(User.username, term) | db.contains(User.display_name, term))
    if role:
        query = query.where(User.role == role)
    return await query.order_by(User.id).limit(limit)


async def get_user(actor: Actor, user_id: int) -> dict[str, Any]:
    row = await (
        User.select(User.all_columns(exclude=[User.password_hash]), User.region.code,
                    User.organisation.code)
        .where((User.id == user_id) & in_region(actor, User.region.path))
        .first()
    )
    if row is None:
        raise NotFound("user_not_found", f"用户 {user_id} 不存在或不在您的管辖地区")
    return row


async def update_user(
    actor: Actor,
    user_id: int,
    *,
    expected_version: int,
    display_name: str,
    role: str,
    region_code: str,
    organisation_code: str | None,
    active: bool,
) -> dict[str, Any]:
    """Edit a user; refused with StaleWrite if someone saved the user since it was loaded."""
    before = await get_user(actor, user_id)
    fields: dict[str, str] = {}
    if not display_name.strip():
        fields["display_name"] = "请填写姓名"
    the_role, region, organisation = await _assignment(
        actor, role, region_code, organisation_code, fields)
    if actor.kind == ActorKind.user and user_id == actor.id and (
            not active or the_role != actor.role):
        fields["active"] = "不能停用自己的账号或修改自己的角色，请由另一位管理员操作"
    if fields:
        raise InvalidInput("invalid_user", "用户信息有误，请按提示修改", fields)
    changes = {
        User.display_name: display_name.strip(),
        User.role: str(the_role),
        User.region: region["id"],
        User.organisation: organisation["id"] if organisation else None,
        User.active: active,
    }
    async with db.write_transaction():
        after = await db.update_versioned(User, user_id, expected_version, changes)
        if not active or (str(the_role), region["id"], organisation["id"] if organisation
                          else None) != (before["role"], before["region"],
                                         before["organisation"]):
            # Disabled, or acting in another role or region from now on: every session of
            # theirs ends, so the next request signs in afresh under a new session id.
            await end_sessions_of(user_id)
        await audit.record(
            actor, "user.updated", "user", user_id,
            before={k: before[k] for k in ("display_name", "role", "region.code",
                                           "organisation.code", "active")},
            after={"display_name": display_name.strip(), "role": str(the_role),
                   "region.code": region_code, "organisation.code": organisation_code,
                   "active": active},
        )
    return after


async def active_user_count() -> int:
    return await User.count().where(User.active.eq(True))


async def live_token_count() -> int:
    return await ApiToken.count().where(ApiToken.revoked_at.is_null())
