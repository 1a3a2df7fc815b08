"""What the events of one export name, collected as they are built.

Each class identifier and location an event names is remembered, so that the document's
master data (EPCIS 2.0.1 §7.5, CBV 2.0 §10) lists exactly those, and another registry can
capture the document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from registry.exports.epcis.facts import BatchInfo, LoggedRecord, OrgInfo
from registry.exports.epcis.identifiers import class_uri, org_location_uri, region_uri
from registry.exports.epcis.values import number
from registry.exports.epcis.vocabulary import UNIT_CODES


def _no_lookup(ref: str) -> BatchInfo | None:
    return None


@dataclass
class EventNames:
    """The classes and locations of one export. ``batches`` maps batch refs to what the
    export needs to name them; ``lookup`` is asked for refs missing from it."""

    base_url: str
    batches: dict[str, BatchInfo]
    lookup: Callable[[str], BatchInfo | None] = _no_lookup
    classes_used: dict[str, BatchInfo] = field(default_factory=dict)
    locations_used: dict[str, OrgInfo | str] = field(default_factory=dict)
    # Prefixes of captured extension fields, for the document's @context.
    namespaces_used: dict[str, str] = field(default_factory=dict)

    def batch(self, ref: str) -> BatchInfo:
        """The batch of a ref; KeyError if the registry has none."""
        found = self.batches.get(ref)
        if found is None:
            found = self.lookup(ref)
            if found is None:
                raise KeyError(f"batch {ref} is not in the registry")
            self.batches[ref] = found
        return found

    def epc_class(self, ref: str) -> str:
        """The class-level identifier of a batch (``epcClass``), remembered for master data."""
        info = self.batch(ref)
        uri = class_uri(self.base_url, info)
        self.classes_used[uri] = info
        return uri

    def quantity(self, ref: str, amount: str | None, unit: str | None) -> dict[str, Any]:
        """An EPCIS 2.0 QuantityElement: class, quantity and UN/ECE ``uom`` when known."""
        element: dict[str, Any] = {"epcClass": self.epc_class(ref)}
        if amount is not None:
            element["quantity"] = number(amount)
            code = UNIT_CODES.get(unit or self.batch(ref).unit)
            if code is not None:
                element["uom"] = code
        return element

    def units(self, pairs: Iterable[tuple[str, str | None]]) -> dict[str, str]:
        """Units with no UN/ECE code, by class: the ``gr:units`` extension."""
        return {
            self.epc_class(ref): unit
            for ref, unit in pairs
            if unit is not None and unit not in UNIT_CODES
        }

    def read_point(self, record: LoggedRecord) -> str | None:
        """The ``readPoint`` of a record: its place's region, else its signer's."""
        place = record.document.get("place")
        region = place.get("region") if isinstance(place, dict) else None
        if region is None and record.org is not None:
            region = record.org.region
        if region is None:
            return None
        uri = region_uri(self.base_url, region)
        self.locations_used.setdefault(uri, region)
        return uri

    def biz_location(self, org: OrgInfo | None) -> str | None:
        """The ``bizLocation`` of a record: its signing organization, if it has one."""
        if org is None:
            return None
        uri = org_location_uri(self.base_url, org)
        self.locations_used.setdefault(uri, org)
        return uri
