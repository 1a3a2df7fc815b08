"""Recall notifications: a webhook delivery of every accepted recall to its audience, written
to the outbox in the recall's own transaction.

``install_recall_notifications`` hooks a session factory so that a recall accepted through any
path (client-signed envelope, custodial draft, ``registry.trace.recalls.issue_recall``) has its
deliveries enqueued before its transaction commits; the deliverer
(``registry.notifications.delivery.WebhookDeliverer``) sends them after the commit. Ingestion notes
the recalls a transaction accepted under ``ACCEPTED_RECALLS`` in ``Session.info``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from registry.context import RegistryContext
from registry.errors import InvalidInput
from registry.models import Record, utcnow
from registry.notifications import delivery as webhook_delivery
from registry.notifications import outbox as webhook_outbox
from registry.records.ingest import ACCEPTED_RECALLS
from registry.records.schema import Kind
from registry.trace.reach import recall_audience
from registry.trace.summaries import RecallSummary, summarize

__all__ = [
    "enqueue_recall_notifications",
    "enqueue_summary_notifications",
    "install_recall_notifications",
    "recall_deliverer",
]

_PENDING = ACCEPTED_RECALLS  # log indices of recalls this transaction accepted
_NOTIFIED = "registry.trace.notified_recalls"
_WAKE = "registry.trace.wake"


def enqueue_recall_notifications(
    session: Session, ctx: RegistryContext, record: Record
) -> list[uuid.UUID]:
    """Write a webhook delivery of ``record`` (a recall) for every subscribed organization in
    its audience, in the caller's transaction (the outbox). Idempotent per recall and
    subscription. Returns the organizations notified."""
    if record.kind != Kind.RECALL.value:
        raise InvalidInput(f"record {record.log_index} is not a recall")
    return enqueue_summary_notifications(session, ctx, record, summarize(session, [record])[0])


def enqueue_summary_notifications(
    session: Session, ctx: RegistryContext, record: Record, summary: RecallSummary
) -> list[uuid.UUID]:
    """``enqueue_recall_notifications`` for a recall already summarized as ``summary``."""
    audience = recall_audience(session, summary.reached, summary.endorsements)
    recall_doc = summary.document()
    recall_doc["url"] = f"{ctx.settings.base_url}/recalls"

    def body(subscriber: uuid.UUID) -> dict[str, Any]:
        yours = sorted(b.code for b in summary.reached if b.origin_org_id == subscriber)
        return {"recall": recall_doc, "your_batches": yours}

    # Real time, not ctx.clock: the deliverer schedules by the wall clock.
    notified = webhook_outbox.enqueue(session, "recall", record.digest, audience, body, utcnow())
    session.info.setdefault(_NOTIFIED, set()).add(record.log_index)
    return notified


def install_recall_notifications(
    factory: sessionmaker[Session],
    ctx: RegistryContext,
    on_commit: Callable[[], None] | None = None,
) -> None:
    """Enqueue webhook deliveries for every recall accepted in a session of ``factory``,
    before its transaction commits (whatever path accepted it), and call ``on_commit`` after
    a commit that enqueued some (to wake the deliverer)."""

    def enqueue(session: Session) -> None:
        pending = session.info.pop(_PENDING, [])
        done: set[int] = session.info.get(_NOTIFIED, set())
        for index in pending:
            if index in done:
                continue
            record = session.get(Record, index)
            if record is not None:  # gone if a savepoint holding it was rolled back
                enqueue_recall_notifications(session, ctx, record)
        if session.info.get(_NOTIFIED):
            session.info[_WAKE] = True

    def committed(session: Session) -> None:
        session.info.pop(_NOTIFIED, None)
        if session.info.pop(_WAKE, False) and on_commit is not None:
            on_commit()

    def rolled_back(session: Session) -> None:
        for key in (_PENDING, _NOTIFIED, _WAKE):
            session.info.pop(key, None)

    event.listen(factory, "before_commit", enqueue)
    event.listen(factory, "after_commit", committed)
    event.listen(factory, "after_rollback", rolled_back)


def recall_deliverer(
    factory: sessionmaker[Session], ctx: RegistryContext
) -> webhook_delivery.WebhookDeliverer:
    """A webhook deliverer for sessions of ``factory``, woken after every commit that enqueued
    recall notifications (``install_recall_notifications``). Not started yet."""
    deliverer = webhook_delivery.WebhookDeliverer(factory, ctx.master_key)
    install_recall_notifications(factory, ctx, on_commit=deliverer.wake)
    return deliverer
