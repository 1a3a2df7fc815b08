"""Signing keys under attack, through the API and the verification document: rotation keeps
old signatures verifying and makes new records need the new key; a revoked key signs
nothing more (whatever time a record claims); a key reported compromised since a time turns
every record it signed after that time, or that was logged after it, into a suspect one, in
``GET /api/v1/verify/{code}``, on the consumer page and on the batch page, and such records
no longer carry a new endorsement."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from registry.models import utcnow
from tests.endorsements.world import (
    Party,
    World,
    assert_problem,
    assert_verifies_offline,
    expect,
    moment,
    stamp,
    wait_for,
)


def _packing(world: World, who: Party, batch: str, hours_ago: float = 1) -> dict[str, Any]:
    """A packing record of ``batch`` as ``who`` would sign it with a client-held key."""
    head = expect(
        world.client.get(f"/api/v1/batches/{world.code_of(batch)}"), 200, f"batch {batch}"
    )["head"]
    return {
        "kind": "packing",
        "time": stamp(moment(hours=-hours_ago)),
        "org": str(who.org_id),
        "batches": [batch],
        "prev": {batch: head},
        "package": {"count": 200, "size": "5", "unit": "kg"},
        "packaging": "布袋 cloth bag",
    }


def _log_size(world: World) -> int:
    response = world.client.get("/log/checkpoint")
    assert response.status_code == 200, response.text
    return int(response.text.splitlines()[1])


def _signers(entry: dict[str, Any]) -> set[str]:
    return {s["keyid"] for s in entry["envelope"]["signatures"]}


def _key(document: dict[str, Any], key_id: str) -> dict[str, Any]:
    found = [k for k in document["keys"] if k["key_id"] == key_id]
    assert found, f"key {key_id[:12]} is not listed in the verify document's keys"
    return found[0]


def _revoke(world: World, who: Party, key_id: str, **extra: Any) -> dict[str, Any]:
    return expect(
        world.client.post(
            f"/api/v1/keys/{key_id}/revoke",
            json={"reason": "笔记本电脑失窃 laptop stolen", **extra},
            headers=who.headers,
        ),
        200,
        f"{who.name} revoking key {key_id[:12]}",
    )


def _step(page: str, index: int) -> str:
    """The HTML of the step ``index`` on a consumer or batch page (entities unescaped)."""
    found = re.search(rf'<li class="[^"]*" id="step-{index}".*?</li>', page, re.DOTALL)
    assert found, f"step {index} is not on the page"
    return html.unescape(found.group(0))


def _suspect(step: str) -> bool:
    return "unverified" in step.split(">", 1)[0] and "suspect" in step


def test_rotation_keeps_old_signatures_and_new_records_need_the_new_key(world: World) -> None:
    batch = world.good_millet("ROT")  # harvest and 合格证 signed with the coop's first key
    old = world.signer(world.coop)
    rotated = expect(
        world.client.post(
            "/api/v1/keys/custodial", json={"rotates": old.key_id}, headers=world.coop.headers
        ),
        201,
        "the cooperative rotating its custodial key",
    )
    new_id = rotated["key_id"]
    assert new_id != old.key_id
    old_row = expect(world.client.get(f"/api/v1/keys/{old.key_id}"), 200, "the old key")
    assert old_row["status"] == "rotated" and old_row["replaced_by"] == new_id, old_row

    # The old key signs nothing more, even a record claiming a time before the rotation.
    size = _log_size(world)
    refused = world.post_envelope(world.coop, _packing(world, world.coop, batch, hours_ago=30), old)
    assert_problem(refused, 403, rule="key-rotated", what="a record signed with a rotated key")
    assert _log_size(world) == size, "a refused record reached the log"

    # The custodial path signs with the new key.
    draft = {
        k: v for k, v in _packing(world, world.coop, batch).items() if k not in ("org", "prev")
    }
    world.record(world.coop, draft)
    code = world.endorse(batch)
    document = world.verify(code)
    assert_verifies_offline(document, world.client.get("/log/vkey").text)
    by_key: dict[str, list[str]] = {}
    for entry in document["chain"]:
        for key_id in _signers(entry):
            by_key.setdefault(key_id, []).append(entry["kind"])
        assert entry["verified"] and entry["problem"] is None, entry
    assert {"harvest", "certificate"} <= set(by_key[old.key_id]), (
        "the records signed before the rotation are not in the chain with the old key"
    )
    assert "packing" in by_key[new_id], "the record after the rotation is not signed by the new key"
    assert _key(document, old.key_id)["status"] == "rotated"
    assert _key(document, new_id)["status"] == "active"


def test_a_revoked_key_signs_nothing_more(world: World) -> None:
    batch = world.good_millet("REV")
    code = world.endorse(batch)
    signer = world.signer(world.coop)
    revoked = _revoke(world, world.coop, signer.key_id)
    assert revoked["status"] == "revoked" and revoked["revoked_at"], revoked
    assert revoked["compromised_since"] is None

    size = _log_size(world)
    # Signed "yesterday" (before the revocation), posted after it: refused all the same.
    backdated = _packing(world, world.coop, batch, hours_ago=24)
    refused = world.post_envelope(world.coop, backdated, signer)
    assert_problem(refused, 403, rule="key-revoked", what="a backdated record of a revoked key")
    # The registry will not sign with it either.
    custodial = world.custodial(world.coop, {"kind": "packing", "batches": [batch]})
    assert_problem(custodial, 409, rule="no-custodial-key", what="a draft after the revocation")
    assert _log_size(world) == size, "a record of a revoked key reached the log"

    # A revocation without a compromise leaves what the key signed before it valid.
    document = world.verify(code)
    assert document["status"] == "valid"
    assert all(e["verified"] for e in document["chain"]), [
        (e["index"], e["problem"]) for e in document["chain"] if not e["verified"]
    ]
    assert _key(document, signer.key_id)["status"] == "revoked"


def test_a_compromised_key_makes_what_it_signed_after_the_compromise_suspect(
    world: World,
) -> None:
    lab_key = world.signer(world.lab).key_id
    # Ten days ago (the registry's clock): the harvest, the 合格证 and a first lab test.
    world.set_clock(lambda: datetime.now(UTC) - timedelta(days=10))
    batch = world.harvest(world.coop, "millet", "SUSPECT", days_ago=12)
    world.certify(world.coop, batch, days_ago=11.5)
    world.inspect(batch, days_ago=11)
    world.set_clock(utcnow)
    world.inspect(batch, days_ago=2)  # signed and logged after the compromise below
    world.inspect(batch, days_ago=8)  # logged after it, but claiming a time before it
    code = world.endorse(batch)
    before = world.verify(code)
    assert all(e["verified"] for e in before["chain"]), "everything verifies before the report"
    page_before = world.client.get(f"/e/{code}")  # the scan cache now holds the page
    assert page_before.status_code == 200
    tests = [e for e in before["chain"] if e["kind"] == "inspection"]
    assert not any(_suspect(_step(page_before.text, e["index"])) for e in tests)

    since = moment(days=-5)
    revoked = _revoke(world, world.lab, lab_key, compromised_since=stamp(since))
    assert revoked["status"] == "revoked"
    assert datetime.fromisoformat(revoked["compromised_since"]) == since

    document = world.verify(code)
    inspections = [e for e in document["chain"] if e["kind"] == "inspection"]
    assert len(inspections) == 3, [e["kind"] for e in document["chain"]]
    first, recent, backdated = inspections  # in log order
    assert first["verified"] and first["problem"] is None, (
        f"a record signed and logged before the compromise must still verify: {first['problem']}"
    )
    for entry, what in ((recent, "signed after"), (backdated, "logged after")):
        assert entry["verified"] is False, f"the inspection {what} the compromise verifies"
        assert "compromised" in entry["problem"] and "suspect" in entry["problem"], entry
    others = [e for e in document["chain"] if lab_key not in _signers(e)]
    assert others and all(e["verified"] for e in others), "other signers' records turned suspect"
    key = _key(document, lab_key)
    assert key["status"] == "revoked" and key["compromised_since"], key
    chain_ok = {p["id"]: p["ok"] for p in document["preconditions"]}
    assert chain_ok["chain_verifies"] is False, document["preconditions"]
    assert document["status"] == "valid", "the status vocabulary is unchanged"

    # The consumer page says so for each suspect step (within the scan cache's 2 s).
    def page_marks_suspects() -> str | None:
        page = world.client.get(f"/e/{code}").text
        marked = all(_suspect(_step(page, e["index"])) for e in (recent, backdated))
        return page if marked else None

    page = wait_for(page_marks_suspects, 5, "the consumer page marking the suspect records")
    assert not _suspect(_step(page, first["index"]))
    # And the batch page, where the server's own check marks each step.
    batch_page = world.client.get(f"/b/{world.code_of(batch)}").text
    for entry in (recent, backdated):
        step = _step(batch_page, entry["index"])
        assert 'data-verify="failed"' in step and _suspect(step), step[:400]
    assert 'data-verify="ok"' in _step(batch_page, first["index"])

    # A suspect record does not carry a new endorsement.
    request_id = world.requested(world.coop, [batch], world.head.username)
    refused: httpx.Response = world.approve(world.head, request_id)
    assert_problem(refused, 403, rule="precondition-chain_verifies", what="approving on suspects")
