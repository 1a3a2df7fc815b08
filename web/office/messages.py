"""What a domain error means, in the user's language.

Services explain errors in English (``RegistryError.detail``) and name the broken rule
(``rule``); a clerk reading Chinese gets the meaning from this table and the exact detail
alongside.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.errors import Forbidden, RegistryError
from registry.i18n import N_

RULES: dict[str, str] = {
    "stale-chain": N_("该批次刚有新记录，请重新提交"),
    "duplicate-lot": N_("该产品已有这个批号"),
    "batch-recalled": N_("该批次已被召回，不能再记录这一步"),
    "kind-not-allowed": N_("本单位类型不能签署这类记录"),
    "batch-of-another-organization": N_("这是其他单位生产的批次，只有生产者能签这类记录"),
    "insufficient-quantity": N_("原料批次剩余数量不足"),
    "no-custodial-key": N_("账号还没有签名密钥，请联系管理员"),
    "time-in-future": N_("时间不能晚于现在"),
    "unknown-batch": N_("没有这个批次"),
    "unknown-product": N_("没有这个产品"),
    "product-of-another-organization": N_("该产品属于其他单位"),
    "outside-jurisdiction": N_("批次产地不在该官员辖区内"),
    "unknown-region": N_("没有这个行政区划代码"),
    "request-decided": N_("该申请已经处理过"),
    "duplicate-gtin": N_("这个商品条码已登记"),
    "duplicate-username": N_("用户名已被使用"),
    "duplicate-gln": N_("这个 GLN 已登记"),
    "precondition-origin": N_("背书前提不满足：辖区内的产地记录"),
    "precondition-lab_test": N_("背书前提不满足：直播前 90 天内的合格检测"),
    "precondition-certificate": N_("背书前提不满足：生产者的承诺达标合格证"),
    "precondition-no_recall": N_("背书前提不满足：无召回、未过保质期"),
    "precondition-chain_verifies": N_("背书前提不满足：全部记录验签通过"),
    "approvals-required": N_("还需要更多官员签名"),
    "wrong-password": N_("当前密码不正确"),
    "password-too-short": N_("密码至少 10 个字符"),
    "password-too-long": N_("密码最多 200 个字符"),
    "password-mismatch": N_("两次输入的新密码不一致"),
    "password-unchanged": N_("新密码不能与当前密码相同"),
    "revoked": N_("该背书已经撤销"),
    "official-required": N_("只有官员可以签署"),
    "account-disabled": N_("该账号已停用"),
}

# The detail of a rule's refusal in the user's language, from the error's facts (its
# ``extra``); a region or jurisdiction among them is shown by name. Rules not listed show
# the service's own words.
DETAILS: dict[str, tuple[str, tuple[str, ...]]] = {
    "outside-jurisdiction": (
        N_("%(lot)s 产自 %(region)s，不在辖区（%(jurisdiction)s）内"),
        ("lot", "region", "jurisdiction"),
    ),
    "unknown-region": (N_("%(field)s：没有这个行政区划代码 %(region)s"), ("field", "region")),
}

CODES: dict[str, str] = {
    "invalid-input": N_("输入有误"),
    "not-canonicalizable": N_("输入有误"),
    "not-found": N_("找不到"),
    "conflict": N_("与已有记录冲突"),
    "forbidden": N_("没有权限"),
    "policy-violation": N_("不符合签名规则"),
    "unauthenticated": N_("需要登录"),
    "verification-failed": N_("签名验证失败"),
}


@dataclass(frozen=True)
class Problem:
    """A domain error as a form shows it: ``heading`` is a catalogue message, ``detail``
    the service's own (English) words; ``message`` (a catalogue message) with ``facts``
    says the detail in the user's language where the rule has one."""

    heading: str
    detail: str
    rule: str | None
    message: str | None = None
    facts: tuple[tuple[str, str], ...] = ()


def explain(exc: RegistryError) -> Problem:
    """What ``exc`` means for the user: its rule's message, else its code's."""
    rule = exc.extra.get("rule") or getattr(exc, "rule", None)
    heading = RULES.get(str(rule)) if rule else None
    if heading is None:
        heading = CODES.get(exc.code, N_("操作未完成"))
    message, names = DETAILS.get(str(rule), (None, ()))
    facts = tuple((n, str(exc.extra.get(n) or "")) for n in names)
    return Problem(
        heading=heading,
        detail=exc.detail,
        rule=str(rule) if rule else None,
        message=message,
        facts=facts,
    )


def refusal_status(exc: RegistryError) -> int:
    """A decision the account may not make is 403 (as in the API); any other refusal
    shows the form again with 422."""
    return 403 if isinstance(exc, Forbidden) else 422
