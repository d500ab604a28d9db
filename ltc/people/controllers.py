"""The person page: details, their applications and timeline; the full resident ID only on
request, for the roles that need it, and every showing is audited (SPEC §11)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from ltc.applications.tables import Application
from ltc.assessments.tables import Assessment
from ltc.audit import service as audit
from ltc.entitlements.tables import Decision, Entitlement
from ltc.identity import Actor, Role
from ltc.notices.tables import NoticeEntry
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
        ids = [a["id"] for a in applications] or [0]
        assessments = await Assessment.select(Assessment.id).where(
            Assessment.application.is_in(ids))
        entries = await NoticeEntry.select(NoticeEntry.id, NoticeEntry.batch.number,
                                           NoticeEntry.outcome).where(
            NoticeEntry.person == person_id)
        decisions = await Decision.select().where(Decision.person == person_id).order_by(
            Decision.id)
        held = await Entitlement.select(Entitlement.id, Entitlement.state, Entitlement.grade,
                                        Entitlement.starts_on, Entitlement.expires_on,
                                        Entitlement.ends_on).where(
            Entitlement.person == person_id).order_by(Entitlement.id)
        timeline = await audit.timeline_of({
            "person": [person_id], "application": [a["id"] for a in applications],
            "assessment": [a["id"] for a in assessments],
            "notice_entry": [e["id"] for e in entries],
            "decision": [d["id"] for d in decisions], "entitlement": [e["id"] for e in held]})
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
