"""Pure rules about the people who sign in: roles, passwords, tokens. No I/O."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    clerk = "clerk"
    assessor = "assessor"
    provider = "provider"
    reviewer = "reviewer"
    admin = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]

    @property
    def needs_organisation(self) -> bool:
        """Assessors and providers act for one organisation and see only its work."""
        return self in (Role.assessor, Role.provider)


ROLE_LABELS = {
    Role.clerk: "经办员",
    Role.assessor: "评估员",
    Role.provider: "护理机构",
    Role.reviewer: "审核员",
    Role.admin: "系统管理员",
}

PASSWORD_MIN_LENGTH = 8
_HASH_ALGORITHM = "pbkdf2_sha256"


def password_problems(password: str) -> list[str]:
    """Every reason the password is unacceptable, in Chinese, all at once."""
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"密码至少需要{PASSWORD_MIN_LENGTH}个字符")
    if password.isdigit() or password.isalpha():
        problems.append("密码需同时包含字母和数字")
    return problems


def hash_password(password: str, iterations: int) -> str:
    """`pbkdf2_sha256$iterations$salt$hash`: the cost travels with the hash, so it can rise."""
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"{_HASH_ALGORITHM}${iterations}${salt}${digest.hex()}"


def check_password(password: str, encoded: str) -> bool:
    try:
        algorithm, iterations, salt, expected = encoded.split("$")
    except ValueError:
        return False
    if algorithm != _HASH_ALGORITHM:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    return hmac.compare_digest(digest.hex(), expected)


TOKEN_PREFIX = "ltc_"


def new_api_token() -> tuple[str, str]:
    """A new bearer token and its stored hash. The token itself is shown once, never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    # Tokens are 256-bit random, so a plain SHA-256 is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


class ActorKind(StrEnum):
    user = "user"
    token = "token"
    system = "system"
    public = "public"


@dataclass(frozen=True)
class Actor:
    """Who is doing something: a signed-in user, an integration client's token, the system
    (jobs, scheduler) or an anonymous member of the public. Every service function takes one;
    every audit event names one; every query is scoped by one."""

    kind: ActorKind
    id: int | None
    name: str
    role: Role | None
    region_id: int | None = None
    region_path: str | None = None
    organisation_id: int | None = None

    @property
    def label(self) -> str:
        return f"{self.name}（{self.role.label}）" if self.role else self.name


SYSTEM = Actor(kind=ActorKind.system, id=None, name="系统", role=None)
# A member of the public on the notice pages; scoped to nothing, may only object.
PUBLIC = Actor(kind=ActorKind.public, id=None, name="公众", role=None, region_path="-")


def region_covers(actor_region_path: str, object_region_path: str) -> bool:
    """A region covers itself and everything below it in the region tree."""
    return object_region_path == actor_region_path or object_region_path.startswith(
        actor_region_path + "/"
    )


def require_role(actor: Actor, roles: frozenset[Role], doing: str) -> None:
    """Forbidden unless the actor has one of `roles`; the system actor may do anything.
    `doing` completes the Chinese sentence: 评估员无权{doing}."""
    from ltc.errors import Forbidden

    if actor.kind == ActorKind.system:
        return
    if actor.role not in roles:
        who = actor.role.label if actor.role else "未登录用户"
        raise Forbidden("forbidden", f"{who}无权{doing}")
