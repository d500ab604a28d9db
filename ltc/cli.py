"""The `ltc` command."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from ltc import commands, db
from ltc.accounts import cli as accounts_cli
from ltc.assessments import cli as assessments_cli
from ltc.assessments.ruleset_cli import ruleset as ruleset_group
from ltc.audit import cli as audit_cli
from ltc.audit import keys as audit_keys
from ltc.audit import service as audit_service
from ltc.decision_events import cli as decision_events_cli
from ltc.desk import cli as desk_cli
from ltc.enrollment import cli as enrollment_cli
from ltc.evidence import cli as evidence_cli
from ltc.organisations import cli as organisations_cli
from ltc.returnvisits import cli as returnvisits_cli
from ltc.settings import Settings
from ltc.spotchecks import cli as spotchecks_cli
from ltc.staff import cli as staff_cli


async def _migrate_and_load() -> None:
    from ltc import reference, schema

    await schema.migrate()
    await reference.load_reference_data()


@click.group()
def main() -> None:
    """LTC — long-term care insurance case management (长护险经办管理系统)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def _as_owner(settings: Settings) -> Settings:
    """The settings with the migration role's URL (LTC_MIGRATION_DATABASE_URL, else the
    app's): schema changes need the role that owns the tables."""
    return replace(settings, database_url=settings.migration_database_url)


@main.command()
def migrate() -> None:
    """Apply database migrations and load reference data (safe on every deploy)."""
    settings = commands.settings()
    commands.run(_as_owner(settings), _migrate_and_load)
    click.echo("migrations applied, reference data loaded")


@main.group("db")
def db_group() -> None:
    """Database roles (PostgreSQL)."""


@db_group.command("grant-app-role")
@click.argument("role")
def grant_app_role(role: str) -> None:
    """Grant ROLE what the app needs: every table, but the audit log append-only.

    Runs as the migration role (LTC_MIGRATION_DATABASE_URL); run it after `ltc migrate`."""
    from ltc import schema

    settings = commands.settings()
    try:
        commands.run(_as_owner(settings), lambda: schema.grant_app_role(role))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{role} may now use LTC's tables; audit_event only by INSERT and SELECT")


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
@click.option("--workers", default=2, type=int, help="App processes")
def serve(host: str, port: int, workers: int) -> None:
    """Run the web app in production (uvicorn; run `ltc migrate` first)."""
    import uvicorn

    settings = commands.settings()  # fail fast, naming the variable
    uvicorn.run("ltc.app:create_app", factory=True, host=host, port=port, workers=workers,
                **proxy_options(settings))


@main.command()
@click.option("--processes", default=2, type=int)
@click.option("--threads", default=4, type=int)
def worker(processes: int, threads: int) -> None:
    """Run job workers (Dramatiq) on the configured broker."""
    commands.settings()
    os.execvp(sys.executable, [sys.executable, "-m", "dramatiq", "workers",
                               "--processes", str(processes), "--threads", str(threads)])


@main.command()
def scheduler() -> None:
    """Run the scheduler, the outbox relay and a decision-event delivery loop (one or more
    per deployment)."""
    settings = commands.settings()
    import workers

    asyncio.run(_jobs_loops(settings, workers.broker, workers.SCHEDULES))


async def _jobs_loops(settings: Settings, broker: Any, schedules: list[Any]) -> None:
    from ltc.decision_events import delivery
    from ltc.jobs import outbox
    from ltc.jobs import scheduler as the_scheduler

    db.bind(db.make_engine(settings.database_url))
    await db.start_pool(settings.database_pool_size)
    try:
        await asyncio.gather(
            the_scheduler.run_forever(schedules, settings.time_zone),
            outbox.relay_forever(broker),
            delivery.deliver_forever(settings),
        )
    finally:
        await db.close_pool()


@main.group("backup")
def backup_group() -> None:
    """Back up and restore the database, media and audit checkpoints as one set."""


@backup_group.command("create")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
def backup_create(directory: Path) -> None:
    """Write a consistent backup set into DIRECTORY (new or empty), while the app runs."""
    from ltc import backup

    try:
        manifest = backup.create(commands.settings(), directory)
    except backup.BackupRefused as exc:
        raise click.UsageError("\n".join(exc.problems)) from exc
    click.echo(f"backup written to {directory}: {manifest['engine']} database, "
               f"{manifest['media_files']} media files ({manifest['media_bytes']} bytes), "
               f"{len(manifest['checkpoints'])} audit checkpoints; "  # type: ignore[arg-type]
               "the audit key files are not in it (back them up apart)")


@backup_group.command("restore")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--app-role", default=None, help="PostgreSQL: grant this role the app's rights")
def backup_restore(directory: Path, app_role: str | None) -> None:
    """Restore the set in DIRECTORY into the configured empty database (as the migration
    role), media folder and checkpoint folder; then run `ltc audit verify` and
    `ltc evidence verify`."""
    from ltc import backup

    try:
        restored = asyncio.run(backup.restore(commands.settings(), directory, app_role))
    except backup.BackupRefused as exc:
        raise click.UsageError("nothing was restored:\n" + "\n".join(exc.problems)) from exc
    click.echo(f"restored: the database, {restored.media_files} media files "
               f"({restored.media_bytes} bytes), {restored.checkpoints} audit checkpoints. "
               "Next: ltc migrate (if this release is newer), ltc audit verify, "
               "ltc evidence verify")


@main.group("jobs")
def jobs_group() -> None:
    """Scheduled jobs: list them, or run one now (catch-up after downtime, support)."""


@jobs_group.command("list")
def jobs_list() -> None:
    """Every schedule, when it runs, and the last period it was scheduled for."""
    import workers
    from ltc.jobs.tables import ScheduledRun

    async def last_periods() -> dict[str, str]:
        rows = await ScheduledRun.raw(
            "SELECT job, MAX(period_key) AS period_key FROM scheduled_run GROUP BY job")
        return {row["job"]: row["period_key"] for row in rows}

    last = commands.run(commands.settings(), last_periods)
    for schedule in workers.SCHEDULES:
        click.echo(f"{schedule.job:<24} every {schedule.every.value:<5} at "
                   f"{schedule.at:%H:%M}  last period {last.get(schedule.job, '-')}")


@jobs_group.command("run")
@click.argument("job")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Run it as the scheduler would on this day (default: today)")
def jobs_run(job: str, as_of: Any) -> None:
    """Run the scheduled JOB now, in this process, for the period of --as-of.

    The run is audited (who ran what for which period, and how it ended); once done it is
    recorded as the period's run, so the scheduler does not run that period again (a failed
    run is left to the scheduler). The jobs are idempotent: running a period twice changes
    nothing the first run did not. Only today or a past day."""
    import getpass
    import inspect

    import workers
    from ltc import clock
    from ltc.identity import Actor, ActorKind, Role
    from ltc.jobs.rules import period_key
    from ltc.jobs.tables import ScheduledRun

    schedule = next((s for s in workers.SCHEDULES if s.job == job), None)
    if schedule is None:
        names = ", ".join(s.job for s in workers.SCHEDULES)
        raise click.BadParameter(f"no scheduled job {job!r}; the jobs are: {names}",
                                 param_hint="JOB")
    day = as_of.date() if as_of else clock.today()
    if day > clock.today():  # a job acting for a day not yet come would, e.g., expire
        # agreements or close notices early, and the scheduler would then skip that day
        raise click.BadParameter(f"{day} has not come yet (today is {clock.today()}); a job "
                                 "runs only for today or a past day", param_hint="--as-of")
    key = period_key(schedule.every, day)
    # The coroutine under Dramatiq's sync wrapper: this process has no worker event loop.
    job_function = inspect.unwrap(workers.broker.get_actor(job).fn)
    operator = Actor(kind=ActorKind.system, id=None, role=Role.admin,
                     name=f"命令行 ltc jobs run ({getpass.getuser()})")

    async def run() -> tuple[bool, str]:
        first = not await ScheduledRun.exists().where(
            (ScheduledRun.job == job) & (ScheduledRun.period_key == key))
        outcome, error = "done", ""
        try:
            await job_function(key)
        except Exception as exc:  # recorded, then reported: a support run must leave a trace
            outcome, error = "failed", f"{type(exc).__name__}: {exc}"
        async with db.write_transaction():
            if not error:  # a failed run leaves the period to the scheduler
                await (ScheduledRun.insert(ScheduledRun(job=job, period_key=key))
                       .on_conflict(action="DO NOTHING"))
            await audit_service.record(
                operator, "job.run_by_operator", "job", job,
                after={"period_key": key, "as_of": day.isoformat(), "outcome": outcome,
                       "first_run_of_period": bool(first), **({"error": error} if error else {})})
        return bool(first), error

    first, error = commands.run(commands.settings(), run)
    if error:
        raise click.ClickException(f"{job} for {key} failed: {error}")
    click.echo(f"{job} ran for period {key}"
               + ("" if first else " (the period had run before; the job is idempotent)"))


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
def demo(host: str, port: int) -> None:
    """A fresh embedded database with demo data, then web + worker + scheduler, one process."""
    import uvicorn

    from ltc import demo as county

    settings = commands.settings()
    if not settings.is_embedded:
        raise click.ClickException("ltc demo only runs on the embedded SQLite database; "
                                   "unset LTC_DATABASE_URL")
    for path in (settings.sqlite_path, *_broker_files(settings)):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{path}{suffix}"):
                os.remove(f"{path}{suffix}")
    # The old database's checkpoints would (rightly) call the fresh one a rollback.
    for old in settings.audit_checkpoint_dir.glob("checkpoint-*.json"):
        old.unlink()
    # The county built earlier today (its database, media and audit keys), or a new one.
    restored = county.restore(settings, county.cache_key(settings.password_iterations))
    audit_keys.init_keys(settings)

    async def prepare() -> tuple[list[dict[str, str]], dict[str, str] | None]:
        logins = await county.prepare(settings, restored, _migrate_and_load,
                                      "demo-" + secrets.token_hex(3))
        household = await county.family_household(settings)
        await audit_service.checkpoint(settings)  # `ltc audit verify` shows one at once
        return logins, household

    logins, household = commands.run(settings, prepare)
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
    if household:
        path = urlsplit(household["link"]).path  # on this demo's own address
        click.echo(f"\n  家属 family（{household['name']}家）: 手机打开 / open on a phone\n"
                   f"    http://{host}:{port}{path}\n    家庭确认码 PIN: {household['pin']}")
    click.echo("\nCtrl+C 停止 / to stop\n")
    try:
        uvicorn.run("ltc.app:create_app", factory=True, host=host, port=port,
                    **proxy_options(settings))
    finally:
        jobs_worker.stop()


def _broker_files(settings: Settings) -> list[str]:
    from ltc.settings import sqlite_path

    if settings.broker_url.startswith("sqlite"):
        return [str(sqlite_path(settings.broker_url.split("?")[0]))]
    return []

def proxy_options(settings: Settings) -> dict[str, Any]:
    """X-Forwarded-For is believed only from LTC_TRUSTED_PROXIES (uvicorn would otherwise
    trust it from 127.0.0.1, and a client there could claim any address)."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(settings.trusted_proxies)}


# Each context registers its own commands.
for context_cli in (accounts_cli, assessments_cli, audit_cli, decision_events_cli,
                    enrollment_cli, evidence_cli, spotchecks_cli, staff_cli, organisations_cli,
                    returnvisits_cli):
    for command in context_cli.COMMANDS:
        main.add_command(command)
# The dry run of a ruleset change reads several contexts (desk), under `ltc ruleset`.
ruleset_group.add_command(desk_cli.impact)
evidence_cli.evidence.add_command(desk_cli.verify)


if __name__ == "__main__":
    main()
