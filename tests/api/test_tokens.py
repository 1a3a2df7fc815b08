"""API tokens: shown once, listed by prefix only, revocable; refused once revoked or expired."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from registry.db import transaction
from registry.models import ApiToken
from tests.api.conftest import World, assert_problem, bearer


def test_created_token_is_shown_once_and_listed_by_prefix(world: World) -> None:
    created = world.client.post(
        "/api/v1/tokens", json={"name": "OBS laptop"}, headers=world.coop.headers
    )
    assert created.status_code == 201, f"creating a token failed: {created.text}"
    new = created.json()
    plain = new["token"]
    assert plain.startswith("grt_") and len(plain) > 30, f"unexpected token shape: {plain!r}"
    assert new["prefix"] == plain[:12], "the prefix is not the token's first characters"
    assert new["name"] == "OBS laptop" and new["revoked_at"] is None

    me = world.client.get("/api/v1/accounts/me", headers=bearer(plain))
    assert me.status_code == 200, f"the new token does not authenticate: {me.text}"
    assert me.json()["id"] == world.coop.account_id, "the token authenticates someone else"

    listed = world.client.get("/api/v1/tokens", headers=bearer(plain))
    assert listed.status_code == 200, listed.text
    assert plain not in listed.text, "the token list leaks a plain token"
    assert world.coop.token not in listed.text, "the token list leaks the fixture's token"
    entries = {t["id"]: t for t in listed.json()}
    assert set(entries) >= {new["id"]} and len(entries) == 2, f"wrong tokens listed: {entries}"
    assert all("token" not in t for t in entries.values()), "the list carries a token field"
    assert entries[new["id"]]["prefix"] == plain[:12]


def test_token_lists_are_per_account(world: World) -> None:
    mine = world.client.get("/api/v1/tokens", headers=world.coop.headers).json()
    theirs = world.client.get("/api/v1/tokens", headers=world.lab.headers).json()
    assert {t["id"] for t in mine}.isdisjoint({t["id"] for t in theirs}), (
        "one account sees another's tokens"
    )


def test_revoked_token_is_refused(world: World) -> None:
    created = world.client.post("/api/v1/tokens", json={}, headers=world.coop.headers).json()
    plain = created["token"]
    revoked = world.client.delete(f"/api/v1/tokens/{created['id']}", headers=bearer(plain))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"], revoked.text

    refused = world.client.get("/api/v1/accounts/me", headers=bearer(plain))
    body = assert_problem(refused, 401, "unauthenticated", detail="revoked")
    assert refused.headers.get("www-authenticate") == "Bearer", body
    still = world.client.get("/api/v1/accounts/me", headers=world.coop.headers)
    assert still.status_code == 200, "revoking one token revoked the account's other tokens"

    listed = world.client.get("/api/v1/tokens", headers=world.coop.headers).json()
    shown = [t for t in listed if t["id"] == created["id"]]
    assert shown and shown[0]["revoked_at"], f"the list does not show the revocation: {listed}"


def test_another_account_cannot_revoke_my_token(world: World) -> None:
    created = world.client.post("/api/v1/tokens", json={}, headers=world.coop.headers).json()
    attempt = world.client.delete(f"/api/v1/tokens/{created['id']}", headers=world.lab.headers)
    assert_problem(attempt, 403, "forbidden")
    me = world.client.get("/api/v1/accounts/me", headers=bearer(created["token"]))
    assert me.status_code == 200, "a refused revocation still revoked the token"

    by_admin = world.client.delete(f"/api/v1/tokens/{created['id']}", headers=world.admin.headers)
    assert by_admin.status_code == 200 and by_admin.json()["revoked_at"], by_admin.text


def test_revoking_an_unknown_token_is_404(world: World) -> None:
    response = world.client.delete(
        "/api/v1/tokens/00000000-0000-4000-8000-000000000000", headers=world.coop.headers
    )
    assert_problem(response, 404, "not-found")
    malformed = world.client.delete("/api/v1/tokens/not-a-uuid", headers=world.coop.headers)
    assert_problem(malformed, 422, "invalid-input")


def test_expired_token_is_refused(world: World) -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    created = world.client.post(
        "/api/v1/tokens", json={"name": "short", "expires_at": soon}, headers=world.coop.headers
    )
    assert created.status_code == 201, created.text
    # The minute passes (a token cannot be issued already expired).
    with transaction(world.app.state.session_factory) as session:
        row = session.get(ApiToken, uuid.UUID(created.json()["id"]))
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    refused = world.client.get("/api/v1/accounts/me", headers=bearer(created.json()["token"]))
    assert_problem(refused, 401, "unauthenticated", detail="expired")


def test_tokens_need_a_token(world: World) -> None:
    assert_problem(world.client.get("/api/v1/tokens"), 401, "unauthenticated")
    assert_problem(world.client.post("/api/v1/tokens", json={}), 401, "unauthenticated")
