"""The baseline bench/visits.py measures the project's endpoint against: POST /api/v1/visits
that writes the same visit row and the same hash-chained audit row (through the project's
audit recording), in one transaction, and nothing else — no token, no validation, no facts,
no flag rules. Bench code, not product code.

    LTC_DATABASE_URL=postgresql://… BENCH_PROVIDER_ID=… BENCH_REGION_PATH=… \\
        .venv/bin/python -m uvicorn bench.visits_baseline:create_app --factory --port …
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime
from typing import Any

from litestar import Litestar, Request, get, post
from litestar.response import Response

from ltc import clock, db
from ltc.audit import service as audit
from ltc.audit.tables import AuditEvent  # noqa: F401  (bound by db.bind)
from ltc.identity import Actor, ActorKind, Role
from ltc.visits.tables import Visit

_INSERT = """
INSERT INTO visit (client_uuid, person, provider, staff, region_path, service_type, visit_on,
                   started_at, ended_at, items, notes, family_confirmed_by, confirmation_code,
                   revision_reason, revision_note, superseded, flags, review, review_reason,
                   response, created_at)
VALUES ({}, {}, {}, {}, {}, 'home_visit', {}, {}, {}, {}, '', {}, {}, '', '', false, '[]',
        'accepted', '', '', {})
RETURNING id
"""


def create_app() -> Litestar:
    provider = int(os.environ["BENCH_PROVIDER_ID"])
    region_path = os.environ["BENCH_REGION_PATH"]
    actor = Actor(kind=ActorKind.token, id=None, name="接口:压测基线", role=Role.provider,
                  organisation_id=provider)

    @post("/api/v1/visits")
    async def log(request: Request) -> Response[dict[str, Any]]:
        data = json.loads(await request.body())
        started = datetime.fromisoformat(data["started_at"])
        visit_on = started.astimezone(clock.CHINA).date()
        async with db.write_transaction():
            rows = await Visit.raw(
                _INSERT, uuid.UUID(data["client_uuid"]), data["person_id"], provider,
                data["staff_id"], region_path, visit_on, started,
                datetime.fromisoformat(data["ended_at"]), json.dumps(data["items"]),
                data["family_confirmed_by"], data["confirmation_code"], clock.now())
            visit_id = rows[0]["id"]
            await audit.record(actor, "visit.logged", "visit", visit_id, after={
                "person": data["person_id"], "staff": data["staff_id"],
                "visit_on": visit_on.isoformat(), "review": "accepted", "flags": [],
                "revision_of": None}, note="无异常，自动通过")
        return Response({"id": visit_id, "review": "accepted", "flags": []}, status_code=201)

    async def start(app: Litestar) -> None:
        db.bind(db.make_engine(os.environ["LTC_DATABASE_URL"]))
        await db.start_pool(int(os.environ.get("LTC_DATABASE_POOL_SIZE", "10")))

    async def stop(app: Litestar) -> None:
        await db.close_pool()

    @get("/healthz")
    async def healthz() -> str:
        return "ok"

    return Litestar([log, healthz], on_startup=[start], on_shutdown=[stop])
