"""The demo dataset (PRODUCT.md §8): fictional people and companies, real places and products.

- Aohan Banner millet (敖汉小米): cooperative → mill → carrier; pesticide-residue test.
- Shan County eggs (单县鸡蛋): cooperative → carrier; antibiotic-residue test.
- Pingyin rose cakes (平阴玫瑰花饼): rose cooperative + flour cooperative → bakery → carrier.
  The second flour lot is recalled, and the recall reaches the rose cakes baked from it.

Every record is signed with a custodial key of the account that did the step, so the chains
verify like any other. Loading is idempotent: ids are derived from names (UUID v5).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.accounts import accounts as account_service
from registry.catalog import products as product_service
from registry.context import RegistryContext
from registry.db import transaction
from registry.endorsements import decisions as endorsement_decisions
from registry.endorsements import published as endorsement_service
from registry.endorsements import requests as endorsement_requests
from registry.errors import ConfigurationError
from registry.models import Account, Batch, Endorsement, Organization, OrgKind, Product, Role
from registry.records import ingest as record_service
from registry.records import keys as key_service
from registry.settings import Mode

NAMESPACE = uuid.UUID("5b0c2b8e-6f2a-4c1e-9a57-2f3d8e1c7a10")
DEMO_PASSWORD = "guarantee-demo-2026"  # noqa: S105 - published on purpose, development only
CST = "+08:00"


def demo_id(name: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, name)


@dataclass(frozen=True)
class OrgSpec:
    key: str
    kind: OrgKind
    name_zh: str
    name_en: str
    region: str
    jurisdiction: str | None = None
    approvals_required: int = 1


@dataclass(frozen=True)
class PersonSpec:
    username: str
    org: str
    role: Role
    name_zh: str
    name_en: str
    title_zh: str = ""
    title_en: str = ""


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

# (key, producer, name_zh, name_en, category, GTIN or None, standard)
PRODUCTS = [
    (
        "millet",
        "aohan-coop",
        "敖汉小米（谷子原粮）",
        "Aohan millet (unhulled)",
        "grain",
        None,
        "地理标志产品 敖汉小米",
    ),
    (
        "packaged-millet",
        "chifeng-mill",
        "敖汉小米 2.5kg 袋装",
        "Aohan millet, 2.5 kg bag",
        "grain",
        "06901234567892",
        "GB/T 11766-2008",
    ),
    (
        "eggs",
        "shanxian-coop",
        "单县无抗鸡蛋",
        "Shan County antibiotic-free eggs",
        "eggs",
        "06901234567908",
        "GB 2749-2015",
    ),
    (
        "rose-petals",
        "pingyin-rose-coop",
        "平阴重瓣红玫瑰花瓣",
        "Pingyin double red rose petals",
        "flowers",
        None,
        "地理标志产品 平阴玫瑰",
    ),
    (
        "flour",
        "pingyin-flour-coop",
        "石磨小麦粉",
        "Stone-ground wheat flour",
        "flour",
        None,
        "GB/T 1355-2021",
    ),
    (
        "rose-cakes",
        "pingyin-bakery",
        "平阴玫瑰花饼 礼盒装",
        "Pingyin rose cakes, gift box",
        "pastry",
        "06901234567915",
        "GB 7099-2015",
    ),
]


def _t(base: datetime, days: float, hour: int = 9) -> str:
    moment = (base + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + CST


def _d(base: datetime, days: float) -> str:
    return (base + timedelta(days=days)).strftime("%Y-%m-%d")


class _Loader:
    def __init__(self, session: Session, ctx: RegistryContext) -> None:
        self.session = session
        self.ctx = ctx
        self.now = ctx.clock().astimezone()

    def account(self, username: str) -> Account:
        found = self.session.scalars(select(Account).where(Account.username == username)).one()
        return found

    def product(self, key: str) -> uuid.UUID:
        return demo_id(f"product:{key}")

    def ref(self, product: str, lot: str) -> str:
        return f"{self.product(product)}:{lot}"

    def record(self, username: str, draft: dict[str, Any]) -> None:
        record_service.sign_and_submit(self.session, self.ctx, self.account(username), draft)

    def people(self) -> None:
        from registry.bootstrap import operator

        for spec in ORGS:
            account_service.create_organization(
                self.session,
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
                operator(self.session)
                if person.org == "operator"
                else self.session.get(Organization, demo_id(f"org:{person.org}"))
            )
            assert org is not None
            account = account_service.create_account(
                self.session,
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
                key_service.create_custodial_key(self.session, self.ctx, account)
        for key, producer, name_zh, name_en, category, gtin, standard in PRODUCTS:
            owner = next(p.username for p in PEOPLE if p.org == producer)
            product_service.create_product(
                self.session,
                self.account(owner),
                id=self.product(key),
                name_zh=name_zh,
                name_en=name_en,
                category=category,
                gtin=gtin,
                standard_ref=standard,
            )

    def harvest(
        self,
        who: str,
        product: str,
        lot: str,
        qty: str,
        unit: str,
        day: float,
        place: dict[str, str],
        best_before_days: int | None = None,
    ) -> str:
        ref = self.ref(product, lot)
        draft: dict[str, Any] = {
            "kind": "harvest",
            "time": _t(self.now, day),
            "batches": [ref],
            "quantity": qty,
            "unit": unit,
            "harvest_date": _d(self.now, day),
            "place": place,
        }
        if best_before_days is not None:
            draft["best_before"] = _d(self.now, day + best_before_days)
        self.record(who, draft)
        return ref

    def steps(self, who: str, kind: str, refs: list[str], day: float, **fields: Any) -> None:
        self.record(
            who,
            {
                "kind": kind,
                "time": _t(self.now, day, fields.pop("hour", 10)),
                "batches": refs,
                **fields,
            },
        )

    def inspect(
        self,
        who: str,
        refs: list[str],
        day: float,
        report: str,
        results: list[tuple[str, str, str, str, str]],
    ) -> None:
        self.steps(
            who,
            "inspection",
            refs,
            day,
            report_number=report,
            verdict="pass",
            sampled_on=_d(self.now, day - 2),
            results=[
                {
                    "substance": s,
                    "value": v,
                    "limit": lim,
                    "unit": u,
                    "method": m,
                    "verdict": "pass",
                }
                for s, v, lim, u, m in results
            ],
        )

    def certificate(self, who: str, refs: list[str], day: float, number: str) -> None:
        self.steps(
            who,
            "certificate",
            refs,
            day,
            certificate_number=number,
            promise="我承诺对生产销售的食用农产品：不使用禁用农药兽药、停用兽药和非法添加物，"
            "常规农药兽药残留不超标，对承诺的真实性负责。",
            basis=["self_test", "quality_control"],
        )

    def storage(
        self, who: str, refs: list[str], day: float, location: str, temps: list[str]
    ) -> None:
        readings = [
            {"time": _t(self.now, day, 8 + 4 * i), "celsius": c} for i, c in enumerate(temps)
        ]
        self.steps(who, "storage", refs, day, hour=20, location=location, readings=readings)

    def ship(
        self, carrier: str, refs: list[str], day: float, to: str, to_region: str, waybill: str
    ) -> None:
        self.steps(
            carrier,
            "shipping",
            refs,
            day,
            to={"name": to, "place": {"region": to_region}},
            waybill=waybill,
            vehicle="蒙D·7K218" if "150" in to_region else "鲁R·3F906",
        )

    def receive(self, who: str, refs: list[str], day: float, source: str, waybill: str) -> None:
        self.steps(who, "receiving", refs, day, hour=16, source={"name": source}, waybill=waybill)

    def process(
        self,
        who: str,
        inputs: list[tuple[str, str]],
        outputs: list[tuple[str, str, str, int]],
        day: float,
        process: str,
    ) -> None:
        self.record(
            who,
            {
                "kind": "processing",
                "time": _t(self.now, day, 14),
                "process": process,
                "inputs": [{"batch": ref, "quantity": q} for ref, q in inputs],
                "outputs": [
                    {
                        "batch": ref,
                        "quantity": q,
                        "unit": unit,
                        "best_before": _d(self.now, day + shelf),
                    }
                    for ref, q, unit, shelf in outputs
                ],
            },
        )

    def chains(self) -> None:
        aohan = {"region": "150430", "lat": "42.29", "lon": "119.92", "name": "敖汉旗四家子镇"}
        shanxian = {"region": "371722", "lat": "34.79", "lon": "116.09", "name": "单县终兴镇"}
        pingyin = {"region": "370124", "lat": "36.29", "lon": "116.45", "name": "平阴县玫瑰镇"}

        # Aohan Banner millet: cooperative → lab → carrier → mill → packaged millet.
        for lot, day in (("AH2026-001", -70), ("AH2026-002", -64)):
            ref = self.harvest("aohan-clerk", "millet", lot, "12000", "kg", day, aohan, 540)
            self.storage("aohan-clerk", [ref], day + 1, "合作社1号粮仓", ["14.5", "13.8", "14.1"])
            self.certificate("aohan-clerk", [ref], day + 2, f"HG-150430-{lot[-3:]}")
            self.inspect(
                "chifeng-analyst",
                [ref],
                day + 5,
                f"GJ2026-{lot[-3:]}1",
                [
                    ("毒死蜱 chlorpyrifos", "0.003", "0.1", "mg/kg", "GB 23200.113-2018"),
                    ("镉 cadmium", "0.02", "0.1", "mg/kg", "GB 5009.15-2014"),
                ],
            )
            self.ship(
                "mengdong-driver", [ref], day + 7, "赤峰谷丰米业", "150402", f"MD-{lot[-3:]}-7731"
            )
            self.receive(
                "mill-clerk", [ref], day + 8, "敖汉旗金谷小米种植专业合作社", f"MD-{lot[-3:]}-7731"
            )
            out = self.ref("packaged-millet", f"GF{lot[2:]}")
            self.process(
                "mill-clerk",
                [(ref, "10000")],
                [(out, "2800", "bag", 365)],
                day + 10,
                "脱壳、抛光、色选、真空包装 hulling, polishing, sorting, vacuum packing",
            )
            self.steps(
                "mill-clerk",
                "packing",
                [out],
                day + 10,
                hour=18,
                package={"count": 2800, "size": "2.5", "unit": "kg"},
                packaging="真空袋",
            )
            self.certificate("mill-clerk", [out], day + 11, f"HG-150402-{lot[-3:]}")
            self.ship(
                "mengdong-driver",
                [out],
                day + 14,
                "淘宝直播前置仓（赤峰）",
                "150402",
                f"MD-{lot[-3:]}-9902",
            )

        # Shan County eggs: cooperative → lab → carrier.
        for lot, day in (("SX2026-1101", -40), ("SX2026-1115", -9)):
            ref = self.harvest("shanxian-clerk", "eggs", lot, "36000", "piece", day, shanxian, 45)
            self.steps(
                "shanxian-clerk",
                "packing",
                [ref],
                day,
                hour=15,
                package={"count": 1200, "size": "30", "unit": "piece"},
                packaging="30枚蛋托礼盒",
            )
            self.storage("shanxian-clerk", [ref], day + 1, "合作社冷库", ["4.1", "3.9", "4.3"])
            self.certificate("shanxian-clerk", [ref], day + 1, f"HG-371722-{lot[-4:]}")
            self.inspect(
                "luxinan-analyst",
                [ref],
                day + 2,
                f"LXN-{lot[-4:]}",
                [
                    ("恩诺沙星 enrofloxacin", "0", "0", "μg/kg", "GB 31658.17-2021"),
                    ("氟苯尼考 florfenicol", "0", "0", "μg/kg", "GB 31658.17-2021"),
                    ("土霉素 oxytetracycline", "0", "0", "μg/kg", "GB 31658.17-2021"),
                ],
            )
            self.ship(
                "heze-driver", [ref], day + 3, "拼多多农货节仓（菏泽）", "371702", f"SD-{lot[-4:]}"
            )
            self.storage(
                "heze-driver", [ref], day + 3, "冷藏车厢 refrigerated truck", ["5.2", "4.8", "5.0"]
            )

        # Pingyin rose cakes: rose petals + flour → bakery → carrier; flour lot 2 recalled.
        petals = self.harvest(
            "rose-clerk", "rose-petals", "PY-ROSE-0521", "800", "kg", -30, pingyin, 180
        )
        self.storage("rose-clerk", [petals], -29, "花瓣冷库", ["2.0", "2.4", "2.2"])
        self.certificate("rose-clerk", [petals], -29, "HG-370124-R0521")
        self.inspect(
            "quancheng-analyst",
            [petals],
            -27,
            "QC-R-0521",
            [
                ("多菌灵 carbendazim", "0.01", "0.5", "mg/kg", "GB 23200.121-2021"),
                ("吡虫啉 imidacloprid", "0.02", "1", "mg/kg", "GB/T 20769-2008"),
            ],
        )
        flours = []
        for lot, day in (("PY-FL-0601", -28), ("PY-FL-0602", -27)):
            ref = self.harvest("flour-clerk", "flour", lot, "2000", "kg", day, pingyin, 270)
            self.certificate("flour-clerk", [ref], day, f"HG-370124-F{lot[-4:]}")
            flours.append(ref)
        self.inspect(
            "quancheng-analyst",
            [flours[0]],
            -25,
            "QC-F-0601",
            [("脱氧雪腐镰刀菌烯醇 deoxynivalenol", "120", "1000", "μg/kg", "GB 5009.111-2016")],
        )
        for i, (flour, lot) in enumerate(
            zip(flours, ("PY-CAKE-0610", "PY-CAKE-0611"), strict=True)
        ):
            for ref, source in (
                (petals, "平阴玫瑰花农专业合作社"),
                (flour, "平阴麦香面粉专业合作社"),
            ):
                if i == 0 or ref == flour:
                    self.receive("bakery-clerk", [ref], -24 + i, source, f"PYB-{lot[-4:]}")
            cake = self.ref("rose-cakes", lot)
            self.process(
                "bakery-clerk",
                [(petals, "120"), (flour, "900")],
                [(cake, "6000", "box", 120)],
                -23 + i,
                "和面、包馅、烘烤、冷却、包装 mixing, filling, baking, cooling, boxing",
            )
            self.certificate("bakery-clerk", [cake], -22 + i, f"HG-370124-C{lot[-4:]}")
            self.ship(
                "jinan-driver",
                [cake],
                -20 + i,
                "抖音直播发货仓（济南）",
                "370102",
                f"QT-{lot[-4:]}",
            )

    def endorse(
        self,
        requester: str,
        officials: list[str],
        lot: str,
        product: str,
        quantity: str,
        stream: dict[str, Any],
        claims: list[str],
        *,
        approved_day: float,
        valid_until: datetime | None = None,
    ) -> str:
        batch = self.session.scalars(
            select(Batch).where(Batch.product_id == self.product(product), Batch.lot == lot)
        ).one()
        request = endorsement_requests.request_endorsement(
            self.session,
            self.ctx,
            self.account(requester),
            batches=[batch.code],
            official=officials[0],
            stream=stream,
            claims=claims,
            quantity=quantity,
            valid_until=valid_until,
        )
        at = self.now + timedelta(days=approved_day)
        for official in officials:  # a threshold: each official signs the same envelope
            request = endorsement_decisions.approve(
                self.session, self.ctx, request.id, self.account(official), at=at
            )
        assert request.code is not None
        return request.code

    @staticmethod
    def stream(
        platform: str, room: str, title: str, start: datetime, hours: int, streamers: list[str]
    ) -> dict[str, Any]:
        start = start.replace(second=0, microsecond=0)
        return {
            "platform": platform,
            "room": room,
            "title": title,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=hours)).isoformat(),
            "hosts": [{"name": n, "role": "streamer"} for n in streamers],
        }

    def endorsements(self) -> None:
        now = self.now
        claims = ["origin_verified", "lab_tested", "certified", "personally_vouched"]
        # Aohan Banner millet on Taobao Live: on air now (valid) and next week (not yet).
        self.endorse(
            "aohan-clerk",
            ["aohan-head"],
            "GF2026-001",
            "packaged-millet",
            "2800",
            self.stream(
                "taobao_live",
                "https://m.tb.cn/live/aohan-millet-2026",
                "旗长带你尝敖汉新米 The banner head's Aohan new-millet live",
                now - timedelta(hours=1),
                3,
                ["小米姐姐 Xiaomi Jiejie"],
            ),
            claims,
            approved_day=-2,
        )
        self.endorse(
            "aohan-clerk",
            ["aohan-head"],
            "GF2026-002",
            "packaged-millet",
            "2000",
            self.stream(
                "taobao_live",
                "https://m.tb.cn/live/aohan-millet-2026",
                "敖汉小米丰收节 Aohan millet harvest festival",
                now + timedelta(days=7),
                3,
                [],
            ),
            claims,
            approved_day=-1,
        )
        # Shan County eggs on Pinduoduo: an earlier stream (expired) and a revoked one.
        self.endorse(
            "shanxian-clerk",
            ["shanxian-head"],
            "SX2026-1101",
            "eggs",
            "30000",
            self.stream(
                "pinduoduo",
                "pdd-room-371722-1101",
                "县长直播：单县无抗鸡蛋 The county head sells antibiotic-free eggs",
                now - timedelta(days=36),
                3,
                ["蛋哥 Dan Ge"],
            ),
            [*claims[:3], "cold_chain", "personally_vouched"],
            approved_day=-37,
            valid_until=now - timedelta(days=29),
        )
        self.revoked_code = self.endorse(
            "shanxian-clerk",
            ["shanxian-head"],
            "SX2026-1115",
            "eggs",
            "36000",
            self.stream(
                "pinduoduo",
                "pdd-room-371722-1115",
                "单县鸡蛋返场 Shan County eggs, encore",
                now - timedelta(days=1),
                4,
                ["蛋哥 Dan Ge"],
            ),
            claims,
            approved_day=-3,
        )
        # Pingyin rose cakes on Douyin: two officials must sign; the second lot is recalled.
        for lot in ("PY-CAKE-0610", "PY-CAKE-0611"):
            self.endorse(
                "bakery-clerk",
                ["pingyin-deputy", "pingyin-agri"],
                lot,
                "rose-cakes",
                "6000",
                self.stream(
                    "douyin",
                    "https://v.douyin.com/pingyin-rose",
                    "副县长带你逛玫瑰之乡 The deputy county head in the hometown of roses",
                    now - timedelta(hours=2),
                    4,
                    ["玫瑰小妹 Rose Xiaomei"],
                ),
                claims,
                approved_day=-4,
            )

    def aftermath(self) -> None:
        """What happened after the streams: a revocation and a recall."""
        endorsement_decisions.revoke(
            self.session,
            self.ctx,
            self.revoked_code,
            self.account("shanxian-head"),
            "主播在直播中宣称“零农残、可生食”，超出检测结论与背书范围，撤销本次背书。"
            " The host claimed the eggs were residue-free and safe to eat raw, beyond the lab "
            "results and this endorsement.",
        )
        self.steps(
            "pingyin-deputy",
            "recall",
            [self.ref("flour", "PY-FL-0602")],
            0,
            hour=max(self.now.hour - 1, 0),
            reason="抽检发现黄曲霉毒素B1超标（批次 PY-FL-0602），召回该批次及其制成品。"
            " Aflatoxin B1 above the limit in a market sample of flour lot "
            "PY-FL-0602; recalling the lot and everything made from it.",
        )

    def summary(self) -> dict[str, Any]:
        from registry.catalog.batches import batch_records

        batches = []
        for batch in self.session.scalars(select(Batch).order_by(Batch.created_index, Batch.lot)):
            product = self.session.get(Product, batch.product_id)
            assert product is not None
            batches.append(
                {
                    "code": batch.code,
                    "id": str(batch.id),
                    "ref": f"{batch.product_id}:{batch.lot}",
                    "lot": batch.lot,
                    "product": {"zh": product.name_zh, "en": product.name_en},
                    "gtin": product.gtin,
                    "recalled": batch.recall_digest is not None,
                    "records": len(batch_records(self.session, batch.id)),
                }
            )
        people = []
        for person in PEOPLE:
            account = self.account(person.username)
            org = self.session.get(Organization, account.organization_id)
            assert org is not None
            people.append(
                {
                    "role": person.role.value,
                    "username": person.username,
                    "password": DEMO_PASSWORD,
                    "organization": org.name_zh,
                    "organization_en": org.name_en,
                    "organization_kind": org.kind.value,
                }
            )
        endorsements = []
        for endorsement in self.session.scalars(
            select(Endorsement).order_by(Endorsement.record_index)
        ):
            product = self.session.get(Product, endorsement.product_id)
            assert product is not None
            covered = endorsement_service.covered_batches(self.session, endorsement)
            endorsements.append(
                {
                    "code": endorsement.code,
                    "status": endorsement_service.status_of(
                        self.session, endorsement, self.ctx.clock()
                    ).value,
                    "url": f"{self.ctx.settings.base_url}/e/{endorsement.code}",
                    "product": {"zh": product.name_zh, "en": product.name_en},
                    "batches": [b.code for b in covered],
                }
            )
        result: dict[str, Any] = {
            "base_url": self.ctx.settings.base_url,
            "endorsements": endorsements,
            "batches": batches,
        }
        if self.ctx.settings.mode is Mode.DEVELOPMENT:
            result["accounts"] = people
        return result


def load_demo(factory: sessionmaker[Session], ctx: RegistryContext) -> dict[str, Any]:
    """Load the demo dataset unless it is there already; return the summary."""
    if ctx.settings.mode is not Mode.DEVELOPMENT:
        raise ConfigurationError(
            "the demo dataset (with its published passwords) loads only in development mode"
        )
    with transaction(factory) as session:
        loader = _Loader(session, ctx)
        if session.get(Organization, demo_id("org:aohan-coop")) is None:
            loader.people()
            loader.chains()
            loader.endorsements()
            loader.aftermath()
        return loader.summary()
