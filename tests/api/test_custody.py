"""Custody through the HTTP API (docs/records.md, "Custody"): a carrier handles, a lab
inspects and a receiver receives only a batch handed to it; every refusal is problem+json
naming its rule and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import (
    World,
    assert_problem,
    assignment,
    inspection,
    processing,
    receiving,
    shipping,
    sign,
)

LOT = "AH-2026-101"


def storage(org: str, batch: str, prev: str) -> dict[str, Any]:
    return {
        "kind": "storage",
        "time": "2026-01-05T08:00:00+08:00",
        "org": org,
        "batches": [batch],
        "prev": {batch: prev},
        "location": "中转库 relay store",
    }


def _refused(world: World, member: Any, document: dict[str, Any], rule: str) -> dict[str, Any]:
    with world.unchanged(f"a record refused by {rule}"):
        response = world.post(member, sign(document, member.signer))
        return assert_problem(response, 403, "policy-violation", rule=rule)


@pytest.fixture
def batches(world: World) -> dict[str, tuple[str, str]]:
    """Cooperative A's batch, handed to the carrier and the lab; cooperative B's, to nobody."""
    ours, head = world.harvested(world.coop, LOT)
    head = world.assigned(world.coop, ours, head, world.carrier, "carriage")
    head = world.assigned(world.coop, ours, head, world.lab, "inspection")
    theirs, their_head = world.harvested(world.coop_b, "SX-2026-9")
    return {"ours": (ours, head), "theirs": (theirs, their_head)}


def test_a_carrier_not_handed_the_batch_is_refused(world: World, batches: dict) -> None:
    theirs, head = batches["theirs"]
    body = _refused(
        world, world.carrier, storage(world.carrier.org_id, theirs, head), "not-handed-to-carrier"
    )
    assert "SX-2026-9" in body["detail"], "the refusal should name the batch"
    to_mill = shipping(world.carrier.org_id, theirs, head, world.processor.org_id)
    _refused(world, world.carrier, to_mill, "not-handed-to-carrier")


def test_the_assigned_carrier_stores_and_ships(world: World, batches: dict) -> None:
    ours, head = batches["ours"]
    head = world.submit(world.carrier, storage(world.carrier.org_id, ours, head))["digest"]
    shipped = shipping(world.carrier.org_id, ours, head, world.processor.org_id)
    world.submit(world.carrier, shipped)


def test_a_lab_not_asked_is_refused_and_the_asked_lab_accepted(world: World, batches: dict) -> None:
    theirs, their_head = batches["theirs"]
    failing = inspection(world.lab.org_id, theirs, their_head, verdict="fail")
    failing["results"][0]["verdict"] = "fail"
    body = _refused(world, world.lab, failing, "lab-not-assigned")
    assert "SX-2026-9" in body["detail"]
    ours, head = batches["ours"]
    world.submit(world.lab, inspection(world.lab.org_id, ours, head))


def test_only_the_named_destination_receives(world: World, batches: dict) -> None:
    ours, head = batches["ours"]
    shipped = shipping(world.carrier.org_id, ours, head, world.processor.org_id)
    head = world.submit(world.carrier, shipped)["digest"]
    # The other cooperative's processor? There is one: the shipment names it, so a cooperative
    # (or the carrier) claiming to receive it is refused.
    wrong = receiving(world.carrier.org_id, ours, head, world.coop.org_id)
    _refused(world, world.carrier, wrong, "receiver-not-destination")
    right = receiving(world.processor.org_id, ours, head, world.carrier.org_id)
    head = world.submit(world.processor, right)["digest"]
    assert world.batch(ours)["head"] == head


def test_receiving_without_a_shipment_naming_the_receiver_is_refused(
    world: World, batches: dict
) -> None:
    ours, head = batches["ours"]
    unnamed = shipping(world.carrier.org_id, ours, head, world.processor.org_id)
    unnamed["to"] = {"name": "某超市 a supermarket"}
    head = world.submit(world.carrier, unnamed)["digest"]
    body = _refused(
        world,
        world.processor,
        receiving(world.processor.org_id, ours, head, world.carrier.org_id),
        "receiver-not-destination",
    )
    assert "names no registry organization" in body["detail"]


def test_processing_needs_the_input_received_first(world: World, batches: dict) -> None:
    ours, head = batches["ours"]
    output = world.processor.batch("MILL-101")
    early = processing(world.processor.org_id, {ours: ("10", head)}, {output: "9"})
    _refused(world, world.processor, early, "input-not-held")


def test_only_the_holder_assigns_and_only_to_an_organization_of_the_right_kind(
    world: World, batches: dict
) -> None:
    theirs, head = batches["theirs"]
    grab = assignment(world.coop.org_id, theirs, head, world.carrier.org_id, "carriage")
    _refused(world, world.coop, grab, "not-holder")
    wrong_kind = assignment(world.coop_b.org_id, theirs, head, world.processor.org_id, "carriage")
    _refused(world, world.coop_b, wrong_kind, "assignee-kind")
    nobody = assignment(
        world.coop_b.org_id, theirs, head, "00000000-0000-4000-8000-000000000000", "inspection"
    )
    with world.unchanged("an assignment to an unknown organization"):
        response = world.post(world.coop_b, sign(nobody, world.coop_b.signer))
        assert_problem(response, 422, rule="unknown-organization")
    unnamed = assignment(world.coop_b.org_id, theirs, head, world.lab.org_id, "inspection")
    del unnamed["to"]["org"]
    with world.unchanged("an assignment naming no organization"):
        response = world.post(world.coop_b, sign(unnamed, world.coop_b.signer))
        body = assert_problem(response, 422)
        assert "to.org" in body["detail"], body
