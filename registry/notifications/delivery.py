"""Delivering webhooks: claim due deliveries under a lease, POST them signed with no
transaction open, record each attempt, retry with exponential backoff.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from registry.errors import VerificationError
from registry.models import WebhookAttempt, WebhookDelivery, WebhookSubscription, utcnow
from registry.notifications.outbox import DELIVERED, FAILED, PENDING
from registry.notifications.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    open_secret,
    signature_header,
)

log = logging.getLogger(__name__)

USER_AGENT = "guarantee-registry-webhooks/1"
"""The ``User-Agent`` of every delivery."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: the n-th failed attempt waits ``base * 2**(n-1)`` seconds, at
    most ``cap``; after ``max_attempts`` attempts the delivery has failed."""

    base: float = 1.0
    cap: float = 300.0
    max_attempts: int = 8
    lease: float = 60.0  # how long a claimed delivery stays claimed (> request timeout)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (from 1)."""
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
        """Whether the receiver answered 2xx, which is all a delivery needs."""
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
        """Start the delivery thread."""
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
