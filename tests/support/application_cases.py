"""Shared by test_applications.py and test_assessment_assignment.py: set-up and helpers."""

from datetime import date, timedelta

import pytest
from conftest import make_user

from ltc import clock
from ltc.accounts import service as accounts
from ltc.applications import service as apps
from ltc.applications.tables import Application
from ltc.assessments.tables import Assessment
from ltc.audit.tables import AuditEvent
from ltc.enrollment.importer import import_enrollment
from ltc.identity import SYSTEM
from ltc.organisations.reference import load_assessment_organisations
from ltc.people import service as people
from ltc.regions.reference import load_villages

ZHANG = "370983195001011235"  # 新城街道
LI = "370983196203150043"  # 老城街道
SHAN = "370983198002290014"  # 新城街道
REQUIRED = ["application_form", "id_card", "insurance_card", "medical_records"]
HEADER = "resident_id,insurance_number,name,scheme,region_code,status,start_date,end_date\n"


async def actor(role, username, region="370983", organisation=None):
    user = await make_user(role, username=username, region=region, organisation=organisation)
    return await accounts.actor_for_user(user["id"])


async def snapshot(application_id=None):
    """What a refused action must leave untouched."""
    row = None
    if application_id is not None:
        row = await Application.select().where(Application.id == application_id).first()
    return (row, await Application.count(), await Assessment.count(), await AuditEvent.count())


def years_ago(years: int) -> date:
    return clock.today() - timedelta(days=365 * years)


class World:
    """Villages, organisations, people with enrolment records, and the staff."""


@pytest.fixture(name="world")
async def world_fixture(database_url):
    await load_villages()
    await load_assessment_organisations()
    w = World()
    w.clerk = await actor("clerk", "city_clerk")
    w.xc_clerk = await actor("clerk", "xc_clerk", region="370983001")
    w.lc_clerk = await actor("clerk", "lc_clerk", region="370983002")
    w.people = {}
    for resident_id, name, village in ((ZHANG, "张三", "370983001001"),
                                       (LI, "李四", "370983002001"),
                                       (SHAN, "单田芳", "370983001002")):
        w.people[resident_id] = (await people.register_person(
            w.clerk, resident_id=resident_id, name=name, phone="13812345678",
            address="1组1号", village_code=village))["id"]
    csv = HEADER + "".join(f"{rid},N{rid[-4:]},{name},resident,370983,enrolled,2010-01-01,\n"
                           for rid, name in ((ZHANG, "张三"), (LI, "李四"), (SHAN, "单田芳")))
    await import_enrollment(SYSTEM, csv.encode(), filename="enrolment.csv")
    w.assessors = []
    for i, organisation in enumerate(["AO-370983-01", "AO-370983-01", "AO-370983-02"]):
        w.assessors.append(await actor("assessor", f"assessor{i}", organisation=organisation))
    return w


async def listed(who, **kwargs):
    rows, _ = await apps.list_applications(who, **kwargs)
    return rows


async def new_application(who, person_id, **changes):
    form = {"person_id": person_id, "applicant_name": "张小三", "applicant_relation": "子女",
            "applicant_phone": "13900000000", "disabled_since": years_ago(1),
            "materials": REQUIRED}
    return await apps.create_application(who, **{**form, **changes})


async def submitted(w, resident_id=ZHANG, **changes):
    draft = await new_application(w.clerk, w.people[resident_id], **changes)
    return await apps.submit_application(w.clerk, draft["id"], draft["version"])

