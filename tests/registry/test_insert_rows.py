"""``registry.db.insert_rows``: what ingestion writes through COPY on PostgreSQL (and an
executemany INSERT on SQLite) reads back exactly, awkward bytes and text included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, select
from sqlalchemy.exc import StatementError

from registry.db import insert_rows
from registry.models import LogNode, Record

RECORDS = cast(Table, Record.__table__)
LOG_NODES = cast(Table, LogNode.__table__)

# Every byte value, and the ones COPY's text format escapes, at the edges.
AWKWARD = b"\\\n\r\t\x00" + bytes(range(256)) + b"\\N\\.\n"


def _record(index: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "log_index": index,
        "digest": f"{index:064x}",
        "kind": "storage",
        "payload_type": "application/vnd.guarantee-registry.record+json",
        "payload": AWKWARD + index.to_bytes(4, "big"),
        "signatures": [{"keyid": 'k\\ey\t"1"\n', "sig": "签名 \\N \u2028"}],
        "leaf": bytes(32 - index % 32) + AWKWARD,
        "organization_id": None,
        "record_time": datetime(2026, 5, 1, 8, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8))),
        "logged_at": datetime(2026, 5, 1, 0, 0, 1, tzinfo=UTC),
        "corrects": None,
    }
    row.update(changes)
    return row


def _stored(engine: Engine, table: Table) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(select(table).order_by(*table.primary_key.columns))
        return [dict(row._mapping) for row in rows]


def test_rows_read_back_exactly(db: Engine) -> None:
    rows = [_record(i) for i in range(3)] + [_record(3, payload=None, corrects="ab" * 32)]
    nodes = [
        {"level": level, "idx": i, "hash": AWKWARD[i : i + 32]} for level in (0, 1) for i in (0, 7)
    ]
    with db.begin() as connection:
        insert_rows(connection, RECORDS, rows)
        insert_rows(connection, LOG_NODES, nodes)
        insert_rows(connection, LOG_NODES, [])  # nothing to do
    for row in rows:
        row["record_time"] = row["record_time"].astimezone(UTC)  # stored as UTC
    assert _stored(db, RECORDS) == rows
    assert _stored(db, LOG_NODES) == nodes


def test_rows_are_written_in_the_callers_transaction(db: Engine) -> None:
    with db.connect() as connection:
        with connection.begin() as transaction:
            insert_rows(connection, RECORDS, [_record(0)])
            transaction.rollback()
        assert connection.execute(select(RECORDS.c.log_index)).all() == []


def test_a_row_without_a_column_the_first_row_has_is_refused(db: Engine) -> None:
    partial = _record(1)
    del partial["corrects"]
    # COPY (PostgreSQL) looks the column up; the INSERT (SQLite) wants its bound value.
    with db.begin() as connection, pytest.raises((KeyError, StatementError)):
        insert_rows(connection, RECORDS, [_record(0), partial])
