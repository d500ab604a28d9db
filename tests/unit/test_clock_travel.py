"""clock.travel_to: code run "as of" a past instant sees that time in now(), today() and the
ClockNow column default; outside the block (and in other contexts) the real time is unchanged."""

import asyncio
import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from ltc import clock

PAST = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)  # 2026-06-02 07:30 in Beijing


def close_to_real(moment: datetime) -> bool:
    return abs(moment - datetime.now(UTC)) < timedelta(minutes=1)


def test_without_travel_the_clock_is_the_real_time() -> None:
    assert close_to_real(clock.now())
    assert clock.today() == datetime.now(clock.CHINA).date()
    assert close_to_real(clock.ClockNow().python())


def test_inside_travel_the_clock_starts_at_the_instant_and_runs_on() -> None:
    with clock.travel_to(PAST) as moment:
        assert moment == PAST
        first = clock.now()
        assert timedelta(0) <= first - PAST < timedelta(minutes=1)
        assert clock.now() >= first  # it keeps running
        assert clock.today() == date(2026, 6, 2)  # the civil date in Beijing, not UTC
        assert clock.today(tz=UTC) == date(2026, 6, 1)
        assert timedelta(0) <= clock.ClockNow().python() - PAST < timedelta(minutes=1)
    assert close_to_real(clock.now())


def test_travel_nests_and_restores_the_enclosing_clock_even_after_an_error() -> None:
    later = PAST + timedelta(days=3)
    with clock.travel_to(PAST):
        with pytest.raises(RuntimeError), clock.travel_to(later):
            assert clock.today() == date(2026, 6, 5)
            raise RuntimeError("boom")
        assert clock.today() == date(2026, 6, 2)
    assert close_to_real(clock.now())


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError), clock.travel_to(datetime(2026, 6, 1)):
        pass  # pragma: no cover


def test_travel_is_local_to_its_context_tasks_inherit_it_other_threads_do_not() -> None:
    seen: dict[str, datetime] = {}

    async def main() -> None:
        async def in_task() -> None:
            seen["task"] = clock.now()

        with clock.travel_to(PAST):
            await asyncio.create_task(in_task())
            outside = threading.Thread(target=lambda: seen.__setitem__("thread", clock.now()))
            outside.start()
            outside.join()

    asyncio.run(main())
    assert seen["task"] - PAST < timedelta(minutes=1)
    assert close_to_real(seen["thread"])  # another request's thread keeps the real time
