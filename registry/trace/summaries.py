"""Recalls as the public sees them: what was recalled, why, by whom, and what it reached.

A recall is a signed ``recall`` record (docs/records.md, "Kinds and who signs them"). The
public list (``GET /api/v1/recalls``, the ``/recalls`` page) and a recall's webhook body are
built from a ``RecallSummary``: a few queries per page, whatever its length.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import Account, Batch, Product, Record, RecordBatch, SigningKey
from registry.records.schema import Kind
from registry.trace.queries import organization_names
from registry.trace.reach import reach_per_recall
from registry.trace.view import OrganizationName, TracedBatch

__all__ = ["RecallListing", "RecallSummary", "recall_listing", "recall_summaries", "summarize"]


@dataclass
class RecallSummary:
    """One recall as the public list shows it."""

    index: int
    digest: str
    time: datetime
    logged_at: datetime
    reason: str | None
    scope: str | None
    organization: OrganizationName | None
    signed_by: dict[str, str] | None  # the key holder: name and title
    batches: list[dict[str, Any]]  # the batches the record names
    reached: list[TracedBatch] = field(default_factory=list)  # named batches, descendants
    endorsements: list[str] = field(default_factory=list)  # covering a reached batch

    @property
    def descendants_reached(self) -> int:
        """How many batches the recall reached beyond those it names."""
        return len(self.reached) - len(self.batches)

    def document(self) -> dict[str, Any]:
        """The JSON form (``GET /api/v1/recalls``, a recall's webhook body)."""
        org = self.organization
        return {
            "index": self.index,
            "digest": self.digest,
            "time": self.time.isoformat(),
            "logged_at": self.logged_at.isoformat(),
            "reason": self.reason,
            "scope": self.scope,
            "organization": (
                {
                    "id": str(org.id),
                    "kind": org.kind,
                    "name_zh": org.name_zh,
                    "name_en": org.name_en,
                }
                if org
                else None
            ),
            "signed_by": self.signed_by,
            "batches": self.batches,
            "batches_reached": len(self.reached),
            "descendants_reached": self.descendants_reached,
            "endorsements": self.endorsements,
        }


def recall_summaries(
    session: Session, limit: int = 50, before_index: int | None = None
) -> list[RecallSummary]:
    """Recall records, newest first, with what each reached. A few queries per page."""
    query = select(Record).where(Record.kind == Kind.RECALL.value)
    if before_index is not None:
        query = query.where(Record.log_index < before_index)
    return summarize(
        session, list(session.scalars(query.order_by(Record.log_index.desc()).limit(limit)))
    )


@dataclass(frozen=True)
class RecallListing:
    """A page of the public recall list: the summaries' JSON forms, newest first, and the log
    index to list before for the next page (``None``: this is the last)."""

    items: list[dict[str, Any]]
    next_before: int | None


def recall_listing(session: Session, limit: int, before_index: int | None) -> RecallListing:
    """At most ``limit`` recalls logged before ``before_index`` (all if ``None``), newest
    first, and where the next page starts."""
    summaries = recall_summaries(session, limit=limit + 1, before_index=before_index)
    more = len(summaries) > limit
    summaries = summaries[:limit]
    return RecallListing(
        items=[s.document() for s in summaries],
        next_before=summaries[-1].index if more else None,
    )


def summarize(session: Session, records: Sequence[Record]) -> list[RecallSummary]:
    """The summaries of the recall ``records``, in their order."""
    if not records:
        return []
    named, seeds = _named_batches(session, [r.log_index for r in records])
    reached, endorsements = reach_per_recall(session, seeds)
    orgs = organization_names(session, {r.organization_id for r in records if r.organization_id})
    signers = _key_holders(session, [r.signatures[0]["keyid"] for r in records if r.signatures])
    summaries = []
    for record in records:
        document = json.loads(record.payload) if record.payload is not None else {}
        keyid = record.signatures[0]["keyid"] if record.signatures else None
        summaries.append(
            RecallSummary(
                index=record.log_index,
                digest=record.digest,
                time=record.record_time,
                logged_at=record.logged_at,
                reason=document.get("reason"),
                scope=document.get("scope", "batch_and_descendants") if document else None,
                organization=orgs.get(record.organization_id) if record.organization_id else None,
                signed_by=signers.get(keyid) if keyid else None,
                batches=named[record.log_index],
                reached=reached.get(record.log_index, []),
                endorsements=endorsements.get(record.log_index, []),
            )
        )
    return summaries


def _named_batches(
    session: Session, indexes: Sequence[int]
) -> tuple[dict[int, list[dict[str, Any]]], dict[int, list[uuid.UUID]]]:
    """Per recall record (by log index): the batches it names, as the list shows them, and
    their ids (the seeds of its reach)."""
    named: dict[int, list[dict[str, Any]]] = {i: [] for i in indexes}
    seeds: dict[int, list[uuid.UUID]] = {i: [] for i in indexes}
    for index, batch_id, code, lot, product_id, name_zh, name_en in session.execute(
        select(
            RecordBatch.record_index,
            Batch.id,
            Batch.code,
            Batch.lot,
            Product.id,
            Product.name_zh,
            Product.name_en,
        )
        .join(Batch, Batch.id == RecordBatch.batch_id)
        .join(Product, Product.id == Batch.product_id)
        .where(RecordBatch.record_index.in_(indexes))
        .order_by(RecordBatch.record_index, Batch.code)
    ):
        seeds[index].append(batch_id)
        named[index].append(
            {
                "id": str(batch_id),
                "code": code,
                "lot": lot,
                "product": {"id": str(product_id), "name_zh": name_zh, "name_en": name_en},
            }
        )
    return named, seeds


def _key_holders(session: Session, key_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """The holders of the signing keys ``key_ids``: their names, titles and role, by key id."""
    if not key_ids:
        return {}
    rows = session.execute(
        select(
            SigningKey.key_id,
            Account.username,
            Account.name_zh,
            Account.name_en,
            Account.title_zh,
            Account.title_en,
            Account.role,
        )
        .join(Account, Account.id == SigningKey.account_id)
        .where(SigningKey.key_id.in_(set(key_ids)))
    )
    return {
        key_id: {
            "username": username,
            "name_zh": name_zh,
            "name_en": name_en,
            "title_zh": title_zh,
            "title_en": title_en,
            "role": role.value,
        }
        for key_id, username, name_zh, name_en, title_zh, title_en, role in rows
    }
