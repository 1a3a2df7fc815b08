"""The status index in the verification document and the bundle (docs/records.md, "The
status index"): proofs for the code and its whole lineage against the checkpoint's last
entry, the status derived from them, and the bundle's verification refusing what a lying
server would change."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from registry.audit.bundle import verify_bundle
from registry.errors import VerificationError
from registry.log import status_index as si
from registry.operations.publication import publish_witness_policy
from tests.endorsements.world import World, expect


@pytest.fixture(autouse=True)
def _policy_logged(world: World) -> None:
    """A bundle needs a logged witness policy (here: no witness required)."""
    publish_witness_policy(world.app.state.session_factory, world.ctx)


def _bundle(world: World, code: str) -> dict[str, Any]:
    return expect(world.client.get(f"/e/{code}/bundle.json"), 200, f"the bundle of {code}")


def _refused(bundle: dict[str, Any], words: str) -> None:
    with pytest.raises(VerificationError) as caught:
        verify_bundle(bundle)
    assert words in caught.value.detail, caught.value.detail


def test_the_document_proves_the_code_and_every_batch_of_its_lineage(world: World) -> None:
    raw, hulled, packaged = world.packaged_millet("SI-1")
    code = world.endorse(packaged)
    document = world.verify(code)
    index = document["status_index"]
    assert index is not None, "the document carries no status index"
    size = document["checkpoint"]["size"]
    assert index["head"]["index"] == size - 1, "the head is not the checkpoint's last entry"
    payload = base64.b64decode(index["head"]["envelope"]["payload"])
    signed = json.loads(payload)
    assert signed["kind"] == "status_index" and signed["size"] == size - 1, signed
    root = base64.b64decode(signed["root"])
    keys = [p["key"] for p in index["proofs"]]
    assert keys[0] == si.endorsement_key(code), keys
    assert {si.batch_key(b) for b in (raw, hulled, packaged)} <= set(keys), keys
    for proof in index["proofs"]:
        si.verify_proof(root, proof["key"], proof["value"], si.proof_from_json(proof["proof"]))
    values = {p["key"]: p["value"] for p in index["proofs"]}
    assert values[si.endorsement_key(code)] == {
        "endorsement": document["endorsement"]["index"],
        "revocation": None,
    }
    chain = {entry["index"]: entry for entry in document["chain"]}
    for ref in (raw, hulled, packaged):
        value = values[si.batch_key(ref)]
        assert value["recall"] is None, value
        assert ref in chain[value["head"]]["record"]["batches"], (ref, value)

    summary = verify_bundle(_bundle(world, code))
    assert summary.status == "valid", summary


def test_a_revocation_left_out_is_caught(world: World) -> None:
    code = world.endorse(world.good_millet("SI-REV"))
    expect(world.revoke(world.head, code, "wrong lot"), 200, "revoking")
    bundle = _bundle(world, code)
    assert verify_bundle(bundle).status == "revoked"

    # A server that hides the revocation: says valid, drops the record...
    hidden = copy.deepcopy(bundle)
    hidden["status"] = "valid"
    hidden["records"] = [r for r in hidden["records"] if r["kind"] != "endorsement_revocation"]
    _refused(hidden, "the index proves the status 'revoked'")
    # ...and also claims the index says no revocation: the proof no longer leads to the root.
    for proof in hidden["status_index"]["proofs"]:
        if proof["key"] == si.endorsement_key(code):
            proof["value"]["revocation"] = None
    _refused(hidden, "does not lead to the root")


def test_a_wrong_head_or_a_missing_proof_is_refused(world: World) -> None:
    raw = world.good_millet("SI-HEAD")
    code = world.endorse(raw)
    bundle = _bundle(world, code)
    verify_bundle(bundle)

    older = copy.deepcopy(bundle)
    older["status_index"]["head"]["index"] -= 1
    _refused(older, "not the checkpoint's last entry")

    missing = copy.deepcopy(bundle)
    missing["status_index"]["proofs"] = [
        p for p in missing["status_index"]["proofs"] if p["key"] != si.batch_key(raw)
    ]
    _refused(missing, f"no proof for {si.batch_key(raw)}")


def test_a_stale_proof_is_refused(world: World) -> None:
    """A proof from an earlier index (before a newer record of the batch) does not lead to
    the checkpoint's root."""
    raw = world.good_millet("SI-STALE")
    code = world.endorse(raw)
    stale = _bundle(world, code)["status_index"]["proofs"]
    world.inspect(raw, days_ago=1, verdict="fail")
    world.app.state.scan_cache.invalidate()  # a newer step: served within a minute anyway
    bundle = _bundle(world, code)
    fresh = {p["key"]: p for p in bundle["status_index"]["proofs"]}
    old = {p["key"]: p for p in stale}
    assert fresh[si.batch_key(raw)]["value"] != old[si.batch_key(raw)]["value"]
    bundle["status_index"]["proofs"] = stale
    _refused(bundle, "does not lead to the root")
