"""The family's confirmation of a visit: a signature drawn on the staff member's phone, or
the household PIN (家庭确认码) printed on the care-plan letter (ltc.careplans.letters).

A PIN is checked against its hash before the visit's own transaction, in transactions of
its own: a wrong PIN is counted (and audited) even though the visit it came with is refused.
After MAX_WRONG_PINS wrong ones on one civil day the beneficiary's PIN is locked until the
next day; the family can still sign. Only a beneficiary of the provider's confirmed plan is
checked at all (a provider cannot try the PINs of people it does not serve: that visit is
refused as not its beneficiary).

The visit row never holds the PIN: its `confirmation_code` records how it was confirmed
("PIN" — the PIN matched the household's current one; "PIN_UNCHECKED" — a PIN was typed on
a device offline but could not be checked when it arrived, so it confirms nothing and the
visit is flagged for review).
"""

from __future__ import annotations

from datetime import datetime

from ltc import clock, db
from ltc.audit import service as audit
from ltc.careplans import interface as careplans
from ltc.identity import Actor, ActorKind
from ltc.visits import rules
from ltc.visits.tables import PinAttempt

PIN_CONFIRMED = "PIN"
PIN_UNCHECKED = "PIN_UNCHECKED"


async def wrong_today(person_id: int) -> int:
    """Today's wrong PINs of the person, counting attempts still being checked."""
    return await PinAttempt.count().where(
        (PinAttempt.person == person_id) & (PinAttempt.day == clock.today())
        & (PinAttempt.correct == False))  # noqa: E712


async def check(actor: Actor, person_id: int, pin: str,
                at: datetime | None = None) -> tuple[str, str] | None:
    """Check the household PIN typed for a visit of `person_id`: None when it matches (or
    the person is not the provider's beneficiary: the visit is refused for that), else
    (the refusal's stable code — no_pin_issued, pin_not_in_force, pin_locked, wrong_pin —
    and the problem to show next to the field). Counts and audits each PIN checked.

    Parallel tries must not pass the daily limit, on either engine, without holding a write
    lock during the slow hash: the attempt is committed first as a wrong one, then today's
    wrong ones are counted including it. Of attempts racing, the last to commit sees all the
    others, so no more than MAX_WRONG_PINS wrong ones are ever checked.

    `at` (a visit recorded offline): against the PIN the household had then, from the plan in
    force on that day and the newest letter made by then."""
    assert actor.organisation_id is not None
    served, encoded = await careplans.household_pin(person_id, actor.organisation_id, at)
    if served == "not_served":
        return None
    if served != "in_force":
        return "pin_not_in_force", rules.PIN_NOT_IN_FORCE
    if encoded is None:
        return "no_pin_issued", rules.NO_PIN_ISSUED
    attempt = PinAttempt(person=person_id, provider=actor.organisation_id,
                         staff=actor.id if actor.kind == ActorKind.user else None,
                         day=clock.today(), correct=False)
    async with db.write_transaction():
        await attempt.save()
    wrong = await wrong_today(person_id)
    if rules.pin_locked(wrong - 1):  # locked before this one: it is not checked
        async with db.write_transaction():
            await PinAttempt.delete().where(PinAttempt.id == attempt.id)
        return "pin_locked", rules.PIN_LOCKED
    correct = await careplans.pin_matches(pin, encoded)
    async with db.write_transaction():
        if correct:
            await PinAttempt.update({PinAttempt.correct: True}).where(
                PinAttempt.id == attempt.id)
            wrong -= 1
        await audit.record(actor, "visit.pin_checked" if correct else "visit.pin_wrong",
                           "person", person_id,
                           after={"correct": correct, "wrong_today": wrong})
    if correct:
        return None
    return ("pin_locked" if rules.pin_locked(wrong) else "wrong_pin",
            rules.wrong_pin_message(wrong))
