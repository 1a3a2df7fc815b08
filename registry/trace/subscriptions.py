"""Webhook subscriptions to recall notifications, and their delivery logs, as the API shows
them (``/api/v1/webhooks``).

The subscriptions, the outbox and the deliverer are ``registry.notifications``; this module
only shapes what it returns. A subscription's secret is shown once, when it is created; a
delivery's ``X-Registry-Signature`` is ``sha256=<hex HMAC-SHA256(secret, body)>``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from registry.context import RegistryContext
from registry.models import Account, WebhookSubscription
from registry.notifications import subscriptions

__all__ = ["delivery_log", "subscribe", "subscription_document", "subscription_documents"]


def subscription_document(subscription: WebhookSubscription) -> dict[str, Any]:
    """A subscription's JSON form, without its secret."""
    return {
        "id": subscription.id,
        "organization_id": subscription.organization_id,
        "url": subscription.url,
        "events": subscription.events,
        "secret_prefix": subscription.secret_prefix,
        "created_at": subscription.created_at,
    }


def subscribe(
    session: Session, ctx: RegistryContext, account: Account, url: str, events: Sequence[str]
) -> dict[str, Any]:
    """Subscribe ``account``'s organization to ``events`` at ``url``: the new subscription's
    JSON form with its secret (shown this once)."""
    created = subscriptions.create_subscription(
        session, ctx.master_key, ctx.settings.mode, account, url, events
    )
    return subscription_document(created.subscription) | {"secret": created.secret}


def subscription_documents(session: Session, account: Account) -> list[dict[str, Any]]:
    """The live subscriptions of ``account``'s organization, oldest first."""
    return [subscription_document(s) for s in subscriptions.list_subscriptions(session, account)]


def delivery_log(
    session: Session, account: Account, subscription_id: uuid.UUID, limit: int
) -> list[dict[str, Any]]:
    """A subscription's deliveries, newest first, each with every attempt in order."""
    return [
        {
            "id": d.id,
            "event": d.event,
            "event_id": d.event_id,
            "status": d.status,
            "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at,
            "last_status_code": d.last_status_code,
            "last_error": d.last_error,
            "created_at": d.created_at,
            "delivered_at": d.delivered_at,
            "log": [
                {
                    "number": a.number,
                    "attempted_at": a.attempted_at,
                    "status_code": a.status_code,
                    "error": a.error,
                    "duration_ms": a.duration_ms,
                }
                for a in attempts
            ],
        }
        for d, attempts in subscriptions.deliveries(session, account, subscription_id, limit)
    ]
