"""The scoping helper every query of every context uses, so that scoping is enforced in the
data, not only in the menus: a clerk sees their region, an assessor or provider only their
organisation's work."""

from __future__ import annotations

from piccolo.columns import Column
from piccolo.columns.combination import Where, WhereRaw

from ltc.accounts.rules import Actor


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
