"""Reads of endorsements by code for the public pages: whether a code exists, and which
codes a mistyped one probably meant.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.codes import ALPHABET, check_character
from registry.models import Endorsement


def clean_code(text: str) -> str:
    """``text`` as ``normalize_code`` reads it, without checking it: upper case, no
    separators, Crockford's look-alikes mapped (O to 0, I and L to 1)."""
    aliases = str.maketrans({"O": "0", "I": "1", "L": "1"})
    return text.strip().upper().replace("-", "").replace(" ", "").translate(aliases)


def looks_like_code(text: str) -> bool:
    """Whether ``text`` has a code's length and alphabet (its check character aside)."""
    cleaned = clean_code(text)
    return 8 <= len(cleaned) <= 11 and all(c in ALPHABET for c in cleaned)


def code_candidates(typed: str) -> list[str]:
    """Well-formed codes one typing slip away from ``typed``: one character changed, or two
    neighbours swapped. The Luhn mod 32 check character catches these slips (all but a
    swap of 0 and Z), so for a code with a bad check character this is the short list of
    what was meant: about a dozen codes, one query."""
    code = clean_code(typed)
    if not looks_like_code(code):
        return []
    found: set[str] = set()
    body, check = code[:-1], code[-1]
    found.add(body + check_character(body))  # the check character itself mistyped
    for i in range(len(body)):
        for char in ALPHABET:
            if char != body[i]:
                changed = body[:i] + char + body[i + 1 :]
                if check_character(changed) == check:
                    found.add(changed + check)
    for i in range(len(code) - 1):
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        if swapped != code and check_character(swapped[:-1]) == swapped[-1]:
            found.add(swapped)
    found.discard(code)
    return sorted(found)


def suggest_endorsements(session: Session, typed: str) -> list[str]:
    """Endorsement codes that ``typed`` probably meant (one query)."""
    candidates = code_candidates(typed)
    if not candidates:
        return []
    return sorted(session.scalars(select(Endorsement.code).where(Endorsement.code.in_(candidates))))


def endorsement_exists(session: Session, code: str) -> bool:
    """Whether an endorsement has the normalized ``code``."""
    return session.scalar(select(Endorsement.id).where(Endorsement.code == code)) is not None
