"""POST /api/v1/enrollment/events: enrolment events from the basic medical insurance system."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.response import Response

from ltc.enrollment import events
from ltc.identity import Actor, Role, Scope
from ltc.web.guards import role_guard


class EnrollmentEventApi(Controller):
    path = "/api/v1/enrollment/events"
    guards = [role_guard(Role.clerk)]  # noqa: RUF012
    opt = {"scope": Scope.enrolment_events}  # noqa: RUF012

    @post("/", status_code=200)
    async def receive(self, request: Request[Actor, Any, Any]) -> Response[dict[str, Any]]:
        """One event as JSON: `{"event_id", "type", "resident_id", "effective_date"}`, type one
        of enrolled, enrollment_ended, deceased, hospital_admitted, hospital_discharged,
        moved_out. Authenticated by an API token (role clerk, scope enrolment.events) and
        signed: header `X-LTC-Signature: sha256=<hex HMAC-SHA256 of the raw body with the
        client's signing secret>`. Idempotent by event_id: a replay gets the first answer
        again (with header `X-LTC-Replayed: true`) and changes nothing."""
        answer, replayed = await events.receive(
            request.user, await request.body(), request.headers.get(events.SIGNATURE_HEADER))
        return Response(answer, headers={"X-LTC-Replayed": "true" if replayed else "false"})
