"""The family portal (家属端): signing a household in with the care-plan letter's link and
PIN, their answer on each visit, their satisfaction rating, and the audit of every page they
read. A family actor is not a User row: `Actor(kind=family, id=<letter>, person_id=<the
one person>)`, rebuilt on each request from the session while the letter is the newest."""

from __future__ import annotations

from datetime import date

from ltc import clock, db
from ltc.audit import service as audit
from ltc.careplans import interface as careplans
from ltc.careplans.interface import FamilyLetter
from ltc.careplans.rules import PIN_DIGITS
from ltc.errors import Conflict, DomainError, InvalidInput, NotFound
from ltc.family import rules
from ltc.family.rules import Answer
from ltc.family.tables import FamilyAnswer, FamilyRating, FamilySignIn
from ltc.identity import Actor, ActorKind, Role, require_role
from ltc.people import interface as people
from ltc.visits import interface as visits
from ltc.visits.review import raise_concern
from ltc.visits.rules import FlagCode

_LINK_STATUS = {"tampered": 400, "expired": 410, "replaced": 410, "not_issued": 409}


class LinkRefused(DomainError):
    """A family link that signs nobody in; `title` heads its page."""

    def __init__(self, status: str) -> None:
        self.title, message = rules.LINK_PROBLEMS[status]
        super().__init__(f"family_link_{status}", message, status_code=_LINK_STATUS[status])


async def open_link(secret_key: str, token: str) -> FamilyLetter:
    """The letter a link names, or LinkRefused (tampered, expired, replaced, not issued)."""
    status, letter = await careplans.family_letter(secret_key, token)
    if letter is None:
        raise LinkRefused(status)
    return letter


async def _actor(letter: FamilyLetter) -> Actor:
    person = await people.person_by_id(letter.person_id)
    assert person is not None
    # Scoped to nothing by region ("-" covers no path): only person_id opens anything.
    return Actor(kind=ActorKind.family, id=letter.letter_id, name=f"{person.name}家属",
                 role=Role.family, region_path="-", person_id=letter.person_id)


async def wrong_today(person_id: int) -> int:
    return await FamilySignIn.count().where(
        (FamilySignIn.person == person_id) & (FamilySignIn.day == clock.today())
        & FamilySignIn.correct.eq(False))


async def sign_in(secret_key: str, token: str, pin: str) -> Actor:
    """The family actor when the link is good and `pin` is the one printed on its letter.
    Wrong PINs are counted per person and day (the attempt is committed as wrong before
    the slow hash, then counted, so parallel tries cannot pass the limit)."""
    letter = await open_link(secret_key, token)
    pin = pin.strip()
    if len(pin) != PIN_DIGITS or not pin.isascii() or not pin.isdigit():
        raise InvalidInput("invalid_pin", "请输入家庭确认码",
                           {"pin": "家庭确认码为6位数字，印在《护理计划告知书》上"})
    attempt = FamilySignIn(person=letter.person_id, letter=letter.letter_id,
                           day=clock.today(), correct=False)
    async with db.write_transaction():
        await attempt.save()
    wrong = await wrong_today(letter.person_id)
    if rules.sign_in_locked(wrong - 1):
        async with db.write_transaction():
            await FamilySignIn.delete().where(FamilySignIn.id == attempt.id)
        raise InvalidInput("family_pin_locked", "今天不能再用家庭确认码登录",
                           {"pin": rules.wrong_pin_message(wrong - 1)})
    correct = await careplans.pin_matches(pin, letter.pin_hash)
    actor = await _actor(letter)
    async with db.write_transaction():
        if correct:
            await FamilySignIn.update({FamilySignIn.correct: True}).where(
                FamilySignIn.id == attempt.id)
            wrong -= 1
        await audit.record(actor, "family.signed_in" if correct else "family.pin_wrong",
                           "person", letter.person_id,
                           after={"letter": letter.letter_id, "wrong_today": wrong})
    if not correct:
        raise InvalidInput("family_pin_locked" if rules.sign_in_locked(wrong)
                           else "family_wrong_pin", "家庭确认码不正确",
                           {"pin": rules.wrong_pin_message(wrong)})
    return actor


async def actor_for_session(letter_id: int) -> Actor | None:
    """The family actor of a session, None once the letter has been replaced."""
    letter = await careplans.family_letter_current(letter_id)
    return await _actor(letter) if letter else None


def _family(actor: Actor) -> int:
    require_role(actor, frozenset({Role.family}), "使用家属服务")
    assert actor.person_id is not None
    return actor.person_id


async def record_view(actor: Actor, page: str) -> None:
    """One audit event per page a family reads (their own person's data)."""
    person_id = _family(actor)
    async with db.write_transaction():
        await audit.record(actor, "family.viewed", "person", person_id, after={"page": page})


async def answer_visit(actor: Actor, visit_id: int, answer: str, words: str
                       ) -> tuple[Answer, bool]:
    """The family confirms (属实) or disputes (有异议) one of their visits, once: (the answer
    stored, whether this call stored it). A dispute sends the visit back to the reviewer
    with the family's words (ltc.visits.review.raise_concern), in the same transaction.
    A second submit (a double tap, a second phone) changes nothing."""
    person_id = _family(actor)
    visit = await visits.visit_of_person(person_id, visit_id)
    if visit is None:
        raise NotFound("visit_not_found", "没有找到这次服务记录")
    words = words.strip()
    if problems := rules.answer_problems(answer, words):
        raise InvalidInput("invalid_answer", "请按提示填写", problems)
    if answer == Answer.disputed and not visit.disputable:
        raise Conflict("not_disputable", "这次服务记录已被审核为不通过，不再计入，无需提出异议")
    async with db.write_transaction():
        stored = await FamilyAnswer.select(FamilyAnswer.answer).where(
            FamilyAnswer.visit == visit_id).first()
        if stored is not None:
            return Answer(stored["answer"]), False
        try:
            await FamilyAnswer(visit=visit_id, person=person_id, letter=actor.id,
                               answer=answer, words=words).save()
        except db.UNIQUE_VIOLATIONS:  # the other submit won meanwhile
            raise db.StaleWrite(FamilyAnswer._meta.tablename, visit_id) from None
        await audit.record(actor, "family.visit_disputed" if answer == Answer.disputed
                           else "family.visit_confirmed", "visit", visit_id,
                           after={"answer": answer}, note=words or None)
        if answer == Answer.disputed:
            await raise_concern(actor, visit_id, FlagCode.family_dispute, words)
    return Answer(answer), True


async def answers_of(person_id: int, visit_ids: list[int]) -> dict[int, dict]:
    """The family's answers on these visits of the person, by visit."""
    rows = await FamilyAnswer.select().where(
        (FamilyAnswer.person == person_id) & FamilyAnswer.visit.is_in(visit_ids or [0]))
    return {r["visit"]: r for r in rows}


async def rate(actor: Actor, score: int | None, comment: str) -> dict:
    """The family rates the provider of the plan in force, 1–5, once a month."""
    person_id = _family(actor)
    comment = comment.strip()
    if problems := rules.rating_problems(score, comment):
        raise InvalidInput("invalid_rating", "请按提示填写", problems)
    plan = await careplans.plan_summary(person_id)
    if plan is None or plan.provider_id is None:
        raise Conflict("no_provider", "您现在没有上门护理的服务机构，暂时不能评价")
    person = await people.person_by_id(person_id)
    assert person is not None
    today = clock.today()
    month = today.replace(day=1)
    async with db.write_transaction():
        if await FamilyRating.exists().where(
                (FamilyRating.person == person_id) & (FamilyRating.month == month)):
            raise Conflict("already_rated", "本月已经评价过了，下个月可以再次评价")
        rating = FamilyRating(person=person_id, provider=plan.provider_id, letter=actor.id,
                              region_path=person.region_path, month=month, rated_on=today,
                              score=score, comment=comment)
        try:
            await rating.save()
        except db.UNIQUE_VIOLATIONS:
            raise Conflict("already_rated", "本月已经评价过了，下个月可以再次评价") from None
        await audit.record(actor, "family.rated", "person", person_id,
                           after={"provider": plan.provider_id, "score": score},
                           note=comment or None)
    return rating.to_dict()


async def rating_of_month(person_id: int, month: date) -> dict | None:
    return await FamilyRating.select().where(
        (FamilyRating.person == person_id) & (FamilyRating.month == month)).first()
