"""Webhooks: organizations subscribe a URL to events (``recall``); the registry POSTs each
event to it, signed, retrying with exponential backoff, and keeps a delivery log.

* **Subscriptions** belong to an organization. The secret is 32 random bytes shown once, at
  creation; at rest it is sealed with AES-256-GCM under the registry's master key, the
  subscription id being authenticated data (so a sealed secret copied onto another row does
  not open).
* **Outbox.** ``enqueue`` writes one ``webhook_deliveries`` row per subscription in the
  caller's transaction: the event and its notifications commit together or not at all. The
  body is fixed then, so every attempt sends (and signs) the same bytes.
* **Delivery.** A ``WebhookDeliverer`` thread claims due deliveries in a short transaction (a
  lease in ``locked_until``; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers
  never send one delivery twice at once), POSTs them with no transaction open, then records
  the attempt. A 2xx answer delivers; anything else is retried after 1 s, 2 s, 4 s, …
  (capped) until ``max_attempts``, then the delivery is ``failed``.
* **Signature.** ``X-Registry-Signature: sha256=<hex HMAC-SHA256(secret, body)>`` over the
  exact body bytes, with ``X-Registry-Event`` and ``X-Registry-Delivery`` (the delivery id,
  the same on every retry: receivers deduplicate on it). ``verify_signature`` is what a
  receiver runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from registry.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    VerificationError,
)
from registry.models import (
    Account,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
    utcnow,
)
from registry.settings import Mode

__all__ = [
    "EVENTS",
    "RetryPolicy",
    "WebhookDeliverer",
    "create_subscription",
    "delete_subscription",
    "deliver_due",
    "deliveries",
    "enqueue",
    "list_subscriptions",
    "open_secret",
    "seal_secret",
    "signature_header",
    "verify_signature",
]

log = logging.getLogger(__name__)

EVENTS = frozenset({"recall"})
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
MAX_SUBSCRIPTIONS = 20
"""Live subscriptions per organization."""

SIGNATURE_HEADER = "X-Registry-Signature"
EVENT_HEADER = "X-Registry-Event"
DELIVERY_HEADER = "X-Registry-Delivery"
USER_AGENT = "guarantee-registry-webhooks/1"

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

_SEAL_VERSION = b"\x01"
_SEAL_AAD_PREFIX = b"guarantee-registry/webhook-secret/v1\n"
_NONCE_SIZE = 12


# --- secrets at rest -------------------------------------------------------------------------


def _check_master_key(master_key: bytes) -> None:
    if len(master_key) != 32:
        raise ConfigurationError(f"the master key must be 32 bytes, got {len(master_key)}")


def seal_secret(secret: str, master_key: bytes, subscription_id: uuid.UUID) -> bytes:
    """``0x01 || nonce(12) || AES-256-GCM(secret) || tag(16)``, bound to the subscription."""
    _check_master_key(master_key)
    nonce = os.urandom(_NONCE_SIZE)
    aad = _SEAL_AAD_PREFIX + str(subscription_id).encode()
    return _SEAL_VERSION + nonce + AESGCM(master_key).encrypt(nonce, secret.encode(), aad)


def open_secret(blob: bytes, master_key: bytes, subscription_id: uuid.UUID) -> str:
    """Open a sealed secret; ``VerificationError`` if it is not authentic."""
    _check_master_key(master_key)
    if len(blob) < 1 + _NONCE_SIZE + 16 or blob[:1] != _SEAL_VERSION:
        raise VerificationError("sealed webhook secret has the wrong length or version")
    aad = _SEAL_AAD_PREFIX + str(subscription_id).encode()
    try:
        plain = AESGCM(master_key).decrypt(blob[1 : 1 + _NONCE_SIZE], blob[1 + _NONCE_SIZE :], aad)
    except InvalidTag:
        raise VerificationError(
            "sealed webhook secret does not open: wrong master key, wrong subscription or tampered"
        ) from None
    return plain.decode()


# --- signatures ------------------------------------------------------------------------------


def signature_header(secret: str, body: bytes) -> str:
    """The ``X-Registry-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the body,
    keyed with the secret's UTF-8 bytes (the whole ``whsec_…`` string)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> None:
    """What a receiver runs: raise ``VerificationError`` unless ``header`` signs ``body``."""
    if not header or not header.startswith("sha256="):
        raise VerificationError(f"missing or malformed {SIGNATURE_HEADER} header")
    if not hmac.compare_digest(signature_header(secret, body), header):
        raise VerificationError("webhook signature does not match the body")


# --- subscriptions ---------------------------------------------------------------------------


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


# --- the outbox ------------------------------------------------------------------------------


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
    notified: list[uuid.UUID] = []
    for subscription in subscriptions:
        if subscription.id in existing:
            continue
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


# --- delivery --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: the n-th failed attempt waits ``base * 2**(n-1)`` seconds, at
    most ``cap``; after ``max_attempts`` attempts the delivery has failed."""

    base: float = 1.0
    cap: float = 300.0
    max_attempts: int = 8
    lease: float = 60.0  # how long a claimed delivery stays claimed (> request timeout)

    def delay(self, attempt: int) -> float:
        return float(min(self.cap, self.base * 2 ** max(attempt - 1, 0)))


@dataclass(frozen=True)
class _Claim:
    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    event: str
    body: bytes
    number: int  # this attempt's number, from 1
    url: str
    sealed_secret: bytes
    live: bool


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _claim(
    factory: sessionmaker[Session], now: datetime, retry: RetryPolicy, batch: int
) -> list[_Claim]:
    with factory() as session, session.begin():
        rows = session.execute(
            select(WebhookDelivery, WebhookSubscription)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at <= now,
                or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until <= now),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(batch)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        ).all()
        claims = []
        for delivery, subscription in rows:
            delivery.locked_until = now + timedelta(seconds=retry.lease)
            claims.append(
                _Claim(
                    delivery.id,
                    subscription.id,
                    delivery.event,
                    delivery.body,
                    delivery.attempts + 1,
                    subscription.url,
                    subscription.sealed_secret,
                    subscription.deleted_at is None,
                )
            )
        return claims


def _send(client: httpx.Client, claim: _Claim, master_key: bytes) -> _Outcome:
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    if not claim.live:
        return _Outcome(None, "the subscription was deleted", 0)
    try:
        secret = open_secret(claim.sealed_secret, master_key, claim.subscription_id)
    except VerificationError as exc:
        return _Outcome(None, exc.detail, 0)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: claim.event,
        DELIVERY_HEADER: str(claim.delivery_id),
        SIGNATURE_HEADER: signature_header(secret, claim.body),
    }
    try:
        response = client.post(claim.url, content=claim.body, headers=headers)
    except httpx.HTTPError as exc:
        return _Outcome(None, f"{type(exc).__name__}: {exc}"[:500], elapsed())
    if 200 <= response.status_code < 300:
        return _Outcome(response.status_code, None, elapsed())
    excerpt = response.text[:200].strip()
    return _Outcome(
        response.status_code, f"HTTP {response.status_code} {excerpt}".strip(), elapsed()
    )


def _record(
    factory: sessionmaker[Session],
    claim: _Claim,
    outcome: _Outcome,
    retry: RetryPolicy,
    now: datetime,
) -> None:
    with factory() as session, session.begin():
        delivery = session.get(WebhookDelivery, claim.delivery_id, with_for_update=True)
        if delivery is None:  # pragma: no cover - deliveries are never deleted
            return
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                number=claim.number,
                attempted_at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )
        delivery.attempts = claim.number
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        delivery.locked_until = None
        if outcome.ok:
            delivery.status = DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif claim.number >= retry.max_attempts or not claim.live:
            delivery.status = FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + timedelta(seconds=retry.delay(claim.number))


def deliver_due(
    factory: sessionmaker[Session],
    master_key: bytes,
    client: httpx.Client,
    *,
    retry: RetryPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
    batch: int = 20,
) -> int:
    """Attempt every delivery that is due (up to ``batch``); return how many were tried."""
    retry = retry or RetryPolicy()
    claims = _claim(factory, clock(), retry, batch)
    for claim in claims:
        outcome = _send(client, claim, master_key)
        _record(factory, claim, outcome, retry, clock())
        if outcome.ok:
            log.info("webhook delivery %s delivered to %s", claim.delivery_id, claim.url)
        else:
            log.warning(
                "webhook delivery %s attempt %d to %s failed: %s",
                claim.delivery_id,
                claim.number,
                claim.url,
                outcome.error,
            )
    return len(claims)


def next_due(factory: sessionmaker[Session]) -> datetime | None:
    """When the next pending delivery is due, if any."""
    with factory() as session, session.begin():
        due: datetime | None = session.scalar(
            select(func.min(WebhookDelivery.next_attempt_at)).where(
                WebhookDelivery.status == PENDING
            )
        )
        return due


class WebhookDeliverer:
    """Delivers due webhooks in a daemon thread: woken after a commit that enqueued some,
    else when the next retry is due, and at least every ``max_idle`` seconds (deliveries
    enqueued by another process, or a lease that ran out)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        master_key: bytes,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 5.0,
        max_idle: float = 2.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.factory = factory
        self.master_key = master_key
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.max_idle = max_idle
        self.clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-deliverer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Look for due deliveries now."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread; waits at most about one request timeout."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout + 2.0)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            while not self._stop.is_set():
                self._wake.clear()  # a wake from here on is seen by the wait below
                wait = self.max_idle
                try:
                    if deliver_due(
                        self.factory, self.master_key, client, retry=self.retry, clock=self.clock
                    ):
                        continue  # more may be due
                    due = next_due(self.factory)
                    if due is not None:
                        wait = max(0.05, min(wait, (due - self.clock()).total_seconds()))
                except Exception:  # the thread must outlive any surprise, e.g. a locked DB
                    log.exception("webhook delivery failed; retrying")
                self._wake.wait(wait)
