"""Public notices (公示) of concluded assessments (SPEC §3): batches per town, publication with
a period fixed from the policy, objections (public page or recorded by a clerk), and the daily
closing that decides each case or sends it to re-assessment by two different assessors."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Count

from ltc import clock, db
from ltc.applications.rules import ApplicationState
from ltc.assessments import interface as assessments
from ltc.assessments.assignment import draw_assessors
from ltc.assessments.rules import AssessmentState
from ltc.assessments.tables import Assessment
from ltc.audit import service as audit
from ltc.clock import (
    UnknownCalendarYear,
    working_days_after,
)
from ltc.entitlements import service as entitlements
from ltc.entitlements.tables import Decision
from ltc.errors import Conflict, DomainError, InvalidInput, NotFound
from ltc.grades import GRADE_LABELS
from ltc.identity import SYSTEM, Actor, ActorKind, Role, in_region, region_covers, require_role
from ltc.jobs import outbox
from ltc.notices.rules import (
    DayKind,
    EntryOutcome,
    NoticeBatchState,
    NoticePeriod,
    age_on,
    batch_due_to_close,
    mask_name,
    notice_period,
    objection_open,
)
from ltc.notices.tables import NoticeBatch, NoticeEntry, Objection
from ltc.people import interface as people
from ltc.people.rules import phone_problem
from ltc.policy.service import parsed_definition, policy_in_force
from ltc.regions import interface as regions
from ltc.regions.rules import missing_bureau_contact

BATCH_PREFIX = "GS"
MANAGE_ROLES = frozenset({Role.clerk})
CHANNELS = {"online": "公示页面", "paper": "书面", "phone": "电话", "visit": "来访"}
RELATIONS = ("本人", "近亲属", "邻居", "村（居）委会", "其他知情人")
# Abuse resistance of the public form, without a captcha: per client (hashed IP) and per
# phone, only a few objections an hour; the same phone objects to one entry only once.
PUBLIC_LIMIT_PER_HOUR = 5
RECENT_DAYS = 30  # closed notices stay on the public page this long


@contextmanager
def _calendar_known() -> Iterator[None]:
    """A working-day count reaching a year whose holidays are not loaded is a Conflict the
    clerk can act on (ask the admin to update the holiday table), never a crash; closing a
    batch then leaves that re-assessment for the clerk and decides the other entries."""
    try:
        yield
    except UnknownCalendarYear as exc:
        raise Conflict("holiday_calendar_missing", str(exc)) from exc


def _period(batch: dict[str, Any]) -> NoticePeriod:
    return NoticePeriod(starts_on=batch["starts_on"], ends_on=batch["ends_on"])


def _require_clerk(actor: Actor, doing: str) -> None:
    require_role(actor, MANAGE_ROLES, doing)


# --- assembling and publishing ---------------------------------------------------------------

def _noticeable_query(actor: Actor, region_path: str):
    """Concluded assessments waiting for a notice: not on any notice, not decided, the case
    still open, inside `region_path` and the actor's region."""
    on_notice = NoticeEntry.select(NoticeEntry.assessment)
    decided = Decision.select(Decision.application)
    return (
        (Assessment.state == str(AssessmentState.CONCLUDED))
        & Assessment.id.not_in(on_notice) & Assessment.application.not_in(decided)
        & (Assessment.application.state == str(ApplicationState.ASSIGNED))
        & Assessment.application.person.deceased_on.is_null()
        & ((Assessment.region_path == region_path)
           | Assessment.region_path.like(region_path + "/%"))
        & in_region(actor, Assessment.region_path))


async def noticeable(actor: Actor, region_path: str) -> list[dict[str, Any]]:
    rows = await (
        Assessment.select(Assessment.id, Assessment.grade, Assessment.kind,
                          Assessment.concluded_at, Assessment.application.number,
                          Assessment.application.person.name,
                          Assessment.application.person.village.name)
        .where(_noticeable_query(actor, region_path)).order_by(Assessment.concluded_at))
    for row in rows:
        row["grade_label"] = GRADE_LABELS[row["grade"]]
    return rows


async def _region(actor: Actor, code: str, level: str, field: str,
                  fields: dict[str, str]) -> regions.Place | None:
    row = await regions.by_code(code)
    if (row is None or row.level != level
            or (actor.region_path and not region_covers(actor.region_path, row.path))):
        fields[field] = "请选择您管辖范围内的" + ("镇街" if level == "town" else "村居")
        return None
    return row


async def create_batch(actor: Actor, *, town_code: str, village_code: str = "",
                       assessment_ids: list[int]) -> dict[str, Any]:
    """A DRAFT batch of the chosen concluded cases of one town (or one village of it). The
    public text of each entry is fixed here, masked."""
    _require_clerk(actor, "编制公示")
    fields: dict[str, str] = {}
    town = await _region(actor, town_code, "town", "town", fields)
    village = None
    if village_code and town:
        village = await _region(actor, village_code, "village", "village", fields)
        if village and village.parent_id != town.id:
            fields["village"] = "所选村居不属于所选镇街"
    if not assessment_ids:
        fields["assessment_ids"] = "请至少勾选一个待公示的评估结论"
    if fields:
        raise InvalidInput("invalid_notice_batch", "公示信息有误，请按提示修改", fields)
    scope = (village or town).path
    today = clock.today()
    async with db.write_transaction():
        rows = await (
            Assessment.select(
                Assessment.id, Assessment.grade, Assessment.application,
                Assessment.onsite_started_at, Assessment.concluded_at,
                Assessment.application.person, Assessment.application.person.name,
                Assessment.application.person.sex, Assessment.application.person.birth_date,
                Assessment.application.person.village.name,
                Assessment.assessor_1.organisation.name)
            .where(_noticeable_query(actor, scope) & Assessment.id.is_in(assessment_ids)))
        if len(rows) != len(set(assessment_ids)):
            raise Conflict("not_noticeable", "所选评估中有的已在其他公示中、已核定或不在所选"
                           "镇街，请刷新页面后重新选择")
        batch = NoticeBatch(
            number=await db.next_daily_number(NoticeBatch.number, BATCH_PREFIX, today),
            town=town.id, village=village.id if village else None, region_path=scope,
            state=str(NoticeBatchState.DRAFT), created_by=actor.id)
        await batch.save()
        for row in rows:
            assessed = row["onsite_started_at"] or row["concluded_at"]
            await NoticeEntry(
                batch=batch.id, assessment=row["id"], application=row["application"],
                person=row["application.person"],
                masked_name=mask_name(row["application.person.name"]),
                sex=row["application.person.sex"],
                age=age_on(row["application.person.birth_date"], today),
                village_name=row["application.person.village.name"], grade=row["grade"],
                grade_label=GRADE_LABELS[row["grade"]],
                organisation_name=row["assessor_1.organisation.name"] or "",
                assessed_on=assessed.astimezone(clock.CHINA).date(),
                outcome=str(EntryOutcome.PENDING)).save()
        await audit.record(actor, "notice_batch.created", "notice_batch", batch.id,
                           after={"number": batch.number, "region": scope,
                                  "assessments": sorted(r["id"] for r in rows)})
    return batch.to_dict()


async def _batch(actor: Actor, batch_id: int) -> dict[str, Any]:
    row = await (NoticeBatch.select(NoticeBatch.all_columns(), NoticeBatch.town.name,
                                    NoticeBatch.village.name, NoticeBatch.policy_version.version)
                 .where((NoticeBatch.id == batch_id) & in_region(actor, NoticeBatch.region_path))
                 .first())
    if row is None:
        raise NotFound("notice_batch_not_found", f"公示批次 {batch_id} 不存在或不在您的管辖范围内")
    return row


async def publish(actor: Actor, batch_id: int, expected_version: int) -> dict[str, Any]:
    """DRAFT → PUBLISHED: the period is fixed now, from the policy in force today; the
    document for the notice boards is rendered by a worker after commit."""
    _require_clerk(actor, "发布公示")
    today = clock.today()
    async with db.write_transaction():
        batch = await _batch(actor, batch_id)
        if batch["state"] != NoticeBatchState.DRAFT:
            raise Conflict("wrong_state", f"公示 {batch['number']} 已发布，不能重复发布")
        in_force = await policy_in_force(batch["region_path"], today)
        policy = in_force.policy
        bureau = await _bureau_contact(batch["region_path"])
        with _calendar_known():
            period = notice_period(today, policy.notice_days, policy.notice_day_kind,
                                   clock.working_calendar())
        after = await db.update_versioned(NoticeBatch, batch_id, expected_version, {
            NoticeBatch.state: str(NoticeBatchState.PUBLISHED),
            NoticeBatch.policy_version: in_force.version_id, NoticeBatch.published_on: today,
            NoticeBatch.starts_on: period.starts_on, NoticeBatch.ends_on: period.ends_on,
            NoticeBatch.published_by: actor.id, NoticeBatch.published_at: clock.now(),
            NoticeBatch.bureau_address: bureau.bureau_address,
            NoticeBatch.bureau_phone: bureau.bureau_phone})
        await audit.record(actor, "notice_batch.published", "notice_batch", batch_id,
                           after={"starts_on": period.starts_on.isoformat(),
                                  "ends_on": period.ends_on.isoformat(),
                                  "notice_days": policy.notice_days,
                                  "day_kind": policy.notice_day_kind,
                                  "policy_version": in_force.version_id})
        await outbox.enqueue("notices.render_document", batch_id)
    return after


async def _bureau_contact(region_path: str) -> regions.PoolingRegion:
    """The pooling region with its bureau's address and phone; Conflict naming what to fill
    in when either is missing (a notice never prints a placeholder)."""
    pooling = await regions.pooling_region_of(region_path)
    missing = missing_bureau_contact(pooling.bureau_address if pooling else "",
                                     pooling.bureau_phone if pooling else "")
    if pooling is None or missing:
        raise Conflict("bureau_contact_missing",
                       f"本统筹地区尚未填写医保经办机构的{'和'.join(missing)}，公示上必须印明，"
                       "暂不能发布。请系统管理员在“地区管理”中填写后再发布",
                       {"bureau": "、".join(missing)})
    return pooling


# --- objections --------------------------------------------------------------------------

def client_key(ip: str, secret: str) -> str:
    """The rate-limit key of a public client: a keyed hash, so no IP address is stored."""
    return hashlib.sha256(f"{secret}:{ip}".encode()).hexdigest()


async def record_objection(actor: Actor, entry_id: int, *, objector_name: str,
                           objector_phone: str, relation: str, reason: str, channel: str,
                           key: str, received_on: date | None = None) -> dict[str, Any]:
    """An objection to one entry. On the public page (channel `online`) only during the
    period and within the rate limits; a clerk records one received on paper, by phone or in
    person (on a day within the period) until the batch is closed."""
    public = actor.kind == ActorKind.public
    if not public:
        _require_clerk(actor, "登记异议")
    fields: dict[str, str] = {}
    name = objector_name.strip()
    if not 2 <= len(name) <= 50:
        fields["objector_name"] = "请填写异议人的真实姓名（2到50个字）"
    if problem := phone_problem(objector_phone.strip()):
        fields["objector_phone"] = problem
    if relation not in RELATIONS:
        fields["relation"] = "请选择与被评估人的关系"
    if not 10 <= len(reason.strip()) <= 2000:
        fields["reason"] = "请写明异议的理由（10到2000个字），例如您了解到的实际生活能力情况"
    if (public and channel != "online") or (not public and channel not in CHANNELS):
        fields["channel"] = "请选择异议的来源"
    today = clock.today()
    day = today if public else (received_on or today)
    async with db.write_transaction():
        entry = await (NoticeEntry.select(NoticeEntry.all_columns(),
                                          NoticeEntry.batch.state, NoticeEntry.batch.starts_on,
                                          NoticeEntry.batch.ends_on, NoticeEntry.batch.number,
                                          NoticeEntry.batch.region_path)
                       .where(NoticeEntry.id == entry_id).first())
        if entry is None or (not public and actor.region_path and not region_covers(
                actor.region_path, entry["batch.region_path"])):
            raise NotFound("notice_entry_not_found", "该公示条目不存在")
        if entry["batch.state"] != NoticeBatchState.PUBLISHED:
            raise Conflict("notice_not_open", "该公示未在公示期内，不能提出异议")
        period = NoticePeriod(entry["batch.starts_on"], entry["batch.ends_on"])
        if not objection_open(period, day):
            if public:
                raise Conflict("notice_not_open", f"公示期为 {period.published_on.isoformat()} 至 "
                               f"{period.ends_on.isoformat()}，现在不能提出异议")
            fields["received_on"] = (f"收到日期应在公示期内（{period.published_on.isoformat()}"
                                     f" 至 {period.ends_on.isoformat()}），不能晚于今天")
        if day > today:
            fields["received_on"] = "收到日期不能晚于今天"
        if fields:
            raise InvalidInput("invalid_objection", "异议信息有误，请按提示修改", fields)
        await _check_not_recorded(entry_id, objector_phone.strip(), public)
        if public:
            await _check_public_limit(key, objector_phone.strip())
        objection = Objection(
            entry=entry_id, channel=channel, objector_name=name,
            objector_phone=objector_phone.strip(), relation=relation, reason=reason.strip(),
            client_key=key, recorded_by=None if public else actor.id,
            received_at=clock.now() if day == today else datetime.combine(
                day, datetime.min.time(), clock.CHINA))
        await objection.save()
        await audit.record(actor, "notice.objection_received", "notice_entry", entry_id,
                           after={"channel": channel, "batch": entry["batch.number"],
                                  "objection": objection.id, "relation": relation},
                           note=reason.strip()[:200])
    return objection.to_dict()


async def _check_not_recorded(entry_id: int, phone: str, public: bool) -> None:
    """One objection per phone and entry, whichever the channel: a form sent twice (or a
    paper objection from someone who already objected online) is not a second objection."""
    if await Objection.exists().where((Objection.entry == entry_id)
                                      & (Objection.objector_phone == phone)):
        message = ("您对这条公示的异议已经收到，无需重复提交；经办机构会按规定组织重新评估并联系您"
                   if public else "这个联系电话对该条公示的异议已经登记过，无需重复登记")
        raise DomainError("duplicate_objection", message, status_code=409)


async def _check_public_limit(key: str, phone: str) -> None:
    recent = await Objection.count().where(
        ((Objection.client_key == key) | (Objection.objector_phone == phone))
        & (Objection.received_at >= clock.now() - timedelta(hours=1)))
    if recent >= PUBLIC_LIMIT_PER_HOUR:
        raise DomainError("too_many_objections", "提交过于频繁，请一小时后再试；"
                          "如有急事请拨打公示上的联系电话", status_code=429)


# --- closing -------------------------------------------------------------------------------

async def close_due(today: date) -> int:
    """Close every published batch whose period has ended (the scheduler's daily job; also
    catches up any days missed). Idempotent: a closed batch is not closed again."""
    due = await NoticeBatch.select(NoticeBatch.id).where(
        (NoticeBatch.state == str(NoticeBatchState.PUBLISHED)) & (NoticeBatch.ends_on < today))
    closed = 0
    for batch in due:  # close_batch re-checks the state and the day under its transaction
        closed += await close_batch(batch["id"], today)
    return closed


async def close_batch(batch_id: int, today: date) -> int:
    """PUBLISHED → CLOSED and an outcome for every entry: no objection → decision; objection
    → re-assessment by two other assessors; case closed meanwhile → withdrawn."""
    async with db.write_transaction():
        batch = await NoticeBatch.select().where(NoticeBatch.id == batch_id).first()
        if batch["state"] != NoticeBatchState.PUBLISHED or not batch_due_to_close(
                batch["ends_on"], today):
            return 0
        await db.update_versioned(NoticeBatch, batch_id, batch["version"], {
            NoticeBatch.state: str(NoticeBatchState.CLOSED), NoticeBatch.closed_at: clock.now()})
        entries = await NoticeEntry.select(
            NoticeEntry.id, NoticeEntry.assessment, NoticeEntry.application.state,
            NoticeEntry.person.deceased_on).where(NoticeEntry.batch == batch_id)
        objected = {r["entry"] for r in await Objection.select(Objection.entry).where(
            Objection.entry.is_in([e["id"] for e in entries] or [0]))}
        outcomes: dict[str, int] = {}
        decided: list[tuple[dict[str, Any], EntryOutcome]] = []
        for entry in entries:
            if (entry["application.state"] != ApplicationState.ASSIGNED
                    or entry["person.deceased_on"] is not None):
                outcome = EntryOutcome.WITHDRAWN
            elif entry["id"] in objected:
                outcome = EntryOutcome.OBJECTED
            else:
                outcome = EntryOutcome.NO_OBJECTION
            await NoticeEntry.update({NoticeEntry.outcome: str(outcome)}).where(
                NoticeEntry.id == entry["id"])
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            decided.append((entry, outcome))
        # The close is recorded before what follows from it, so a case's timeline reads
        # 公示期满 → 核定 (or → 重新评估).
        await audit.record(SYSTEM, "notice_batch.closed", "notice_batch", batch_id,
                           after={"outcomes": outcomes})
        for entry, outcome in decided:
            if outcome == EntryOutcome.NO_OBJECTION:
                await entitlements.decide(SYSTEM, entry["assessment"], "no_objection", today)
            elif outcome == EntryOutcome.OBJECTED:
                await _try_reassessment(entry["id"], today)
    return 1


async def _try_reassessment(entry_id: int, today: date) -> None:
    try:
        await assign_reassessment(SYSTEM, entry_id, today)
    except Conflict as exc:
        # Not enough other assessors: the entry waits on the clerk's batch page.
        await audit.record(SYSTEM, "notice.reassessment_unassigned", "notice_entry", entry_id,
                           note=exc.message)


async def assign_reassessment(actor: Actor, entry_id: int, today: date) -> dict[str, Any]:
    """Two assessors who did not assess the first time; due within N working days."""
    if actor.kind != ActorKind.system:
        _require_clerk(actor, "分派重新评估")
    async with db.write_transaction():
        entry = await (NoticeEntry.select(
            NoticeEntry.all_columns(), NoticeEntry.assessment.assessor_1,
            NoticeEntry.assessment.assessor_2, NoticeEntry.assessment.region_path,
            NoticeEntry.application.state, NoticeEntry.person.deceased_on)
            .where(NoticeEntry.id == entry_id).first())
        if entry is None or (actor.region_path and not region_covers(
                actor.region_path, entry["assessment.region_path"])):
            raise NotFound("notice_entry_not_found", "该公示条目不存在")
        if entry["outcome"] != EntryOutcome.OBJECTED or entry["reassessment"] is not None:
            raise Conflict("wrong_state", "只有有异议且尚未分派的条目需要分派重新评估")
        if (entry["application.state"] != ApplicationState.ASSIGNED
                or entry["person.deceased_on"] is not None):
            # Closed while the objection waited (withdrawn, or the person died).
            raise Conflict("case_closed", "该案件已办结（申请已撤回或关闭，或被评估人已死亡），"
                           "无需重新评估")
        region_path = entry["assessment.region_path"]
        # 复评 (29号): not the first assessment's organisation, nor anyone who took part.
        first = await assessments.participants_of(entry["assessment"])
        (one, two), record = await draw_assessors(
            region_path, on=today, exclude=first.user_ids,
            exclude_organisations=first.organisation_ids, person_id=entry["person"])
        policy = (await policy_in_force(region_path, today)).policy
        with _calendar_known():
            due_on = working_days_after(today, policy.reassessment_working_days,
                                        clock.working_calendar())
        reassessment = Assessment(
            application=entry["application"], region_path=region_path, kind="reassessment",
            state=str(AssessmentState.ASSIGNED), assessor_1=one, assessor_2=two, due_on=due_on,
            draw=json.dumps({**record, "application": entry["application"],
                             "objection_entry": entry_id}, ensure_ascii=False))
        await reassessment.save()
        await NoticeEntry.update({NoticeEntry.reassessment: reassessment.id}).where(
            NoticeEntry.id == entry_id)
        await audit.record(actor, "assessment.assigned", "assessment", reassessment.id, after={
            "application": entry["application"], "assessor_1": one, "assessor_2": two,
            "kind": "reassessment", "exclude": record["exclude"],
            "exclusions": record["exclusions"], "due_on": due_on.isoformat(),
            "seed": record["seed"]})
        await audit.record(actor, "notice.reassessment_assigned", "notice_entry", entry_id,
                           after={"assessment": reassessment.id})
    return reassessment.to_dict()


async def after_conclusion(actor: Actor, assessment: dict[str, Any], today: date) -> None:
    """A re-assessment's reviewed conclusion is final: decide now, unless the policy wants
    it noticed again (then it waits for the next batch like a first conclusion)."""
    if assessment["kind"] != "reassessment":
        return
    policy = (await policy_in_force(assessment["region_path"], today)).policy
    if not policy.renotice_after_reassessment:
        await entitlements.decide(actor, assessment["id"], "reassessment", today)


# --- reading -------------------------------------------------------------------------------

# The clerk's to-do filters of the batch list (ltc.desk.queues counts the same rows).
TODO_LABELS = {"close": "公示期满、待结束", "objected": "公示中收到异议",
               "reassess": "有异议、待重新评估"}


def _todo(todo: str, today: date) -> Any:
    if todo == "close":
        return (NoticeBatch.state == str(NoticeBatchState.PUBLISHED)) & (
            NoticeBatch.ends_on < today)
    if todo == "objected":
        return (NoticeBatch.state == str(NoticeBatchState.PUBLISHED)) & NoticeBatch.id.is_in(
            Objection.select(Objection.entry.batch))
    if todo == "reassess":
        return NoticeBatch.id.is_in(NoticeEntry.select(NoticeEntry.batch).where(
            (NoticeEntry.outcome == str(EntryOutcome.OBJECTED))
            & NoticeEntry.reassessment.is_null()))
    return None


async def list_batches(actor: Actor, state: str = "", search: str = "", before_id: int = 0,
                       limit: int = 50, todo: str = "") -> list[dict[str, Any]]:
    """The actor's notice batches, newest first (keyset: `before_id` is the last id shown).
    `search`: the batch number, its town or village, or a person on it as the people search
    finds them (name, pinyin initials, ID, phone); `todo`: one of TODO_LABELS."""
    query = NoticeBatch.select(NoticeBatch.all_columns(), NoticeBatch.town.name,
                               NoticeBatch.village.name).where(
        in_region(actor, NoticeBatch.region_path))
    if before_id:
        query = query.where(NoticeBatch.id < before_id)
    if state:
        query = query.where(NoticeBatch.state == state)
    if text := " ".join(search.split()):
        condition = (NoticeBatch.number.like(text.upper() + "%")
                     | db.contains(NoticeBatch.town.name, text)
                     | db.contains(NoticeBatch.village.name, text))
        if (listed := people.person_search(NoticeEntry.person, text)) is not None:
            condition = condition | NoticeBatch.id.is_in(
                NoticeEntry.select(NoticeEntry.batch).where(listed))
        query = query.where(condition)
    if (condition := _todo(todo, clock.today())) is not None:
        query = query.where(condition)
    return await query.order_by(NoticeBatch.id, ascending=False).limit(max(1, min(limit, 500)))


async def todo_count(actor: Actor, todo: str) -> int:
    """How many batches list_batches(todo=...) shows: for the workbench and navigation."""
    return await NoticeBatch.count().where(in_region(actor, NoticeBatch.region_path)
                                           & _todo(todo, clock.today()))


async def entries_of(batch_id: int) -> list[dict[str, Any]]:
    rows = await NoticeEntry.select(
        NoticeEntry.all_columns(), NoticeEntry.application.number,
        NoticeEntry.person.name).where(NoticeEntry.batch == batch_id).order_by(NoticeEntry.id)
    objections = await Objection.select().where(
        Objection.entry.is_in([r["id"] for r in rows] or [0])).order_by(Objection.id)
    for row in rows:
        row["objections"] = [o for o in objections if o["entry"] == row["id"]]
    return rows


async def get_batch(actor: Actor, batch_id: int) -> dict[str, Any]:
    batch = await _batch(actor, batch_id)
    batch["entries"] = await entries_of(batch_id)
    return batch


async def public_batches(today: date, town_code: str = "") -> list[dict[str, Any]]:
    """Current notices, and those closed in the last RECENT_DAYS days, newest first;
    optionally of one town."""
    query = NoticeBatch.select(
        NoticeBatch.id, NoticeBatch.number, NoticeBatch.state, NoticeBatch.published_on,
        NoticeBatch.starts_on, NoticeBatch.ends_on, NoticeBatch.town.name,
        NoticeBatch.village.name).where(
        (NoticeBatch.state != str(NoticeBatchState.DRAFT))
        & (NoticeBatch.ends_on >= today - timedelta(days=RECENT_DAYS)))
    if town_code:
        query = query.where(NoticeBatch.town.code == town_code)
    return await query.order_by(NoticeBatch.published_on, ascending=False).limit(500)


async def public_towns() -> list[regions.Place]:
    return await regions.at_level("town")


async def public_batch(number: str) -> dict[str, Any]:
    """A published notice as the public sees it: masked entries only."""
    return await _public(NoticeBatch.number == number, number)


async def public_batch_by_id(batch_id: int) -> dict[str, Any]:
    return await _public(NoticeBatch.id == batch_id, str(batch_id))


async def _public(where: Any, label: str) -> dict[str, Any]:
    batch = await NoticeBatch.select(
        NoticeBatch.id, NoticeBatch.number, NoticeBatch.state, NoticeBatch.published_on,
        NoticeBatch.starts_on, NoticeBatch.ends_on, NoticeBatch.region_path,
        NoticeBatch.document_sha256, NoticeBatch.town.name, NoticeBatch.village.name,
        NoticeBatch.bureau_address, NoticeBatch.bureau_phone,
        NoticeBatch.policy_version.definition).where(
        where & (NoticeBatch.state != str(NoticeBatchState.DRAFT))).first()
    if batch is None:
        raise NotFound("notice_not_found", f"公示 {label} 不存在")
    batch["entries"] = await NoticeEntry.select(
        NoticeEntry.id, NoticeEntry.masked_name, NoticeEntry.sex, NoticeEntry.age,
        NoticeEntry.village_name, NoticeEntry.grade_label, NoticeEntry.organisation_name,
        NoticeEntry.assessed_on).where(NoticeEntry.batch == batch["id"]).order_by(NoticeEntry.id)
    batch["open"] = objection_open(_period(batch), clock.today()) and (
        batch["state"] == NoticeBatchState.PUBLISHED)
    batch["policy"] = parsed_definition(batch.pop("policy_version.definition"))
    return batch


async def document_context(batch_id: int, public_url: str) -> dict[str, Any]:
    """Everything the notice document shows; only stored, published values, so rendering
    the same batch again gives the same document."""
    batch = await public_batch_by_id(batch_id)
    policy = batch["policy"]
    return {
        "batch": {"number": batch["number"], "town_name": batch["town.name"],
                  "village_name": batch["village.name"], "starts_on": batch["starts_on"],
                  "ends_on": batch["ends_on"]},
        "entries": batch["entries"], "notice_days": policy.notice_days,
        "day_kind_label": DayKind(policy.notice_day_kind).label,
        "objection_how": policy.objection_how,
        "public_url": f"{public_url}/n/{batch['number']}",
        "bureau": {"name": policy.bureau_name, "phone": batch["bureau_phone"],
                   "address": batch["bureau_address"]},
        "issued_on": batch["published_on"],
    }


async def to_notice_count(actor: Actor) -> int:
    """Concluded assessments in the clerk's region waiting to be put on a notice."""
    return await Assessment.count().where(_noticeable_query(actor, actor.region_path or ""))


async def noticeable_towns(actor: Actor) -> list[tuple[regions.Place, int]]:
    """The towns with concluded assessments waiting for a notice, and how many each (a
    notice is drawn up per town): the workbench links each to its list."""
    # Counted per place in SQL (a few rows per village), summed per town here.
    rows = await Assessment.select(Assessment.region_path, Count()
                                   ).where(_noticeable_query(actor, actor.region_path or "")
                                           ).group_by(Assessment.region_path)
    per_town: Counter[str] = Counter()
    for r in rows:
        per_town["/".join(r["region_path"].split("/")[:2])] += r["count"]
    towns = await regions.at_level(
        "town", under=actor.region_path.split("/")[0] if actor.region_path else None)
    return [(t, per_town[t.path]) for t in towns if per_town.get(t.path)]
