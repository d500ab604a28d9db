"""Characters a database refuses (NUL, lone surrogates, invalid UTF-8) never reach a handler:
every route of the app answers 422 `invalid_characters` — JSON under /api, a Chinese page
elsewhere — for one in a path parameter, a query parameter or a form / JSON field, and nothing
is written. Uploaded files' own bytes are binary and pass."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import make_user, sign_in
from litestar.routes import HTTPRoute
from support.evidence_cases import JPEG_HEAD, as_user, make_case, photo, put, video

from ltc.accounts import service as accounts
from ltc.accounts.tables import ApiToken
from ltc.audit.tables import AuditEvent
from ltc.evidence.tables import EvidenceFile
from ltc.identity import SYSTEM, Role
from ltc.web.input_guard import RAW_UPLOAD

pytestmark = pytest.mark.anyio

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def every_route(app: Any) -> list[tuple[str, str, dict[str, str]]]:
    """(method, path template, {path parameter: type}) of every route handler of the app, but
    the OPTIONS answers Litestar adds to each path."""
    routes = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        types = dict(re.findall(r"{(\w+):(\w+)}", route.path))
        for handler in route.route_handlers:
            routes += [(method, route.path, types)
                       for method in sorted(handler.http_methods - {"OPTIONS"})]
    return routes


def url(template: str, types: dict[str, str], inject: str | None = None) -> str:
    """The path with each parameter filled: integers 1, text "GS1", `inject` in text ones."""
    def value(match: re.Match) -> str:
        name, kind = match.group(1), match.group(2)
        if kind == "int":
            return "1"
        return inject if inject is not None else ("GS1" if name != "file_path" else "app.css")
    return re.sub(r"{(\w+):(\w+)}", value, template)


async def refused(response: Any, field: str) -> None:
    assert response.status_code == 422, (response.request.url, response.text[:300])
    if response.request.method == "HEAD":
        return  # an answer without a body (tus's HEAD): its status says it
    if response.request.url.path.startswith("/api/"):
        error = response.json()["error"]
        assert error["code"] == "invalid_characters"
        assert field in error["fields"], error
        assert "不允许的字符" in error["fields"][field]
    else:
        assert "text/html" in response.headers["content-type"]
        assert "不允许的字符" in response.text and field in response.text
        assert "返回上一页修改" in response.text


@pytest.fixture
async def signed_in(client):
    await make_user(Role.admin, "admin")
    assert (await sign_in(client, "admin")).status_code == 302
    token, _ = await accounts.issue_token(SYSTEM, name="整理测试", role="admin",
                                          region_code="370983", organisation_code=None)
    return client, {"Authorization": f"Bearer {token}"}


async def test_every_route_refuses_nul_in_path_query_and_body(signed_in) -> None:
    client, bearer = signed_in
    routes = every_route(client.app)
    assert len(routes) > 120  # the whole app, not a sample
    audit_before = await AuditEvent.count()
    csrf = client.cookies.get("ltc_csrf")
    for method, template, types in routes:
        api = template.startswith("/api/")
        headers = bearer if api else {"x-csrftoken": csrf}
        text = [name for name, kind in types.items() if kind in ("str", "path")]
        if text:
            response = await client.request(method, url(template, types, "GS%00"),
                                            headers=headers)
            await refused(response, text[0])
        response = await client.request(method, f"{url(template, types)}?q=a%00b",
                                        headers=headers)
        await refused(response, "q")
        if method in UNSAFE:
            if api:
                response = await client.request(method, url(template, types), headers=headers,
                                                json={"note": "a\x00b", "version": 1})
            else:
                response = await client.request(
                    method, url(template, types), headers=headers,
                    data={"_csrf_token": csrf, "note": "a\x00b"})
            await refused(response, "note")
    assert await AuditEvent.count() == audit_before


@pytest.mark.parametrize(("path", "field"), [
    ("/notices?town=%00", "town"),
    ("/notices/GS%00", "number"),
    ("/notices/GS%00/document.pdf", "number"),
    ("/n/GS%00", "number"),
    ("/notices?town=%ED%A0%80", "town"),  # a surrogate's UTF-8 spelling: not UTF-8
    ("/notices?town=%FF", "town"),
])
async def test_public_notice_pages_without_sign_in(client, path: str, field: str) -> None:
    await refused(await client.get(path), field)


async def test_public_objection_form_refuses_nul_in_a_field(client) -> None:
    await client.get("/notices")
    csrf = client.cookies.get("ltc_csrf")
    response = await client.post("/notices/GS1/objections", data={
        "_csrf_token": csrf, "name": "张三", "reason": "理由\x00"})
    await refused(response, "reason")


async def test_ordinary_chinese_text_passes(client) -> None:
    assert (await client.get("/notices?town=城关镇")).status_code == 200


async def test_nul_in_the_session_cookie_is_refused_before_the_session_lookup(client) -> None:
    client.cookies.set("session", "%00")
    await refused(await client.get("/notices"), "cookie")


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x\x00"}, "name"),
    ('{"name": "\\ud800"}', "name"),  # JSON's spelling of a lone surrogate
    ({"items": [{"note": "ok"}, {"note": "\x00"}]}, "items.1.note"),
    ({"\x00": "key itself"}, "\ufffd"),
])
async def test_json_strings_anywhere_in_the_body(signed_in, body: dict | str,
                                                 field: str) -> None:
    client, bearer = signed_in
    content = body if isinstance(body, str) else json.dumps(body)
    response = await client.post("/api/v1/tokens", content=content,
                                 headers={**bearer, "content-type": "application/json"})
    await refused(response, field)


async def test_bearer_token_with_nul_is_refused_before_the_token_lookup(client) -> None:
    await refused(await client.get("/api/v1/me", headers={"Authorization": "Bearer a\x00"}),
                  "authorization")


async def test_multipart_fields_are_checked_but_file_bytes_are_not(signed_in) -> None:
    client, _ = signed_in
    csrf = client.cookies.get("ltc_csrf")
    binary = ("clip.mp4", b"\x00\x00\x00\x18ftypmp42\x00\xff\xfe", "video/mp4")
    response = await client.post("/payouts/1/bank-result", files={"file": binary},
                                 data={"_csrf_token": csrf, "note": "a\x00"})
    await refused(response, "note")
    # httpx percent-escapes a NUL in a file name; a client that does not is refused.
    body = ("--b\r\nContent-Disposition: form-data; name=\"_csrf_token\"\r\n\r\n"
            f"{csrf}\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; "
            "filename=\"回单\x00.csv\"\r\n\r\na,b\r\n--b--\r\n").encode()
    response = await client.post("/payouts/1/bank-result", content=body,
                                 headers={"content-type": "multipart/form-data; boundary=b"})
    await refused(response, "file")
    # A file whose bytes hold NUL is the handler's business, not the guard's.
    response = await client.post("/payouts/1/bank-result", files={"file": binary},
                                 data={"_csrf_token": csrf}, follow_redirects=False)
    assert response.status_code != 422 or "invalid_characters" not in response.text


@pytest.mark.parametrize("field_bytes", [b"\xff\xfe", "空\x00".encode()])
async def test_a_plain_multipart_field_that_is_not_utf8_or_holds_nul(client, field_bytes) -> None:
    """Litestar decodes plain multipart fields itself: bytes that are not UTF-8 were a 500."""
    body = (b'--b\r\nContent-Disposition: form-data; name="reason"\r\n\r\n' + field_bytes
            + b"\r\n--b--\r\n")
    response = await client.post("/notices/GS1/objections", content=body,
                                 headers={"content-type": "multipart/form-data; boundary=b"})
    await refused(response, "reason")


@pytest.mark.parametrize("path", ["/api/v1/tokens", "/api/v1/visits"])
async def test_json_nested_too_deep_for_any_decoder_is_a_400(signed_in, path) -> None:
    """Litestar's and the visit API's JSON decoders gave a 500 (RecursionError) on these."""
    client, bearer = signed_in
    response = await client.post(path, content="[" * 100_000,
                                 headers={**bearer, "content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


TOKEN_WITH_NUL = json.dumps({"name": "x\x00y", "role": "admin", "region_code": "370983"})


@pytest.mark.parametrize("content_type", [
    "application/octet-stream", "application/pdf", "video/mp4", "image/png", "audio/mpeg",
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
    "multipart/form-data; boundary=b",
])
async def test_json_under_any_content_type_is_checked(signed_in, content_type: str) -> None:
    """Litestar decodes a JSON body whatever its Content-Type says: a NUL under a binary,
    form or multipart label was stored (a 500 on PostgreSQL)."""
    client, bearer = signed_in
    tokens_before, audit_before = await ApiToken.count(), await AuditEvent.count()
    response = await client.post("/api/v1/tokens", content=TOKEN_WITH_NUL,
                                 headers={**bearer, "content-type": content_type})
    await refused(response, "name")
    assert await ApiToken.count() == tokens_before
    assert await AuditEvent.count() == audit_before


@pytest.mark.parametrize("content_type", ["application/octet-stream", "image/png"])
async def test_visit_api_reading_the_raw_body_is_checked_too(signed_in, content_type) -> None:
    client, bearer = signed_in
    response = await client.post("/api/v1/visits", content='{"note": "a\\u0000"}',
                                 headers={**bearer, "content-type": content_type})
    await refused(response, "note")


async def test_only_the_raw_evidence_uploads_are_left_unread(client) -> None:
    """The streamed PUT and the resumable upload's PATCH: their bodies are the file."""
    raw = [(method, path) for method, path, _ in every_route(client.app)
           for route in client.app.routes if isinstance(route, HTTPRoute) and route.path == path
           for handler in route.route_handlers
           if method in handler.http_methods and handler.opt.get(RAW_UPLOAD)]
    assert raw == [("PUT", "/api/v1/assessments/{assessment_id:int}/evidence"),
                   ("PATCH", "/api/v1/uploads/{key:str}")]


@pytest.mark.parametrize(("body", "content_type"), [
    (video(3000), "video/mp4"),
    (photo(head=JPEG_HEAD) + b"\x00" * 64, "application/octet-stream"),
    (photo() + b'{"a": "\\u0000"}', "image/png"),
])
async def test_raw_upload_with_nul_bytes_is_accepted(client, body: bytes,
                                                     content_type: str) -> None:
    assert b"\x00" in body or b"\\u0000" in body
    case = await make_case()
    csrf = await as_user(client, "assessor1")
    response = await put(client, case["id"], body, content_type, csrf)
    assert response.status_code == 201, response.text
    assert await EvidenceFile.count() == 1
