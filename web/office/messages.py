"""What a domain error means, in the user's language.

Services explain errors in English (``RegistryError.detail``) and name the broken rule
(``rule``); a clerk reading Chinese gets the meaning from this table and the exact detail
alongside.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.errors import Forbidden, RegistryError
from web.office.core import Bilingual

RULES: dict[str, Bilingual] = {
    "stale-chain": (
        "该批次刚有新记录，请重新提交",
        "The batch has a newer record: submit again",
    ),
    "duplicate-lot": ("该产品已有这个批号", "This product already has this lot"),
    "batch-recalled": ("该批次已被召回，不能再记录这一步", "This batch has been recalled"),
    "kind-not-allowed": (
        "本单位类型不能签署这类记录",
        "Your kind of organization may not sign this record",
    ),
    "batch-of-another-organization": (
        "这是其他单位生产的批次，只有生产者能签这类记录",
        "Only the batch's producer may sign this record",
    ),
    "insufficient-quantity": ("原料批次剩余数量不足", "Not enough left in an input batch"),
    "no-custodial-key": (
        "账号还没有签名密钥，请联系管理员",
        "Your account has no signing key yet: ask an administrator",
    ),
    "time-in-future": ("时间不能晚于现在", "The time is in the future"),
    "unknown-batch": ("没有这个批次", "No such batch"),
    "unknown-product": ("没有这个产品", "No such product"),
    "product-of-another-organization": ("该产品属于其他单位", "The product is another's"),
    "outside-jurisdiction": ("批次产地不在该官员辖区内", "The origin is outside the jurisdiction"),
    "request-decided": ("该申请已经处理过", "This request has been decided already"),
    "duplicate-gtin": ("这个商品条码已登记", "This GTIN is registered already"),
    "duplicate-username": ("用户名已被使用", "This username is taken"),
    "duplicate-gln": ("这个 GLN 已登记", "This GLN is registered already"),
    "precondition-origin": ("背书前提不满足：辖区内的产地记录", "Precondition unmet: origin"),
    "precondition-lab_test": (
        "背书前提不满足：直播前 90 天内的合格检测",
        "Precondition unmet: a passing lab test within 90 days",
    ),
    "precondition-certificate": (
        "背书前提不满足：生产者的承诺达标合格证",
        "Precondition unmet: the producer's certificate",
    ),
    "precondition-no_recall": (
        "背书前提不满足：无召回、未过保质期",
        "Precondition unmet: no recall, within best-before",
    ),
    "precondition-chain_verifies": (
        "背书前提不满足：全部记录验签通过",
        "Precondition unmet: every record verifies",
    ),
    "approvals-required": ("还需要更多官员签名", "More officials must sign"),
    "wrong-password": ("当前密码不正确", "The current password is wrong"),
    "password-too-short": ("密码至少 10 个字符", "A password needs at least 10 characters"),
    "password-too-long": ("密码最多 200 个字符", "A password has at most 200 characters"),
    "password-mismatch": ("两次输入的新密码不一致", "The two new passwords differ"),
    "password-unchanged": ("新密码不能与当前密码相同", "The new password must differ"),
    "revoked": ("该背书已经撤销", "This endorsement is revoked already"),
    "official-required": ("只有官员可以签署", "Only an official may sign this"),
    "account-disabled": ("该账号已停用", "This account is disabled"),
}

CODES: dict[str, Bilingual] = {
    "invalid-input": ("输入有误", "Invalid input"),
    "not-canonicalizable": ("输入有误", "Invalid input"),
    "not-found": ("找不到", "Not found"),
    "conflict": ("与已有记录冲突", "Conflict"),
    "forbidden": ("没有权限", "Not allowed"),
    "policy-violation": ("不符合签名规则", "Refused by the signing policy"),
    "unauthenticated": ("需要登录", "Log in first"),
    "verification-failed": ("签名验证失败", "Verification failed"),
}


@dataclass(frozen=True)
class Problem:
    """A domain error as a form shows it."""

    heading: Bilingual
    detail: str
    rule: str | None


def explain(exc: RegistryError) -> Problem:
    rule = exc.extra.get("rule") or getattr(exc, "rule", None)
    heading = RULES.get(str(rule)) if rule else None
    if heading is None:
        heading = CODES.get(exc.code, ("操作未完成", "Not done"))
    return Problem(heading=heading, detail=exc.detail, rule=str(rule) if rule else None)


def refusal_status(exc: RegistryError) -> int:
    """A decision the account may not make is 403 (as in the API); any other refusal
    shows the form again with 422."""
    return 403 if isinstance(exc, Forbidden) else 422
