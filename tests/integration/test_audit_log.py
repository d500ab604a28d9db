"""The audit log is append-only in the database and chained; tampering by someone holding
the database credentials: test_audit_tamper.py."""

import itertools
import re

import pytest
from conftest import make_user, sign_in

from ltc import clock, db
from ltc.audit import service as audit
from ltc.audit.jobs import nightly_check
from ltc.audit.rules import GENESIS_HASH, KEYED, LEGACY, event_hash
from ltc.audit.tables import AuditEvent
from ltc.identity import SYSTEM

pytestmark = pytest.mark.anyio


async def _record(n: int) -> None:
    for i in range(n):
        async with db.write_transaction():
            await audit.record(SYSTEM, "case.touched", "case", i, before={"n": i},
                               after={"n": i + 1}, note="测试")


async def test_events_chain_and_verify(database_url, settings) -> None:
    await _record(5)
    events = await AuditEvent.select().order_by(AuditEvent.seq)
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(events))
    assert {e["hash_scheme"] for e in events} == {KEYED}
    assert await audit.verify(settings) == audit.Verification(5, 0, None, 0, None)
    timeline = await audit.timeline("case", 3)
    assert len(timeline) == 1 and '"note": "测试"' in timeline[0]["summary"]


async def test_an_event_is_recorded_only_with_its_transaction(database_url) -> None:
    with pytest.raises(RuntimeError):
        async with db.write_transaction():
            await audit.record(SYSTEM, "case.touched", "case", 1)
            raise RuntimeError("the change failed")
    assert await AuditEvent.count() == 0


async def test_the_database_refuses_updates_and_deletes_even_by_the_owner(
        owner_database_url, settings) -> None:
    """The trigger guards against the owner's slips (the app role lacks the privilege)."""
    db.bind(db.make_engine(owner_database_url))
    await _record(2)
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.update({AuditEvent.action: "x"}).where(AuditEvent.seq == 1)
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.delete().where(AuditEvent.seq == 2)
    assert (await audit.verify(settings)).intact


async def test_the_nightly_job_checkpoints_an_intact_log_and_records_the_result(
        database_url, settings) -> None:
    await _record(3)
    await nightly_check(settings, "2026-12-04")
    await nightly_check(settings, "2026-12-04")  # delivered twice: the head moved by one
    files = sorted(p.name for p in settings.audit_checkpoint_dir.iterdir())
    assert files == ["checkpoint-000000000003.json", "checkpoint-000000000004.json"]
    results = await AuditEvent.select(AuditEvent.action, AuditEvent.summary).where(
        AuditEvent.object_type == "audit_chain").order_by(AuditEvent.seq)
    assert [r["action"] for r in results] == ["audit.chain_verified"] * 2
    assert '"checked": 4, "checkpoints": 1' in results[1]["summary"]


async def test_the_admin_home_shows_the_latest_signed_checkpoint(client, settings) -> None:
    await make_user("admin")
    await sign_in(client, "admin")
    assert "尚无（每日自动签署" in (await client.get("/")).text
    await nightly_check(settings, "2026-12-04")
    page = (await client.get("/")).text
    assert re.search(r"最近签名检查点</th><td>前 2 个事件，签于 20\d\d-\d\d-\d\d \d\d:\d\d", page)


async def test_events_hashed_before_the_key_still_verify_and_the_keyed_chain_follows_them(
        database_url, settings) -> None:
    prev = GENESIS_HASH
    for seq in (1, 2):  # as the app wrote them before the key existed (scheme 1, the default)
        event = {"seq": seq, "at": clock.now(), "actor_kind": "system", "actor_id": None,
                 "actor_name": "系统", "actor_role": None, "action": "case.touched",
                 "object_type": "case", "object_id": str(seq), "summary": "{}",
                 "prev_hash": prev}
        prev = event_hash(event)
        await AuditEvent(**event, hash=prev).save()
    await _record(2)
    events = await AuditEvent.select(AuditEvent.hash_scheme).order_by(AuditEvent.seq)
    assert [e["hash_scheme"] for e in events] == [LEGACY, LEGACY, KEYED, KEYED]
    assert await audit.verify(settings) == audit.Verification(4, 2, None, 0, None)
