"""The write-transaction helper, optimistic concurrency and migrations, on the test engine."""

import anyio
import pytest
from conftest import PG_URL

from ltc import db
from ltc.accounts.tables import User
from ltc.db import StaleWrite, update_versioned
from ltc.regions.tables import Region

pytestmark = pytest.mark.anyio


async def test_a_failed_transaction_leaves_nothing_behind(database_url) -> None:
    before = await Region.count()
    with pytest.raises(RuntimeError):
        async with db.write_transaction():
            await Region(code="X1", name="临时", level="town", path="370983/X1").save()
            raise RuntimeError("boom")
    assert await Region.count() == before


async def test_nested_write_transactions_join_the_outer_one(database_url) -> None:
    with pytest.raises(RuntimeError):
        async with db.write_transaction():
            await Region(code="X1", name="外层", level="town", path="370983/X1").save()
            async with db.write_transaction():
                await Region(code="X2", name="内层", level="town", path="370983/X2").save()
            raise RuntimeError("outer fails after inner finished")
    assert not await Region.exists().where(Region.code.is_in(["X1", "X2"]))


@pytest.mark.skipif(bool(PG_URL),
                    reason="ltc demo, the one process that binds several times, is SQLite-only")
async def test_binding_the_same_file_again_keeps_a_transaction_in_flight(database_url) -> None:
    """`ltc demo` binds at the start of its web app, workers and scheduler; a job already
    inside a transaction must go on in it (it once waited 30 s on its own lock instead)."""
    with pytest.raises(RuntimeError):
        async with db.write_transaction():
            await Region(code="X1", name="临时", level="town", path="370983/X1").save()
            db.bind(db.make_engine(database_url))
            await Region(code="X2", name="临时", level="town", path="370983/X2").save()
            raise RuntimeError("both rows go with the transaction")
    assert not await Region.exists().where(Region.code.is_in(["X1", "X2"]))


async def test_concurrent_read_then_write_transactions_all_succeed(database_url) -> None:
    """IMMEDIATE on SQLite: DEFERRED failed 19 of 20 of these with 'database is locked'."""

    async def add(i: int) -> None:
        async with db.write_transaction():
            count = await Region.count()
            await Region(code=f"C{i}", name=f"并发{count}", level="village",
                         path=f"370983/C{i}").save()

    before = await Region.count()
    async with anyio.create_task_group() as group:
        for i in range(20):
            group.start_soon(add, i)
    assert await Region.count() == before + 20


async def test_a_stale_write_is_refused_and_changes_nothing(database_url) -> None:
    from conftest import make_user

    user = await make_user("clerk")
    first = await update_versioned(User, user["id"], 1, {User.display_name: "第一位"})
    assert first["version"] == 2 and first["display_name"] == "第一位"
    with pytest.raises(StaleWrite):
        await update_versioned(User, user["id"], 1, {User.display_name: "第二位"})
    row = await User.select().where(User.id == user["id"]).first()
    assert (row["display_name"], row["version"]) == ("第一位", 2)


async def test_the_database_refuses_duplicate_usernames(database_url) -> None:
    from conftest import make_user

    await make_user("clerk", username="wang")
    with pytest.raises(Exception, match=r"(?i)unique"):
        await User.insert(User(username="wang", display_name="重名", role="clerk",
                               region=1, password_hash="x"))


async def test_aware_datetimes_round_trip(database_url) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from conftest import make_user

    user = await make_user("clerk")
    eight_am_beijing = datetime(2026, 10, 1, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    await User.update({User.created_at: eight_am_beijing}).where(User.id == user["id"])
    stored = (await User.select(User.created_at).where(User.id == user["id"]).first())[
        "created_at"]
    assert stored.tzinfo is not None and stored == eight_am_beijing


def test_switching_a_file_to_wal_waits_for_another_process_holding_it(tmp_path) -> None:
    """Two processes opening a new SQLite file at once: the second's switch to WAL meets the
    first's lock ("database is locked", seen in CI) and must wait for it, not fail."""
    import sqlite3
    import threading

    path = str(tmp_path / "new.sqlite3")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
    second = sqlite3.connect(path, timeout=0.05)  # a busy timeout too short to help
    db.set_wal(second, seconds=5)
    assert second.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    second.close()
    holder.close()
