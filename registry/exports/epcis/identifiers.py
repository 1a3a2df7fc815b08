"""The URIs an EPCIS export names things by, and reading them back on capture.

Batches are named at class level (the ``epcClass`` of an EPCIS 2.0 QuantityElement) by
their GS1 Digital Link URI (GS1 Digital Link 1.2, AI 01 + 10) or an LGTIN class URN (GS1 TDS
2.0 §6.3.2) when the product has a GTIN, else by their page in this registry; places by
GB/T 2260 region URIs; organizations by GLN (AI 414) or their registry URI; business
documents, substances and certificates by registry URIs. See the package docstring.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote, unquote, urlsplit

from registry.errors import InvalidInput
from registry.exports.epcis.facts import BatchInfo, OrgInfo
from registry.exports.epcis.vocabulary import GS1_RESOLVER
from registry.gs1 import digital_link_path, gtin_check_digit, normalize_gtin, validate_lot

_DIGITAL_LINK = re.compile(r"^https?://[^/?#]+(?:/[^?#]*)?/01/([0-9]{8,14})/10/([^/?#]+)")
_LGTIN = re.compile(r"^urn:epc:class:lgtin:([0-9]+)\.([0-9]+)\.(.+)$")
_REGION = re.compile(r"/regions/([1-8][0-9]{5})$")
_SGTIN = re.compile(r"^urn:epc:id:sgtin:([0-9]+)\.([0-9]+)\.(.+)$")
_SERIAL = re.compile(r"^https?://[^/?#]+(?:/[^?#]*)?/01/([0-9]{8,14})/21/([^/?#]+)")
_LOT_SERIAL = re.compile(
    r"^https?://[^/?#]+(?:/[^?#]*)?/01/([0-9]{8,14})/10/([^/?#]+)/21/([^/?#]+)"
)


def class_uri(base_url: str, batch: BatchInfo) -> str:
    """The class-level identifier of a batch (see the module docstring)."""
    if batch.gtin:
        try:
            return GS1_RESOLVER + digital_link_path(
                normalize_gtin(batch.gtin), validate_lot(batch.lot)
            )
        except InvalidInput:  # a lot outside the GS1 character set: named by its code
            pass
    return f"{base_url}/b/{batch.code}"


def region_uri(base_url: str, region: str) -> str:
    """The registry URI of a GB/T 2260 region code: a ``readPoint`` or location id."""
    return f"{base_url}/regions/{region}"


def region_of_uri(uri: object) -> str | None:
    """The GB/T 2260 region code of a region URI (``…/regions/150402``), else None."""
    match = _REGION.search(uri) if isinstance(uri, str) else None
    return match.group(1) if match else None


def org_uri(base_url: str, org_id: uuid.UUID | str) -> str:
    """The registry URI of an organization (its JSON API resource)."""
    return f"{base_url}/api/v1/organizations/{org_id}"


def org_location_uri(base_url: str, org: OrgInfo) -> str:
    """The ``bizLocation`` of an organization: its GLN as GS1 Digital Link (AI 414), else
    its registry URI."""
    return f"{GS1_RESOLVER}/414/{org.gln}" if org.gln else org_uri(base_url, org.id)


def record_uri(base_url: str, digest: str) -> str:
    """The ``eventID`` of a record's event: the record's URL in the JSON API."""
    return f"{base_url}/api/v1/records/{digest}"


def document_uri(base_url: str, kind: str, number_text: str) -> str:
    """A business document (waybill, lab report) named by its number, as a URI."""
    return f"{base_url}/documents/{kind}/{quote(number_text, safe='')}"


def substance_uri(base_url: str, substance: str) -> str:
    """The ``chemicalSubstance`` of a lab result: a registry URI of the substance's name."""
    return f"{base_url}/substances/{quote(substance, safe='')}"


def certificate_uri(base_url: str, code: str) -> str:
    """The ``certificationInfo`` of a 合格证 event: the batch's printable certificate page."""
    return f"{base_url}/b/{code}/certificate"


def text_of_uri(uri: str, marker: str) -> str:
    """A number or name written into one of our URIs (``…/documents/reports/QC-1``), or the
    URI itself when it is someone else's."""
    path = urlsplit(uri).path
    if marker in path:
        return unquote(path.rsplit("/", 1)[1])
    return uri


def gtin_and_lot(identifier: str) -> tuple[str, str] | None:
    """(GTIN-14, lot) of a GS1 Digital Link URI or an LGTIN class URN (GS1 TDS 2.0 §6.3.2),
    or None for another kind of identifier. Raises InvalidInput for a GTIN whose length or
    check digit is wrong, ValueError for an LGTIN whose digits do not make a GTIN."""
    match = _DIGITAL_LINK.match(identifier)
    if match is not None:
        return normalize_gtin(match.group(1)), unquote(match.group(2))
    match = _LGTIN.match(identifier)
    if match is not None:
        company, item = match.group(1), match.group(2)
        if len(company) + len(item) != 13 or not item:
            raise ValueError(f"{identifier}: an LGTIN needs 13 digits of company and item")
        body = item[0] + company + item[1:]
        return body + gtin_check_digit(body), unquote(match.group(3))
    return None


def gtin_and_serial(identifier: str) -> tuple[str, str] | None:
    """(GTIN-14, serial) of an instance that carries no lot: an SGTIN URN (GS1 TDS 2.0
    §6.3.1) or a GS1 Digital Link URI ``/01/{GTIN}/21/{serial}``; None for another kind of
    identifier. Raises InvalidInput or ValueError for a GTIN that is not one."""
    match = _SGTIN.match(identifier)
    if match is not None:
        company, item = match.group(1), match.group(2)
        if len(company) + len(item) != 13 or not item:
            raise ValueError(f"{identifier}: an SGTIN needs 13 digits of company and item")
        body = item[0] + company + item[1:]  # the indicator digit first (TDS 2.0 §7.1)
        return body + gtin_check_digit(body), unquote(match.group(3))
    match = _SERIAL.match(identifier)
    if match is not None:
        return normalize_gtin(match.group(1)), unquote(match.group(2))
    return None


def gtin_lot_and_serial(identifier: object) -> tuple[str, str, str] | None:
    """(GTIN-14, lot, serial) of a GS1 Digital Link URI ``/01/{GTIN}/10/{lot}/21/{serial}``,
    else None (also for a GTIN that is not one)."""
    match = _LOT_SERIAL.match(identifier) if isinstance(identifier, str) else None
    if match is None:
        return None
    try:
        gtin = normalize_gtin(match.group(1))
    except InvalidInput:
        return None
    return gtin, unquote(match.group(2)), unquote(match.group(3))
