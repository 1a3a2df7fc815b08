"""Pingyin rose cakes (平阴玫瑰花饼): rose petals from one cooperative and flour from another
go to the bakery, which bakes two lots of cakes; two county officials endorse each on
Douyin. Afterwards the second flour lot is recalled, and the recall reaches the cakes baked
from it (docs/records.md, "Kinds and who signs them")."""

from __future__ import annotations

from datetime import timedelta

from registry.demo.writer import CLAIMS, DemoWriter, stream

PLACE = {"region": "370124", "lat": "36.29", "lon": "116.45", "name": "平阴县玫瑰镇"}
"""Where the roses and the wheat grow: Meigui, Pingyin County, Jinan, Shandong."""

CAKE_LOTS = ("PY-CAKE-0610", "PY-CAKE-0611")
"""The bakery's lots: the first baked from flour lot 1, the second from flour lot 2."""

RECALLED_FLOUR = "PY-FL-0602"
"""The flour lot the deputy county head recalls."""

RECALL_REASON = (
    "抽检发现黄曲霉毒素B1超标（批次 PY-FL-0602），召回该批次及其制成品。"
    " Aflatoxin B1 above the limit in a market sample of flour lot "
    "PY-FL-0602; recalling the lot and everything made from it."
)
"""Why the flour lot is recalled."""


def _petals(w: DemoWriter) -> str:
    """The rose cooperative's harvest, stored, certified and tested; its ref."""
    petals = w.harvest("rose-clerk", "rose-petals", "PY-ROSE-0521", "800", "kg", -30, PLACE, 180)
    w.storage("rose-clerk", [petals], -29, "花瓣冷库", ["2.0", "2.4", "2.2"])
    w.certificate("rose-clerk", [petals], -29, "HG-370124-R0521", "0531-87161234")
    w.assign("rose-clerk", [petals], -29, "inspection", "quancheng-lab")
    w.inspect(
        "quancheng-analyst",
        [petals],
        -27,
        "QC-R-0521",
        [
            ("多菌灵 carbendazim", "0.01", "0.5", "mg/kg", "GB 23200.121-2021"),
            ("吡虫啉 imidacloprid", "0.02", "1", "mg/kg", "GB/T 20769-2008"),
        ],
    )
    return petals


def _flours(w: DemoWriter) -> list[str]:
    """The flour cooperative's two lots, certified; the first tested; their refs."""
    flours = []
    for lot, day in (("PY-FL-0601", -28), (RECALLED_FLOUR, -27)):
        ref = w.harvest("flour-clerk", "flour", lot, "2000", "kg", day, PLACE, 270)
        w.certificate("flour-clerk", [ref], day, f"HG-370124-F{lot[-4:]}", "0531-87165678")
        w.assign("flour-clerk", [ref], day, "inspection", "quancheng-lab")
        flours.append(ref)
    w.inspect(
        "quancheng-analyst",
        [flours[0]],
        -25,
        "QC-F-0601",
        [("脱氧雪腐镰刀菌烯醇 deoxynivalenol", "120", "1000", "μg/kg", "GB 5009.111-2016")],
    )
    return flours


def _bake(w: DemoWriter, petals: str, flours: list[str]) -> None:
    """The cooperatives hand petals (once) and each flour lot to the carrier, who brings
    them to the bakery; the bakery receives them, bakes a lot of cakes from each, certifies
    them and hands them to the carrier to ship."""
    for i, (flour, lot) in enumerate(zip(flours, CAKE_LOTS, strict=True)):
        for ref, source in (
            (petals, "平阴玫瑰花农专业合作社"),
            (flour, "平阴麦香面粉专业合作社"),
        ):
            if i == 0 or ref == flour:
                clerk = "rose-clerk" if ref == petals else "flour-clerk"
                w.assign(clerk, [ref], -25 + i, "carriage", "jinan-express")
                w.ship(
                    "jinan-driver",
                    [ref],
                    -25 + i,
                    "平阴玫瑰饼坊",
                    "370124",
                    f"PYB-{lot[-4:]}",
                    to_org="pingyin-bakery",
                )
                w.receive("bakery-clerk", [ref], -24 + i, source, f"PYB-{lot[-4:]}")
        cake = w.ref("rose-cakes", lot)
        w.process(
            "bakery-clerk",
            [(petals, "120"), (flour, "900")],
            [(cake, "6000", "box", 120)],
            -23 + i,
            "和面、包馅、烘烤、冷却、包装 mixing, filling, baking, cooling, boxing",
        )
        w.certificate("bakery-clerk", [cake], -22 + i, f"HG-370124-C{lot[-4:]}", "0531-87169012")
        w.assign("bakery-clerk", [cake], -21 + i, "carriage", "jinan-express")
        w.ship(
            "jinan-driver",
            [cake],
            -20 + i,
            "抖音直播发货仓（济南）",
            "370102",
            f"QT-{lot[-4:]}",
        )


def record_chains(w: DemoWriter) -> None:
    """Rose petals + flour → bakery → carrier."""
    petals = _petals(w)
    _bake(w, petals, _flours(w))


def endorse(w: DemoWriter) -> None:
    """Both cake lots on Douyin; two officials must sign each endorsement."""
    for lot in CAKE_LOTS:
        w.endorse(
            "bakery-clerk",
            ["pingyin-deputy", "pingyin-agri"],
            lot,
            "rose-cakes",
            "6000",
            stream(
                "douyin",
                "https://v.douyin.com/pingyin-rose",
                "副县长带你逛玫瑰之乡 The deputy county head in the hometown of roses",
                w.now - timedelta(hours=2),
                4,
                ["玫瑰小妹 Rose Xiaomei"],
            ),
            list(CLAIMS),
            approved_day=-4,
        )


def recall(w: DemoWriter) -> None:
    """After the streams: the deputy county head recalls the second flour lot, an hour ago."""
    w.steps(
        "pingyin-deputy",
        "recall",
        [w.ref("flour", RECALLED_FLOUR)],
        0,
        hour=max(w.now.hour - 1, 0),
        reason=RECALL_REASON,
    )
