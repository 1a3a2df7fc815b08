"""Display names of the registry's codes, as (Chinese, English) pairs."""

from __future__ import annotations

Bilingual = tuple[str, str]

KIND_LABELS: dict[str, Bilingual] = {
    "harvest": ("采收", "Harvest"),
    "processing": ("加工", "Processing"),
    "packing": ("包装", "Packing"),
    "inspection": ("检测", "Inspection"),
    "certificate": ("合格证", "Certificate"),
    "storage": ("仓储", "Storage"),
    "shipping": ("发运", "Shipping"),
    "receiving": ("收货", "Receiving"),
    "recall": ("召回", "Recall"),
    "correction": ("更正", "Correction"),
    "endorsement": ("官员背书", "Endorsement"),
    "endorsement_revocation": ("撤销背书", "Endorsement revoked"),
}
ORG_KIND_LABELS: dict[str, Bilingual] = {
    "operator": ("登记处运营方", "Registry operator"),
    "cooperative": ("合作社", "Cooperative"),
    "processor": ("加工厂", "Processor"),
    "carrier": ("物流仓储", "Carrier / warehouse"),
    "lab": ("检测机构", "Lab"),
    "authority": ("政府机关", "Authority"),
}
ROLE_LABELS: dict[str, Bilingual] = {
    "admin": ("管理员", "Administrator"),
    "clerk": ("记录员", "Clerk"),
    "official": ("官员", "Official"),
}
CLAIM_LABELS: dict[str, Bilingual] = {
    "origin_verified": ("产地核验", "Origin verified"),
    "lab_tested": ("检测合格", "Lab tested"),
    "certified": ("承诺达标合格证", "Producer's compliance certificate"),
    "cold_chain": ("全程冷链", "Cold chain throughout"),
    "personally_vouched": ("本人担保", "Personally vouched"),
}
PLATFORM_LABELS: dict[str, Bilingual] = {
    "taobao_live": ("淘宝直播", "Taobao Live"),
    "pinduoduo": ("拼多多", "Pinduoduo"),
    "douyin": ("抖音", "Douyin"),
    "kuaishou": ("快手", "Kuaishou"),
    "wechat_channels": ("微信视频号", "WeChat Channels"),
    "other": ("其他平台", "Other"),
}
REQUEST_STATUS_LABELS: dict[str, Bilingual] = {
    "pending": ("待审核", "Pending"),
    "partially_approved": ("部分签名", "Partly signed"),
    "approved": ("已批准", "Approved"),
    "rejected": ("已驳回", "Rejected"),
}
STATUS_LABELS: dict[str, Bilingual] = {
    "valid": ("有效", "Valid"),
    "not_yet_valid": ("未生效", "Not yet valid"),
    "expired": ("已过期", "Expired"),
    "revoked": ("已撤销", "Revoked"),
    "recalled": ("已召回", "Recalled"),
}
PRECONDITION_LABELS: dict[str, Bilingual] = {
    "origin": ("辖区内的产地记录", "Origin record in the jurisdiction"),
    "lab_test": ("直播前 90 天内检测合格", "Passing lab test within 90 days"),
    "certificate": ("生产者的承诺达标合格证", "Producer's compliance certificate"),
    "no_recall": ("无召回、未过保质期", "No recall, within best-before"),
    "chain_verifies": ("全部记录验签通过", "Every record verifies"),
}
REPORT_CATEGORY_LABELS: dict[str, Bilingual] = {
    "not_as_described": ("与描述不符", "Not as described"),
    "quality_problem": ("质量问题", "Quality problem"),
    "suspected_counterfeit": ("疑似假冒", "Suspected counterfeit"),
    "other": ("其他", "Other"),
}

ALL = {
    "kind_labels": KIND_LABELS,
    "org_kind_labels": ORG_KIND_LABELS,
    "role_labels": ROLE_LABELS,
    "claim_labels": CLAIM_LABELS,
    "platform_labels": PLATFORM_LABELS,
    "request_status_labels": REQUEST_STATUS_LABELS,
    "status_labels": STATUS_LABELS,
    "precondition_labels": PRECONDITION_LABELS,
    "report_category_labels": REPORT_CATEGORY_LABELS,
}
