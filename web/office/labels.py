"""Words for the registry's codes that only the back office shows (organization kinds,
roles, request states, the review's preconditions), marked for the text catalogue and
translated when a page is rendered: ``word(office_labels.ROLES, role)``.

Codes the public pages show too (record kinds, statuses, claims, platforms, complaint
categories) take their words from ``web.labels``, so both say the same.
"""

from __future__ import annotations

from registry.i18n import N_

ORG_KINDS: dict[str, str] = {
    "operator": N_("登记处运营方"),
    "cooperative": N_("合作社"),
    "processor": N_("加工厂"),
    "carrier": N_("物流仓储"),
    "lab": N_("检测机构"),
    "authority": N_("政府机关"),
}
ROLES: dict[str, str] = {
    "admin": N_("管理员"),
    "clerk": N_("记录员"),
    "official": N_("官员"),
}
REQUEST_STATUSES: dict[str, str] = {
    "pending": N_("待审核"),
    "partially_approved": N_("部分签名"),
    "approved": N_("已批准"),
    "rejected": N_("已驳回"),
}
PRECONDITIONS: dict[str, str] = {
    "origin": N_("辖区内的产地记录"),
    "lab_test": N_("直播前 90 天内检测合格"),
    "certificate": N_("生产者的承诺达标合格证"),
    "no_recall": N_("无召回、未过保质期"),
    "chain_verifies": N_("全部记录验签通过"),
}
