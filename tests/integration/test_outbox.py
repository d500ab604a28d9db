"""The transactional outbox: jobs exist only for committed changes and run once, even when the
relay dies between sending a message and marking it sent. On the embedded broker and, when
LTC_TEST_BROKER_URL is set, on that broker too."""

import os
from dataclasses import replace
from pathlib import Path

import anyio
import dramatiq
import pytest

from ltc import db
from ltc.audit import service as audit
from ltc.audit.tables import AuditEvent
from ltc.identity import SYSTEM
from ltc.jobs import outbox
from ltc.jobs.broker import make_broker
from ltc.jobs.setup import install
from ltc.jobs.tables import JobReceipt, OutboxMessage

pytestmark = pytest.mark.anyio

EXTERNAL_BROKER = os.environ.get("LTC_TEST_BROKER_URL")


@pytest.fixture(params=["embedded", *(["external"] if EXTERNAL_BROKER else [])])
def broker_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "embedded":
        return f"sqlite:///{tmp_path / 'queue.sqlite3'}"
    return EXTERNAL_BROKER


async def _effects() -> int:
    return await AuditEvent.count().where(AuditEvent.action == "test.effect")


async def _run_worker_until_idle(broker: dramatiq.Broker) -> None:
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        await anyio.to_thread.run_sync(lambda: broker.join("default", timeout=30_000))
        await anyio.to_thread.run_sync(worker.join)
    finally:
        await anyio.to_thread.run_sync(worker.stop)


async def test_a_rolled_back_transaction_sends_nothing(database_url, broker_url) -> None:
    broker = make_broker(broker_url)
    broker.flush_all()
    with pytest.raises(RuntimeError):
        async with db.write_transaction():
            await outbox.enqueue("test.effect", "k1")
            raise RuntimeError("the state change failed")
    assert await OutboxMessage.count() == 0
    assert await outbox.relay_once(broker) == 0


async def test_a_committed_job_runs_once_even_if_the_relay_crashed_after_sending(
    database_url, broker_url, settings
) -> None:
    broker = install(replace(settings, broker_url=broker_url))
    broker.flush_all()

    async def effect(key: str) -> None:
        async with db.write_transaction():
            await audit.record(SYSTEM, "test.effect", "test", key)

    dramatiq.actor(effect, actor_name="test.effect", broker=broker)

    async with db.write_transaction():
        await outbox.enqueue("test.effect", "k1")

    # The relay claims the row and sends it, then dies before marking it sent.
    claimed = await outbox.claim(claim_seconds=0)
    await outbox.send(broker, claimed[0])
    await anyio.sleep(0.01)
    # A restarted relay finds the claim expired and sends it again, same message id.
    assert await outbox.relay_once(broker) == 1
    row = await OutboxMessage.select().first()
    assert row["sent_at"] is not None and row["attempts"] == 2

    await _run_worker_until_idle(broker)
    db.bind(db.make_engine(database_url))
    assert await _effects() == 1
    assert await JobReceipt.count().where(JobReceipt.message_id == row["message_id"]) == 1
    assert await outbox.relay_once(broker) == 0  # nothing left to send
