"""A page's POST that performs one transition: on success a flash and a redirect (so a
reload does not repeat it); on refusal the same page again, with the reason, and nothing
changed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response
from litestar.plugins.flash import flash
from litestar.response import Redirect

from ltc.db import StaleWrite
from ltc.errors import DomainError, InvalidInput

Render = Callable[..., Awaitable[Response[Any]]]


async def perform(
    request: Request,
    transition: Callable[[], Awaitable[Any]],
    *,
    render: Render,
    done: str,
    then: str,
    stale: str,
) -> Response[Any]:
    """Run `transition`; `render(status_code=…, error=…, errors=…, refusal=exc)` re-shows the
    page when it is refused, `stale` says what happened when someone else acted first."""
    try:
        await transition()
    except StaleWrite:
        return await render(status_code=409, error=stale, errors={}, refusal=None)
    except InvalidInput as exc:
        return await render(status_code=exc.status_code, error=exc.message, errors=exc.fields,
                            refusal=exc)
    except DomainError as exc:
        return await render(status_code=exc.status_code, error=exc.message, errors={},
                            refusal=exc)
    flash(request, done, category="success")
    return Redirect(then)
