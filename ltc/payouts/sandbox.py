"""The policy sandbox (政策沙盘, issue 18): a past month of a pooling region replayed under a
draft policy version — and, when asked, the grades another assessment ruleset gives — and
compared with the real batch of that month.

The replay is ltc.payouts.computation's own regular-lines statement (one code path), with
the draft's values in place of the version in force, written into `sandbox_line` instead of
`payout_line`. Nothing real is read for writing: no batch, line, payment or deposit changes,
and the scratch rows live in tables no real page, query or export reads. A run's own rows
(the run, its lines, its people) and one audit event are all it leaves.

Roles: reviewers (who approve batches and answer for the money) and admins (who enter policy
versions) — the two who decide on a policy change. Clerks prepare batches but do not set
policy, and a run of a city is a heavy query, so it is not offered to every desk.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from ltc import clock, db
from ltc.audit import service as audit
from ltc.errors import Forbidden, InvalidInput, NotFound
from ltc.identity import SYSTEM, Actor, Role, in_region, region_covers, require_role
from ltc.jobs import outbox
from ltc.payouts import computation
from ltc.payouts.computation import Month
from ltc.payouts.rules import SandboxChange
from ltc.payouts.service import dialect
from ltc.payouts.tables import (
    PayoutBatch,
    SandboxGrade,
    SandboxLine,
    SandboxPerson,
    SandboxRun,
)
from ltc.people.interface import briefs_of, person_search
from ltc.policy.service import version_by_id
from ltc.regions.interface import by_code

log = logging.getLogger(__name__)
ROLES = frozenset({Role.reviewer, Role.admin})
REPLAY_JOB = "payouts.sandbox_replay"
STATE_LABELS = {"queued": "排队中", "running": "计算中", "done": "已完成", "failed": "失败"}


@dataclass(frozen=True)
class TownBenefit:
    town_path: str
    benefit: str
    real_fen: int
    new_fen: int

    @property
    def difference_fen(self) -> int:
        return self.new_fen - self.real_fen


async def _run_sql(sql: str) -> list[dict[str, Any]]:
    return await SandboxRun.raw(sql)


async def start(actor: Actor, region_code: str, month: date, policy_version_id: int,
                grades: dict[int, int] | None = None, ruleset: str = "") -> dict[str, Any]:
    """A run queued for the worker: the region, a past month with a real batch, the policy
    version to replay under and optionally the grades of another ruleset (person → grade,
    only those that differ; the desk regrades). Audited as one event."""
    require_role(actor, ROLES, "政策沙盘试算")
    fields: dict[str, str] = {}
    region = await by_code((region_code or "").strip())
    if region is None or region.level != "pooling":
        region = None
        fields["region"] = "请选择统筹地区"
    elif actor.region_path and not region_covers(actor.region_path, region.path):
        raise Forbidden("forbidden", "该统筹地区不在您的辖区")
    month = clock.month_first(month)
    if month >= clock.month_first(clock.today()):
        fields["month"] = "只能重放已经结束的月份"
    version = await version_by_id(policy_version_id)
    if version is None or (region and not region_covers(version[0], region.path)):
        fields["policy_version"] = "请选择本统筹地区的政策版本"
    batch = None
    if region and "month" not in fields:
        batch = await PayoutBatch.select(PayoutBatch.id).where(
            (PayoutBatch.region_path == region.path) & (PayoutBatch.month == month)).first()
        if batch is None:
            fields["month"] = f"{clock.month_label(month)}还没有结算批次，无从对比"
    if fields:
        raise InvalidInput("invalid_sandbox", "试算条件有误，请按提示修改", fields)
    async with db.write_transaction():
        row = (await SandboxRun.insert(SandboxRun(
            region_path=region.path, month=month, policy_version=policy_version_id,
            ruleset=ruleset, batch=batch["id"], started_by=actor.id,
            regraded=len(grades or {}))).returning(*SandboxRun.all_columns()))[0]
        if grades:
            await SandboxGrade.insert(*[SandboxGrade(run=row["id"], person=p, grade=g)
                                        for p, g in sorted(grades.items())])
        await outbox.enqueue(REPLAY_JOB, row["id"])
        await audit.record(actor, "sandbox.run_started", "sandbox_run", row["id"],
                           after={"region": region.code, "month": month.isoformat(),
                                  "policy_version": policy_version_id,
                                  "ruleset": ruleset, "regraded": len(grades or {})})
    return row


async def replay(run_id: int) -> dict[str, Any] | None:
    """Compute a queued run in one transaction: the replayed lines, the people whose month
    differs from the real batch's regular lines, the totals by town and benefit. A job
    delivered again after it finished does nothing; one killed half-way left nothing and
    starts over."""
    started = time.monotonic()
    d = dialect()
    async with db.write_transaction():
        claimed = await SandboxRun.update({SandboxRun.state: "running"}).where(
            (SandboxRun.id == run_id) & SandboxRun.state.is_in(["queued", "running"])
        ).returning(*SandboxRun.all_columns())
        if not claimed:
            return None
        run = claimed[0]
        rid, batch = int(run_id), int(run["batch"])
        for table in ("sandbox_line", "sandbox_person"):
            column = "batch" if table == "sandbox_line" else "run"
            await _run_sql(f"DELETE FROM {table} WHERE {column} = {rid}")
        grades = (f"SELECT person, grade FROM sandbox_grade WHERE run = {rid}"
                  if run["regraded"] else None)
        _, policy = await version_by_id(run["policy_version"])
        month = Month(run["month"], run["region_path"], policy, grades=grades,
                      eligible_only=True)
        await _run_sql(computation.regular_lines(d, month, rid, run["policy_version"],
                                                 into="sandbox_line"))
        await _run_sql(_people_changed(rid, batch))
        await _run_sql(_newly_eligible(d, month, rid))
        totals = await _run_sql(_totals(rid, batch))
        real = [t for t in totals if t["side"] == "real"]
        new = [t for t in totals if t["side"] == "new"]
        summary = _by_town(run["region_path"], totals)
        changed = await SandboxPerson.count().where(SandboxPerson.run == rid)
        await SandboxRun.update({
            SandboxRun.state: "done", SandboxRun.line_count: sum(t["n"] for t in new),
            SandboxRun.gross_fen: sum(int(t["gross"]) for t in new),
            SandboxRun.net_fen: sum(int(t["net"]) for t in new),
            SandboxRun.real_gross_fen: sum(int(t["gross"]) for t in real),
            SandboxRun.real_net_fen: sum(int(t["net"]) for t in real),
            SandboxRun.people_changed: changed,
            SandboxRun.summary: json.dumps([[s.town_path, s.benefit, s.real_fen, s.new_fen]
                                            for s in summary]),
            SandboxRun.seconds: round(time.monotonic() - started),
            SandboxRun.finished_at: clock.now()}).where(SandboxRun.id == rid)
        await audit.record(SYSTEM, "sandbox.run_finished", "sandbox_run", rid,
                           after={"lines": sum(t["n"] for t in new), "people": changed})
    return await SandboxRun.select().where(SandboxRun.id == rid).first()


async def replay_or_fail(run_id: int) -> None:
    """The worker's job: a replay that fails is marked failed with the reason, not retried
    (it is a dry run; the user starts another), so its page never waits forever."""
    try:
        await replay(run_id)
    except Exception as exc:
        log.exception("sandbox run %s failed", run_id)
        async with db.write_transaction():
            await SandboxRun.update({SandboxRun.state: "failed",
                                     SandboxRun.error: f"{type(exc).__name__}: {exc}"[:500],
                                     SandboxRun.finished_at: clock.now()}).where(
                SandboxRun.id == run_id)


def _both_sides(run_id: int, batch_id: int, columns: str) -> str:
    """The real batch's regular lines and the run's lines, side by side (`side`)."""
    return (f"SELECT 'real' AS side, {columns} FROM payout_line "
            f"WHERE batch = {batch_id} AND kind = 'regular' "
            f"UNION ALL SELECT 'new', {columns} FROM sandbox_line WHERE batch = {run_id}")


def _people_changed(run_id: int, batch_id: int) -> str:
    """One row per person whose lines differ (SandboxChange, in its order)."""
    both = _both_sides(run_id, batch_id, "person, region_path, grade, gross_fen")
    real = "SUM(CASE WHEN x.side = 'real' THEN 1 ELSE 0 END)"
    new = "SUM(CASE WHEN x.side = 'new' THEN 1 ELSE 0 END)"
    grade = "MAX(CASE WHEN x.side = '{}' THEN x.grade ELSE 0 END)"
    gross = "SUM(CASE WHEN x.side = '{}' THEN x.gross_fen ELSE 0 END)"
    return f"""
INSERT INTO sandbox_person (run, person, region_path, change, real_grade, new_grade,
                            real_gross_fen, new_gross_fen)
SELECT {run_id}, x.person, MAX(x.region_path),
       CASE WHEN {real} = 0 THEN '{SandboxChange.gained}'
            WHEN {new} = 0 THEN '{SandboxChange.lost}'
            WHEN {grade.format('real')} <> {grade.format('new')} THEN '{SandboxChange.grade}'
            ELSE '{SandboxChange.amount}' END,
       {grade.format('real')}, {grade.format('new')}, {gross.format('real')},
       {gross.format('new')}
FROM ({both}) x GROUP BY x.person
HAVING {real} = 0 OR {new} = 0 OR {grade.format('real')} <> {grade.format('new')}
    OR {gross.format('real')} <> {gross.format('new')}"""


def _newly_eligible(d: Any, m: Month, run_id: int) -> str:
    """One row per living person of the region with no entitlement in the month (so no line
    on either side) whose latest decision by the month's end (by its day; decided in this
    region) found them not eligible, but whose grade — or another ruleset's grade for them
    — is of the draft's eligible grades: people the draft would bring in once they apply
    (not those whose entitlement lapsed). Their grade is in both columns (the ruleset's on
    the new side)."""
    m1, ml = d.day(m.first), d.day(m.last)
    grade = "COALESCE(g.grade, x.grade)"
    eligible = ", ".join(str(int(g)) for g in m.policy.eligible_grades) or "-1"
    return f"""
INSERT INTO sandbox_person (run, person, region_path, change, real_grade, new_grade,
                            real_gross_fen, new_gross_fen)
SELECT {run_id}, x.person, x.region_path, '{SandboxChange.eligible}', x.grade, {grade}, 0, 0
FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY person ORDER BY decided_on DESC, id DESC)
             AS n FROM decision WHERE decided_on <= {ml}) latest
JOIN decision x ON x.id = latest.id AND latest.n = 1
JOIN person p ON p.id = x.person
LEFT JOIN sandbox_grade g ON g.run = {run_id} AND g.person = x.person
WHERE {computation.region_filter("x.region_path", m.region_path)}
  AND NOT x.eligible AND {grade} IN ({eligible})
  AND (p.deceased_on IS NULL OR p.deceased_on >= {m1})
  AND NOT EXISTS (SELECT 1 FROM entitlement e WHERE e.person = x.person
                  AND e.starts_on <= {ml} AND COALESCE(e.ends_on, e.expires_on) >= {m1})"""


def _totals(run_id: int, batch_id: int) -> str:
    both = _both_sides(run_id, batch_id, "region_path, benefit, gross_fen, net_fen")
    return (f"SELECT x.side, x.region_path, x.benefit, COUNT(*) AS n, "
            f"SUM(x.gross_fen) AS gross, SUM(x.net_fen) AS net FROM ({both}) x "
            "GROUP BY x.side, x.region_path, x.benefit")


def town_of(region_path: str, pooling_path: str) -> str:
    """The town's path a line's region lies in: the pooling region's path and one more step
    (the pooling region itself for a line recorded there)."""
    rest = region_path[len(pooling_path):].strip("/")
    return f"{pooling_path}/{rest.split('/')[0]}" if rest else pooling_path


def _by_town(pooling_path: str, totals: list[dict[str, Any]]) -> list[TownBenefit]:
    sums: dict[tuple[str, str], list[int]] = {}
    for t in totals:
        key = (town_of(t["region_path"] or pooling_path, pooling_path), t["benefit"])
        sums.setdefault(key, [0, 0])[0 if t["side"] == "real" else 1] += int(t["gross"])
    return [TownBenefit(town, benefit, real, new)
            for (town, benefit), (real, new) in sorted(sums.items())]


def summary_of(run: dict[str, Any]) -> list[TownBenefit]:
    return [TownBenefit(*row) for row in json.loads(run["summary"] or "[]")]


async def visible_run(actor: Actor, run_id: int) -> dict[str, Any]:
    require_role(actor, ROLES, "查看政策沙盘")
    row = await SandboxRun.select(
        *SandboxRun.all_columns(), SandboxRun.policy_version.version,
        SandboxRun.policy_version.effective_from, SandboxRun.batch.number,
        SandboxRun.started_by.display_name).where(
        (SandboxRun.id == run_id) & in_region(actor, SandboxRun.region_path)).first()
    if row is None:
        raise NotFound("sandbox_run_not_found", "试算记录不存在或不在您的辖区")
    return row


async def runs(actor: Actor, limit: int = 20) -> list[dict[str, Any]]:
    """The newest runs of the actor's regions."""
    require_role(actor, ROLES, "查看政策沙盘")
    return await SandboxRun.select(
        *SandboxRun.all_columns(), SandboxRun.policy_version.version,
        SandboxRun.policy_version.effective_from, SandboxRun.started_by.display_name).where(
        in_region(actor, SandboxRun.region_path)).order_by(
        SandboxRun.id, ascending=False).limit(limit)


def _people_where(run_id: int, q: str, change: str, town: str) -> Any:
    where = SandboxPerson.run == run_id
    if change:
        if change not in {c.value for c in SandboxChange}:
            raise InvalidInput("invalid_filter", "变化类型无效", {"change": "请从列表中选择"})
        where &= SandboxPerson.change == change
    if town:
        where &= (SandboxPerson.region_path == town) | SandboxPerson.region_path.like(
            f"{town}/%")
    if (found := person_search(SandboxPerson.person, q)) is not None:
        where &= found
    return where


async def people(run_id: int, *, q: str = "", change: str = "", town: str = "",
                 after: int | None = None, offset: int = 0,
                 size: int = 50) -> list[dict[str, Any]]:
    """A keyset page (by id: a finished run's people never change) of the people whose
    month differs, with name and masked resident ID."""
    where = _people_where(run_id, q, change, town)
    if after is not None:
        where &= SandboxPerson.id > after
    rows = await SandboxPerson.select().where(where).order_by(SandboxPerson.id).offset(
        offset).limit(size)
    briefs = await briefs_of([r["person"] for r in rows])
    for row in rows:
        brief = briefs.get(row["person"])
        row["name"] = brief.name if brief else ""
        row["resident_id_masked"] = brief.resident_id_masked if brief else ""
        row["change_label"] = SandboxChange(row["change"]).label
    return rows


async def people_count(run_id: int, *, q: str = "", change: str = "", town: str = "") -> int:
    return await SandboxPerson.count().where(_people_where(run_id, q, change, town))


async def purge_scratch_lines(finished_before: Any) -> None:
    """The replayed lines of runs finished before then (a city's month is over a million
    rows a run): no page reads them; the run's totals, summary and people stay."""
    await SandboxLine.delete().where(SandboxLine.batch.is_in(
        SandboxRun.select(SandboxRun.id).where(SandboxRun.finished_at < finished_before)))


async def line_count(run_id: int) -> int:
    """Rows of a run in the scratch table (tests and the bench read it)."""
    return await SandboxLine.count().where(SandboxLine.batch == run_id)
