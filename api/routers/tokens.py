"""API tokens: shown once at creation, stored hashed, revocable."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.deps import CurrentAccount, SessionDep
from api.schemas import NewTokenOut, TokenIn, TokenOut
from registry.accounts import accounts

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


@router.post("", status_code=201, response_model=NewTokenOut)
def create_token(body: TokenIn, session: SessionDep, account: CurrentAccount) -> NewTokenOut:
    token, plain = accounts.issue_token(session, account, body.name, body.expires_at)
    return NewTokenOut(**TokenOut.of(token).model_dump(), token=plain)


@router.get("", response_model=list[TokenOut])
def list_tokens(session: SessionDep, account: CurrentAccount) -> list[TokenOut]:
    return [TokenOut.of(t) for t in accounts.list_tokens(session, account)]


@router.delete("/{token_id}", response_model=TokenOut)
def revoke_token(token_id: uuid.UUID, session: SessionDep, account: CurrentAccount) -> TokenOut:
    return TokenOut.of(accounts.revoke_token(session, account, token_id))
