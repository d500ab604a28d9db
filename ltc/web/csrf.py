"""Cross-site request forgery: Litestar's double-submit check on every unsafe request from a
browser; requests with a bearer token (integration clients) are exempt."""

from __future__ import annotations

from typing import Any

from litestar.datastructures import Headers
from litestar.exceptions import PermissionDeniedException
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import Receive, Scope, Send


def bearer_token(headers: Any) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


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

