"""Backup and restore: a portable, backend-neutral dump of every table.

A backup is a directory: ``manifest.json`` (format, schema revision, table row counts, the
latest checkpoint's size and root) and one ``<table>.jsonl`` per table, rows in primary-key
order. Bytes are base64, times ISO 8601. Because it is logical rather than a file copy, a
SQLite registry can be restored into PostgreSQL and back.

What a backup does not hold: the master key. Custodial private keys and the server keys stay
sealed under it, so a restore needs the same ``REGISTRY_MASTER_KEY`` (or data-dir key file),
and checks that it opens the backup's sealed keys before it writes anything.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, LargeBinary, Table, func, insert, select, text
from sqlalchemy.types import JSON, Date, Uuid

from registry.crypto.keys import open_private_key
from registry.errors import ConfigurationError, Conflict, InvalidInput, VerificationError
from registry.models import Base, Checkpoint, LogState, ServerKey, SigningKey, UTCDateTime

FORMAT = "guarantee-registry-backup/1"
"""The manifest's ``format``: a restore refuses any other."""

BATCH = 1000
"""Rows per ``INSERT`` while restoring a table."""


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)  # parents before children


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _decoder(table: Table) -> dict[str, Any]:
    decoders: dict[str, Any] = {}
    for column in table.columns:
        kind = column.type
        if isinstance(kind, LargeBinary):
            decoders[column.name] = base64.b64decode
        elif isinstance(kind, UTCDateTime):
            decoders[column.name] = datetime.fromisoformat
        elif isinstance(kind, Date):
            decoders[column.name] = date.fromisoformat
        elif isinstance(kind, Uuid):
            decoders[column.name] = uuid.UUID
        elif isinstance(kind, JSON):
            decoders[column.name] = None  # already JSON
    return decoders


def _rows(engine: Engine, table: Table) -> Iterator[dict[str, Any]]:
    order = list(table.primary_key.columns)
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True).execute(
            select(table).order_by(*order)
        )
        for row in result.mappings():
            yield {k: _encode(v) for k, v in row.items()}


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None before the first migration."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def backup(engine: Engine, dest: Path) -> dict[str, Any]:
    """Write a backup of the whole registry into the new directory ``dest``."""
    if dest.exists() and any(dest.iterdir()):
        raise Conflict(f"{dest} exists and is not empty; choose a new directory")
    dest.mkdir(parents=True, exist_ok=True)
    counts = {}
    # One consistent snapshot on PostgreSQL; SQLite's WAL reader sees one too per statement,
    # and the log only ever grows, so a later table can at worst hold newer rows.
    for table in _tables():
        path = dest / f"{table.name}.jsonl"
        n = 0
        with path.open("w", encoding="utf-8") as handle:
            for row in _rows(engine, table):
                handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
                n += 1
            handle.flush()
            os.fsync(handle.fileno())
        counts[table.name] = n
    with engine.connect() as connection:
        latest = connection.execute(
            select(Checkpoint.size, Checkpoint.root_hash).order_by(Checkpoint.size.desc()).limit(1)
        ).first()
        origin = connection.execute(select(LogState.origin)).scalar()
    manifest = {
        "format": FORMAT,
        "schema_revision": schema_revision(engine),
        "created_at": datetime.now().astimezone().isoformat(),
        "tables": counts,
        # The log's name travels with it (it is in log_state too): a restore behind any base
        # URL serves the same checkpoints under the same name.
        "log_origin": origin,
        "checkpoint": (
            {"size": latest[0], "root": base64.b64encode(latest[1]).decode()} if latest else None
        ),
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def is_empty(engine: Engine) -> bool:
    """Whether no table of the registry holds a row (a restore's precondition)."""
    with engine.connect() as connection:
        for table in _tables():
            if connection.execute(select(func.count()).select_from(table)).scalar_one():
                return False
    return True


def read_manifest(src: Path) -> dict[str, Any]:
    """The manifest of the backup in ``src``; ``InvalidInput`` if it is not one."""
    manifest_path = src / "manifest.json"
    if not manifest_path.is_file():
        raise InvalidInput(f"{src} is not a registry backup (no manifest.json)")
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    except (ValueError, OSError) as exc:
        raise InvalidInput(f"{manifest_path} is not readable JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise InvalidInput(f"unknown backup format {found!r}")
    return manifest


def check_master_key(src: Path, master_key: bytes | None) -> None:
    """Refuse (``ConfigurationError``) to restore a backup whose sealed keys ``master_key``
    does not open, or which holds sealed keys when no master key is configured (None).

    Every server key is opened, and the first custodial key: a registry restored without
    its master key would start, then fail on its first signature."""
    sealed = [
        (f"server:{row['name']}", row["sealed_private_key"])
        for row in _backup_rows(src, ServerKey.__tablename__)
    ]
    for row in _backup_rows(src, SigningKey.__tablename__):
        if row.get("sealed_private_key"):
            sealed.append((row["key_id"], row["sealed_private_key"]))
            break
    if not sealed:
        return
    if master_key is None:
        raise ConfigurationError(
            "the backup's private keys are sealed under its registry's master key, and no "
            "master key is configured here: set REGISTRY_MASTER_KEY, or copy master.key from "
            "the backed-up registry's data dir, then restore again (nothing was written)"
        )
    for key_id, blob in sealed:
        try:
            open_private_key(base64.b64decode(blob), master_key, key_id)
        except (VerificationError, ValueError):
            raise ConfigurationError(
                f"the configured master key does not open the backup's sealed key {key_id!r}: "
                "restore with the backed-up registry's REGISTRY_MASTER_KEY (or master.key); "
                "nothing was written"
            ) from None


def _backup_rows(src: Path, table: str) -> Iterator[dict[str, Any]]:
    path = src / f"{table}.jsonl"
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if isinstance(row, dict):
                yield row


def restore(
    engine: Engine,
    src: Path,
    *,
    master_key: bytes | None,
    force: bool = False,
    log_origin: str | None = None,
) -> dict[str, Any]:
    """Load a backup into a migrated database; refuse a non-empty one unless ``force``,
    and one whose sealed keys ``master_key`` (the configured key, None if there is none)
    does not open (``check_master_key``). ``log_origin`` is the configured
    ``REGISTRY_LOG_ORIGIN``, if any: a backup of a log with another name is refused (the name
    comes with the log). Nothing is written when it refuses."""
    manifest = read_manifest(src)
    stored = manifest.get("log_origin")
    if log_origin and stored and stored != log_origin:
        raise ConfigurationError(
            f"REGISTRY_LOG_ORIGIN is {log_origin!r} but the backed-up log is named {stored!r}; "
            "a log keeps its name (unset REGISTRY_LOG_ORIGIN to restore it)"
        )
    check_master_key(src, master_key)
    current = schema_revision(engine)
    if manifest.get("schema_revision") != current:
        raise InvalidInput(
            f"the backup is of schema {manifest.get('schema_revision')}, the database is at "
            f"{current}: migrate the database to that revision first"
        )
    if not is_empty(engine):
        if not force:
            raise Conflict(
                "the database is not empty; restoring would mix two registries "
                "(pass --force to replace everything in it)"
            )
        _empty(engine)
    with engine.begin() as connection:
        for table in _tables():
            decoders = _decoder(table)
            path = src / f"{table.name}.jsonl"
            expected = manifest["tables"].get(table.name, 0)
            loaded = 0
            batch: list[dict[str, Any]] = []
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    row = json.loads(line)
                    for name, decode in decoders.items():
                        if decode is not None and row.get(name) is not None:
                            row[name] = decode(row[name])
                    batch.append(row)
                    if len(batch) >= BATCH:
                        connection.execute(insert(table), batch)
                        loaded += len(batch)
                        batch = []
            if batch:
                connection.execute(insert(table), batch)
                loaded += len(batch)
            if loaded != expected:
                raise InvalidInput(
                    f"{table.name}: {loaded} rows in the file, manifest says {expected}"
                )
        if engine.dialect.name == "postgresql":
            _reset_sequences(connection)
    return manifest


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(_tables()):
            connection.execute(table.delete())


def _reset_sequences(connection: Any) -> None:
    """Serial columns continue after the restored rows (rows were inserted with their ids)."""
    for table in _tables():
        columns = list(table.primary_key.columns)
        if (
            len(columns) == 1
            and columns[0].autoincrement is not False
            and columns[0].type.python_type is int
        ):
            name = columns[0].name
            # pg_get_serial_sequence is NULL for columns without a sequence; setval(NULL) is
            # then a no-op.
            # Names come from our own metadata, never from input.
            sequence = f"pg_get_serial_sequence('{table.name}', '{name}')"
            highest = f"COALESCE((SELECT max({name}) FROM {table.name}), 0) + 1"  # noqa: S608
            sql = f"SELECT setval({sequence}, {highest}, false)"
            connection.execute(text(sql))
