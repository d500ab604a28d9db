"""Changing a logged visit: a reviewer's decision on a flagged visit, and a provider's
correction (a new record that replaces the original, which stays visible)."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from ltc import clock, db
from ltc.audit import service as audit
from ltc.errors import Conflict, InvalidInput
from ltc.identity import Actor, require_role
from ltc.visits import facts as gathered
from ltc.visits import rules
from ltc.visits.logging import (
    LOG_ROLES,
    audit_summary,
    normalised_items,
    pin_confirmation,
    refuse,
    refuse_uncertified,
    review_note,
    signature_problem,
    store_signature,
    visit_input,
    write,
)
from ltc.visits.queries import REVIEW_ROLES, get_visit, own_visit, visible_visit
from ltc.visits.rules import (
    CONCERN_REOPENS,
    DECISIONS,
    OVERTURNABLE,
    RAISED_LATER,
    REVIEW_LABELS,
    REVISABLE,
    REVISION_REASONS,
    Flag,
    FlagCode,
    Review,
)
from ltc.visits.tables import Visit

# The fields a revision may change (coordinates, beneficiary and staff stay as logged).
REVISABLE_FIELDS = ("started_at", "ended_at", "items", "notes", "family_confirmed_by",
                    "confirmation_code", "signature_png")


async def review(actor: Actor, visit_id: int, decision: str, reason: str) -> dict[str, Any]:
    """A reviewer's decision on a flagged visit: accept (审核通过) or reject (审核不通过),
    always with a reason."""
    require_role(actor, REVIEW_ROLES, "审核服务记录")
    visit = await visible_visit(actor, visit_id)
    problems = {}
    if decision not in DECISIONS:
        problems["decision"] = "请选择审核通过或审核不通过"
    if not reason.strip():
        problems["reason"] = "请填写审核意见（通过或不通过的理由），它会告知护理机构并写入记录"
    elif len(reason) > rules.MAX_NOTES:
        problems["reason"] = f"审核意见不超过{rules.MAX_NOTES}个字"
    if visit["superseded"]:
        raise Conflict("already_revised", "这条记录已被护理机构更正，请审核更正后的记录")
    if visit["review"] != Review.flagged:
        raise Conflict("not_flagged", "只有待审核的记录需要审核；这条记录"
                       f"{REVIEW_LABELS[Review(visit['review'])]}")
    if problems:
        raise InvalidInput("invalid_review", "审核信息不完整，请按提示填写", problems)
    after = DECISIONS[decision]
    async with db.write_transaction():
        done = await Visit.update({
            Visit.review: str(after), Visit.reviewed_by: actor.id,
            Visit.review_reason: reason.strip(), Visit.reviewed_at: clock.now()}).where(
            (Visit.id == visit_id) & (Visit.review == str(Review.flagged))
            & (Visit.superseded == False)).returning(Visit.id)  # noqa: E712
        if not done:
            raise db.StaleWrite(Visit._meta.tablename, visit_id)
        await audit.record(actor, f"visit.{'accepted' if decision == 'accept' else 'rejected'}",
                           "visit", visit_id, before={"review": str(Review.flagged)},
                           after={"review": str(after)}, note=reason.strip())
    return await get_visit(actor, visit_id)


async def overturn(actor: Actor, visit_id: int, reason: str) -> dict[str, Any]:
    """A reviewer overturns an accepted visit (automatically or after review), e.g. after a
    spot check found it was not done: it becomes rejected, with the mandatory reason.
    `reviewed_at` moves to now, so a month already paid is corrected by an adjustment in the
    next payout batch (ltc.payouts: adjustments recompute the people whose visits were
    reviewed since)."""
    require_role(actor, REVIEW_ROLES, "撤销服务记录的通过结论")
    visit = await visible_visit(actor, visit_id)
    reason = reason.strip()
    problems = {}
    if not reason:
        problems["reason"] = "请填写撤销通过的理由（如抽查核实未上门），它会告知护理机构并写入记录"
    elif len(reason) > rules.MAX_NOTES:
        problems["reason"] = f"理由不超过{rules.MAX_NOTES}个字"
    if visit["superseded"]:
        raise Conflict("already_revised", "这条记录已被护理机构更正，请在更正后的记录上操作")
    if visit["review"] not in OVERTURNABLE:
        raise Conflict("not_accepted", "只有已通过的记录可以撤销通过；这条记录"
                       f"{REVIEW_LABELS[Review(visit['review'])]}")
    if problems:
        raise InvalidInput("invalid_overturn", "请填写撤销通过的理由", problems)
    async with db.write_transaction():
        done = await Visit.update({
            Visit.review: str(Review.rejected), Visit.reviewed_by: actor.id,
            Visit.review_reason: reason, Visit.reviewed_at: clock.now()}).where(
            (Visit.id == visit_id) & (Visit.review == visit["review"])
            & (Visit.superseded == False)).returning(Visit.id)  # noqa: E712
        if not done:
            raise db.StaleWrite(Visit._meta.tablename, visit_id)
        await audit.record(actor, "visit.overturned", "visit", visit_id,
                           before={"review": visit["review"]},
                           after={"review": str(Review.rejected)}, note=reason)
    return await get_visit(actor, visit_id)


async def raise_concern(actor: Actor, visit_id: int, code: FlagCode,
                        message: str) -> dict[str, Any]:
    """Someone outside the provider doubts a logged visit — the family disputes it, a return
    visit call denies it: the visit carries the flag and goes (back) to the reviewer's queue.
    An accepted visit stops counting as paid work; `reviewed_at` moves to now, so a month
    already paid is corrected by an adjustment in the next batch, as for an overturn. A
    rejected or superseded visit is left as it is (nothing to reopen). The caller checks who
    may raise it; `actor` is who the audit names (a family member has no user id). A visit
    the provider has corrected since is doubted in its correction, the record that stands
    (and is paid) in its place. Returns {"visit_id" (the one flagged), "changed"}."""
    if code not in RAISED_LATER:
        raise ValueError(f"{code} is computed at logging, not raised later")
    message = message.strip()[: rules.MAX_NOTES]
    async with db.write_transaction():
        visit = await Visit.select(Visit.id, Visit.review, Visit.flags, Visit.superseded).where(
            Visit.id == visit_id).first()
        while visit is not None and visit["superseded"]:
            visit = await Visit.select(
                Visit.id, Visit.review, Visit.flags, Visit.superseded).where(
                Visit.revision_of == visit["id"]).first()
        if visit is None or visit["review"] not in CONCERN_REOPENS:
            return {"visit_id": visit_id, "changed": False}
        visit_id = visit["id"]
        flags = json.loads(visit["flags"])
        raised = Flag(code, message).as_dict()
        if raised not in flags:
            flags.append(raised)
        done = await Visit.update({
            Visit.review: str(Review.flagged),
            Visit.flags: json.dumps(flags, ensure_ascii=False),
            Visit.reviewed_at: clock.now()}).where(
            (Visit.id == visit_id) & (Visit.review == visit["review"])
            & (Visit.flags == visit["flags"])
            & (Visit.superseded == False)).returning(Visit.id)  # noqa: E712
        if not done:
            raise db.StaleWrite(Visit._meta.tablename, visit_id)
        await audit.record(actor, "visit.concern_raised", "visit", visit_id,
                           before={"review": visit["review"]},
                           after={"review": str(Review.flagged), "flag": str(code)},
                           note=f"{code.label}：{message}")
    return {"visit_id": visit_id, "changed": True}


def raised_later(visit: dict[str, Any]) -> list[Flag]:
    """The flags raised after logging, which a correction carries over."""
    return [Flag(FlagCode(f["code"]), f["message"]) for f in json.loads(visit["flags"])
            if f["code"] in RAISED_LATER]


async def revise_visit(actor: Actor, visit_id: int, reason_code: str, note: str,
                       **changed: Any) -> dict[str, Any]:
    """A correction: a new record (with a new server-made UUID) that replaces the original,
    which is marked superseded and stays visible. Only records no reviewer has decided may
    be corrected. Changed fields: see REVISABLE_FIELDS; the flags are computed afresh (the
    original left out), by the same path as logging (ltc.visits.logging.write)."""
    require_role(actor, LOG_ROLES, "更正服务记录")
    unknown = set(changed) - set(REVISABLE_FIELDS) - {"unreadable"}
    if unknown:
        raise ValueError(f"fields a revision cannot change: {sorted(unknown)}")
    signature_png = changed.pop("signature_png", None)
    problems = dict(changed.pop("unreadable", None) or {})
    original = await own_visit(actor, visit_id)
    if original["superseded"]:
        raise Conflict("already_revised", "这条记录已被更正，请在最新的记录上更正")
    if original["review"] not in REVISABLE:
        decided = REVIEW_LABELS[Review(original["review"])]
        raise Conflict("already_reviewed", f"这条记录已{decided}，审核结论不能通过更正改变；"
                       "如有异议请联系医保经办机构")
    values = {
        "person": original["person"], "service_type": original["service_type"],
        "started_at": original["started_at"], "ended_at": original["ended_at"],
        "checkin_latitude": original["checkin_latitude"],
        "checkin_longitude": original["checkin_longitude"],
        "checkout_latitude": original["checkout_latitude"],
        "checkout_longitude": original["checkout_longitude"],
        "items": tuple(json.loads(original["items"])), "notes": original["notes"],
        "family_confirmed_by": original["family_confirmed_by"],
        "confirmation_code": original["confirmation_code"],
        "signature_sha256": original["signature_sha256"],
    }
    before = dict(values)
    typed = str(changed.pop("confirmation_code", "") or "").strip()
    for name, value in changed.items():
        values[name] = normalised_items(value) if name == "items" else (
            value.strip() if isinstance(value, str) else value)
    reconfirm = rules.changes_service(before, values)
    if reconfirm:  # the original's confirmation covered other times or items
        values.update(confirmation_code="", signature_sha256=None)
    if typed:  # a household PIN typed now (blank: the original's confirmation stands)
        values.update(await pin_confirmation(actor, None, original["person"], typed,
                                             problems))
    logged_at = None if reconfirm else await _logged_at(original)
    if signature_png:
        values["signature_sha256"] = hashlib.sha256(signature_png).hexdigest()
    async with db.write_transaction():
        facts = await gathered.gather(
            actor, key=None, person_id=original["person"], staff_id=original["staff"],
            started_at=values["started_at"], ended_at=values["ended_at"], exclude=visit_id)
        problems.update({k: v for k, v in rules.input_problems(
            visit_input(values), clock.now(), facts["catalogue"]).items()
            if k not in problems})
        problems.update(rules.revision_problems(reason_code, note))
        if (problem := signature_problem(signature_png)) is not None:
            problems["signature_png"] = problem
        if "started_at" not in problems:
            # A correction may not move the visit to a day its staff member could not work.
            await refuse_uncertified(facts["staff"], values["started_at"], problems,
                                     "started_at")
        if problems:
            refuse("invalid_revision", "更正内容有误，请按提示修改后再提交", problems)
        if signature_png:
            await store_signature(signature_png)
        superseded = await Visit.update({Visit.superseded: True}).where(
            (Visit.id == visit_id) & (Visit.superseded == False)  # noqa: E712
            & Visit.review.is_in([str(r) for r in REVISABLE])).returning(Visit.id)
        if not superseded:
            raise db.StaleWrite(Visit._meta.tablename, visit_id)
        visit = await write(actor, facts, uuid.uuid4(), values, facts["staff"], revision={
            "revision_of": visit_id, "revision_reason": reason_code,
            "revision_note": note.strip(), "logged_at": logged_at,
            "carried_flags": raised_later(original)})
        reason = REVISION_REASONS[reason_code] + (f"：{note.strip()}" if note.strip() else "")
        await audit.record(actor, "visit.superseded", "visit", visit_id,
                           before={"review": original["review"]},
                           after={"superseded_by": visit["id"]}, note=reason)
        await audit.record(actor, "visit.revised", "visit", visit["id"],
                           after=audit_summary(visit), note=f"{reason}；{review_note(visit)}")
    return json.loads(visit["response"])




async def _logged_at(visit: dict[str, Any]) -> Any:
    """When the service `visit` claims was first logged: up its correction chain, as far as
    the corrections left the times and items alone (one that changed them was logged anew)."""
    while visit["revision_of"] is not None:
        parent = await Visit.select().where(Visit.id == visit["revision_of"]).first()
        parent_items = {**parent, "items": json.loads(parent["items"])}
        if rules.changes_service(parent_items, {**visit, "items": json.loads(visit["items"])}):
            break
        visit = parent
    return visit["created_at"]
