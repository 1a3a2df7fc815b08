"""Opaque cursors: base64url of the last row's sort key."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from registry.errors import InvalidInput


def encode(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode(cursor: str | None) -> Any:
    if cursor is None:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise InvalidInput("cursor is not one this API issued") from None


def decode_int(cursor: str | None) -> int | None:
    value = decode(cursor)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise InvalidInput("cursor is not one this API issued")
    return value


def decode_uuid(cursor: str | None) -> uuid.UUID | None:
    value = decode(cursor)
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput("cursor is not one this API issued") from None


def decode_index_and_id(cursor: str | None) -> tuple[int, uuid.UUID] | None:
    value = decode(cursor)
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2):
        raise InvalidInput("cursor is not one this API issued")
    index = decode_int(encode(value[0]))
    ident = decode_uuid(encode(value[1]))
    assert index is not None and ident is not None
    return index, ident
