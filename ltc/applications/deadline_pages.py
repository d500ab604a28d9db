"""Deadlines (22号) on the desk of clerks and reviewers: every case whose answer or conclusion
letter is near or past its deadline in working days, with search, filters, paging and CSV;
and each case's own deadlines for its page."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from litestar import Controller, Request, get
from litestar.response import Response, Template

from ltc import clock
from ltc.applications.deadlines import Deadline, DeadlineKind, DeadlineState, deadline
from ltc.applications.rules import ApplicationState
from ltc.applications.tables import Application
from ltc.audit import service as audit
from ltc.clock import UnknownCalendarYear, WorkingCalendar, working_calendar
from ltc.identity import Actor, Role, in_region
from ltc.people.rules import mask_resident_id
from ltc.policy.service import policy_in_force
from ltc.web.exports import csv_download
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import page_number

PAGE_SIZE = 50
WATCHED = (DeadlineState.NEAR, DeadlineState.OVERDUE)


def _day(moment: datetime | None) -> date | None:
    return moment.astimezone(clock.CHINA).date() if moment else None


async def _limits(region_path: str, today: date, cache: dict[str, tuple[int, int]]
                  ) -> tuple[int, int]:
    pooling = region_path.split("/")[0]
    if pooling not in cache:
        policy = (await policy_in_force(region_path, today)).policy
        cache[pooling] = (policy.answer_working_days, policy.letter_working_days)
    return cache[pooling]


def deadlines_of(row: dict[str, Any], limits: tuple[int, int], today: date,
                 calendar: WorkingCalendar) -> list[Deadline]:
    """The answer deadline once submitted — met by a request for materials, then running
    again from their receipt; the letter deadline once accepted."""
    found: list[Deadline] = []
    state = row["state"]
    submitted, accepted = _day(row["submitted_at"]), _day(row["accepted_at"])
    requested, received = _day(row["materials_requested_at"]), _day(row["materials_received_at"])
    if submitted and row["origin"] == "applicant":  # ex officio cases answer nobody
        answered = accepted or (_day(row["decided_at"]) if state == ApplicationState.REJECTED
                                else None)
        if requested:
            found.append(deadline(DeadlineKind.ANSWER, submitted, limits[0], today, calendar,
                                  requested))
            if received and (answered or state == ApplicationState.SUBMITTED):
                found.append(deadline(DeadlineKind.RESUMED, received, limits[0], today,
                                      calendar, answered))
        elif answered or state == ApplicationState.SUBMITTED:
            found.append(deadline(DeadlineKind.ANSWER, submitted, limits[0], today, calendar,
                                  answered))
    if accepted:
        done = _day(row["decided_at"]) if state == ApplicationState.CLOSED else None
        if done or state in (ApplicationState.ACCEPTED, ApplicationState.ASSIGNED):
            found.append(deadline(DeadlineKind.LETTER, accepted, limits[1], today, calendar,
                                  done))
    return found


async def case_deadlines(row: dict[str, Any], today: date | None = None) -> list[Deadline]:
    today = today or clock.today()
    try:
        return deadlines_of(row, await _limits(row["region_path"], today, {}), today,
                            working_calendar())
    except UnknownCalendarYear:
        return []  # the holiday table lacks a year: the case page still shows


async def running_deadlines(actor: Actor, states: tuple[ApplicationState, ...],
                            today: date | None = None,
                            application_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Each running deadline of the cases in `states` (the actor's region, or the given
    cases), the least time left first: one row per case and deadline."""
    today = today or clock.today()
    calendar = working_calendar()
    cache: dict[str, tuple[int, int]] = {}
    scope = (Application.id.is_in(application_ids or [0]) if application_ids is not None
             else in_region(actor, Application.region_path))
    rows = await Application.select(
        Application.id, Application.number, Application.state, Application.region_path,
        Application.submitted_at, Application.accepted_at, Application.decided_at,
        Application.origin, Application.materials_requested_at,
        Application.materials_received_at, Application.person.name,
        Application.person.name_initials,
        Application.person.resident_id,
    ).where(Application.state.is_in([str(s) for s in states]) & scope).order_by(Application.id)
    found_rows = []
    for row in rows:
        try:
            found = deadlines_of(row, await _limits(row["region_path"], today, cache), today,
                                 calendar)
        except UnknownCalendarYear:
            continue
        row["resident_id_masked"] = mask_resident_id(row.pop("person.resident_id"))
        found_rows.extend({**row, "deadline": item} for item in found
                          if item.state not in (DeadlineState.MET, DeadlineState.LATE))
    found_rows.sort(key=lambda r: (r["deadline"].remaining, r["id"]))
    return found_rows


async def watched_cases(actor: Actor, today: date | None = None) -> list[dict[str, Any]]:
    """Open cases whose running deadline is near or past, most overdue first."""
    rows = await running_deadlines(actor, (ApplicationState.SUBMITTED,
                                           ApplicationState.ACCEPTED,
                                           ApplicationState.ASSIGNED), today)
    return [r for r in rows if r["deadline"].state in WATCHED]


def _filtered(rows: list[dict[str, Any]], q: str, kind: str, state: str) -> list[dict]:
    needle = q.strip().lower()
    return [r for r in rows
            if (not kind or r["deadline"].kind == kind)
            and (not state or r["deadline"].state == state)
            and (not needle or needle in r["person.name"] or needle in r["number"].lower()
                 or r["person.name_initials"].startswith(needle))]


def _query(request: Request[Actor, Any, Any]) -> tuple[str, str, str]:
    params = request.query_params
    return (params.get("q", ""), params.get("kind", ""), params.get("stage", ""))


class DeadlinePages(Controller):
    path = "/deadlines"
    guards = [role_guard(Role.clerk, Role.reviewer)]  # noqa: RUF012

    @get("/")
    async def index(self, request: Request[Actor, Any, Any]) -> Template:
        q, kind, stage = _query(request)
        rows = _filtered(await watched_cases(request.user), q, kind, stage)
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        number = page_number(request.query_params.get("page_number"), pages)
        return page(request, "applications/deadlines.html",
                    rows=rows[(number - 1) * PAGE_SIZE:number * PAGE_SIZE], matched=len(rows),
                    page_number=number, pages=pages, q=q, kind=kind, stage=stage,
                    kinds=list(DeadlineKind), states=list(WATCHED))

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any]) -> Response:
        q, kind, stage = _query(request)
        rows = _filtered(await watched_cases(request.user), q, kind, stage)
        await audit.record_list_read(request.user, "deadline.exported", "deadline_list",
                                     {"q": q, "kind": kind, "stage": stage})

        async def lines():
            for r in rows:
                d = r["deadline"]
                yield [r["number"], r["person.name"], r["resident_id_masked"],
                       ApplicationState(r["state"]).label, d.kind.label, d.state.label,
                       d.starts_on.isoformat(), d.due_on.isoformat(), d.elapsed, d.remaining]

        return csv_download("deadlines.csv", ["申请编号", "姓名", "身份证号（脱敏）", "办理状态",
                                              "时限", "状态", "起算日", "截止日", "已用工作日",
                                              "剩余工作日"], lines())
