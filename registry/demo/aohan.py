"""Aohan Banner millet (敖汉小米): the cooperative harvests and stores two lots, a lab tests
them for pesticide residues, a carrier takes them to the mill, which hulls and bags them;
the banner head endorses the bags on Taobao Live, one stream on air now, one next week."""

from __future__ import annotations

from datetime import timedelta

from registry.demo.writer import CLAIMS, DemoWriter, stream

PLACE = {"region": "150430", "lat": "42.29", "lon": "119.92", "name": "敖汉旗四家子镇"}
"""Where the millet grows: Sijiazi, Aohan Banner, Chifeng, Inner Mongolia."""

LOTS = (("AH2026-001", -70), ("AH2026-002", -64))
"""The cooperative's lots and the day (relative to now) each was harvested."""


def _grow(w: DemoWriter, lot: str, day: float) -> str:
    """Harvest, storage, certificate, a lab asked to test it and a carrier to take it to the
    mill; the lot's ref."""
    ref = w.harvest("aohan-clerk", "millet", lot, "12000", "kg", day, PLACE, 540)
    w.storage("aohan-clerk", [ref], day + 1, "合作社1号粮仓", ["14.5", "13.8", "14.1"])
    w.certificate("aohan-clerk", [ref], day + 2, f"HG-150430-{lot[-3:]}", "0476-4301234")
    w.assign("aohan-clerk", [ref], day + 2, "inspection", "chifeng-lab")
    w.assign("aohan-clerk", [ref], day + 6, "carriage", "mengdong-logistics")
    w.inspect(
        "chifeng-analyst",
        [ref],
        day + 5,
        f"GJ2026-{lot[-3:]}1",
        [
            ("毒死蜱 chlorpyrifos", "0.003", "0.1", "mg/kg", "GB 23200.113-2018"),
            ("镉 cadmium", "0.02", "0.1", "mg/kg", "GB 5009.15-2014"),
        ],
    )
    w.ship(
        "mengdong-driver",
        [ref],
        day + 7,
        "赤峰谷丰米业",
        "150402",
        f"MD-{lot[-3:]}-7731",
        to_org="chifeng-mill",
    )
    return ref


def _mill(w: DemoWriter, ref: str, lot: str, day: float) -> None:
    """The mill receives the millet, hulls and bags it, certifies and ships the bags."""
    w.receive("mill-clerk", [ref], day + 8, "敖汉旗金谷小米种植专业合作社", f"MD-{lot[-3:]}-7731")
    out = w.ref("packaged-millet", f"GF{lot[2:]}")
    w.process(
        "mill-clerk",
        [(ref, "10000")],
        [(out, "2800", "bag", 365)],
        day + 10,
        "脱壳、抛光、色选、真空包装 hulling, polishing, sorting, vacuum packing",
    )
    w.steps(
        "mill-clerk",
        "packing",
        [out],
        day + 10,
        hour=18,
        package={"count": 2800, "size": "2.5", "unit": "kg"},
        packaging="真空袋",
    )
    w.certificate("mill-clerk", [out], day + 11, f"HG-150402-{lot[-3:]}", "0476-8825678")
    w.assign("mill-clerk", [out], day + 13, "carriage", "mengdong-logistics")
    w.ship(
        "mengdong-driver",
        [out],
        day + 14,
        "淘宝直播前置仓（赤峰）",
        "150402",
        f"MD-{lot[-3:]}-9902",
    )


def record_chains(w: DemoWriter) -> None:
    """Cooperative → lab → carrier → mill → packaged millet, for each lot."""
    for lot, day in LOTS:
        ref = _grow(w, lot, day)
        _mill(w, ref, lot, day)


def endorse(w: DemoWriter) -> None:
    """The banner head on Taobao Live: on air now (valid) and next week (not yet valid)."""
    w.endorse(
        "aohan-clerk",
        ["aohan-head"],
        "GF2026-001",
        "packaged-millet",
        "2800",
        stream(
            "taobao_live",
            "https://m.tb.cn/live/aohan-millet-2026",
            "旗长带你尝敖汉新米 The banner head's Aohan new-millet live",
            w.now - timedelta(hours=1),
            3,
            ["小米姐姐 Xiaomi Jiejie"],
        ),
        list(CLAIMS),
        approved_day=-2,
    )
    w.endorse(
        "aohan-clerk",
        ["aohan-head"],
        "GF2026-002",
        "packaged-millet",
        "2000",
        stream(
            "taobao_live",
            "https://m.tb.cn/live/aohan-millet-2026",
            "敖汉小米丰收节 Aohan millet harvest festival",
            w.now + timedelta(days=7),
            3,
            [],
        ),
        list(CLAIMS),
        approved_day=-1,
    )
