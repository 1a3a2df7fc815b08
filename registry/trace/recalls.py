"""Issuing a recall: a ``recall`` record signed with the caller's custodial key.

Who may recall is the signing policy's to decide (docs/records.md, "Kinds and who signs
them": an official of an authority whose jurisdiction covers the batch's origin, or its
producer). Ingestion (``registry.records``) marks the batch and every descendant;
this module reports what the recall reached and turned, and enqueues its webhook deliveries
in the same transaction (``registry.trace.notifications``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from registry.catalog.batches import get_batch
from registry.context import RegistryContext
from registry.errors import InvalidInput
from registry.models import Account, Record
from registry.records.ingest import sign_and_submit
from registry.records.schema import Kind, batch_ref
from registry.trace.notifications import enqueue_summary_notifications
from registry.trace.queries import organization_names
from registry.trace.reach import endorsements_turned
from registry.trace.summaries import RecallSummary, summarize
from registry.trace.view import OrganizationName, TracedBatch, batch_document

__all__ = ["RecallOutcome", "issue_recall"]


@dataclass(frozen=True)
class RecallOutcome:
    """What issuing a recall did: the record, what it reached, what it turned, who hears."""

    record: Record
    summary: RecallSummary
    endorsements_recalled: list[str]  # codes whose status this recall turned to recalled
    notified: list[uuid.UUID]  # organizations with a webhook delivery enqueued
    organizations: dict[uuid.UUID, OrganizationName]

    @property
    def reached(self) -> list[TracedBatch]:
        """The recalled batch (depth 0) and every descendant."""
        return self.summary.reached

    def document(self) -> dict[str, Any]:
        """The JSON form (``POST /api/v1/batches/{id}/recall``)."""
        return {
            "recall": self.summary.document(),
            "batches_reached": [batch_document(b, self.organizations) for b in self.reached],
            "endorsements_recalled": self.endorsements_recalled,
            "notified_organizations": [str(o) for o in self.notified],
        }


def issue_recall(
    session: Session,
    ctx: RegistryContext,
    account: Account,
    ident: str,
    reason: str,
    scope: str = "batch_and_descendants",
) -> RecallOutcome:
    """Sign a recall of a batch with ``account``'s custodial key and accept it.

    The signing policy decides who may (an official of an authority whose jurisdiction covers
    the batch's region, or the batch's producer); ingestion marks the batch and every
    descendant. The webhook deliveries are enqueued in the same transaction.
    """
    batch = get_batch(session, ident)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a recall needs a reason")
    accepted = sign_and_submit(
        session,
        ctx,
        account,
        {
            "kind": Kind.RECALL.value,
            "batches": [batch_ref(batch.product_id, batch.lot)],
            "reason": reason,
            "scope": scope,
        },
    )
    record = accepted.row(session)
    summary = summarize(session, [record])[0]
    turned = endorsements_turned(session, summary.endorsements, record.digest)
    notified = enqueue_summary_notifications(session, ctx, record, summary)
    orgs = organization_names(session, {b.origin_org_id for b in summary.reached})
    return RecallOutcome(record, summary, turned, notified, orgs)
