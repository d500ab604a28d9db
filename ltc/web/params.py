"""Numbers from the outside world, bounded where they enter: an id or version beyond what the
database can hold is a 400 with a clear message, never an overflow deep inside a query."""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter
from msgspec import Meta, Struct

from ltc.errors import InvalidInput

DB_INT_MAX = 2**31 - 1  # ids (SERIAL) and versions (INTEGER) are 32-bit on PostgreSQL

# A row id in a path, e.g. /applications/{application_id}.
Id = Annotated[int, PathParameter(ge=1, le=DB_INT_MAX)]
# A keyset cursor of ids, or a page size, in a query string.
AfterId = Annotated[int, QueryParameter(ge=0, le=DB_INT_MAX)]
PageSize = Annotated[int, QueryParameter(ge=1, le=200)]
# `state` is a name Litestar reserves for the app state; the query string still says ?state=.
StateQuery = Annotated[str, QueryParameter(name="state")]
# Ids and optimistic-concurrency versions inside JSON bodies.
BodyId = Annotated[int, Meta(ge=1, le=DB_INT_MAX)]
Version = Annotated[int, Meta(ge=1, le=DB_INT_MAX)]


class VersionIn(Struct):
    """The body of a transition that needs nothing but the version the caller read."""

    version: Version


def whole_number(raw: object) -> int | None:
    """A number typed in ASCII digits that the database can hold, or None: not for '²' or
    '٣' (str.isdigit accepts them; int() refuses the first), '-1', '1e3' or 20 digits."""
    text = str(raw if raw is not None else "").strip()
    if text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= DB_INT_MAX:
        return int(text)
    return None


def page_number(raw: object, pages: int) -> int:
    """The page asked for in a query string, within 1..pages; page 1 for anything garbled."""
    return min(max(whole_number(raw) or 1, 1), max(pages, 1))


def form_int(data: dict, field: str) -> int:
    """An integer field of a posted form; a missing or garbled one is refused, not a 500."""
    if (number := whole_number(data.get(field) or "")) is not None:
        return number
    raise InvalidInput("invalid_request", "表单内容不完整，请刷新页面后重试",
                       {field: "缺少或无法识别"})
