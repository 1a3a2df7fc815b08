"""Offline receipts: a record's C2SP tlog-proof against the latest signed checkpoint.

A receipt is everything needed to show, without asking the registry again, that a record is
in the log: its leaf (in ``extra``), its index, the inclusion proof and the signed
checkpoint. Check it with ``registry.log.receipt.verify_tlog_proof`` and the log's vkey.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from registry.errors import NotFound
from registry.log import merkle
from registry.log.receipt import format_tlog_proof
from registry.models import Record
from registry.records.stored import record_by_digest
from registry.transparency import log as log_service


def find_record(session: Session, record_id: str) -> Record:
    """A record by log index (decimal) or by payload digest (hex SHA-256)."""
    if record_id.isascii() and record_id.isdigit():
        found = session.get(Record, int(record_id))
        if found is None:
            raise NotFound(f"no record at index {record_id}")
        return found
    return record_by_digest(session, record_id.lower())


def record_tlog_proof(session: Session, record: Record) -> str:
    """The tlog-proof text of ``record`` against the latest checkpoint."""
    checkpoint = log_service.latest_checkpoint(session)
    # The record and the checkpoint's nodes are committed together, so the record is always
    # inside the latest tree; one query reads the proof's nodes.
    reader = log_service.DatabaseNodeReader(session)
    hashes = merkle.inclusion_proof(record.log_index, checkpoint.size, reader)
    return format_tlog_proof(record.log_index, hashes, checkpoint.note, extra=record.leaf)


def tlog_proof(session: Session, record_id: str) -> tuple[Record, str]:
    """``find_record`` then ``record_tlog_proof``: ``(record, proof text)``."""
    record = find_record(session, record_id)
    return record, record_tlog_proof(session, record)
