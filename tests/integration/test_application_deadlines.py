"""Deadlines (22号): each case shows its working days used and left; cases near or past a
deadline are listed for clerks and reviewers, scoped to their region."""

from datetime import timedelta

import pytest
from conftest import make_user, sign_in
from test_assessments import actor

from ltc import clock
from ltc.applications import service
from ltc.applications.deadline_pages import watched_cases
from ltc.applications.tables import Application
from ltc.enrollment.importer import import_enrollment
from ltc.identity import SYSTEM
from ltc.people.tables import Person
from ltc.policy.rules import parse_policy, policy_as_json
from ltc.policy.service import policy_in_force
from ltc.regions.tables import Region

pytestmark = pytest.mark.anyio


async def _application(name: str, resident_id: str, town_code: str, submitted_days_ago: int,
                       state: str = "SUBMITTED") -> int:
    town = await Region.select().where(Region.code == town_code).first()
    person = Person(resident_id=resident_id, name=name, name_initials="x", sex="F",
                    birth_date=clock.today().replace(year=1949), phone="13800000000",
                    address="某村1号", village=town["id"], region_path=town["path"])
    await person.save()
    clerk = (await actor("clerk")).id
    application = Application(
        number=f"SQ20261203{person.id:04d}", person=person.id, region_path=town["path"],
        state=state, applicant_name="李明", applicant_relation="子女",
        applicant_phone="13900000000", disabled_since=clock.today() - timedelta(days=400),
        created_by=clerk, submitted_at=clock.now() - timedelta(days=submitted_days_ago),
        materials='["application_form", "id_card", "insurance_card", "medical_records"]')
    await application.save()
    return application.id


async def test_stored_policies_without_the_new_limits_read_the_defaults(database_url) -> None:
    policy = (await policy_in_force("370983", clock.today())).policy
    assert (policy.answer_working_days, policy.letter_working_days) == (5, 30)
    definition = policy_as_json(policy)
    del definition["answer_working_days"], definition["letter_working_days"]
    assert parse_policy(definition) == policy


async def test_late_and_near_cases_are_listed_for_their_region(database_url, client) -> None:
    await make_user("clerk")
    await make_user("clerk", username="town_clerk", region="370983002")
    late = await _application("张秀英", "11010519491231002X", "370983001", 20)
    fresh = await _application("李桂兰", "110105194912310038", "370983001", 0)
    other = await _application("王淑珍", "110105194912310046", "370983002", 30)
    listed = [(r["id"], r["deadline"].kind, r["deadline"].state)
              for r in await watched_cases(await actor("clerk"))]
    assert (late, "answer", "overdue") in listed and (other, "answer", "overdue") in listed
    assert fresh not in [row[0] for row in listed]
    assert [r["id"] for r in await watched_cases(await actor("town_clerk"))] == [other]

    await sign_in(client, "clerk")
    page = await client.get("/deadlines")
    assert page.status_code == 200 and "张秀英" in page.text and "已超时" in page.text
    assert "李桂兰" not in page.text
    exported = await client.get("/deadlines/export.csv", params={"q": "张"})
    assert exported.content.startswith(b"\xef\xbb\xbf")
    assert len(exported.content.decode("utf-8-sig").splitlines()) == 2
    case = await client.get(f"/applications/{late}")
    assert "受理答复：已用" in case.text and "超过时限" in case.text


async def test_acceptance_starts_the_letter_deadline(database_url, client) -> None:
    await make_user("clerk")
    application = await _application("张秀英", "11010519491231002X", "370983001", 1)
    csv = ("resident_id,insurance_number,name,scheme,region_code,status,start_date,end_date\n"
           "11010519491231002X,N002X,张秀英,resident,370983,enrolled,2010-01-01,\n")
    await import_enrollment(SYSTEM, csv.encode(), filename="enrolment.csv")
    clerk = await actor("clerk")
    row = await Application.select().where(Application.id == application).first()
    await service.accept_application(clerk, application, row["version"])
    row = await Application.select().where(Application.id == application).first()
    assert row["accepted_at"] is not None
    await sign_in(client, "clerk")
    case = await client.get(f"/applications/{application}")
    assert "结论送达：已用0个工作日，剩余30个工作日" in case.text
    assert "受理答复：" in case.text and "办结，用时" in case.text
