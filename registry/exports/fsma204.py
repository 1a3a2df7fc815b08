"""An FDA FSMA 204-style sortable spreadsheet: the key data elements (KDEs) of every
critical tracking event (CTE) of the log's supply-chain records (21 CFR 1.1325-1.1350),
one row per event and traceability lot, as CSV (RFC 4180) or an Excel workbook.

Like every export it reads only records inside the latest signed checkpoint
(``registry.exports.loading``); each row names its record's log index and digest.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import places
from registry.errors import InvalidInput, NotFound
from registry.exports.epcis.facts import LoggedRecord
from registry.exports.epcis.values import local_date
from registry.exports.filters import time_range
from registry.exports.loading import Loaded, load
from registry.gs1 import digital_link_path, normalize_gtin, validate_lot
from registry.models import Batch, Organization, Product, RecordBatch

FSMA_KINDS = frozenset({"harvest", "packing", "shipping", "receiving", "processing"})
"""Record kinds that are FSMA 204 critical tracking events (21 CFR 1.1325-1.1350)."""

CTE_NAMES = {
    "harvest": "Harvesting 采收",
    "packing": "Packing 包装",
    "shipping": "Shipping 发运",
    "receiving": "Receiving 收货",
    "processing": "Transformation 加工转化",
}
"""The CTE column: each record kind's critical tracking event, in English and Chinese."""

REFERENCE_TYPES = {
    "harvest": "Harvest record 采收记录",
    "packing": "Packing record 包装记录",
    "shipping": "Bill of lading 运单",
    "receiving": "Bill of lading 运单",
    "processing": "Production record 加工记录",
}
"""The reference document type column, by record kind."""


@dataclass(frozen=True)
class KdeRow:
    """One critical tracking event of one traceability lot, with its key data elements
    (FDA FSMA 204, 21 CFR 1.1325-1.1350). Field order is column order: the columns of FDA's
    sortable spreadsheet template (one sheet for every CTE: the CTE, its date, the TLC, the
    product, quantity and unit, the locations, the TLC source and the reference document),
    then the registry's own (batch code, product id, log index, record digest)."""

    cte: str
    event_date: date
    traceability_lot_code: str
    product_description: str
    quantity: Decimal | None
    unit_of_measure: str
    location_description: str
    location_identifier: str
    immediate_previous_source: str
    immediate_subsequent_recipient: str
    tlc_source_location: str
    tlc_source_reference: str
    input_lots: str
    reference_document_type: str
    reference_document_number: str
    event_time: str
    lot: str
    gtin: str
    batch_code: str
    product_id: str
    log_index: int
    record_digest: str


FSMA_HEADERS = [
    "Critical Tracking Event (CTE) 关键追溯事件",
    "Date of CTE 事件日期",
    "Traceability Lot Code (TLC) 追溯批号",
    "Product Description 产品描述",
    "Quantity 数量",
    "Unit of Measure 单位",
    "Location Description of CTE 事件地点",
    "Location Identifier (GLN) 地点标识",
    "Immediate Previous Source 上一来源",
    "Immediate Subsequent Recipient 下一接收方",
    "TLC Source Location Description 批号分配地点",
    "TLC Source Reference 批号来源参考",
    "Input TLCs (Transformation) 投入批号",
    "Reference Document Type 参考单据类型",
    "Reference Document Number 参考单据编号",
    "Event Time 事件时间",
    "Lot Code (AI 10) 批号",
    "GTIN (AI 01) 商品条码",
    "Batch Code 批次码",
    "Product ID 产品编号",
    "Log Index 日志序号",
    "Record Digest 记录摘要",
]
"""The header row, one column per ``KdeRow`` field, in English and Chinese."""
assert len(FSMA_HEADERS) == len(fields(KdeRow))


def traceability_lot_code(gtin: str | None, lot: str) -> str:
    """The TLC as the Produce Traceability Initiative writes it: the GTIN and the lot, as a
    GS1 element string ``(01)06901234567892(10)GF2026-001``; the lot alone without a GTIN."""
    return f"(01){gtin}(10){lot}" if gtin else lot


def tlc_source_reference(base_url: str, gtin: str | None, lot: str, code: str) -> str:
    """A registry URL where the TLC source (who assigned the lot, where) can be looked up:
    the lot's Digital Link when it has a GTIN and a GS1 lot, else its batch page."""
    base = base_url.rstrip("/")
    if gtin:
        try:
            return base + digital_link_path(gtin, validate_lot(lot))
        except InvalidInput:
            pass
    return f"{base}/b/{code}"


def _product_filter(session: Session, product: str | None) -> uuid.UUID | None:
    if product is None or not product.strip():
        return None
    text = product.strip()
    try:
        return uuid.UUID(text)
    except ValueError:
        pass
    gtin = normalize_gtin(text)  # raises InvalidInput naming what is wrong
    found = session.scalars(select(Product.id).where(Product.gtin == gtin)).first()
    if found is None:
        raise NotFound(f"no product with GTIN {gtin}")
    return found


def _place_text(org: Organization | None, place: Any = None) -> str:
    parts = []
    if org is not None:
        parts.append(f"{org.name_zh} {org.name_en}")
    if isinstance(place, dict):
        if place.get("name"):
            parts.append(str(place["name"]))
        parts.append(_region_text(str(place.get("region"))))
    elif org is not None:
        parts.append(_region_text(org.region_code))
    return ", ".join(parts)


def _region_text(code: str) -> str:
    """A region for the sheet: its names in both languages, and the code to sort and join
    on (``内蒙古自治区赤峰市敖汉旗 Aohan Banner, Chifeng, Inner Mongolia 行政区划 region
    150430``)."""
    zh, en = places.region_name(code, "zh"), places.region_name(code, "en")
    named = " ".join(n for n in (zh, en if en != zh else None) if n)
    return f"{named} 行政区划 region {code}" if named else f"行政区划 region {code}"


def _party_text(party: Any) -> str:
    if not isinstance(party, dict):
        return ""
    text = str(party.get("name", ""))
    place = party.get("place")
    if isinstance(place, dict) and place.get("region"):
        name = places.region_name(str(place["region"]), "zh")
        text += f" ({name + ' ' if name else ''}region {place['region']})"
    return text


def fsma204_rows(
    session: Session,
    *,
    lot: str | None = None,
    product: str | None = None,
    since: str | None = None,
    until: str | None = None,
    base_url: str = "",
) -> list[KdeRow]:
    """The key data elements of every critical tracking event (harvesting, packing,
    shipping, receiving, transformation), sorted by event time; filtered by lot code (the
    TLC, or an input lot of a transformation), product (id or GTIN) and event date range.
    ``base_url`` is the registry's public URL, for the TLC source reference."""
    window = time_range(since, until)
    product_id = _product_filter(session, product)
    indices = None
    if lot is not None or product_id is not None:
        query = select(RecordBatch.record_index).join(Batch, Batch.id == RecordBatch.batch_id)
        if lot is not None:
            query = query.where(Batch.lot == lot)
        if product_id is not None:
            query = query.where(Batch.product_id == product_id)
        indices = set(session.scalars(query))
    loaded = load(session, window=window, record_indices=indices, kinds=FSMA_KINDS)
    rows = []
    for record in loaded.records:
        for row in _kde_rows(record, loaded, base_url):
            if lot is not None and lot != row.lot and lot not in _lots(row):
                continue
            if (
                product_id is not None
                and str(product_id) != row.product_id
                and str(product_id) not in row.input_lots
            ):
                continue
            rows.append(row)
    rows.sort(key=lambda r: (datetime.fromisoformat(r.event_time), r.log_index))
    return rows


def _lots(row: KdeRow) -> set[str]:
    return {part.split(" ", 1)[0] for part in row.input_lots.split("; ") if part}


class _RowMaker:
    """The KDE rows of one record: the columns every row of it shares, per batch."""

    def __init__(self, record: LoggedRecord, loaded: Loaded, base_url: str) -> None:
        self.record = record
        self.loaded = loaded
        self.base_url = base_url
        self.doc = record.document
        self.signer = loaded.orgs.get(record.org.id) if record.org is not None else None

    def loaded_reference(self, batch: Batch, product: Product) -> str:
        """The TLC source reference (21 CFR 1.1310(c)): where the lot's origin can be looked
        up, as a registry URL: the lot's GS1 Digital Link, else its batch page."""
        return tlc_source_reference(self.base_url, product.gtin, batch.lot, batch.code)

    def row(self, ref: str, quantity: str | None, unit: str | None, **extra: str) -> KdeRow | None:
        """The row of one traceability lot, or None if its batch is not in the registry."""
        found = self.loaded.batches.get(ref)
        if found is None:
            return None
        batch, product = found
        origin = self.loaded.orgs.get(batch.origin_org_id)
        record, doc, signer, when = self.record, self.doc, self.signer, str(self.doc["time"])
        return KdeRow(
            cte=CTE_NAMES[record.kind],
            event_date=local_date(when),
            traceability_lot_code=traceability_lot_code(product.gtin, batch.lot),
            product_description=f"{product.name_zh} {product.name_en}",
            quantity=Decimal(quantity) if quantity is not None else None,
            unit_of_measure=unit or "",
            location_description=extra.get("location", _place_text(signer, doc.get("place"))),
            location_identifier=(signer.gln or "") if signer else "",
            immediate_previous_source=extra.get("source", ""),
            immediate_subsequent_recipient=extra.get("recipient", ""),
            tlc_source_location=_place_text(origin, {"region": batch.region_code}),
            tlc_source_reference=self.loaded_reference(batch, product),
            input_lots=extra.get("inputs", ""),
            reference_document_type=REFERENCE_TYPES[record.kind],
            reference_document_number=str(doc.get("waybill") or f"GR-{record.log_index}"),
            event_time=when,
            lot=batch.lot,
            gtin=product.gtin or "",
            batch_code=batch.code,
            product_id=str(batch.product_id),
            log_index=record.log_index,
            record_digest=record.digest,
        )


def _kde_rows(record: LoggedRecord, loaded: Loaded, base_url: str) -> list[KdeRow]:
    """The rows of a record: one per traceability lot it names (outputs of a transformation)."""
    maker = _RowMaker(record, loaded, base_url)
    doc = record.document
    kind = record.kind
    refs = [str(r) for r in doc.get("batches", [])]
    made: list[KdeRow | None] = []
    if kind == "harvest":
        made.append(maker.row(refs[0], doc["quantity"], doc["unit"]))
    elif kind == "packing":
        package = doc["package"]
        total = str(Decimal(package["size"]) * package["count"])
        made.extend(maker.row(ref, total, package["unit"]) for ref in refs)
    elif kind in ("shipping", "receiving"):
        made.extend(_transfer_rows(maker, kind, refs))
    elif kind == "processing":
        inputs = "; ".join(_input_lots(doc, loaded))
        made.extend(
            maker.row(o["batch"], o["quantity"], o["unit"], inputs=inputs)
            for o in doc.get("outputs", [])
        )
    return [r for r in made if r is not None]


def _transfer_rows(maker: _RowMaker, kind: str, refs: list[str]) -> list[KdeRow | None]:
    """Shipping (the signer is the source) or receiving (the signer is the recipient); the
    quantity only when one lot moved."""
    doc = maker.doc
    own = _place_text(maker.signer)
    single = len(refs) == 1
    if kind == "shipping":
        parties = {"source": own, "recipient": _party_text(doc.get("to"))}
    else:
        parties = {"source": _party_text(doc.get("source")), "recipient": own}
    return [
        maker.row(
            ref,
            doc.get("quantity") if single else None,
            doc.get("unit") if single else None,
            **parties,
        )
        for ref in refs
    ]


def _input_lots(doc: dict[str, Any], loaded: Loaded) -> list[str]:
    """The input TLCs of a transformation: lot, quantity, unit (product name, product id)."""
    inputs = []
    for consumed in doc.get("inputs", []):
        found = loaded.batches.get(consumed["batch"])
        if found is not None:
            batch, product = found
            inputs.append(
                f"{batch.lot} {consumed['quantity']} {batch.unit} "
                f"({product.name_zh}, {batch.product_id})"
            )
    return inputs


def _cells(row: KdeRow) -> list[Any]:
    return [getattr(row, f.name) for f in fields(KdeRow)]


def fsma204_csv(rows: Sequence[KdeRow]) -> bytes:
    """CSV (RFC 4180), UTF-8 with a byte-order mark so that Excel reads the Chinese right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(FSMA_HEADERS)
    for row in rows:
        writer.writerow(
            [
                "" if value is None else value.isoformat() if isinstance(value, date) else value
                for value in _cells(row)
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


COLUMN_WIDTHS = [24, 12, 40, 34, 12, 10, 44, 16, 34, 34, 40, 56, 48, 24, 22, 26, 18, 16, 12, 38]
COLUMN_WIDTHS += [10, 66]


def fsma204_xlsx(rows: Sequence[KdeRow]) -> bytes:
    """An Excel workbook: one sheet, header row frozen, autofilter on every column, dates as
    dates and quantities as numbers so that sorting works. Written in openpyxl's write-only
    mode, row by row, so a year of a large registry fits in memory."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("FSMA 204 KDEs")
    for index, width in enumerate(COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    last = get_column_letter(len(FSMA_HEADERS))
    sheet.auto_filter.ref = f"A1:{last}{len(rows) + 1}"
    bold = Font(bold=True)
    header = []
    for title in FSMA_HEADERS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:  # a date cell gets a date number format from openpyxl itself
        sheet.append(_cells(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def fsma204_file(
    session: Session,
    file_format: str,
    *,
    lot: str | None = None,
    product: str | None = None,
    since: str | None = None,
    until: str | None = None,
    base_url: str = "",
) -> bytes:
    """The filtered rows of ``fsma204_rows`` as an ``xlsx`` workbook, else as CSV."""
    rows = fsma204_rows(
        session, lot=lot, product=product, since=since, until=until, base_url=base_url
    )
    return fsma204_xlsx(rows) if file_format == "xlsx" else fsma204_csv(rows)
