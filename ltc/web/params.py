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


def form_int(data: dict, field: str) -> int:
    """An integer field of a posted form; a missing or garbled one is refused, not a 500."""
    raw = str(data.get(field) or "").strip()
    if raw.isdigit() and int(raw) <= DB_INT_MAX:
        return int(raw)
    raise InvalidInput("invalid_request", "表单内容不完整，请刷新页面后重试",
                       {field: "缺少或无法识别"})
