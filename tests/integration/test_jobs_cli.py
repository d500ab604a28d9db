"""`ltc jobs`: support runs a scheduled job now, for the period of a chosen day, and the run
is on record (audit trail and the schedule's own table)."""

import json
from datetime import date, timedelta

import pytest
from support.cli import ltc_on

from ltc import clock, db
from ltc.audit import service as audit
from ltc.audit.tables import AuditEvent
from ltc.identity import SYSTEM
from ltc.jobs.tables import ScheduledRun
from ltc.spotchecks.tables import SpotCheckDraw

pytestmark = pytest.mark.anyio


async def _runs_by_operator() -> list[dict]:
    rows = await AuditEvent.select(AuditEvent.actor_name, AuditEvent.object_id,
                                   AuditEvent.summary).where(
        AuditEvent.action == "job.run_by_operator").order_by(AuditEvent.seq)
    return [{**row, "after": json.loads(row["summary"])["after"]} for row in rows]


async def test_a_monthly_job_run_as_of_a_day_does_that_periods_work_once_and_is_audited(
        database_url, settings) -> None:
    first = await ltc_on(settings, database_url, "jobs", "run", "spotchecks.draw",
                         "--as-of", "2026-11-03")
    assert first.returncode == 0, first.stderr
    assert b"ran for period 2026-11" in first.stdout
    # The run of period 2026-11 draws October's sample, as the scheduler's would.
    draws = await SpotCheckDraw.select(SpotCheckDraw.key, SpotCheckDraw.month)
    assert [(d["key"], d["month"]) for d in draws] == [("370983@2026-10", date(2026, 10, 1))]
    assert await ScheduledRun.count().where(
        (ScheduledRun.job == "spotchecks.draw") & (ScheduledRun.period_key == "2026-11")) == 1

    again = await ltc_on(settings, database_url, "jobs", "run", "spotchecks.draw",
                         "--as-of", "2026-11-30")
    assert again.returncode == 0 and b"the period had run before" in again.stdout
    assert await SpotCheckDraw.count() == 1  # idempotent: the first draw stands

    runs = await _runs_by_operator()
    assert [(r["object_id"], r["after"]["period_key"], r["after"]["as_of"],
             r["after"]["outcome"], r["after"]["first_run_of_period"]) for r in runs] == [
        ("spotchecks.draw", "2026-11", "2026-11-03", "done", True),
        ("spotchecks.draw", "2026-11", "2026-11-30", "done", False)]
    assert all(r["actor_name"].startswith("命令行 ltc jobs run (") for r in runs)

    listed = await ltc_on(settings, database_url, "jobs", "list")
    assert listed.returncode == 0
    line = next(x for x in listed.stdout.decode().splitlines() if x.startswith("spotchecks.draw"))
    assert "every month" in line and "last period 2026-11" in line


async def test_a_day_not_yet_come_is_refused_and_nothing_runs(database_url, settings) -> None:
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    refused = await ltc_on(settings, database_url, "jobs", "run", "agreements.daily",
                           "--as-of", tomorrow)
    assert refused.returncode == 2 and b"has not come yet" in refused.stderr
    assert await _runs_by_operator() == [] and await ScheduledRun.count() == 0


async def test_an_unknown_job_is_refused_naming_the_jobs_there_are(
        database_url, settings) -> None:
    refused = await ltc_on(settings, database_url, "jobs", "run", "payouts.pay_everyone")
    assert refused.returncode == 2
    assert b"no scheduled job 'payouts.pay_everyone'" in refused.stderr
    assert b"payouts.prepare" in refused.stderr and b"notices.close_due" in refused.stderr
    assert await _runs_by_operator() == [] and await ScheduledRun.count() == 0


async def test_a_failed_run_exits_1_with_the_reason_and_the_failure_is_on_record(
        database_url, settings, tmp_path) -> None:
    async with db.write_transaction():  # an event for tonight's checkpoint to sign
        await audit.record(SYSTEM, "audit.chain_verified", "audit_chain", "2026-11-30")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")  # the nightly checkpoint cannot be written under a plain file
    failed = await ltc_on(settings, database_url, "jobs", "run", "audit.verify_chain",
                          "--as-of", "2026-12-01",
                          LTC_AUDIT_CHECKPOINT_DIR=str(blocker / "checkpoints"))
    assert failed.returncode == 1
    assert b"audit.verify_chain for 2026-12-01 failed:" in failed.stderr
    assert b"Traceback" not in failed.stderr
    [run] = await _runs_by_operator()
    assert run["after"]["outcome"] == "failed" and run["after"]["error"]
    assert await ScheduledRun.count() == 0  # the period is left to the scheduler
    verified = await ltc_on(settings, database_url, "audit", "verify")
    assert verified.returncode == 0, verified.stdout
