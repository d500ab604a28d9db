"""Shared by test_notices.py and test_notice_closing.py: set-up and helpers."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import date

import pytest

from ltc.audit.tables import AuditEvent
from ltc.identity import PUBLIC
from ltc.notices import service
from ltc.notices.tables import NoticeBatch, NoticeEntry, Objection
from support.cases import (
    Case,
    FrozenClock,
    Staff,
    add_assessors,
    concluded_case,
    make_staff,
)

CONCLUDED_ON = date(2026, 11, 20)
PUBLISHED_ON = date(2026, 11, 22)  # a Sunday; 5 calendar days → 23–27 November
LAST_DAY = date(2026, 11, 27)
CLOSING_DAY = date(2026, 11, 28)
TOWN, OTHER_TOWN = "370983001", "370983002"


@dataclass
class World:
    clock: FrozenClock
    staff: Staff
    zhang: Case
    ouyang: Case


@pytest.fixture(name="world")
async def world_fixture(database_url, monkeypatch) -> World:
    """Two concluded cases in 新城街道 (two villages), four assessors who drew them and two
    of another organisation (T-A2) for a re-assessment, which excludes the first assessment's
    organisation; today is the 22nd."""
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=4)
    zhang = await concluded_case(staff, name="张秀英")
    ouyang = await concluded_case(staff, name="欧阳娜娜", village="370983001002",
                                  birth=date(1940, 12, 1), sex="M")
    await add_assessors(staff, 2, organisation="T-A2")
    clock.set(PUBLISHED_ON)
    return World(clock, staff, zhang, ouyang)


async def new_batch(w: World, *cases, village: str = "") -> dict:
    cases = cases or (w.zhang, w.ouyang)
    return await service.create_batch(w.staff.clerk, town_code=TOWN, village_code=village,
                                      assessment_ids=[c.assessment_id for c in cases])


async def published(w: World, *cases) -> dict:
    batch = await new_batch(w, *cases)
    return await service.publish(w.staff.clerk, batch["id"], batch["version"])


async def entry_of(case) -> dict:
    return await NoticeEntry.select().where(NoticeEntry.assessment == case.assessment_id).first()


def objection(**changes) -> dict:
    return {"objector_name": "王建国", "objector_phone": "13912345678", "relation": "邻居",
            "reason": "被评估人平时能自己下地干农活，和评估结论不符。", "channel": "online",
            "key": "client-a", **changes}


def pdf_text(path) -> str:
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True,
                          timeout=60).stdout.decode()
    return "".join(text.split())  # lines wrap anywhere in Chinese text


async def written() -> tuple[int, ...]:
    return (await NoticeBatch.count(), await NoticeEntry.count(), await Objection.count(),
            await AuditEvent.count())


async def objected_with_three_assessors(monkeypatch):
    """One case on a published notice, objected to, on the closing day; only one assessor
    besides the two who assessed it, of another organisation (T-A2: a re-assessment excludes
    the first assessment's organisation)."""
    clock = FrozenClock(monkeypatch, CONCLUDED_ON)
    staff = await make_staff(assessors=2)
    case = await concluded_case(staff, name="张秀英")
    await add_assessors(staff, 1, organisation="T-A2")
    clock.set(PUBLISHED_ON)
    batch = await service.create_batch(staff.clerk, town_code=TOWN,
                                       assessment_ids=[case.assessment_id])
    await service.publish(staff.clerk, batch["id"], batch["version"])
    entry = await entry_of(case)
    await service.record_objection(PUBLIC, entry["id"], **objection())
    clock.set(CLOSING_DAY)
    return clock, staff, case, batch, entry


