"""Issue 13: someone holding the database owner's credentials (not the audit key, not the
signing key) rewrites or truncates the audit log, and `ltc audit verify` says so, naming the
first bad event or checkpoint. On PostgreSQL the app's own role cannot even try."""

import json
import os
import sqlite3

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support.cli import ltc_on

from ltc import db
from ltc.audit import checkpoints, service
from ltc.audit.rules import GENESIS_HASH, KEYED, LEGACY, event_hash
from ltc.audit.tables import AuditEvent
from ltc.identity import SYSTEM

pytestmark = pytest.mark.anyio


async def _record(n: int) -> None:
    for i in range(n):
        async with db.write_transaction():
            await service.record(SYSTEM, "case.touched", "case", i, after={"n": i})


async def as_owner(owner_url: str, statements: list[str]) -> None:
    """Run `statements` as the tables' owner with the append-only guard lifted, as an
    attacker with those credentials would (SQLite has no roles: the guard is dropped)."""
    if owner_url.startswith("sqlite"):
        with sqlite3.connect(owner_url.removeprefix("sqlite:///")) as connection:
            for trigger in ("audit_event_no_update", "audit_event_no_delete"):
                connection.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            for sql in statements:
                connection.execute(sql)
        return
    connection = await asyncpg.connect(owner_url)
    try:
        await connection.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
        for sql in statements:
            await connection.execute(sql)
        await connection.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")
    finally:
        await connection.close()


async def rewrite(owner_url: str, edited: int, scheme: int, key: bytes | None,
                  first: int | None = None) -> None:
    """Edit event `edited`, then recompute the chain from event `first` (default: the
    edited one) under `scheme` and `key`: the old way (unkeyed) or with a guessed key."""
    events = await AuditEvent.select().order_by(AuditEvent.seq)
    events[edited - 1]["actor_name"] = "冒名"
    prev = events[(first or edited) - 2]["hash"] if (first or edited) > 1 else GENESIS_HASH
    statements = []
    for event in events[(first or edited) - 1:]:
        event.update(prev_hash=prev, hash_scheme=scheme)
        event["hash"] = prev = event_hash(event, key)
        statements.append(
            f"UPDATE audit_event SET actor_name = '{event['actor_name']}', prev_hash = "
            f"'{event['prev_hash']}', hash = '{event['hash']}', hash_scheme = {scheme} "
            f"WHERE seq = {event['seq']}")
    await as_owner(owner_url, statements)


def ltc_audit(command: str, database_url: str, settings, **env: str):
    return ltc_on(settings, database_url, "audit", command, **env)


@pytest.mark.parametrize(("scheme", "key"), [(LEGACY, None), (KEYED, None), (KEYED, b"k" * 32)],
                         ids=["unkeyed", "unkeyed-labelled-keyed", "wrong-key"])
async def test_a_history_rewritten_without_the_key_is_found_at_the_edited_event(
        owner_database_url, database_url, settings, scheme, key) -> None:
    await _record(6)
    if scheme == KEYED and key is None:  # plain SHA-256 values under the keyed label
        await rewrite(owner_database_url, 4, LEGACY, None)
        await as_owner(owner_database_url, ["UPDATE audit_event SET hash_scheme = 2"])
    else:
        await rewrite(owner_database_url, 4, scheme, key)
    verification = await service.verify(settings)
    assert (verification.checked, verification.broken.seq) == (3, 4)


async def test_the_cli_exits_0_when_intact_1_naming_the_event_2_without_the_key(
        owner_database_url, database_url, settings, tmp_path) -> None:
    await _record(6)
    made = await ltc_audit("checkpoint", database_url, settings)
    assert made.returncode == 0, made.stderr.decode()
    assert "checkpoint written" in made.stdout.decode()
    intact = await ltc_audit("verify", database_url, settings)
    assert intact.returncode == 0
    assert "6 events verified, 1 signed checkpoints hold" in intact.stdout.decode()

    await rewrite(owner_database_url, 4, LEGACY, None)
    broken = await ltc_audit("verify", database_url, settings)
    assert broken.returncode == 1
    assert "BROKEN at event 4" in broken.stdout.decode()
    assert "without the audit key" in broken.stdout.decode()
    refused = await ltc_audit("checkpoint", database_url, settings)
    assert refused.returncode == 1 and len(os.listdir(settings.audit_checkpoint_dir)) == 1

    keyless = await ltc_audit("verify", database_url, settings,
                              LTC_AUDIT_KEY_FILE=str(tmp_path / "elsewhere"))
    assert keyless.returncode == 2
    assert keyless.stdout.decode().startswith("CANNOT VERIFY: the audit key file")
    assert "intact" not in keyless.stdout.decode()


async def test_deleting_the_last_events_is_caught_by_the_checkpoint(
        owner_database_url, database_url, settings) -> None:
    await _record(4)
    await service.checkpoint(settings)
    await _record(2)
    _, written = await service.checkpoint(settings)
    assert written.name == checkpoints.file_name(6)
    await as_owner(owner_database_url, ["DELETE FROM audit_event WHERE seq > 4"])
    verification = await service.verify(settings)
    assert verification.broken is None and verification.checkpoints == 1
    assert verification.bad_checkpoint == (
        "checkpoint-000000000006.json", "it names event 6 but the log ends at event 4: events "
        "were deleted or the database was rolled back")


async def test_relabelling_the_whole_log_as_unkeyed_is_caught_by_the_checkpoint(
        owner_database_url, database_url, settings) -> None:
    await _record(5)
    await service.checkpoint(settings)
    await rewrite(owner_database_url, 2, LEGACY, None, first=1)
    verification = await service.verify(settings)
    assert verification.broken is None and verification.legacy == 5  # a valid unkeyed chain
    assert verification.bad_checkpoint == (
        "checkpoint-000000000005.json", "event 5 no longer has the hash this checkpoint signed")


async def test_a_forged_or_edited_checkpoint_is_caught(database_url, settings) -> None:
    await _record(3)
    _, genuine = await service.checkpoint(settings)
    await _record(2)
    forged = checkpoints.write(settings.audit_checkpoint_dir, Ed25519PrivateKey.generate(),
                               5, (await AuditEvent.select().where(AuditEvent.seq == 5)
                                   .first())["hash"], 5)
    verification = await service.verify(settings)
    assert verification.checkpoints == 1 and verification.bad_checkpoint[0] == forged.name
    assert "signature is not valid" in verification.bad_checkpoint[1]

    forged.unlink()
    data = json.loads(genuine.read_text())
    genuine.write_text(json.dumps({**data, "seq": 2}))  # claims an earlier head
    verification = await service.verify(settings)
    assert verification.bad_checkpoint[0] == genuine.name
    assert "signature is not valid" in verification.bad_checkpoint[1]


async def test_the_app_role_may_only_append_to_and_read_the_audit_log(
        database_url, settings) -> None:
    await _record(2)
    if db.is_sqlite():  # no roles: the triggers refuse, and the chain finds what they cannot
        refused = {"UPDATE audit_event SET actor_name = 'x'": "append-only",
                   "DELETE FROM audit_event": "append-only"}
    else:
        refused = {sql: "permission denied|must be owner" for sql in (
            "UPDATE audit_event SET actor_name = 'x'", "DELETE FROM audit_event",
            "TRUNCATE audit_event",
            "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
            "ALTER TABLE audit_event DISABLE TRIGGER ALL",
            "DROP TRIGGER audit_event_append_only ON audit_event",
            "SET session_replication_role = replica")}
    for sql, error in refused.items():
        with pytest.raises(Exception, match=error):
            await AuditEvent.raw(sql)
    await _record(1)
    verification = await service.verify(settings)
    assert verification.intact and verification.checked == 3
