"""The web application: server-rendered Chinese pages and the JSON API, one app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from litestar import Litestar, Request, Router, get
from litestar.config.csrf import CSRFConfig
from litestar.di import NamedDependency, Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Response
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from ltc import db, documents, money
from ltc.accounts.auth import PUBLIC_PATHS, ActorAuthentication
from ltc.accounts.controllers import (
    AccountsApi,
    SessionController,
    TokenPageController,
    UserApi,
    UserPageController,
)
from ltc.accounts.sessions import DatabaseStore, SessionConfig
from ltc.accounts.tables import User
from ltc.agreements.controllers import AgreementPages
from ltc.applications.controllers import ApplicationApi, ApplicationPages
from ltc.applications.deadline_pages import DeadlinePages
from ltc.applications.rules import ApplicationState
from ltc.assessments.controllers import AssessmentApi, AssessmentPages, ReviewPages
from ltc.assessments.rules import AssessmentState
from ltc.assessments.ruleset_pages import RulesetPages
from ltc.audit import keys as audit_keys
from ltc.audit import service as audit
from ltc.careplans.controllers import CarePlanPages
from ltc.careplans.item_pages import CareItemPages
from ltc.dashboard.controllers import DashboardPages
from ltc.decision_events.controllers import (
    DeliveryPages,
    EventDeliveryApi,
    EventSubscriberApi,
    SubscriberPages,
)
from ltc.desk.case import CasePages
from ltc.desk.conclusions import ConclusionPages
from ltc.desk.family import FamilyPages, FamilySignInPages
from ltc.desk.field import FieldApi, FieldPages
from ltc.desk.home import HomeController
from ltc.desk.inspection_pages import InspectionFindingPages
from ltc.desk.partner_api import PartnerApi
from ltc.desk.person import PersonPages
from ltc.desk.queues import count_for_navigation
from ltc.desk.regrading_pages import RegradingPages
from ltc.desk.sandbox_pages import SandboxPages
from ltc.desk.spotcheck_pages import SpotCheckReviewPages
from ltc.enrollment.controllers import EnrollmentEventApi
from ltc.enrollment.gateway import gateway_health
from ltc.enrollment.remote import install_from_settings as install_enrolment_gateway
from ltc.entitlements.controllers import DecisionPages, EntitlementPages
from ltc.entitlements.rules import EndReason, EntitlementState
from ltc.evidence.controllers import EvidenceApi, EvidencePages
from ltc.evidence.tus import TusApi
from ltc.grades import Grade
from ltc.identity import PUBLIC, Actor, Role
from ltc.inspections.controllers import InspectionPages
from ltc.jobs.broker import broker_reachable
from ltc.notices.controllers import NoticeBatchPages, PublicNoticePages
from ltc.notices.rules import EntryOutcome, NoticeBatchState
from ltc.organisations.controllers import OrganisationApi, OrganisationPages
from ltc.payouts.controllers import (
    DepositPages,
    PayoutApi,
    PayoutPages,
    ProviderDeclarationPages,
    ProviderStatementPages,
)
from ltc.people.rules import mask_resident_id
from ltc.policy.controllers import PolicyPages
from ltc.providers.controllers import EvaluationPages, StayPages, SurveyPages
from ltc.regions.controllers import RegionPages
from ltc.returnvisits.controllers import ReturnVisitPages
from ltc.sanctions.controllers import PublicSanctionPages, SanctionPages
from ltc.settings import Settings
from ltc.spotchecks.controllers import SpotCheckPages
from ltc.staff.controllers import StaffApi, StaffPages
from ltc.visits.controllers import VisitApi, VisitPages, VisitReviewPages
from ltc.web import access_log, formatting, timeline
from ltc.web.csrf import FormCsrf
from ltc.web.errors import EXCEPTION_HANDLERS
from ltc.web.guards import scope_guard
from ltc.web.input_guard import InputGuard
from ltc.web.openapi import ErrorResponses, before_request

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
STATIC = Path(__file__).resolve().parent / "static"
PUBLIC_HEALTH = ("kind", "circuit")


@get("/healthz", exclude_from_auth=True, include_in_schema=False)
async def healthz(settings: NamedDependency[Settings]) -> Response[dict[str, Any]]:
    """Database and broker round trips; 503 if either fails, for load balancers. The
    enrolment adapter's state is reported but never fails the check: with the bureau's
    system down LTC is degraded (checks answer "unknown"), not dead — `status` says
    "degraded" while its circuit is not closed (README "Health")."""
    try:
        await User.raw("SELECT 1")
        database = True
    except Exception:
        database = False
    broker = await anyio.to_thread.run_sync(broker_reachable, settings.broker_url)
    healthy = database and broker
    # Anyone may ask: only the adapter's kind and circuit, never its address (which may carry
    # credentials) or its errors; the admin's 概况 shows the rest.
    enrolment = {k: v for k, v in gateway_health().items() if k in PUBLIC_HEALTH}
    status = "unavailable" if not healthy else (
        "degraded" if enrolment.get("circuit", "closed") != "closed" else "ok")
    return Response(
        {"status": status, "database": database, "broker": broker, "enrolment": enrolment},
        status_code=200 if healthy else 503,
    )


async def record_tampered_document(exc: Exception, scope: Any) -> None:
    """A stored document refused by ltc.web.exports because its bytes no longer match its
    hash, recorded on the case it belongs to. Here, because the web layer cannot reach the
    audit log; evidence records its own (ltc.evidence.service)."""
    if not isinstance(exc, documents.FileTampered) or exc.code != "document_tampered":
        return
    user = scope.get("user")
    async with db.write_transaction():
        await audit.record(user if isinstance(user, Actor) else PUBLIC, "document.tampered",
                           exc.object_type, exc.object_id,
                           after={"sha256": exc.sha256, "problem": exc.problem},
                           note=f"文件与登记的校验值不符（{exc.problem}），未提供下载")


def pending_flashes(context: dict[str, Any]) -> list[dict[str, str]]:
    request = context.get("request")
    if request is None or "session" not in request.scope:
        return []
    return request.session.pop("_messages", [])


async def before_page(request: Request) -> Response | None:
    """The request hooks, then a page's navigation badges (counted once per request)."""
    if (answer := await before_request(request)) is not None:
        return answer
    await count_for_navigation(request)
    return None


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    # Stop at start-up, naming LTC_AUDIT_KEY_FILE, rather than at the first audited change.
    audit_keys.chain_key()
    db.bind(db.make_engine(settings.database_url))
    install_enrolment_gateway(settings)
    access_log.install()

    template_config = TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine)
    filters = template_config.engine_instance.engine.filters
    filters["yuan"] = money.yuan
    filters["plain_yuan"] = money.plain_yuan
    filters["iso_date"] = formatting.iso_date
    filters["letter_date"] = formatting.letter_date
    filters["local_time"] = formatting.local_time
    filters["datetime_local"] = formatting.datetime_local
    filters["mask_id"] = mask_resident_id
    # Templates read a stored code's Chinese label from its enum: `Role(u.role).label`.
    template_config.engine_instance.engine.globals.update({enum.__name__: enum for enum in (
        Role, ApplicationState, AssessmentState, Grade, EntitlementState, EndReason,
        EntryOutcome, NoticeBatchState)})
    filters["action_label"] = timeline.action_label
    filters["event_note"] = timeline.event_note
    # Flash messages live in the session; a 404 for an unknown path has no session at all.
    template_config.engine_instance.register_template_callable("get_flashes", pending_flashes)

    # The store's expiry is the idle timeout, renewed on every request; the absolute one is
    # checked by ActorAuthentication against the sign-in time kept in the session.
    sessions = SessionConfig(
        max_age=settings.session_idle_minutes * 60, httponly=True, samesite="lax",
        secure=settings.secure_cookies, renew_on_access=True,
    )
    csrf = CSRFConfig(secret=settings.secret_key, cookie_name="ltc_csrf",
                      header_name="x-csrftoken", cookie_secure=settings.secure_cookies)

    async def start_pool(app: Litestar) -> None:
        await db.start_pool(settings.database_pool_size)

    async def close_pool(app: Litestar) -> None:
        await db.close_pool()

    return Litestar(
        route_handlers=[
            healthz,
            # The OpenAPI document describes the JSON API; pages answer browsers with HTML.
            Router("/", include_in_schema=False, route_handlers=[
                SessionController, HomeController, TokenPageController, UserPageController,
                ApplicationPages, CasePages, DeadlinePages, ConclusionPages, PersonPages,
                RegradingPages, SpotCheckPages, SpotCheckReviewPages, ReturnVisitPages,
                SandboxPages, InspectionPages, InspectionFindingPages,
                AssessmentPages, ReviewPages, EvidencePages, NoticeBatchPages, PublicNoticePages,
                EntitlementPages, DecisionPages, PolicyPages, RulesetPages, AgreementPages,
                CarePlanPages, VisitPages, VisitReviewPages, StayPages, SurveyPages,
                EvaluationPages, PayoutPages, DepositPages, ProviderStatementPages,
                ProviderDeclarationPages, StaffPages,
                OrganisationPages, RegionPages, CareItemPages, FamilySignInPages, FamilyPages,
                SanctionPages, PublicSanctionPages, FieldPages, SubscriberPages,
                DeliveryPages, DashboardPages,
            ]),
            AccountsApi,
            UserApi,
            ApplicationApi,
            AssessmentApi,
            EvidenceApi,
            TusApi,
            EnrollmentEventApi,
            VisitApi,
            FieldApi,
            StaffApi,
            OrganisationApi,
            PayoutApi,
            PartnerApi,
            EventSubscriberApi,
            EventDeliveryApi,
            create_static_files_router(path="/static", directories=[STATIC],
                                       include_in_schema=False),
        ],
        middleware=[
            InputGuard(),
            sessions.middleware,
            DefineMiddleware(FormCsrf, config=csrf),
            DefineMiddleware(ActorAuthentication, exclude=PUBLIC_PATHS,
                             max_session_seconds=settings.session_max_hours * 3600),
        ],
        stores={"sessions": DatabaseStore()},
        template_config=template_config,
        exception_handlers=EXCEPTION_HANDLERS,
        guards=[scope_guard],
        plugins=[ErrorResponses()],
        before_request=before_page,
        after_exception=[record_tampered_document],
        dependencies={"settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False)},
        openapi_config=OpenAPIConfig(
            title="LTC 长护险经办管理系统 API", version="1", path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        on_startup=[start_pool],
        on_shutdown=[close_pool],
        debug=settings.debug,
    )
