"""护理项目目录 for admins: the care catalogue with each item's national service-item code
(国家长护服务项目编码, 21号), which an admin fills in or corrects; audited."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from ltc import db
from ltc.audit import service as audit
from ltc.careplans.rules import CATEGORY_LABELS
from ltc.careplans.service import catalogue
from ltc.careplans.tables import CareItem
from ltc.errors import InvalidInput, NotFound
from ltc.identity import Actor, Role, require_role
from ltc.web.guards import role_guard
from ltc.web.pages import page

NATIONAL_CODE = re.compile(r"^[0-9A-Za-z\-.]{1,40}$")


async def set_national_code(actor: Actor, code: str, national_code: str) -> None:
    """The item's national service-item code ("" clears it); two items never share one."""
    require_role(actor, frozenset({Role.admin}), "维护护理项目编码")
    national_code = national_code.strip()
    if national_code and not NATIONAL_CODE.match(national_code):
        raise InvalidInput("invalid_care_item_code", "国家服务项目编码格式不对",
                           {code: "编码为1到40位字母、数字、点或短横线"})
    duplicate = InvalidInput("duplicate_care_item_code", "国家服务项目编码重复",
                             {code: f"编码 {national_code} 已用于其他护理项目"})
    try:
        async with db.write_transaction():
            item = await CareItem.select(CareItem.id, CareItem.national_code).where(
                CareItem.code == code).first()
            if item is None:
                raise NotFound("care_item_not_found", f"护理项目 {code} 不存在")
            if national_code and await CareItem.exists().where(
                    (CareItem.national_code == national_code) & (CareItem.id != item["id"])):
                raise duplicate
            if item["national_code"] == national_code:
                return
            await CareItem.update({CareItem.national_code: national_code}).where(
                CareItem.id == item["id"])
            await audit.record(actor, "care_item.code_set", "care_item", code,
                               before={"national_code": item["national_code"]},
                               after={"national_code": national_code})
    except db.UNIQUE_VIOLATIONS as exc:  # another admin gave an item the code meanwhile
        raise duplicate from exc


class CareItemPages(Controller):
    path = "/admin/care-items"
    guards = [role_guard(Role.admin)]  # noqa: RUF012
    include_in_schema = False

    async def _show(self, request: Request, status_code: int = 200, **context: Any
                    ) -> Template:
        return page(request, "admin/care_items.html", status_code=status_code,
                    items=list((await catalogue()).values()), categories=CATEGORY_LABELS,
                    errors=context.pop("errors", {}), **context)

    @get("/")
    async def index(self, request: Request[Actor, Any, Any]) -> Template:
        return await self._show(request)

    @post("/{code:str}", status_code=200)
    async def save(self, request: Request[Actor, Any, Any], code: FromPath[str],
                   data: URLEncodedBody[dict[str, str]]) -> Any:
        try:
            await set_national_code(request.user, code, data.get("national_code", ""))
        except InvalidInput as exc:
            return await self._show(request, status_code=exc.status_code, errors=exc.fields,
                                    error=exc.message)
        flash(request, f"护理项目 {code} 的国家服务项目编码已保存", category="success")
        return Redirect("/admin/care-items")
