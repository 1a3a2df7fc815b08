"""Request dependencies: one session per request (commit on success, roll back on error),
the registry context, and the authenticated account from a bearer token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from registry.accounts.accounts import authenticate_token
from registry.context import RegistryContext
from registry.errors import Unauthenticated
from registry.models import Account


def get_session(request: Request) -> Iterator[Session]:
    # scope="function" below: commit before the response is sent, so a client that got a
    # 201 can read what it wrote, and a failed commit is reported instead of lost.
    # Safe methods read only: on SQLite they must not take the write lock.
    read_only = request.method in ("GET", "HEAD")
    factory = (
        request.app.state.read_session_factory if read_only else request.app.state.session_factory
    )
    with factory() as session, session.begin():
        yield session


def get_context(request: Request) -> RegistryContext:
    ctx: RegistryContext = request.app.state.ctx
    return ctx


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ContextDep = Annotated[RegistryContext, Depends(get_context)]


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("use 'Authorization: Bearer <token>'")
    return token.strip()


def current_account(
    session: SessionDep, authorization: Annotated[str | None, Header()] = None
) -> Account:
    token = _bearer(authorization)
    if token is None:
        raise Unauthenticated("this needs an API token: 'Authorization: Bearer <token>'")
    return authenticate_token(session, token)


CurrentAccount = Annotated[Account, Depends(current_account)]
