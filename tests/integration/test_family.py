"""The family portal (issue 16 item 1): a household signs in with the care-plan letter's link
and PIN (good, tampered, expired, wrong PIN, re-issued letter); sees only its own person;
confirms or disputes each visit once (a dispute flags the visit for the reviewer); rates
satisfaction, which counts in the provider evaluation; and sees who watched the assessment
video. Every staff page and API refuses a family session."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from conftest import csrf_token, make_user, sign_in
from support.cases import FrozenClock, entitled_case, make_staff, register
from test_visits import PIN, TODAY, at, care_world, log, visit

from ltc import clock
from ltc.audit.tables import AuditEvent
from ltc.careplans import interface as careplans
from ltc.careplans import letters
from ltc.careplans.rules import hash_pin
from ltc.careplans.tables import CarePlanLetter
from ltc.evidence import rules as evidence_rules
from ltc.evidence import service as evidence
from ltc.evidence.tables import EvidenceFile
from ltc.family.tables import FamilyAnswer, FamilyRating
from ltc.providers import service as providers
from ltc.visits.tables import Visit

pytestmark = pytest.mark.anyio


@pytest.fixture
async def clocked(database_url, monkeypatch):
    frozen = FrozenClock(monkeypatch, TODAY - timedelta(days=25))
    staff = await make_staff(assessors=2)
    case, entitlement_id = await entitled_case(staff, decided_on=TODAY - timedelta(days=17))
    frozen.set(TODAY)
    world = await care_world(staff, case, entitlement_id, plan_from=TODAY.replace(day=1),
                             agreements=(TODAY.replace(month=1, day=1),
                                         TODAY.replace(year=TODAY.year + 1)))
    return world, frozen


async def link_path(settings, person_id: int) -> str:
    link = await careplans.family_link(settings, person_id)
    assert link is not None
    return urlsplit(link).path


async def family_sign_in(client, path: str, pin: str = PIN):
    token = await csrf_token(client, path)
    return await client.post(path, data={"pin": pin, "_csrf_token": token},
                             follow_redirects=False)


async def signed_in(client, settings, person_id: int):
    answer = await family_sign_in(client, await link_path(settings, person_id))
    assert answer.status_code in (302, 303) and answer.headers["location"] == "/family"


async def answer(client, visit_id: int, choice: str, words: str = ""):
    return await client.post(f"/family/visits/{visit_id}", data={
        "answer": choice, "words": words, "month": f"{TODAY:%Y-%m}",
        "_csrf_token": client.cookies.get("ltc_csrf")}, follow_redirects=False)


# --- signing in -------------------------------------------------------------------------------

async def test_the_letters_link_and_pin_sign_the_family_in(client, settings, clocked) -> None:
    world, _ = clocked
    path = await link_path(settings, world.case.person_id)
    page = await client.get(path)
    assert page.status_code == 200 and "家庭确认码" in page.text
    await signed_in(client, settings, world.case.person_id)
    home = await client.get("/family")
    assert home.status_code == 200
    assert "新城街道社区卫生服务中心" in home.text and "每月 <strong>4</strong> 次" in home.text
    assert "办理进度" in home.text and "享受待遇" in home.text
    event = await AuditEvent.select().where(AuditEvent.action == "family.signed_in").first()
    assert event["actor_kind"] == "family" and event["object_id"] == str(world.case.person_id)


@pytest.mark.parametrize("change", ["signature", "letter", "expiry", "garbage"])
async def test_a_tampered_link_gets_a_clear_page(client, settings, clocked, change) -> None:
    world, _ = clocked
    path = await link_path(settings, world.case.person_id)
    letter_id, expires, mac = path.rsplit("/", 1)[1].split(".")
    token = {"signature": f"{letter_id}.{expires}.{'0' * 32}",
             "letter": f"{int(letter_id) + 1}.{expires}.{mac}",
             "expiry": f"{letter_id}.{int(expires) + 86400}.{mac}",
             "garbage": "%E4%BD%A0..x"}[change]
    for method in ("get", "post"):
        refused = await getattr(client, method)(f"/family/l/{token}", **(
            {"data": {"pin": PIN, "_csrf_token": await csrf_token(client)}}
            if method == "post" else {}))
        assert refused.status_code == 400, refused.text
        assert "链接无效" in refused.text and "扫描" in refused.text
    assert "family_letter" not in str(client.cookies)


async def test_an_expired_link_says_so(client, settings, clocked) -> None:
    world, frozen = clocked
    path = await link_path(settings, world.case.person_id)
    frozen.advance(days=366)
    refused = await client.get(path)
    assert refused.status_code == 410 and "已过有效期" in refused.text
    assert (await family_sign_in(client, path)).status_code == 410


async def test_wrong_pins_are_limited_per_day(client, settings, clocked) -> None:
    world, frozen = clocked
    path = await link_path(settings, world.case.person_id)
    for left in (4, 3, 2, 1):
        wrong = await family_sign_in(client, path, "111111")
        assert wrong.status_code == 422 and f"今天还可再试{left}次" in wrong.text
    locked = await family_sign_in(client, path, "111111")
    assert "已锁定至明天0时" in locked.text
    assert "已锁定至明天0时" in (await family_sign_in(client, path)).text  # even the right one
    shape = await family_sign_in(client, path, "12ab")
    assert shape.status_code == 422 and "6位数字" in shape.text
    frozen.advance(days=1)
    assert (await family_sign_in(client, path)).status_code in (302, 303)
    assert await AuditEvent.count().where(AuditEvent.action == "family.pin_wrong") == 5


async def test_a_reissued_letter_voids_the_old_link_and_session(client, settings,
                                                                clocked) -> None:
    world, _ = clocked
    old = await link_path(settings, world.case.person_id)
    await signed_in(client, settings, world.case.person_id)
    new_id = await letters.reissue(world.staff.clerk, world.plan_id, "家属遗失告知书")
    refused = await client.get(old)
    assert refused.status_code == 410 and "已作废" in refused.text
    # Signed out at once: the letter it signed in with is no longer the household's.
    assert (await client.get("/family")).status_code == 401
    # Until the worker prints the new letter, its link does not work either; then it does.
    await CarePlanLetter.update({CarePlanLetter.pin_hash: hash_pin("654321"),
                                 CarePlanLetter.issued_at: clock.now()}).where(
        CarePlanLetter.id == new_id)
    new = await link_path(settings, world.case.person_id)
    assert (await family_sign_in(client, new, PIN)).status_code == 422
    assert (await family_sign_in(client, new, "654321")).status_code in (302, 303)


async def test_the_letter_prints_the_link_as_a_qr_code(clocked, monkeypatch, tmp_path) -> None:
    from ltc import pdf

    del clocked  # a world with one letter
    letter = await CarePlanLetter.select(CarePlanLetter.id).first()
    context = await letters.letter_context(letter["id"], PIN)
    assert "/family/l/" in context["family_link"]
    html = pdf.render_html("pdf/careplan_letter.html", context)
    assert 'class="qr"' in html and "365 天内有效" in html


# --- staff pages refuse the family, and the family sees only its own ------------------------

@pytest.mark.parametrize("path", ["/", "/people", "/visits", "/applications", "/visit-review",
                                  "/api/v1/visits/1", "/admin/users", "/evaluation"])
async def test_staff_pages_and_apis_refuse_a_family_session(client, settings, clocked,
                                                            path) -> None:
    world, _ = clocked
    await signed_in(client, settings, world.case.person_id)
    refused = await client.get(path, follow_redirects=False)
    assert refused.status_code == 403, (path, refused.status_code)
    if path.startswith("/api/"):
        assert refused.json()["error"]["code"] == "staff_only"
    else:
        assert "家属只能查看家属服务页面" in refused.text


async def test_staff_cannot_open_the_family_pages(client, clocked) -> None:
    await sign_in(client, "clerk")
    assert (await client.get("/family", follow_redirects=False)).status_code == 403


async def test_the_family_of_one_person_cannot_reach_anothers_visits(client, settings,
                                                                     clocked) -> None:
    world, _ = clocked
    mine = await log(world.nurse, visit(world))
    # Another beneficiary's visit, logged as a row of theirs (the id is all that matters).
    other = await register(world.staff, name="王桂兰", birth=date(1950, 5, 5))
    row = await Visit.select().where(Visit.id == mine["id"]).first()
    row.pop("id")
    theirs = Visit(**{**row, "person": other["id"], "client_uuid": uuid.uuid4(),
                      "started_at": at(10, 9), "ended_at": at(10, 9, 30)})
    await theirs.save()
    await signed_in(client, settings, world.case.person_id)
    listed = await client.get(f"/family/visits?month={TODAY:%Y-%m}")
    assert f'id="visit-{mine["id"]}"' in listed.text
    assert f'id="visit-{theirs.id}"' not in listed.text
    refused = await answer(client, theirs.id, "disputed", "没有上门")
    assert refused.status_code == 404
    assert await FamilyAnswer.count() == 0
    assert (await Visit.select(Visit.review).where(Visit.id == theirs.id).first())[
        "review"] == row["review"]


# --- answers on visits ------------------------------------------------------------------------

async def test_a_dispute_flags_the_visit_once(client, settings, clocked) -> None:
    world, _ = clocked
    logged = await log(world.nurse, visit(world))
    assert logged["review"] == "accepted"
    await signed_in(client, settings, world.case.person_id)
    missing = await answer(client, logged["id"], "disputed")
    assert missing.status_code == 422 and "请写明哪里不属实" in missing.text
    assert await FamilyAnswer.count() == 0
    first = await answer(client, logged["id"], "disputed", "当天没有上门")
    second = await answer(client, logged["id"], "confirmed")  # a second phone, too late
    assert first.status_code == second.status_code == 302
    row = await Visit.select().where(Visit.id == logged["id"]).first()
    assert row["review"] == "flagged"
    assert {"code": "family_dispute", "message": "当天没有上门"} in json.loads(row["flags"])
    stored = await FamilyAnswer.select().where(FamilyAnswer.visit == logged["id"])
    assert [(a["answer"], a["words"]) for a in stored] == [("disputed", "当天没有上门")]
    page = await client.get(f"/family/visits?month={TODAY:%Y-%m}")
    assert "已提出异议（当天没有上门）" in page.text and "待审核" in page.text
    assert await AuditEvent.count().where(AuditEvent.action == "visit.concern_raised") == 1


async def test_a_confirmation_is_stored_and_shown(client, settings, clocked) -> None:
    world, _ = clocked
    logged = await log(world.nurse, visit(world))
    await signed_in(client, settings, world.case.person_id)
    assert (await answer(client, logged["id"], "confirmed")).status_code == 302
    assert (await Visit.select(Visit.review).where(Visit.id == logged["id"]).first())[
        "review"] == "accepted"
    page = await client.get("/family/visits")
    assert "已确认属实" in page.text and "王丽" in page.text and "45 分钟" in page.text


# --- rating, payments, video, audit -----------------------------------------------------------

async def test_a_rating_counts_in_the_providers_satisfaction(client, settings, clocked) -> None:
    world, _ = clocked
    await signed_in(client, settings, world.case.person_id)
    token = client.cookies.get("ltc_csrf")
    for garbled in ("9", "²"):
        bad = await client.post("/family/rating", data={"score": garbled, "_csrf_token": token})
        assert "请选择1到5颗星" in bad.text and await FamilyRating.count() == 0
    for score in ("2", "5"):  # the second one in the same month is refused
        await client.post("/family/rating", data={"score": score, "comment": "护士很耐心",
                                                  "_csrf_token": token})
    assert [r["score"] for r in await FamilyRating.select()] == [2]
    row = next(r for r in await providers.evaluation(world.staff.clerk, TODAY)
               if r["provider"] == world.organisation_id)
    assert row["surveys"] == 1 and row["satisfied"] == 0 and row["mean_score"] == 20  # tenths


async def test_who_viewed_the_assessment_video_is_shown(client, settings, clocked) -> None:
    world, _ = clocked
    data = b"assessment video bytes"
    sha = hashlib.sha256(data).hexdigest()
    video = await EvidenceFile.select().where(
        (EvidenceFile.assessment == world.case.assessment_id)
        & (EvidenceFile.kind == "video")).first()
    await EvidenceFile.update({EvidenceFile.sha256: sha, EvidenceFile.size: len(data)}).where(
        EvidenceFile.id == video["id"])
    path = evidence_rules.storage_path(settings.media_dir, sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    await evidence.open_for_viewing(world.staff.reviewer, video["id"], settings.media_dir)
    await signed_in(client, settings, world.case.person_id)
    page = await client.get("/family/video")
    assert page.status_code == 200
    assert world.staff.reviewer.name in page.text and "审核员" in page.text
    assert clock.now().astimezone(clock.CHINA).strftime("%Y-%m-%d %H:%M") in page.text


async def test_every_family_page_read_is_audited(client, settings, clocked) -> None:
    world, _ = clocked
    await signed_in(client, settings, world.case.person_id)
    for path in ("/family", "/family/visits", "/family/payments", "/family/video"):
        assert (await client.get(path)).status_code == 200, path
    events = await AuditEvent.select().where(AuditEvent.action == "family.viewed").order_by(
        AuditEvent.seq)
    assert [json.loads(e["summary"])["after"]["page"] for e in events] == [
        "home", f"visits {TODAY:%Y-%m}", "payments", "video views"]
    assert {(e["actor_kind"], e["actor_role"]) for e in events} == {("family", "family")}


async def test_signing_out_ends_the_family_session(client, settings, clocked) -> None:
    world, _ = clocked
    await signed_in(client, settings, world.case.person_id)
    out = await client.post("/family/logout",
                            data={"_csrf_token": client.cookies.get("ltc_csrf")})
    assert out.status_code == 200 and "您已退出" in out.text
    again = await client.get("/family")
    assert again.status_code == 401 and "二维码" in again.text


async def test_users_cannot_be_given_the_family_role(clocked) -> None:
    from ltc.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        await make_user("family", username="someone")
    assert "role" in refused.value.fields


async def test_the_family_sees_the_payments_of_approved_batches_only(client, settings,
                                                                     monkeypatch) -> None:
    from support.payout_cases import SCENARIOS, approved, build, computed, reviewer

    over_quota = next(s for s in SCENARIOS if s.name == "over-quota visits")
    world = await build(monkeypatch, over_quota)
    batch = await computed(monkeypatch, over_quota.month, world.staff.clerk)
    await signed_in(client, settings, world.case.person_id)
    draft = await client.get("/family/payments")
    assert "还没有已审批的待遇支付" in draft.text
    await approved(batch, world.staff.clerk, await reviewer())
    paid = await client.get("/family/payments")
    assert "2026年12月 · 上门护理服务费（本月）" in paid.text
    assert "新城街道社区卫生服务中心" in paid.text
    assert "应付 ¥320.00，暂扣 ¥16.00，实付 <strong>¥304.00</strong>" in paid.text


async def test_two_answers_sent_at_once_store_one_and_raise_one_concern(clocked) -> None:
    import asyncio

    from ltc.family import service as family

    world, _ = clocked
    logged = await log(world.nurse, visit(world))
    letter = await CarePlanLetter.select(CarePlanLetter.id).first()
    actor = await family.actor_for_session(letter["id"])
    answers = await asyncio.gather(*(family.answer_visit(actor, logged["id"], "disputed",
                                                         "没有上门") for _ in range(3)),
                                   return_exceptions=True)
    stored = [a for a in answers if isinstance(a, tuple) and a[1]]
    assert len(stored) == 1
    assert all(isinstance(a, tuple) or type(a).__name__ == "StaleWrite" for a in answers)
    assert await FamilyAnswer.count() == 1
    assert await AuditEvent.count().where(AuditEvent.action == "visit.concern_raised") == 1
