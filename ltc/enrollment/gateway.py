"""The enrolment check: is this person enrolled in basic medical insurance on this day?

Acceptance and every payout ask an `EnrollmentGateway`. The local adapter (the default) reads
the EnrollmentRecord table filled by the CSV import and enrolment events; the HTTP adapter
(ltc.enrollment.remote) asks the bureau's system and is installed with `set_gateway()` at
start-up when LTC_ENROLMENT_URL is set (`install_from_settings`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Protocol, runtime_checkable

from ltc.enrollment.rules import EnrolmentStatus, enrolled_on
from ltc.enrollment.tables import EnrollmentRecord
from ltc.people.rules import normalise_resident_id


@dataclass(frozen=True)
class EnrollmentCheck:
    status: EnrolmentStatus
    scheme: str | None  # resident | employee
    insurance_number: str | None
    region_code: str | None  # where the person is insured
    reason: str | None  # Chinese: why not enrolled, or why unknown
    source: str  # which adapter answered, and from what data

    @property
    def enrolled(self) -> bool:
        return self.status == EnrolmentStatus.enrolled

    @property
    def unknown(self) -> bool:
        return self.status == EnrolmentStatus.unknown

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": str(self.status), "enrolled": self.enrolled}


def unknown_check(reason: str, source: str) -> EnrollmentCheck:
    return EnrollmentCheck(EnrolmentStatus.unknown, None, None, None, reason, source)


@runtime_checkable
class EnrollmentGateway(Protocol):
    async def check(self, resident_id: str, on: date) -> EnrollmentCheck: ...


class LocalEnrollmentGateway:
    """Answers from the local enrolment table (bulk imports, enrolment events): always
    definite, never unknown."""

    # Payouts need no check of their own: the same table already drives entitlements
    # through enrolment events and imports (ltc.payouts.enrolment).
    remote = False

    async def check(self, resident_id: str, on: date) -> EnrollmentCheck:
        record = await EnrollmentRecord.select().where(
            EnrollmentRecord.resident_id == normalise_resident_id(resident_id)).first()
        enrolled, reason = enrolled_on(record, on)
        status = EnrolmentStatus.enrolled if enrolled else EnrolmentStatus.not_enrolled
        if record is None:
            return EnrollmentCheck(status, None, None, None, reason, "local")
        return EnrollmentCheck(
            status, record["scheme"], record["insurance_number"], record["region_code"],
            reason, f"local:{record['source']}")

    def health(self) -> dict[str, Any]:
        return {"kind": "local"}


_gateway: EnrollmentGateway | None = None


def set_gateway(gateway: EnrollmentGateway | None) -> None:
    """Install the adapter every check uses (None restores the local default)."""
    global _gateway
    _gateway = gateway


def configured_gateway() -> EnrollmentGateway:
    return _gateway if _gateway is not None else LocalEnrollmentGateway()


def is_remote(gateway: EnrollmentGateway) -> bool:
    """Whether answers come from outside LTC, so a payout checks its beneficiaries."""
    return bool(getattr(gateway, "remote", False))


def gateway_health() -> dict[str, Any]:
    """The installed adapter's state for /healthz and the admin page."""
    gateway = configured_gateway()
    health = getattr(gateway, "health", None)
    return health() if health is not None else {"kind": type(gateway).__name__}
