"""The registry as a GS1-Conformant resolver (GS1-Conformant resolver standard 1.1): what a
valid Digital Link resolves to, and the links it has, by GS1 Web Vocabulary link type.

A GTIN with its lot (``/01/{GTIN}/10/{lot}``, with or without a CPV ``/22/`` before the lot or
a serial ``/21/`` after it) resolves to the lot's batch. Its links: the batch page
(``gs1:pip``, the default link), its trace and the EPCIS events (``gs1:traceability``), and
its 承诺达标合格证 (``gs1:certificationInfo``, as a page and a PDF) when it has one. Every
other valid Digital Link names an item the registry does not hold: ``NotFound``.

The linkset is RFC 9264 §4.2 JSON (``application/linkset+json``), one context object
whose ``anchor`` is the Digital Link, link relation types as GS1 Web Vocabulary URIs
(resolver standard §6.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from registry.catalog.lookups import batch_by_gtin_and_lot
from registry.digital_link import GS1_VOCABULARY, DigitalLink
from registry.errors import NotFound
from registry.models import Batch, Product, Record, RecordBatch
from registry.transparency import log as log_service

PIP = "gs1:pip"
TRACEABILITY = "gs1:traceability"
CERTIFICATION_INFO = "gs1:certificationInfo"
DEFAULT_LINK = "gs1:defaultLink"
LINK_TYPES = (PIP, TRACEABILITY, CERTIFICATION_INFO)
"""The GS1 Web Vocabulary link types a batch can have here."""
LINKSET_MEDIA_TYPE = "application/linkset+json"
HREFLANG = ("zh", "en")  # every page is in both (``?lang=``), Chinese first


@dataclass(frozen=True)
class Link:
    """One target of a link type: where, in which media type; ``title_key`` names its title
    in the caller's catalogue table."""

    link_type: str  # a gs1: CURIE
    href: str
    media_type: str
    title_key: str

    @property
    def relation(self) -> str:
        """The link relation type as a URI (RFC 8288 §2.1.2): the GS1 Web Vocabulary term."""
        return GS1_VOCABULARY + self.link_type.removeprefix("gs1:")


@dataclass(frozen=True)
class Resolution:
    """What a Digital Link resolved to: the batch and its links, the default first."""

    anchor: str
    batch: Batch
    product: Product
    links: tuple[Link, ...] = field(default_factory=tuple)

    @property
    def default(self) -> Link:
        """The default link (``gs1:defaultLink``): the batch page."""
        return self.links[0]

    def targets(self, link_type: str) -> list[Link]:
        """The links of one link type (``gs1:defaultLink`` is the default's)."""
        if link_type == DEFAULT_LINK:
            return [self.default]
        return [link for link in self.links if link.link_type == link_type]

    def linkset_url(self) -> str:
        """Where this item's linkset is (resolver standard §6.5: ``linkType=linkset``)."""
        return f"{self.anchor}?linkType=linkset"

    def linkset(self, titles: dict[str, str]) -> dict[str, Any]:
        """The RFC 9264 linkset document; ``titles`` maps each ``title_key`` to its text."""
        context: dict[str, Any] = {
            "anchor": self.anchor,
            "description": f"{self.product.name_zh} {self.product.name_en} · {self.batch.lot}",
        }
        context[GS1_VOCABULARY + "defaultLink"] = [self._target(self.default, titles)]
        for link in self.links:
            context.setdefault(link.relation, []).append(self._target(link, titles))
        return {"linkset": [context]}

    @staticmethod
    def _target(link: Link, titles: dict[str, str]) -> dict[str, Any]:
        return {
            "href": link.href,
            "title": titles.get(link.title_key, link.title_key),
            "type": link.media_type,
            "hreflang": list(HREFLANG),
        }


def has_certificate(session: Session, batch: Batch) -> bool:
    """Whether a 合格证 record of the batch is inside the signed log."""
    size = log_service.tree_size(session)
    return bool(
        session.scalar(
            select(
                exists()
                .where(RecordBatch.batch_id == batch.id)
                .where(Record.log_index == RecordBatch.record_index)
                .where(Record.kind == "certificate", Record.log_index < size)
            )
        )
    )


def resolve(session: Session, link: DigitalLink, base_url: str) -> Resolution:
    """The batch a valid Digital Link names and its links; ``NotFound`` for an item the
    registry does not hold (an unknown GTIN or lot, a serial without a lot, a TPX, any
    other primary key)."""
    gtin, lot = link.value("01"), link.value("10")
    if link.primary_ai != "01":
        raise NotFound(f"the registry holds no item with ({link.primary_ai}) {link.primary_value}")
    assert gtin is not None
    if lot is None:
        raise NotFound(
            f"the registry resolves a GTIN with its lot (/01/{gtin}/10/{{lot}}); "
            f"{link.path} names no lot"
        )
    batch = batch_by_gtin_and_lot(session, gtin, lot)
    if batch is None:
        raise NotFound(f"no batch {lot!r} of GTIN {gtin}")
    product = session.get(Product, batch.product_id)
    assert product is not None
    base = base_url.rstrip("/")
    page = f"{base}/b/{batch.code}"
    links = [
        Link(PIP, page, "text/html", "batch"),
        Link(TRACEABILITY, f"{page}/trace", "text/html", "trace"),
        Link(
            TRACEABILITY,
            f"{base}/api/v1/export/epcis?batch={batch.code}",
            "application/ld+json",
            "epcis",
        ),
    ]
    if has_certificate(session, batch):
        links.append(Link(CERTIFICATION_INFO, f"{page}/certificate", "text/html", "certificate"))
        links.append(
            Link(CERTIFICATION_INFO, f"{page}/certificate.pdf", "application/pdf", "certificate")
        )
    return Resolution(f"{base}{link.path}", batch, product, tuple(links))
