"""A batch's page figures stored when it is computed (ltc.payouts.figures): the same totals,
approval checks and provider payees as summing its lines (as a batch computed before they
were stored still shows), replaced, not added to, by a recomputation."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from conftest import make_user
from support.cases import FrozenClock, user_actor
from test_payout_pages import computed_december
from test_visits import log, visit

from ltc import clock
from ltc.payouts import figures, queries, service
from ltc.payouts.tables import (
    PayoutBatchAnomaly,
    PayoutBatchFigures,
    PayoutBatchProvider,
    PayoutBatchTotal,
    PayoutLine,
)

pytestmark = pytest.mark.anyio


async def _shown(batch: dict) -> tuple:
    return (await figures.totals(batch["id"]), await figures.checks(batch),
            await figures.provider_payees(batch["id"]))


async def _forget(batch_id: int) -> None:
    for table in (PayoutBatchTotal, PayoutBatchAnomaly, PayoutBatchProvider,
                  PayoutBatchFigures):
        await table.delete().where(table.batch == batch_id)


async def test_stored_figures_equal_the_lines_summed(database_url, monkeypatch) -> None:
    world, december = await computed_december(monkeypatch)
    checker = await user_actor((await make_user("reviewer", username="checker"))["id"])
    december = await service.submit(world.staff.clerk, december["id"], december["version"])
    await service.approve(checker, december["id"], december["version"])
    # One visit in January against December's two: the provider is down 50 %.
    frozen = FrozenClock(monkeypatch, date(2027, 1, 11))
    january_visit = datetime(2027, 1, 11, 9, tzinfo=clock.CHINA)
    await log(world.nurse, visit(world, started_at=january_visit,
                                 ended_at=january_visit + timedelta(minutes=45)))
    frozen.set(date(2027, 2, 2))
    january = await service.create_batch(world.staff.clerk, "370983", date(2027, 1, 1))
    january = await service.compute(january["id"])
    for batch in (december, january):
        assert await PayoutBatchFigures.exists().where(PayoutBatchFigures.batch == batch["id"])
    stored = [await _shown(december), await _shown(january)]
    by_benefit, by_town = stored[0][0]
    assert sum(t["net"] for t in by_benefit.values()) == december["net_fen"] > 0
    assert sum(t["lines"] for t in by_town.values()) == december["line_count"]
    assert stored[0][1]["compared"] is False and stored[1][1]["compared"] is True
    assert [(p["previous"], p["current"], p["why"]) for p in stored[1][1]["payees"]] == [
        (15200, 7600, "环比减少超过30%")]
    assert stored[0][1]["excluded_lines"] == await PayoutLine.count().where(
        (PayoutLine.batch == december["id"]) & (PayoutLine.visits_excluded > 0)) > 0
    assert [(p["payee_name"], p["lines"], p["net_fen"]) for p in stored[0][2]] == [
        ("新城街道社区卫生服务中心", 1, 15200)]
    for batch in (december, january):
        await _forget(batch["id"])
    assert [await _shown(december), await _shown(january)] == stored
    detail = await queries.batch_detail(world.staff.clerk, january["id"])
    assert [t["previous_net"] for t in detail["by_benefit"]] == [
        t["net"] for t in stored[0][0][0].values()]
    shown = await _shown(january)
    await service.compute(january["id"])  # a draft recomputed: replaced, not added to
    for table in (PayoutBatchFigures, PayoutBatchProvider):
        assert await table.count().where(table.batch == january["id"]) == 1
    assert await _shown(january) == shown
