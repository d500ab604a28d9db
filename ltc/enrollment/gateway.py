"""The enrolment check: is this person enrolled in basic medical insurance on this day?

Acceptance (and later every payout) asks an `EnrollmentGateway`. This module ships the local
adapter, which reads the EnrollmentRecord table filled by the CSV import; a later issue adds
an HTTP adapter for the bureau's system and installs it with `set_gateway()` at start-up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Protocol, runtime_checkable

from ltc.enrollment.rules import enrolled_on
from ltc.enrollment.tables import EnrollmentRecord
from ltc.people.rules import normalise_resident_id


@dataclass(frozen=True)
class EnrollmentCheck:
    enrolled: bool
    scheme: str | None  # resident | employee
    insurance_number: str | None
    region_code: str | None  # where the person is insured
    reason: str | None  # Chinese, when not enrolled
    source: str  # which adapter answered, and from what data

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class EnrollmentGateway(Protocol):
    async def check(self, resident_id: str, on: date) -> EnrollmentCheck: ...


class LocalEnrollmentGateway:
    """Answers from the local enrolment table (bulk imports, later enrolment events)."""

    async def check(self, resident_id: str, on: date) -> EnrollmentCheck:
        record = await EnrollmentRecord.select().where(
            EnrollmentRecord.resident_id == normalise_resident_id(resident_id)).first()
        enrolled, reason = enrolled_on(record, on)
        if record is None:
            return EnrollmentCheck(enrolled=False, scheme=None, insurance_number=None,
                                   region_code=None, reason=reason, source="local")
        return EnrollmentCheck(
            enrolled=enrolled, scheme=record["scheme"],
            insurance_number=record["insurance_number"], region_code=record["region_code"],
            reason=reason, source=f"local:{record['source']}",
        )


_gateway: EnrollmentGateway | None = None


def set_gateway(gateway: EnrollmentGateway | None) -> None:
    """Install the adapter every check uses (None restores the local default)."""
    global _gateway
    _gateway = gateway


def configured_gateway() -> EnrollmentGateway:
    return _gateway if _gateway is not None else LocalEnrollmentGateway()
