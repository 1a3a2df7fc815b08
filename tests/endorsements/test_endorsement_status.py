"""Status transitions (docs/records.md): not_yet_valid → valid → expired by the clock; a recall
of any ancestor turns the endorsement to ``recalled`` at once, and outranks a revocation."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from tests.endorsements.world import (
    World,
    assert_problem,
    assert_verifies_offline,
    expect,
    moment,
    stream,
    wait_for,
)


def test_validity_window_follows_the_clock(world: World) -> None:
    start = moment(hours=-1)
    valid_from = start
    valid_until = start + timedelta(days=2)
    code = world.endorse(
        world.good_millet("CLOCK-1"),
        stream_doc=stream(start=start, hours=3),
        valid_from=valid_from.isoformat(),
        valid_until=valid_until.isoformat(),
    )
    signed = world.verify(code)["endorsement"]
    assert datetime.fromisoformat(signed["valid_from"]) == valid_from, signed["valid_from"]
    assert datetime.fromisoformat(signed["valid_until"]) == valid_until, signed["valid_until"]

    def status_at(when: datetime) -> str:
        world.set_clock(lambda: when)
        verified = world.verify(code)["status"]
        listed = expect(world.client.get(f"/api/v1/endorsements/{code}"), 200, "endorsement")
        assert listed["status"] == verified, (
            f"at {when}: /verify says {verified}, /endorsements says {listed['status']}"
        )
        return str(verified)

    original = world.ctx.clock
    try:
        for when, expected in (
            (valid_from - timedelta(days=1), "not_yet_valid"),
            (valid_from - timedelta(seconds=1), "not_yet_valid"),
            (valid_from, "valid"),
            (valid_until - timedelta(seconds=1), "valid"),
            (valid_until, "expired"),
            (valid_until + timedelta(days=30), "expired"),
        ):
            assert status_at(when) == expected, f"at {when} the status must be {expected}"
    finally:
        world.set_clock(original)
    assert world.status(code) == "valid", "the status with the real clock"

    # A stream next week: endorsed now, not yet valid until it starts.
    later = world.endorse(
        world.good_millet("CLOCK-2"),
        stream_doc=stream(start=moment(days=7), title="丰收节 Harvest festival"),
    )
    assert world.status(later) == "not_yet_valid", "an endorsement for next week's stream"


def _recalled_within(world: World, code: str, seconds: float) -> dict[str, Any]:
    def recalled() -> dict[str, Any] | None:
        document = world.verify(code)
        return document if document["status"] == "recalled" else None

    started = time.monotonic()
    document: dict[str, Any] = wait_for(recalled, seconds, f"{code} turning to recalled")
    assert time.monotonic() - started <= seconds
    return document


def test_recall_two_processing_steps_upstream_recalls_the_endorsement(world: World) -> None:
    raw_a, _, bags_a = world.packaged_millet("A")
    raw_b, _, bags_b = world.packaged_millet("B")
    code_a = world.endorse(bags_a)
    code_b = world.endorse(bags_b, stream_doc=stream(title="第二场 Second stream"))
    assert world.status(code_a) == world.status(code_b) == "valid"

    def recall(raw: str, reason: str) -> dict[str, Any]:
        return {"kind": "recall", "batches": [raw], "reason": reason}

    # Who may recall: the producer or an authority covering the origin, nobody else.
    assert_problem(
        world.custodial(world.far_head, recall(raw_a, "越权 out of bounds")),
        403,
        rule="outside-jurisdiction",
        what="Shan County's head recalling Aohan millet",
    )
    assert_problem(
        world.custodial(world.lab, recall(raw_a, "not mine")),
        403,
        rule="kind-not-allowed",
        what="a lab recalling",
    )
    assert world.status(code_a) == "valid", "a refused recall changed the status"

    # The producing cooperative recalls the raw millet of lot A.
    reason_a = "抽检发现黄曲霉毒素B1超标 Aflatoxin B1 above the limit in a market sample"
    expect(world.custodial(world.coop, recall(raw_a, reason_a)), 201, "the cooperative's recall")
    document = _recalled_within(world, code_a, 2)
    assert document["status_reason"] == reason_a and document["recall"]["reason"] == reason_a, (
        f"the recall reason must be shown: {document['status_reason']!r}"
    )
    recalled = {b["lot"]: b["recalled"] for b in document["batches"]}
    assert recalled == {"RA": True, "HA": True, "PA": True}, (
        f"the recall must reach the raw millet and both products made from it: {recalled}"
    )
    assert "recall" in [e["kind"] for e in document["chain"]], "the recall record is not shown"
    assert_verifies_offline(document)
    listed = expect(world.client.get(f"/api/v1/endorsements/{code_a}"), 200, "endorsement A")
    assert listed["status"] == "recalled", f"/endorsements disagrees with /verify: {listed}"
    assert world.status(code_b) == "valid", "a recall of lot A reached lot B's endorsement"

    # An official of the authority recalls lot B; a revocation does not outrank it.
    reason_b = "仓储虫害 Storage pests found at the mill"
    expect(world.custodial(world.head, recall(raw_b, reason_b)), 201, "the banner head's recall")
    document = _recalled_within(world, code_b, 2)
    assert document["status_reason"] == reason_b, document["status_reason"]
    expect(world.revoke(world.head, code_b, "同时撤销 also revoked"), 200, "revoking after recall")
    document = world.verify(code_b)
    assert document["status"] == "recalled", "a recall must outrank a revocation"
    assert document["revocation"]["reason"] == "同时撤销 also revoked", document["revocation"]
