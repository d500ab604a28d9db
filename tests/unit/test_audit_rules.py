from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltc.audit.rules import (
    GENESIS_HASH,
    KEYED,
    LEGACY,
    ChainVerifier,
    checkpoint_message,
    checkpoint_problem,
    event_hash,
    first_broken_link,
    summary_json,
)

KEY = bytes(range(32))
WRONG_KEY = bytes(32)


def chain(n: int, legacy: int = 0, key: bytes = KEY) -> list[dict]:
    """n events; the first `legacy` hashed the old (unkeyed) way, the rest keyed."""
    events, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        event = {
            "seq": seq, "at": datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=seq),
            "actor_kind": "user", "actor_id": 7, "actor_name": "王经办", "actor_role": "clerk",
            "action": "application.accepted", "object_type": "application", "object_id": str(seq),
            "summary": summary_json(before={"state": "SUBMITTED"}, after={"state": "ACCEPTED"}),
            "prev_hash": prev, "hash_scheme": LEGACY if seq <= legacy else KEYED,
        }
        event["hash"] = prev = event_hash(event, key)
        events.append(event)
    return events


def rehash_from(events: list[dict], seq: int, scheme: int, key: bytes | None) -> None:
    """What the database owner can do without the audit key: recompute the chain from `seq`."""
    prev = events[seq - 2]["hash"] if seq > 1 else GENESIS_HASH
    for event in events[seq - 1:]:
        event.update(prev_hash=prev, hash_scheme=scheme)
        event["hash"] = prev = event_hash(event, key)


@pytest.mark.parametrize("legacy", [0, 1, 4, 10])
def test_an_intact_chain_verifies_with_or_without_a_legacy_prefix(legacy: int) -> None:
    assert first_broken_link(chain(10, legacy), KEY) is None
    assert first_broken_link([], KEY) is None


@given(st.integers(min_value=1, max_value=12), st.sampled_from(
    ["actor_name", "action", "object_id", "summary", "actor_id"]), st.integers(0, 12))
def test_changing_any_field_of_any_event_is_found_at_that_event(at: int, field: str,
                                                                 legacy: int) -> None:
    events = chain(12, legacy)
    events[at - 1][field] = "tampered" if field != "actor_id" else 99
    broken = first_broken_link(events, KEY)
    assert broken is not None and broken.seq == at


def test_a_deleted_event_and_a_rewritten_chain_tail_are_found() -> None:
    events = chain(5)
    del events[2]
    assert first_broken_link(events, KEY).seq == 3
    events = chain(5, legacy=5)
    # Recomputing the hash of a changed event does not help: the next link no longer fits.
    events[1]["action"] = "application.rejected"
    events[1]["hash"] = event_hash(events[1])
    assert first_broken_link(events, KEY).seq == 3


# Every way to recompute keyed events without the key: found at the first recomputed event.
@pytest.mark.parametrize(("scheme", "key"), [
    (LEGACY, None),  # relabelled as old events, unkeyed SHA-256
    (KEYED, WRONG_KEY),  # labelled keyed, HMAC under a guessed key
])
@pytest.mark.parametrize("legacy", [0, 3])
@pytest.mark.parametrize("edited", [5, 7])
def test_a_chain_rewritten_without_the_key_breaks_at_the_first_rewritten_event(
        scheme: int, key: bytes | None, legacy: int, edited: int) -> None:
    events = chain(8, legacy)
    events[edited - 1]["actor_name"] = "冒名"
    rehash_from(events, edited, scheme, key)
    broken = first_broken_link(events, KEY)
    assert broken is not None and broken.seq == edited
    assert "without the audit key" in broken.reason


def test_relabelling_every_keyed_event_as_old_is_left_to_the_checkpoints() -> None:
    """The limit of the chain alone (README "Security for operators"): a log rewritten as
    if it all predated the key is a valid unkeyed chain; a checkpoint taken after any keyed
    event pins its hash, and that is what `ltc audit verify` then finds."""
    events = chain(8, legacy=3)
    rehash_from(events, 4, LEGACY, None)
    assert first_broken_link(events, KEY) is None
    assert checkpoint_problem({"seq": 8, "hash": chain(8, legacy=3)[7]["hash"], "count": 8,
                               "at": ""}, True, 8, events[7]["hash"]) is not None


def test_a_keyed_event_stored_with_a_plain_sha256_does_not_verify() -> None:
    events = chain(3)
    events[2]["hash"] = event_hash(dict(events[2], hash_scheme=LEGACY))
    assert first_broken_link(events, KEY).seq == 3


def test_the_scheme_is_part_of_the_hash_and_unknown_schemes_are_refused() -> None:
    event = chain(1, legacy=1)[0]
    assert event_hash(dict(event, hash_scheme=KEYED), KEY) != event_hash(event)
    assert first_broken_link([dict(event, hash_scheme=3)], KEY).reason == \
        "unknown hash scheme 3"
    with pytest.raises(ValueError, match="needs the audit key"):
        event_hash(dict(event, hash_scheme=KEYED))


def test_the_verifier_remembers_the_hashes_checkpoints_name() -> None:
    events = chain(6, legacy=2)
    verifier = ChainVerifier(KEY, remember=[2, 5, 9])
    assert all(verifier.feed(e) is None for e in events)
    assert verifier.hashes == {2: events[1]["hash"], 5: events[4]["hash"]}
    assert (verifier.checked, verifier.legacy) == (6, 2)


def test_the_hash_does_not_depend_on_the_time_zone_the_time_was_read_in() -> None:
    event = chain(1)[0]
    beijing = dict(event, at=event["at"].astimezone(timezone(timedelta(hours=8))))
    assert event_hash(beijing, KEY) == event["hash"]


CHECKPOINT = {"seq": 5, "hash": "h5", "count": 5, "at": "2026-12-04T02:00:00.000000+00:00"}


@pytest.mark.parametrize(("change", "signature_valid", "head", "verified", "problem"), [
    ({}, True, 5, "h5", None),
    ({}, True, 9, "h5", None),  # events after the checkpoint are fine
    ({}, False, 5, "h5", "signature is not valid"),
    ({"count": 4}, True, 5, "h5", "counts 4 events up to event 5"),
    ({}, True, 3, None, "log ends at event 3: events were deleted"),
    ({}, True, 0, None, "log ends at event 0"),
    ({}, True, 5, "other", "event 5 no longer has the hash"),
])
def test_a_checkpoint_holds_only_when_signed_counted_present_and_unchanged(
        change: dict, signature_valid: bool, head: int, verified: str | None,
        problem: str | None) -> None:
    found = checkpoint_problem({**CHECKPOINT, **change}, signature_valid, head, verified)
    assert found == problem if problem is None else problem in found


def test_the_signed_message_covers_every_checkpoint_field() -> None:
    message = checkpoint_message(CHECKPOINT)
    for field, other in (("seq", 6), ("hash", "h6"), ("count", 6), ("at", "later")):
        assert checkpoint_message({**CHECKPOINT, field: other}) != message
    assert checkpoint_message({**CHECKPOINT, "signature": "x"}) == message
