"""Every error as the caller can use it: structured JSON with a stable code under /api, a
Chinese page that says what to do everywhere else."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.response import Redirect

from ltc.db import StaleWrite
from ltc.errors import Conflict, DomainError
from ltc.web.csrf import CsrfFailed
from ltc.web.guards import FAMILY_PATH, StaffOnly
from ltc.web.pages import page

log = logging.getLogger(__name__)


API_PREFIX = "/api/"


def is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _respond(request: Request, error: DomainError) -> Response[Any]:
    if is_api(request):
        return Response(error.as_json(), status_code=error.status_code,
                        media_type=MediaType.JSON)
    return page(request, "error.html", status_code=error.status_code,
                status=error.status_code, message=error.message, code=error.code,
                fields=error.fields)


def domain_error(request: Request, exc: DomainError) -> Response[Any]:
    return _respond(request, exc)


def stale_write(request: Request, exc: StaleWrite) -> Response[Any]:
    return _respond(request, Conflict(
        "stale_write", "该记录已被其他人修改，请刷新页面查看最新内容后再操作"))


def not_authorized(request: Request, exc: NotAuthorizedException) -> Response[Any]:
    if is_api(request):
        if exc.detail == "invalid_token":
            error = DomainError("invalid_token", "令牌无效或已吊销", status_code=401)
        else:
            error = DomainError("unauthenticated", "请先登录或提供有效的接口令牌", status_code=401)
        return _respond(request, error)
    if request.url.path.startswith(FAMILY_PATH):  # a household has no password to type
        return _respond(request, DomainError(
            "family_signed_out", "您已退出或登录已过期。请用手机重新扫描《护理计划告知书》上的"
            "二维码，输入家庭确认码登录", status_code=401))
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={quote(target)}")


def permission_denied(request: Request, exc: PermissionDeniedException) -> Response[Any]:
    if isinstance(exc, StaffOnly):
        error = DomainError("staff_only", "家属只能查看家属服务页面（本人的护理计划、服务记录等）",
                            status_code=403)
    elif isinstance(exc, CsrfFailed):
        error = DomainError("csrf_failed", "页面已过期或表单来源无法确认，请刷新页面后重新提交",
                            status_code=403)
    else:
        error = DomainError("forbidden", "您无权进行此操作", status_code=403)
    return _respond(request, error)


def not_found(request: Request, exc: NotFoundException) -> Response[Any]:
    return _respond(request, DomainError(
        "not_found", "您要找的页面不存在，请检查地址或返回首页", status_code=404))


def invalid_request(request: Request, exc: ValidationException) -> Response[Any]:
    fields = {}
    for item in exc.extra or []:
        if isinstance(item, dict) and item.get("key"):
            fields[str(item["key"])] = str(item.get("message", ""))
    return _respond(request, DomainError(
        "invalid_request", "请求内容格式有误，请检查后重试", fields, status_code=400))


def number_out_of_range(request: Request, exc: OverflowError) -> Response[Any]:
    """A number too large for the database that slipped past the typed parameters."""
    return _respond(request, DomainError(
        "invalid_request", "请求中的数字超出允许范围，请检查后重试", status_code=400))


def http_error(request: Request, exc: HTTPException) -> Response[Any]:
    response = _respond(request, DomainError(
        f"http_{exc.status_code}", "请求无法完成，请稍后重试", status_code=exc.status_code))
    # Litestar's own headers stay: a 405 must list the methods allowed (Allow, RFC 9110).
    response.headers.update(exc.headers or {})
    return response


def server_error(request: Request, exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _respond(request, DomainError(
        "server_error", "系统出现错误，已记录。请稍后重试，如仍有问题请联系系统管理员",
        status_code=500))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error,
    StaleWrite: stale_write,
    NotAuthorizedException: not_authorized,
    PermissionDeniedException: permission_denied,
    NotFoundException: not_found,
    ValidationException: invalid_request,
    HTTPException: http_error,
    OverflowError: number_out_of_range,
    Exception: server_error,
}
