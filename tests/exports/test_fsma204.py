"""The FSMA 204-style sortable spreadsheet: one row per critical tracking event with its key
data elements, as CSV (UTF-8 with BOM) and XLSX, filtered by lot, product and date range."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from urllib.parse import urlsplit

import openpyxl
import pytest
from sqlalchemy import select

from registry.exports.fsma204 import FSMA_HEADERS, iter_fsma204_rows, write_fsma204_xlsx
from registry.gs1 import gtin_check_digit
from registry.models import Batch, Product
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
    # the demo's petals and flour have no GTIN: their TLC is the lot, as in their own rows
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


def _gtin(body: str) -> str:
    return body + gtin_check_digit(body)


@contextmanager
def _product_gtin(demo: Registry, lot: str, gtin: str) -> Iterator[str]:
    """The product of ``lot`` registered with ``gtin`` for a while (master data, not a signed
    record: the sheet reads it as it is now); the demo's GTIN given back afterwards."""
    with demo.session() as session:
        product = session.scalars(
            select(Product).join(Batch, Batch.product_id == Product.id).where(Batch.lot == lot)
        ).one()
        before, product.gtin = product.gtin, gtin
    try:
        yield gtin
    finally:
        with demo.session() as session:
            session.get_one(Product, product.id).gtin = before


def test_input_lots_are_written_as_traceability_lot_codes(demo: Registry):
    """A transformation's input lots are written as the sheet writes every TLC: GTIN + lot,
    ``(01)<GTIN>(10)<lot>``, the same text as the TLC column of the input lot's own rows; in
    the CSV and in the workbook alike."""
    tlc_form = re.compile(r"\(01\)\d{14}\(10\)[!-~]{1,20}")
    with (
        _product_gtin(demo, "PY-ROSE-0521", _gtin("0690123456799")) as petals,
        _product_gtin(demo, "PY-FL-0601", _gtin("0690123456800")) as flour,
    ):
        cake_gtin = demo.gtin("PY-CAKE-0610")
        rows = _csv(demo, product=cake_gtin)
        cake = next(r for r in rows if r[TLC] == "PY-CAKE-0610" and r[CTE].startswith("Transf"))
        parts = cake[INPUTS].split("; ")
        codes = [part.split(" ", 1)[0] for part in parts]
        assert all(tlc_form.fullmatch(code) for code in codes), cake[INPUTS]
        assert f"(01){petals}(10)PY-ROSE-0521" in codes and f"(01){flour}(10)PY-FL-0601" in codes
        assert any(p.startswith(f"(01){petals}(10)PY-ROSE-0521 120 kg (") for p in parts)
        assert cake[TRACEABILITY_LOT_CODE] == f"(01){cake_gtin}(10)PY-CAKE-0610"

        # The input's own rows name it by the same code: one can join the sheet on the TLC.
        petal_rows = _csv(demo, lot="PY-ROSE-0521")
        harvest = next(r for r in petal_rows if r[CTE].startswith("Harvest"))
        assert harvest[TRACEABILITY_LOT_CODE] == f"(01){petals}(10)PY-ROSE-0521"
        assert cake in petal_rows, "the lot filter finds where the lot went, by its lot"
        assert cake in _csv(demo, product=petals), "and the product filter, by the GTIN"

        response = demo.client.get(XLSX_PATH, params={"product": cake_gtin})
        assert response.status_code == 200
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        body = list(sheet.iter_rows(min_row=2, values_only=True))
        assert len(body) == len(rows)
        made = next(r for r in body if r[TLC] == "PY-CAKE-0610" and r[CTE].startswith("Transf"))
        assert made[INPUTS] == cake[INPUTS], "the workbook writes the input TLCs as the CSV does"
        assert made[TRACEABILITY_LOT_CODE] == cake[TRACEABILITY_LOT_CODE]


def test_workbook_streams_rows_and_filters_the_count_written(demo: Registry, tmp_path):
    """The workbook is written from the rows as they are read (an iterator, not a list): the
    autofilter range, set after the last row, covers exactly the rows written."""
    path = tmp_path / "sheet.xlsx"
    with demo.session() as session, path.open("wb") as out:
        rows = iter_fsma204_rows(session, lot="GF2026-001", base_url="https://registry.test")
        assert not isinstance(rows, list | tuple)
        written = write_fsma204_xlsx(rows, out)
    sheet = openpyxl.load_workbook(path).active
    assert written > 0 and sheet.max_row == written + 1
    assert sheet.auto_filter.ref == f"A1:V{written + 1}"
    assert sheet.freeze_panes == "A2"
