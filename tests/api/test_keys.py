"""Signing keys through the API: proof-of-possession registration, rotation, revocation,
custodial keys, and who may do what to whose key."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from registry.crypto.keys import Signer
from tests.api.conftest import World, assert_problem, at, bearer, payload_of, sign


def _draft(world: World, token: str, signer: Signer, **extra: Any) -> dict[str, Any]:
    body = {"public_key": base64.b64encode(signer.public_key_raw).decode(), **extra}
    response = world.client.post("/api/v1/keys/drafts", json=body, headers=bearer(token))
    assert response.status_code == 200, f"key draft failed: {response.text}"
    return dict(response.json())


def _register(world: World, token: str, envelope: dict[str, Any]) -> Any:
    return world.client.post("/api/v1/keys", json={"envelope": envelope}, headers=bearer(token))


def test_client_key_registration_is_logged_and_countersigned(world: World) -> None:
    signer = Signer.generate()
    draft = _draft(world, world.lab.token, signer)
    document = json.loads(base64.b64decode(draft["payload"]))
    assert document["kind"] == "key_registration" and document["key"]["id"] == signer.key_id
    assert document["holder"]["account"] == world.lab.account_id, "draft names another holder"
    assert document["organization"]["id"] == world.lab.org_id, "draft names another org"

    size = world.log_size()
    envelope = sign(base64.b64decode(draft["payload"]), signer)
    registered = _register(world, world.lab.token, envelope)
    assert registered.status_code == 201, registered.text
    key = registered.json()
    assert key["registered_index"] == size, "the key record is not the newest leaf"
    assert key["account_id"] == world.lab.account_id and key["organization_id"] == world.lab.org_id
    assert base64.b64decode(key["public_key"]) == signer.public_key_raw
    assert world.log_size() == size + 2  # the key record, then the status index

    logged = world.client.get(f"/api/v1/records/{size}").json()
    assert payload_of(logged["envelope"]) == base64.b64decode(draft["payload"]), (
        "the logged key record is not the draft the key signed"
    )
    keyids = [s["keyid"] for s in logged["envelope"]["signatures"]]
    assert signer.key_id in keyids and len(keyids) == 2, (
        f"a key record must carry the new key's and the registry's signatures: {keyids}"
    )


def test_key_lists_are_scoped_to_the_organization(world: World) -> None:
    mine = world.client.get("/api/v1/keys", headers=world.coop.headers).json()
    assert {k["organization_id"] for k in mine} == {world.coop.org_id}, mine
    assert {k["key_id"] for k in mine} == {world.coop.signer.key_id, world.coop.custodial_key_id}
    everything = world.client.get("/api/v1/keys", headers=world.admin.headers).json()
    assert len(everything) == world.snapshot().keys, "an administrator should see every key"


def test_draft_signed_by_another_key_is_refused(world: World) -> None:
    drafted, impostor = Signer.generate(), Signer.generate()
    draft = _draft(world, world.lab.token, drafted)
    envelope = sign(base64.b64decode(draft["payload"]), impostor)
    with world.unchanged("a key draft signed by another key"):
        assert_problem(_register(world, world.lab.token, envelope), 422, "verification-failed")


def test_draft_changed_after_signing_is_refused(world: World) -> None:
    signer = Signer.generate()
    draft = _draft(world, world.lab.token, signer)
    envelope = sign(base64.b64decode(draft["payload"]), signer)
    payload = payload_of(envelope).replace(b'"role":"clerk"', b'"role":"admin"')
    envelope["payload"] = base64.b64encode(payload).decode()
    with world.unchanged("a tampered key draft"):
        response = _register(world, world.lab.token, envelope)
        assert 400 <= response.status_code < 500, f"expected a 4xx: {response.text}"
        assert_problem(response, response.status_code)


def test_registering_for_another_account_is_forbidden(world: World) -> None:
    signer = Signer.generate()
    draft = _draft(world, world.lab.token, signer)  # the lab clerk's key record
    envelope = sign(base64.b64decode(draft["payload"]), signer)
    with world.unchanged("a key registered by another account"):
        response = _register(world, world.coop.token, envelope)
        assert_problem(response, 403, "forbidden", rule="key-holder")


def test_registering_a_key_twice_is_a_conflict(world: World) -> None:
    signer = world.register_client_key(world.lab)
    draft = _draft(world, world.lab.token, signer)
    envelope = sign(base64.b64decode(draft["payload"]), signer)
    with world.unchanged("a key registered twice"):
        assert_problem(_register(world, world.lab.token, envelope), 409, "conflict")


@pytest.mark.parametrize(
    ("public_key", "detail"),
    [
        ("not base64!", "base64"),
        (base64.b64encode(b"\x01" * 31).decode(), "32 bytes"),
        (base64.b64encode(b"\x00" * 32).decode(), "small-order"),
    ],
)
def test_bad_public_key_in_a_draft_is_refused(world: World, public_key: str, detail: str) -> None:
    with world.unchanged("a bad key draft"):
        response = world.client.post(
            "/api/v1/keys/drafts", json={"public_key": public_key}, headers=world.lab.headers
        )
        assert_problem(response, 422, "invalid-input", detail=detail)


def test_rotation_marks_the_old_key_and_binds_the_new_one(world: World) -> None:
    old = world.lab.signer
    assert old is not None
    new = world.register_client_key(world.lab, rotates=old.key_id)
    shown = world.client.get(f"/api/v1/keys/{old.key_id}").json()
    assert shown["status"] == "rotated" and shown["rotated_at"], shown
    assert shown["replaced_by"] == new.key_id, "the old key does not name its successor"
    successor = world.client.get(f"/api/v1/keys/{new.key_id}").json()
    assert successor["account_id"] == world.lab.account_id and successor["status"] == "active"

    with world.unchanged("rotating a rotated key"):
        response = world.client.post(
            "/api/v1/keys/drafts",
            json={
                "public_key": base64.b64encode(Signer.generate().public_key_raw).decode(),
                "rotates": "f" * 64,
            },
            headers=world.lab.headers,
        )
        assert_problem(response, 404, "not-found")


def test_another_organization_cannot_rotate_my_key(world: World) -> None:
    victim = world.coop.signer
    assert victim is not None
    attacker = Signer.generate()
    document = {
        "kind": "key_rotation",
        "time": at(0.05),
        "old_key": victim.key_id,
        "key": {
            "algorithm": "ed25519",
            "id": attacker.key_id,
            "public_key": base64.b64encode(attacker.public_key_raw).decode(),
        },
    }
    with world.unchanged("coop B rotating coop A's key"):
        response = _register(world, world.coop_b.token, sign(document, attacker))
        assert 400 <= response.status_code < 500, (
            f"coop B rotated coop A's key: {response.status_code} {response.text[:300]}"
        )
    status = world.client.get(f"/api/v1/keys/{victim.key_id}").json()["status"]
    assert status == "active", f"coop A's key is now {status}"


def test_non_admin_cannot_post_a_revocation_through_the_keys_api(world: World) -> None:
    document = {
        "kind": "key_revocation",
        "time": at(0.05),
        "key_id": world.coop.signer.key_id,
        "reason": "not mine to revoke",
    }
    with world.unchanged("a revocation posted as a key registration"):
        response = _register(world, world.coop_b.token, sign(document, world.coop_b.signer))
        assert_problem(response, 422, "invalid-input", rule="not-a-key-record")


def test_keys_api_refuses_records_that_register_no_key(world: World) -> None:
    document = {
        "kind": "key_revocation",
        "time": at(0.05),
        "key_id": world.lab.signer.key_id,
        "reason": "wrong endpoint",
    }
    client = world.lenient_client()
    with world.unchanged("a revocation posted to POST /api/v1/keys"):
        response = client.post(
            "/api/v1/keys",
            json={"envelope": sign(document, world.lab.signer)},
            headers=world.admin.headers,
        )
        assert_problem(response, 422, "invalid-input")


def test_revocation_rules(world: World) -> None:
    lab_key = world.lab.signer.key_id
    with world.unchanged("revoking another organization's key"):
        response = world.client.post(
            f"/api/v1/keys/{lab_key}/revoke", json={"reason": "no"}, headers=world.coop.headers
        )
        assert_problem(response, 403, "forbidden")
    with world.unchanged("revoking an unknown key"):
        response = world.client.post(
            f"/api/v1/keys/{'e' * 64}/revoke", json={"reason": "x"}, headers=world.lab.headers
        )
        assert_problem(response, 404, "not-found")
    with world.unchanged("revoking without a reason"):
        response = world.client.post(
            f"/api/v1/keys/{lab_key}/revoke", json={"reason": "  "}, headers=world.lab.headers
        )
        assert_problem(response, 422, "invalid-input", detail="reason")

    size = world.log_size()
    revoked = world.client.post(
        f"/api/v1/keys/{lab_key}/revoke",
        json={"reason": "compromised", "compromised_since": "2026-09-01T00:00:00+08:00"},
        headers=world.lab.headers,
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["compromised_since"], "compromised_since was not recorded"
    assert world.log_size() == size + 2, "a revocation must be a logged record"
    logged = world.client.get(f"/api/v1/records/{size}").json()
    assert logged["kind"] == "key_revocation" and logged["record"]["key_id"] == lab_key

    with world.unchanged("revoking a revoked key"):
        again = world.client.post(
            f"/api/v1/keys/{lab_key}/revoke", json={"reason": "again"}, headers=world.admin.headers
        )
        assert_problem(again, 409, "conflict", rule="key-revoked")


def test_custodial_keys(world: World) -> None:
    with world.unchanged("a clerk creating a key for another account"):
        response = world.client.post(
            "/api/v1/keys/custodial",
            json={"account_id": world.lab.account_id},
            headers=world.coop.headers,
        )
        assert_problem(response, 403, "forbidden")
    made = world.client.post(
        "/api/v1/keys/custodial",
        json={"account_id": world.lab.account_id},
        headers=world.admin.headers,
    )
    assert made.status_code == 201, made.text
    key = made.json()
    assert key["custodial"] is True and key["account_id"] == world.lab.account_id, key
    assert key["organization_id"] == world.lab.org_id
    listed = world.client.get("/api/v1/keys", headers=world.lab.headers).json()
    assert key["key_id"] in {k["key_id"] for k in listed}, "the new key is not listed"
    assert all("sealed" not in json.dumps(k) for k in listed), "key listing leaks sealed keys"
