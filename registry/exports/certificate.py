"""The data of a batch's printable 承诺达标合格证 (producer's compliance certificate): from
the batch's newest certificate record inside the log (docs/records.md, ``certificate``).

The page (``web``) and the PDF (``registry.exports.certificate_pdf``) print this view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import places, qr, units
from registry.catalog import batches as batch_service
from registry.errors import InvalidInput, NotFound
from registry.exports.epcis.values import local_date
from registry.i18n import N_, gettext_for
from registry.models import Account, Batch, Organization, Product, Record, RecordBatch, SigningKey
from registry.transparency import log as log_service

BASIS_LABELS = {
    "commissioned_test": N_("委托检测合格"),
    "self_test": N_("自我检测合格"),
    "quality_control": N_("内部质量控制合格"),
    "self_commitment": N_("自我承诺"),
}
"""The template's tick boxes, in the national style's order (委托检测, 自我检测, 内部质量控制,
自我承诺): basis key → label (a catalogue message)."""


@dataclass(frozen=True)
class CertificateSigner:
    """Who signed the certificate record: the key's holder (when the registry knows the
    account) and the key id the signature verifies under."""

    key_id: str
    name_zh: str | None
    name_en: str | None
    username: str | None


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
    origin_region: str  # the harvest's region code (the producer's, without a harvest place)
    contact_phone: str | None
    signers: tuple[CertificateSigner, ...]

    def origin(self, lang: str = "zh") -> str:
        """产地 as a place name: the region's full name (GB/T 2260, ``registry.places``) and
        the harvest's place name (``内蒙古自治区赤峰市敖汉旗 四家子镇``); the code itself only
        when it names no division."""
        region = places.region_name(self.origin_region, lang) or self.origin_region
        if self.place_name and self.place_name not in region:
            return f"{region} {self.place_name}" if lang.startswith("zh") else region
        return region

    def quantity_text(self, lang: str = "zh") -> str:
        """The quantity with its unit in words (``2800 袋``, ``2,800 bags``)."""
        return units.format_quantity(self.quantity, self.unit, lang)

    @property
    def basis_labels(self) -> list[tuple[str, str, bool]]:
        """Every tick box of the template: (Chinese, English, ticked)."""
        zh, en = gettext_for("zh"), gettext_for("en")
        return [(zh(label), en(label), key in self.basis) for key, label in BASIS_LABELS.items()]


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
        issued_on=local_date(document["time"]).isoformat(),
        certificate_number=document["certificate_number"],
        promise=document["promise"],
        basis=tuple(document["basis"]),
        log_index=record.log_index,
        digest=record.digest,
        label_url=label_url(session, base_url, batch),
        recalled=batch.recall_digest is not None,
        place_name=place.get("name") if place else None,
        origin_region=str((place or {}).get("region") or producer.region_code),
        contact_phone=document.get("contact_phone"),
        signers=tuple(_signers(session, record)),
    )


def _signers(session: Session, record: Record) -> list[CertificateSigner]:
    """The certificate record's signatures as who made them: each key id, with its account's
    name where the registry holds the key's registration."""
    found = []
    for signature in record.signatures:
        key_id = str(signature.get("keyid", ""))
        key = session.get(SigningKey, key_id)
        account = session.get(Account, key.account_id) if key and key.account_id else None
        found.append(
            CertificateSigner(
                key_id=key_id,
                name_zh=account.name_zh if account else None,
                name_en=(account.name_en or None) if account else None,
                username=account.username if account else None,
            )
        )
    return found
