"""What every `ltc` command needs, whichever context registers it: the settings (a wrong
value is a clear message, not a traceback) and a database bound for one coroutine."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import click

from ltc import db
from ltc.settings import Settings, SettingsError

T = TypeVar("T")


def settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(f"配置错误 / configuration error: {exc}") from exc


def run(settings: Settings, coroutine_factory: Any) -> T:
    """Run `coroutine_factory()` with the database bound and its pool started."""

    async def main() -> T:
        db.bind(db.make_engine(settings.database_url))
        await db.start_pool(settings.database_pool_size)
        try:
            return await coroutine_factory()
        finally:
            await db.close_pool()

    return asyncio.run(main())
