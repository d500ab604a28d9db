"""The OpenAPI document tells the truth about errors: every API operation may answer each status
of ERROR_STATUSES, always with the body ltc.web.errors sends (`Error`), never Litestar's default
`{"status_code", "detail", "extra"}`. Pages are for browsers and are not in the document."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute

from ltc.web.errors import API_PREFIX


@dataclass(frozen=True)
class ErrorDetail:
    code: str
    message: str
    fields: dict[str, str]


@dataclass(frozen=True)
class Error:
    """`code` is stable for programs, `message` is Chinese for people, `fields` names each bad
    field (empty when the error is not about one)."""

    error: ErrorDetail


# What ltc.web.errors.EXCEPTION_HANDLERS can answer on any API operation, with example codes.
ERROR_STATUSES = {
    400: "Malformed request (invalid_request: a parameter or body of the wrong type or shape)",
    401: "No valid credentials (unauthenticated, invalid_token)",
    403: "The caller's role or scope does not allow this (forbidden, wrong_role; "
         "scope_missing: the API token lacks the scope the operation needs)",
    404: "No such resource in the caller's scope (not_found and domain codes)",
    405: "Method not allowed on this path (http_405)",
    409: "A stale version or a state that no longer allows this (stale_write and domain codes)",
    413: "Request body too large (http_413)",
    422: "Input refused, every bad field named (domain codes; invalid_characters: NUL or "
         "other characters a database refuses)",
    429: "Too many attempts (domain codes)",
    500: "Unexpected error, logged (server_error)",
}
ERROR_RESPONSES = {
    status: ResponseSpec(data_container=Error, description=description, generate_examples=False)
    for status, description in ERROR_STATUSES.items()
}


class ErrorResponses(ReceiveRoutePlugin):
    """Declares ERROR_RESPONSES on every API route handler as the app registers it; a handler's
    own `responses` win for the statuses it declares."""

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute) or not route.path.startswith(API_PREFIX):
            return
        for handler in route.route_handlers:
            handler.responses = {**ERROR_RESPONSES, **(handler.responses or {})}


def allow_every_method(request: Request) -> Response | None:
    """Answers OPTIONS with every method of the path (a `before_request` hook). Litestar builds a
    path's route anew for each further handler but keeps the first OPTIONS answer, whose Allow
    header then lists only that handler's methods."""
    if request.method != "OPTIONS":
        return None
    template = request.scope.get("path_template")
    methods = next((route.methods for route in request.app.routes
                    if isinstance(route, HTTPRoute) and route.path_format == template), None)
    if not methods:
        return None
    return Response(None, status_code=204, headers={"Allow": ", ".join(sorted(methods))})


@functools.cache  # per route handler, once: this runs before every request
def _boolean_fields(handler: Any) -> frozenset[str]:
    """The JSON body's fields the handler declares `bool` (its `data` is a msgspec Struct)."""
    data = handler.parsed_fn_signature.parameters.get("data")
    body = getattr(data, "annotation", None)
    if not (isinstance(body, type) and issubclass(body, msgspec.Struct)):
        return frozenset()
    return frozenset(field.encode_name for field in msgspec.structs.fields(body)
                     if field.type is bool)


async def strict_booleans(request: Request) -> None:
    """Refuse a JSON body whose boolean field is not true or false (a `before_request` hook).
    Litestar converts bodies leniently (0, "1", "false" become booleans), while the OpenAPI
    document says boolean: the API accepts what it documents, as 400 `invalid_request`."""
    fields = _boolean_fields(request.route_handler)
    if not fields:
        return
    try:
        body = await request.json()
    except Exception:  # not JSON: the handler's own decoding answers for it
        return
    if isinstance(body, dict) and (bad := sorted(
            name for name in fields if name in body and not isinstance(body[name], bool))):
        raise ValidationException("boolean expected", extra=[
            {"key": name, "message": "应为 true 或 false"} for name in bad])


async def before_request(request: Request) -> Response | None:
    """Every request's hooks, in order."""
    if (answer := allow_every_method(request)) is not None:
        return answer
    await strict_booleans(request)
    return None
