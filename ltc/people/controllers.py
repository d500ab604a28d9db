"""The person page: details, their applications and timeline; the full resident ID only on
request, for the roles that need it, and every showing is audited (SPEC §11)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from ltc.accounts.rules import Actor, Role
from ltc.applications.tables import Application
from ltc.audit import service as audit
from ltc.people import service
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import Id


class PersonPages(Controller):
    path = "/people"
    guards = [role_guard(Role.clerk, Role.reviewer)]  # noqa: RUF012

    async def _render(self, request: Request[Actor, Any, Any], person_id: int,
                      reveal: bool) -> Template:
        person = await service.get_person(request.user, person_id, reveal_resident_id=reveal)
        applications = await (
            Application.select(Application.id, Application.number, Application.state,
                               Application.created_at)
            .where(Application.person == person_id).order_by(Application.id, ascending=False))
        return page(request, "people/person.html", person=person, applications=applications,
                    timeline=await audit.timeline("person", person_id))

    @get("/{person_id:int}")
    async def show(self, request: Request[Actor, Any, Any], person_id: Id) -> Template:
        return await self._render(request, person_id, reveal=False)

    @post("/{person_id:int}/resident-id", status_code=200)
    async def reveal(self, request: Request[Actor, Any, Any],
                     person_id: Id) -> Template:
        """A POST, not a GET: showing the number is an audited act, never a prefetch."""
        return await self._render(request, person_id, reveal=True)
