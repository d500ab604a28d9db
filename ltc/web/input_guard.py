"""One guard for characters a database refuses, before any handler sees them.

PostgreSQL refuses NUL in text and both engines' drivers refuse lone surrogates, so such a
character in a path, a query string, a header (session cookie, bearer token), a form field or a
JSON string would otherwise end in a server error wherever it reaches a query. The guard answers
422 `invalid_characters` naming every field that holds one; the API gets JSON and pages a Chinese
error page (ltc.web.errors). The raw bytes of uploaded files are binary and never checked: only
their field names and file names are.

Path, query, headers, form and JSON bodies are checked before the app is called; a multipart body
(it may hold a video) as it is read, so that the handler never gets a form with a bad field.

The Content-Type does not decide whether a body is checked: Litestar (and the handlers that call
`json.loads(await request.body())`) decode a JSON body whatever it says, so a body labelled
octet-stream, image/*, a form or multipart is still checked as JSON when it is JSON. Only a binary
body sent to a route whose handler takes the raw body as a file, marked `opt={RAW_UPLOAD: True}`,
streams unread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from multipart import MultipartSegment, ParserError, ParserLimitReached, PushMultipartParser

from ltc.errors import DomainError, InvalidInput
from ltc.text import REFUSED, refused

MESSAGE = "提交的内容中含有不允许的字符（如空字符），请修改标出的内容后重试"
FIELD_MESSAGE = "含有不允许的字符（如空字符），请删除后重新输入"
# Litestar's default body limit: larger bodies reach only upload routes, where they are files.
CHECKED_BODY_LIMIT = 10 * 1024 * 1024
# The `opt` key of a route handler whose request body is a file it streams (never decoded).
RAW_UPLOAD = "raw_upload"
_BINARY_TYPES = ("video/", "image/", "audio/", "application/octet-stream", "application/pdf",
                 "application/offset+octet-stream",  # a tus PATCH (ltc.evidence.tus)
                 "binary/octet-stream")
_JSON_STARTS = frozenset(b'{["')


def _decoded(raw: bytes) -> str | None:
    """The text of `raw`, or None if it is not UTF-8 or holds a refused character."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if refused(text) else text


def _label(name: str | bytes) -> str:
    """A field name fit to be shown and sent as JSON, even when it holds the bad character."""
    if isinstance(name, bytes):
        name = name.decode("utf-8", errors="replace")
    return REFUSED.sub("\ufffd", name) or "body"


def invalid(fields: list[str]) -> InvalidInput:
    return InvalidInput("invalid_characters", MESSAGE,
                        {name: FIELD_MESSAGE for name in dict.fromkeys(fields)})


def _pairs(raw: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The percent-decoded bytes of a query string or urlencoded form (parse_qsl would
    decode them first, and fail on bytes that are not ASCII)."""
    for pair in raw.split(b"&"):
        key, _, value = pair.replace(b"+", b" ").partition(b"=")
        yield unquote_to_bytes(key), unquote_to_bytes(value)


def _in_pairs(raw: bytes) -> Iterator[str]:
    for key, value in _pairs(raw):
        if _decoded(key) is None or _decoded(value) is None:
            yield _label(key)


def _in_json(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if refused(value):
            yield path or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{_label(key)}" if path else _label(key)
            if refused(key):
                yield name
            yield from _in_json(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _in_json(item, f"{path}.{index}" if path else str(index))


def in_request_line(scope: Scope) -> list[str]:
    """Fields of the path, query string and headers that hold a refused character."""
    bad = [name for name, value in scope.get("path_params", {}).items()
           if isinstance(value, str) and refused(value)]
    bad += _in_pairs(scope.get("query_string", b""))
    # Cookies are percent-decoded before the session lookup uses one.
    bad += [_label(name) for name, value in scope.get("headers", [])
            if b"\x00" in value or (name == b"cookie" and b"\x00" in unquote_to_bytes(value))]
    return bad


class _BufferedBody:
    """A urlencoded form or a JSON (or untyped) body, checked whole when its last chunk comes.
    A form is checked as JSON as well: a JSON handler decodes it whatever its Content-Type.
    `sniff` keeps only a body that starts like a JSON text with strings (for multipart bodies,
    which may be large files: those start with their boundary and are dropped at once)."""

    def __init__(self, form: bool, sniff: bool = False) -> None:
        self.form = form
        self.body = bytearray()
        self.undecided = sniff  # the first non-blank byte is still to come
        self.dropped = False

    def feed(self, chunk: bytes, last: bool) -> list[str]:
        if self.dropped:
            return []
        if self.undecided and (start := chunk.lstrip()[:1]):
            self.undecided = False
            if start[0] not in _JSON_STARTS:
                self.dropped, self.body = True, bytearray()
                return []
        if len(self.body) <= CHECKED_BODY_LIMIT:
            self.body.extend(chunk)
        if not last or len(self.body) > CHECKED_BODY_LIMIT:
            return []
        if self.form:
            return list(_in_pairs(bytes(self.body))) or self._in_json()
        return self._in_json()

    def _in_json(self) -> list[str]:
        try:
            text = self.body.decode("utf-8")
            # The handler answers for what is not JSON; a string escape like \u0000 is ours.
            return list(_in_json(json.loads(text), "")) if text.strip() else []
        except ValueError:
            return []
        except RecursionError:  # no JSON decoder here parses it: refused as malformed
            raise DomainError("invalid_request", "请求内容嵌套层数过多，无法处理",
                              {"body": "嵌套层数过多"}, status_code=400) from None


class _MultipartBody:
    """Field names, file names and the values of plain fields; not the files' bytes. A body
    that is JSON rather than multipart is checked as JSON (a JSON handler decodes it anyway)."""

    def __init__(self, boundary: str | None) -> None:
        self.parser = PushMultipartParser(boundary) if boundary else None
        self.segment: MultipartSegment | None = None
        self.value = bytearray()
        self.json = _BufferedBody(form=False, sniff=True)

    def feed(self, chunk: bytes, last: bool) -> list[str]:
        bad = self.json.feed(chunk, last)
        if self.parser is None:
            return bad
        try:
            for event in self.parser.parse(chunk):
                if isinstance(event, MultipartSegment):
                    self.segment, self.value = event, bytearray()
                    if refused(event.name) or refused(event.filename or ""):
                        bad.append(_label(event.name))
                elif event is None:  # the end of a part
                    if self.segment is not None and not self.segment.filename and (
                            not self._plain_value_ok(self.segment.charset)):
                        bad.append(_label(self.segment.name))
                    self.segment = None
                elif self.segment is not None and not self.segment.filename:
                    self.value.extend(event)
        except (ParserError, ParserLimitReached):
            self.parser = None  # Litestar's own parser answers for a broken form
        return bad

    def _plain_value_ok(self, charset: str | None) -> bool:
        """Decodable as Litestar will decode it (an unknown charset would fail there too)."""
        try:
            return not refused(bytes(self.value).decode(charset or "utf-8"))
        except (UnicodeDecodeError, LookupError):
            return False


def _body_check(scope: Scope) -> _BufferedBody | _MultipartBody | None:
    headers = Headers.from_scope(scope)
    content_type = headers.get("content-type", "").lower()
    handler = scope.get("route_handler")
    if (handler is not None and handler.opt.get(RAW_UPLOAD)
            and content_type.startswith(_BINARY_TYPES)):
        return None  # a file the handler streams and never decodes: not read ahead
    if content_type.startswith("multipart/form-data"):
        boundary = re.search(r'boundary="?([^";]+)"?', headers.get("content-type", ""))
        return _MultipartBody(boundary.group(1) if boundary else None)
    return _BufferedBody(form=content_type.startswith("application/x-www-form-urlencoded"))


async def _read_ahead(receive: Receive, check: _BufferedBody) -> Receive:
    """Reads and checks the body before the app runs (up to CHECKED_BODY_LIMIT; the rest
    streams unchecked), then hands the app the same messages."""
    read: list[Message] = []
    size = 0
    while True:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":
            break
        body = message.get("body", b"")
        size += len(body)
        last = not message.get("more_body", False)
        if bad := check.feed(body, last):
            raise invalid(bad)
        if last or size > CHECKED_BODY_LIMIT:
            break

    async def replay() -> Message:
        return read.pop(0) if read else await receive()

    return replay


def _checked_while_read(receive: Receive, check: _MultipartBody) -> Receive:
    """A multipart body holds files, so it is not read ahead: the chunk that completes a bad
    field raises instead of reaching the form parser, before the handler gets the form."""

    async def checked() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            if bad := check.feed(message.get("body", b""), not message.get("more_body", False)):
                raise invalid(bad)
        return message

    return checked


class InputGuard(ASGIMiddleware):
    """Registered once, outermost, in ltc.app: before the session lookup reads the cookie."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send,
                     next_app: ASGIApp) -> None:
        if bad := in_request_line(scope):
            raise invalid(bad)
        check = _body_check(scope)
        if isinstance(check, _MultipartBody):
            receive = _checked_while_read(receive, check)
        elif check is not None and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            receive = await _read_ahead(receive, check)
        await next_app(scope, receive, send)
