"""Pages and API of this context (being built)."""

from litestar import Controller

from ltc.accounts.rules import Role
from ltc.web.guards import role_guard


class VisitPages(Controller):
    path = "/visits"
    guards = [role_guard(Role.provider)]  # noqa: RUF012


class VisitApi(Controller):
    path = "/api/v1/visits"
    guards = [role_guard(Role.provider)]  # noqa: RUF012


class VisitReviewPages(Controller):
    path = "/visit-review"
    guards = [role_guard(Role.reviewer)]  # noqa: RUF012
