"""Each role's workbench (工作台): what waits for them, read from the contexts that own it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from ltc import clock
from ltc.accounts import service as accounts
from ltc.agreements import service as agreements
from ltc.assessments import experts
from ltc.assessments import service as assessments
from ltc.audit import service as audit
from ltc.careplans import service as careplans
from ltc.entitlements.service import renewals_due
from ltc.identity import Actor, Role
from ltc.notices.service import clerk_inbox
from ltc.organisations import interface as organisations
from ltc.payouts.queries import list_batches
from ltc.providers.service import provider_home
from ltc.regions import interface as regions
from ltc.settings import Settings
from ltc.spotchecks.queries import expert_queue
from ltc.staff import service as staff
from ltc.visits.queries import review_queue_count
from ltc.web.pages import page


class HomeController(Controller):
    @get("/")
    async def home(self, request: Request[Actor, Any, Any],
                   settings: NamedDependency[Settings]) -> Template:
        actor = request.user
        context: dict[str, Any] = {
            "region_name": await regions.name_of(actor.region_id),
            "organisation_name": await organisations.name_of(actor.organisation_id),
        }
        if actor.role == Role.admin:
            context["stats"] = {
                "users": await accounts.active_user_count(),
                "tokens": await accounts.live_token_count(),
                "audit_events": await audit.event_count(),
                "audit_checkpoint": audit.last_checkpoint(settings),
            }
        if actor.role == Role.clerk:
            context["inbox"] = {**await clerk_inbox(actor),
                                "renewals": await renewals_due(actor),
                                "plans": await careplans.waiting_for_clerk(actor),
                                "agreements": await agreements.expiring_soon_count(actor),
                                "certificates": await staff.certificates_due_count(actor)}
        elif actor.role == Role.assessor:
            context["inbox"] = {
                "assigned": len(await assessments.my_assignments(actor)),
                "confirmations": len(await experts.confirmation_queue(actor)),
                "spotchecks": len(await expert_queue(actor))}
        elif actor.role == Role.reviewer:
            context["inbox"] = {
                "assessments": len(await assessments.review_queue(actor)),
                "visits": await review_queue_count(actor),
                "payouts": sum(1 for b in await list_batches(actor) if b["state"] == "SUBMITTED")}
        elif actor.role == Role.provider:
            context.update(await provider_home(actor, clock.today()))
        return page(request, f"home/{actor.role}.html", **context)
