"""Stored answers to ``Idempotency-Key`` requests: a retried POST gets the first result back
and writes nothing new. Keys are per account; the HTTP edge decides what to store."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from registry.models import Account, IdempotencyKey


def stored_answer(session: Session, account: Account, key: str) -> IdempotencyKey | None:
    """The answer stored for ``account``'s request with this key, or None if it has none
    (the caller holds the log lock, so two retries cannot both miss it)."""
    return session.get(IdempotencyKey, (account.id, key))


def store_answer(
    session: Session,
    account: Account,
    key: str,
    request_sha256: str,
    status_code: int,
    response: Any,
) -> None:
    """Store the answer (status code and JSON-ready body) to ``account``'s request with this
    key, with the SHA-256 of the request it answers so a reuse for another can be refused;
    flushed, committed with the rest of the request."""
    session.add(
        IdempotencyKey(
            account_id=account.id,
            key=key,
            request_sha256=request_sha256,
            status_code=status_code,
            response=response,
        )
    )
    session.flush()
