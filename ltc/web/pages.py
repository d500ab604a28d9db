"""Rendering a page: every template gets the signed-in actor and their navigation."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request
from litestar.response import Template

from ltc.web.guards import actor_of
from ltc.web.navigation import NAVIGATION


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> Template:
    actor = actor_of(request)
    return Template(
        template,
        context={
            "actor": actor,
            "navigation": NAVIGATION.get(actor.role, []) if actor and actor.role else [],
            # Counted before the handler (ltc.desk.queues.count_for_navigation); none on
            # pages without a signed-in actor or when counting failed.
            "navigation_counts": getattr(request.state, "navigation_counts", {}),
            **context,
        },
        status_code=status_code,
        media_type=MediaType.HTML,
    )
