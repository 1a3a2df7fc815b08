"""The words for the registry's codes (statuses, record kinds, claims, units ...) on the
pages, marked for the text catalogue (``registry.i18n``) and translated when a page is
rendered: a template shows one as ``word(labels.KINDS, kind)``.
"""

from __future__ import annotations

from registry.i18n import N_

STATUSES = {
    "valid": N_("有效"),
    "not_yet_valid": N_("未生效"),
    "expired": N_("已过期"),
    "revoked": N_("已撤销"),
    "recalled": N_("已召回"),
}
STATUS_EXPLAINED = {
    "valid": N_("官员的担保在有效期内。"),
    "not_yet_valid": N_("担保尚未开始生效：请在有效期内购买。"),
    "expired": N_("担保已过有效期，不再覆盖现在的购买。"),
    "revoked": N_("担保已被官员撤销，不再担保。"),
    "recalled": N_("该批次或其原料已被召回：请勿食用，联系卖家退货。"),
}
WHY = {"revoked": N_("撤销原因"), "recalled": N_("召回原因")}
CLAIMS = {
    "origin_verified": N_("产地核验"),
    "lab_tested": N_("检测合格"),
    "certified": N_("承诺达标合格证"),
    "cold_chain": N_("全程冷链"),
    "personally_vouched": N_("本人担保"),
}
PRECONDITIONS = {
    "origin": N_("辖区内合作社的产地记录"),
    "lab_test": N_("直播前90天内检测合格"),
    "certificate": N_("承诺达标合格证"),
    "no_recall": N_("无召回、未过保质期"),
    "chain_verifies": N_("全部记录验签通过"),
}
# What each precondition found (``registry.policy.Finding.reason``), with its facts as
# placeholders; a region or jurisdiction is shown by name (``registry.places``).
PRECONDITION_FINDINGS = {
    "harvested_in": N_("%(lots)s 由辖区（%(jurisdiction)s）内的合作社采收"),
    "no_harvest": N_("%(lot)s：没有采收记录"),
    "not_cooperative": N_("%(lot)s：采收记录不是合作社签署的"),
    "outside_jurisdiction": N_("%(lot)s：合作社位于 %(region)s，不在辖区（%(jurisdiction)s）内"),
    "no_origin": N_("没有找到产地批次"),
    "inspection_failed": N_("%(lot)s：有一次检测不合格（日志第 %(index)s 条）"),
    "no_passing_inspection": N_("直播前 %(days)s 天内，该批次及其原料没有合格的检测"),
    "inspection_passed": N_("%(lot)s：%(date)s 检测合格（日志第 %(index)s 条）"),
    "certificate_missing": N_("生产者没有为 %(lots)s 开具承诺达标合格证"),
    "certificate_issued": N_("每个批次的生产者都开具了承诺达标合格证"),
    "recalled": N_("已召回：%(lots)s"),
    "expired": N_("已过保质期：%(lots)s"),
    "not_recalled_in_date": N_("该批次及其原料均无召回，且在保质期内"),
    "record_fails": N_("%(lot)s：第 %(index)s 条记录验证失败（%(problem)s）"),
    "all_verify": N_("全部 %(count)s 条记录验签通过"),
}
KINDS = {
    "harvest": N_("采收"),
    "processing": N_("加工"),
    "packing": N_("包装"),
    "inspection": N_("检测"),
    "certificate": N_("合格证"),
    "storage": N_("仓储"),
    "shipping": N_("发运"),
    "receiving": N_("收货"),
    "recall": N_("召回"),
    "assignment": N_("委托"),
    "aggregation": N_("装箱组托"),
    "association": N_("传感器关联"),
    "transaction": N_("业务单据关联"),
    "observation": N_("观察记录"),
    "correction": N_("更正"),
    "key_registration": N_("密钥登记"),
    "key_rotation": N_("密钥轮换"),
    "key_revocation": N_("密钥吊销"),
    "endorsement": N_("官员背书"),
    "endorsement_revocation": N_("撤销背书"),
    "log_rename": N_("日志更名"),
    "witness_policy": N_("见证策略"),
    "script_release": N_("页面脚本发布"),
}
PLATFORMS = {
    "taobao_live": N_("淘宝直播"),
    "pinduoduo": N_("拼多多"),
    "douyin": N_("抖音"),
    "kuaishou": N_("快手"),
    "wechat_channels": N_("微信视频号"),
    "other": N_("其他平台"),
}
VERDICTS = {"pass": N_("合格"), "fail": N_("不合格")}
TASKS = {"carriage": N_("运输"), "inspection": N_("检测/抽样")}
REPORT_CATEGORIES = {
    "not_as_described": N_("与描述不符"),
    "quality_problem": N_("质量问题"),
    "suspected_counterfeit": N_("疑似假冒"),
    "other": N_("其他"),
}
REPORT_ERRORS = {
    "category": N_("请选择问题类型。"),
    "text": N_("请用 5 到 2000 字说明发生了什么。"),
    "contact": N_("联系方式最多 200 字。"),
    "bundle": N_("附上的核验凭证未通过核验，可取消勾选后再提交。"),
}
TRACE_DIRECTIONS = {
    "backward": N_("向上追溯：它由哪些原料制成"),
    "forward": N_("向下追踪：用它制成了哪些产品"),
}
