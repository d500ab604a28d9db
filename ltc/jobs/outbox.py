"""The transactional outbox and its relay.

A service calls `enqueue()` inside its write_transaction, so the job exists if and only if the
state change committed. The relay (run by `ltc scheduler`, and in-process by `ltc demo`)
claims unsent rows, sends them with the row's message_id, then marks them sent. If the relay
dies between sending and marking, the claim expires and the row is sent again with the same
message_id: the embedded broker ignores the duplicate, and on every broker the worker skips
a message id that already completed (OutboxReceipts), so the job's effect happens once.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta
from typing import Any

import anyio
import dramatiq
from dramatiq.middleware import Middleware, SkipMessage
from piccolo.columns.combination import Or

from ltc import clock, db
from ltc.jobs.tables import JobReceipt, OutboxMessage

log = logging.getLogger(__name__)

OUTBOX_OPTION = "ltc_outbox"
CLAIM_SECONDS = 60


async def enqueue(actor_name: str, *args: Any, queue_name: str = "default") -> str:
    """Record a job to send after the current transaction commits. Returns its message id."""
    message_id = str(uuid.uuid4())
    await OutboxMessage(
        message_id=message_id, queue_name=queue_name, actor_name=actor_name,
        args=json.dumps(args, ensure_ascii=False),
    ).save()
    return message_id


async def claim(limit: int = 100, claim_seconds: int = CLAIM_SECONDS) -> list[dict[str, Any]]:
    """Unsent rows nobody else is sending, claimed for `claim_seconds`."""
    now = clock.now()
    async with db.write_transaction():
        query = (
            OutboxMessage.select()
            .where(
                OutboxMessage.sent_at.is_null()
                & Or(OutboxMessage.claimed_until.is_null(), OutboxMessage.claimed_until < now)
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        if not db.is_sqlite():
            # Several relays on PostgreSQL take disjoint rows; SQLite's writer lock serialises.
            query = query.lock_rows("UPDATE", skip_locked=True)
        rows = await query
        if rows:
            await OutboxMessage.update(
                {
                    OutboxMessage.claimed_until: now + timedelta(seconds=claim_seconds),
                    OutboxMessage.attempts: OutboxMessage.attempts + 1,
                }
            ).where(OutboxMessage.id.is_in([row["id"] for row in rows]))
    return rows


def to_message(row: dict[str, Any]) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name=row["queue_name"],
        actor_name=row["actor_name"],
        args=tuple(json.loads(row["args"])),
        kwargs={},
        options={OUTBOX_OPTION: True},
        message_id=row["message_id"],
        message_timestamp=int(row["created_at"].timestamp() * 1000),
    )


async def send(broker: dramatiq.Broker, row: dict[str, Any]) -> None:
    await anyio.to_thread.run_sync(broker.enqueue, to_message(row))


async def mark_sent(row: dict[str, Any]) -> None:
    await OutboxMessage.update({OutboxMessage.sent_at: clock.now()}).where(
        OutboxMessage.id == row["id"]
    )


async def relay_once(broker: dramatiq.Broker, limit: int = 100) -> int:
    """Send what is pending; returns how many were sent. A failed send stays claimed until
    its claim expires, then is retried."""
    sent = 0
    for row in await claim(limit):
        try:
            await send(broker, row)
        except Exception as exc:
            log.warning("outbox message %s not sent: %s", row["message_id"], exc)
            await OutboxMessage.update({OutboxMessage.last_error: str(exc)[:2000]}).where(
                OutboxMessage.id == row["id"]
            )
            continue
        await mark_sent(row)
        sent += 1
    return sent


async def relay_forever(broker: dramatiq.Broker, interval: float = 0.5) -> None:
    while True:
        try:
            if await relay_once(broker):
                continue
        except Exception:
            log.exception("outbox relay pass failed")
        await anyio.sleep(interval)


class OutboxReceipts(Middleware):
    """Skip an outbox message whose id already completed; record completion after success.

    Runs its queries on the AsyncIO middleware's event loop, where the database pool lives.
    """

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        if message.options.get(OUTBOX_OPTION) and _run(_is_done(message.message_id)):
            log.info("skipping %s: message %s already done", message.actor_name,
                     message.message_id)
            raise SkipMessage()

    def after_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message, *,
                              result: Any = None, exception: BaseException | None = None) -> None:
        if message.options.get(OUTBOX_OPTION) and exception is None:
            _run(_mark_done(message.message_id, message.actor_name))


def _run(coroutine: Any) -> Any:
    from dramatiq.asyncio import get_event_loop_thread

    loop_thread = get_event_loop_thread()
    if loop_thread is None:
        raise RuntimeError("OutboxReceipts needs the AsyncIO middleware before it")
    return loop_thread.run_coroutine(coroutine)


async def _is_done(message_id: str) -> bool:
    return await JobReceipt.exists().where(JobReceipt.message_id == message_id)


async def _mark_done(message_id: str, actor_name: str) -> None:
    await JobReceipt.insert(JobReceipt(message_id=message_id, actor_name=actor_name)).on_conflict(
        action="DO NOTHING"
    )
