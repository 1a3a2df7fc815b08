"""``Idempotency-Key``: a retried POST returns the first response and the log grows once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi.encoders import jsonable_encoder

from api.idempotency import _encoded
from api.routers.records import BatchAcceptedOut, BatchRecordOut
from api.schemas import AcceptedOut
from tests.api.conftest import World, assert_problem, harvest, sign

LOT = "AH-2026-IDEM"


def test_same_key_same_envelope_replays_the_first_response(world: World) -> None:
    envelope = sign(harvest(world.coop.org_id, world.coop.batch(LOT)), world.coop.signer)
    headers = {"Idempotency-Key": "harvest-2026-09-20-1"}
    before = world.snapshot()

    first = world.post(world.coop, envelope, headers)
    assert first.status_code == 201, f"the first POST failed: {first.text}"
    second = world.post(world.coop, envelope, headers)
    assert second.status_code == 201, f"the retry was not answered like the first: {second.text}"
    assert second.json() == first.json(), "the retry's body differs from the first response"
    assert second.headers.get("idempotent-replayed") == "true", "the replay is not marked"

    after = world.snapshot()
    # One record and the status index after it.
    assert after.log_size == before.log_size + 2, (
        f"the log grew by {after.log_size - before.log_size} entries"
    )
    assert after.records == before.records + 2 and after.batches == before.batches + 1


def test_same_key_different_envelope_is_a_conflict(world: World) -> None:
    headers = {"Idempotency-Key": "harvest-key"}
    first_envelope = sign(harvest(world.coop.org_id, world.coop.batch(LOT)), world.coop.signer)
    first = world.post(world.coop, first_envelope, headers)
    assert first.status_code == 201, first.text

    other = sign(harvest(world.coop.org_id, world.coop.batch("OTHER-LOT")), world.coop.signer)
    with world.unchanged("a reused Idempotency-Key"):
        reused = world.post(world.coop, other, headers)
        assert_problem(reused, 409, "conflict", rule="idempotency-key-reused")


def test_keys_are_scoped_to_the_account(world: World) -> None:
    headers = {"Idempotency-Key": "shared-name"}
    coop_a = sign(harvest(world.coop.org_id, world.coop.batch(LOT)), world.coop.signer)
    coop_b = sign(harvest(world.coop_b.org_id, world.coop_b.batch(LOT)), world.coop_b.signer)
    first = world.post(world.coop, coop_a, headers)
    second = world.post(world.coop_b, coop_b, headers)
    assert first.status_code == 201 and second.status_code == 201, (
        f"one account's key blocked another's: {first.text} / {second.text}"
    )
    assert first.json()["digest"] != second.json()["digest"], "coop B got coop A's response"


def test_a_refused_request_does_not_burn_the_key(world: World) -> None:
    headers = {"Idempotency-Key": "retry-after-fix"}
    document = harvest(world.coop.org_id, world.coop.batch(LOT))
    broken = dict(document, quantity=1000)
    with world.unchanged("a refused idempotent request"):
        refused = world.post(world.coop, sign(broken, world.coop.signer), headers)
        assert_problem(refused, 422, "invalid-input")
    fixed = world.post(world.coop, sign(document, world.coop.signer), headers)
    assert fixed.status_code == 201, f"the key was burnt by a refused request: {fixed.text}"


def test_custodial_drafts_are_idempotent_too(world: World) -> None:
    draft = {
        "kind": "harvest",
        "time": "2026-09-20T08:00:00+08:00",
        "batches": [world.coop.batch(LOT)],
        "quantity": "800",
        "unit": "kg",
        "harvest_date": "2026-09-20",
        "place": {"region": "150430"},
    }
    headers = {**world.coop.headers, "Idempotency-Key": "custodial-1"}
    before = world.log_size()
    first = world.client.post("/api/v1/records/custodial", json=draft, headers=headers)
    second = world.client.post("/api/v1/records/custodial", json=draft, headers=headers)
    assert first.status_code == 201 and second.status_code == 201, f"{first.text} {second.text}"
    assert second.json() == first.json(), "the custodial retry signed a second record"
    assert world.log_size() == before + 2, "the custodial retry grew the log again"

    with world.unchanged("a reused custodial Idempotency-Key"):
        changed = world.client.post(
            "/api/v1/records/custodial", json=dict(draft, quantity="801"), headers=headers
        )
        assert_problem(changed, 409, "conflict", rule="idempotency-key-reused")


def test_overlong_key_is_refused(world: World) -> None:
    envelope = sign(harvest(world.coop.org_id, world.coop.batch(LOT)), world.coop.signer)
    with world.unchanged("an over-long Idempotency-Key"):
        response = world.post(world.coop, envelope, {"Idempotency-Key": "k" * 201})
        assert_problem(response, 422, "invalid-input", detail="Idempotency-Key")


def test_answers_are_encoded_as_jsonable_encoder_would() -> None:
    """Route results are dumped by their model (the cheap way); the JSON is unchanged."""
    accepted = AcceptedOut(
        index=7,
        digest="ab" * 32,
        kind="harvest",
        record={"kind": "harvest", "quantity": "1200"},
        envelope={"payloadType": "x", "payload": "e30=", "signatures": []},
        leaf="e30=",
        logged_at=datetime(2026, 9, 20, 8, 0, 0, 123456, tzinfo=UTC),
        organization_id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
        checkpoint_size=8,
    )
    batch = BatchAcceptedOut(
        checkpoint_size=9,
        records=[BatchRecordOut(index=i, digest="cd" * 32, kind="storage") for i in range(3)],
    )
    for answer in (accepted, batch, {"plain": [1, "two"]}):
        assert _encoded(answer) == jsonable_encoder(answer)
    assert _encoded(accepted)["logged_at"] == "2026-09-20T08:00:00.123456Z"
