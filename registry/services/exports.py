"""Exports of the log's supply-chain records: EPCIS 2.0 JSON-LD, an FSMA 204-style sortable
spreadsheet of key data elements, and the data of a batch's printable 合格证.

Every export reads the latest signed checkpoint first and then only records inside it, so
what it shows can be proven against that checkpoint (``/log/proof/inclusion``).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from registry import epcis, qr
from registry.catalog import batches as batch_service
from registry.db import in_chunks
from registry.errors import InvalidInput, NotFound
from registry.gs1 import normalize_gtin
from registry.models import Batch, Checkpoint, Organization, Product, Record, RecordBatch
from registry.records.schema import split_batch_ref
from registry.transparency import log as log_service

# A bare date in a filter is a day in China Standard Time, where the records are made.
FILTER_ZONE = epcis.CST


# --- filters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeRange:
    """Event times ``since <= t < before`` (either end open)."""

    since: datetime | None = None
    before: datetime | None = None

    def __contains__(self, moment: datetime) -> bool:
        return (self.since is None or moment >= self.since) and (
            self.before is None or moment < self.before
        )


def time_range(since: str | None, until: str | None) -> TimeRange:
    """Parse filter bounds: an RFC 3339 time (with offset) or a date, both ends inclusive.

    A date means that whole day in China Standard Time (UTC+08:00)."""
    return TimeRange(_bound(since, "since", end=False), _bound(until, "until", end=True))


def _bound(text: str | None, name: str, *, end: bool) -> datetime | None:
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day, time(0), FILTER_ZONE)
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name} must be a date (2026-06-01) or a time with an offset "
            f"(2026-06-01T08:00:00+08:00), not {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{name} needs an offset, e.g. {text}+08:00")
    return moment + timedelta(microseconds=1) if end else moment


# --- loading records -------------------------------------------------------------------------


@dataclass
class _Loaded:
    checkpoint: Checkpoint | None
    records: list[epcis.LoggedRecord]
    batches: dict[str, tuple[Batch, Product]]
    orgs: dict[uuid.UUID, Organization]


def _org_info(org: Organization) -> epcis.OrgInfo:
    return epcis.OrgInfo(org.id, org.name_zh, org.name_en, org.region_code, org.gln)


def _batch_info(batch: Batch, product: Product) -> epcis.BatchInfo:
    return epcis.BatchInfo(
        ref=f"{batch.product_id}:{batch.lot}",
        product_id=batch.product_id,
        lot=batch.lot,
        code=batch.code,
        unit=batch.unit,
        gtin=product.gtin,
        product_zh=product.name_zh,
        product_en=product.name_en,
        best_before=batch.best_before,
    )


def _load_batches(session: Session, refs: Iterable[str]) -> dict[str, tuple[Batch, Product]]:
    keys = sorted({split_batch_ref(ref) for ref in refs})
    found: dict[str, tuple[Batch, Product]] = {}
    for chunk in in_chunks(keys):
        rows = session.execute(
            select(Batch, Product)
            .join(Product, Product.id == Batch.product_id)
            .where(tuple_(Batch.product_id, Batch.lot).in_(list(chunk)))
        ).all()
        found.update({f"{b.product_id}:{b.lot}": (b, p) for b, p in rows})
    return found


def _load(
    session: Session,
    *,
    window: TimeRange,
    record_indices: set[int] | None,
    kinds: frozenset[str],
) -> _Loaded:
    checkpoint = session.scalars(
        select(Checkpoint).order_by(Checkpoint.size.desc()).limit(1)
    ).first()
    size = checkpoint.size if checkpoint is not None else 0
    query = (
        select(Record)
        .where(Record.kind.in_(sorted(kinds)), Record.log_index < size)
        .order_by(Record.log_index)
    )
    if window.since is not None:
        query = query.where(Record.record_time >= window.since)
    if window.before is not None:
        query = query.where(Record.record_time < window.before)
    rows: list[Record] = []
    if record_indices is None:
        rows = list(session.scalars(query))
    else:
        for indices in in_chunks(sorted(record_indices)):
            rows.extend(session.scalars(query.where(Record.log_index.in_(list(indices)))))
        rows.sort(key=lambda r: r.log_index)
    org_ids = {r.organization_id for r in rows if r.organization_id is not None}
    orgs = {
        o.id: o
        for chunk in in_chunks(sorted(org_ids))
        for o in session.scalars(select(Organization).where(Organization.id.in_(list(chunk))))
    }
    records = []
    refs: set[str] = set()
    for row in rows:
        if row.payload is None:  # erased personal data: nothing left to export
            continue
        document = json.loads(row.payload)
        refs.update(str(r) for r in document.get("batches", []))
        org = orgs.get(row.organization_id) if row.organization_id else None
        records.append(
            epcis.LoggedRecord(
                log_index=row.log_index,
                digest=row.digest,
                logged_at=row.logged_at,
                kind=row.kind,
                document=document,
                org=_org_info(org) if org is not None else None,
            )
        )
    # Batch rows of the origin organizations too (the TLC source of a spreadsheet row).
    batches = _load_batches(session, refs)
    missing = {b.origin_org_id for b, _ in batches.values()} - set(orgs)
    for chunk in in_chunks(sorted(missing)):
        orgs.update(
            (o.id, o)
            for o in session.scalars(select(Organization).where(Organization.id.in_(list(chunk))))
        )
    return _Loaded(checkpoint, records, batches, orgs)


def trace_record_indices(session: Session, batch: Batch) -> tuple[set[uuid.UUID], set[int]]:
    """The trace of a batch: its ancestors and descendants at any depth (the lineage CTEs),
    and the records of that trace: every record naming one of those batches, except a
    transformation that only consumed one of them into something outside the trace."""
    batch_ids = batch_service.ancestor_ids(session, [batch.id]) | batch_service.descendant_ids(
        session, [batch.id]
    )
    indices: set[int] = set()
    for chunk in in_chunks(sorted(batch_ids)):
        rows = session.execute(
            select(RecordBatch.record_index, RecordBatch.role).where(
                RecordBatch.batch_id.in_(list(chunk))
            )
        )
        indices.update(index for index, role in rows if role != "input")
    return batch_ids, indices


# --- EPCIS -----------------------------------------------------------------------------------


def epcis_export(
    session: Session,
    base_url: str,
    *,
    batch: str | None = None,
    since: str | None = None,
    until: str | None = None,
    now: datetime,
) -> dict[str, Any]:
    """An EPCIS 2.0 document of the supply-chain records: the whole registry, the trace of
    ``batch`` (id or code), and/or the records whose event time is within since..until."""
    window = time_range(since, until)
    indices = None
    if batch is not None:
        _, indices = trace_record_indices(session, batch_service.get_batch(session, batch))
    loaded = _load(session, window=window, record_indices=indices, kinds=epcis.SUPPLY_KINDS)

    def lookup(ref: str) -> epcis.BatchInfo | None:
        found = _load_batches(session, [ref]).get(ref)
        return _batch_info(*found) if found is not None else None

    exporter = epcis.Exporter(
        base_url,
        {ref: _batch_info(b, p) for ref, (b, p) in loaded.batches.items()},
        lookup,
    )
    events = []
    for record in loaded.records:
        if record.kind == "correction":
            corrected = _corrected(session, loaded, record)
            event = exporter.correction_event(record, corrected) if corrected else None
        else:
            event = exporter.event(record)
        if event is not None:
            events.append(event)
    log = None
    if loaded.checkpoint is not None:
        log = {
            "treeSize": loaded.checkpoint.size,
            "checkpoint": loaded.checkpoint.note,
            "checkpointURL": f"{base_url}/log/checkpoint",
        }
    return epcis.epcis_document(
        events,
        exporter.master_data(),
        created=now,
        log=log,
        document_id=f"urn:uuid:{uuid.uuid4()}",
    )


def _corrected(
    session: Session, loaded: _Loaded, correction: epcis.LoggedRecord
) -> epcis.LoggedRecord | None:
    digest = correction.document.get("corrects")
    row = session.scalars(select(Record).where(Record.digest == digest)).first()
    if row is None or row.payload is None:
        return None
    org = session.get(Organization, row.organization_id) if row.organization_id else None
    return epcis.LoggedRecord(
        row.log_index,
        row.digest,
        row.logged_at,
        row.kind,
        json.loads(row.payload),
        _org_info(org) if org is not None else None,
    )


def epcis_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


# --- FSMA 204 sortable spreadsheet -----------------------------------------------------------

FSMA_KINDS = frozenset({"harvest", "packing", "shipping", "receiving", "processing"})
CTE_NAMES = {
    "harvest": "Harvesting 采收",
    "packing": "Packing 包装",
    "shipping": "Shipping 发运",
    "receiving": "Receiving 收货",
    "processing": "Transformation 加工转化",
}
REFERENCE_TYPES = {
    "harvest": "Harvest record 采收记录",
    "packing": "Packing record 包装记录",
    "shipping": "Bill of lading 运单",
    "receiving": "Bill of lading 运单",
    "processing": "Production record 加工记录",
}


@dataclass(frozen=True)
class KdeRow:
    """One critical tracking event of one traceability lot, with its key data elements
    (FDA FSMA 204, 21 CFR 1.1325-1.1350). Field order is column order."""

    cte: str
    traceability_lot_code: str
    product_description: str
    gtin: str
    quantity: Decimal | None
    unit_of_measure: str
    location_description: str
    location_identifier: str
    event_date: date
    event_time: str
    reference_document_type: str
    reference_document_number: str
    immediate_previous_source: str
    immediate_subsequent_recipient: str
    tlc_source: str
    input_lots: str
    batch_code: str
    product_id: str
    log_index: int
    record_digest: str


FSMA_HEADERS = [
    "CTE 关键追溯事件",
    "Traceability Lot Code (TLC) 追溯批号",
    "Product Description 产品描述",
    "GTIN 商品条码",
    "Quantity 数量",
    "Unit of Measure 单位",
    "Location Description 地点描述",
    "Location Identifier 地点标识",
    "Date 日期",
    "Event Time 事件时间",
    "Reference Document Type 参考单据类型",
    "Reference Document Number 参考单据编号",
    "Immediate Previous Source 上一来源",
    "Immediate Subsequent Recipient 下一接收方",
    "TLC Source 批号分配地点",
    "Input TLCs (transformation) 投入批号",
    "Batch Code 批次码",
    "Product ID 产品编号",
    "Log Index 日志序号",
    "Record Digest 记录摘要",
]
assert len(FSMA_HEADERS) == len(fields(KdeRow))


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
        parts.append(f"行政区划 region {place.get('region')}")
    elif org is not None:
        parts.append(f"行政区划 region {org.region_code}")
    return ", ".join(parts)


def _party_text(party: Any) -> str:
    if not isinstance(party, dict):
        return ""
    text = str(party.get("name", ""))
    place = party.get("place")
    if isinstance(place, dict) and place.get("region"):
        text += f" (region {place['region']})"
    return text


def fsma204_rows(
    session: Session,
    *,
    lot: str | None = None,
    product: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[KdeRow]:
    """The key data elements of every critical tracking event (harvesting, packing,
    shipping, receiving, transformation), sorted by event time; filtered by lot code (the
    TLC, or an input lot of a transformation), product (id or GTIN) and event date range."""
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
    loaded = _load(session, window=window, record_indices=indices, kinds=FSMA_KINDS)
    rows = []
    for record in loaded.records:
        for row in _kde_rows(record, loaded):
            if lot is not None and lot != row.traceability_lot_code and lot not in _lots(row):
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


def _kde_rows(record: epcis.LoggedRecord, loaded: _Loaded) -> list[KdeRow]:
    doc = record.document
    kind = record.kind
    signer = loaded.orgs.get(record.org.id) if record.org is not None else None
    when = str(doc["time"])

    def row(ref: str, quantity: str | None, unit: str | None, **extra: str) -> KdeRow | None:
        found = loaded.batches.get(ref)
        if found is None:
            return None
        batch, product = found
        origin = loaded.orgs.get(batch.origin_org_id)
        return KdeRow(
            cte=CTE_NAMES[kind],
            traceability_lot_code=batch.lot,
            product_description=f"{product.name_zh} {product.name_en}",
            gtin=product.gtin or "",
            quantity=Decimal(quantity) if quantity is not None else None,
            unit_of_measure=unit or "",
            location_description=extra.get("location", _place_text(signer, doc.get("place"))),
            location_identifier=(signer.gln or "") if signer else "",
            event_date=epcis.local_date(when),
            event_time=when,
            reference_document_type=REFERENCE_TYPES[kind],
            reference_document_number=str(doc.get("waybill") or f"GR-{record.log_index}"),
            immediate_previous_source=extra.get("source", ""),
            immediate_subsequent_recipient=extra.get("recipient", ""),
            tlc_source=_place_text(origin, {"region": batch.region_code}),
            input_lots=extra.get("inputs", ""),
            batch_code=batch.code,
            product_id=str(batch.product_id),
            log_index=record.log_index,
            record_digest=record.digest,
        )

    made: list[KdeRow | None] = []
    refs = [str(r) for r in doc.get("batches", [])]
    own = _place_text(signer)
    if kind == "harvest":
        made.append(row(refs[0], doc["quantity"], doc["unit"]))
    elif kind == "packing":
        package = doc["package"]
        total = str(Decimal(package["size"]) * package["count"])
        made.extend(row(ref, total, package["unit"]) for ref in refs)
    elif kind == "shipping":
        single = len(refs) == 1
        made.extend(
            row(
                ref,
                doc.get("quantity") if single else None,
                doc.get("unit") if single else None,
                source=own,
                recipient=_party_text(doc.get("to")),
            )
            for ref in refs
        )
    elif kind == "receiving":
        single = len(refs) == 1
        made.extend(
            row(
                ref,
                doc.get("quantity") if single else None,
                doc.get("unit") if single else None,
                source=_party_text(doc.get("source")),
                recipient=own,
            )
            for ref in refs
        )
    elif kind == "processing":
        inputs = []
        for consumed in doc.get("inputs", []):
            found = loaded.batches.get(consumed["batch"])
            if found is not None:
                batch, product = found
                inputs.append(
                    f"{batch.lot} {consumed['quantity']} {batch.unit} "
                    f"({product.name_zh}, {batch.product_id})"
                )
        made.extend(
            row(o["batch"], o["quantity"], o["unit"], inputs="; ".join(inputs))
            for o in doc.get("outputs", [])
        )
    return [r for r in made if r is not None]


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


def fsma204_xlsx(rows: Sequence[KdeRow]) -> bytes:
    """An Excel workbook: one sheet, header row frozen, autofilter on every column, dates as
    dates and quantities as numbers so that sorting works."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "FSMA 204 KDEs"
    sheet.append(FSMA_HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(_cells(row))
    date_column = [f.name for f in fields(KdeRow)].index("event_date") + 1
    for (cell,) in sheet.iter_rows(min_row=2, min_col=date_column, max_col=date_column):
        cell.number_format = "yyyy-mm-dd"
    widths = [22, 18, 34, 16, 12, 10, 44, 16, 12, 26, 24, 22, 34, 34, 40, 48, 12, 38, 10, 66]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(FSMA_HEADERS))}{max(len(rows) + 1, 1)}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- the printable 承诺达标合格证 ------------------------------------------------------------

BASIS_LABELS = {
    "self_test": ("自我检测合格", "Self-tested"),
    "commissioned_test": ("委托检测合格", "Tested by a commissioned lab"),
    "quality_control": ("内部质量控制合格", "Internal quality control"),
}


@dataclass(frozen=True)
class CertificateView:
    """What a printed 合格证 carries: from the batch's newest certificate record."""

    batch_code: str
    lot: str
    product_zh: str
    product_en: str
    gtin: str | None
    producer_zh: str
    producer_en: str
    producer_region: str
    quantity: str
    unit: str
    issued: str  # the record's time (RFC 3339)
    issued_on: str  # its date, as written
    certificate_number: str
    promise: str
    basis: tuple[str, ...]
    log_index: int
    digest: str
    label_url: str
    recalled: bool
    place_name: str | None

    @property
    def basis_labels(self) -> list[tuple[str, str, bool]]:
        return [(zh, en, key in self.basis) for key, (zh, en) in BASIS_LABELS.items()]


def label_url(session: Session, base_url: str, batch: Batch) -> str:
    """The batch's package-label QR URL (GS1 Digital Link with a GTIN, else its code)."""
    product = session.get(Product, batch.product_id)
    try:
        return qr.batch_url(base_url, product.gtin if product else None, batch.lot, batch.code)
    except InvalidInput:  # a lot outside the GS1 character set: label with the short code
        return qr.batch_url(base_url, None, batch.lot, batch.code)


def certificate_view(session: Session, base_url: str, code: str) -> CertificateView:
    """The 合格证 of a batch (id or code); NotFound if it has no certificate record."""
    batch = batch_service.get_batch(session, code)
    record = session.scalars(
        select(Record)
        .join(RecordBatch, RecordBatch.record_index == Record.log_index)
        .where(RecordBatch.batch_id == batch.id, Record.kind == "certificate")
        .where(Record.log_index < log_service.tree_size(session))
        .order_by(Record.log_index.desc())
        .limit(1)
    ).first()
    if record is None or record.payload is None:
        raise NotFound(f"batch {batch.code} has no 合格证 (certificate record)")
    document = json.loads(record.payload)
    product = session.get(Product, batch.product_id)
    producer = session.get(Organization, record.organization_id)
    assert product is not None and producer is not None
    origin = batch_service.batch_records(session, batch.id)[0]
    origin_doc = json.loads(origin.payload) if origin.payload else {}
    place = origin_doc.get("place") if isinstance(origin_doc.get("place"), dict) else {}
    return CertificateView(
        batch_code=batch.code,
        lot=batch.lot,
        product_zh=product.name_zh,
        product_en=product.name_en,
        gtin=product.gtin,
        producer_zh=producer.name_zh,
        producer_en=producer.name_en,
        producer_region=producer.region_code,
        quantity=document.get("quantity") or batch.quantity,
        unit=document.get("unit") or batch.unit,
        issued=document["time"],
        issued_on=epcis.local_date(document["time"]).isoformat(),
        certificate_number=document["certificate_number"],
        promise=document["promise"],
        basis=tuple(document["basis"]),
        log_index=record.log_index,
        digest=record.digest,
        label_url=label_url(session, base_url, batch),
        recalled=batch.recall_digest is not None,
        place_name=place.get("name") if place else None,
    )
