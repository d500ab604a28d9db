"""The person page (it reads five contexts, so it lives on the desk): details, their
applications, decisions, notices and timeline; the full resident ID only on
request, for the roles that need it, and every showing is audited (SPEC §11)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from ltc.applications.interface import applications_of
from ltc.assessments.interface import assessment_ids_of
from ltc.audit import service as audit
from ltc.entitlements.interface import decisions_of, entitlements_of
from ltc.identity import Actor, Role
from ltc.notices.interface import entries_of
from ltc.people import service as people
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import Id


class PersonPages(Controller):
    path = "/people"
    guards = [role_guard(Role.clerk, Role.reviewer)]  # noqa: RUF012

    async def _render(self, request: Request[Actor, Any, Any], person_id: int,
                      reveal: bool) -> Template:
        person = await people.get_person(request.user, person_id, reveal_resident_id=reveal)
        applications = await applications_of(person_id)
        assessments = await assessment_ids_of([a.id for a in applications])
        entries = await entries_of(person_id)
        decisions = await decisions_of(person_id)
        held = await entitlements_of(person_id)
        timeline = await audit.timeline_of({
            "person": [person_id], "application": [a.id for a in applications],
            "assessment": assessments, "notice_entry": [e.id for e in entries],
            "decision": [d.id for d in decisions], "entitlement": [e.id for e in held]})
        return page(request, "people/person.html", person=person, applications=applications,
                    notice_entries=entries, decisions=decisions, entitlements=held,
                    timeline=timeline)

    @get("/{person_id:int}")
    async def show(self, request: Request[Actor, Any, Any], person_id: Id) -> Template:
        return await self._render(request, person_id, reveal=False)

    @post("/{person_id:int}/resident-id", status_code=200)
    async def reveal(self, request: Request[Actor, Any, Any],
                     person_id: Id) -> Template:
        """A POST, not a GET: showing the number is an audited act, never a prefetch."""
        return await self._render(request, person_id, reveal=True)
