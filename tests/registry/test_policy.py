"""The signing policy as pure rules: each refusal names its rule."""

import uuid
from decimal import Decimal

import pytest

from registry.errors import PolicyViolation
from registry.policy import BatchFacts, SignerFacts, check_record, check_signers
from registry.records.schema import Kind, parse_record

COOP, OTHER_COOP, MILL, LAB, GOV = (uuid.uuid4() for _ in range(5))
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


def batch(origin=COOP, remaining="100", recalled=False, region="150430"):
    return BatchFacts(origin, region, "kg", Decimal(remaining), recalled)


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


def test_lab_inspects_anyones_batch():
    check_record(record("inspection", LAB, **INSPECTION), signer(LAB, "lab"), {LOT: batch()})


def test_processing_cannot_consume_more_than_remains():
    rec = record(
        "processing",
        MILL,
        batches=(LOT, NEW),
        inputs=[{"batch": LOT, "quantity": "100.5"}],
        outputs=[{"batch": NEW, "quantity": "50", "unit": "bag"}],
    )
    with pytest.raises(PolicyViolation) as caught:
        check_record(rec, signer(MILL, "processor"), {LOT: batch(remaining="100"), NEW: None})
    assert caught.value.rule == "insufficient-quantity"
    check_record(rec, signer(MILL, "processor"), {LOT: batch(remaining="100.5"), NEW: None})


def test_recalled_batch_cannot_be_processed_or_shipped():
    rec = record("shipping", MILL, to={"name": "shop"})
    with pytest.raises(PolicyViolation) as caught:
        check_record(rec, signer(MILL, "carrier"), {LOT: batch(recalled=True)})
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
