"""The navigation each role sees. Later contexts add their entries here."""

from __future__ import annotations

from ltc.accounts.rules import Role

NAVIGATION: dict[Role, list[tuple[str, str]]] = {
    Role.clerk: [("工作台", "/")],
    Role.assessor: [("工作台", "/")],
    Role.provider: [("工作台", "/")],
    Role.reviewer: [("工作台", "/")],
    Role.admin: [("工作台", "/"), ("用户管理", "/admin/users"), ("接口令牌", "/admin/tokens")],
}
