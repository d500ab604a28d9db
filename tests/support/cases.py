"""Cases driven through the real services up to a CONCLUDED assessment, for the notice,
decision and entitlement tests (and the pages built on them), plus a settable clock.

    from support.cases import FrozenClock, concluded_case, make_staff

    staff = await make_staff(assessors=4)          # clerk, reviewer, assessor1..4
    case = await concluded_case(staff, name="张秀英")  # grade 5 (SEVERE_SCORES)

Every step is the service a user's click calls (register, apply, submit, accept, draw two
assessors, record the scores, both sign, submit, conclude); only the assessment video is an
EvidenceFile row inserted directly, as the assessment tests do, instead of an upload. The
person's enrolment is an EnrollmentRecord row, as a CSV import would leave it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from typing import Any

import pytest
from conftest import BUREAU_ADDRESS, BUREAU_PHONE, SEVERE_SCORES, make_user
from stdnum.cn import ric

from ltc import clock
from ltc.accounts import service as accounts
from ltc.accounts.tables import User
from ltc.applications import service as applications
from ltc.assessments import assignment
from ltc.assessments import service as assessments
from ltc.assessments.tables import Assessment
from ltc.enrollment.tables import EnrollmentRecord
from ltc.entitlements import service as entitlements
from ltc.entitlements.tables import Entitlement
from ltc.evidence.tables import EvidenceFile
from ltc.identity import SYSTEM, Actor
from ltc.people import service as people
from ltc.regions.tables import Region

# Every item at its best option: 基本正常 (grade 0), not eligible under the Feicheng policy.
INDEPENDENT_SCORES = {
    "eating": 10, "dressing": 10, "face_mouth_hygiene": 5, "bowel_control": 10,
    "bladder_control": 10, "toileting": 10, "walking": 15, "bed_chair_transfer": 15,
    "stairs": 10, "bathing": 5, "time_orientation": 4, "person_orientation": 4,
    "place_orientation": 4, "memory": 4, "vision": 4, "hearing": 4, "communication": 4,
}
# Eating, dressing, walking, stairs and bathing dependent, the rest independent: 中度失能 (2).
MODERATE_SCORES = {**INDEPENDENT_SCORES, "eating": 0, "dressing": 0, "walking": 0, "stairs": 0,
                   "bathing": 0}
MATERIALS = ["application_form", "id_card", "insurance_card", "medical_records"]
TOWN = "370983001"  # 新城街道
VILLAGE = "370983001001"  # 龙山社区, in 新城街道
OTHER_TOWN_VILLAGE = "370983002001"  # 老城社区, in 老城街道


async def clear_bureau_contact() -> None:
    """The test pooling region without the bureau's address and phone (as shipped)."""
    await Region.update({Region.bureau_address: "", Region.bureau_phone: ""}).where(
        Region.code == "370983")


def assert_bureau_contact(text: str, *, printed: bool) -> None:
    """A document's text (whitespace removed) prints the region's bureau contact, or — with
    none set — no contact line at all: no empty "电话：" or "地址：" label, nothing invented."""
    if printed:
        assert BUREAU_PHONE in text and BUREAU_ADDRESS in text, text
    else:
        for absent in ("电话：", "地址：", BUREAU_PHONE, BUREAU_ADDRESS):
            assert absent not in text, absent


class FrozenClock:
    """`ltc.clock.today` and `ltc.clock.now` fixed at a settable moment (10:00 Beijing time
    of the day given), so services that read the clock agree with the test's dates."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, day: date) -> None:
        self.moment = datetime.min.replace(tzinfo=UTC)
        self.set(day)
        monkeypatch.setattr(clock, "now", lambda: self.moment)
        monkeypatch.setattr(clock, "today",
                            lambda tz=clock.CHINA: self.moment.astimezone(tz).date())

    def set(self, day: date) -> None:
        self.moment = datetime.combine(day, time(10), clock.CHINA).astimezone(UTC)

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)

    @property
    def today(self) -> date:
        return self.moment.astimezone(clock.CHINA).date()


@dataclass
class Staff:
    clerk: Actor
    reviewer: Actor
    assessors: list[Actor] = field(default_factory=list)


@dataclass(frozen=True)
class Case:
    person_id: int
    resident_id: str
    name: str
    application_id: int
    assessment_id: int
    grade: int
    assessors: tuple[int, int]  # the user ids of the two who assessed


async def user_actor(user_id: int) -> Actor:
    return await accounts.actor_for_user(user_id)


async def add_assessors(staff: Staff, how_many: int, **options: Any) -> list[Actor]:
    """More assessors (valid experts) in the test assessment organisation covering the whole
    city, or as `options` of make_user say (organisation, qualification …)."""
    added = []
    for _ in range(how_many):
        n = await User.count().where(User.role == "assessor") + 1
        user = await make_user("assessor", username=f"assessor{n}", **options)
        added.append(await user_actor(user["id"]))
    staff.assessors.extend(added)
    return added


async def make_staff(assessors: int = 4, *, clerk: str = "clerk",
                     reviewer: str = "reviewer") -> Staff:
    """A city-wide clerk and reviewer, and `assessors` assessors."""
    staff = Staff(clerk=await user_actor((await make_user("clerk", username=clerk))["id"]),
                  reviewer=await user_actor((await make_user("reviewer",
                                                             username=reviewer))["id"]))
    await add_assessors(staff, assessors)
    return staff


_serial = count(101)


def resident_id(birth: date, sex: str = "F", serial: int | None = None) -> str:
    """A valid 18-character Feicheng resident ID (checksum included) for a birth date."""
    serial = next(_serial) % 500 if serial is None else serial
    sequence = serial * 2 + (1 if sex == "M" else 0)  # odd: male, even: female
    body = f"370983{birth:%Y%m%d}{sequence % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


async def enrol(resident_id_: str, name: str, start: date = date(2010, 1, 1)) -> None:
    await EnrollmentRecord(resident_id=resident_id_, insurance_number="N" + resident_id_[-6:],
                           name=name, scheme="resident", region_code="370983",
                           status="enrolled", start_date=start, source="test").save()


async def register(staff: Staff, *, name: str, village: str = VILLAGE,
                   birth: date = date(1949, 3, 15), sex: str = "F",
                   enrolled: bool = True) -> dict[str, Any]:
    """A registered person, enrolled in basic medical insurance unless `enrolled` is False."""
    rid = resident_id(birth, sex)
    person = await people.register_person(staff.clerk, resident_id=rid, name=name,
                                          phone="13800000000", address="1组1号",
                                          village_code=village)
    if enrolled:
        await enrol(rid, name)
    return person


async def assigned_case(staff: Staff, person: dict[str, Any]) -> dict[str, Any]:
    """An application for `person` taken to ASSIGNED; returns the initial assessment."""
    clerk = staff.clerk
    draft = await applications.create_application(
        clerk, person_id=person["id"], applicant_name="李明", applicant_relation="子女",
        applicant_phone="13900000000", disabled_since=clock.today() - timedelta(days=400),
        materials=MATERIALS)
    sent = await applications.submit_application(clerk, draft["id"], draft["version"])
    accepted = await applications.accept_application(clerk, sent["id"], sent["version"])
    return await assignment.assign_assessors(clerk, accepted["id"], accepted["version"])


async def assessment_version(assessment_id: int) -> int:
    return (await Assessment.select(Assessment.version).where(
        Assessment.id == assessment_id).first())["version"]


async def submit_assessment(assessment_id: int, scores: dict[str, int] = SEVERE_SCORES,
                            ) -> dict[str, Any]:
    """Scores recorded, both signatures, a video (unless it has one), submitted for review."""
    row = await Assessment.select().where(Assessment.id == assessment_id).first()
    first, second = await user_actor(row["assessor_1"]), await user_actor(row["assessor_2"])

    async def version() -> int:
        return await assessment_version(assessment_id)

    now = clock.now()
    await assessments.save_draft(first, assessment_id, expected_version=await version(),
                                 scores=scores, onsite_started_at=now - timedelta(hours=1),
                                 onsite_ended_at=now - timedelta(minutes=10),
                                 guardian_name="李明", guardian_relationship="子女",
                                 guardian_phone="13900000000")
    await assessments.sign(first, assessment_id, expected_version=await version())
    await assessments.sign(second, assessment_id, expected_version=await version())
    if not await EvidenceFile.exists().where(EvidenceFile.assessment == assessment_id):
        await EvidenceFile(assessment=assessment_id, kind="video", content_type="video/mp4",
                           size=10, sha256="a" * 64, original_name="visit.mp4",
                           duration_seconds=3000, uploaded_by=first.id).save()
    return await assessments.submit(first, assessment_id, expected_version=await version())


async def complete_assessment(staff: Staff, assessment_id: int,
                              scores: dict[str, int] = SEVERE_SCORES) -> dict[str, Any]:
    """Submitted (see submit_assessment) and concluded by the reviewer. A concluded
    re-assessment is decided at once (unless the policy re-notices it)."""
    await submit_assessment(assessment_id, scores)
    return await assessments.conclude(staff.reviewer, assessment_id,
                                      expected_version=await assessment_version(assessment_id))


async def concluded_case(staff: Staff, *, name: str = "张秀英", village: str = VILLAGE,
                         scores: dict[str, int] = SEVERE_SCORES,
                         birth: date = date(1949, 3, 15), sex: str = "F") -> Case:
    """A new person whose first assessment is CONCLUDED (grade 5 with the default scores)
    and waiting for a notice."""
    person = await register(staff, name=name, village=village, birth=birth, sex=sex)
    assessment = await assigned_case(staff, person)
    concluded = await complete_assessment(staff, assessment["id"], scores)
    return Case(person_id=person["id"], resident_id=person["resident_id"], name=name,
                application_id=assessment["application"], assessment_id=assessment["id"],
                grade=concluded["grade"],
                assessors=(assessment["assessor_1"], assessment["assessor_2"]))


async def entitled_case(staff: Staff, *, decided_on: date, **kwargs: Any) -> tuple[Case, int]:
    """A concluded case decided (as if its notice closed without objection) on `decided_on`:
    the case and the id of its entitlement, from the first day of the next month. The
    assessment is concluded on today's date (ltc.clock), which should not be after
    `decided_on`."""
    case = await concluded_case(staff, **kwargs)
    decision = await entitlements.decide(SYSTEM, case.assessment_id, "no_objection",
                                         decided_on)
    row = await Entitlement.select(Entitlement.id).where(
        Entitlement.decision == decision["id"]).first()
    assert row is not None, f"grade {case.grade} is not eligible: no entitlement"
    return case, row["id"]
