"""Who is making the request: a session cookie for people, a bearer token for integration
clients. Pages without a signed-in user redirect to the login page; the API answers 401."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Headers
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import Receive, Scope, Send

from ltc.accounts import service as accounts

# /notices and /n/ are the public notice pages (公示): anyone may read and object, no login.
PUBLIC_PATHS = ["^/login", "^/static/", "^/healthz", "^/schema", "^/favicon.ico", "^/notices",
                "^/n/"]


def bearer_token(headers: Any) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class ActorAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        token = bearer_token(connection.headers)
        if token is not None:
            actor = await accounts.actor_for_token(token)
            if actor is None:
                raise NotAuthorizedException("invalid_token")
            return AuthenticationResult(user=actor, auth="token")
        user_id = connection.scope.get("session", {}).get("user_id")
        actor = await accounts.actor_for_user(user_id) if user_id else None
        if actor is None:
            raise NotAuthorizedException("not_signed_in")
        return AuthenticationResult(user=actor, auth="session")


class CsrfFailed(PermissionDeniedException):
    pass


class FormCsrf(CSRFMiddleware):
    """Litestar's double-submit CSRF check on every unsafe request from a browser.

    Requests that carry a bearer token skip it: the token is not sent by the browser on its
    own, so a forged cross-site request cannot carry it, and integration clients have no cookie.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and bearer_token(Headers.from_scope(scope)):
            await self.app(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        except PermissionDeniedException as exc:
            if exc.detail == "CSRF token verification failed":
                raise CsrfFailed("csrf_failed") from exc
            raise

