"""The monthly payout pages over HTTP: the list and a computed December batch with its
totals, lines and one line explained visit by visit; roles; maker-checker refusals shown
on the page with nothing changed; a stale version; the bank's result file refused whole
when wrong, imported once when right; a provider's own statements."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from conftest import csrf_token, make_user, sign_in
from support.cases import FrozenClock, register, user_actor
from test_visits import REQUIRED, at, december_world, log, visit

from ltc import clock
from ltc.accounts.tables import User
from ltc.organisations.tables import Organisation
from ltc.payouts import queries, service
from ltc.payouts.tables import Payment, PayoutBatch, PayoutLine

pytestmark = pytest.mark.anyio


async def computed_december(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, dict[str, Any]]:
    """December's world with three visits (one flagged by an overlap, so not paid) and the
    December batch computed on 2 January."""
    world = await december_world(monkeypatch)
    # Each logged the day it was done (later would be 补录, flagged and not paid).
    frozen = FrozenClock(monkeypatch, date(2026, 12, 7))
    await log(world.nurse, visit(world, started_at=at(7, 9), ended_at=at(7, 9, 45)))
    frozen.set(date(2026, 12, 14))
    frozen.advance(hours=2)
    await log(world.nurse, visit(world, started_at=at(14, 9), ended_at=at(14, 9, 45)))
    await log(world.nurse, visit(world, started_at=at(14, 9, 30), ended_at=at(14, 10, 15),
                                 items=[*REQUIRED]))
    frozen.set(date(2027, 1, 2))
    batch = await service.create_batch(world.staff.clerk, "370983", date(2026, 12, 1))
    batch = await service.compute(batch["id"])
    return world, batch


@pytest.fixture
async def december(database_url, monkeypatch) -> tuple[Any, dict[str, Any]]:
    return await computed_december(monkeypatch)


async def test_a_search_too_broad_for_a_list_of_people_still_finds_all_of_them(
        december, monkeypatch) -> None:
    """A surname alone matches more people than are looked up by id (SEARCH_PEOPLE, 0 here):
    the lines of every one of them are searched, not of the first few only. 张丽, who has
    no line, comes first in name order."""
    world, batch = december
    await register(world.staff, name="张丽")
    monkeypatch.setattr(queries, "SEARCH_PEOPLE", 0)
    found = await queries.lines(batch, q="张")
    assert {line["person.name"] for line in found} == {"张秀英"}
    # Which people a cut sub-select keeps is the engine's choice: the search has none.
    assert "LIMIT" not in str(await queries._line_search("张")).upper()


async def _post(client, path: str, **fields: Any) -> Any:
    token = await csrf_token(client, "/payouts")
    return await client.post(path, data={"_csrf_token": token, **fields},
                             follow_redirects=False)


async def _state(batch_id: int) -> str:
    return (await PayoutBatch.select(PayoutBatch.state).where(
        PayoutBatch.id == batch_id).first())["state"]


async def test_list_detail_and_line_explanation(client, december) -> None:
    _, batch = december
    await sign_in(client, "clerk")
    listing = await client.get("/payouts")
    assert listing.status_code == 200
    assert "月度结算" in listing.text and batch["number"] in listing.text and "草稿" in listing.text
    shown = await client.get(f"/payouts/{batch['id']}")
    assert shown.status_code == 200
    text = shown.text
    for expected in ("2026年12月", "上门护理服务费", "新城街道", "月度基金预算", "无上月结算批次",
                     "提交审批", "重新计算", "不计费 1"):
        assert expected in text, expected
    line = await PayoutLine.select().where((PayoutLine.batch == batch["id"])
                                           & (PayoutLine.benefit == "home_visit")).first()
    assert line["visits_counted"] == 2 and line["visits_excluded"] == 1
    explained = await client.get(f"/payouts/{batch['id']}/lines/{line['id']}")
    assert explained.status_code == 200
    assert "计费上门2次" in explained.text and "不计费1次" in explained.text
    assert "待审核（审核通过后在以后月份补发）" in explained.text and "王丽" in explained.text
    # Filters: only lines with excluded visits, a payee search, another benefit.
    assert "张秀英" in (await client.get(f"/payouts/{batch['id']}?excluded=true")).text
    assert "没有符合条件的明细" in (await client.get(
        f"/payouts/{batch['id']}?benefit=institutional")).text
    assert "张秀英" in (await client.get(f"/payouts/{batch['id']}?q=社区卫生")).text
    assert "没有符合条件的明细" in (await client.get(f"/payouts/{batch['id']}?q=无此人")).text
    # The beneficiary as the people search finds them: the name from its start.
    assert "没有符合条件的明细" not in (await client.get(f"/payouts/{batch['id']}?q=张秀")).text
    assert "没有符合条件的明细" in (await client.get(f"/payouts/{batch['id']}?q=秀英")).text
    assert "张秀英" in (await client.get(f"/payouts/{batch['id']}?town=370983001")).text
    assert "没有符合条件的明细" in (await client.get(
        f"/payouts/{batch['id']}?town=370983002")).text
    assert "没有符合条件的明细" in (await client.get(
        f"/payouts/{batch['id']}?after={line['id']}")).text
    # Another month of the same region cannot be made while December waits.
    refused = await _post(client, "/payouts", month="2026-11")
    assert refused.status_code == 409 and "尚未审批" in refused.text


async def test_roles_submitter_and_stale_version(client, december) -> None:
    _, batch = december
    await make_user("reviewer", username="reviewer2")
    await sign_in(client, "nurse")
    assert (await client.get("/payouts")).status_code == 403
    assert (await client.get(f"/payouts/{batch['id']}")).status_code == 403
    # The provider sees its statements page, empty until a batch is exported.
    assert "还没有结算单" in (await client.get("/provider/statements")).text

    await sign_in(client, "clerk")
    assert (await client.get("/provider/statements")).status_code == 403
    stale = await _post(client, f"/payouts/{batch['id']}", action="submit",
                        version=str(batch["version"] - 1))
    assert stale.status_code == 409 and "已被他人处理" in stale.text
    assert await _state(batch["id"]) == "DRAFT"
    done = await _post(client, f"/payouts/{batch['id']}", action="submit",
                       version=str(batch["version"]))
    assert done.status_code == 302
    assert await _state(batch["id"]) == "SUBMITTED"
    version = batch["version"] + 1
    # A clerk may not approve.
    refused = await _post(client, f"/payouts/{batch['id']}", action="approve",
                          version=str(version))
    assert refused.status_code == 403 and "无权审批结算" in refused.text
    # Nor may the submitter after becoming a reviewer: another reviewer must.
    await User.update({User.role: "reviewer"}).where(User.username == "clerk")
    await sign_in(client, "clerk")
    page = await client.get(f"/payouts/{batch['id']}")
    assert "此批次由您提交，须由另一位审核人员审批" in page.text
    refused = await _post(client, f"/payouts/{batch['id']}", action="approve",
                          version=str(version))
    assert refused.status_code == 403 and "提交人不能审批自己提交的结算" in refused.text
    assert await _state(batch["id"]) == "SUBMITTED"
    # A return needs a reason.
    await sign_in(client, "reviewer2")
    refused = await _post(client, f"/payouts/{batch['id']}", action="return",
                          version=str(version), reason=" ")
    assert refused.status_code == 422
    assert "请填写退回原因" in refused.text
    assert "审批提示" in refused.text and "上月无结算批次" in refused.text
    approved = await _post(client, f"/payouts/{batch['id']}", action="approve",
                           version=str(version))
    assert approved.status_code == 302
    assert await _state(batch["id"]) == "APPROVED"
    ledger = await client.get("/payouts/deposits")
    assert "新城街道社区卫生服务中心" in ledger.text


async def test_export_and_bank_result(client, december) -> None:
    world, batch = december
    clerk = world.staff.clerk
    await service.submit(clerk, batch["id"], batch["version"])
    await service.approve(world.staff.reviewer, batch["id"], batch["version"] + 1)
    await sign_in(client, "clerk")
    # The plan reads every payee's account: on request, not with every look at the page.
    plain = (await client.get(f"/payouts/{batch['id']}")).text
    assert "核对导出" in plain and "笔转账" not in plain
    planned = (await client.get(f"/payouts/{batch['id']}", params={"check": "export"})).text
    assert "导出后银行代发文件将包含 <b>1</b> 笔转账" in planned
    exported = await _post(client, f"/payouts/{batch['id']}", action="export",
                           version=str(batch["version"] + 2))
    assert exported.status_code == 302
    bank = await client.get(f"/payouts/{batch['id']}/bank-file.csv")
    assert bank.status_code == 200
    assert "payment_reference" in bank.text and "JS370983202612-000001" in bank.text
    assert "attachment" in bank.headers["content-disposition"]
    payment = await Payment.select().where(Payment.batch == batch["id"]).first()

    async def upload(name: str, body: str) -> Any:
        token = await csrf_token(client, "/payouts")
        return await client.post(f"/payouts/{batch['id']}/bank-result",
                                 data={"_csrf_token": token},
                                 files={"file": (name, body.encode(), "text/csv")},
                                 follow_redirects=False)

    wrong = await upload("回单.txt", "x")
    assert wrong.status_code == 422 and "银行回单须为 .csv 文件" in wrong.text
    wrong = await upload("回单.csv", "参考号,状态\nx,paid\n")
    assert wrong.status_code == 422 and "第1行应为表头" in wrong.text
    wrong = await upload("回单.csv", "payment_reference,status,reason\n"
                                    f"{payment['reference']},paid,\nJS-UNKNOWN,failed,\n")
    assert wrong.status_code == 422 and "第3行支付失败须写明原因" in wrong.text
    wrong = await upload("回单.csv", "payment_reference,status,reason\nJS-UNKNOWN,paid,\n")
    assert wrong.status_code == 422 and "不属于本批次" in wrong.text
    assert (await Payment.select().where(Payment.id == payment["id"]).first())[
        "status"] == "pending"
    assert await _state(batch["id"]) == "EXPORTED"

    good = f"payment_reference,status,reason\n{payment['reference']},paid,\n"
    done = await upload("回单.csv", good)
    assert done.status_code == 302
    shown = await client.get(done.headers["location"])
    assert "支付成功1笔" in shown.text and "已对账" in shown.text
    again = await upload("回单.csv", good)
    assert "该回单已导入，未做任何更改" in (await client.get(again.headers["location"])).text
    assert await _state(batch["id"]) == "RECONCILED"

    # The provider sees the month among its statements; another organisation does not.
    await sign_in(client, "nurse")
    statements = await client.get("/provider/statements")
    assert batch["number"] in statements.text
    await make_user("provider", username="other", organisation="T-Q")
    await sign_in(client, "other")
    assert batch["number"] not in (await client.get("/provider/statements")).text
    missing = await client.get(f"/provider/statements/{batch['id']}/statement.pdf")
    assert missing.status_code == 404


async def test_computing_status_and_recompute(client, december) -> None:
    _, batch = december
    await sign_in(client, "clerk")
    now = clock.now()
    await PayoutBatch.update({PayoutBatch.computing_since: now - timedelta(minutes=2)}).where(
        PayoutBatch.id == batch["id"])
    running = await client.get(f"/payouts/{batch['id']}")
    assert "计算中：已用时 2 分钟（上次计算用时 0 秒）" in running.text
    assert "提交审批" not in running.text
    await PayoutBatch.update({PayoutBatch.computing_since: now - timedelta(minutes=20)}).where(
        PayoutBatch.id == batch["id"])
    interrupted = await client.get(f"/payouts/{batch['id']}")
    assert "计算已中断" in interrupted.text and "重新计算" in interrupted.text
    again = await _post(client, f"/payouts/{batch['id']}", action="compute",
                        version=str(batch["version"]))
    assert again.status_code == 302
    shown = await client.get(again.headers["location"])
    assert "已开始重新计算" in shown.text and "计算中：已用时 0 分钟" in shown.text


async def test_deposit_ledger_and_statements(client, december) -> None:
    world, batch = december
    await service.submit(world.staff.clerk, batch["id"], batch["version"])
    await service.approve(world.staff.reviewer, batch["id"], batch["version"] + 1)
    organisation = world.organisation_id
    await sign_in(client, "clerk")
    ledger = await client.get(f"/payouts/deposits/{organisation}")
    assert "¥8.00" in ledger.text and batch["number"] in ledger.text
    assert "退还或扣除" not in ledger.text
    refused = await _post(client, f"/payouts/deposits/{organisation}", kind="released",
                          amount="3", reason="年度考核合格")
    assert refused.status_code == 403

    await sign_in(client, "reviewer")
    page = await client.get(f"/payouts/deposits/{organisation}")
    seen = re.search(r'name="ledger_version" value="(\d+)"', page.text)[1]
    over = await _post(client, f"/payouts/deposits/{organisation}", kind="released",
                       amount="100", reason="年度考核合格", ledger_version=seen)
    assert over.status_code == 422 and "金额超过保证金余额8.00元" in over.text
    garbled = await _post(client, f"/payouts/deposits/{organisation}", kind="released",
                          amount="三元", reason="年度考核合格", ledger_version=seen)
    assert garbled.status_code == 422 and "请填写金额，如 1200.00" in garbled.text
    done = await _post(client, f"/payouts/deposits/{organisation}", kind="released",
                       amount="3.00", reason="年度考核合格", ledger_version=seen)
    assert done.status_code == 302
    shown = await client.get(done.headers["location"])
    for expected in ("质量保证金已处理", "¥5.00", "年度考核合格", "退还"):
        assert expected in shown.text, expected
    # The same form sent again (a double click) releases nothing more.
    again = await _post(client, f"/payouts/deposits/{organisation}", kind="released",
                        amount="3.00", reason="年度考核合格", ledger_version=seen)
    assert again.status_code == 409 and "可能是同一表单提交了两次" in again.text
    assert await service.deposit_balance(organisation) == 500
    unversioned = await _post(client, f"/payouts/deposits/{organisation}", kind="released",
                              amount="1.00", reason="年度考核合格")
    assert unversioned.status_code == 422 and await service.deposit_balance(organisation) == 500

    # After export, the provider downloads its statement (rendered on demand when the
    # worker has not yet); staff download it from the batch too.
    exported = await service.export(world.staff.clerk, batch["id"], batch["version"] + 2)
    await sign_in(client, "nurse")
    listing = await client.get("/provider/statements")
    assert batch["number"] in listing.text and "¥152.00" in listing.text
    pdf = await client.get(f"/provider/statements/{batch['id']}/statement.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "下载结算单" in (await client.get("/provider/statements")).text
    await sign_in(client, "clerk")
    line = await PayoutLine.select(PayoutLine.id).where(PayoutLine.batch == batch["id"]).first()
    staff_pdf = await client.get(f"/payouts/{batch['id']}/lines/{line['id']}/statement.pdf")
    assert staff_pdf.status_code == 200 and staff_pdf.content == pdf.content
    page = await client.get(f"/payouts/{batch['id']}")
    link = re.search(rf'href="(/payouts/{batch["id"]}/documents/\d+)"', page.text)
    named = await Organisation.select(Organisation.name).where(
        Organisation.id == organisation).first()
    # The statement is named by its organisation, not by the payee key (org:<id>).
    assert link is not None and f"结算单（{named['name']}）" in page.text
    assert "（org:" not in page.text
    recorded = await client.get(link[1])
    assert recorded.status_code == 200 and recorded.content == pdf.content
    assert exported["bank_file_sha256"]
    unknown = await client.get(f"/payouts/{batch['id']}/lines/999999/statement.pdf")
    assert unknown.status_code == 404


async def test_each_total_stands_beside_last_months(client, december, monkeypatch) -> None:
    world, batch = december
    checker = await make_user("reviewer", username="checker")
    batch = await service.submit(world.staff.clerk, batch["id"], batch["version"])
    await service.approve(await user_actor(checker["id"]), batch["id"], batch["version"])
    FrozenClock(monkeypatch, date(2027, 2, 2))
    january = await service.create_batch(world.staff.clerk, "370983", date(2027, 1, 1))
    await service.compute(january["id"])
    await sign_in(client, "clerk")
    text = (await client.get(f"/payouts/{january['id']}")).text
    row = re.search(r"<tr><td>上门护理服务费</td>(.*?)</tr>", text)
    assert row is not None and row[1].endswith("<td>¥152.00</td>")  # December's 2 visits
    town = re.search(r"<tr><td>新城街道</td>(.*?)</tr>", text)
    assert town is not None and town[1] == ("<td>0</td><td>¥0.00</td><td>¥0.00</td>"
                                            "<td>¥0.00</td><td>¥152.00</td>")  # none in Jan


async def test_a_clerk_outside_the_region_sees_nothing_of_the_batch(client, december) -> None:
    _, batch = december
    await make_user("clerk", username="townclerk", region="370983002")  # 老城街道 only
    await sign_in(client, "townclerk")
    line = await PayoutLine.select(PayoutLine.id).where(PayoutLine.batch == batch["id"]).first()
    assert batch["number"] not in (await client.get("/payouts")).text
    for path in (f"/payouts/{batch['id']}", f"/payouts/{batch['id']}/lines/{line['id']}",
                 f"/payouts/{batch['id']}/bank-file.csv"):
        assert (await client.get(path)).status_code == 404, path
    refused = await _post(client, f"/payouts/{batch['id']}", action="submit",
                          version=str(batch["version"]))
    assert refused.status_code == 404
    assert await _state(batch["id"]) == "DRAFT"


async def test_the_batch_list_searches_by_month_or_number_and_exports(client, december,
                                                                      monkeypatch) -> None:
    world, december_batch = december
    checker = await make_user("reviewer", username="checker")
    submitted = await service.submit(world.staff.clerk, december_batch["id"],
                                     december_batch["version"])
    await service.approve(await user_actor(checker["id"]), submitted["id"],
                          submitted["version"])
    FrozenClock(monkeypatch, date(2027, 2, 2))
    january = await service.create_batch(world.staff.clerk, "370983", date(2027, 1, 1))
    await sign_in(client, "clerk")

    async def listed(**params: str) -> set[str]:
        response = await client.get("/payouts", params=params)
        assert response.status_code == 200, params
        text = response.text
        return {n for n in (december_batch["number"], january["number"]) if n in text}

    for q in ("2026-12", "2026年12月", "202612", "2026/12", december_batch["number"]):
        assert await listed(q=q) == {december_batch["number"]}, q
    assert await listed() == {december_batch["number"], january["number"]}
    for q in ("2026-13", "0000-01", "0000年1月"):  # no such month: nothing, never a 500
        assert await listed(q=q) == set(), q
        assert (await client.get("/payouts/export.csv", params={"q": q})).status_code == 200
    assert await listed(state="APPROVED") == {december_batch["number"]}
    assert await listed(state="DRAFT") == {january["number"]}
    csv = await client.get("/payouts/export.csv", params={"q": "2026-12"})
    assert csv.status_code == 200 and csv.text.count("\n") == 2
    assert december_batch["number"] in csv.text and "2026年12月" in csv.text
