"""What a decision event is and how it is worded on the wire: pure, no I/O."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from ltc.clock import CHINA


class EventType(StrEnum):
    """The event types a subscriber may choose; their values are the wire's `type`."""

    grade_concluded = "grade.concluded"
    entitlement_started = "entitlement.started"
    entitlement_suspended = "entitlement.suspended"
    entitlement_resumed = "entitlement.resumed"
    entitlement_ended = "entitlement.ended"
    careplan_confirmed = "careplan.confirmed"
    payout_approved = "payout.approved"
    payout_paid = "payout.paid"

    @property
    def label(self) -> str:
        return EVENT_LABELS[self]


EVENT_LABELS = {
    EventType.grade_concluded: "评估结论确定",
    EventType.entitlement_started: "待遇开始享受",
    EventType.entitlement_suspended: "待遇暂停",
    EventType.entitlement_resumed: "待遇恢复",
    EventType.entitlement_ended: "待遇终止",
    EventType.careplan_confirmed: "护理计划确认",
    EventType.payout_approved: "结算审核通过（按收款人）",
    EventType.payout_paid: "结算已支付（按收款人）",
}


@dataclass(frozen=True)
class Subject:
    """Whom an event is about. `stream` orders events: every subject has its own sequence
    1, 2, 3 … and a receiver applies them in that order. `identity` is what a partner
    matches on (a person's resident ID and name; a payee's key and name)."""

    kind: str  # person | payee
    key: str  # the person's id, or the payee key (org:<id>, cg:<resident id>)
    identity: dict[str, str]

    @property
    def stream(self) -> str:
        return f"{self.kind}:{self.key}"


def event_body(event_id: str, event_type: EventType, subject: Subject, sequence: int,
               occurred_at: datetime, data: dict[str, Any]) -> str:
    """The JSON every subscriber receives for this event, byte for byte the same."""
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be an aware datetime")
    return json.dumps({
        "event_id": event_id,
        "type": str(event_type),
        "occurred_at": occurred_at.astimezone(CHINA).isoformat(timespec="milliseconds"),
        "subject": {"type": subject.kind, **subject.identity},
        "sequence": sequence,
        "data": data,
    }, ensure_ascii=False, separators=(",", ":"), sort_keys=False)


def wants(event_types_json: str, event_type: EventType) -> bool:
    """Does a subscriber with this list of types receive this event?"""
    try:
        chosen = json.loads(event_types_json)
    except ValueError:
        return False
    return isinstance(chosen, list) and str(event_type) in chosen


# --- Subscribers --------------------------------------------------------------------------

RECEIVER_REFUSED = ("不能向本机、链路本地或保留地址发送事件；确需时请运维人员在 "
                    "LTC_EVENT_RECEIVER_HOSTS 中列出该主机")


def receiver_refusal(host: str, addresses: list[str], allowed: tuple[str, ...]) -> str:
    """Why events may not go to `host`, resolved to `addresses`, or "". Refused: this machine
    (loopback, `localhost`), link-local (a cloud's metadata service at 169.254.169.254),
    unspecified, multicast and reserved addresses — an admin's subscriber URL must not
    reach, and read back, what only the server can, a cloud's metadata service included —
    unless the host is listed (`allowed`: exact, or `*.suffix`). Private networks
    (10.0.0.0/8 …) are allowed: a bureau's systems live there."""
    host = _plain_host(host)
    for pattern in map(_plain_host, allowed):
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return ""
    if host == "localhost" or host.endswith(".localhost"):
        return RECEIVER_REFUSED
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            continue
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast
                or ip.is_reserved or any(ip in network for network in _CLOUD_INTERNAL)):
            return RECEIVER_REFUSED
    return ""


def _plain_host(host: str) -> str:
    """A host name or address as compared: lower case, no final dot, no IPv6 brackets."""
    return host.strip().lower().rstrip(".").strip("[]")


# Cloud providers' own services outside the ranges above: the shared address space (Alibaba
# Cloud's metadata at 100.100.100.200, its DNS) and AWS's IPv6 metadata address.
_CLOUD_INTERNAL = (ipaddress.ip_network("100.64.0.0/10"),
                   ipaddress.ip_network("fd00:ec2::254/128"))


def _port_ok(parts: Any) -> bool:
    try:
        return parts.port is None or parts.port > 0
    except ValueError:  # not a number, or over 65535
        return False


def check_subscriber(name: str, url: str, event_types: list[str],
                     allowed_hosts: tuple[str, ...] = ()) -> dict[str, str]:
    """Every problem with a subscriber's fields at once, in Chinese, by field. A host given
    as an address is checked here; a name is checked at each delivery, as resolved then."""
    problems = {}
    if not name.strip():
        problems["name"] = "请填写订阅方名称"
    elif len(name.strip()) > 100:
        problems["name"] = "名称不能超过100个字"
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems["url"] = "请填写以 http:// 或 https:// 开头、含主机名的完整地址"
    elif len(url.strip()) > 500:
        problems["url"] = "地址不能超过500个字符"
    elif not _port_ok(parts):
        problems["url"] = "端口号无效：应为1到65535之间的数字"
    elif refusal := receiver_refusal(parts.hostname, [parts.hostname], allowed_hosts):
        problems["url"] = refusal
    known = {str(t) for t in EventType}
    if not event_types:
        problems["event_types"] = "请至少选择一种事件"
    elif any(t not in known for t in event_types):
        problems["event_types"] = "含有未知的事件类型"
    return problems


# --- Delivery ------------------------------------------------------------------------------

RETRY_PERIOD = timedelta(hours=24)  # from the first attempt; then the delivery is dead
BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 3600
BACKOFF_FLOOR_SECONDS = 1  # a receiver that fails at once is not hammered in a tight loop
ANSWER_CHARS = 500


def signature(secret: str, timestamp: int, body: str) -> str:
    """`X-LTC-Signature`: HMAC-SHA256 over "<unix seconds>.<body>" with the subscriber's
    secret; the timestamp inside the signed text lets a receiver refuse replays."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def headers(event_id: str, event_type: str, secret: str, timestamp: int,
            body: str) -> dict[str, str]:
    return {"Content-Type": "application/json; charset=utf-8", "X-LTC-Event-Id": event_id,
            "X-LTC-Event-Type": event_type, "X-LTC-Timestamp": str(timestamp),
            "X-LTC-Signature": signature(secret, timestamp, body)}


def succeeded(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def backoff(attempt: int, jitter: float) -> timedelta:
    """The wait after failed attempt number `attempt` (1, 2, …): "full jitter", a uniform
    share (`jitter` in [0, 1)) of an exponentially growing ceiling, so receivers coming back
    after an outage are not hit by every sender at the same instant."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** min(attempt - 1, 20))
    return timedelta(seconds=max(BACKOFF_FLOOR_SECONDS, ceiling * jitter))


def after_failure(first_attempt_at: datetime, now: datetime, attempt: int,
                  jitter: float) -> tuple[str, datetime | None]:
    """A failed attempt's outcome: ("pending", when to try next) within the retry period —
    the last try falls on its end — or ("dead", None) once it is over."""
    deadline = first_attempt_at + RETRY_PERIOD
    if now >= deadline:
        return "dead", None
    return "pending", min(now + backoff(attempt, jitter), deadline)


_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")


def stream_label(stream: str) -> str:
    """A stream as pages, CSV and the API show it: a family caregiver's payee key holds the
    resident ID number, shown with its middle masked (as ltc.payouts shows payee keys)."""
    return _RESIDENT_ID.sub(lambda m: f"{m[0][:4]}{'*' * 12}{m[0][-2:]}", stream)
