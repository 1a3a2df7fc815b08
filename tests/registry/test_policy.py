"""The signing policy as pure rules: each refusal names its rule."""

import uuid
from decimal import Decimal

import pytest

from registry.errors import InvalidInput, PolicyViolation
from registry.policy import BatchFacts, SignerFacts, check_record, check_signers, custody_after
from registry.records.schema import Kind, parse_record

COOP, OTHER_COOP, MILL, LAB, GOV, CARRIER, OTHER_CARRIER, OTHER_LAB = (
    uuid.uuid4() for _ in range(8)
)
PRODUCT = str(uuid.uuid4())
LOT = f"{PRODUCT}:L1"
NEW = f"{PRODUCT}:L2"
T = "2026-09-20T08:00:00+08:00"


def signer(org, kind, role="clerk", jurisdiction=None, region="150430"):
    return SignerFacts(
        key_id="ab" * 32,
        org_id=org,
        org_kind=kind,
        role=role,
        region=region,
        jurisdiction=jurisdiction,
    )


def batch(
    origin=COOP,
    remaining="100",
    recalled=False,
    region="150430",
    holder=None,
    carriers=(),
    destination=None,
    labs=(),
):
    return BatchFacts(
        origin,
        region,
        "kg",
        Decimal(remaining),
        recalled,
        holder=holder or origin,
        carriers=frozenset(carriers),
        destination=destination,
        labs=frozenset(labs),
    )


def record(kind, org, batches=(LOT,), **fields):
    document = {
        "kind": kind,
        "time": T,
        "org": str(org),
        "batches": list(batches),
        "prev": {b: ("0" * 64 if b == LOT else None) for b in batches},
        **fields,
    }
    return parse_record(document)


PACKING = {"package": {"count": 10, "size": "5", "unit": "kg"}}
INSPECTION = {
    "report_number": "R1",
    "verdict": "pass",
    "results": [
        {
            "substance": "x",
            "value": "0.1",
            "limit": "1",
            "unit": "mg/kg",
            "method": "GB 1",
            "verdict": "pass",
        }
    ],
}


def test_cooperative_packs_its_own_batch():
    check_record(record("packing", COOP, **PACKING), signer(COOP, "cooperative"), {LOT: batch()})


@pytest.mark.parametrize(
    ("kind", "fields", "org_kind"),
    [
        ("inspection", INSPECTION, "cooperative"),
        ("packing", PACKING, "lab"),
        ("packing", PACKING, "carrier"),
        ("inspection", INSPECTION, "authority"),
    ],
)
def test_kind_not_allowed_for_organization(kind, fields, org_kind):
    with pytest.raises(PolicyViolation) as caught:
        check_record(record(kind, COOP, **fields), signer(COOP, org_kind), {LOT: batch()})
    assert caught.value.rule == "kind-not-allowed"
    assert org_kind in caught.value.detail


def test_key_must_belong_to_the_records_organization():
    with pytest.raises(PolicyViolation) as caught:
        check_record(
            record("packing", COOP, **PACKING), signer(OTHER_COOP, "cooperative"), {LOT: batch()}
        )
    assert caught.value.rule == "key-organization"


def test_batch_of_another_cooperative_is_refused():
    with pytest.raises(PolicyViolation) as caught:
        check_record(
            record("packing", OTHER_COOP, **PACKING),
            signer(OTHER_COOP, "cooperative"),
            {LOT: batch(origin=COOP)},
        )
    assert caught.value.rule == "batch-of-another-organization"


def test_lab_inspects_only_a_batch_its_holder_assigned_it():
    rec = record("inspection", LAB, **INSPECTION)
    check_record(rec, signer(LAB, "lab"), {LOT: batch(labs=[LAB])})
    with pytest.raises(PolicyViolation) as caught:
        check_record(rec, signer(LAB, "lab"), {LOT: batch(labs=[OTHER_LAB])})
    assert caught.value.rule == "lab-not-assigned"


STORAGE = {"location": "warehouse 3"}


@pytest.mark.parametrize(
    ("kind", "fields"), [("storage", STORAGE), ("shipping", {"to": {"name": "shop"}})]
)
def test_carrier_handles_only_a_batch_handed_to_it(kind, fields):
    rec = record(kind, OTHER_CARRIER, **fields)
    with pytest.raises(PolicyViolation) as caught:
        check_record(rec, signer(OTHER_CARRIER, "carrier"), {LOT: batch(carriers=[CARRIER])})
    assert caught.value.rule == "not-handed-to-carrier"
    check_record(rec, signer(OTHER_CARRIER, "carrier"), {LOT: batch(carriers=[OTHER_CARRIER])})
    # A carrier that received the batch holds it, and may store and ship it on.
    check_record(rec, signer(OTHER_CARRIER, "carrier"), {LOT: batch(holder=OTHER_CARRIER)})


def test_storage_by_a_non_carrier_needs_the_holder_or_the_producer():
    rec = record("storage", MILL, **STORAGE)
    with pytest.raises(PolicyViolation) as caught:
        check_record(rec, signer(MILL, "processor"), {LOT: batch()})
    assert caught.value.rule == "batch-of-another-organization"
    check_record(rec, signer(MILL, "processor"), {LOT: batch(holder=MILL)})


def test_receiver_must_be_the_shipments_destination():
    rec = record("receiving", MILL, source={"name": "carrier"})
    check_record(rec, signer(MILL, "processor"), {LOT: batch(destination=MILL)})
    for destination in (OTHER_COOP, None):
        with pytest.raises(PolicyViolation) as caught:
            check_record(rec, signer(MILL, "processor"), {LOT: batch(destination=destination)})
        assert caught.value.rule == "receiver-not-destination"


def test_only_the_holder_assigns_a_batch():
    rec = record("assignment", COOP, to={"org": str(LAB), "name": "lab"}, task="inspection")
    check_record(rec, signer(COOP, "cooperative"), {LOT: batch()})
    with pytest.raises(PolicyViolation) as caught:
        check_record(rec, signer(COOP, "cooperative"), {LOT: batch(holder=MILL)})
    assert caught.value.rule == "not-holder"


def test_an_assignment_names_a_registry_organization():
    with pytest.raises(InvalidInput, match=r"to\.org"):
        record("assignment", COOP, to={"name": "some lab"}, task="inspection")
    with pytest.raises(InvalidInput, match=r"task"):
        record("assignment", COOP, to={"org": str(LAB), "name": "lab"}, task="tasting")


def test_processing_inputs_must_be_held_by_the_processor():
    rec = record(
        "processing",
        MILL,
        batches=(LOT, NEW),
        inputs=[{"batch": LOT, "quantity": "10"}],
        outputs=[{"batch": NEW, "quantity": "5", "unit": "bag"}],
    )
    with pytest.raises(PolicyViolation) as caught:
        check_record(rec, signer(MILL, "processor"), {LOT: batch(destination=MILL), NEW: None})
    assert caught.value.rule == "input-not-held"
    check_record(rec, signer(MILL, "processor"), {LOT: batch(holder=MILL), NEW: None})


def test_custody_moves_with_assignments_shipping_and_receiving():
    facts = batch()
    carriage = record("assignment", COOP, to={"org": str(CARRIER), "name": "c"}, task="carriage")
    facts = custody_after(carriage, COOP, facts)
    assert facts.carriers == {CARRIER} and facts.holder == COOP
    sample = record("assignment", COOP, to={"org": str(LAB), "name": "l"}, task="inspection")
    facts = custody_after(sample, COOP, facts)
    assert facts.labs == {LAB}
    ship = record("shipping", CARRIER, to={"org": str(OTHER_CARRIER), "name": "relay"})
    facts = custody_after(ship, CARRIER, facts)
    assert facts.carriers == {CARRIER, OTHER_CARRIER} and facts.destination == OTHER_CARRIER
    ship = record("shipping", OTHER_CARRIER, to={"org": str(MILL), "name": "mill"})
    facts = custody_after(ship, OTHER_CARRIER, facts)
    assert facts.destination == MILL
    receive = record("receiving", MILL, source={"name": "relay"})
    facts = custody_after(receive, MILL, facts)
    assert (facts.holder, facts.carriers, facts.destination) == (MILL, frozenset(), None)
    assert facts.labs == {LAB}  # a sample taken stays taken
    unnamed = record("shipping", CARRIER, to={"name": "a shop"})
    assert custody_after(unnamed, CARRIER, facts).destination is None


def test_processing_cannot_consume_more_than_remains():
    rec = record(
        "processing",
        MILL,
        batches=(LOT, NEW),
        inputs=[{"batch": LOT, "quantity": "100.5"}],
        outputs=[{"batch": NEW, "quantity": "50", "unit": "bag"}],
    )
    held = {"holder": MILL}
    with pytest.raises(PolicyViolation) as caught:
        check_record(
            rec, signer(MILL, "processor"), {LOT: batch(remaining="100", **held), NEW: None}
        )
    assert caught.value.rule == "insufficient-quantity"
    check_record(rec, signer(MILL, "processor"), {LOT: batch(remaining="100.5", **held), NEW: None})


def test_recalled_batch_cannot_be_processed_or_shipped():
    rec = record("shipping", MILL, to={"name": "shop"})
    with pytest.raises(PolicyViolation) as caught:
        check_record(rec, signer(MILL, "carrier"), {LOT: batch(recalled=True, carriers=[MILL])})
    assert caught.value.rule == "batch-recalled"


def test_recall_by_an_official_within_the_jurisdiction_only():
    rec = record("recall", GOV, reason="aflatoxin")
    official = signer(GOV, "authority", role="official", jurisdiction="1504", region="150400")
    check_record(rec, official, {LOT: batch(region="150430")})
    with pytest.raises(PolicyViolation) as caught:
        check_record(rec, official, {LOT: batch(region="370124")})
    assert caught.value.rule == "outside-jurisdiction"
    clerk = signer(GOV, "authority", role="clerk", jurisdiction="1504")
    with pytest.raises(PolicyViolation) as caught:
        check_record(rec, clerk, {LOT: batch()})
    assert caught.value.rule == "official-required"


def test_recall_by_the_producing_cooperative_but_not_another():
    check_record(
        record("recall", COOP, reason="mould"), signer(COOP, "cooperative"), {LOT: batch()}
    )
    with pytest.raises(PolicyViolation):
        check_record(
            record("recall", OTHER_COOP, reason="mould"),
            signer(OTHER_COOP, "cooperative"),
            {LOT: batch()},
        )


def test_correction_only_by_the_organization_that_signed_the_original():
    rec = record("correction", COOP, corrects="1" * 64, reason="typo in weight")
    check_record(rec, signer(COOP, "cooperative"), {LOT: batch()}, corrected_org=COOP)
    with pytest.raises(PolicyViolation) as caught:
        check_record(rec, signer(COOP, "cooperative"), {LOT: batch()}, corrected_org=LAB)
    assert caught.value.rule == "correction-by-signer"


def test_key_records_need_the_registry_and_supply_chain_records_one_party():
    registry = signer(COOP, "operator", role="registry")
    coop = signer(COOP, "cooperative")
    assert check_signers(Kind.KEY_REGISTRATION, [coop, registry]) is registry
    with pytest.raises(PolicyViolation, match="registry key"):
        check_signers(Kind.KEY_REVOCATION, [coop])
    with pytest.raises(PolicyViolation) as caught:
        check_signers(Kind.HARVEST, [registry])
    assert caught.value.rule == "registry-signs-keys-only"
    with pytest.raises(PolicyViolation) as caught:
        check_signers(Kind.HARVEST, [coop, coop])
    assert caught.value.rule == "one-signer"
