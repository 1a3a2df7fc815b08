"""Ids of the demo dataset, derived from names (UUID v5, RFC 9562 §5.5), so that loading it
again finds the same rows and a second registry loaded with it shares its ids."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("5b0c2b8e-6f2a-4c1e-9a57-2f3d8e1c7a10")
"""The UUID v5 namespace of every demo id."""


def demo_id(name: str) -> uuid.UUID:
    """The demo row's id for ``name`` (``org:<key>``, ``product:<key>``)."""
    return uuid.uuid5(NAMESPACE, name)
