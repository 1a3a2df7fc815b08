"""Shan County eggs (单县鸡蛋): the cooperative packs and cools two lots, a lab tests them for
antibiotic residues, a refrigerated carrier takes them to the warehouse; the county head
endorses them on Pinduoduo: an earlier stream (now expired) and an encore he revokes."""

from __future__ import annotations

from datetime import timedelta

from registry.demo.writer import CLAIMS, DemoWriter, stream
from registry.endorsements import decisions as endorsement_decisions

PLACE = {"region": "371722", "lat": "34.79", "lon": "116.09", "name": "单县终兴镇"}
"""Where the hens are kept: Zhongxing, Shan County, Heze, Shandong."""

LOTS = (("SX2026-1101", -40), ("SX2026-1115", -9))
"""The cooperative's lots and the day (relative to now) each was laid."""

REVOCATION_REASON = (
    "主播在直播中宣称“零农残、可生食”，超出检测结论与背书范围，撤销本次背书。"
    " The host claimed the eggs were residue-free and safe to eat raw, beyond the lab "
    "results and this endorsement."
)
"""Why the county head revokes the encore's endorsement."""


def record_chains(w: DemoWriter) -> None:
    """Cooperative → lab → carrier, for each lot."""
    for lot, day in LOTS:
        ref = w.harvest("shanxian-clerk", "eggs", lot, "36000", "piece", day, PLACE, 45)
        w.steps(
            "shanxian-clerk",
            "packing",
            [ref],
            day,
            hour=15,
            package={"count": 1200, "size": "30", "unit": "piece"},
            packaging="30枚蛋托礼盒",
        )
        w.storage("shanxian-clerk", [ref], day + 1, "合作社冷库", ["4.1", "3.9", "4.3"])
        w.certificate("shanxian-clerk", [ref], day + 1, f"HG-371722-{lot[-4:]}", "0530-4601234")
        w.assign("shanxian-clerk", [ref], day + 1, "inspection", "luxinan-lab")
        w.assign("shanxian-clerk", [ref], day + 2, "carriage", "heze-logistics")
        w.inspect(
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
        w.ship("heze-driver", [ref], day + 3, "拼多多农货节仓（菏泽）", "371702", f"SD-{lot[-4:]}")
        w.storage(
            "heze-driver", [ref], day + 3, "冷藏车厢 refrigerated truck", ["5.2", "4.8", "5.0"]
        )


def endorse(w: DemoWriter) -> str:
    """The county head on Pinduoduo: an earlier stream (expired) and an encore; the code of
    the encore's endorsement, which ``revoke`` revokes."""
    w.endorse(
        "shanxian-clerk",
        ["shanxian-head"],
        "SX2026-1101",
        "eggs",
        "30000",
        stream(
            "pinduoduo",
            "pdd-room-371722-1101",
            "县长直播：单县无抗鸡蛋 The county head sells antibiotic-free eggs",
            w.now - timedelta(days=36),
            3,
            ["蛋哥 Dan Ge"],
        ),
        [*CLAIMS[:3], "cold_chain", "personally_vouched"],
        approved_day=-37,
        valid_until=w.now - timedelta(days=29),
    )
    return w.endorse(
        "shanxian-clerk",
        ["shanxian-head"],
        "SX2026-1115",
        "eggs",
        "36000",
        stream(
            "pinduoduo",
            "pdd-room-371722-1115",
            "单县鸡蛋返场 Shan County eggs, encore",
            w.now - timedelta(days=1),
            4,
            ["蛋哥 Dan Ge"],
        ),
        list(CLAIMS),
        approved_day=-3,
    )


def revoke(w: DemoWriter, code: str) -> None:
    """After the encore: the county head revokes its endorsement for the host's claims."""
    endorsement_decisions.revoke(
        w.session, w.ctx, code, w.account("shanxian-head"), REVOCATION_REASON
    )
