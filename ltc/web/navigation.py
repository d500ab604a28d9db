"""The navigation each role sees. Later contexts add their entries here."""

from __future__ import annotations

from ltc.identity import Role

NAVIGATION: dict[Role, list[tuple[str, str]]] = {
    Role.clerk: [("工作台", "/"), ("申请受理", "/applications"),
                 ("人员查询", "/people"), ("公示管理", "/notice-batches"),
                 ("待遇资格", "/entitlements"), ("协议管理", "/agreements"),
                 ("护理计划", "/care-plans"), ("机构住养", "/stays"), ("回访", "/surveys"),
                 ("回访抽样", "/return-visits"),
                 ("机构考核", "/evaluation"), ("月度结算", "/payouts"),
                 ("数据看板", "/dashboard"), ("办理时限", "/deadlines"),
                 ("结论到期", "/conclusions"),
                 ("服务人员", "/staff"), ("处理决定", "/sanctions"),
                 ("禁入名单", "/sanctions/bans"), ("机构退出", "/sanctions/exits")],
    Role.assessor: [("工作台", "/"), ("我的评估任务", "/assessments"),
                    ("专家确认", "/assessments/confirmations"), ("评估抽查", "/spotchecks/mine"),
                    ("外勤离线", "/field")],
    Role.provider: [("工作台", "/"), ("服务记录", "/visits"), ("护理计划", "/care-plans"),
                    ("结算申报", "/provider/declarations"), ("结算单", "/provider/statements"),
                   ("外勤离线", "/field")],
    Role.reviewer: [("工作台", "/"), ("数据看板", "/dashboard"), ("评估审核", "/review"),
                    ("人员查询", "/people"),
                    ("待遇资格", "/entitlements"),
                    ("服务记录审核", "/visit-review"), ("机构考核", "/evaluation"),
                    ("月度结算", "/payouts"), ("改判影响", "/regrading"),
                    ("政策沙盘", "/policy/sandbox"),
                    ("办理时限", "/deadlines"), ("结论到期", "/conclusions"),
                    ("评估抽查", "/spotchecks"), ("稽核报告", "/inspections")],
    Role.admin: [("工作台", "/"), ("用户管理", "/admin/users"), ("服务人员", "/staff"),
                 ("接口令牌", "/admin/tokens"), ("数据看板", "/dashboard"),
                 ("政策版本", "/admin/policies"), ("评估规则", "/admin/rulesets"),
                 ("改判影响", "/regrading"), ("政策沙盘", "/policy/sandbox"),
                 ("评估抽查", "/spotchecks"),
                 ("稽核报告", "/inspections"),
                 ("定点机构", "/admin/organisations"), ("地区管理", "/admin/regions"),
                 ("护理项目目录", "/admin/care-items"),
                 ("事件订阅", "/admin/event-subscribers"),
                 ("事件投递", "/admin/event-deliveries")],
}
