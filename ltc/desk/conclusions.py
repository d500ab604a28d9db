"""Conclusions expiring or expired (SPEC §12), on the desk of clerks and reviewers: each
living person's latest conclusion of a grade with benefits that has expired or ends within N
days, with search, filters, paging and CSV, and whether a new case is already in progress.
It reads assessments and applications, so it lives on the desk."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Response, Template

from ltc import db
from ltc.applications.interface import OpenCase, open_cases_of
from ltc.assessments.rules import EXPIRING_WITHIN_DAYS, Validity
from ltc.assessments.validity import ConclusionValidity, conclusions_to_renew
from ltc.audit import service as audit
from ltc.grades import GRADE_LABELS
from ltc.identity import Actor, Role
from ltc.people.rules import mask_resident_id
from ltc.web.access_log import masked_search
from ltc.web.exports import csv_download
from ltc.web.guards import role_guard
from ltc.web.pages import page
from ltc.web.params import page_number, whole_number

PAGE_SIZE = 50
MAX_WITHIN_DAYS = 366
LISTED = (Validity.EXPIRING, Validity.EXPIRED)


def _query(request: Request[Actor, Any, Any]) -> tuple[str, str, str, int]:
    params = request.query_params
    raw = params.get("within", "")
    days = whole_number(raw)
    within = min(days, MAX_WITHIN_DAYS) if days is not None else EXPIRING_WITHIN_DAYS
    return params.get("q", ""), params.get("stage", ""), params.get("grade", ""), within


def _filtered(rows: list[ConclusionValidity], q: str, stage: str, grade: str
              ) -> list[ConclusionValidity]:
    needle = q.strip().lower()
    return [r for r in rows
            if (not stage or r.state == stage)
            and (not grade or str(r.grade) == grade)
            and (not needle or needle in r.person_name or r.name_initials.startswith(needle)
                 or needle == r.resident_id.lower())]


async def _listed(request: Request[Actor, Any, Any]
                  ) -> tuple[list[ConclusionValidity], dict[int, OpenCase], tuple]:
    q, stage, grade, within = _query(request)
    rows = _filtered(await conclusions_to_renew(request.user, within_days=within), q, stage,
                     grade)
    return rows, await open_cases_of([r.person_id for r in rows]), (q, stage, grade, within)


class ConclusionPages(Controller):
    path = "/conclusions"
    guards = [role_guard(Role.clerk, Role.reviewer)]  # noqa: RUF012

    @get("/")
    async def index(self, request: Request[Actor, Any, Any]) -> Template:
        rows, open_cases, (q, stage, grade, within) = await _listed(request)
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        number = page_number(request.query_params.get("page_number"), pages)
        return page(request, "assessments/conclusions.html",
                    rows=rows[(number - 1) * PAGE_SIZE:number * PAGE_SIZE], matched=len(rows),
                    open_cases=open_cases, page_number=number, pages=pages, q=q, stage=stage,
                    grade=grade, within=within, states=list(LISTED),
                    grades=sorted(g for g in GRADE_LABELS if g >= 1),
                    mask=mask_resident_id)

    @get("/export.csv")
    async def export(self, request: Request[Actor, Any, Any]) -> Response:
        """Audited like every export of personal data (SPEC §12); ID numbers masked."""
        rows, open_cases, (q, stage, grade, within) = await _listed(request)
        async with db.write_transaction():
            await audit.record(request.user, "conclusion.exported", "conclusion_list",
                               request.user.region_path or "all",
                               after={"q": masked_search(q), "stage": stage, "grade": grade,
                                      "within": within})

        async def lines():
            for r in rows:
                case = open_cases.get(r.person_id)
                yield [r.person_name, mask_resident_id(r.resident_id), GRADE_LABELS[r.grade],
                       r.concluded_on.isoformat(), r.months, r.valid_until.isoformat(),
                       r.state.label, case.number if case else ""]

        return csv_download("conclusions.csv", ["姓名", "身份证号（脱敏）", "失能等级",
                                                "结论日期", "有效期（月）", "有效期至", "状态",
                                                "办理中的申请"], lines())
