"""Each role's workbench (工作台): their work queues (ltc.desk.queues), most urgent first."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from ltc import clock
from ltc.accounts import service as accounts
from ltc.audit import service as audit
from ltc.desk.queues import queue_counts, work_queues
from ltc.enrollment import interface as enrolment
from ltc.identity import Actor, Role
from ltc.organisations import interface as organisations
from ltc.providers.service import provider_home
from ltc.regions import interface as regions
from ltc.settings import Settings
from ltc.web.pages import page


class HomeController(Controller):
    @get("/")
    async def home(self, request: Request[Actor, Any, Any],
                   settings: NamedDependency[Settings]) -> Template:
        actor = request.user
        today = clock.today()
        # provider_home once: the page shows it and the due-visits queue reads it.
        home = await provider_home(actor, today) if actor.role == Role.provider else None
        context: dict[str, Any] = {
            "region_name": await regions.name_of(actor.region_id),
            "organisation_name": await organisations.name_of(actor.organisation_id),
            "queues": await work_queues(actor, today, counted=queue_counts(request),
                                        home=home),
            "today": today,
        }
        if actor.role == Role.admin:
            context["stats"] = {
                "users": await accounts.active_user_count(),
                "tokens": await accounts.live_token_count(),
                "audit_events": await audit.event_count(),
                "audit_checkpoint": audit.last_checkpoint(settings),
                "enrolment": enrolment.gateway_health(),
            }
        elif home is not None:
            context.update(home)
        return page(request, f"home/{actor.role}.html", **context)
