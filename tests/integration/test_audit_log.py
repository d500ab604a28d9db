"""The audit log is append-only in the database and its hash chain reveals tampering."""

import itertools
import os
import sys

import anyio
import pytest

from ltc import db
from ltc.audit import service as audit
from ltc.audit.tables import AuditEvent
from ltc.identity import SYSTEM

pytestmark = pytest.mark.anyio


async def _record(n: int) -> None:
    for i in range(n):
        async with db.write_transaction():
            await audit.record(SYSTEM, "case.touched", "case", i, before={"n": i},
                               after={"n": i + 1}, note="测试")


async def test_events_chain_and_verify(database_url) -> None:
    await _record(5)
    events = await AuditEvent.select().order_by(AuditEvent.seq)
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(events))
    assert await audit.verify_chain() == (5, None)
    timeline = await audit.timeline("case", 3)
    assert len(timeline) == 1 and '"note": "测试"' in timeline[0]["summary"]


async def test_an_event_is_recorded_only_with_its_transaction(database_url) -> None:
    with pytest.raises(RuntimeError):
        async with db.write_transaction():
            await audit.record(SYSTEM, "case.touched", "case", 1)
            raise RuntimeError("the change failed")
    assert await AuditEvent.count() == 0


async def test_the_database_refuses_updates_and_deletes(database_url) -> None:
    await _record(2)
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.update({AuditEvent.action: "x"}).where(AuditEvent.seq == 1)
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.delete().where(AuditEvent.seq == 2)
    assert await audit.verify_chain() == (2, None)


async def _tamper(seq: int) -> None:
    """What someone with raw database access could do: lift the guard, edit, restore it."""
    if db.is_sqlite():
        await AuditEvent.raw("DROP TRIGGER audit_event_no_update")
        await AuditEvent.raw(
            f"UPDATE audit_event SET actor_name = '冒名' WHERE seq = {seq}")
    else:
        await AuditEvent.raw("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
        await AuditEvent.raw(
            f"UPDATE audit_event SET actor_name = '冒名' WHERE seq = {seq}")
        await AuditEvent.raw("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")


async def test_tampering_is_found_at_the_first_broken_link(database_url, settings) -> None:
    await _record(6)
    await _tamper(4)
    checked, broken = await audit.verify_chain()
    assert checked == 3 and broken.seq == 4 and "hash" in broken.reason

    # `audit verify` never contacts the broker, but production settings must name one.
    broker = settings.broker_url if db.is_sqlite() else "redis://127.0.0.1:6379/15"
    env = {**os.environ, "LTC_DATABASE_URL": database_url, "LTC_VAR_DIR": str(settings.var_dir),
           "LTC_BROKER_URL": broker, "LTC_SECRET_KEY": "k" * 40}
    result = await anyio.run_process([sys.executable, "-m", "ltc.cli", "audit", "verify"],
                                     env=env, check=False)
    assert result.returncode == 1
    assert "BROKEN at event 4" in result.stdout.decode()
