"""POST /api/v1/records and friends: the journey of a batch, and every way to be refused.

Each refusal asserts an RFC 9457 problem that names what was wrong, and that the log, the
records, the batches and the keys are exactly as they were before the request.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from registry.crypto.jcs import canonicalize
from registry.crypto.keys import Signer
from registry.records.schema import RECORD_PAYLOAD_TYPE
from tests.api.conftest import (
    World,
    assert_problem,
    assignment,
    at,
    certificate,
    harvest,
    inspection,
    packing,
    payload_of,
    processing,
    receiving,
    shipping,
    sign,
)

LOT = "AH-2026-001"


@pytest.fixture
def harvested(world: World) -> tuple[str, str]:
    """Cooperative A's batch LOT, harvested (1000 kg): (batch ref, head digest)."""
    return world.harvested(world.coop, LOT)


def _refused(
    world: World,
    response_of: Any,
    status: int,
    slug: str | None = None,
    *,
    rule: str | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """Run ``response_of()`` and assert the problem it returns and that it wrote nothing."""
    with world.unchanged(f"a request refused with {status} {slug or ''} {rule or ''}"):
        response = response_of()
        body = assert_problem(response, status, slug, rule=rule, detail=detail)
    return body


# --- happy paths ---------------------------------------------------------------------------


def test_harvest_creates_a_batch_whose_head_is_the_record(world: World) -> None:
    size_before = world.log_size()
    batch = world.coop.batch(LOT)
    document = harvest(world.coop.org_id, batch, "1250.5")
    accepted = world.submit(world.coop, document)

    assert accepted["index"] == size_before, "the record was not appended at the log's end"
    # The status index is the checkpoint's last entry, after the record.
    assert accepted["checkpoint_size"] == size_before + 2, "checkpoint_size is not the new size"
    assert accepted["kind"] == "harvest" and accepted["organization_id"] == world.coop.org_id
    assert accepted["record"] == document, "the accepted record differs from what was signed"
    assert accepted["digest"] == hashlib.sha256(canonicalize(document)).hexdigest(), (
        "digest is not the SHA-256 of the canonical payload"
    )
    assert world.log_size() == size_before + 2, "/log/checkpoint did not grow by two"

    listed = world.batch(batch)
    shown = world.client.get(f"/api/v1/batches/{listed['code']}")
    assert shown.status_code == 200, f"GET batch by code failed: {shown.text}"
    got = shown.json()
    assert got["head"] == accepted["digest"], "the new batch's head is not the harvest record"
    assert got["ref"] == batch and got["lot"] == LOT and got["product_id"] == world.coop.product_id
    assert (got["quantity"], got["remaining"], got["unit"]) == ("1250.5", "1250.5", "kg"), got
    assert got["origin_org_id"] == world.coop.org_id and got["region_code"] == "150430", got
    assert got["recalled"] is False, "a fresh batch is reported recalled"

    lower = world.client.get(f"/api/v1/batches/{listed['code'].lower()}")
    assert lower.status_code == 200 and lower.json()["id"] == got["id"], (
        "batch codes must be case-insensitive"
    )
    chain = world.client.get(f"/api/v1/batches/{got['id']}/records").json()
    assert [r["digest"] for r in chain] == [accepted["digest"]], "batch chain is not [harvest]"


def test_full_chain_from_harvest_to_processing(world: World) -> None:
    coop, lab, carrier, processor = world.coop, world.lab, world.carrier, world.processor
    batch, head = world.harvested(coop, LOT, "1000")
    steps = [
        (coop, packing(coop.org_id, batch, head)),
        (coop, certificate(coop.org_id, batch, "")),
        (coop, assignment(coop.org_id, batch, "", lab.org_id, "inspection")),
        (lab, inspection(lab.org_id, batch, "")),
        (coop, assignment(coop.org_id, batch, "", carrier.org_id, "carriage")),
        (carrier, shipping(carrier.org_id, batch, "", processor.org_id)),
        (processor, receiving(processor.org_id, batch, "", carrier.org_id)),
    ]
    digests = [head]
    for member, document in steps:
        document["prev"] = {batch: digests[-1]}
        accepted = world.submit(member, document)
        assert world.head(batch) == accepted["digest"], (
            f"after {document['kind']} by {member.name} the batch head did not move"
        )
        digests.append(accepted["digest"])

    output = processor.batch("MILL-001")
    document = processing(processor.org_id, {batch: ("400", digests[-1])}, {output: "380"})
    accepted = world.submit(processor, document)
    digests.append(accepted["digest"])

    source = world.batch(batch)
    assert source["remaining"] == "600", f"input batch should hold 600 kg, shows {source}"
    assert source["quantity"] == "1000", "the input batch's original quantity changed"
    assert source["head"] == accepted["digest"], "processing did not extend the input's chain"
    made = world.batch(output)
    assert (made["quantity"], made["remaining"]) == ("380", "380"), made
    assert made["origin_org_id"] == processor.org_id, "output batch is not the processor's"
    assert made["head"] == accepted["digest"], "output batch's head is not the processing record"

    chain = world.client.get(f"/api/v1/batches/{source['id']}/records").json()
    assert [r["digest"] for r in chain] == digests, "the input batch's chain is out of order"
    assert [r["kind"] for r in chain] == [
        "harvest",
        "packing",
        "certificate",
        "assignment",
        "inspection",
        "assignment",
        "shipping",
        "receiving",
        "processing",
    ]


def test_custodial_signing_fills_org_time_and_prev(world: World) -> None:
    coop, processor = world.coop, world.processor
    batch = coop.batch(LOT)
    draft = harvest(coop.org_id, batch)
    for filled in ("org", "time", "prev"):
        del draft[filled]
    size_before = world.log_size()
    created = world.submit_custodial(coop, draft)
    assert created["index"] == size_before and created["checkpoint_size"] == size_before + 2
    record = created["record"]
    assert record["org"] == coop.org_id, "custodial signing did not fill org"
    assert record["prev"] == {batch: None}, "a harvest draft's prev must be filled with null"
    assert record["time"], "custodial signing did not fill time"
    keyids = [s["keyid"] for s in created["envelope"]["signatures"]]
    assert keyids == [coop.custodial_key_id], f"not signed by the custodial key: {keyids}"

    packed = world.submit_custodial(
        coop,
        {
            "kind": "packing",
            "batches": [batch],
            "package": {"count": 10, "size": "100", "unit": "kg"},
        },
    )
    assert packed["record"]["prev"] == {batch: created["digest"]}, "prev is not the batch head"
    head = world.delivered(coop, batch, packed["digest"], processor)

    output = processor.batch("MILL-002")
    made = world.submit_custodial(
        processor,
        {
            "kind": "processing",
            "inputs": [{"batch": batch, "quantity": "250"}],
            "outputs": [{"batch": output, "quantity": "240", "unit": "kg"}],
        },
    )
    assert made["record"]["batches"] == [batch, output], "batches not derived from inputs/outputs"
    assert made["record"]["prev"] == {batch: head, output: None}
    assert world.batch(batch)["remaining"] == "750", "custodial processing did not consume"
    assert world.log_size() == size_before + 12  # six records, each with its status index


def test_custodial_key_created_through_the_api_signs_drafts(
    world: World, harvested: tuple[str, str]
) -> None:
    batch, head = harvested
    head = world.assigned(world.coop, batch, head, world.carrier, "carriage")
    key_id = world.create_custodial_key(world.carrier)
    stored = world.submit_custodial(
        world.carrier,
        {
            "kind": "storage",
            "batches": [batch],
            "location": "敖汉冷库 Aohan cold store",
            "readings": [{"time": at(1), "celsius": "4.5", "humidity": "60"}],
        },
    )
    assert [s["keyid"] for s in stored["envelope"]["signatures"]] == [key_id], (
        "the draft was not signed by the carrier's new custodial key"
    )
    assert stored["record"]["prev"] == {batch: head} and world.head(batch) == stored["digest"]


def test_record_is_served_byte_exact_by_index_and_by_digest(world: World) -> None:
    batch = world.coop.batch(LOT)
    document = harvest(world.coop.org_id, batch, note="小米 millet ✓")
    envelope = sign(document, world.coop.signer)
    posted = world.post(world.coop, envelope)
    assert posted.status_code == 201, posted.text
    accepted = posted.json()

    for key in (str(accepted["index"]), accepted["digest"], accepted["digest"].upper()):
        response = world.client.get(f"/api/v1/records/{key}")
        assert response.status_code == 200, f"GET /api/v1/records/{key} failed: {response.text}"
        served = response.json()
        assert served["index"] == accepted["index"] and served["digest"] == accepted["digest"]
        assert payload_of(served["envelope"]) == payload_of(envelope), (
            f"the payload served for {key} is not byte-identical to the posted one"
        )
        assert served["envelope"]["signatures"] == envelope["signatures"], "signatures changed"
        assert served["envelope"]["payloadType"] == RECORD_PAYLOAD_TYPE
        assert served["record"] == document, "the decoded record differs"
        leaf = json.loads(base64.b64decode(served["leaf"]))
        assert leaf["payload_sha256"] == accepted["digest"], "the leaf commits to another payload"
        assert leaf["signatures"] == envelope["signatures"], "the leaf commits to other signatures"

    missing = world.client.get(f"/api/v1/records/{accepted['index'] + 100}")
    assert_problem(missing, 404, "not-found")
    assert_problem(world.client.get("/api/v1/records/" + "0" * 63 + "a"), 404, "not-found")


def test_records_list_pages_and_filters_by_kind(world: World) -> None:
    for lot in ("L1", "L2", "L3"):
        world.harvested(world.coop, lot)
    first = world.client.get("/api/v1/records", params={"kind": "harvest", "limit": 2}).json()
    assert [r["kind"] for r in first["items"]] == ["harvest", "harvest"], first
    assert first["next_cursor"], "a partial page must give a cursor"
    rest = world.client.get(
        "/api/v1/records", params={"kind": "harvest", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None, rest
    indices = [r["index"] for r in first["items"] + rest["items"]]
    assert indices == sorted(indices) and len(set(indices)) == 3, f"pages overlap: {indices}"


# --- refusals: signatures and keys ---------------------------------------------------------


def test_flipped_signature_byte_is_refused(world: World) -> None:
    envelope = sign(harvest(world.coop.org_id, world.coop.batch(LOT)), world.coop.signer)
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[10] ^= 0x01
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    _refused(
        world,
        lambda: world.post(world.coop, envelope),
        422,
        "verification-failed",
        detail="does not verify",
    )


def test_payload_changed_after_signing_is_refused(world: World) -> None:
    envelope = sign(harvest(world.coop.org_id, world.coop.batch(LOT), "1000"), world.coop.signer)
    payload = payload_of(envelope)
    tampered = payload.replace(b'"quantity":"1000"', b'"quantity":"9000"')
    assert tampered != payload and len(tampered) == len(payload)
    envelope["payload"] = base64.b64encode(tampered).decode()
    _refused(
        world,
        lambda: world.post(world.coop, envelope),
        422,
        "verification-failed",
        detail="does not verify",
    )


def test_unknown_key_is_refused(world: World) -> None:
    stranger = Signer.generate()
    envelope = sign(harvest(world.coop.org_id, world.coop.batch(LOT)), stranger)
    body = _refused(
        world,
        lambda: world.post(world.coop, envelope),
        422,
        "verification-failed",
        rule="unknown-key",
    )
    assert stranger.key_id in body["detail"], "the problem should name the unknown key"


def test_revoked_key_is_refused(world: World) -> None:
    coop = world.coop
    assert coop.signer is not None
    revoked = world.client.post(
        f"/api/v1/keys/{coop.signer.key_id}/revoke",
        json={"reason": "phone lost 手机丢失"},
        headers=coop.headers,
    )
    assert revoked.status_code == 200, f"revoking the key failed: {revoked.text}"
    assert revoked.json()["status"] == "revoked" and revoked.json()["revoked_at"]
    envelope = sign(harvest(coop.org_id, coop.batch(LOT)), coop.signer)
    _refused(world, lambda: world.post(coop, envelope), 403, "policy-violation", rule="key-revoked")


def test_rotated_key_is_refused_and_its_successor_accepted(world: World) -> None:
    coop = world.coop
    assert coop.signer is not None
    old = coop.signer
    new = world.register_client_key(coop, rotates=old.key_id)
    shown = world.client.get(f"/api/v1/keys/{old.key_id}").json()
    assert shown["status"] == "rotated" and shown["replaced_by"] == new.key_id, shown

    document = harvest(coop.org_id, coop.batch(LOT))
    body = _refused(
        world,
        lambda: world.post(coop, sign(document, old)),
        403,
        "policy-violation",
        rule="key-rotated",
    )
    assert new.key_id in body["detail"], "the refusal should name the successor key"
    accepted = world.post(coop, sign(document, new))
    assert accepted.status_code == 201, f"the successor key was refused: {accepted.text}"


def test_key_of_another_organization_is_refused(world: World, harvested: tuple[str, str]) -> None:
    coop, coop_b = world.coop, world.coop_b
    assert coop_b.signer is not None
    batch, head = harvested
    # Coop B's key signs a record claiming to be coop A's, posted by coop B.
    claims_a = sign(packing(coop.org_id, batch, head), coop_b.signer)
    body = _refused(
        world,
        lambda: world.post(coop_b, claims_a),
        403,
        "policy-violation",
        rule="key-organization",
    )
    assert coop.org_id in body["detail"], "the refusal should name the record's organization"
    # Same envelope, posted with coop A's token: the signer is not the submitter's org.
    _refused(
        world,
        lambda: world.post(coop, claims_a),
        403,
        "forbidden",
        rule="submitter-organization",
    )
    # Coop B's own, valid record, posted with coop A's token.
    own_b = sign(harvest(coop_b.org_id, coop_b.batch(LOT)), coop_b.signer)
    _refused(
        world,
        lambda: world.post(coop, own_b),
        403,
        "forbidden",
        rule="submitter-organization",
    )


def test_harvest_signed_with_another_organizations_key_is_refused(world: World) -> None:
    claims_a = sign(harvest(world.coop.org_id, world.coop.batch(LOT)), world.coop_b.signer)
    _refused(world, lambda: world.post(world.coop_b, claims_a), 403, "policy-violation")


# --- refusals: policy --------------------------------------------------------------------


def test_carrier_may_not_sign_inspection(world: World, harvested: tuple[str, str]) -> None:
    batch, head = harvested
    envelope = sign(inspection(world.carrier.org_id, batch, head), world.carrier.signer)
    body = _refused(
        world,
        lambda: world.post(world.carrier, envelope),
        403,
        "policy-violation",
        rule="kind-not-allowed",
    )
    assert "carrier" in body["detail"] and "inspection" in body["detail"], body["detail"]


def test_processor_may_not_sign_harvest_even_of_its_own_product(world: World) -> None:
    processor = world.processor
    envelope = sign(harvest(processor.org_id, processor.batch(LOT)), processor.signer)
    _refused(
        world,
        lambda: world.post(processor, envelope),
        403,
        "policy-violation",
        rule="kind-not-allowed",
    )


def test_lab_may_not_sign_harvest(world: World) -> None:
    # The lab names coop A's product (a lab cannot own one).
    envelope = sign(harvest(world.lab.org_id, world.coop.batch(LOT)), world.lab.signer)
    _refused(world, lambda: world.post(world.lab, envelope), 403, "policy-violation")


@pytest.mark.parametrize(
    ("signed_by", "expected_rule"),
    [("lab", "kind-not-allowed"), ("coop_b", "key-organization")],
)
def test_harvest_refusal_names_the_policy_rule(
    world: World, signed_by: str, expected_rule: str
) -> None:
    # A lab's harvest for coop A's product; coop B's key on a harvest claiming org = coop A.
    member = world.members[signed_by]
    org = world.lab.org_id if signed_by == "lab" else world.coop.org_id
    envelope = sign(harvest(org, world.coop.batch(LOT)), member.signer)
    _refused(
        world,
        lambda: world.post(member, envelope),
        403,
        "policy-violation",
        rule=expected_rule,
    )


def test_cooperative_may_not_pack_another_cooperatives_batch(
    world: World, harvested: tuple[str, str]
) -> None:
    batch, head = harvested
    envelope = sign(packing(world.coop_b.org_id, batch, head), world.coop_b.signer)
    body = _refused(
        world,
        lambda: world.post(world.coop_b, envelope),
        403,
        "policy-violation",
        rule="batch-of-another-organization",
    )
    assert LOT in body["detail"], "the refusal should name the batch"


def test_cooperative_may_not_harvest_into_another_cooperatives_product(world: World) -> None:
    envelope = sign(harvest(world.coop_b.org_id, world.coop.batch(LOT)), world.coop_b.signer)
    _refused(
        world,
        lambda: world.post(world.coop_b, envelope),
        403,
        "policy-violation",
        rule="product-of-another-organization",
    )


def test_processing_more_than_the_input_holds_is_refused(
    world: World, harvested: tuple[str, str]
) -> None:
    batch, head = harvested
    processor = world.processor
    head = world.delivered(world.coop, batch, head, processor)
    over = processing(processor.org_id, {batch: ("1000.5", head)}, {processor.batch("M1"): "1"})
    body = _refused(
        world,
        lambda: world.post(processor, sign(over, processor.signer)),
        403,
        "policy-violation",
        rule="insufficient-quantity",
    )
    assert "1000" in body["detail"], "the refusal should say what the batch holds"

    # After consuming 600, 400.000001 is too much and 400 is exactly enough.
    first = processing(processor.org_id, {batch: ("600", head)}, {processor.batch("M1"): "590"})
    head = world.submit(processor, first)["digest"]
    greedy = processing(
        processor.org_id, {batch: ("400.000001", head)}, {processor.batch("M2"): "1"}
    )
    _refused(
        world,
        lambda: world.post(processor, sign(greedy, processor.signer)),
        403,
        "policy-violation",
        rule="insufficient-quantity",
    )
    exact = processing(processor.org_id, {batch: ("400", head)}, {processor.batch("M2"): "395"})
    world.submit(processor, exact)
    assert world.batch(batch)["remaining"] == "0", "the input batch should be used up"


# --- refusals: chain and batches ---------------------------------------------------------


def test_duplicate_lot_is_a_conflict(world: World, harvested: tuple[str, str]) -> None:
    batch, _ = harvested
    again = harvest(world.coop.org_id, batch, "5")
    _refused(
        world,
        lambda: world.post(world.coop, sign(again, world.coop.signer)),
        409,
        "conflict",
        rule="duplicate-lot",
    )


def test_the_same_envelope_twice_is_a_conflict(world: World) -> None:
    envelope = sign(harvest(world.coop.org_id, world.coop.batch(LOT)), world.coop.signer)
    first = world.post(world.coop, envelope)
    assert first.status_code == 201, first.text
    body = _refused(world, lambda: world.post(world.coop, envelope), 409, "conflict")
    assert body.get("index") == first.json()["index"], "the conflict should name the index"


def test_stale_prev_is_a_conflict(world: World, harvested: tuple[str, str]) -> None:
    batch, harvest_digest = harvested
    packed = world.submit(world.coop, packing(world.coop.org_id, batch, harvest_digest))
    stale = certificate(world.coop.org_id, batch, harvest_digest)
    body = _refused(
        world,
        lambda: world.post(world.coop, sign(stale, world.coop.signer)),
        409,
        "conflict",
        rule="stale-chain",
    )
    assert body.get("head") == packed["digest"], "the conflict should give the current head"


def test_null_prev_for_an_existing_batch_is_a_conflict(
    world: World, harvested: tuple[str, str]
) -> None:
    batch, _ = harvested
    document = packing(world.coop.org_id, batch, "0" * 64)
    document["prev"] = {batch: None}
    _refused(
        world,
        lambda: world.post(world.coop, sign(document, world.coop.signer)),
        409,
        "conflict",
        rule="stale-chain",
    )


def test_unknown_batch_is_refused(world: World) -> None:
    document = packing(world.coop.org_id, world.coop.batch("NEVER-HARVESTED"), "a" * 64)
    _refused(
        world,
        lambda: world.post(world.coop, sign(document, world.coop.signer)),
        422,
        "invalid-input",
        rule="unknown-batch",
    )


def test_unknown_product_is_refused(world: World) -> None:
    document = harvest(world.coop.org_id, "00000000-0000-4000-8000-000000000000:" + LOT)
    _refused(
        world,
        lambda: world.post(world.coop, sign(document, world.coop.signer)),
        422,
        "invalid-input",
        rule="unknown-product",
    )


# --- refusals: the payload ---------------------------------------------------------------


def test_quantity_as_a_number_is_refused(world: World) -> None:
    document = harvest(world.coop.org_id, world.coop.batch(LOT))
    document["quantity"] = 1000
    body = _refused(
        world,
        lambda: world.post(world.coop, sign(document, world.coop.signer)),
        422,
        "invalid-input",
        detail="quantity",
    )
    assert any(e["path"] == "quantity" for e in body.get("errors", [])), body


@pytest.mark.parametrize("field", ["unit", "harvest_date", "place", "time", "org"])
def test_missing_field_is_refused(world: World, field: str) -> None:
    document = harvest(world.coop.org_id, world.coop.batch(LOT))
    del document[field]
    body = _refused(
        world,
        lambda: world.post(world.coop, sign(document, world.coop.signer)),
        422,
        "invalid-input",
        detail=field,
    )
    assert any(e["path"] == field for e in body.get("errors", [])), body


@pytest.mark.parametrize("code", ["899999", "150499"])
def test_a_region_code_of_no_division_is_refused(world: World, code: str) -> None:
    """Well formed, but no GB/T 2260 division has it: refused, naming the field and code."""
    document = harvest(world.coop.org_id, world.coop.batch(LOT))
    document["place"] = {"region": code}
    body = _refused(
        world,
        lambda: world.post(world.coop, sign(document, world.coop.signer)),
        422,
        "invalid-input",
        detail=code,
    )
    assert body["field"] == "place.region" and body["region"] == code, body
    assert "place.region" in body["detail"] and "GB/T 2260" in body["detail"], body
    assert any(e["path"] == "place.region" for e in body.get("errors", [])), body


def test_a_shipment_to_a_region_of_no_division_is_refused(
    world: World, harvested: tuple[str, str]
) -> None:
    ref, head = harvested
    document = shipping(world.carrier.org_id, ref, head, world.processor.org_id)
    document["to"] = {"name": "某仓库", "place": {"region": "899999"}}
    body = _refused(
        world,
        lambda: world.post(world.carrier, sign(document, world.carrier.signer)),
        422,
        "invalid-input",
        detail="899999",
    )
    assert body["field"] == "to.place.region", body


def test_unknown_kind_is_refused(world: World) -> None:
    document = harvest(world.coop.org_id, world.coop.batch(LOT))
    document["kind"] = "teleportation"
    _refused(
        world,
        lambda: world.post(world.coop, sign(document, world.coop.signer)),
        422,
        "invalid-input",
        detail="teleportation",
    )


def test_integer_beyond_the_jcs_range_is_refused(world: World, harvested: tuple[str, str]) -> None:
    batch, head = harvested
    document = packing(world.coop.org_id, batch, head)
    document["package"]["count"] = 123456789
    payload = canonicalize(document).replace(b'"count":123456789', b'"count":9007199254740993')
    assert b"9007199254740993" in payload
    body = _refused(
        world,
        lambda: world.post(world.coop, sign(payload, world.coop.signer)),
        422,
        "not-canonicalizable",
        detail="2**53",
    )
    assert body.get("path") == "$.package.count", f"the problem should locate the value: {body}"


def test_non_canonical_payload_is_refused(world: World) -> None:
    document = harvest(world.coop.org_id, world.coop.batch(LOT))
    for payload in (
        json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1).encode(),
        json.dumps(document, ensure_ascii=False).encode(),  # unsorted keys
        canonicalize(document) + b"\n",
    ):
        _refused(
            world,
            lambda payload=payload: world.post(world.coop, sign(payload, world.coop.signer)),
            422,
            "not-canonicalizable",
            detail="canonical",
        )


def test_payload_that_is_not_json_is_refused(world: World) -> None:
    _refused(
        world,
        lambda: world.post(world.coop, sign(b"\xff{not json", world.coop.signer)),
        422,
        "not-canonicalizable",
        detail="not valid JSON",
    )


def test_wrong_payload_type_is_refused(world: World) -> None:
    document = harvest(world.coop.org_id, world.coop.batch(LOT))
    envelope = sign(document, world.coop.signer, payload_type="application/json")
    _refused(
        world,
        lambda: world.post(world.coop, envelope),
        422,
        "invalid-input",
        detail="payloadType",
    )


def test_record_time_in_the_future_is_refused(world: World) -> None:
    document = harvest(world.coop.org_id, world.coop.batch(LOT))
    document["time"] = at(-1)  # an hour ahead
    _refused(
        world,
        lambda: world.post(world.coop, sign(document, world.coop.signer)),
        422,
        "invalid-input",
        rule="time-in-future",
    )


# --- refusals: the HTTP request ----------------------------------------------------------


def test_malformed_json_body_is_400(world: World) -> None:
    _refused(
        world,
        lambda: world.client.post(
            "/api/v1/records",
            content=b'{"payload": "abc", ',
            headers={**world.coop.headers, "Content-Type": "application/json"},
        ),
        400,
        "malformed-json",
    )


def test_envelope_with_unknown_field_is_refused(world: World) -> None:
    envelope = sign(harvest(world.coop.org_id, world.coop.batch(LOT)), world.coop.signer)
    envelope["note"] = "smuggled"
    _refused(world, lambda: world.post(world.coop, envelope), 422, "invalid-input", detail="note")


def test_envelope_with_bad_base64_is_refused(world: World) -> None:
    envelope = sign(harvest(world.coop.org_id, world.coop.batch(LOT)), world.coop.signer)
    envelope["payload"] = envelope["payload"][:-3] + "!!="
    _refused(world, lambda: world.post(world.coop, envelope), 422, "invalid-input", detail="base64")


def test_missing_bearer_token_is_401(world: World) -> None:
    envelope = sign(harvest(world.coop.org_id, world.coop.batch(LOT)), world.coop.signer)
    response = None

    def post() -> Any:
        nonlocal response
        response = world.client.post("/api/v1/records", json=envelope)
        return response

    _refused(world, post, 401, "unauthenticated", detail="token")
    assert response is not None and response.headers.get("www-authenticate") == "Bearer"
    _refused(
        world,
        lambda: world.client.post(
            "/api/v1/records", json=envelope, headers={"Authorization": "Basic Zm9vOmJhcg=="}
        ),
        401,
        "unauthenticated",
        detail="Bearer",
    )
    _refused(
        world,
        lambda: world.client.post(
            "/api/v1/records", json=envelope, headers={"Authorization": "Bearer grt_nonsense"}
        ),
        401,
        "unauthenticated",
        detail="unknown",
    )


def test_revoked_api_token_is_401(world: World) -> None:
    coop = world.coop
    listed = world.client.get("/api/v1/tokens", headers=coop.headers).json()
    assert len(listed) == 1, f"the clerk should have one token, has {listed}"
    revoked = world.client.delete(f"/api/v1/tokens/{listed[0]['id']}", headers=coop.headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"], revoked.text
    envelope = sign(harvest(coop.org_id, coop.batch(LOT)), coop.signer)
    _refused(world, lambda: world.post(coop, envelope), 401, "unauthenticated", detail="revoked")


# --- refusals: custodial drafts ----------------------------------------------------------


def test_custodial_draft_without_a_custodial_key_is_a_conflict(world: World) -> None:
    draft = {"kind": "storage", "batches": [world.coop.batch(LOT)], "location": "warehouse"}
    _refused(
        world,
        lambda: world.client.post(
            "/api/v1/records/custodial", json=draft, headers=world.carrier.headers
        ),
        409,
        "conflict",
        rule="no-custodial-key",
    )


def test_custodial_draft_of_a_key_record_is_refused(world: World) -> None:
    draft = {"kind": "key_revocation", "key_id": "a" * 64, "reason": "no"}
    _refused(
        world,
        lambda: world.client.post(
            "/api/v1/records/custodial", json=draft, headers=world.coop.headers
        ),
        422,
        "invalid-input",
        detail="keys API",
    )


def test_custodial_draft_for_an_unknown_batch_is_refused(world: World) -> None:
    draft = {
        "kind": "packing",
        "batches": [world.coop.batch("NOPE")],
        "package": {"count": 1, "size": "1", "unit": "kg"},
    }
    _refused(
        world,
        lambda: world.client.post(
            "/api/v1/records/custodial", json=draft, headers=world.coop.headers
        ),
        422,
        "invalid-input",
        rule="unknown-batch",
    )


def test_custodial_draft_cannot_sign_for_another_organization(
    world: World, harvested: tuple[str, str]
) -> None:
    batch, _ = harvested
    # The official's custodial key may not pack; the draft's org is overwritten, not trusted.
    draft = {
        "kind": "packing",
        "org": world.coop.org_id,
        "batches": [batch],
        "package": {"count": 1, "size": "1", "unit": "kg"},
    }
    _refused(
        world,
        lambda: world.client.post(
            "/api/v1/records/custodial", json=draft, headers=world.official.headers
        ),
        403,
        "policy-violation",
        rule="kind-not-allowed",
    )


# --- refusals: body size -------------------------------------------------------------------


def _padded(envelope: dict[str, Any], size: int) -> bytes:
    """The envelope's JSON padded with (insignificant) trailing whitespace to ``size`` bytes."""
    text = json.dumps(envelope).encode()
    assert len(text) < size
    return text + b" " * (size - len(text))


def test_body_over_the_limit_is_413(small_world: World) -> None:
    from tests.api.conftest import SMALL_BODY_LIMIT

    world = small_world
    envelope = sign(harvest(world.coop.org_id, world.coop.batch(LOT)), world.coop.signer)
    headers = {**world.coop.headers, "Content-Type": "application/json"}
    body = _refused(
        world,
        lambda: world.client.post(
            "/api/v1/records", content=_padded(envelope, SMALL_BODY_LIMIT + 1), headers=headers
        ),
        413,
        "body-too-large",
    )
    assert str(SMALL_BODY_LIMIT) in body["detail"], "the problem should state the limit"
    # The same envelope at exactly the limit is accepted: the size alone was refused.
    at_limit = world.client.post(
        "/api/v1/records", content=_padded(envelope, SMALL_BODY_LIMIT), headers=headers
    )
    assert at_limit.status_code == 201, f"a body at the limit was refused: {at_limit.text}"


def test_streamed_body_over_the_limit_is_413(small_world: World) -> None:
    from tests.api.conftest import SMALL_BODY_LIMIT

    world = small_world
    envelope = sign(harvest(world.coop.org_id, world.coop.batch(LOT)), world.coop.signer)
    body = _padded(envelope, SMALL_BODY_LIMIT * 2)

    def chunks() -> Any:  # no Content-Length: the limit must hold while streaming
        for start in range(0, len(body), 1024):
            yield body[start : start + 1024]

    _refused(
        world,
        lambda: world.client.post(
            "/api/v1/records",
            content=chunks(),
            headers={**world.coop.headers, "Content-Type": "application/json"},
        ),
        413,
        "body-too-large",
    )
