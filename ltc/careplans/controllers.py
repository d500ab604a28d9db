"""Pages of this context (being built)."""

from litestar import Controller

from ltc.accounts.rules import Role
from ltc.web.guards import role_guard


class CarePlanPages(Controller):
    path = "/care-plans"
    guards = [role_guard(Role.clerk)]  # noqa: RUF012
