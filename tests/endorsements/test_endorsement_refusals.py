"""Who may endorse, and which evidence is enough (docs/records.md: the endorsement preconditions).

Refused: an official outside the jurisdiction, a cooperative account, a lab account; and,
by name, every default precondition that does not hold. A refusal writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.endorsements.world import (
    PRECONDITIONS,
    SHANXIAN,
    World,
    assert_problem,
    expect,
    moment,
    stamp,
    stream,
)


def test_who_may_endorse(world: World) -> None:
    millet = world.good_millet("WHO-1")

    # An official of another authority: the batch originates outside their jurisdiction.
    body = assert_problem(
        world.request(world.coop, [millet], "far-head"),
        403,
        rule="outside-jurisdiction",
        what="asking Shan County's head to endorse Aohan millet",
    )
    assert "150430" in body["detail"], f"the refusal must name the batch's region: {body}"

    # A harvest by a cooperative outside the authority's jurisdiction: refused at request time.
    eggs = world.harvest(world.far_coop, "eggs", "SX-1", place=SHANXIAN)
    world.certify(world.far_coop, eggs)
    world.inspect(eggs)
    assert_problem(
        world.request(world.far_coop, [eggs], "head"),
        403,
        rule="outside-jurisdiction",
        what="asking Aohan's head to endorse Shan County eggs",
    )
    listed = expect(
        world.client.get("/api/v1/endorsement-requests", headers=world.coop.headers),
        200,
        "listing the cooperative's requests",
    )
    assert listed == [], f"a refused request must not be stored: {listed}"
    # Control: the eggs' own county may endorse them.
    world.endorse(eggs, official="far_head")

    request_id = world.requested(world.coop, [millet], "head")
    for who, what in (
        (world.far_head, "an official of another authority"),
        (world.coop, "the requesting cooperative's clerk"),
        (world.lab, "a lab analyst"),
        (world.mill, "a processor's clerk"),
    ):
        assert_problem(world.review(who, request_id), 403, what=f"{what} reviewing")
        assert_problem(
            world.approve(who, request_id), 403, slug="forbidden", what=f"{what} approving"
        )
    assert world.request_status(request_id) == "pending", "refused approvals changed the request"
    before = world.endorsement_count()

    # The same refusals when the endorsement record is signed and posted directly.
    document = world.endorsement_document(request_id)
    for who, rule in (
        (world.coop, "endorsement-signers"),
        (world.lab, "endorsement-signers"),
    ):
        assert_problem(
            world.post_envelope(who, document, world.signer(who)),
            403,
            rule=rule,
            what=f"an endorsement record signed by {who.name}",
        )
    forged = {**document, "org": str(world.far_head.org_id)}
    assert_problem(
        world.post_envelope(world.far_head, forged, world.signer(world.far_head)),
        403,
        rule="outside-jurisdiction",
        what="an endorsement of Aohan millet signed by Shan County's head",
    )
    assert world.endorsement_count() == before, "a refused endorsement record was stored"
    assert world.request_status(request_id) == "pending"

    # Control: the same record signed by the official asked is accepted.
    expect(
        world.post_envelope(world.head, document, world.signer(world.head)),
        201,
        "the banner head posting the endorsement record signed with their key",
    )
    assert world.request_status(request_id) == "approved", "the posted endorsement did not approve"
    assert world.status(document["code"]) == "valid"


# --- each unmet precondition, refused by name --------------------------------------------


@dataclass(frozen=True)
class Case:
    precondition: str
    detail: str  # what the reason must mention
    build: Callable[[World], str]  # returns the batch to request
    after_request: Callable[[World, str], None] | None = None
    may_also_fail: tuple[str, ...] = ()  # preconditions a stricter policy may fail too


def _no_lab_test(world: World) -> str:
    batch = world.harvest(world.coop, "millet", "NOLAB")
    world.certify(world.coop, batch)
    return batch


def _stale_lab_test(world: World) -> str:
    batch = world.harvest(world.coop, "millet", "OLDLAB", days_ago=120)
    world.certify(world.coop, batch, days_ago=118)
    world.inspect(batch, days_ago=95)  # the stream starts an hour ago: 95 > 90 days
    return batch


def _failed_lab_test(world: World) -> str:
    batch = world.harvest(world.coop, "millet", "FAILLAB")
    world.certify(world.coop, batch)
    world.inspect(batch, verdict="fail")
    return batch


def _no_producer_certificate(world: World) -> str:
    # The raw millet has the cooperative's 合格证, but the bags are the mill's product and
    # the mill issued none: an ancestor's certificate by another producer does not count.
    raw = world.good_millet("RNOCERT")
    hulled = world.mill.ref("hulled", "HNOCERT")
    bags = world.mill.ref("packaged", "PNOCERT")
    world.process([(raw, "1000")], [(hulled, "800", "kg")], days_ago=12)
    world.process([(hulled, "800")], [(bags, "320", "bag")], days_ago=10)
    return bags


def _recall_the_raw_millet(world: World, bags: str) -> None:
    # Between the request and the approval, the cooperative recalls the raw millet.
    raw = world.coop.ref("millet", "RRECALL")
    expect(
        world.custodial(world.coop, {"kind": "recall", "batches": [raw], "reason": "霉变 mould"}),
        201,
        "the cooperative recalling its raw millet",
    )


def _recalled_ancestor(world: World) -> str:
    _, _, bags = world.packaged_millet("RECALL")
    return bags


def _past_best_before(world: World) -> str:
    batch = world.good_millet("STALE", best_before=moment(days=-2).date().isoformat())
    return batch


def _compromise_the_lab_key(world: World, _: str) -> None:
    # The lab reports its key compromised since before it signed the inspection.
    keys = expect(world.client.get("/api/v1/keys", headers=world.lab.headers), 200, "lab keys")
    (key,) = [k for k in keys if k["status"] == "active"]
    expect(
        world.client.post(
            f"/api/v1/keys/{key['key_id']}/revoke",
            json={
                "reason": "笔记本电脑失窃 laptop stolen",
                "compromised_since": stamp(moment(-30)),
            },
            headers=world.lab.headers,
        ),
        200,
        "the lab revoking its compromised key",
    )


CASES = {
    "no lab inspection": Case("lab_test", "no passing lab inspection", _no_lab_test),
    "inspection older than 90 days": Case("lab_test", "within 90 days", _stale_lab_test),
    "failed inspection": Case("lab_test", "failed", _failed_lab_test),
    "no 合格证 by the producer": Case("certificate", "合格证", _no_producer_certificate),
    "recalled ancestor": Case(
        "no_recall", "RRECALL", _recalled_ancestor, after_request=_recall_the_raw_millet
    ),
    "best-before before the stream ends": Case("no_recall", "best-before", _past_best_before),
    "a record that no longer verifies": Case(
        "chain_verifies",
        "does not verify",
        lambda world: world.good_millet("SUSPECT"),
        after_request=_compromise_the_lab_key,
        may_also_fail=("lab_test",),  # the passing inspection is the suspect record
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_unmet_precondition_is_refused_by_name(world: World, case: Case) -> None:
    batch = case.build(world)
    request_id = world.requested(
        world.producer(batch), [batch], "head", stream_doc=stream(start=moment(hours=-1))
    )
    if case.after_request is not None:
        case.after_request(world, batch)

    review = expect(world.review(world.head, request_id), 200, "the official's review")
    results: dict[str, dict[str, Any]] = {p["id"]: p for p in review["preconditions"]}
    assert list(results) == PRECONDITIONS, f"every precondition must be listed: {list(results)}"
    unmet = [i for i, p in results.items() if not p["ok"] and i not in case.may_also_fail]
    assert unmet == [case.precondition], (
        f"expected exactly {case.precondition!r} to fail, got {unmet}: {review['preconditions']}"
    )
    reason = results[case.precondition]["detail"]
    assert case.detail.lower() in reason.lower(), (
        f"the reason for {case.precondition!r} must mention {case.detail!r}: {reason!r}"
    )
    assert review["ready"] is False, "a request with an unmet precondition is reported ready"

    body = assert_problem(
        world.approve(world.head, request_id),
        403,
        rule=f"precondition-{unmet_first(results)}",
        what="approving despite an unmet precondition",
    )
    assert case.detail.lower() in body["detail"].lower(), (
        f"the refusal must carry the reason: {body['detail']!r}"
    )
    shown = {p["id"]: p["ok"] for p in body.get("preconditions", [])}
    # (the rule names the first unmet precondition; see unmet_first)
    assert shown.get(case.precondition) is False and set(shown) == set(PRECONDITIONS), (
        f"the refusal must list every precondition with its result: {body.get('preconditions')}"
    )
    assert world.request_status(request_id) == "pending", "a refused approval changed the request"
    assert world.endorsement_count() == 0, "a refused approval stored an endorsement"


def unmet_first(results: dict[str, dict[str, Any]]) -> str:
    """The first unmet precondition in the policy's order: the one the refusal names."""
    return next(i for i in PRECONDITIONS if not results[i]["ok"])
