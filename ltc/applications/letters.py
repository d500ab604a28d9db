"""The letters answering an application, rendered by jobs after the transition commits
(ltc.applications.jobs): the 补正材料通知书 (what is missing, by when) and the 不予受理告知书
(the grounds and the appeal rights). Each context is built from the stored row only, so
rendering again gives the same bytes."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from ltc import clock
from ltc.applications.reference import materials_checklist
from ltc.applications.rules import Ground
from ltc.applications.tables import Application
from ltc.errors import NotFound
from ltc.people.rules import mask_resident_id
from ltc.policy.service import policy_in_force
from ltc.regions import interface as regions


def _day(moment: datetime | None) -> date | None:
    return moment.astimezone(clock.CHINA).date() if moment else None


async def _common(application_id: int, on_column: Any) -> tuple[dict[str, Any], Any]:
    """The application with its person, and the letter's date (from `on_column`)."""
    row = await Application.select(
        Application.all_columns(), Application.person.name,
        Application.person.resident_id).where(Application.id == application_id).first()
    if row is None:
        raise NotFound("application_not_found", f"申请 {application_id} 不存在")
    issued_on = _day(row[on_column._meta.name])
    policy = (await policy_in_force(row["region_path"], issued_on or clock.today())).policy
    pooling = await regions.pooling_region_of(row["region_path"])
    context = {
        "application": {"number": row["number"],
                        "submitted_on": _day(row["submitted_at"] or row["created_at"])},
        "person": {"name": row["person.name"],
                   "resident_id_masked": mask_resident_id(row["person.resident_id"])},
        "applicant": {"name": row["applicant_name"], "relation": row["applicant_relation"]},
        # The name from the policy; the address and phone from the pooling region, printed
        # only when filled in.
        "bureau": {"name": policy.bureau_name,
                   "address": pooling.bureau_address if pooling else "",
                   "phone": pooling.bureau_phone if pooling else ""},
        # 行政复议 goes to the people's government at the bureau's level (行政复议法 art. 24).
        "government": f"{pooling.name}人民政府" if pooling else "本级人民政府",
        "answer_working_days": policy.answer_working_days,
        "issued_on": issued_on,
    }
    return row, context


async def materials_notice_context(application_id: int) -> dict[str, Any]:
    row, context = await _common(application_id, Application.materials_requested_at)
    if row["materials_requested_at"] is None:
        raise NotFound("materials_not_requested", f"申请 {row['number']} 未要求补正材料")
    names = {m.code: m.name for m in materials_checklist()}
    return {**context,
            "materials": [names.get(code, code)
                          for code in json.loads(row["materials_requested"])],
            "due_on": row["materials_due_on"], "note": row["materials_note"]}


async def refusal_letter_context(application_id: int) -> dict[str, Any]:
    row, context = await _common(application_id, Application.decided_at)
    if row["state"] != "REJECTED":
        raise NotFound("application_not_rejected", f"申请 {row['number']} 未作不予受理决定")
    grounds = [{"label": Ground(g["code"]).label, "detail": g["detail"]}
               for g in json.loads(row["refusal_grounds"])]
    return {**context, "grounds": grounds, "note": row["decision_note"]}
