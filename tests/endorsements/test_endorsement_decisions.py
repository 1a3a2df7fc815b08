"""An official's decisions: threshold approval, rejection, revocation (docs/records.md)."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from registry.codes import new_code
from registry.crypto.dsse import sign_envelope
from registry.crypto.jcs import canonicalize
from registry.crypto.keys import Signer
from registry.records.schema import RECORD_PAYLOAD_TYPE
from tests.endorsements.world import (
    World,
    assert_problem,
    assert_verifies_offline,
    expect,
    moment,
    stamp,
)


def test_threshold_needs_two_distinct_officials(threshold_world: World) -> None:
    world = threshold_world
    request_id = world.requested(world.coop, [world.good_millet("TWO-1")], "head")

    first = expect(world.approve(world.head, request_id), 200, "the first official approving")
    assert first["status"] == "partially_approved" and first["signatures"] == 1, (
        f"one of two signatures leaves the request partially approved: {first}"
    )
    assert world.endorsement_count() == 0, "an endorsement exists after one of two approvals"
    if first["code"]:
        # The code may be reserved, but it must not resolve to a guarantee yet.
        assert_problem(
            world.client.get(f"/api/v1/verify/{first['code']}"),
            404,
            what="verifying a half-approved endorsement's code",
        )

    twice = assert_problem(
        world.approve(world.head, request_id), 409, what="the same official approving twice"
    )
    assert "already approved" in twice["detail"], f"the refusal must say why: {twice['detail']}"
    assert_problem(world.approve(world.lab, request_id), 403, what="a lab approving")
    again = expect(
        world.client.get(f"/api/v1/endorsement-requests/{request_id}", headers=world.coop.headers),
        200,
        "the request",
    )
    assert again["status"] == "partially_approved" and again["signatures"] == 1, (
        f"refused approvals changed the request: {again}"
    )

    code = world.approved(world.deputy, request_id)
    assert world.endorsement_count() == 1
    if first["code"]:
        assert code == first["code"], "the code shown after the first approval changed"
    document = world.verify(code)
    assert document["status"] == "valid", document["status"]
    assert document["endorsement"]["threshold"] == 2, document["endorsement"]
    names = sorted(o["name_zh"].rsplit("·", 1)[-1] for o in document["endorsement"]["officials"])
    assert names == ["deputy", "head"], f"both officials must be named: {names}"
    entry = next(e for e in document["chain"] if e["kind"] == "endorsement")
    holders = {k["key_id"]: k["holder"]["name_zh"] for k in document["keys"]}
    signed_by = sorted(
        holders[s["keyid"]].rsplit("·", 1)[-1] for s in entry["envelope"]["signatures"]
    )
    assert signed_by == ["deputy", "head"], (
        f"the one endorsement envelope must carry both officials' signatures: {signed_by}"
    )
    assert_verifies_offline(document, registry_key_listed=True)


def test_one_official_with_two_keys_does_not_meet_a_threshold(threshold_world: World) -> None:
    world = threshold_world
    request_id = world.requested(world.coop, [world.good_millet("TWO-KEYS")], "head")
    document = world.endorsement_document(request_id)

    # The head registers a client-held key besides the custodial one.
    second = Signer.generate()
    draft = expect(
        world.client.post(
            "/api/v1/keys/drafts",
            json={"public_key": base64.b64encode(second.public_key_raw).decode()},
            headers=world.head.headers,
        ),
        200,
        "the head's key draft",
    )
    registration = sign_envelope(
        draft["payloadType"], base64.b64decode(draft["payload"]), [second]
    ).to_json()
    expect(
        world.client.post(
            "/api/v1/keys", json={"envelope": registration}, headers=world.head.headers
        ),
        201,
        "registering the head's second key",
    )

    lenient = TestClient(world.app, raise_server_exceptions=False)
    envelope = sign_envelope(
        RECORD_PAYLOAD_TYPE,
        canonicalize(document),
        [world.signer(world.head), second],
    ).to_json()
    response = lenient.post("/api/v1/records", json=envelope, headers=world.head.headers)
    assert_problem(
        response, 403, rule="approvals-required", what="one official signing twice with two keys"
    )
    assert world.endorsement_count() == 0


def test_reject_with_a_reason(world: World) -> None:
    request_id = world.requested(world.coop, [world.good_millet("REJ-1")], "head")
    path = f"/api/v1/endorsement-requests/{request_id}/reject"

    assert_problem(
        world.client.post(path, json={"reason": "不行"}, headers=world.coop.headers),
        403,
        what="the cooperative rejecting its own request",
    )
    assert_problem(
        world.client.post(path, json={"reason": ""}, headers=world.head.headers),
        422,
        what="rejecting without a reason",
    )
    reason = "检测报告与批次不符 The lab report does not match the batch"
    rejected = expect(
        world.client.post(path, json={"reason": reason}, headers=world.head.headers),
        200,
        "the official rejecting",
    )
    assert rejected["status"] == "rejected" and rejected["reason"] == reason, (
        f"a rejection keeps its reason: {rejected}"
    )
    assert rejected["decided_at"], "a rejection records when it was decided"

    for who in (world.head, world.deputy):
        assert_problem(
            world.approve(who, request_id),
            409,
            rule="request-decided",
            what="approving a rejected request",
        )
    assert_problem(
        world.client.post(path, json={"reason": "again"}, headers=world.head.headers),
        409,
        rule="request-decided",
        what="rejecting twice",
    )
    assert world.endorsement_count() == 0, "a rejected request produced an endorsement"
    seen = expect(
        world.client.get(f"/api/v1/endorsement-requests/{request_id}", headers=world.coop.headers),
        200,
        "the cooperative reading its rejected request",
    )
    assert seen["status"] == "rejected" and seen["reason"] == reason, seen


def test_revocation_only_by_the_endorser_or_their_authority(world: World) -> None:
    by_head = world.endorse(world.good_millet("REV-1"))
    by_colleague = world.endorse(world.good_millet("REV-2"))
    reason = "主播夸大宣传 The host claimed more than the lab results show"

    for who, what in (
        (world.far_head, "an official of another authority"),
        (world.coop, "the cooperative"),
        (world.lab, "a lab"),
    ):
        assert_problem(world.revoke(who, by_head, reason), 403, what=f"{what} revoking")
    # Nor can an outside official's signed revocation record be posted directly.
    endorsement = world.verify(by_head)["endorsement"]
    forged = {
        "kind": "endorsement_revocation",
        "time": stamp(moment()),
        "org": str(world.far_head.org_id),
        "endorsement": endorsement["digest"],
        "code": by_head,
        "reason": reason,
    }
    assert_problem(
        world.post_envelope(world.far_head, forged, world.signer(world.far_head)),
        403,
        rule="revocation-by-endorser",
        what="a revocation record signed by Shan County's head",
    )
    assert world.status(by_head) == "valid", "a refused revocation changed the status"

    revoked = expect(world.revoke(world.head, by_head, reason), 200, "the endorser revoking")
    assert revoked["status"] == "revoked" and revoked["revocation_reason"] == reason, revoked
    colleague_reason = "复核发现仓储温度记录缺失 Storage temperatures are missing on review"
    revoked = expect(
        world.revoke(world.deputy, by_colleague, colleague_reason),
        200,
        "another official of the same authority revoking",
    )
    assert revoked["status"] == "revoked", revoked

    assert_problem(
        world.revoke(world.head, by_head, "再次撤销 once more"),
        409,
        rule="revoked",
        what="revoking twice",
    )
    assert_problem(
        world.revoke(world.head, new_code(), reason), 404, what="revoking an unknown code"
    )

    for code, why in ((by_head, reason), (by_colleague, colleague_reason)):
        document = world.verify(code)
        assert document["status"] == "revoked", (
            f"{code} must verify as revoked: {document['status']}"
        )
        assert document["status_reason"] == why and document["revocation"]["reason"] == why, (
            f"the revocation reason must be shown: {document['status_reason']!r}"
        )
        kinds = [e["kind"] for e in document["chain"]]
        assert "endorsement_revocation" in kinds, (
            f"the signed revocation is not in the chain: {kinds}"
        )
        assert_verifies_offline(document, registry_key_listed=True)
