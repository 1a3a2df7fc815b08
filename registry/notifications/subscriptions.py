"""Webhook subscriptions: an organization subscribes a URL to events; the secret is shown
once and kept sealed (``registry.notifications.signing``); the delivery log stays readable.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.errors import Conflict, InvalidInput, NotFound
from registry.models import Account, WebhookAttempt, WebhookDelivery, WebhookSubscription, utcnow
from registry.notifications.signing import seal_secret
from registry.settings import Mode

EVENTS = frozenset({"recall"})
"""The events one can subscribe to."""

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
"""How every webhook secret begins (so a leaked one is easy to recognize)."""

MAX_SUBSCRIPTIONS = 20
"""Live subscriptions per organization."""


def _check_url(url: str, mode: Mode) -> str:
    """http(s) with a host. In production: https only, and no loopback, private or
    link-local address literal (the registry must not be made to call its own network)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("a webhook URL is an http(s) URL with a host", field="url")
    if parts.username or parts.password:
        raise InvalidInput("a webhook URL must not carry credentials", field="url")
    if mode is Mode.PRODUCTION:
        if parts.scheme != "https":
            raise InvalidInput("webhook URLs must be https", field="url")
        host = parts.hostname
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            if host == "localhost" or host.endswith(".localhost"):
                raise InvalidInput("webhook URLs may not point at localhost", field="url") from None
        else:
            if not address.is_global:
                raise InvalidInput(
                    "webhook URLs may not point at a private or local address", field="url"
                )
    return url


@dataclass(frozen=True)
class NewSubscription:
    """A subscription just created, with its plain secret (shown this once)."""

    subscription: WebhookSubscription
    secret: str  # shown once


def create_subscription(
    session: Session,
    master_key: bytes,
    mode: Mode,
    account: Account,
    url: str,
    events: Sequence[str],
    now: datetime | None = None,
) -> NewSubscription:
    """Subscribe ``account``'s organization to ``events`` at ``url``."""
    url = _check_url(url, mode)
    unknown = sorted(set(events) - EVENTS)
    if unknown or not events:
        raise InvalidInput(
            f"events must be a non-empty list of {sorted(EVENTS)}; unknown: {unknown}",
            field="events",
        )
    live = session.scalar(
        select(func.count())
        .select_from(WebhookSubscription)
        .where(
            WebhookSubscription.organization_id == account.organization_id,
            WebhookSubscription.deleted_at.is_(None),
        )
    )
    if (live or 0) >= MAX_SUBSCRIPTIONS:
        raise Conflict(
            f"an organization has at most {MAX_SUBSCRIPTIONS} webhooks; delete one first",
            rule="too-many-webhooks",
        )
    secret = SECRET_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    subscription_id = uuid.uuid4()
    subscription = WebhookSubscription(
        id=subscription_id,
        organization_id=account.organization_id,
        url=url,
        events=sorted(set(events)),
        sealed_secret=seal_secret(secret, master_key, subscription_id),
        secret_prefix=secret[: len(SECRET_PREFIX) + 4],
        created_by=account.id,
        created_at=now or utcnow(),
    )
    session.add(subscription)
    session.flush()
    return NewSubscription(subscription, secret)


def list_subscriptions(session: Session, account: Account) -> list[WebhookSubscription]:
    """The live subscriptions of ``account``'s organization, oldest first."""
    return list(
        session.scalars(
            select(WebhookSubscription)
            .where(
                WebhookSubscription.organization_id == account.organization_id,
                WebhookSubscription.deleted_at.is_(None),
            )
            .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
        )
    )


def get_subscription(
    session: Session, account: Account, subscription_id: uuid.UUID, *, deleted_ok: bool = False
) -> WebhookSubscription:
    """One of ``account``'s organization's subscriptions (another's is "not found")."""
    subscription = session.get(WebhookSubscription, subscription_id)
    if (
        subscription is None
        or subscription.organization_id != account.organization_id
        or (subscription.deleted_at is not None and not deleted_ok)
    ):
        raise NotFound(f"no webhook {subscription_id}")
    return subscription


def delete_subscription(
    session: Session, account: Account, subscription_id: uuid.UUID, now: datetime | None = None
) -> None:
    """Stop sending to a subscription. Its delivery log stays; pending deliveries fail."""
    subscription = get_subscription(session, account, subscription_id)
    subscription.deleted_at = now or utcnow()
    session.flush()


def deliveries(
    session: Session, account: Account, subscription_id: uuid.UUID, limit: int = 100
) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
    """A subscription's delivery log, newest first, each with its attempts in order."""
    get_subscription(session, account, subscription_id, deleted_ok=True)
    rows = list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
            .limit(limit)
        )
    )
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {d.id: [] for d in rows}
    if rows:
        for attempt in session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return [(d, attempts[d.id]) for d in rows]
