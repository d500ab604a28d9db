"""The README's receiver example works on what LTC sends: it accepts a signed request,
refuses a changed body, a wrong secret and a replay older than five minutes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ltc.decision_events.rules import EventType, Subject, event_body, headers

README = Path(__file__).resolve().parents[2] / "README.md"


def _verify():
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- receiver example[^>]*-->\n```python\n(.*?)```", text, re.S)[1]
    scope: dict = {}
    exec(block, scope)  # the README's own example, as a partner would paste it
    return scope["verify"]


def _request(secret: str, timestamp: int) -> tuple[dict[str, str], bytes]:
    body = event_body("e-1", EventType.entitlement_ended,
                      Subject("person", "7", {"resident_id": "370983199001011234",
                                              "name": "张三"}), 3,
                      datetime(2027, 3, 1, 1, 30, tzinfo=UTC), {"reason": "死亡"})
    return headers("e-1", str(EventType.entitlement_ended), secret, timestamp, body), \
        body.encode()


def test_the_readme_receiver_accepts_what_ltc_sends() -> None:
    verify = _verify()
    sent, body = _request("s3cret", 1_800_000_000)
    event = verify("s3cret", sent, body, now=1_800_000_120)
    assert (event["event_id"], event["sequence"], event["data"]) == ("e-1", 3,
                                                                    {"reason": "死亡"})


@pytest.mark.parametrize(("secret", "tamper", "now", "problem"), [
    ("other", False, 1_800_000_000, "bad signature"),
    ("s3cret", True, 1_800_000_000, "bad signature"),
    ("s3cret", False, 1_800_000_301, "window"),
    ("s3cret", False, 1_799_999_699, "window"),
])
def test_the_readme_receiver_refuses_forgeries_and_replays(secret, tamper, now,
                                                           problem) -> None:
    verify = _verify()
    sent, body = _request("s3cret", 1_800_000_000)
    if tamper:
        body = body.replace("死亡".encode(), "迁出".encode())
    with pytest.raises(ValueError, match=problem):
        verify(secret, sent, body, now=now)
