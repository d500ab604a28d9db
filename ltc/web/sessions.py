"""A Litestar session Store in the database, so every app process sees every session."""

from __future__ import annotations

from datetime import timedelta

from litestar.stores.base import Store

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
