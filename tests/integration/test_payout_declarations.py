"""The provider's declaration before payment (申报, 22号): on December's computed draft the
provider T-P (新城街道社区卫生服务中心, its nurse 王丽) reads its own lines and declares
them, or disputes one with a reason; the clerk's first review (初审) settles the dispute;
a recomputation that changes the lines voids the declaration; open disputes hold the
submission back; another provider sees and declares nothing of it; the statement prints
the declaration and the outcomes."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from datetime import date
from typing import Any

import pytest
from conftest import csrf_token, make_user, sign_in
from support.cases import user_actor
from support.payout_cases import add_visit
from test_payout_pages import computed_december

from ltc import documents
from ltc.audit.tables import AuditEvent
from ltc.desk.queues import work_queues
from ltc.errors import Conflict, Forbidden, InvalidInput, NotFound
from ltc.payouts import declarations, rules, service, statements
from ltc.payouts.tables import PayoutBatch, PayoutDeclaration, PayoutDispute, PayoutLine
from ltc.visits import review as visit_review
from ltc.visits.tables import Visit

pytestmark = pytest.mark.anyio


@pytest.fixture
async def december(database_url, monkeypatch) -> tuple[Any, dict[str, Any]]:
    return await computed_december(monkeypatch)


def _payee(world) -> str:
    return declarations.organisation_payee(world.organisation_id)


async def _fingerprint(batch_id: int, world) -> str:
    return rules.lines_fingerprint(await declarations.payee_lines(batch_id, _payee(world)))


async def _line(batch_id: int) -> dict[str, Any]:
    return await PayoutLine.select().where((PayoutLine.batch == batch_id)
                                           & (PayoutLine.benefit == "home_visit")).first()


async def _version(batch_id: int) -> int:
    return (await PayoutBatch.select(PayoutBatch.version).where(
        PayoutBatch.id == batch_id).first())["version"]


async def _events(action: str) -> int:
    return await AuditEvent.count().where(AuditEvent.action == action)


def _pdf_text(sha256: str) -> str:
    """A stored PDF's text, without white space (line breaks fall anywhere)."""
    return "".join(subprocess.run(["pdftotext", str(documents.path_for(sha256)), "-"],
                                  capture_output=True, text=True, check=True).stdout.split())


async def _queue(actor, key: str) -> int:
    return next(q.count for q in await work_queues(actor) if q.key == key)


async def test_a_declaration_sent_twice_records_one(december) -> None:
    world, batch = december
    assert await _queue(world.nurse, "declare") == 1
    sha = await _fingerprint(batch["id"], world)
    first, twin = await asyncio.gather(service.declare(world.nurse, batch["id"], sha),
                                       service.declare(world.nurse, batch["id"], sha))
    again = await service.declare(world.nurse, batch["id"], sha)
    assert first["id"] == twin["id"] == again["id"] and first["declarer"] == "王丽"
    assert await PayoutDeclaration.count() == 1
    assert await _events("payout_declaration.declared") == 1
    assert await _queue(world.nurse, "declare") == 0
    # A recomputation that changes nothing keeps it.
    await service.compute(batch["id"])
    assert await declarations.current_declaration(batch["id"], _payee(world)) is not None


async def test_a_recomputation_that_changes_the_lines_voids_the_declaration(december) -> None:
    world, batch = december
    sha = await _fingerprint(batch["id"], world)
    await service.declare(world.nurse, batch["id"], sha)
    await add_visit(world, date(2026, 12, 21))  # a late, accepted visit: one more paid
    await service.compute(batch["id"])
    assert await declarations.current_declaration(batch["id"], _payee(world)) is None
    voided = await PayoutDeclaration.select().first()
    assert voided["voided_at"] is not None and voided["void_reason"] == rules.VOID_CHANGED
    assert await _events("payout_declaration.voided") == 1
    # The page's old fingerprint no longer declares anything; the new lines do.
    with pytest.raises(Conflict) as stale:
        await service.declare(world.nurse, batch["id"], sha)
    assert stale.value.code == "lines_changed"
    fresh = await _fingerprint(batch["id"], world)
    assert fresh != sha
    declared = await service.declare(world.nurse, batch["id"], fresh)
    assert declared["line_count"] == 1 and declared["net_fen"] == 3 * 7600
    assert await _queue(world.nurse, "declare") == 0


async def test_dispute_first_review_and_submission(december) -> None:
    world, batch = december
    clerk = world.staff.clerk
    line = await _line(batch["id"])
    await service.declare(world.nurse, batch["id"], await _fingerprint(batch["id"], world))
    with pytest.raises(InvalidInput) as empty:
        await service.dispute(world.nurse, batch["id"], line["id"], "  ")
    assert "reason" in empty.value.fields
    raised = await service.dispute(world.nurse, batch["id"], line["id"],
                                   "12月14日第二次上门实际已完成，应计费")
    assert await declarations.current_declaration(batch["id"], _payee(world)) is None
    with pytest.raises(Conflict) as twice:
        await service.dispute(world.nurse, batch["id"], line["id"], "再次提出")
    assert twice.value.code == "dispute_open"
    with pytest.raises(Conflict) as waiting:
        await service.declare(world.nurse, batch["id"], await _fingerprint(batch["id"], world))
    assert waiting.value.code == "disputes_open"
    assert await _queue(clerk, "disputes") == 1

    # Submission waits for the first review and names what is open.
    with pytest.raises(Conflict) as blocked:
        await service.submit(clerk, batch["id"], await _version(batch["id"]))
    assert blocked.value.code == "disputes_open"
    assert "新城街道社区卫生服务中心：张秀英 上门护理服务费（2026年12月）" in blocked.value.message
    assert (await PayoutBatch.select().first())["state"] == "DRAFT"

    # Every problem of the review at once; a rejection needs a reason the provider reads.
    with pytest.raises(InvalidInput) as bad:
        await service.settle_dispute(clerk, raised["id"], raised["version"], "", "", "")
    assert set(bad.value.fields) == {"decision"}
    with pytest.raises(InvalidInput) as bare:
        await service.settle_dispute(clerk, raised["id"], raised["version"], "rejected", "", "")
    assert set(bare.value.fields) == {"answer"}
    with pytest.raises(Forbidden):  # a provider cannot settle its own dispute
        await service.settle_dispute(world.nurse, raised["id"], raised["version"],
                                     "rejected", "", "不成立")
    settled = await service.settle_dispute(clerk, raised["id"], raised["version"], "rejected",
                                           "", "该次服务与上一次时间重叠，待复核后补发")
    assert settled["state"] == "rejected" and settled["settled_by"] == clerk.id
    with pytest.raises(Conflict):  # the same review sent twice
        await service.settle_dispute(clerk, raised["id"], raised["version"], "rejected", "",
                                     "重复")
    assert await _events("payout_dispute.rejected") == 1
    assert await _queue(clerk, "disputes") == 0

    # Declared again, then submitted, approved and exported: the statement prints both.
    await service.declare(world.nurse, batch["id"], await _fingerprint(batch["id"], world))
    submitted = await service.submit(clerk, batch["id"], await _version(batch["id"]))
    await service.approve(world.staff.reviewer, batch["id"], submitted["version"])
    await service.export(clerk, batch["id"], submitted["version"] + 1)
    context = await statements.statement_context(batch["id"], _payee(world))
    assert context["declaration"]["by"] == "王丽" and context["declaration"]["at"]
    (shown,) = context["disputes"]
    assert shown["state"] == "异议不成立" and shown["answer"].startswith("该次服务与上一次")
    assert shown["reason"] == "12月14日第二次上门实际已完成，应计费"
    printed = _pdf_text(await statements.statement_pdf(batch["id"], _payee(world)))
    for expected in ("由王丽申报，确认上述明细真实、完整", "异议不成立",
                     "12月14日第二次上门实际已完成，应计费"):
        assert expected in printed, expected


async def test_an_upheld_dispute_excludes_the_line_with_its_reason(december) -> None:
    world, batch = december
    clerk = world.staff.clerk
    line = await _line(batch["id"])
    before = (await PayoutBatch.select().first())["net_fen"]
    raised = await service.dispute(world.nurse, batch["id"], line["id"], "该参保人本月已转入机构")
    await service.settle_dispute(clerk, raised["id"], raised["version"], "upheld", "exclude",
                                 "核实后本期不予结算，待更正后调整")
    computing = await PayoutBatch.select().first()
    assert computing["computing_since"] is not None  # the upheld dispute recomputes
    with pytest.raises(Conflict) as busy:
        await service.declare(world.nurse, batch["id"], "")
    assert busy.value.code == "computing"
    after = await service.compute(batch["id"])
    assert await _line(batch["id"]) is None
    assert after["net_fen"] == before - line["net_fen"]
    # Nothing left of the provider's in this draft: nothing to declare or to see.
    assert await _queue(world.nurse, "declare") == 0
    with pytest.raises(NotFound):
        await service.declare(world.nurse, batch["id"], "")
    # Computed again, the exclusion stays.
    await service.compute(batch["id"])
    assert await _line(batch["id"]) is None
    assert await _events("payout_dispute.upheld") == 1


async def test_a_line_held_out_is_settled_in_the_next_batch_whatever_else_happens(
        december, monkeypatch) -> None:
    """本期不予结算 defers, it does not forfeit and it does not depend on chance: the next
    batch adjusts the held-out month under the facts then, whether or not anything else
    touched the person since (a later read of the person's page must not be what pays)."""
    from support.payout_cases import approved, computed, lines_of, reviewer

    world, batch = december
    clerk = world.staff.clerk
    line = await _line(batch["id"])
    raised = await service.dispute(world.nurse, batch["id"], line["id"], "该参保人本月已转入机构")
    await service.settle_dispute(clerk, raised["id"], raised["version"], "upheld", "exclude",
                                 "核实后本期不予结算，待核实后调整")
    december_batch = await service.compute(batch["id"])
    await approved(december_batch, clerk, await reviewer())
    january = await computed(monkeypatch, date(2027, 1, 1), clerk)
    adjustment = (await lines_of(january["id"]))["adjustment:home_visit"]
    assert (adjustment["person"], adjustment["service_month"], adjustment["gross_fen"]) == (
        line["person"], date(2026, 12, 1), line["gross_fen"])
    # Settled once: the month after adds nothing more for December.
    january = await approved(january, clerk, await reviewer("checker2"))
    february = await computed(monkeypatch, date(2027, 2, 1), clerk)
    assert "adjustment:home_visit" not in await lines_of(february["id"])


async def test_a_provider_sees_and_declares_only_its_own_lines(client, december) -> None:
    world, batch = december
    other = await user_actor((await make_user("provider", username="other",
                                              organisation="T-Q"))["id"])
    line = await _line(batch["id"])
    with pytest.raises(NotFound):
        await service.declare(other, batch["id"], await _fingerprint(batch["id"], world))
    with pytest.raises(NotFound):
        await service.dispute(other, batch["id"], line["id"], "不是我们的")
    await sign_in(client, "other")
    assert (await client.get(f"/provider/declarations/{batch['id']}")).status_code == 404
    assert batch["number"] not in (await client.get("/provider/declarations")).text
    assert await _queue(other, "declare") == 0
    assert await PayoutDeclaration.count() == 0 and await PayoutDispute.count() == 0


async def test_the_provider_and_the_clerk_over_http(client, december) -> None:
    _, batch = december
    await sign_in(client, "nurse")
    listing = await client.get("/provider/declarations")
    assert batch["number"] in listing.text and "待申报" in listing.text
    page = await client.get(f"/provider/declarations/{batch['id']}")
    assert page.status_code == 200 and "张秀英" in page.text and "计费上门2次" in page.text
    assert await _events("payout_declaration.lines_read") == 1  # names and amounts: a read
    line = await _line(batch["id"])
    token = await csrf_token(client, f"/provider/declarations/{batch['id']}")
    empty = await client.post(f"/provider/declarations/{batch['id']}", data={
        "_csrf_token": token, "action": "dispute", "line": str(line["id"]), "reason": ""})
    assert empty.status_code == 422 and "请写明异议理由" in empty.text
    disputed = await client.post(f"/provider/declarations/{batch['id']}", data={
        "_csrf_token": token, "action": "dispute", "line": str(line["id"]),
        "reason": "少计一次上门"}, follow_redirects=False)
    assert disputed.status_code == 302

    await sign_in(client, "clerk")
    shown = await client.get(f"/payouts/{batch['id']}")
    assert "少计一次上门" in shown.text and "未申报" in shown.text
    blocked = await client.post(f"/payouts/{batch['id']}", data={
        "_csrf_token": await csrf_token(client, "/payouts"), "action": "submit",
        "version": str(await _version(batch["id"]))})
    assert blocked.status_code == 409 and "申报异议未初审" in blocked.text
    dispute = await PayoutDispute.select().first()
    token = await csrf_token(client, "/payouts")
    incomplete = await client.post(f"/payouts/{batch['id']}", data={
        "_csrf_token": token, "action": "settle", "dispute": str(dispute["id"]),
        "dispute_version": str(dispute["version"]), "decision": "upheld"})
    assert incomplete.status_code == 422 and "请选择处理方式" in incomplete.text
    settled = await client.post(f"/payouts/{batch['id']}", data={
        "_csrf_token": token, "action": "settle", "dispute": str(dispute["id"]),
        "dispute_version": str(dispute["version"]), "decision": "rejected",
        "answer": "经核实已按实际计费"}, follow_redirects=False)
    assert settled.status_code == 302

    await sign_in(client, "nurse")
    page = await client.get(f"/provider/declarations/{batch['id']}")
    assert "异议不成立" in page.text and "经核实已按实际计费" in page.text
    sha = re.search(r'name="lines_sha256" value="([0-9a-f]{64})"', page.text)[1]
    token = await csrf_token(client, f"/provider/declarations/{batch['id']}")
    for _ in range(2):  # a double click declares once
        declared = await client.post(f"/provider/declarations/{batch['id']}", data={
            "_csrf_token": token, "action": "declare", "lines_sha256": sha},
            follow_redirects=False)
        assert declared.status_code == 302
    assert await PayoutDeclaration.count() == 1
    await sign_in(client, "clerk")
    assert "已申报：王丽" in (await client.get(f"/payouts/{batch['id']}")).text


async def test_undeclared_providers_are_recorded_with_the_submission(client, december) -> None:
    world, batch = december
    submitted = await service.submit(world.staff.clerk, batch["id"],
                                     await _version(batch["id"]))
    assert submitted["state"] == "SUBMITTED"
    event = await AuditEvent.select().where(
        AuditEvent.action == "payout_batch.submitted").first()
    assert json.loads(event["summary"])["note"] == "未申报的服务机构：新城街道社区卫生服务中心"
    await sign_in(client, "reviewer")
    page = await client.get(f"/payouts/{batch['id']}")
    assert "提交时仍未申报的服务机构：新城街道社区卫生服务中心" in page.text


async def test_an_upheld_dispute_recomputes_from_the_corrected_facts(december) -> None:
    world, batch = december
    line = await _line(batch["id"])
    assert line["visits_counted"] == 2 and line["visits_excluded"] == 1
    raised = await service.dispute(world.nurse, batch["id"], line["id"],
                                   "14日第二次上门被误标为时间重叠")
    # The cause fixed where it lies: the reviewer accepts the flagged visit.
    flagged = await Visit.select(Visit.id).where(Visit.review == "flagged").first()
    await visit_review.review(world.staff.reviewer, flagged["id"], "accept",
                              "两次服务内容不同，经核实均已完成")
    await service.settle_dispute(world.staff.clerk, raised["id"], raised["version"], "upheld",
                                 "recompute", "已核实，重新计算")
    await service.compute(batch["id"])
    fixed = await _line(batch["id"])
    assert fixed["visits_counted"] == 3 and fixed["net_fen"] == 3 * 7600
    context = await declarations.disputes(batch["id"], _payee(world))
    assert context[0]["outcome_label"] == rules.OUTCOMES["recompute"]
