"""Progress lines of ``registry bench``, on stderr so that stdout keeps only the results."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    """One progress line on stderr."""
    print(f"  … {message}", file=sys.stderr, flush=True)
