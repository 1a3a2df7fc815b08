"""The webhook outbox: deliveries written in the transaction of the event they announce, so
the event and its notifications commit together or not at all.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import WebhookDelivery, WebhookSubscription

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
"""The states of a delivery: waiting for an attempt, answered with 2xx, given up."""


def enqueue(
    session: Session,
    event: str,
    event_id: str,
    organizations: Iterable[uuid.UUID],
    body: Callable[[uuid.UUID], dict[str, Any]],
    now: datetime,
) -> list[uuid.UUID]:
    """Write a delivery of ``event`` to every live subscription to it of ``organizations``,
    in the caller's transaction. ``body(organization_id)`` gives the event's content for
    that subscriber. A subscription already holding this event is skipped. Returns the
    organizations that got a delivery."""
    wanted = set(organizations)
    if not wanted:
        return []
    notified: list[uuid.UUID] = []
    for subscription in _awaiting(session, event, event_id, wanted):
        delivery_id = uuid.uuid4()
        document = {
            "id": str(delivery_id),
            "event": event,
            "created_at": now.isoformat(),
            "organization_id": str(subscription.organization_id),
            **body(subscription.organization_id),
        }
        session.add(
            WebhookDelivery(
                id=delivery_id,
                subscription_id=subscription.id,
                event=event,
                event_id=event_id,
                body=json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(),
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        if subscription.organization_id not in notified:
            notified.append(subscription.organization_id)
    session.flush()
    return notified


def _awaiting(
    session: Session, event: str, event_id: str, wanted: set[uuid.UUID]
) -> list[WebhookSubscription]:
    """The live subscriptions of ``wanted`` to ``event`` that hold no delivery of it yet."""
    subscriptions = [
        s
        for s in session.scalars(
            select(WebhookSubscription)
            .where(
                WebhookSubscription.organization_id.in_(wanted),
                WebhookSubscription.deleted_at.is_(None),
            )
            .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
        )
        if event in s.events
    ]
    if not subscriptions:
        return []
    existing = set(
        session.scalars(
            select(WebhookDelivery.subscription_id).where(
                WebhookDelivery.subscription_id.in_([s.id for s in subscriptions]),
                WebhookDelivery.event == event,
                WebhookDelivery.event_id == event_id,
            )
        )
    )
    return [s for s in subscriptions if s.id not in existing]
