"""Short public codes for endorsements and batches: ``/E/{code}`` and ``/B/{code}``.

Alphabet: Crockford base32 (no I, L, O, U), upper case, so a code read off a screen or typed
on a phone is hard to get wrong, and so an upper-case URL fits QR alphanumeric mode. The last
character is a Luhn mod 32 check character: it catches every single mistyped character and
every swap of two adjacent characters except 0 <-> Z (Luhn mod N's one blind spot).
"""

from __future__ import annotations

import secrets

from registry.errors import InvalidInput

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford base32 symbols in value order (www.crockford.com/base32.html)."""

_VALUE = {c: i for i, c in enumerate(ALPHABET)}
# Crockford's decoding of look-alikes: a viewer who types O or I or L still gets there.
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
BODY_LENGTH = 8
"""Random characters before the check character: 40 random bits, hard to guess."""


def check_character(body: str) -> str:
    """The Luhn mod N check character (N = 32) of ``body``: from the right, every second
    value doubled and its base-32 digits summed; the check makes the total a multiple of N."""
    factor = 2
    total = 0
    n = len(ALPHABET)
    for char in reversed(body):
        addend = factor * _VALUE[char]
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def new_code(length: int = BODY_LENGTH) -> str:
    """A fresh random code: ``length`` characters from ``secrets``, then the check character."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return body + check_character(body)


def normalize_code(text: str) -> str:
    """Upper-case, drop separators, map look-alikes; raise InvalidInput if malformed."""
    code = text.strip().upper().replace("-", "").replace(" ", "").translate(_ALIASES)
    if not 8 <= len(code) <= 11 or any(c not in _VALUE for c in code):
        raise InvalidInput(f"{text!r} is not a registry code (8-11 letters and digits)")
    if check_character(code[:-1]) != code[-1]:
        raise InvalidInput(
            f"{text!r}: the check character does not match; is a character mistyped?"
        )
    return code
