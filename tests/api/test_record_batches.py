"""POST /api/v1/records/batch: many records, in order, all or nothing, in a few statements.

A batch may create a lot and extend its chain in the same submission; one refused record
refuses the whole batch and writes nothing; and the work done per batch does not grow with
the number of records (the duplicate and batch lookups are one ``IN`` query per submission).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import Engine, event

from registry.crypto.jcs import canonicalize
from tests.api.conftest import World, assert_problem, at, harvest, sign


def _storage(org: str, batch: str, prev: str, bay: int) -> dict[str, Any]:
    return {
        "kind": "storage",
        "time": at(2),
        "org": org,
        "batches": [batch],
        "prev": {batch: prev},
        "location": f"敖汉旗 3 号粮仓 Granary 3, bay {bay}",
        "readings": [{"time": at(2), "celsius": "4.5", "humidity": "61.0"}],
    }


def _digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonicalize(document)).hexdigest()


def _lots(world: World, prefix: str, lots: int, storage_per_lot: int) -> list[dict[str, Any]]:
    """Envelopes: per lot, a harvest then ``storage_per_lot`` chained storage records."""
    coop = world.coop
    assert coop.signer is not None
    envelopes = []
    for n in range(lots):
        batch = coop.batch(f"{prefix}-{n:03d}")
        document = harvest(coop.org_id, batch)
        envelopes.append(sign(document, coop.signer))
        head = _digest(document)
        for bay in range(storage_per_lot):
            document = _storage(coop.org_id, batch, head, bay)
            envelopes.append(sign(document, coop.signer))
            head = _digest(document)
    return envelopes


def _post(world: World, envelopes: list[dict[str, Any]]) -> httpx.Response:
    return world.client.post(
        "/api/v1/records/batch", json={"envelopes": envelopes}, headers=world.coop.headers
    )


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_batch_creates_lots_and_extends_their_chains_in_one_checkpoint(world: World) -> None:
    size = world.log_size()
    envelopes = _lots(world, "BATCH", lots=3, storage_per_lot=4)
    response = _post(world, envelopes)
    assert response.status_code == 201, response.text
    body = response.json()
    assert [r["index"] for r in body["records"]] == list(range(size, size + 15))
    # The status index follows the batch's records, the checkpoint's last entry.
    assert body["checkpoint_size"] == size + 16 == world.log_size()
    assert [r["kind"] for r in body["records"][:5]] == ["harvest"] + ["storage"] * 4
    batch = world.batch(world.coop.batch("BATCH-002"))
    assert batch["head"] == body["records"][-1]["digest"], "the lot's head is its last record"


def test_a_batch_with_a_record_already_logged_writes_nothing(world: World) -> None:
    envelopes = _lots(world, "AGAIN", lots=1, storage_per_lot=2)
    first = _post(world, envelopes[:2])
    assert first.status_code == 201, first.text
    logged = first.json()["records"][0]["index"]  # the first of them the batch repeats
    with world.unchanged("a batch repeating a logged record"):
        response = _post(world, envelopes)
        problem = assert_problem(response, 409, "conflict", detail="already in the log")
    assert problem.get("index") == logged, problem


def test_a_batch_naming_one_record_twice_writes_nothing(world: World) -> None:
    envelopes = _lots(world, "TWICE", lots=1, storage_per_lot=1)
    with world.unchanged("a batch with the same record twice"):
        response = _post(world, [*envelopes, envelopes[1]])
        assert_problem(response, 409, "conflict", rule="duplicate-record")


def test_a_refused_record_late_in_a_batch_refuses_the_lots_made_before_it(world: World) -> None:
    coop = world.coop
    assert coop.signer is not None
    envelopes = _lots(world, "ALLORNONE", lots=2, storage_per_lot=2)
    unknown = coop.batch("NEVER-HARVESTED")
    envelopes.append(sign(_storage(coop.org_id, unknown, "0" * 64, 1), coop.signer))
    with world.unchanged("a batch whose last record names an unknown lot"):
        response = _post(world, envelopes)
        assert_problem(response, 422, "invalid-input", rule="unknown-batch")
    listed = world.client.get("/api/v1/batches", params={"product_id": coop.product_id}).json()
    assert not [b for b in listed["items"] if b["lot"].startswith("ALLORNONE")], listed


def test_statements_per_batch_do_not_grow_with_its_records(world: World, db: Engine) -> None:
    """Ten times the records costs (almost) no more statements: nothing is looked up or
    written one record at a time (on PostgreSQL every statement is a round trip)."""
    small, large = _lots(world, "SMALL", 1, 9), _lots(world, "LARGE", 10, 9)
    with _statements(db) as for_small:
        assert _post(world, small).status_code == 201
    with _statements(db) as for_large:
        response = _post(world, large)
        assert response.status_code == 201, response.text
    assert len(large) == 10 * len(small) == 100
    # A few more Merkle nodes to read and one batch lookup per product, never per record.
    assert len(for_large) <= len(for_small) + 5, (
        f"{len(for_small)} statements for 10 records, {len(for_large)} for 100:\n"
        + "\n".join(s.split("\n")[0][:120] for s in for_large)
    )


# --- signatures are checked before the append lock: the same refusals, in the same order ---


def test_a_bad_signature_in_a_batch_is_refused_as_it_is_alone(world: World) -> None:
    envelopes = _lots(world, "BADSIG", lots=1, storage_per_lot=3)
    sig = bytearray(base64.b64decode(envelopes[2]["signatures"][0]["sig"]))
    sig[10] ^= 0x01
    envelopes[2]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    with world.unchanged("a batch with a forged signature"):
        response = _post(world, envelopes)
        assert_problem(response, 422, "verification-failed", detail="does not verify")


def test_the_first_refusal_in_order_is_the_one_reported(world: World) -> None:
    """A forged signature late in the batch does not mask an earlier record's problem."""
    envelopes = _lots(world, "ORDER", lots=1, storage_per_lot=3)
    first = envelopes[0]  # the lot's harvest, logged on its own first
    sig = bytearray(base64.b64decode(envelopes[3]["signatures"][0]["sig"]))
    sig[0] ^= 0x01
    envelopes[3]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    harvested = _post(world, [first])
    assert harvested.status_code == 201, harvested.text
    with world.unchanged("a batch whose first record is already logged"):
        response = _post(world, envelopes)
        assert_problem(response, 409, "conflict", detail="already in the log")


def test_a_batch_signed_with_a_rotated_key_is_refused_though_its_signatures_verify(
    world: World,
) -> None:
    """Verified before the lock, but whether the key may still sign is decided under it."""
    coop = world.coop
    assert coop.signer is not None
    envelopes = _lots(world, "ROTATED", lots=1, storage_per_lot=2)  # signed by the old key
    world.register_client_key(coop, rotates=coop.signer.key_id)
    with world.unchanged("a batch signed with a rotated key"):
        response = _post(world, envelopes)
        assert_problem(response, 403, "policy-violation", rule="key-rotated")
