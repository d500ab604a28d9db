"""Each role's work queues (待办队列): what waits, how much, the most urgent first, and where
the work is done. The workbench shows them; the navigation shows their counts as badges.

Every queue names a count (cheap: one COUNT or a short list, the same rows its link shows)
and, where its items have a due date, the items themselves (the national handling time
limits of 医保办发〔2024〕22号, materials' due date, notice periods, expiry dates), of which
the workbench shows the least time left first. A queue that fails to count is left out and
logged: a workbench or a page never breaks for want of a number."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from litestar import Request

from ltc import clock
from ltc.agreements import service as agreements
from ltc.applications import service as applications
from ltc.applications.deadline_pages import running_deadlines, watched_cases
from ltc.applications.rules import ApplicationState
from ltc.assessments import experts
from ltc.assessments import service as assessments
from ltc.careplans import service as careplans
from ltc.careplans.rules import PlanState
from ltc.decision_events import service as decision_events
from ltc.entitlements import service as entitlements
from ltc.identity import Actor, Role
from ltc.inspections import queries as inspections
from ltc.inspections.rules import Rule
from ltc.notices import service as notices
from ltc.payouts import queries as payouts
from ltc.policy.service import upcoming_version_count
from ltc.providers.service import provider_home
from ltc.returnvisits import queries as returnvisits
from ltc.sanctions import service as sanctions
from ltc.spotchecks import service as spotchecks
from ltc.staff import service as staff
from ltc.visits import queries as visits
from ltc.visits.rules import Review
from ltc.web.guards import actor_of

log = logging.getLogger(__name__)

SHOWN = 5  # items per queue on the workbench
LONG_LIST = 200  # how many rows a queue reads to find its most urgent ones
WORKING_DAYS = "个工作日"


@dataclass(frozen=True)
class Item:
    """One thing waiting: what, where it is done, and when it is due."""

    label: str
    href: str
    due_on: date | None = None
    days_left: int | None = None  # negative: overdue by that many
    unit: str = "天"  # 22号 limits count working days
    note: str = ""
    expiry: bool = False  # an end of validity (已过期), not a time to act within (已超时)

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0


@dataclass(frozen=True)
class Queue:
    key: str
    label: str
    href: str
    count: int
    items: list[Item] = field(default_factory=list)
    nav: str | None = None

    @property
    def overdue(self) -> int:
        return sum(1 for i in self.items if i.overdue)

    @property
    def overdue_label(self) -> str:
        return "已过期" if any(i.expiry for i in self.items if i.overdue) else "已超时"

    def urgency(self) -> tuple[int, int]:
        """Queues with work first; among them the one whose first item is due soonest."""
        left = [i.days_left for i in self.items if i.days_left is not None]
        return (0 if self.count else 1, min(left) if left else 10_000)


Count = Callable[[Actor], Awaitable[int]]
Items = Callable[[Actor, date], Awaitable[list[Item]]]


@dataclass(frozen=True)
class Spec:
    key: str
    label: str
    href: str  # "{month}" in it: today's month, as 2026-01
    count: Count
    items: Items | None = None
    nav: str | None = None  # the navigation entry whose badge adds this count


def _most_urgent(items: list[Item]) -> list[Item]:
    return sorted(items, key=lambda i: (i.days_left is None, i.days_left or 0))[:SHOWN]


def _expiring(label: str, href: str, ends: date | None, today: date, note: str) -> Item:
    return Item(label, href, ends, (ends - today).days if ends else None, note=note,
                expiry=True)


# --- applications and their 22号 deadlines ---------------------------------------------------

def _in_state(state: ApplicationState) -> Count:
    async def count(actor: Actor) -> int:
        return await applications.count_in_state(actor, state)
    return count


def _case_deadlines(state: ApplicationState) -> Items:
    async def items(actor: Actor, today: date) -> list[Item]:
        return [_deadline_item(r, f"/applications/{r['id']}")
                for r in await running_deadlines(actor, (state,), today)]
    return items


def _deadline_item(row: dict[str, Any], href: str) -> Item:
    d = row["deadline"]
    return Item(f"{row['number']} {row['person.name']}", href, d.due_on, d.remaining,
                WORKING_DAYS, d.kind.label)


async def _materials_due(actor: Actor, today: date) -> list[Item]:
    rows, _ = await applications.list_applications(
        actor, state=str(ApplicationState.SUPPLEMENT), limit=LONG_LIST)
    return [Item(f"{r['number']} {r['person.name']}", f"/applications/{r['id']}",
                 r["materials_due_on"], (r["materials_due_on"] - today).days
                 if r["materials_due_on"] else None, note="补交材料期限")
            for r in rows]


async def _watched_count(actor: Actor) -> int:
    return len(await watched_cases(actor))


async def _watched(actor: Actor, today: date) -> list[Item]:
    return [_deadline_item(r, f"/applications/{r['id']}")
            for r in await watched_cases(actor, today)]


# --- notices ---------------------------------------------------------------------------------

def _notice_todo(todo: str) -> Count:
    async def count(actor: Actor) -> int:
        return await notices.todo_count(actor, todo)
    return count


async def _to_notice(actor: Actor, today: date) -> list[Item]:
    return [Item(town.name, f"/notice-batches/new?town={town.code}", note=f"{n} 份")
            for town, n in await notices.noticeable_towns(actor)]


async def _to_close(actor: Actor, today: date) -> list[Item]:
    return [Item(f"{b['number']} {b['town.name']}{b['village.name'] or ''}",
                 f"/notice-batches/{b['id']}", b["ends_on"], None,
                 note=f"公示期至 {b['ends_on'].isoformat()}")
            for b in await notices.list_batches(actor, todo="close")]


# --- plans, agreements, staff, entitlements --------------------------------------------------

async def _plans(actor: Actor, today: date) -> list[Item]:
    rows = await careplans.list_plans(actor, state=str(PlanState.PROPOSED), limit=LONG_LIST)
    return [Item(f"{r['person.name']} · {r['provider.name']}", f"/care-plans/{r['id']}",
                 note=f"计划自 {r['starts_on'].isoformat()} 起")
            for r in rows[:SHOWN]]


async def _agreements(actor: Actor, today: date) -> list[Item]:
    rows = await agreements.list_agreements(actor, expiring=True, limit=LONG_LIST)
    return [_expiring(f"{r['number']} {r['organisation.name'] or r['caregiver_name'] or ''}",
                      f"/agreements/{r['id']}", r["ends_on"], today, "协议")
            for r in rows]


async def _handovers(actor: Actor, today: date) -> list[Item]:
    rows = await sanctions.list_exits(actor, state="OPEN", limit=LONG_LIST)
    return [Item(f"{r['organisation_name']} 退出", f"/sanctions/exits/{r['id']}",
                 r["exit_on"], (r["exit_on"] - today).days,
                 note=f"{r['open_items']} 名服务对象待交接" if r["open_items"] else "待完成退出")
            for r in rows]


async def _certificates(actor: Actor) -> int:
    return await staff.certificates_due_count(actor)


async def _certificate_items(actor: Actor, today: date) -> list[Item]:
    rows = await staff.list_staff(actor, status="active", expiry="due", limit=LONG_LIST)
    return [_expiring(f"{r['name']} · {r['organisation.name']}", f"/staff/{r['id']}",
                      r["certificate_until"], today, "资格证书") for r in rows]


async def _incomplete_staff(actor: Actor) -> int:
    return await staff.count_staff(actor, expiry="incomplete")


async def _renewals(actor: Actor, today: date) -> list[Item]:
    rows = await entitlements.list_entitlements(actor, renewal_due=True, limit=LONG_LIST)
    return [_expiring(f"{r['person.name']} {r['grade_label']}", f"/entitlements/{r['id']}",
                      r["expires_on"], today, "待遇资格") for r in rows]


# --- payouts ---------------------------------------------------------------------------------

def _payout_todo(todo: str) -> Count:
    async def count(actor: Actor) -> int:
        return await payouts.todo_count(actor, todo)
    return count


def _payout_items(todo: str, opens: str = "", note: str = "") -> Items:
    """The batches of `todo`, each linking to its page (plus `opens`), noted with `note`, or
    with the return reason or the state."""
    async def items(actor: Actor, today: date) -> list[Item]:
        return [Item(f"{b['number']} {b['month_label']}", f"/payouts/{b['id']}{opens}",
                     note=note or (b["returned_reason"] if todo == "returned"
                                   else b["state_label"]))
                for b in await payouts.list_batches(actor, todo=todo, limit=SHOWN)]
    return items


# --- assessors -------------------------------------------------------------------------------

async def _mine(actor: Actor, returned: bool) -> list[dict[str, Any]]:
    return await assessments.my_assignments(actor, "RETURNED" if returned else "ASSIGNED")


async def _assigned_count(actor: Actor) -> int:
    return await assessments.count_assignments(actor, "ASSIGNED")


async def _returned_count(actor: Actor) -> int:
    return await assessments.count_assignments(actor, "RETURNED")


async def _assessment_deadlines(actor: Actor, rows: list[dict[str, Any]], today: date,
                                note: str = "") -> list[Item]:
    """Each assessment with its case's conclusion-letter deadline (the time the whole
    assessment has), the least time left first."""
    letters = {r["id"]: r["deadline"] for r in await running_deadlines(
        actor, (ApplicationState.ACCEPTED, ApplicationState.ASSIGNED), today,
        application_ids=[r["application"] for r in rows])}
    items = []
    for r in rows:
        d = letters.get(r["application"])
        label = f"{r['application.number']} {r['application.person.name']}"
        items.append(Item(label, f"/assessments/{r['id']}", d.due_on if d else None,
                          d.remaining if d else None, WORKING_DAYS,
                          r.get("return_reason") or note or (d.kind.label if d else "")))
    return items


async def _assigned(actor: Actor, today: date) -> list[Item]:
    return await _assessment_deadlines(actor, await _mine(actor, returned=False), today)


async def _returned(actor: Actor, today: date) -> list[Item]:
    return await _assessment_deadlines(actor, await _mine(actor, returned=True), today)


async def _confirmation_count(actor: Actor) -> int:
    return len(await experts.confirmation_queue(actor))


async def _confirmations(actor: Actor, today: date) -> list[Item]:
    return [Item(f"{r['application.number']} {r['application.person.name']}",
                 f"/assessments/{r['id']}", note="待专家确认")
            for r in (await experts.confirmation_queue(actor))[:SHOWN]]


async def _return_visits(actor: Actor, today: date) -> list[Item]:
    return [Item(f"{r['person_name']} {r['visit_on']:%m月%d日}", f"/return-visits/{r['id']}",
                 note=r["provider_name"])
            for r in await returnvisits.pending_calls(actor, SHOWN)]


async def _spotchecks_waiting(actor: Actor) -> list[dict[str, Any]]:
    return [r for r in await spotchecks.expert_list(actor) if r["state"] == "PENDING"]


async def _spotcheck_count(actor: Actor) -> int:
    return await spotchecks.waiting_count(actor)


async def _spotchecks(actor: Actor, today: date) -> list[Item]:
    return [Item(f"{r['application_number']} {r['person_name']}", f"/spotchecks/{r['id']}",
                 note="待专家复核") for r in (await _spotchecks_waiting(actor))[:SHOWN]]


# --- reviewers -------------------------------------------------------------------------------

async def _review_count(actor: Actor) -> int:
    return await assessments.review_queue_count(actor)


async def _reviews(actor: Actor, today: date) -> list[Item]:
    return await _assessment_deadlines(actor, await assessments.review_queue(actor), today)


async def _flagged_count(actor: Actor) -> int:
    return await visits.review_queue_count(actor)


async def _flagged(actor: Actor, today: date) -> list[Item]:
    return [Item(f"{r['person.name']} {r['visit_on'].isoformat()}",
                 f"/visit-review/{r['id']}", note=r.get("provider.name") or "")
            for r in await visits.review_queue(actor, limit=SHOWN)]


async def _inspection_count(actor: Actor) -> int:
    return await inspections.open_count(actor)


async def _inspections(actor: Actor, today: date) -> list[Item]:
    return [Item(f"{Rule(r['rule']).label} {r['staff_name'] or ''}".strip(),
                 f"/inspections/{r['id']}", note=r["provider_name"])
            for r in await inspections.open_findings(actor, limit=SHOWN)]


# --- providers -------------------------------------------------------------------------------

# provider_home is the provider's heaviest read: one work_queues call (and the home page
# that passes its own copy in) computes it once for both the count and the items.
_provider_home: ContextVar[dict[str, Any] | None] = ContextVar("provider_home", default=None)


async def _behind(actor: Actor, today: date) -> list[dict[str, Any]]:
    if (home := _provider_home.get()) is None:
        home = await provider_home(actor, today)
        _provider_home.set(home)
    return [d for d in home["due"] if d["remaining"] and d["active_today"]]


async def _due_visit_count(actor: Actor) -> int:
    return len(await _behind(actor, clock.today()))


async def _due_visits(actor: Actor, today: date) -> list[Item]:
    # Overdue first, as provider_home orders them; "due" here is a pace, not a date.
    return [Item(d["name"], f"/visits/new?person={d['person_id']}",
                 note=("已逾期 · " if d["overdue"] else "今日应上门 · " if d["due_today"]
                       else "") + f"本月还差 {d['remaining']} 次")
            for d in await _behind(actor, today)]


def _visits_in_review(review: Review) -> Count:
    async def count(actor: Actor) -> int:
        return await visits.count_visits(actor, str(review))
    return count


# A rejected visit cannot be corrected, only looked into: the queue shows this month's (the
# month still being settled), so it does not grow for ever, and adds to no badge.
async def _rejected_count(actor: Actor) -> int:
    return await visits.count_visits(actor, str(Review.rejected), month=clock.today())


async def _rejected(actor: Actor, today: date) -> list[Item]:
    return [Item(f"{r['person.name']} {r['visit_on'].isoformat()}", f"/visits/{r['id']}",
                 note="被驳回，请核实情况")
            for r in await visits.visits_for(actor, review=str(Review.rejected), month=today,
                                             limit=SHOWN)]



async def _to_declare_count(actor: Actor) -> int:
    return len(await payouts.provider_drafts(actor, undeclared_only=True))


async def _to_declare(actor: Actor, today: date) -> list[Item]:
    return [Item(f"{d['number']} {d['month_label']}", f"/provider/declarations/{d['id']}",
                 note=f"{d['open_disputes']}条异议待初审" if d["open_disputes"]
                 else f"{d['lines']}条明细待核对申报")
            for d in (await payouts.provider_drafts(actor, undeclared_only=True))[:SHOWN]]


async def _latest_statements(actor: Actor) -> list[dict[str, Any]]:
    rows = await payouts.provider_statements(actor)
    return [r for r in rows if r["ready"] and r["month_label"] == rows[0]["month_label"]]


async def _statement_count(actor: Actor) -> int:
    return len(await _latest_statements(actor))


async def _statements(actor: Actor, today: date) -> list[Item]:
    return [Item(f"{r['number']} {r['month_label']}", "/provider/statements",
                 note=r["payment_label"]) for r in await _latest_statements(actor)]


# --- admins ----------------------------------------------------------------------------------

async def _dead_delivery_count(actor: Actor) -> int:
    return (await decision_events.dead_deliveries(0))[1]


async def _dead_delivery_items(actor: Actor, today: date) -> list[Item]:
    rows, _ = await decision_events.dead_deliveries(SHOWN)
    return [Item(f"{r['subscriber_name']} · {r['event_type']} · {r['stream']} 第{r['sequence']}号",
                 f"/admin/event-deliveries/{r['id']}", note=r["last_error"]) for r in rows]


async def _upcoming_policies(actor: Actor) -> int:
    return await upcoming_version_count(clock.today())


def _a(state: ApplicationState) -> str:
    return f"/applications?state={state}"


QUEUES: dict[Role, list[Spec]] = {
    Role.clerk: [
        Spec("submitted", "待受理的申请", _a(ApplicationState.SUBMITTED),
             _in_state(ApplicationState.SUBMITTED), _case_deadlines(ApplicationState.SUBMITTED),
             nav="/applications"),
        Spec("supplement", "待申请人补正材料", _a(ApplicationState.SUPPLEMENT),
             _in_state(ApplicationState.SUPPLEMENT), _materials_due),
        Spec("accepted", "已受理、待抽取评估员", _a(ApplicationState.ACCEPTED),
             _in_state(ApplicationState.ACCEPTED), _case_deadlines(ApplicationState.ACCEPTED),
             nav="/applications"),
        Spec("to_notice", "待公示的评估结论", "/notice-batches/new", notices.to_notice_count,
             _to_notice, nav="/notice-batches"),
        Spec("to_close", "公示期满、待结束的公示", "/notice-batches?todo=close",
             _notice_todo("close"), _to_close, nav="/notice-batches"),
        Spec("objected", "公示中收到异议的公示", "/notice-batches?todo=objected",
             _notice_todo("objected")),
        Spec("reassess", "有异议、待重新评估的公示", "/notice-batches?todo=reassess",
             _notice_todo("reassess"), nav="/notice-batches"),
        Spec("plans", "待确认的护理计划", f"/care-plans?state={PlanState.PROPOSED}",
             careplans.waiting_for_clerk, _plans, nav="/care-plans"),
        Spec("renewals", "待安排复评的待遇资格", "/entitlements?renewal=true",
             entitlements.renewals_due, _renewals, nav="/entitlements"),
        Spec("agreements", "30天内到期的协议", "/agreements?expiring=true",
             agreements.expiring_soon_count, _agreements, nav="/agreements"),
        Spec("handovers", "办理中的机构退出（交接服务对象、完成退出）",
             "/sanctions/exits?state=OPEN", sanctions.open_exit_count, _handovers,
             nav="/sanctions/exits"),
        Spec("certificates", "资格证书已过期或即将到期的服务人员",
             "/staff?status=active&expiry=due", _certificates, _certificate_items,
             nav="/staff"),
        Spec("returned_batches", "审核退回的结算批次", "/payouts?todo=returned",
             _payout_todo("returned"), _payout_items("returned"), nav="/payouts"),
        # Each opens its batch's export check: the transfers and the payees without an
        # account (reading every payee's account takes seconds at a city's million payees,
        # so only when opened).
        Spec("to_export", "已审批待导出的结算批次", "/payouts?todo=approved",
             _payout_todo("approved"), _payout_items(
                 "approved", opens="?check=export#export", note="导出前请核对收款账户")),
        Spec("disputes", "服务机构申报异议待初审的结算批次", "/payouts?todo=disputes",
             _payout_todo("disputes"), _payout_items("disputes"), nav="/payouts"),
        Spec("return_visits", "待电话回访的上门服务", "/return-visits?result=pending",
             returnvisits.pending_count, _return_visits, nav="/return-visits"),
    ],
    Role.assessor: [
        Spec("assigned", "分派给我的评估任务", "/assessments?state=ASSIGNED",
             _assigned_count, _assigned, nav="/assessments"),
        Spec("returned", "审核退回给我的评估", "/assessments?state=RETURNED",
             _returned_count, _returned, nav="/assessments"),
        Spec("confirmations", "待我专家确认的评估", "/assessments/confirmations",
             _confirmation_count, _confirmations, nav="/assessments/confirmations"),
        Spec("spotchecks", "待我复核的评估抽查", "/spotchecks/mine", _spotcheck_count,
             _spotchecks, nav="/spotchecks/mine"),
    ],
    Role.reviewer: [
        Spec("assessments", "待审核的评估结论", "/review", _review_count, _reviews,
             nav="/review"),
        Spec("visits", "待审核的异常服务记录", "/visit-review", _flagged_count, _flagged,
             nav="/visit-review"),
        Spec("inspections", "待核实的稽核发现", "/inspections?state=open", _inspection_count,
             _inspections, nav="/inspections"),
        Spec("payouts", "待审批的月度结算", "/payouts?todo=submitted",
             _payout_todo("submitted"), _payout_items("submitted"), nav="/payouts"),
        Spec("deadlines", "临近或超过办理时限的案件", "/deadlines", _watched_count, _watched),
    ],
    Role.provider: [
        Spec("due_visits", "本月还需上门的服务对象", "/#month-title", _due_visit_count,
             _due_visits),
        Spec("rejected", "本月被驳回的服务记录",
             f"/visits?review={Review.rejected}&month={{month}}", _rejected_count,
             _rejected),
        Spec("flagged", "被系统标记、等待审核的服务记录", f"/visits?review={Review.flagged}",
             _visits_in_review(Review.flagged)),
        Spec("declare", "待申报的结算明细", "/provider/declarations", _to_declare_count,
             _to_declare, nav="/provider/declarations"),
        Spec("statements", "最新一期结算单", "/provider/statements", _statement_count,
             _statements),
    ],
    Role.admin: [
        Spec("policies", "已录入、尚未生效的政策版本", "/admin/policies", _upcoming_policies),
        Spec("dead_deliveries", "24小时仍未送达的事件（死信），请联系对方后重新投递",
             "/admin/event-deliveries?state=dead", _dead_delivery_count, _dead_delivery_items,
             nav="/admin/event-deliveries"),
        Spec("incomplete", "档案不全的服务人员", "/staff?expiry=incomplete",
             _incomplete_staff, nav="/staff"),
        Spec("certificates", "资格证书已过期或即将到期的服务人员",
             "/staff?status=active&expiry=due", _certificates, _certificate_items,
             nav="/staff"),
    ],
}


async def _safely(what: str, actor: Actor, work: Awaitable[Any]) -> Any:
    try:
        return await work
    except Exception:  # a queue that cannot count is left out, never a broken page
        log.exception("work queue %s of %s failed", what, actor.label)
        return None


async def work_queues(actor: Actor, today: date | None = None, *,
                      counted: dict[str, int | None] | None = None,
                      home: dict[str, Any] | None = None) -> list[Queue]:
    """The actor's queues, those with work first, most urgent first. `counted`: the counts
    this request already made for the badges (queue_counts), not made again; `home`: the
    provider's provider_home, when the caller has it."""
    today = today or clock.today()
    counted = counted or {}
    found = []
    reset = _provider_home.set(home)
    try:
        for spec in QUEUES.get(actor.role, []) if actor.role else []:
            count = (counted[spec.key] if spec.key in counted
                     else await _safely(spec.key, actor, spec.count(actor)))
            if count is None:
                continue
            items: list[Item] = []
            if count and spec.items is not None:
                items = _most_urgent(
                    await _safely(spec.key, actor, spec.items(actor, today)) or [])
            found.append(Queue(spec.key, spec.label, spec.href.format(month=f"{today:%Y-%m}"),
                               count, items, spec.nav))
    finally:
        _provider_home.reset(reset)
    return sorted(found, key=Queue.urgency)


async def badge_counts(actor: Actor) -> dict[str, int | None]:
    """The counts of the queues that feed a navigation badge, by queue (None: failed)."""
    return {spec.key: await _safely(spec.key, actor, spec.count(actor))
            for spec in (QUEUES.get(actor.role, []) if actor.role else []) if spec.nav}


async def navigation_counts(actor: Actor) -> dict[str, int]:
    """What waits behind each navigation entry: the sum of its queues' counts."""
    return _badges(actor, await badge_counts(actor))


def _badges(actor: Actor, counted: dict[str, int | None]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for spec in QUEUES.get(actor.role, []) if actor.role else []:
        if spec.nav and (n := counted.get(spec.key)):
            counts[spec.nav] = counts.get(spec.nav, 0) + n
    return counts


POLL_HEADER = "x-ltc-poll"  # sent by ltc.js's data-poll refetch, which swaps only <main>


def _is_page(request: Request) -> bool:
    """A full HTML page: not the API, a download, static files, an htmx fragment or the
    progress poll (it never replaces the navigation, so its badges would be wasted)."""
    path = request.url.path
    return (request.method == "GET" and not path.startswith(("/api/", "/static/", "/schema"))
            and not path.endswith((".csv", ".pdf", ".json", ".png", ".jpg", ".zip"))
            and "hx-request" not in request.headers and POLL_HEADER not in request.headers)


async def count_for_navigation(request: Request) -> None:
    """Before a page: its navigation's badges, counted once per request (ltc.web.pages);
    the queue counts behind them stay on the request for the workbench (queue_counts)."""
    actor = actor_of(request)
    if actor is not None and actor.role and _is_page(request):
        counted = await badge_counts(actor)
        request.state.queue_counts = counted
        request.state.navigation_counts = _badges(actor, counted)


def queue_counts(request: Request) -> dict[str, int | None]:
    """The queue counts count_for_navigation made for this request (none: an empty dict)."""
    return getattr(request.state, "queue_counts", {})
