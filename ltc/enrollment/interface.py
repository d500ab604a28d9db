"""What other contexts read of enrolment: the check (ltc.enrollment.gateway) and whether the
installed adapter asks a system outside LTC."""

from __future__ import annotations

from ltc.enrollment.gateway import (
    EnrollmentCheck,
    EnrollmentGateway,
    configured_gateway,
    gateway_health,
    is_remote,
)
from ltc.enrollment.rules import Circuit, EnrolmentStatus

__all__ = [
    "Circuit",
    "EnrollmentCheck",
    "EnrollmentGateway",
    "EnrolmentStatus",
    "configured_gateway",
    "gateway_health",
    "is_remote",
]
