"""The demo's fictional organizations, their people (one account per kind of user, all with
the published development password) and the products they make, and the function that
creates them with a custodial signing key per person (docs/security.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.accounts import accounts as account_service
from registry.catalog import products as product_service
from registry.context import RegistryContext
from registry.demo.ids import demo_id
from registry.models import Account, Organization, OrgKind, Role
from registry.operations.bootstrap import operator
from registry.records import keys as key_service

DEMO_PASSWORD = "guarantee-demo-2026"  # noqa: S105 - published on purpose, development only
"""The one password of every demo account; the demo loads only in development mode."""


@dataclass(frozen=True)
class OrgSpec:
    """A demo organization: ``key`` names its UUIDv5 id (``org:<key>``); an authority's
    ``jurisdiction`` is the region code it may endorse in, with ``approvals_required``
    officials signing each endorsement."""

    key: str
    kind: OrgKind
    name_zh: str
    name_en: str
    region: str
    jurisdiction: str | None = None
    approvals_required: int = 1


@dataclass(frozen=True)
class PersonSpec:
    """A demo account: its username, the ``OrgSpec.key`` it belongs to (or ``operator``),
    its role, name and title in Chinese and English."""

    username: str
    org: str
    role: Role
    name_zh: str
    name_en: str
    title_zh: str = ""
    title_en: str = ""


class ProductSpec(NamedTuple):
    """A demo product: ``key`` names its UUIDv5 id (``product:<key>``), ``producer`` is the
    ``OrgSpec.key`` that makes it; GTIN when it is sold in retail packaging (GS1 GTIN-14)."""

    key: str
    producer: str
    name_zh: str
    name_en: str
    category: str
    gtin: str | None
    standard: str


ORGS = [
    OrgSpec(
        "aohan-coop",
        OrgKind.COOPERATIVE,
        "敖汉旗金谷小米种植专业合作社",
        "Aohan Golden Millet Growers' Cooperative",
        "150430",
    ),
    OrgSpec(
        "chifeng-mill",
        OrgKind.PROCESSOR,
        "赤峰谷丰米业有限公司",
        "Chifeng Gufeng Millet Mill Co.",
        "150402",
    ),
    OrgSpec(
        "mengdong-logistics",
        OrgKind.CARRIER,
        "蒙东冷链物流有限公司",
        "Mengdong Cold-Chain Logistics Co.",
        "150404",
    ),
    OrgSpec(
        "chifeng-lab",
        OrgKind.LAB,
        "赤峰谷检检测技术有限公司",
        "Chifeng Gujian Testing Co.",
        "150402",
    ),
    OrgSpec(
        "aohan-gov",
        OrgKind.AUTHORITY,
        "敖汉旗人民政府",
        "Aohan Banner People's Government",
        "150430",
        "150430",
    ),
    OrgSpec(
        "shanxian-coop",
        OrgKind.COOPERATIVE,
        "单县绿源蛋鸡养殖专业合作社",
        "Shan County Lvyuan Layer Farmers' Cooperative",
        "371722",
    ),
    OrgSpec(
        "heze-logistics",
        OrgKind.CARRIER,
        "菏泽顺达物流有限公司",
        "Heze Shunda Logistics Co.",
        "371702",
    ),
    OrgSpec(
        "luxinan-lab",
        OrgKind.LAB,
        "鲁西南农产品检测中心",
        "Southwest Shandong Farm Produce Testing Center",
        "371702",
    ),
    OrgSpec(
        "shanxian-gov",
        OrgKind.AUTHORITY,
        "单县人民政府",
        "Shan County People's Government",
        "371722",
        "371722",
    ),
    OrgSpec(
        "pingyin-rose-coop",
        OrgKind.COOPERATIVE,
        "平阴玫瑰花农专业合作社",
        "Pingyin Rose Growers' Cooperative",
        "370124",
    ),
    OrgSpec(
        "pingyin-flour-coop",
        OrgKind.COOPERATIVE,
        "平阴麦香面粉专业合作社",
        "Pingyin Maixiang Flour Cooperative",
        "370124",
    ),
    OrgSpec(
        "pingyin-bakery",
        OrgKind.PROCESSOR,
        "平阴玫香食品有限公司",
        "Pingyin Meixiang Foods Co. (bakery)",
        "370124",
    ),
    OrgSpec(
        "jinan-express",
        OrgKind.CARRIER,
        "济南泉通快运有限公司",
        "Jinan Quantong Express Co.",
        "370102",
    ),
    OrgSpec(
        "quancheng-lab",
        OrgKind.LAB,
        "泉城食品检测技术有限公司",
        "Quancheng Food Testing Co.",
        "370102",
    ),
    OrgSpec(
        "pingyin-gov",
        OrgKind.AUTHORITY,
        "平阴县人民政府",
        "Pingyin County People's Government",
        "370124",
        "370124",
        approvals_required=2,
    ),
]
"""The demo organizations: per product story a producer, a carrier, a lab and the
authority whose official endorses (Pingyin's needs two officials)."""

PEOPLE = [
    PersonSpec("admin", "operator", Role.ADMIN, "管理员", "Administrator"),
    PersonSpec(
        "aohan-clerk",
        "aohan-coop",
        Role.CLERK,
        "刘春梅",
        "Liu Chunmei",
        "合作社记录员",
        "Cooperative clerk",
    ),
    PersonSpec(
        "mill-clerk",
        "chifeng-mill",
        Role.CLERK,
        "赵志刚",
        "Zhao Zhigang",
        "生产主管",
        "Production supervisor",
    ),
    PersonSpec(
        "mengdong-driver",
        "mengdong-logistics",
        Role.CLERK,
        "孟庆华",
        "Meng Qinghua",
        "调度员",
        "Dispatcher",
    ),
    PersonSpec(
        "chifeng-analyst", "chifeng-lab", Role.CLERK, "高雅琴", "Gao Yaqin", "检测员", "Analyst"
    ),
    PersonSpec(
        "aohan-head",
        "aohan-gov",
        Role.OFFICIAL,
        "王立军",
        "Wang Lijun",
        "敖汉旗旗长",
        "Head of Aohan Banner",
    ),
    PersonSpec(
        "shanxian-clerk",
        "shanxian-coop",
        Role.CLERK,
        "孙玉兰",
        "Sun Yulan",
        "合作社记录员",
        "Cooperative clerk",
    ),
    PersonSpec(
        "heze-driver",
        "heze-logistics",
        Role.CLERK,
        "周建国",
        "Zhou Jianguo",
        "调度员",
        "Dispatcher",
    ),
    PersonSpec(
        "luxinan-analyst", "luxinan-lab", Role.CLERK, "何静", "He Jing", "检测员", "Analyst"
    ),
    PersonSpec(
        "shanxian-head",
        "shanxian-gov",
        Role.OFFICIAL,
        "李明华",
        "Li Minghua",
        "单县县长",
        "Head of Shan County",
    ),
    PersonSpec(
        "rose-clerk",
        "pingyin-rose-coop",
        Role.CLERK,
        "韩秀芝",
        "Han Xiuzhi",
        "合作社记录员",
        "Cooperative clerk",
    ),
    PersonSpec(
        "flour-clerk",
        "pingyin-flour-coop",
        Role.CLERK,
        "吴德福",
        "Wu Defu",
        "合作社记录员",
        "Cooperative clerk",
    ),
    PersonSpec(
        "bakery-clerk",
        "pingyin-bakery",
        Role.CLERK,
        "郑丽",
        "Zheng Li",
        "生产主管",
        "Production supervisor",
    ),
    PersonSpec(
        "jinan-driver", "jinan-express", Role.CLERK, "冯涛", "Feng Tao", "调度员", "Dispatcher"
    ),
    PersonSpec(
        "quancheng-analyst", "quancheng-lab", Role.CLERK, "曹敏", "Cao Min", "检测员", "Analyst"
    ),
    PersonSpec(
        "pingyin-deputy",
        "pingyin-gov",
        Role.OFFICIAL,
        "张秀英",
        "Zhang Xiuying",
        "平阴县副县长",
        "Deputy Head of Pingyin County",
    ),
    PersonSpec(
        "pingyin-agri",
        "pingyin-gov",
        Role.OFFICIAL,
        "陈建军",
        "Chen Jianjun",
        "平阴县农业农村局局长",
        "Director, Pingyin County Agriculture Bureau",
    ),
]
"""The demo accounts, one per person; ``admin`` belongs to the operator."""

PRODUCTS = [
    ProductSpec(
        "millet",
        "aohan-coop",
        "敖汉小米（谷子原粮）",
        "Aohan millet (unhulled)",
        "grain",
        None,
        "地理标志产品 敖汉小米",
    ),
    ProductSpec(
        "packaged-millet",
        "chifeng-mill",
        "敖汉小米 2.5kg 袋装",
        "Aohan millet, 2.5 kg bag",
        "grain",
        "06901234567892",
        "GB/T 11766-2008",
    ),
    ProductSpec(
        "eggs",
        "shanxian-coop",
        "单县无抗鸡蛋",
        "Shan County antibiotic-free eggs",
        "eggs",
        "06901234567908",
        "GB 2749-2015",
    ),
    ProductSpec(
        "rose-petals",
        "pingyin-rose-coop",
        "平阴重瓣红玫瑰花瓣",
        "Pingyin double red rose petals",
        "flowers",
        None,
        "地理标志产品 平阴玫瑰",
    ),
    ProductSpec(
        "flour",
        "pingyin-flour-coop",
        "石磨小麦粉",
        "Stone-ground wheat flour",
        "flour",
        None,
        "GB/T 1355-2021",
    ),
    ProductSpec(
        "rose-cakes",
        "pingyin-bakery",
        "平阴玫瑰花饼 礼盒装",
        "Pingyin rose cakes, gift box",
        "pastry",
        "06901234567915",
        "GB 7099-2015",
    ),
]
"""The demo products; the first account of the producer creates each."""


def create_people(session: Session, ctx: RegistryContext) -> None:
    """Create the demo organizations, accounts (each but the admin with a custodial key) and
    products, with ids derived from their names."""
    for spec in ORGS:
        account_service.create_organization(
            session,
            id=demo_id(f"org:{spec.key}"),
            kind=spec.kind,
            name_zh=spec.name_zh,
            name_en=spec.name_en,
            region_code=spec.region,
            jurisdiction=spec.jurisdiction,
            approvals_required=spec.approvals_required,
        )
    # One Argon2 hash for the one published demo password (hashing costs ~0.25 s each).
    demo_hash = account_service.hash_password(DEMO_PASSWORD)
    for person in PEOPLE:
        org = (
            operator(session)
            if person.org == "operator"
            else session.get(Organization, demo_id(f"org:{person.org}"))
        )
        assert org is not None
        account = account_service.create_account(
            session,
            organization=org,
            username=person.username,
            role=person.role,
            name_zh=person.name_zh,
            name_en=person.name_en,
            title_zh=person.title_zh,
            title_en=person.title_en,
            password_hash=demo_hash,
        )
        if person.role is not Role.ADMIN:
            key_service.create_custodial_key(session, ctx, account)
    for product in PRODUCTS:
        owner = next(p.username for p in PEOPLE if p.org == product.producer)
        product_service.create_product(
            session,
            session.scalars(select(Account).where(Account.username == owner)).one(),
            id=demo_id(f"product:{product.key}"),
            name_zh=product.name_zh,
            name_en=product.name_en,
            category=product.category,
            gtin=product.gtin,
            standard_ref=product.standard,
        )
