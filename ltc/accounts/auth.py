"""Who is making the request: a session cookie for people, a bearer token for integration
clients. Pages without a signed-in user redirect to the login page; the API answers 401."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from ltc.accounts import service as accounts
from ltc.web.csrf import bearer_token

# /notices and /n/ are the public notice pages (公示): anyone may read and object, no login.
PUBLIC_PATHS = ["^/login", "^/static/", "^/healthz", "^/schema", "^/favicon.ico", "^/notices",
                "^/n/"]


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
