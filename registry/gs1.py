"""GS1 identifiers: GTIN check digits and Digital Link paths (GS1 General Specifications
§7.9 check digit; GS1 Digital Link URI syntax 1.2, AI (01) GTIN and AI (10) batch/lot).

A batch's package label carries its Digital Link URI when the product has a GTIN
(``registry.qr.batch_url``); the registry resolves ``/01/{gtin}/10/{lot}`` to the batch.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from registry.errors import InvalidInput

# GS1 AI encodable character set 82 (General Specifications figure 7.11-1).
_LOT_RE = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")


def gtin_check_digit(body: str) -> str:
    """GS1 General Specifications §7.9.1: the check digit for the digits before it.

    Weights 3, 1, 3, ... from the right; the check digit brings the weighted sum up to a
    multiple of 10. The same rule serves GTIN-8, -12, -13 and -14.
    """
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def normalize_gtin(text: str) -> str:
    """Return the GTIN-14 for a GTIN-8/12/13/14, or raise InvalidInput.

    A shorter GTIN is padded with leading zeros to 14 digits: AI (01) is a fixed-length
    14-digit field, and GS1 Digital Link writes it that way.
    """
    # isdigit() alone accepts '¹' and other digits that int() refuses.
    if not (text.isascii() and text.isdigit()) or len(text) not in (8, 12, 13, 14):
        raise InvalidInput(f"GTIN {text!r} must be 8, 12, 13 or 14 digits")
    if gtin_check_digit(text[:-1]) != text[-1]:
        raise InvalidInput(
            f"GTIN {text!r} has check digit {text[-1]}, expected {gtin_check_digit(text[:-1])}"
        )
    return text.zfill(14)


def validate_lot(lot: str) -> str:
    """Return ``lot`` if it is an AI (10) batch/lot value: 1-20 characters of GS1 AI
    encodable character set 82 (General Specifications §7.11); else ``InvalidInput``."""
    if not _LOT_RE.match(lot):
        raise InvalidInput(
            f"lot code {lot!r} must be 1-20 characters of the GS1 AI character set 82"
        )
    return lot


def digital_link_path(gtin14: str, lot: str) -> str:
    """The GS1 Digital Link 1.2 path ``/01/{gtin14}/10/{lot}``, the lot percent-encoded
    (RFC 3986 §2.1) so every character of set 82 survives in a URI path segment."""
    return f"/01/{gtin14}/10/{quote(lot, safe='')}"


def parse_digital_link(gtin: str, lot: str) -> tuple[str, str]:
    """Validate the (01) and (10) values of a Digital Link path; returns (GTIN-14, lot)."""
    return normalize_gtin(gtin), validate_lot(unquote(lot))
