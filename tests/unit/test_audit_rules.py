from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from ltc.audit.rules import GENESIS_HASH, event_hash, first_broken_link, summary_json


def chain(n: int) -> list[dict]:
    events, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        event = {
            "seq": seq, "at": datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=seq),
            "actor_kind": "user", "actor_id": 7, "actor_name": "王经办", "actor_role": "clerk",
            "action": "application.accepted", "object_type": "application", "object_id": str(seq),
            "summary": summary_json(before={"state": "SUBMITTED"}, after={"state": "ACCEPTED"}),
            "prev_hash": prev,
        }
        event["hash"] = prev = event_hash(event)
        events.append(event)
    return events


def test_an_intact_chain_verifies() -> None:
    assert first_broken_link(chain(20)) is None
    assert first_broken_link([]) is None


@given(st.integers(min_value=1, max_value=12), st.sampled_from(
    ["actor_name", "action", "object_id", "summary", "actor_id"]))
def test_changing_any_field_of_any_event_is_found_at_that_event(at: int, field: str) -> None:
    events = chain(12)
    events[at - 1][field] = "tampered" if field != "actor_id" else 99
    broken = first_broken_link(events)
    assert broken is not None and broken.seq == at


def test_a_deleted_event_and_a_rewritten_chain_tail_are_found() -> None:
    events = chain(5)
    del events[2]
    assert first_broken_link(events).seq == 3
    events = chain(5)
    # Recomputing the hash of a changed event does not help: the next link no longer fits.
    events[1]["action"] = "application.rejected"
    events[1]["hash"] = event_hash(events[1])
    assert first_broken_link(events).seq == 3


def test_the_hash_does_not_depend_on_the_time_zone_the_time_was_read_in() -> None:
    event = chain(1)[0]
    beijing = dict(event, at=event["at"].astimezone(timezone(timedelta(hours=8))))
    assert event_hash(beijing) == event["hash"]
