"""How audit events read on a timeline: one Chinese phrase per action."""

from __future__ import annotations

import json

ACTION_LABELS = {
    "user.created": "创建用户",
    "user.updated": "修改用户",
    "session.signed_in": "登录",
    "session.signed_out": "退出登录",
    "api_token.issued": "创建接口令牌",
    "api_token.revoked": "吊销接口令牌",
    "audit.chain_verified": "审计日志校验通过",
    "audit.chain_broken": "审计日志校验发现篡改",
    "person.registered": "登记人员信息",
    "person.updated": "修改人员信息",
    "person.resident_id_viewed": "查看完整身份证号",
    "enrollment.imported": "导入参保数据",
    "application.created": "登记申请",
    "application.exported": "导出申请列表",
    "application.submitted": "提交申请",
    "application.accepted": "受理申请",
    "application.rejected": "不予受理",
    "application.assigned": "分派评估员",
    "assessment.draft_saved": "保存评估记录",
    "assessment.signed": "评估员签名",
    "assessment.submitted": "提交评估",
    "assessment.concluded": "确认评估结论",
    "assessment.returned": "退回评估",
    "evidence.uploaded": "上传评估影像",
    "evidence.viewed": "查看评估影像",
    "assessment.cancelled": "终止评估",
    "application.closed": "申请终止",
    "application.decided": "待遇核定，申请办结",
    "application.regrading_raised": "因评估规则更正发起复评",
    "person.regrading_raised": "因评估规则更正发起复评",
    "ruleset.activated": "评估规则生效日期设定",
    "policy.version_added": "新增政策版本",
    "notice_batch.created": "编制公示",
    "notice_batch.published": "发布公示",
    "notice_batch.closed": "公示期满",
    "notice_batch.document_rendered": "生成公示文件",
    "notice.objection_received": "收到异议",
    "notice.reassessment_assigned": "因异议分派重新评估",
    "notice.reassessment_unassigned": "重新评估待分派（可抽取的评估员不足）",
    "decision.made": "作出待遇核定",
    "decision.letter_rendered": "生成核定通知书",
    "entitlement.started": "待遇资格生效",
    "entitlement.suspended": "暂停待遇",
    "entitlement.resumed": "恢复待遇",
    "entitlement.ended": "终止待遇",
    "entitlement.renewal_raised": "到期前复评提醒",
    "entitlement.exported": "导出待遇资格列表",
    "enrollment.enrolled": "参保事件：参保",
    "enrollment.enrollment_ended": "参保事件：终止参保",
    "enrollment.deceased": "参保事件：死亡",
    "enrollment.hospital_admitted": "参保事件：住院",
    "enrollment.hospital_discharged": "参保事件：出院",
    "enrollment.moved_out": "参保事件：迁出",
    "stay.admitted": "机构住养入住",
    "stay.discharged": "机构住养出院",
    "survey.recorded": "登记回访",
    "care_plan.proposed": "护理机构提出护理计划",
    "care_plan.created": "经办员制定护理计划（即时生效）",
    "care_plan.confirmed": "确认护理计划",
    "care_plan.rejected": "退回护理计划",
    "care_plan.superseded": "护理计划被新版本替代",
    "agreement.created": "起草协议",
    "agreement.activated": "协议生效",
    "agreement.suspended": "暂停协议",
    "agreement.resumed": "恢复协议",
    "agreement.terminated": "终止协议",
    "agreement.expired": "协议到期",
    "agreement.expiry_reminder": "协议到期提醒（30天前）",
    "agreement.document_rendered": "生成协议文本",
    "visit.logged": "登记上门服务记录",
    "visit.revised": "更正上门服务记录（新记录）",
    "visit.superseded": "服务记录被更正（原记录保留）",
    "visit.accepted": "审核通过服务记录",
    "visit.rejected": "审核不通过服务记录",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def event_note(summary_json: str) -> str:
    """The human part of an event's summary: its note, if any (the full before/after stays
    in the audit log for inspectors)."""
    return str(json.loads(summary_json).get("note", ""))
