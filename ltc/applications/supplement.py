"""Asking for missing materials instead of refusing (补正, 一次性告知): SUBMITTED → SUPPLEMENT
with the 补正材料通知书 rendered after commit, and SUPPLEMENT → SUBMITTED when the materials
come, back to the acceptance decision.

The answer deadline (22号): asking for the materials answers the application, so the first
answer deadline is met on the day of the request; the clock starts again, with the full
number of working days, the day the materials are recorded as received (as for a licence
under 行政许可法 art. 32, where the time runs from the day the materials are complete). See
ltc.applications.deadlines."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from ltc import clock, db
from ltc.applications.reference import materials_checklist
from ltc.applications.rules import (
    SUPPLEMENT_WORKING_DAYS,
    ApplicationState,
    missing_materials,
    received_materials_problem,
    requested_materials_problem,
    supplement_due_problem,
)
from ltc.applications.service import (
    DECIDE_ROLES,
    NOTE_MAX_LENGTH,
    check_transition,
    load_visible,
    parse_date,
    write_transition,
)
from ltc.applications.tables import Application
from ltc.clock import UnknownCalendarYear, working_calendar, working_days_after
from ltc.errors import Conflict, InvalidInput
from ltc.identity import Actor, require_role
from ltc.jobs import outbox

MATERIALS_NOTICE_JOB = "applications.render_materials_notice"


def default_due_on(today: date) -> date | None:
    """SUPPLEMENT_WORKING_DAYS working days after today; None when the holiday table does not
    know the year (the clerk then writes the day)."""
    try:
        return working_days_after(today, SUPPLEMENT_WORKING_DAYS, working_calendar())
    except UnknownCalendarYear:
        return None


def suggested_materials(provided: list[str], has_agent: bool) -> list[str]:
    """What the form proposes to ask for: every required material not on file."""
    return [m.code for m in missing_materials(materials_checklist(), provided, has_agent)]


def _in_checklist_order(codes: Iterable[str]) -> list[str]:
    have = {c.strip() for c in codes if c and c.strip()}
    known = [m.code for m in materials_checklist()]
    return [c for c in known if c in have] + sorted(have - set(known))


async def request_materials(
    actor: Actor, application_id: int, expected_version: int, materials: Iterable[str],
    due_on: date | str | None = None, note: str = "", today: date | None = None,
) -> dict[str, Any]:
    """SUBMITTED → SUPPLEMENT: tell the applicant at once every material still needed and
    the day to bring them by (default: SUPPLEMENT_WORKING_DAYS working days). Once per
    application: materials still missing afterwards are a refusal ground."""
    require_role(actor, DECIDE_ROLES, "要求补正材料")
    today = today or clock.today()
    fields: dict[str, str] = {}
    codes = _in_checklist_order(materials or [])
    if problem := requested_materials_problem(materials_checklist(), codes):
        fields["materials"] = problem
    if due_on is None or (isinstance(due_on, str) and not due_on.strip()):
        due = default_due_on(today)
        if due is None:
            fields["due_on"] = "请填写补正期限"
    else:
        due = parse_date(due_on, "补正期限", "due_on", fields)
    if due is not None and (problem := supplement_due_problem(due, today)):
        fields["due_on"] = problem
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        fields["note"] = f"说明不能超过{NOTE_MAX_LENGTH}个字"
    if fields:
        raise InvalidInput("invalid_materials_request", "补正通知信息有误，请按提示修改", fields)
    assert due is not None
    async with db.write_transaction():
        row = await load_visible(actor, application_id)
        check_transition(row, ApplicationState.SUPPLEMENT, "要求补正材料", expected_version)
        if row["materials_requested_at"] is not None:
            raise Conflict("materials_already_requested",
                           f"申请 {row['number']} 已一次性告知过补正材料，不能再次要求补正；"
                           "材料仍不齐全的，请作不予受理处理")
        changed = await write_transition(
            actor, row, expected_version, ApplicationState.SUPPLEMENT,
            "application.materials_requested",
            {Application.materials_requested: json.dumps(codes),
             Application.materials_note: note, Application.materials_due_on: due,
             Application.materials_requested_at: clock.now()},
            after={"materials_requested": codes, "due_on": due.isoformat()},
            note=note or None)
        await outbox.enqueue(MATERIALS_NOTICE_JOB, application_id)
    return changed


async def receive_materials(
    actor: Actor, application_id: int, expected_version: int, received: Iterable[str],
) -> dict[str, Any]:
    """SUPPLEMENT → SUBMITTED: the applicant brought (some of) the materials asked for; they
    join the application's materials and the acceptance decision follows, with a fresh
    answer deadline from today."""
    require_role(actor, DECIDE_ROLES, "登记补正材料")
    codes = _in_checklist_order(received or [])
    async with db.write_transaction():
        row = await load_visible(actor, application_id)
        check_transition(row, ApplicationState.SUBMITTED, "登记补正材料", expected_version,
                         source=ApplicationState.SUPPLEMENT)
        requested = json.loads(row["materials_requested"])
        if problem := received_materials_problem(requested, codes):
            raise InvalidInput("invalid_materials_received", "补交材料登记有误，请按提示修改",
                               {"received": problem})
        materials = _in_checklist_order([*json.loads(row["materials"]), *codes])
        return await write_transition(
            actor, row, expected_version, ApplicationState.SUBMITTED,
            "application.materials_received",
            {Application.materials: json.dumps(materials),
             Application.materials_received_at: clock.now()},
            after={"received": codes,
                   "still_missing": [c for c in requested if c not in codes]})
