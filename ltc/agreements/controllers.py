"""Pages of this context (being built)."""

from litestar import Controller

from ltc.accounts.rules import Role
from ltc.web.guards import role_guard


class AgreementPages(Controller):
    path = "/agreements"
    guards = [role_guard(Role.clerk)]  # noqa: RUF012
