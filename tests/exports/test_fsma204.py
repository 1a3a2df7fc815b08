"""The FSMA 204-style sortable spreadsheet: one row per critical tracking event with its key
data elements, as CSV (UTF-8 with BOM) and XLSX, filtered by lot, product and date range."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from urllib.parse import urlsplit

import openpyxl
import pytest

from registry.exports.fsma204 import FSMA_HEADERS
from tests.exports.conftest import PROBLEM_JSON, Registry

CSV_PATH = "/api/v1/export/fsma204.csv"
XLSX_PATH = "/api/v1/export/fsma204.xlsx"
LOCATION = FSMA_HEADERS.index("Location Description of CTE 事件地点")
REFERENCE = FSMA_HEADERS.index("Reference Document Number 参考单据编号")
TLC = FSMA_HEADERS.index("Lot Code (AI 10) 批号")  # the lot; the TLC column adds the GTIN
TRACEABILITY_LOT_CODE = FSMA_HEADERS.index("Traceability Lot Code (TLC) 追溯批号")
TLC_SOURCE_REFERENCE = FSMA_HEADERS.index("TLC Source Reference 批号来源参考")
CTE = 0
QUANTITY = FSMA_HEADERS.index("Quantity 数量")
DATE = FSMA_HEADERS.index("Date of CTE 事件日期")
TIME = FSMA_HEADERS.index("Event Time 事件时间")
GTIN = FSMA_HEADERS.index("GTIN (AI 01) 商品条码")
INPUTS = FSMA_HEADERS.index("Input TLCs (Transformation) 投入批号")
PRODUCT = FSMA_HEADERS.index("Product Description 产品描述")
SOURCE = FSMA_HEADERS.index("Immediate Previous Source 上一来源")
RECIPIENT = FSMA_HEADERS.index("Immediate Subsequent Recipient 下一接收方")


@pytest.fixture
def demo(shared_demo: Registry) -> Registry:
    """The tests here only read the demo registry: load it once per module and backend."""
    return shared_demo


def _csv(demo: Registry, **params: str) -> list[list[str]]:
    response = demo.client.get(CSV_PATH, params=params)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM, for Excel"
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == FSMA_HEADERS
    return rows[1:]


def test_csv_rows_are_the_critical_tracking_events(demo: Registry):
    rows = _csv(demo)
    ctes = {row[CTE].split(" ")[0] for row in rows}
    assert ctes == {"Harvesting", "Packing", "Shipping", "Receiving", "Transformation"}
    assert len({len(row) for row in rows}) == 1 and len(rows[0]) == len(FSMA_HEADERS)
    times = [datetime.fromisoformat(row[TIME]) for row in rows]
    assert times == sorted(times), "rows are sorted by event time"

    harvest = next(r for r in rows if r[TLC] == "AH2026-001" and r[CTE].startswith("Harvest"))
    assert harvest[QUANTITY] == "12000" and harvest[QUANTITY + 1] == "kg"
    assert harvest[TRACEABILITY_LOT_CODE] == "AH2026-001", "no GTIN: the lot is the TLC"
    assert "敖汉小米" in harvest[PRODUCT], "Chinese survives the round trip through CSV"
    assert "敖汉旗四家子镇" in harvest[LOCATION]
    shipping = next(r for r in rows if r[TLC] == "AH2026-001" and r[CTE].startswith("Shipping"))
    assert shipping[REFERENCE] == "MD-001-7731", "the waybill is the reference"
    assert "赤峰谷丰米业" in shipping[RECIPIENT]
    receiving = next(r for r in rows if r[TLC] == "AH2026-001" and r[CTE].startswith("Receiving"))
    assert "敖汉旗金谷" in receiving[SOURCE]
    cake = next(r for r in rows if r[TLC] == "PY-CAKE-0610" and r[CTE].startswith("Transform"))
    assert "PY-ROSE-0521 120 kg" in cake[INPUTS] and "PY-FL-0601 900 kg" in cake[INPUTS]
    assert cake[GTIN] == demo.gtin("PY-CAKE-0610")
    # PTI: the TLC is the GTIN with the lot; its source reference is the lot's registry URL
    assert cake[TRACEABILITY_LOT_CODE] == f"(01){cake[GTIN]}(10)PY-CAKE-0610"
    reference = cake[TLC_SOURCE_REFERENCE]
    assert reference.endswith(f"/01/{cake[GTIN]}/10/PY-CAKE-0610"), reference
    page = demo.client.get(urlsplit(reference).path)
    assert page.status_code == 200, "the TLC source reference resolves to the lot's page"
    code = demo.code("AH2026-001")
    assert harvest[TLC_SOURCE_REFERENCE].endswith(f"/b/{code}"), "no GTIN: the batch page"


def test_filters(demo: Registry):
    everything = _csv(demo)

    by_lot = _csv(demo, lot="PY-FL-0601")
    assert by_lot and all(r[TLC] == "PY-FL-0601" or "PY-FL-0601 " in r[INPUTS] for r in by_lot)
    assert {r[CTE].split(" ")[0] for r in by_lot} == {
        "Harvesting",
        "Shipping",
        "Receiving",
        "Transformation",
    }
    assert any(r[TLC] == "PY-CAKE-0610" for r in by_lot), "where the lot went (transformation)"

    gtin = demo.gtin("SX2026-1101")
    by_product = _csv(demo, product=gtin)
    assert by_product and all(r[GTIN] == gtin for r in by_product)
    assert {r[TLC] for r in by_product} == {"SX2026-1101", "SX2026-1115"}

    dates = sorted({r[DATE] for r in everything})
    since, until = dates[1], dates[len(dates) // 2]
    by_date = _csv(demo, since=since, until=until)
    assert by_date and all(since <= r[DATE] <= until for r in by_date)
    expected = [r for r in everything if since <= r[DATE] <= until]
    assert by_date == expected

    both = _csv(demo, lot="AH2026-001", since=dates[-1])
    assert both == []

    for params in ({"since": "June"}, {"product": "12345"}):
        bad = demo.client.get(CSV_PATH, params=params)
        assert bad.status_code == 422, params
        assert bad.headers["content-type"].startswith(PROBLEM_JSON)
    unknown = demo.client.get(CSV_PATH, params={"product": "09506000134352"})
    assert unknown.status_code == 404


def test_xlsx_is_sortable_with_frozen_header_and_autofilter(demo: Registry):
    response = demo.client.get(XLSX_PATH, params={"product": demo.gtin("GF2026-001")})
    assert response.status_code == 200
    assert "spreadsheetml" in response.headers["content-type"]
    assert "fsma204.xlsx" in response.headers["content-disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook.active
    assert sheet.freeze_panes == "A2", "the header row stays in view"
    assert sheet.auto_filter.ref == f"A1:V{sheet.max_row}"
    assert sheet["A1"].font.bold, "the header is bold"
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == FSMA_HEADERS
    body = rows[1:]
    assert body == [tuple(r) for r in body] and len(body) == len(
        _csv(demo, product=demo.gtin("GF2026-001"))
    )
    for row in body:
        assert isinstance(row[QUANTITY], int | float) or row[QUANTITY] is None
        assert isinstance(row[DATE], datetime | date), "dates are dates, so they sort"
    assert {r[TLC] for r in body} == {"GF2026-001", "GF2026-002"}
    assert "敖汉小米" in body[0][PRODUCT]
