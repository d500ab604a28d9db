"""The care-plan letter (护理计划告知书) and the household confirmation PIN (家庭确认码).

When a home-care plan with a provider is confirmed (by a clerk, or made by one), a letter is
requested for the beneficiary's household: the plan's items, visit frequency and provider,
how the family confirms each visit (a signature on the staff member's phone, or the PIN),
and the bureau's contact and complaint phone. A clerk may issue it again (a lost letter, a
PIN the family fears is known to others): a new PIN on a new letter, and the old PIN stops
working as soon as the new one is issued.

Where the plain PIN lives — the decision, in one place:
- The worker that renders the letter makes the PIN (ltc.careplans.jobs), prints it on the
  PDF and stores only its scrypt hash, in the same step. The PIN never travels through the
  outbox, the broker, the database or the audit log, and the web process never sees it.
- The PDF is stored once as a document (content-addressed, ltc.documents) and its hash kept
  on the letter's row, so the clerk and the provider can download the letter again as often
  as the family needs a copy; anyone allowed to open the plan may read the PIN on it, as
  they could hand over the paper letter.
- Nothing can show a PIN again without the stored letter: when a letter is lost, the clerk
  re-issues (a new PIN and a new letter, audited), never "recovers" the old one.
- A retried or repeated job issues nothing twice: a letter row is issued once
  (`pin_hash` empty → set, in one conditional UPDATE); a render that fails leaves the row
  unissued and the next attempt makes a fresh PIN.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from typing import Any

import anyio

from ltc import clock, db
from ltc.audit import service as audit
from ltc.careplans.rules import (
    CONFIRMED,
    FAMILY_LINK_DAYS,
    CareForm,
    FamilyLetter,
    PlanState,
    check_pin,
    family_link_token,
    hash_pin,
    link_key,
    new_pin,
    plan_in_force,
    read_family_link,
)
from ltc.careplans.tables import CareItem, CarePlan, CarePlanLetter
from ltc.documents import store
from ltc.errors import Conflict, InvalidInput, NotFound
from ltc.grades import GRADE_LABELS
from ltc.identity import SYSTEM, Actor, Role, in_region, require_role
from ltc.jobs import outbox
from ltc.people.rules import mask_resident_id
from ltc.policy import service as policies
from ltc.settings import Settings

LETTER_JOB = "careplans.issue_letter"
REISSUE_ROLES = frozenset({Role.clerk})
# The letter prints the household PIN, which the family uses to confirm the visits the
# provider claims: only the clerk who hands it to the family may open it, never the provider.
DOWNLOAD_ROLES = REISSUE_ROLES
REASON_MAX = 200
TITLE = "护理计划告知书"


def needs_letter(plan: dict[str, Any]) -> bool:
    """Only a provider's home visits are confirmed by the family."""
    return plan["care_form"] == CareForm.home and plan["provider"] is not None


async def request_letter(actor: Actor, plan: dict[str, Any], reason: str = "") -> int | None:
    """Inside the caller's transaction: a new letter row for the plan's person and the job
    that issues it. None when the plan needs no letter."""
    if not needs_letter(plan):
        return None
    latest = await CarePlanLetter.select(CarePlanLetter.issue_no).where(
        CarePlanLetter.person == plan["person"]).order_by(
        CarePlanLetter.issue_no, ascending=False).first()
    letter = CarePlanLetter(
        person=plan["person"], care_plan=plan["id"], region_path=plan["region_path"],
        issue_no=(latest["issue_no"] if latest else 0) + 1, reason=reason,
        requested_by=actor.id)
    try:
        await letter.save()
    except db.UNIQUE_VIOLATIONS as exc:  # another letter took the number meanwhile
        raise Conflict("letter_conflict",
                       "这位受益人的护理计划告知书刚由其他人出具，请刷新后核对") from exc
    await outbox.enqueue(LETTER_JOB, letter.id)
    return letter.id


async def reissue(actor: Actor, plan_id: int, reason: str) -> int:
    """A clerk issues the household a new PIN on a new letter (the old PIN stops working at
    once; until the new letter is issued the family signs).
    Only for the plan in force of a running entitlement."""
    require_role(actor, REISSUE_ROLES, "重新出具护理计划告知书")
    reason = reason.strip()
    if not 2 <= len(reason) <= REASON_MAX:
        raise InvalidInput("invalid_reissue", "请填写重新出具的原因",
                           {"reason": f"请填写原因（2到{REASON_MAX}个字），如“家属遗失告知书”"})
    async with db.write_transaction():
        plan = await CarePlan.select().where(
            (CarePlan.id == plan_id) & in_region(actor, CarePlan.region_path)).first()
        if plan is None:
            raise NotFound("care_plan_not_found", f"护理计划 {plan_id} 不存在或不在您的辖区")
        if plan["state"] != PlanState.ACTIVE or not needs_letter(plan):
            raise Conflict("no_letter", "只有执行中的机构上门护理计划出具护理计划告知书")
        letter_id = await request_letter(actor, plan, reason)
        assert letter_id is not None
        await audit.record(actor, "care_plan.pin_reissued", "care_plan", plan_id,
                           after={"letter": letter_id}, note=reason)
    return letter_id


def family_link(settings: Settings, letter_id: int, created_at: datetime) -> str:
    """The address the letter's QR code holds: it signs the household in to the family
    pages (ltc.desk.family) with the PIN, until FAMILY_LINK_DAYS after the letter was
    requested, and only while the letter is the person's newest."""
    expires = int((created_at + timedelta(days=FAMILY_LINK_DAYS)).timestamp())
    token = family_link_token(link_key(settings.secret_key), letter_id, expires)
    return f"{settings.public_url}/family/l/{token}"


async def letter_context(letter_id: int, pin: str) -> dict[str, Any]:
    """What pdf/careplan_letter.html prints: the person, the plan, the provider, the PIN,
    the family's link and the bureau."""
    row = await CarePlanLetter.select(
        CarePlanLetter.all_columns(), CarePlanLetter.person.name,
        CarePlanLetter.person.resident_id).where(CarePlanLetter.id == letter_id).first()
    if row is None:
        raise NotFound("letter_not_found", f"护理计划告知书 {letter_id} 不存在")
    plan = await CarePlan.select(
        CarePlan.all_columns(), CarePlan.provider.name, CarePlan.provider.contact_phone,
        CarePlan.entitlement.grade).where(CarePlan.id == row["care_plan"]).first()
    codes = json.loads(plan["items"])
    names = {r["code"]: r["name_zh"] for r in await CareItem.select(
        CareItem.code, CareItem.name_zh).where(CareItem.code.is_in(codes or [""]))}
    issued_on = clock.today()
    policy = (await policies.policy_in_force(plan["region_path"], issued_on)).policy
    bureau = await policies.issuer(policy, plan["region_path"])
    return {
        "person": {"name": row["person.name"],
                   "resident_id_masked": mask_resident_id(row["person.resident_id"])},
        "plan": {"plan_no": plan["plan_no"], "starts_on": plan["starts_on"],
                 "visits_per_month": plan["visits_per_month"],
                 "grade_label": GRADE_LABELS.get(plan["entitlement.grade"], ""),
                 "items": [{"code": c, "name": names.get(c, c)} for c in codes]},
        "provider": {"name": plan["provider.name"], "phone": plan["provider.contact_phone"] or ""},
        "pin": pin, "family_link": family_link(Settings.from_env(), letter_id,
                                               row["created_at"]),
        "family_link_days": FAMILY_LINK_DAYS, "issue_no": row["issue_no"],
        "late_entry_hours": policy.late_entry_hours,
        "bureau": bureau, "issued_on": issued_on,
    }


async def issue(letter_id: int, pin: str | None = None) -> str:
    """The worker's step: make the PIN, render the letter with it, store the PDF and record
    the PIN's hash and the letter's, once. Returns the letter's SHA-256. `pin` is given only
    by the demo (ltc.demo), whose newcomer must be told a household's PIN."""
    from ltc import pdf  # WeasyPrint loads only in processes that render

    done = await CarePlanLetter.select(CarePlanLetter.letter_sha256).where(
        (CarePlanLetter.id == letter_id) & (CarePlanLetter.pin_hash != "")).first()
    if done is not None:
        return done["letter_sha256"]
    pin = pin or new_pin()
    context = await letter_context(letter_id, pin)
    data = await anyio.to_thread.run_sync(
        functools.partial(pdf.render, "pdf/careplan_letter.html", context))
    sha256 = await anyio.to_thread.run_sync(store, data)
    encoded = await anyio.to_thread.run_sync(hash_pin, pin)
    async with db.write_transaction():
        issued = await CarePlanLetter.update({
            CarePlanLetter.pin_hash: encoded, CarePlanLetter.letter_sha256: sha256,
            CarePlanLetter.issued_at: clock.now()}).where(
            (CarePlanLetter.id == letter_id) & (CarePlanLetter.pin_hash == "")).returning(
            CarePlanLetter.care_plan)
        if not issued:  # issued meanwhile by another delivery of the job
            row = await CarePlanLetter.select(CarePlanLetter.letter_sha256).where(
                CarePlanLetter.id == letter_id).first()
            return row["letter_sha256"]
        await audit.record(SYSTEM, "care_plan.letter_issued", "care_plan",
                           issued[0]["care_plan"],
                           after={"letter": letter_id, "issue_no": context["issue_no"],
                                  "sha256": sha256, "bytes": len(data)})
    return sha256


async def letters_of(plan_ids: list[int]) -> list[dict[str, Any]]:
    """The letters of these plan versions, newest first, for the plan's page (no hash)."""
    rows = await CarePlanLetter.select(
        CarePlanLetter.id, CarePlanLetter.care_plan, CarePlanLetter.issue_no,
        CarePlanLetter.reason, CarePlanLetter.letter_sha256, CarePlanLetter.issued_at,
        CarePlanLetter.created_at, CarePlanLetter.requested_by.display_name).where(
        CarePlanLetter.care_plan.is_in(plan_ids or [0])).order_by(
        CarePlanLetter.id, ascending=False)
    for i, row in enumerate(rows):
        row["current"] = i == 0
    return rows


async def letter_of(plan_ids: list[int], letter_id: int) -> dict[str, Any]:
    row = await CarePlanLetter.select().where(
        (CarePlanLetter.id == letter_id) & CarePlanLetter.care_plan.is_in(plan_ids or [0])
    ).first()
    if row is None:
        raise NotFound("letter_not_found", f"护理计划告知书 {letter_id} 不存在")
    return row


# --- checking a PIN (for visit logging, through ltc.careplans.interface) --------------------

async def current_pin_hash(person_id: int, provider_id: int,
                           at: datetime | None = None) -> tuple[str, str | None]:
    """(served — whether the person is a beneficiary of the provider's confirmed home-care
    plan, in_force — the provider's plan is the one in force today — or not_served; the hash
    of the household's current PIN, None while none has been issued). Only the provider of
    the plan in force may try the family's PIN: a former one could only burn its tries.
    `at` (a visit recorded offline): as of that moment instead of now — the plan in force
    on its day and the newest letter made by then."""
    plans = await CarePlan.select(
        CarePlan.state, CarePlan.starts_on, CarePlan.plan_no, CarePlan.provider).where(
        (CarePlan.person == person_id) & CarePlan.state.is_in([str(s) for s in CONFIRMED]))
    if not any(p["provider"] == provider_id for p in plans):
        return "not_served", None
    in_force = plan_in_force(plans, at.astimezone(clock.CHINA).date() if at else clock.today())
    if in_force is None or in_force["provider"] != provider_id:
        return "served", None
    # The newest letter whatever its state: a reissue cancels the old PIN at once, and until
    # the worker has printed the new one the family signs instead.
    mine = CarePlanLetter.person == person_id
    if at is not None:  # the letter the family held then: one made later had replaced it
        mine &= CarePlanLetter.created_at <= at
    row = await CarePlanLetter.select(CarePlanLetter.pin_hash).where(mine).order_by(
        CarePlanLetter.id, ascending=False).first()
    return "in_force", (row["pin_hash"] or None) if row else None


async def pin_matches(pin: str, encoded: str) -> bool:
    return await anyio.to_thread.run_sync(check_pin, pin, encoded)


# --- the family's sign-in (through ltc.careplans.interface) -----------------------------------

async def letter_for_link(secret_key: str, token: str) -> tuple[str, FamilyLetter | None]:
    """(ok | tampered | expired | replaced | not_issued, the letter when ok). A link is
    good while its signature matches, before its expiry, and only for the person's newest
    letter once it is printed: re-issuing a letter voids the old link and PIN at once."""
    status, letter_id = read_family_link(link_key(secret_key), token,
                                         int(clock.now().timestamp()))
    if letter_id is None:
        return status, None
    return await current_letter(letter_id)


async def current_letter(letter_id: int) -> tuple[str, FamilyLetter | None]:
    """(ok | tampered | replaced | not_issued, the letter when it is the person's newest
    and printed)."""
    row = await CarePlanLetter.select(
        CarePlanLetter.id, CarePlanLetter.person, CarePlanLetter.pin_hash).where(
        CarePlanLetter.id == letter_id).first()
    if row is None:  # signed by us, so once ours: treat like a forged one
        return "tampered", None
    newest = await CarePlanLetter.select(CarePlanLetter.id).where(
        CarePlanLetter.person == row["person"]).order_by(
        CarePlanLetter.id, ascending=False).first()
    if newest["id"] != letter_id:
        return "replaced", None
    if not row["pin_hash"]:
        return "not_issued", None
    return "ok", FamilyLetter(letter_id, row["person"], row["pin_hash"])


async def newest_family_link(settings: Settings, person_id: int) -> str | None:
    """The link of the person's newest printed letter (for the clerk's CLI and the demo)."""
    row = await CarePlanLetter.select(CarePlanLetter.id, CarePlanLetter.created_at,
                                      CarePlanLetter.pin_hash).where(
        CarePlanLetter.person == person_id).order_by(CarePlanLetter.id, ascending=False).first()
    if row is None or not row["pin_hash"]:
        return None
    return family_link(settings, row["id"], row["created_at"])
