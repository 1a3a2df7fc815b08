"""Lineage traces and the recall workflow.

A **trace** follows processing records from one batch: *backward* to everything it was made
from (its ancestors, down to the harvests), or *forward* to everything made from it (its
descendants, up to the packaged goods). It returns the batches with their distance from the
start, the lineage edges on the way and the records touching those batches, in four queries
whatever the graph's size (docs/performance.md, "Trace").

A **recall** is a signed ``recall`` record (docs/records.md, "Kinds and who signs them"):
ingestion marks the batch and every descendant with the recall's digest, which turns every
endorsement covering one of them ``recalled``. ``issue_recall`` signs one with the caller's
custodial key (the policy decides who may), ``recall_summaries`` lists them for the public,
and ``enqueue_recall_notifications`` writes the webhook deliveries for a recall into the
outbox, in the recall's own transaction. ``install_recall_notifications`` makes that happen
for a recall accepted through any path in sessions of one session factory.

The modules, by job:

- ``view``: the trace view model (``Trace``, ``TracedBatch``, the tree, the JSON form);
- ``queries``: the trace's statements, built once with bound parameters, and their rows;
- ``lineage``: ``trace`` itself;
- ``reach``: what a recall reaches, turns and who hears of it;
- ``summaries``: recalls as the public list shows them;
- ``notifications``: the recall outbox and its session hooks;
- ``recalls``: issuing a recall;
- ``subscriptions``: webhook subscriptions and delivery logs as the API shows them.
"""

from __future__ import annotations

from registry.trace.lineage import trace
from registry.trace.notifications import (
    enqueue_recall_notifications,
    install_recall_notifications,
    recall_deliverer,
)
from registry.trace.queries import MAX_DEPTH, organization_names
from registry.trace.reach import recall_audience
from registry.trace.recalls import RecallOutcome, issue_recall
from registry.trace.subscriptions import (
    delivery_log,
    subscribe,
    subscription_document,
    subscription_documents,
)
from registry.trace.summaries import (
    RecallListing,
    RecallSummary,
    recall_listing,
    recall_summaries,
)
from registry.trace.view import (
    DEFAULT_LIMIT,
    Direction,
    LineageNode,
    OrganizationName,
    Trace,
    TracedBatch,
    TraceEdge,
    TraceRecord,
    batch_document,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_DEPTH",
    "Direction",
    "LineageNode",
    "OrganizationName",
    "RecallListing",
    "RecallOutcome",
    "RecallSummary",
    "Trace",
    "TraceEdge",
    "TraceRecord",
    "TracedBatch",
    "batch_document",
    "delivery_log",
    "enqueue_recall_notifications",
    "install_recall_notifications",
    "issue_recall",
    "organization_names",
    "recall_audience",
    "recall_deliverer",
    "recall_listing",
    "recall_summaries",
    "subscribe",
    "subscription_document",
    "subscription_documents",
    "trace",
]
