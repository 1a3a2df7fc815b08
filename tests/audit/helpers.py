"""A real registry over HTTP for the auditor, and the tools to tamper with it.

``serve`` runs uvicorn in a background thread on 127.0.0.1 (a free port); the fixtures in
``conftest.py`` serve ``create_app(settings, engine)`` on SQLite and PostgreSQL with the demo
dataset (~77 records: key registrations, harvests, processing, a recall, endorsements).
``LiveRegistry`` records every HTTP request the server answers, so a test can tell what the
auditor fetched.

The tamper helpers change the database behind the server's back with plain SQL on the
engine, the way an operator with database access could.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from registry.audit import run_audit
from registry.context import RegistryContext
from registry.crypto.dsse import sign_envelope
from registry.crypto.keys import Signer, open_private_key
from registry.db import transaction
from registry.log import merkle
from registry.models import Base, Checkpoint, LogNode, Record, SigningKey
from registry.operations.publication import publish_script_releases, publish_witness_policy
from registry.records.schema import leaf_bytes
from registry.transparency import log as log_service
from tests.support import empty_tables
from web.scripts import page_scripts


def publish_as_serve_does(factory: sessionmaker[Session], ctx: RegistryContext) -> None:
    """What ``registry serve`` logs at start: the witness policy and the page's scripts
    (an auditor refuses a consumer page whose script is not a logged release)."""
    publish_witness_policy(factory, ctx)
    publish_script_releases(factory, ctx, page_scripts())


@dataclass(frozen=True)
class AuditRun:
    code: int
    out: str
    err: str


def audit(
    url: str,
    state: Path,
    *,
    vkey: str | None = None,
    witnesses: Sequence[str] = (),
    quiet: bool = True,
    recheck: int | str | None = None,
    recheck_seed: int | None = None,
) -> AuditRun:
    """Run ``registry audit`` in-process and capture what it prints."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_audit(
            url,
            state,
            vkey=vkey,
            witnesses=list(witnesses),
            quiet=quiet,
            recheck=recheck,
            recheck_seed=recheck_seed,
        )
    return AuditRun(code, out.getvalue(), err.getvalue())


@dataclass
class LiveRegistry:
    url: str
    app: FastAPI
    engine: Engine
    requests: list[str] = field(default_factory=list)

    @property
    def ctx(self) -> RegistryContext:
        ctx: RegistryContext = self.app.state.ctx
        return ctx

    @property
    def factory(self) -> sessionmaker[Session]:
        factory: sessionmaker[Session] = self.app.state.session_factory
        return factory

    def audit(self, state: Path, **options: Any) -> AuditRun:
        return audit(self.url, state, **options)

    def entry_requests(self) -> list[str]:
        return [r for r in self.requests if r.startswith("/log/entries")]

    # --- reading and tampering -----------------------------------------------------------

    def record(self, index: int) -> dict[str, Any]:
        with self.engine.connect() as connection:
            row = connection.execute(select(Record).where(Record.log_index == index)).one()
        return dict(row._mapping)

    def records(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(Record).order_by(Record.log_index)).all()
        return [dict(r._mapping) for r in rows]

    def update_record(self, index: int, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(Record).where(Record.log_index == index).values(**values))

    def delete_record(self, index: int) -> None:
        """Delete one record row, and the rows that reference it (lineage, batch links)."""
        records = Base.metadata.tables["records"]
        with self.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                for fk in table.foreign_keys:
                    if fk.column.table is records:
                        connection.execute(delete(table).where(fk.parent == index))
            connection.execute(delete(Record).where(Record.log_index == index))

    def custodial_signer(self, key_id: str) -> Signer:
        with self.engine.connect() as connection:
            sealed = connection.execute(
                select(SigningKey.sealed_private_key).where(SigningKey.key_id == key_id)
            ).scalar_one()
        assert sealed is not None, f"key {key_id} is not custodial"
        return Signer.from_raw(open_private_key(sealed, self.ctx.master_key, key_id))

    def resign(self, index: int, payload: bytes, signer: Signer) -> None:
        """Replace record ``index`` by ``payload`` signed by ``signer``, leaf included."""
        row = self.record(index)
        envelope = sign_envelope(row["payload_type"], payload, [signer])
        signatures = [
            {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()} for s in envelope.signatures
        ]
        logged_at = json.loads(row["leaf"])["logged_at"]
        digest = hashlib.sha256(payload).hexdigest()
        self.update_record(
            index,
            payload=payload,
            digest=digest,
            signatures=signatures,
            leaf=leaf_bytes(row["kind"], row["payload_type"], digest, signatures, logged_at),
        )

    def rebuild_log(self) -> None:
        """Recompute the Merkle tree from the (tampered) leaves and sign a fresh checkpoint
        with the real log key: what a dishonest operator would do to cover tampering."""
        with self.engine.connect() as connection:
            leaves = connection.execute(select(Record.leaf).order_by(Record.log_index)).scalars()
            hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
        nodes = merkle.append_many(0, hashes, merkle.MemoryNodeStore())
        with transaction(self.factory) as session:
            session.execute(delete(LogNode))
            session.execute(delete(Checkpoint))
            session.execute(
                insert(LogNode), [{"level": lvl, "idx": idx, "hash": h} for lvl, idx, h in nodes]
            )
            log_service.publish_checkpoint(session, self.ctx, len(hashes))

    def set_checkpoint_note(self, note: str) -> None:
        with transaction(self.factory) as session:
            latest = log_service.latest_checkpoint(session)
            latest.note = note

    def checkpoint_note(self) -> str:
        with transaction(self.factory) as session:
            return log_service.latest_checkpoint(session).note


def snapshot_tables(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as connection:
        return {
            table.name: [dict(row._mapping) for row in connection.execute(select(table))]
            for table in Base.metadata.sorted_tables
        }


def restore_tables(engine: Engine, snapshot: dict[str, list[dict[str, Any]]]) -> None:
    empty_tables(engine, restart_identity=False)
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            if snapshot[table.name]:
                connection.execute(insert(table), snapshot[table.name])
