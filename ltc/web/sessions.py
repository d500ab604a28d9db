"""A Litestar session Store in the database, so every app process sees every session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.stores.base import Store
from litestar.types import Empty, Message
from litestar.utils.dataclass import extract_dataclass_items

from ltc import clock
from ltc.accounts.tables import WebSession


def _seconds(value: int | timedelta | None) -> int | None:
    return int(value.total_seconds()) if isinstance(value, timedelta) else value


class DatabaseStore(Store):
    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
                  ) -> None:
        data = value.decode() if isinstance(value, bytes) else value
        seconds = _seconds(expires_in)
        expires_at = clock.now() + timedelta(seconds=seconds) if seconds else None
        updated = await (
            WebSession.update({WebSession.data: data, WebSession.expires_at: expires_at})
            .where(WebSession.key == key)
            .returning(WebSession.id)
        )
        if not updated:
            await WebSession(key=key, data=data, expires_at=expires_at).save()

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        row = await WebSession.select().where(WebSession.key == key).first()
        if row is None:
            return None
        if row["expires_at"] is not None and row["expires_at"] <= clock.now():
            await self.delete(key)
            return None
        if seconds := _seconds(renew_for):
            await WebSession.update(
                {WebSession.expires_at: clock.now() + timedelta(seconds=seconds)}
            ).where(WebSession.key == key)
        return row["data"].encode()

    async def delete(self, key: str) -> None:
        await WebSession.delete().where(WebSession.key == key)

    async def delete_all(self) -> None:
        await WebSession.delete(force=True)

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        row = await WebSession.select(WebSession.expires_at).where(WebSession.key == key).first()
        if row is None or row["expires_at"] is None:
            return None
        return int((row["expires_at"] - clock.now()).total_seconds())

    async def delete_expired(self) -> int:
        rows = await WebSession.delete().where(WebSession.expires_at < clock.now()).returning(
            WebSession.id)
        return len(rows)


_LOADED = "ltc_session_loaded"


class ChangedOnlySessionBackend(ServerSideSessionBackend):
    """Writes the session back only when the request changed it.

    Litestar writes the whole session after every request, so two overlapping requests of one
    browser lose whichever change was saved first: an htmx preview that started before a form
    post finished after it and wrote back the session without the post's flash message (seen
    in the browser test). Unchanged sessions are only re-sent as a cookie; the store renews
    their expiry on read.
    """

    async def load_from_connection(self, connection: ASGIConnection) -> dict[str, Any]:
        data = await super().load_from_connection(connection)
        connection.scope.setdefault("state", {})[_LOADED] = (
            self.serialize_data(data, connection.scope) if data else None)
        return data

    async def store_in_message(self, scope_session: Any, message: Message,
                               connection: ASGIConnection) -> None:
        if connection.headers.get("authorization", "").lower().startswith("bearer "):
            return  # an integration client's request: no cookie, no session to store
        loaded = connection.scope.get("state", {}).get(_LOADED)
        if (scope_session is Empty or loaded is None
                or self.serialize_data(scope_session, connection.scope) != loaded):
            await super().store_in_message(scope_session, message, connection)
            return
        cookie_params = dict(extract_dataclass_items(
            self.config, exclude_none=True, include=Cookie.__dict__.keys()))
        MutableScopeHeaders.from_message(message).add("Set-Cookie", Cookie(
            value=self.get_session_id(connection), key=self.config.key, **cookie_params,
        ).to_header(header=""))


@dataclass
class SessionConfig(ServerSideSessionConfig):
    _backend_class = ChangedOnlySessionBackend
