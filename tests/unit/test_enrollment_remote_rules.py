"""The HTTP enrolment check's pure rules: the circuit breaker's every transition, the retry
backoff with jitter, and what counts as an answer of the bureau's system."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ltc.enrollment.rules import (
    Breaker,
    BreakerPolicy,
    Circuit,
    RemoteAnswer,
    admit,
    failed,
    parse_answer,
    retry_delay,
    succeeded,
)

T0 = datetime(2026, 12, 31, 2, 0, tzinfo=UTC)
POLICY = BreakerPolicy(failure_threshold=3, cool_down=timedelta(seconds=30))
OPEN = Breaker(Circuit.open, 3, T0)
PROBING = Breaker(Circuit.half_open, 3, T0)

# (breaker, seconds after T0) → (admitted, breaker after)
ADMIT = [
    (Breaker(), 0, True, Breaker()),
    (Breaker(Circuit.closed, 2, None), 0, True, Breaker(Circuit.closed, 2, None)),
    (OPEN, 0, False, OPEN),
    (OPEN, 29, False, OPEN),
    (OPEN, 30, True, PROBING),  # the cool-down is over: this caller is the probe
    (OPEN, 3600, True, PROBING),
    (PROBING, 31, False, PROBING),  # the probe is out: nobody else
]


@pytest.mark.parametrize(("breaker", "after", "admitted", "then"), ADMIT)
def test_admit(breaker, after, admitted, then) -> None:
    assert admit(breaker, T0 + timedelta(seconds=after), POLICY) == (admitted, then)


# (breaker, seconds after T0 of the failure) → breaker after
FAILED = [
    (Breaker(), 5, Breaker(Circuit.closed, 1, None)),
    (Breaker(Circuit.closed, 1, None), 5, Breaker(Circuit.closed, 2, None)),
    (Breaker(Circuit.closed, 2, None), 5,
     Breaker(Circuit.open, 3, T0 + timedelta(seconds=5))),  # the threshold's failure opens
    (PROBING, 40, Breaker(Circuit.open, 4, T0 + timedelta(seconds=40))),  # a new cool-down
    (OPEN, 10, Breaker(Circuit.open, 4, T0)),  # a late failure leaves the clock alone
]


@pytest.mark.parametrize(("breaker", "at", "then"), FAILED)
def test_failed(breaker, at, then) -> None:
    assert failed(breaker, T0 + timedelta(seconds=at), POLICY) == then


@pytest.mark.parametrize("breaker", [Breaker(), Breaker(Circuit.closed, 2, None), OPEN,
                                     PROBING])
def test_a_success_closes_and_forgets(breaker) -> None:
    assert succeeded(breaker) == Breaker(Circuit.closed, 0, None)


def test_a_threshold_of_one_opens_at_the_first_failure() -> None:
    assert failed(Breaker(), T0, BreakerPolicy(1)).circuit == Circuit.open


def test_the_whole_cycle() -> None:
    breaker, now = Breaker(), T0
    for _ in range(3):
        assert admit(breaker, now, POLICY)[0]
        breaker = failed(breaker, now, POLICY)
    assert breaker.circuit == Circuit.open
    assert not admit(breaker, now + timedelta(seconds=10), POLICY)[0]
    allowed, breaker = admit(breaker, now + timedelta(seconds=30), POLICY)
    assert allowed and breaker.circuit == Circuit.half_open
    assert succeeded(breaker).circuit == Circuit.closed


def test_every_circuit_has_a_label() -> None:
    assert [c.label for c in Circuit] == ["正常", "已熔断", "试探恢复中"]


# (attempt, jitter) → seconds, with base 0.2 s and cap 1 s: half fixed, half jittered
BACKOFF = [
    (0, 0.0, 0.1), (0, 0.5, 0.15), (0, 0.999, 0.1999),
    (1, 0.0, 0.2), (1, 1.0, 0.4),
    (2, 0.0, 0.4), (2, 0.5, 0.6),
    (3, 0.0, 0.5), (3, 1.0, 1.0),  # 1.6 s capped at 1 s
    (10, 0.25, 0.625),
]


@pytest.mark.parametrize(("attempt", "jitter", "seconds"), BACKOFF)
def test_retry_delay(attempt, jitter, seconds) -> None:
    assert retry_delay(attempt, 0.2, 1.0, jitter) == pytest.approx(seconds)


def test_jitter_spreads_retries_but_never_to_zero_or_past_the_cap() -> None:
    delays = [retry_delay(2, 0.2, 1.0, j / 100) for j in range(100)]
    assert len(set(delays)) == 100
    assert min(delays) == pytest.approx(0.4) and max(delays) < 0.8


FULL = ('{"enrolled": false, "scheme": "employee", "insurance_number": "Y123", '
        '"region_code": "370983", "reason": "已终止参保"}')
ANSWERS = [
    (FULL, RemoteAnswer(False, "employee", "Y123", "370983", "已终止参保")),
    ('{"enrolled": true}', RemoteAnswer(True, None, None, None, None)),
    ('{"enrolled": true, "reason": "", "extra": 1}', RemoteAnswer(True, None, None, None, None)),
    ("", None),
    ("<html>维护中</html>", None),
    ("[]", None),
    ('"enrolled"', None),
    ("{}", None),
    ('{"enrolled": "true"}', None),
    ('{"enrolled": 1}', None),
    ('{"enrolled": null}', None),
    ('{"enrolled": true, "scheme": 5}', None),
    ('{"enrolled": true, "region_code": ["370983"]}', None),
    ('{"enrolled": false, "reason": "' + "长" * 201 + '"}', None),
]


@pytest.mark.parametrize(("body", "expected"), ANSWERS)
def test_parse_answer(body, expected) -> None:
    assert parse_answer(body.encode()) == expected


def test_bytes_that_are_not_utf8_are_no_answer() -> None:
    assert parse_answer(b"\xff\xfe{") is None
