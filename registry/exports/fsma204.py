"""An FDA FSMA 204-style sortable spreadsheet: the key data elements (KDEs) of every
critical tracking event (CTE) of the log's supply-chain records (21 CFR 1.1325-1.1350),
one row per event and traceability lot, as CSV (RFC 4180) or an Excel workbook.

Like every export it reads only records inside the latest signed checkpoint (as
``registry.exports.loading`` does, but in chunks: a year of a large registry is written
as it is read, not held); each row names its record's log index and digest.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from typing import IO, Any, NamedTuple

import orjson
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from registry import places
from registry.db import in_chunks
from registry.errors import InvalidInput, NotFound
from registry.exports.epcis.values import local_date
from registry.exports.filters import time_range
from registry.gs1 import digital_link_path, normalize_gtin, validate_lot
from registry.models import Batch, Checkpoint, Organization, Product, Record, RecordBatch
from registry.records.schema import split_batch_ref

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


class KdeRow(NamedTuple):
    """One critical tracking event of one traceability lot, with its key data elements
    (FDA FSMA 204, 21 CFR 1.1325-1.1350). Field order is column order: the columns of FDA's
    sortable spreadsheet template (one sheet for every CTE: the CTE, its date, the TLC, the
    product, quantity and unit, the locations, the TLC source and the reference document),
    then the registry's own (batch code, product id, log index, record digest). A tuple, so
    that a writer takes it as the row's cells as it is."""

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
assert len(FSMA_HEADERS) == len(KdeRow._fields)


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


class _Org(NamedTuple):
    """What the sheet says of an organization."""

    name_zh: str
    name_en: str
    region_code: str
    gln: str | None


class _Lot(NamedTuple):
    """A traceability lot's columns, the same on every row of it."""

    tlc: str
    product_description: str
    tlc_source_location: str
    tlc_source_reference: str
    lot: str
    gtin: str
    code: str
    product_id: str
    unit: str
    product_zh: str


def _place_text(org: _Org | None, place: Any = None) -> str:
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
    """The rows of ``iter_fsma204_rows`` as a list (a small sheet; a large one is written
    as it is read, ``write_fsma204_sheet``)."""
    return list(
        iter_fsma204_rows(
            session, lot=lot, product=product, since=since, until=until, base_url=base_url
        )
    )


def iter_fsma204_rows(
    session: Session,
    *,
    lot: str | None = None,
    product: str | None = None,
    since: str | None = None,
    until: str | None = None,
    base_url: str = "",
) -> Iterator[KdeRow]:
    """The key data elements of every critical tracking event (harvesting, packing,
    shipping, receiving, transformation) inside the latest signed checkpoint, sorted by
    event time (then log index); filtered by lot code (the lot, or an input lot of a
    transformation), product (id or GTIN; also a transformation that consumed it) and event
    date range. ``base_url`` is the registry's public URL, for the TLC source reference.

    The filters are checked before the first row. Then only the sorted log indices are held:
    records are read in chunks, each chunk's lots and organizations fetched in one query
    each for those not seen before, so memory does not grow with the rows."""
    window = time_range(since, until)
    product_id = _product_filter(session, product)
    size = session.scalar(select(Checkpoint.size).order_by(Checkpoint.size.desc()).limit(1))
    query = select(Record.log_index).where(
        Record.kind.in_(sorted(FSMA_KINDS)),
        Record.log_index < (size or 0),
        Record.payload.is_not(None),  # erased personal data: nothing left to export
    )
    if window.since is not None:
        query = query.where(Record.record_time >= window.since)
    if window.before is not None:
        query = query.where(Record.record_time < window.before)
    if lot is not None or product_id is not None:
        naming = select(RecordBatch.record_index).join(Batch, Batch.id == RecordBatch.batch_id)
        if lot is not None:
            naming = naming.where(Batch.lot == lot)
        if product_id is not None:
            naming = naming.where(Batch.product_id == product_id)
        query = query.where(Record.log_index.in_(naming))
    # The record time is the payload's time (ingestion stores it), as an instant.
    order = list(session.scalars(query.order_by(Record.record_time, Record.log_index)))
    return _SheetReader(session, base_url, lot, product_id).rows(order)


class _SheetReader:
    """The rows of records, chunk by chunk. What rows repeat (a lot's columns, an
    organization, a place's or party's text) is fetched or made once and kept."""

    def __init__(
        self, session: Session, base_url: str, lot: str | None, product_id: uuid.UUID | None
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.lot = lot
        self.product_id = str(product_id) if product_id is not None else None
        self.lots: dict[str, _Lot | None] = {}
        self.orgs: dict[uuid.UUID, _Org | None] = {}
        self.texts: dict[tuple[Any, ...], str] = {}

    def rows(self, order: list[int]) -> Iterator[KdeRow]:
        for chunk in in_chunks(order):
            found = {
                index: (digest, kind, org_id, orjson.loads(payload))
                for index, digest, kind, org_id, payload in self.session.execute(
                    select(
                        Record.log_index,
                        Record.digest,
                        Record.kind,
                        Record.organization_id,
                        Record.payload,
                    ).where(Record.log_index.in_(list(chunk)))
                )
                if payload is not None  # erased since the indices were read: left out
            }
            self._fetch(
                {str(ref) for *_, doc in found.values() for ref in doc.get("batches", [])},
                {org_id for _, _, org_id, _ in found.values() if org_id is not None},
            )
            for index in chunk:
                if index in found:
                    yield from self._record_rows(index, *found[index])

    def _fetch(self, refs: set[str], org_ids: set[uuid.UUID]) -> None:
        """Fetch the lots and organizations not yet seen (with the lots' origins)."""
        wanted = {ref: split_batch_ref(ref) for ref in refs if ref not in self.lots}
        rows: list[Any] = []
        for keys in in_chunks(sorted(set(wanted.values()))):
            rows.extend(
                self.session.execute(
                    select(
                        Batch.product_id,
                        Batch.lot,
                        Batch.code,
                        Batch.unit,
                        Batch.origin_org_id,
                        Batch.region_code,
                        Product.gtin,
                        Product.name_zh,
                        Product.name_en,
                    )
                    .join(Product, Product.id == Batch.product_id)
                    .where(tuple_(Batch.product_id, Batch.lot).in_(list(keys)))
                )
            )
        missing = (org_ids | {row.origin_org_id for row in rows}) - set(self.orgs)
        for ids in in_chunks(sorted(missing)):
            for org_id, name_zh, name_en, region, gln in self.session.execute(
                select(
                    Organization.id,
                    Organization.name_zh,
                    Organization.name_en,
                    Organization.region_code,
                    Organization.gln,
                ).where(Organization.id.in_(list(ids)))
            ):
                self.orgs[org_id] = _Org(name_zh, name_en, region, gln)
        self.orgs.update(dict.fromkeys(missing - set(self.orgs)))
        by_key = {(row.product_id, row.lot): self._lot(row) for row in rows}
        self.lots.update({ref: by_key.get(key) for ref, key in wanted.items()})

    def _lot(self, row: Any) -> _Lot:
        origin = self.orgs.get(row.origin_org_id)
        return _Lot(
            tlc=traceability_lot_code(row.gtin, row.lot),
            product_description=f"{row.name_zh} {row.name_en}",
            tlc_source_location=self._place(origin, row.origin_org_id, {"region": row.region_code}),
            tlc_source_reference=tlc_source_reference(self.base_url, row.gtin, row.lot, row.code),
            lot=row.lot,
            gtin=row.gtin or "",
            code=row.code,
            product_id=str(row.product_id),
            unit=row.unit,
            product_zh=row.name_zh,
        )

    def _place(self, org: _Org | None, org_id: uuid.UUID | None, place: Any = None) -> str:
        """``_place_text``, made once per organization and place."""
        if isinstance(place, dict):
            key: tuple[Any, ...] = (org_id, True, str(place.get("name") or ""))
            key += (str(place.get("region")),)
        else:
            key = (org_id, False)
        text = self.texts.get(key)
        if text is None:
            text = self.texts[key] = _place_text(org, place)
        return text

    def _party(self, party: Any) -> str:
        """``_party_text``, made once per party."""
        if not isinstance(party, dict):
            return ""
        place = party.get("place")
        region = place.get("region") if isinstance(place, dict) else None
        key = ("party", str(party.get("name", "")), str(region) if region else "")
        text = self.texts.get(key)
        if text is None:
            text = self.texts[key] = _party_text(party)
        return text

    def _record_rows(
        self, index: int, digest: str, kind: str, org_id: uuid.UUID | None, doc: dict[str, Any]
    ) -> Iterator[KdeRow]:
        """The rows of a record: one per traceability lot it names (the outputs of a
        transformation), its batches that are not in the registry left out."""
        signer = self.orgs.get(org_id) if org_id is not None else None
        when = str(doc["time"])
        location = self._place(signer, org_id, doc.get("place"))
        reference = str(doc.get("waybill") or f"GR-{index}")
        source = recipient = inputs = ""
        input_lots: set[str] = set()
        input_products: set[str] = set()
        # (batch ref, quantity, unit) of each row
        made: list[tuple[str, Decimal | None, str | None]] = []
        refs = [str(r) for r in doc.get("batches", [])]
        if kind == "harvest":
            made.append((refs[0], Decimal(doc["quantity"]), doc["unit"]))
        elif kind == "packing":
            package = doc["package"]
            total = Decimal(package["size"]) * package["count"]
            made.extend((ref, total, package["unit"]) for ref in refs)
        elif kind in ("shipping", "receiving"):
            # The signer is the source of a shipment and the recipient of a receipt; the
            # quantity only when one lot moved.
            own = self._place(signer, org_id)
            if kind == "shipping":
                source, recipient = own, self._party(doc.get("to"))
            else:
                source, recipient = self._party(doc.get("source")), own
            single = len(refs) == 1
            quantity = doc.get("quantity") if single else None
            unit = doc.get("unit") if single else None
            made.extend(
                (ref, Decimal(quantity) if quantity is not None else None, unit) for ref in refs
            )
        elif kind == "processing":
            inputs, input_lots, input_products = self._inputs(doc)
            made.extend(
                (str(o["batch"]), Decimal(o["quantity"]), o["unit"]) for o in doc.get("outputs", [])
            )
        cte, document_type = CTE_NAMES[kind], REFERENCE_TYPES[kind]
        event_date = local_date(when)
        gln = (signer.gln or "") if signer is not None else ""
        wanted_lot, wanted_product = self.lot, self.product_id
        for ref, quantity, unit in made:
            lot = self.lots.get(ref)
            if lot is None:
                continue
            if wanted_lot is not None and wanted_lot != lot.lot and wanted_lot not in input_lots:
                continue
            if (
                wanted_product is not None
                and wanted_product != lot.product_id
                and wanted_product not in input_products
            ):
                continue
            yield KdeRow(
                cte,
                event_date,
                lot.tlc,
                lot.product_description,
                quantity,
                unit or "",
                location,
                gln,
                source,
                recipient,
                lot.tlc_source_location,
                lot.tlc_source_reference,
                inputs,
                document_type,
                reference,
                when,
                lot.lot,
                lot.gtin,
                lot.code,
                lot.product_id,
                index,
                digest,
            )

    def _inputs(self, doc: dict[str, Any]) -> tuple[str, set[str], set[str]]:
        """The input TLCs of a transformation, as the sheet writes every TLC (GTIN + lot),
        each with its quantity, unit, product name and product id; and the inputs' lots and
        product ids, for the filters."""
        parts, lots, products = [], set(), set()
        for consumed in doc.get("inputs", []):
            lot = self.lots.get(str(consumed["batch"]))
            if lot is not None:
                parts.append(
                    f"{lot.tlc} {consumed['quantity']} {lot.unit} "
                    f"({lot.product_zh}, {lot.product_id})"
                )
                lots.add(lot.lot)
                products.add(lot.product_id)
        return "; ".join(parts), lots, products


COLUMN_WIDTHS = [24, 12, 40, 34, 12, 10, 44, 16, 34, 34, 40, 56, 48, 24, 22, 26, 18, 16, 12, 38]
COLUMN_WIDTHS += [10, 66]


def write_fsma204_csv(rows: Iterable[KdeRow], out: IO[bytes]) -> int:
    """Write CSV (RFC 4180), UTF-8 with a byte-order mark so that Excel reads the Chinese
    right, row by row; the number of rows written. A date is written ISO 8601, a missing
    quantity empty."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(FSMA_HEADERS)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    text.flush()
    text.detach()  # the caller's file stays open
    return count


def write_fsma204_xlsx(rows: Iterable[KdeRow], out: IO[bytes]) -> int:
    """Write an Excel workbook, row by row: one sheet, header row frozen, autofilter on
    every column, dates as dates and quantities as numbers so that sorting works; the number
    of rows written. Openpyxl's write-only mode keeps rows in a temporary file, not in
    memory."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("FSMA 204 KDEs")
    for index, width in enumerate(COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for title in FSMA_HEADERS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in rows:  # a date cell gets a date number format from openpyxl itself
        sheet.append(row)
        count += 1
    # Written after the rows, when the sheet is closed: the range can wait for the count.
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(FSMA_HEADERS))}{count + 1}"
    workbook.save(out)
    return count


def write_fsma204_sheet(rows: Iterable[KdeRow], file_format: str, out: IO[bytes]) -> int:
    """Write ``rows`` to ``out`` as an ``xlsx`` workbook, else as CSV; rows written."""
    if file_format == "xlsx":
        return write_fsma204_xlsx(rows, out)
    return write_fsma204_csv(rows, out)


def fsma204_csv(rows: Iterable[KdeRow]) -> bytes:
    """The CSV of ``write_fsma204_csv``, in memory."""
    buffer = io.BytesIO()
    write_fsma204_csv(rows, buffer)
    return buffer.getvalue()


def fsma204_xlsx(rows: Iterable[KdeRow]) -> bytes:
    """The workbook of ``write_fsma204_xlsx``, in memory."""
    buffer = io.BytesIO()
    write_fsma204_xlsx(rows, buffer)
    return buffer.getvalue()


def write_fsma204(
    session: Session,
    file_format: str,
    out: IO[bytes],
    *,
    lot: str | None = None,
    product: str | None = None,
    since: str | None = None,
    until: str | None = None,
    base_url: str = "",
) -> int:
    """The sheet of ``iter_fsma204_rows`` written to ``out`` as it is read (``xlsx``, else
    CSV); rows written. Bad filters raise before anything is written."""
    rows = iter_fsma204_rows(
        session, lot=lot, product=product, since=since, until=until, base_url=base_url
    )
    return write_fsma204_sheet(rows, file_format, out)


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
    """The sheet of ``write_fsma204``, in memory."""
    buffer = io.BytesIO()
    write_fsma204(
        session,
        file_format,
        buffer,
        lot=lot,
        product=product,
        since=since,
        until=until,
        base_url=base_url,
    )
    return buffer.getvalue()
