"""Reference and demo data from fixtures/: loaded by `ltc migrate` and `ltc demo`.

Reference loading is idempotent (upsert by code), so it runs on every deploy.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from ltc import clock, db
from ltc.accounts import service as accounts
from ltc.errors import Forbidden
from ltc.identity import SYSTEM
from ltc.organisations.tables import Organisation
from ltc.regions.tables import Region
from ltc.staff import service as staff

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


async def load_regions() -> int:
    """Insert or update the region tree; parents come before children in the fixture."""
    regions = _fixture("regions.json")["regions"]
    async with db.write_transaction():
        for region in regions:
            parent = None
            path = region["code"]
            if region["parent"]:
                parent = await Region.select().where(Region.code == region["parent"]).first()
                path = f"{parent['path']}/{region['code']}"
            values = {"name": region["name"], "level": region["level"],
                      "parent": parent["id"] if parent else None, "path": path}
            existing = await Region.select(Region.id).where(Region.code == region["code"]).first()
            if existing:
                await Region.update(values).where(Region.id == existing["id"])
            else:
                await Region(code=region["code"], **values).save()
    return len(regions)


async def load_reference_data() -> None:
    from ltc.assessments.reference import load_rulesets
    from ltc.careplans.reference import load_care_items
    from ltc.organisations.reference import load_assessment_organisations
    from ltc.policy.service import load_policies
    from ltc.regions.reference import load_villages

    await load_regions()
    await load_villages()
    await load_assessment_organisations()
    await load_rulesets()
    await load_care_items()  # before the policies: their care packages name these items
    await load_policies()


async def load_demo_data(password_iterations: int) -> list[dict[str, str]]:
    """Demo organisations and one user per role, all with one fresh random password."""
    demo = _fixture("demo.json")
    async with db.write_transaction():
        bureau = demo["bureau"]
        await Region.update({Region.bureau_address: bureau["address"],
                             Region.bureau_phone: bureau["phone"]}).where(
            Region.code == bureau["region"])
        for organisation in demo["organisations"]:
            region = await Region.select(Region.id).where(
                Region.code == organisation["region"]).first()
            await Organisation(code=organisation["code"], name=organisation["name"],
                               kind=organisation["kind"], region=region["id"]).save()
    password = "demo-" + secrets.token_hex(3)
    logins = []
    user_ids = {}
    for user in demo["users"]:
        created = await accounts.create_user(
            SYSTEM, username=user["username"], display_name=user["display_name"],
            role=user["role"], region_code=user["region"],
            organisation_code=user.get("organisation"), password=password,
            password_iterations=password_iterations,
        )
        if qualified := user.get("qualification"):  # their staff record (实名制)
            await staff.create_staff(SYSTEM, {
                "resident_id": qualified["resident_id"], "name": user["display_name"],
                "kind": qualified["kind"], "certificate_no": qualified["certificate_no"],
                "certificate_until": (clock.today() + timedelta(
                    days=qualified["valid_days"])).isoformat(),
                "staff_code": qualified["staff_code"], "organisation": user["organisation"],
                "username": user["username"]})
        user_ids[user["username"]] = created["id"]
        logins.append({"role": user["role"], "username": user["username"], "password": password})
    await _sign_demo_assessment_agreements(demo["assessment_agreements"], user_ids)
    # The corrected national-2021 (version 2) in force from today, set as an admin would
    # (audited), so the demo grades by the standard's bands and version 1 shows as superseded.
    from ltc.assessments.rulesets import activate

    await _demo_history(user_ids)
    await _demo_awaiting_confirmation(user_ids)
    await _demo_spotchecks(user_ids)
    admin = await accounts.actor_for_user(user_ids["admin"])
    await activate(admin, "national-2021", 2, clock.today(), "演示：按标准原表更正分段")
    # Enrolment as the bureau's export would bring it, through the real (audited) importer, so
    # the demo clerk can accept applications for these people (one's enrolment has ended).
    from ltc.enrollment.importer import import_enrollment

    csv = FIXTURES / "demo_enrollment.csv"
    await import_enrollment(SYSTEM, csv.read_bytes(), filename=csv.name)
    return logins


async def _sign_demo_assessment_agreements(spec: dict[str, Any], user_ids: dict[str, int]) -> None:
    """The demo assessors' organisations get their assessment agreements through the real
    (audited) service, signed by the demo clerk: without one nobody of theirs is drawn."""
    from ltc.agreements import service as agreements
    from ltc.clock import add_months

    clerk = await accounts.actor_for_user(user_ids[spec["signed_by"]])
    starts_on = clock.today().replace(day=1)
    ends_on = add_months(starts_on, spec["months"]) - timedelta(days=1)
    for code in spec["organisations"]:
        organisation = await Organisation.select(Organisation.id).where(
            Organisation.code == code).first()
        draft = await agreements.create_agreement(
            clerk, "assessment", organisation=organisation["id"], starts_on=starts_on,
            ends_on=ends_on)
        await agreements.activate(clerk, draft["id"], draft["version"])


async def _demo_spotchecks(user_ids: dict[str, int]) -> None:
    """The month of the demo history drawn for spot checks (评估抽查) through the real
    services: 郑专家 (`checker`) finds 李桂兰's conclusion 符合; 赵福林's, which `checker`
    assessed, waits for 吴专家 (`expert`), a valid expert who took no part in it."""
    from ltc.spotchecks import service as spotchecks
    from ltc.spotchecks.tables import SpotCheck

    month = clock.month_first((clock.now() - timedelta(days=DEMO_HISTORY_DAYS))
                              .astimezone(clock.CHINA).date())
    await spotchecks.draw_month(SYSTEM, "370983", month)
    checker = await accounts.actor_for_user(user_ids["checker"])
    for check in await SpotCheck.select().order_by(SpotCheck.id):
        try:
            await spotchecks.record_finding(checker, check["id"], check["version"],
                                            finding="conform", notes="评分与上门评估记录一致")
        except Forbidden:  # 赵福林's: the checker assessed it
            continue


# Concluded in an ended month, so the month can be spot-checked.
DEMO_HISTORY_DAYS = 40
# Demo people decided earlier under national-2021 version 1, concluded this many days ago.
# The corrected version 2 would change two grades (改判影响): 李桂兰 would lose her eligibility
# (cognition 3 is severe by version 1, moderate by version 2), 赵福林 would go from 重度失能Ⅲ级
# to Ⅱ级. 孙秀兰's grade stays (重度失能Ⅰ级), but her conclusion of 700 days ago is valid for
# 24 months: she is on the clerks' list of conclusions about to expire (结论到期) and may ask
# for a new assessment (申请重新评估) on her person page.
DEMO_HISTORY = [
    ("370983195001170025", "李桂兰", "370983002001", DEMO_HISTORY_DAYS, {
        "eating": 10, "dressing": 5, "face_mouth_hygiene": 5, "bowel_control": 10,
        "bladder_control": 10, "toileting": 5, "walking": 5, "bed_chair_transfer": 0,
        "stairs": 0, "bathing": 0, "time_orientation": 1, "person_orientation": 1,
        "place_orientation": 1, "memory": 0, "vision": 4, "hearing": 4, "communication": 4}),
    ("370983194103020031", "赵福林", "370983001002", DEMO_HISTORY_DAYS, {
        "eating": 5, "dressing": 0, "face_mouth_hygiene": 0, "bowel_control": 5,
        "bladder_control": 5, "toileting": 0, "walking": 0, "bed_chair_transfer": 5,
        "stairs": 0, "bathing": 0, "time_orientation": 2, "person_orientation": 3,
        "place_orientation": 2, "memory": 1, "vision": 3, "hearing": 3, "communication": 2}),
    ("370983194408150048", "孙秀兰", "370983001001", 700, {
        "eating": 5, "dressing": 0, "face_mouth_hygiene": 0, "bowel_control": 5,
        "bladder_control": 5, "toileting": 0, "walking": 0, "bed_chair_transfer": 5,
        "stairs": 0, "bathing": 0, "time_orientation": 4, "person_orientation": 4,
        "place_orientation": 4, "memory": 4, "vision": 4, "hearing": 4, "communication": 4}),
]


async def _demo_history(user_ids: dict[str, int]) -> None:
    """Registered through the real service; the case itself (assessed, concluded by version
    1, decided with no objection) is written as history, then decided by the real service."""
    from ltc.applications.tables import Application
    from ltc.assessments import grading
    from ltc.assessments.rulesets import of_row
    from ltc.assessments.tables import Assessment, Ruleset
    from ltc.entitlements import service as entitlements
    from ltc.people import service as people

    clerk = await accounts.actor_for_user(user_ids["clerk"])
    first = await Ruleset.select().where(
        (Ruleset.code == "national-2021") & (Ruleset.version == 1)).first()
    # 赵福林 assessed by assessor and checker (of a third organisation): the spot check of
    # their month covers all three organisations.
    seconds = ("assessor2", "checker", "assessor2")
    for number, (resident_id, name, village, days_ago, scores) in enumerate(DEMO_HISTORY,
                                                                             start=1):
        concluded_at = clock.now() - timedelta(days=days_ago)
        person = await people.register_person(
            clerk, resident_id=resident_id, name=name, phone="13800000000",
            address=f"{name}家", village_code=village)
        result = grading.grade(scores, of_row(first))
        async with db.write_transaction():
            application = Application(
                number=f"SQ{concluded_at:%Y%m%d}90{number:02d}", person=person["id"],
                region_path=person["region_path"], state="ASSIGNED", applicant_name=name,
                applicant_relation="本人", applicant_phone="13800000000",
                disabled_since=(concluded_at - timedelta(days=300)).date(),
                created_by=user_ids["clerk"], created_at=concluded_at - timedelta(days=20))
            await application.save()
            await Assessment(
                application=application.id, region_path=person["region_path"],
                kind="initial", state="CONCLUDED", assessor_1=user_ids["assessor"],
                assessor_2=user_ids[seconds[number - 1]], draw="{}", scores=json.dumps(scores),
                guardian_name=f"{name[0]}建国", guardian_relationship="子女",
                guardian_phone="13900000000",
                ruleset=first["id"], grade=result.grade, reviewed_by=user_ids["reviewer"],
                result=json.dumps(result.as_dict(), ensure_ascii=False),
                concluded_at=concluded_at, submitted_at=concluded_at).save()
        assessment = await Assessment.select(Assessment.id).where(
            Assessment.application == application.id).first()
        await entitlements.decide(SYSTEM, assessment["id"], "no_objection", clock.today())


async def _demo_awaiting_confirmation(user_ids: dict[str, int]) -> None:
    """孙秀珍's assessment, submitted yesterday by 李评估 (评估专家) and 周评估 (评估员), written
    as history: one expert on site, so the reviewer waits for 吴专家's 专家确认. (No video
    bytes are stored in the demo.)"""
    from ltc.applications.tables import Application
    from ltc.assessments.tables import Assessment
    from ltc.people import service as people

    clerk = await accounts.actor_for_user(user_ids["clerk"])
    person = await people.register_person(
        clerk, resident_id="37098319460812002X", name="孙秀珍", phone="13800000000",
        address="孙秀珍家", village_code="370983001001")
    visited = clock.now() - timedelta(days=1)
    async with db.write_transaction():
        application = Application(
            number=f"SQ{visited:%Y%m%d}9003", person=person["id"],
            region_path=person["region_path"], state="ASSIGNED", applicant_name="孙秀珍",
            applicant_relation="本人", applicant_phone="13800000000",
            disabled_since=(visited - timedelta(days=300)).date(),
            created_by=user_ids["clerk"], created_at=visited - timedelta(days=10))
        await application.save()
        await Assessment(
            application=application.id, region_path=person["region_path"], kind="initial",
            state="SUBMITTED", assessor_1=user_ids["assessor"],
            assessor_2=user_ids["assessor2"], draw="{}",
            scores=json.dumps(DEMO_HISTORY[1][4]), onsite_started_at=visited,
            onsite_ended_at=visited + timedelta(hours=1), signed_1_at=visited,
            signed_2_at=visited, submitted_at=visited).save()
