"""Who is making the request: a session cookie for people, a bearer token for integration
clients. Pages without a signed-in user redirect to the login page; the API answers 401."""

from __future__ import annotations

import time

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from ltc.accounts import service as accounts
from ltc.family import service as family
from ltc.web.csrf import bearer_token
from ltc.web.guards import FAMILY_PATH, StaffOnly

# /notices and /n/ are the public notice pages (公示): anyone may read and object, no login;
# /public/ the public lists (the sanctioned organisations).
# /family/l/ is the family's sign-in by the care-plan letter's link (ltc.desk.family).
PUBLIC_PATHS = ["^/login", "^/static/", "^/healthz", "^/schema", "^/favicon.ico", "^/notices",
                "^/n/", "^/public/", "^/family/l/"]


class ActorAuthentication(AbstractAuthenticationMiddleware):
    """`max_session_seconds`: the absolute lifetime of a sign-in, however active (the idle
    timeout is the session store's expiry, renewed on each request)."""

    def __init__(self, app: ASGIApp, exclude: list[str], max_session_seconds: int) -> None:
        super().__init__(app, exclude=exclude)
        self.max_session_seconds = max_session_seconds

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        token = bearer_token(connection.headers)
        if token is not None:
            actor = await accounts.actor_for_token(token)
            if actor is None:
                raise NotAuthorizedException("invalid_token")
            return AuthenticationResult(user=actor, auth="token")
        session = connection.scope.get("session") or {}
        user_id = session.get("user_id")
        family_letter = session.get("family_letter")
        signed_in_at = session.get("signed_in_at")
        if not isinstance(signed_in_at, int | float) or (
                time.time() - signed_in_at > self.max_session_seconds):
            # signed in too long ago (or before sign-in times were kept)
            user_id = family_letter = None
        if isinstance(family_letter, int):
            return await self._family(connection, family_letter)
        actor = await accounts.actor_for_user(user_id) if user_id else None
        if actor is None:
            raise NotAuthorizedException("not_signed_in")
        return AuthenticationResult(user=actor, auth="session")

    async def _family(self, connection: ASGIConnection, letter_id: int) -> AuthenticationResult:
        """A household signed in by its letter (ltc.family): only the family pages; a
        re-issued letter signs it out."""
        actor = await family.actor_for_session(letter_id)
        if actor is None:
            raise NotAuthorizedException("not_signed_in")
        if not connection.url.path.startswith(FAMILY_PATH):
            raise StaffOnly("staff_only")
        return AuthenticationResult(user=actor, auth="family")
