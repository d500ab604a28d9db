"""The field pages (issue 19): an installable web app for provider staff and assessors who
work where the signal comes and goes. /field is a shell page that keeps the signed-in
user's worklist (GET /api/v1/field/worklist) in the browser's IndexedDB, renders the visit
form and the 17-item assessment form from it, and queues what is entered offline; the
queue is sent through the existing idempotent APIs (POST /api/v1/visits with the
client's UUID and `recorded_at`, PUT /api/v1/assessments/{id}/draft) when the network
returns (ltc/static/field.js). /field-sw.js is the service worker that serves the shell
offline (ltc/static/field-sw.js, its cache named after the shell's content)."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Controller, Request, get
from litestar.response import Response, Template

from ltc import clock, db
from ltc.assessments import bundled
from ltc.assessments import service as assessments
from ltc.audit import service as audit
from ltc.identity import Actor, Role
from ltc.people import interface as people
from ltc.visits import queries as visits
from ltc.web.guards import role_guard
from ltc.web.pages import page

FIELD_ROLES = role_guard(Role.provider, Role.assessor)
STATIC = Path(__file__).resolve().parent.parent / "static"
# What the service worker keeps for the shell to open offline (besides /field itself).
SHELL_FILES = ("ltc.css", "ltc.js", "htmx-2.0.11.min.js", "field.js", "field.webmanifest",
               "field-icon.svg")


@cache
def service_worker() -> str:
    """The worker's script with its cache version: a hash of the shell's static files, so
    a deploy that changes any of them replaces the cache."""
    digest = hashlib.sha256()
    for name in SHELL_FILES:
        digest.update((STATIC / name).read_bytes())
    script = (STATIC / "field-sw.js").read_text(encoding="utf-8")
    digest.update(script.encode())
    shell = ["/field", *(f"/static/{name}" for name in SHELL_FILES)]
    return (script.replace("__VERSION__", digest.hexdigest()[:12])
            .replace("__SHELL__", json.dumps(shell)))


class FieldPages(Controller):
    @get("/field", guards=[FIELD_ROLES])
    async def shell(self, request: Request[Actor, Any, Any]) -> Template:
        """The shell: no personal data in it (the worklist comes from the API), so the
        copy the service worker keeps holds none."""
        return page(request, "field/index.html")

    @get("/field-sw.js", exclude_from_auth=True)
    async def worker(self) -> Response[str]:
        # Served from the root so its scope can be /field; never cached by HTTP, so a new
        # version is found at once.
        return Response(service_worker(), media_type="text/javascript",
                        headers={"Cache-Control": "no-cache"})


async def _visits_of(actor: Actor) -> list[dict[str, Any]]:
    today = clock.today()
    due = await visits.due_visits(actor, today)
    addresses = await people.addresses_of([d["person_id"] for d in due])
    rows = []
    for d in due:
        form = await visits.visit_form(actor, d["person_id"], today)
        rows.append({
            "person_id": d["person_id"], "name": d["name"], "village": d["village"],
            "address": addresses.get(d["person_id"], ""), "grade_label": d["grade_label"],
            "due": d["due"], "done": d["done"], "remaining": d["remaining"],
            "due_today": d["due_today"], "overdue": d["overdue"],
            "active_today": d["active_today"], "items": form["items"],
        })
    return rows


async def _assessments_of(actor: Actor) -> list[dict[str, Any]]:
    rows = []
    for mine in await assessments.my_assignments(actor):
        row = await assessments.get_assessment(actor, mine["id"])
        rows.append({
            "id": row["id"], "version": row["version"], "state": row["state"],
            "application_number": row["application.number"],
            "name": row["application.person.name"], "address": row["application.person.address"],
            "scores": row["scores"],
            # Sent back with the scores: a draft saved from the field keeps what the full
            # form recorded (the draft API replaces every field).
            "draft": {
                "onsite_started_at": _iso(row["onsite_started_at"]),
                "onsite_ended_at": _iso(row["onsite_ended_at"]),
                "latitude": row["latitude"], "longitude": row["longitude"],
                "guardian_name": row["guardian_name"],
                "guardian_relationship": row["guardian_relationship"],
                "guardian_phone": row["guardian_phone"]},
        })
    return rows


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


@cache
def _instrument() -> list[dict[str, Any]]:
    return [{"code": item.code, "name": item.name_zh, "note": item.note,
             "options": [{"score": o.score, "wording": o.wording} for o in item.options]}
            for item in bundled.load_instrument().items]


class FieldApi(Controller):
    path = "/api/v1/field"
    tags = ["field"]  # noqa: RUF012
    guards = [FIELD_ROLES]  # noqa: RUF012

    @get("/worklist", summary="The signed-in user's worklist for the field pages")
    async def worklist(self, request: Request[Actor, Any, Any]) -> dict[str, Any]:
        """What the field pages keep on the device for working offline; audited (it holds
        names and addresses).

        A provider's staff: `beneficiaries`, each beneficiary with a home-care plan of the
        organisation in force today (`person_id`, `name`, `village`, `address`,
        `grade_label`, the month's `due`/`done`/`remaining`, `active_today`, and the plan's
        `items`: `code`, `name`, `required`, `nurse_only`). An assessor: `assessments`,
        their open assigned assessments (`id`, `version`, `state`, `application_number`,
        `name`, `address`, `scores`, `draft`: the other draft fields to send back), and
        `instrument`, the 17 items with their score options. Both: `user_id`, `role`,
        `today`. 403 `wrong_role` for other roles."""
        actor = request.user
        rows: dict[str, Any] = {"user_id": actor.id, "role": str(actor.role),
                                "today": clock.today().isoformat(),
                                "beneficiaries": [], "assessments": [], "instrument": []}
        if actor.role == Role.provider:
            rows["beneficiaries"] = await _visits_of(actor)
            people_read = [b["person_id"] for b in rows["beneficiaries"]]
        else:
            rows["assessments"] = await _assessments_of(actor)
            rows["instrument"] = _instrument()
            people_read = [a["application_number"] for a in rows["assessments"]]
        async with db.write_transaction():
            await audit.record(actor, "field.worklist_read", "user", actor.id,
                               after={"role": str(actor.role), "read": people_read})
        return rows
