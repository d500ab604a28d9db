"""The enrolment check against the bureau's system over HTTP (README "Enrolment check over
HTTP" documents the contract we expect of it).

Each check: a definite answer stored today for the same person and day if there is one
(EnrollmentAnswer, shared by every process; unknown is never stored); else, if the circuit
breaker admits a call, up to 1 + `retries` attempts, each with a short timeout and a
jittered backoff between them. Timeouts, refused connections, non-200 answers and bodies
that are not the documented JSON are failures; a check whose attempts all fail answers
`unknown` — never `not_enrolled` — and counts one failure for the breaker
(ltc.enrollment.rules.admit / failed / succeeded). The breaker lives in the process: each
app or worker process finds out for itself that the system is down. Resident IDs travel in
the request body, not the URL, and are logged masked only."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from ltc import clock, db
from ltc.enrollment.gateway import EnrollmentCheck, set_gateway, unknown_check
from ltc.enrollment.rules import (
    Breaker,
    BreakerPolicy,
    Circuit,
    EnrolmentStatus,
    RemoteAnswer,
    admit,
    failed,
    parse_answer,
    retry_delay,
    succeeded,
)
from ltc.enrollment.tables import EnrollmentAnswer
from ltc.people.rules import mask_resident_id, normalise_resident_id
from ltc.settings import Settings

log = logging.getLogger(__name__)

SOURCE = "http"
CHECK_PATH = "/enrolment/check"
BACKOFF_BASE, BACKOFF_CAP = 0.2, 1.0  # seconds: retries stay well inside a page request
UNREACHABLE = "医保参保系统暂时无法连接，参保状态暂无法查询"
CIRCUIT_OPEN = "医保参保系统连续查询失败，已暂停查询，稍后自动重试；参保状态暂无法查询"


class Failure(Exception):
    """One attempt failed; the message says how, without the resident ID."""


class RemoteEnrollmentGateway:
    remote = True

    def __init__(self, url: str, token: str = "", *, timeout: float = 2.0, retries: int = 2,
                 policy: BreakerPolicy | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.url = url.rstrip("/") + CHECK_PATH
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.policy = policy or BreakerPolicy()
        self._sleep = sleep
        self._breaker = Breaker()
        # Workers run checks from more than one thread; each transition is read-modify-write.
        self._lock = threading.Lock()
        self.last_success_at: datetime | None = None
        self.last_failure_at: datetime | None = None
        self.last_failure: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteEnrollmentGateway:
        return cls(settings.enrolment_url, settings.enrolment_token,
                   timeout=settings.enrolment_timeout, retries=settings.enrolment_retries,
                   policy=BreakerPolicy(settings.enrolment_failure_threshold,
                                        timedelta(seconds=settings.enrolment_cool_down)))

    @property
    def breaker(self) -> Breaker:
        return self._breaker

    async def check(self, resident_id: str, on: date) -> EnrollmentCheck:
        resident_id = normalise_resident_id(resident_id)
        if (stored := await _stored(resident_id, on)) is not None:
            return stored
        with self._lock:
            allowed, self._breaker = admit(self._breaker, clock.now(), self.policy)
            probe = self._breaker.circuit == Circuit.half_open
        if not allowed:
            return unknown_check(CIRCUIT_OPEN, f"{SOURCE}:circuit_open")
        # The half-open probe is one attempt: a system still down costs one timeout.
        try:
            answer = await self._attempts(resident_id, on, 1 if probe else 1 + self.retries)
        except BaseException:
            # Cancelled mid-call (the page's client went away): counted as a failure, so
            # a half-open circuit is never left waiting for a probe that will not return.
            self._failed("cancelled")
            raise
        if isinstance(answer, str):
            self._failed(answer)
            return unknown_check(UNREACHABLE, SOURCE)
        with self._lock:
            self._breaker = succeeded(self._breaker)
            self.last_success_at = clock.now()
        check = _definite(answer)
        await _store(resident_id, on, check)
        return check

    async def _attempts(self, resident_id: str, on: date, attempts: int) -> RemoteAnswer | str:
        """The answer, or what went wrong with the last attempt."""
        problem = ""
        for attempt in range(attempts):
            if attempt:
                await self._sleep(retry_delay(attempt - 1, BACKOFF_BASE, BACKOFF_CAP,
                                              random.random()))
            try:
                return await self._ask(resident_id, on)
            except Failure as exc:
                problem = str(exc)
                log.warning("enrolment check for %s, attempt %d of %d failed: %s",
                            mask_resident_id(resident_id), attempt + 1, attempts, problem)
        return problem

    def _failed(self, problem: str) -> None:
        with self._lock:
            self._breaker = failed(self._breaker, clock.now(), self.policy)
            self.last_failure_at, self.last_failure = clock.now(), problem
            if self._breaker.circuit == Circuit.open:
                log.error("enrolment system circuit open after %d failed checks",
                          self._breaker.failures)

    async def _ask(self, resident_id: str, on: date) -> RemoteAnswer:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(self.url, headers=headers, json={
                    "resident_id": resident_id, "date": on.isoformat()})
        except httpx.TimeoutException:
            raise Failure(f"no answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise Failure(f"{type(exc).__name__}") from None
        if response.status_code != 200:
            raise Failure(f"HTTP {response.status_code}")
        answer = parse_answer(response.content)
        if answer is None:
            raise Failure("the answer is not the documented JSON")
        return answer

    def health(self) -> dict[str, Any]:
        with self._lock:
            breaker = self._breaker
        return {
            "kind": SOURCE, "url": self.url, "circuit": str(breaker.circuit),
            "circuit_label": breaker.circuit.label,
            "consecutive_failures": breaker.failures,
            "opened_at": breaker.opened_at, "last_success_at": self.last_success_at,
            "last_failure_at": self.last_failure_at, "last_failure": self.last_failure,
        }


def _definite(answer: RemoteAnswer) -> EnrollmentCheck:
    status = EnrolmentStatus.enrolled if answer.enrolled else EnrolmentStatus.not_enrolled
    reason = answer.reason
    if not answer.enrolled and not reason:
        reason = "医保参保系统：未查到有效的基本医疗保险参保记录"
    return EnrollmentCheck(status, answer.scheme, answer.insurance_number, answer.region_code,
                           reason, SOURCE)


async def _stored(resident_id: str, on: date) -> EnrollmentCheck | None:
    row = await EnrollmentAnswer.select().where(
        (EnrollmentAnswer.resident_id == resident_id) & (EnrollmentAnswer.on_day == on)
        & (EnrollmentAnswer.answered_on == clock.today())).first()
    if row is None:
        return None
    return EnrollmentCheck(EnrolmentStatus(row["status"]), row["scheme"],
                           row["insurance_number"], row["region_code"], row["reason"],
                           f"{SOURCE}:cache")


async def _store(resident_id: str, on: date, check: EnrollmentCheck) -> None:
    """Keep a definite answer for the day; a second process storing the same one loses the
    race to the unique index, harmlessly."""
    try:
        async with db.write_transaction():
            await EnrollmentAnswer.insert(EnrollmentAnswer(
                resident_id=resident_id, on_day=on, answered_on=clock.today(),
                status=str(check.status),
                scheme=check.scheme, insurance_number=check.insurance_number,
                region_code=check.region_code, reason=check.reason))
    except db.UNIQUE_VIOLATIONS as exc:
        if not db.is_unique_violation(exc):
            raise


def install_from_settings(settings: Settings) -> None:
    """At start-up (app factory, worker boot): the HTTP adapter when LTC_ENROLMENT_URL is
    set, else the local one."""
    set_gateway(RemoteEnrollmentGateway.from_settings(settings) if settings.enrolment_url
                else None)

