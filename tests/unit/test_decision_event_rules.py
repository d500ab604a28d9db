"""Decision events' pure rules: the retry schedule, dead-letter, the signature and the
subscriber's fields, row by row."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from ltc.decision_events import rules

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(("attempt", "jitter", "seconds"), [
    (1, 0.0, 1),  # the floor: never straight back
    (1, 0.5, 2.5),
    (1, 0.999, 4.995),
    (2, 0.5, 5),
    (3, 1.0, 20),
    (10, 0.5, 1280),
    (11, 1.0, 3600),  # 5 × 2^10 = 5120 s, capped at an hour
    (60, 0.25, 900),  # huge attempt numbers do not overflow
])
def test_backoff_is_a_jittered_share_of_a_growing_capped_ceiling(attempt, jitter,
                                                                 seconds) -> None:
    assert rules.backoff(attempt, jitter) == timedelta(seconds=seconds)


@pytest.mark.parametrize(("elapsed", "attempt", "jitter", "outcome"), [
    (timedelta(0), 1, 0.5, ("pending", T0 + timedelta(seconds=2.5))),
    (timedelta(hours=2), 12, 1.0, ("pending", T0 + timedelta(hours=3))),
    # The last try is on the period's end, not beyond it.
    (timedelta(hours=23, minutes=30), 20, 1.0, ("pending", T0 + timedelta(hours=24))),
    (timedelta(hours=24), 21, 0.5, ("dead", None)),
    (timedelta(hours=30), 2, 0.5, ("dead", None)),
])
def test_after_a_failure_retry_within_24_hours_then_dead(elapsed, attempt, jitter,
                                                         outcome) -> None:
    assert rules.after_failure(T0, T0 + elapsed, attempt, jitter) == outcome


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = '{"event_id":"e1","type":"grade.concluded"}'
    expected = hmac.new(b"k", b"1700000000." + body.encode(), hashlib.sha256).hexdigest()
    assert rules.signature("k", 1700000000, body) == "sha256=" + expected
    headers = rules.headers("e1", "grade.concluded", "k", 1700000000, body)
    assert headers["X-LTC-Signature"] == "sha256=" + expected
    assert (headers["X-LTC-Event-Id"], headers["X-LTC-Timestamp"]) == ("e1", "1700000000")
    assert rules.signature("k", 1700000001, body) != rules.signature("k", 1700000000, body)


@pytest.mark.parametrize(("status", "ok"), [(None, False), (199, False), (200, True),
                                            (204, True), (299, True), (301, False),
                                            (401, False), (500, False)])
def test_only_2xx_is_delivered(status, ok) -> None:
    assert rules.succeeded(status) is ok


@pytest.mark.parametrize(("name", "url", "types", "fields"), [
    ("医保核心", "https://ybj.example.cn/ltc", ["grade.concluded"], set()),
    ("民政", "http://10.0.0.5:8080/in", ["payout.paid", "entitlement.ended"], set()),
    ("", "https://a.cn/", ["grade.concluded"], {"name"}),
    ("x" * 101, "https://a.cn/", ["grade.concluded"], {"name"}),
    ("a", "ftp://a.cn/", ["grade.concluded"], {"url"}),
    ("a", "https://", ["grade.concluded"], {"url"}),
    ("a", "a.cn/ltc", ["grade.concluded"], {"url"}),
    ("a", "https://a.cn/" + "p" * 500, ["grade.concluded"], {"url"}),
    ("a", "https://a.cn/", [], {"event_types"}),
    ("a", "https://a.cn/", ["grade.changed"], {"event_types"}),
    ("", "javascript:alert(1)", [], {"name", "url", "event_types"}),  # all at once
])
def test_subscriber_fields(name, url, types, fields) -> None:
    problems = rules.check_subscriber(name, url, types)
    assert set(problems) == fields
    assert all(isinstance(p, str) and p for p in problems.values())


@pytest.mark.parametrize(("host", "addresses", "allowed", "refused"), [
    ("ybj.example.cn", ["203.0.113.7"], (), False),  # a public address
    ("mz.local", ["10.0.0.5"], (), False),  # a bureau's private network is allowed
    ("mz.local", ["192.168.1.20"], (), False),
    ("mz.local", ["172.16.0.1"], (), False),
    ("evil.example.cn", ["127.0.0.1"], (), True),  # a name that points at this machine
    ("evil.example.cn", ["203.0.113.7", "127.0.0.2"], (), True),  # any of its addresses
    ("127.0.0.1", ["127.0.0.1"], (), True),
    ("::1", ["::1"], (), True),
    ("::ffff:127.0.0.1", ["::ffff:127.0.0.1"], (), True),  # IPv4 in IPv6
    ("169.254.169.254", ["169.254.169.254"], (), True),  # a cloud's metadata service
    ("fe80::1", ["fe80::1%eth0"], (), True),
    ("0.0.0.0", ["0.0.0.0"], (), True),
    ("224.0.0.1", ["224.0.0.1"], (), True),
    ("240.0.0.1", ["240.0.0.1"], (), True),  # reserved
    ("localhost", [], (), True),  # refused by name, resolved or not
    ("LOCALHOST.", [], (), True),
    ("api.localhost", [], (), True),
    ("127.0.0.1", ["127.0.0.1"], ("127.0.0.1",), False),  # listed by the operator
    ("recv.ybj.gov.cn", ["127.0.0.1"], ("*.ybj.gov.cn",), False),
    ("ybj.gov.cn", ["127.0.0.1"], ("*.ybj.gov.cn",), True),  # *.x is below x, not x
    ("evilybj.gov.cn", ["127.0.0.1"], ("*.ybj.gov.cn",), True),
    ("no-such-name.invalid", [], (), False),  # unresolved: the delivery fails it
    ("100.100.100.200", ["100.100.100.200"], (), True),  # Alibaba Cloud's metadata service
    ("fd00:ec2::254", ["fd00:ec2::254"], (), True),  # AWS's, over IPv6
    ("[::1]", ["::1"], ("::1",), False),  # brackets as urlsplit keeps none, allowed as listed
    ("recv.ybj.gov.cn", ["127.0.0.1"], (" Recv.YBJ.gov.cn. ",), False),  # as an operator types
    ("::1", ["::1"], ("[::1]",), False),
])
def test_a_receiver_on_this_machine_or_a_reserved_address_is_refused(host, addresses,
                                                                      allowed, refused) -> None:
    assert bool(rules.receiver_refusal(host, addresses, allowed)) is refused


def test_a_subscriber_url_naming_a_refused_address_is_refused_beside_the_field() -> None:
    problems = rules.check_subscriber("a", "http://169.254.169.254/latest/meta-data",
                                      ["grade.concluded"])
    assert set(problems) == {"url"} and "LTC_EVENT_RECEIVER_HOSTS" in problems["url"]
    assert rules.check_subscriber("a", "http://127.0.0.1:8080/in", ["grade.concluded"],
                                  ("127.0.0.1",)) == {}
    for url in ("http://a.cn:99999/", "http://a.cn:abc/", "http://a.cn:0/"):
        assert "端口号无效" in rules.check_subscriber("a", url, ["grade.concluded"])["url"], url
