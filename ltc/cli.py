"""The `ltc` command."""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import sys
import threading
from typing import Any, TypeVar

import click

from ltc import db
from ltc.settings import Settings, SettingsError

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(f"配置错误 / configuration error: {exc}") from exc


def _run(settings: Settings, coroutine_factory: Any) -> T:
    async def main() -> T:
        db.bind(db.make_engine(settings.database_url))
        await db.start_pool(settings.database_pool_size)
        try:
            return await coroutine_factory()
        finally:
            await db.close_pool()

    return asyncio.run(main())


async def _migrate_and_load() -> None:
    from ltc import reference, schema

    await schema.migrate()
    await reference.load_reference_data()


@click.group()
def main() -> None:
    """LTC — long-term care insurance case management (长护险经办管理系统)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


@main.command()
def migrate() -> None:
    """Apply database migrations and load reference data (safe on every deploy)."""
    settings = _settings()
    _run(settings, _migrate_and_load)
    click.echo("migrations applied, reference data loaded")


@main.command()
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True, help="Display name, e.g. 王经办")
@click.option("--role", required=True,
              type=click.Choice(["clerk", "assessor", "provider", "reviewer", "admin"]))
@click.option("--region", required=True, help="Region code, e.g. 370983")
@click.option("--organisation", default=None, help="Organisation code (assessor, provider)")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
def createuser(username: str, display_name: str, role: str, region: str,
               organisation: str | None, password_stdin: bool) -> None:
    """Create a user who signs in."""
    from ltc.accounts import service
    from ltc.errors import DomainError
    from ltc.identity import SYSTEM

    settings = _settings()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass("密码: ")
    try:
        _run(settings, lambda: service.create_user(
            SYSTEM, username=username, display_name=display_name, role=role, region_code=region,
            organisation_code=organisation, password=password,
            password_iterations=settings.password_iterations))
    except DomainError as exc:
        details = "".join(f"\n  {field}: {problem}" for field, problem in exc.fields.items())
        raise click.ClickException(f"{exc.message}{details}") from exc
    click.echo(f"user {username} created")


@main.command()
@click.option("--name", required=True, help="The calling system, e.g. 医保参保系统")
@click.option("--role", required=True,
              type=click.Choice(["clerk", "assessor", "provider", "reviewer", "admin"]))
@click.option("--region", required=True)
@click.option("--organisation", default=None)
def token(name: str, role: str, region: str, organisation: str | None) -> None:
    """Issue an API token for an integration client; printed once."""
    from ltc.accounts import service
    from ltc.identity import SYSTEM

    settings = _settings()
    issued, row = _run(settings, lambda: service.issue_token(
        SYSTEM, name=name, role=role, region_code=region, organisation_code=organisation))
    click.echo(issued)
    # The key for signed requests (enrolment events); like the token, shown only now.
    click.echo(f"signing secret: {row['signing_secret']}", err=True)


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
@click.option("--workers", default=2, type=int, help="App processes")
def serve(host: str, port: int, workers: int) -> None:
    """Run the web app in production (uvicorn; run `ltc migrate` first)."""
    import uvicorn

    _settings()  # fail fast, naming the variable
    uvicorn.run("ltc.app:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True)


@main.command()
@click.option("--processes", default=2, type=int)
@click.option("--threads", default=4, type=int)
def worker(processes: int, threads: int) -> None:
    """Run job workers (Dramatiq) on the configured broker."""
    _settings()
    os.execvp(sys.executable, [sys.executable, "-m", "dramatiq", "workers",
                               "--processes", str(processes), "--threads", str(threads)])


@main.command()
def scheduler() -> None:
    """Run the scheduler and the outbox relay (one or more per deployment)."""
    settings = _settings()
    import workers

    asyncio.run(_jobs_loops(settings, workers.broker, workers.SCHEDULES))


async def _jobs_loops(settings: Settings, broker: Any, schedules: list[Any]) -> None:
    from ltc.jobs import outbox
    from ltc.jobs import scheduler as the_scheduler

    db.bind(db.make_engine(settings.database_url))
    await db.start_pool(settings.database_pool_size)
    try:
        await asyncio.gather(
            the_scheduler.run_forever(schedules, settings.time_zone),
            outbox.relay_forever(broker),
        )
    finally:
        await db.close_pool()


def _register_context_commands() -> None:
    from ltc.assessments.grading_cli import grade
    from ltc.enrollment.cli import enrollment
    from ltc.evidence.cli import evidence

    main.add_command(grade)
    main.add_command(enrollment)
    main.add_command(evidence)


_register_context_commands()


@main.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the audit chain and report the first broken link (exit 1 if any)."""
    from ltc.audit import service

    settings = _settings()
    checked, broken = _run(settings, service.verify_chain)
    if broken:
        click.echo(f"BROKEN at event {broken.seq}: {broken.reason} "
                   f"({checked} events before it verified)")
        sys.exit(1)
    click.echo(f"audit chain intact: {checked} events verified")


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
def demo(host: str, port: int) -> None:
    """A fresh embedded database with demo data, then web + worker + scheduler, one process."""
    import uvicorn

    from ltc import reference

    settings = _settings()
    if not settings.is_embedded:
        raise click.ClickException("ltc demo only runs on the embedded SQLite database; "
                                   "unset LTC_DATABASE_URL")
    for path in (settings.sqlite_path, *_broker_files(settings)):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{path}{suffix}"):
                os.remove(f"{path}{suffix}")

    async def prepare() -> list[dict[str, str]]:
        await _migrate_and_load()
        return await reference.load_demo_data(settings.password_iterations)

    logins = _run(settings, prepare)
    import dramatiq

    import workers

    jobs_worker = dramatiq.Worker(workers.broker, worker_threads=2)
    jobs_worker.start()
    threading.Thread(
        target=asyncio.run, args=(_jobs_loops(settings, workers.broker, workers.SCHEDULES),),
        daemon=True, name="scheduler",
    ).start()

    click.echo(f"\nLTC 演示环境 / demo — http://{host}:{port}\n")
    click.echo("  角色 role      用户名 username   密码 password")
    for login in logins:
        click.echo(f"  {login['role']:<14} {login['username']:<17} {login['password']}")
    click.echo("\nCtrl+C 停止 / to stop\n")
    try:
        uvicorn.run("ltc.app:create_app", factory=True, host=host, port=port)
    finally:
        jobs_worker.stop()


def _broker_files(settings: Settings) -> list[str]:
    from ltc.settings import sqlite_path

    if settings.broker_url.startswith("sqlite"):
        return [str(sqlite_path(settings.broker_url.split("?")[0]))]
    return []

if __name__ == "__main__":
    main()
