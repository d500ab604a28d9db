"""Pages of this context (being built)."""

from litestar import Controller

from ltc.accounts.rules import Role
from ltc.web.guards import role_guard


class StayPages(Controller):
    path = "/stays"
    guards = [role_guard(Role.clerk)]  # noqa: RUF012


class SurveyPages(Controller):
    path = "/surveys"
    guards = [role_guard(Role.clerk)]  # noqa: RUF012


class EvaluationPages(Controller):
    path = "/evaluation"
    guards = [role_guard(Role.reviewer, Role.clerk)]  # noqa: RUF012
