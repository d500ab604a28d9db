"""Who is acting and what they may see: the actor every service function takes, the roles, and
the region scope every query applies. Ground floor: knows no context."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from piccolo.columns import Column
from piccolo.columns.combination import Where, WhereRaw

from ltc.errors import Forbidden


class Role(StrEnum):
    clerk = "clerk"
    assessor = "assessor"
    provider = "provider"
    reviewer = "reviewer"
    admin = "admin"
    # A beneficiary's household, signed in by the care-plan letter's link and PIN; never a
    # User row: scoped to one person (Actor.person_id), refused everywhere but /family.
    family = "family"

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
    Role.family: "家属",
}

# The roles a User row or an API token may hold (a family actor is never a user).
STAFF_ROLES = tuple(r for r in Role if r != Role.family)


class Scope(StrEnum):
    """What an integration client's API token may call, besides its role (SPEC §8). A
    session user has no scopes: the scoped endpoints are for integration clients only."""

    role_api = "role.api"  # the JSON API as its role allows, like a signed-in user
    enrolment_events = "enrolment.events"  # POST /api/v1/enrollment/events
    partner_read = "partner.read"  # /api/v1/partner/*: status, entitlement, care plan

    @property
    def label(self) -> str:
        return SCOPE_LABELS[self]


SCOPE_LABELS = {
    Scope.role_api: "按角色调用业务接口",
    Scope.enrolment_events: "推送参保事件",
    Scope.partner_read: "查询参保人状态、待遇和护理计划（合作方）",
}

# What every token could call before scopes existed: tokens issued then keep exactly that,
# and so does one issued without choosing.
LEGACY_SCOPES = frozenset({Scope.role_api, Scope.enrolment_events})


class ActorKind(StrEnum):
    user = "user"
    token = "token"
    system = "system"
    public = "public"
    family = "family"


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
    # The one person a family actor may see (ActorKind.family; `id` is the letter signed in by).
    person_id: int | None = None
    # An integration client's token scopes (ActorKind.token); empty for everyone else.
    scopes: frozenset[Scope] = frozenset()

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
    if actor.kind == ActorKind.system:
        return
    if actor.role not in roles:
        who = actor.role.label if actor.role else "未登录用户"
        raise Forbidden("forbidden", f"{who}无权{doing}")


# --- scope: enforced in the data, not only in the menus ------------------------------------

def in_region(actor: Actor, region_path: Column) -> Where | WhereRaw:
    """Rows whose region (given as a path column, possibly through a join) lies in the
    actor's region. Unscoped actors (system) see everything."""
    if actor.region_path is None:
        return WhereRaw("1 = 1")
    return (region_path == actor.region_path) | region_path.like(actor.region_path + "/%")


def of_organisation(actor: Actor, organisation: Column) -> Where | WhereRaw:
    """Rows of the actor's organisation, for roles bound to one."""
    if actor.role is None or not actor.role.needs_organisation:
        return WhereRaw("1 = 1")
    return organisation == actor.organisation_id
