"""Every captured event exports back as the event captured, whatever kind it becomes: a
harvest, storage, receiving, processing or shipping with fields its kind does not hold (readPoint,
bizTransactionList, persistentDisposition, ILMD, a user extension, sensor data) keeps them
in the record's ``event`` and exports back with the same CBV 2.0 event hash, which the
export names (``gr:eventHash``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from registry.demo import demo_id
from registry.exports.epcis.event_hash import event_hash
from registry.exports.epcis.vocabulary import NS
from registry.models import Batch, Product, Record
from tests.exports.conftest import Registry, assert_valid

CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"ex": "https://example.com/epcis#"},
]
SGLN = "urn:epc:id:sgln:0614141.00777.0"


def _document(events: list[dict[str, Any]], master: list[dict[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-06-01T08:00:00Z",
        "epcisBody": {"eventList": events},
    }
    if master:
        document["epcisHeader"] = {
            "epcisMasterData": {
                "vocabularyList": [
                    {"type": "urn:epcglobal:epcis:vtype:EPCClass", "vocabularyElementList": master}
                ]
            }
        }
    return document


def _extras(n: int) -> dict[str, Any]:
    """What none of the older kinds' own fields hold."""
    return {
        "eventID": f"urn:uuid:c0ffee00-0000-4000-8000-00000000000{n}",
        "eventTime": f"2026-06-0{n}T08:15:00.250+08:00",
        "eventTimeZoneOffset": "+08:00",
        "readPoint": {"id": SGLN},
        "bizTransactionList": [
            {"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:0614141073467:PO-{n}"}
        ],
        "persistentDisposition": {"set": ["completeness_verified"]},
        "ex:handling": {"crates": [1, 2], "fragile": True},
        "sensorElementList": [
            {
                "sensorMetadata": {"time": f"2026-06-0{n}T08:10:00+08:00"},
                "sensorReport": [{"type": "Temperature", "value": 4.5, "uom": "CEL"}],
            }
        ],
    }


def _product(demo: Registry, lot: str) -> tuple[str, str | None]:
    with demo.session() as session:
        product = session.scalars(
            select(Product).join(Batch, Batch.product_id == Product.id).where(Batch.lot == lot)
        ).one()
        return str(product.id), product.gtin


def _class(demo: Registry, of_lot: str, lot: str) -> tuple[str, list[dict[str, Any]]]:
    """A class identifier of a new lot of ``of_lot``'s product, and its master data."""
    product, gtin = _product(demo, of_lot)
    if gtin:
        return f"https://id.gs1.org/01/{gtin}/10/{lot}", []
    uri = f"urn:example:class:{lot}"
    attributes = [
        {"id": NS + "product", "attribute": product},
        {"id": NS + "lot", "attribute": lot},
    ]
    return uri, [{"id": uri, "attributes": attributes}]


def _lot_class(demo: Registry, lot: str) -> str:
    gtin = demo.gtin(lot)
    return (
        f"https://id.gs1.org/01/{gtin}/10/{lot}"
        if gtin
        else f"{demo.ctx.settings.base_url}/b/{demo.code(lot)}"
    )


def test_every_captured_kind_exports_back_with_the_event_hash_captured(
    demo: Registry, epcis_validator
):
    millet, millet_master = _class(demo, "AH2026-001", "AH2026-009")
    bags, bags_master = _class(demo, "GF2026-001", "GF2026-009")
    harvest = {
        "type": "ObjectEvent",
        "action": "ADD",
        "quantityList": [{"epcClass": millet, "quantity": 500, "uom": "KGM"}],
        "bizStep": "commissioning",
        "disposition": "active",
        "bizLocation": {"id": SGLN},
        "ilmd": {"cbvmda:harvestStartDate": "2026-05-30", "ex:variety": "黄金苗"},
        **_extras(1),
    }
    storage = {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "quantityList": [{"epcClass": millet}],
        "bizStep": "storing",
        "bizLocation": {"id": "urn:epc:id:sgln:0614141.00888.0"},
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}],
        **_extras(2),
    }
    processing = {
        "type": "TransformationEvent",
        "transformationID": "urn:epc:id:gdti:0614141.12345.400",
        "inputQuantityList": [
            {"epcClass": _lot_class(demo, "AH2026-002"), "quantity": 100, "uom": "KGM"}
        ],
        "outputQuantityList": [{"epcClass": bags, "quantity": 38}],
        "bizStep": "commissioning",
        "disposition": "active",
        "bizLocation": {"id": SGLN},
        "ilmd": {"cbvmda:bestBeforeDate": "2027-06-01"},
        **_extras(3),
    }
    shipping = {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "epcList": [f"{_lot_class(demo, 'GF2026-001')}/21/77"],
        "quantityList": [{"epcClass": _lot_class(demo, "GF2026-001"), "quantity": 12}],
        "bizStep": "shipping",
        "disposition": "in_transit",
        "destinationList": [
            {"type": "owning_party", "destination": "urn:epc:id:pgln:0614141.00002"},
            {"type": "location", "destination": "urn:epc:id:sgln:0614141.00999.0"},
        ],
        # The registry organization it goes to, which only the registry's field can name.
        "gr:to": {"org": str(demo_id("org:chifeng-mill")), "name": "赤峰谷丰米业"},
        **_extras(4),
    }
    shipping["bizTransactionList"].append(
        {"type": "bol", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:BOL-4"}
    )
    receiving = {  # the mill, which the shipping names, receives the bags
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "quantityList": [{"epcClass": _lot_class(demo, "GF2026-001"), "quantity": 12}],
        "bizStep": "receiving",
        "disposition": "in_progress",
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}],
        **_extras(5),
    }
    runs = [
        ("aohan-clerk", [harvest, storage], millet_master),
        ("mengdong-driver", [shipping], []),
        ("mill-clerk", [receiving, processing], bags_master),
    ]
    made: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for username, events, master in runs:
        document = _document(events, master)
        assert_valid(epcis_validator, document, f"{username}'s document")
        response = demo.client.post(
            "/api/v1/epcis/capture", json=document, headers=demo.token(username)
        )
        assert response.status_code == 201, response.text[:1500]
        made += [(events[r["index"]], r) for r in response.json()["records"]]
    assert [r["kind"] for _, r in made] == [
        "harvest",
        "storage",
        "shipping",
        "receiving",
        "processing",
    ]

    exported = demo.client.get("/api/v1/export/epcis").json()
    assert_valid(epcis_validator, exported, "the export with the captured events")
    back = {e["gr:digest"]: e for e in exported["epcisBody"]["eventList"]}
    for original, record in made:
        again = back[record["digest"]]
        assert record["event_hash"] == event_hash(original, CONTEXT)
        assert again["gr:capturedFrom"]["event_hash"] == record["event_hash"]
        if record["kind"] == "shipping":
            # A registry field of the event (gr:to) is the registry's: the export writes
            # its own, and the hash is the event's without them.
            standard = {k: v for k, v in original.items() if not k.startswith("gr:")}
            assert again["gr:eventHash"] == event_hash(standard, CONTEXT)
            assert again["gr:to"] == original["gr:to"]
        else:
            assert again["gr:eventHash"] == record["event_hash"], (record["kind"], again)
        for key in ("readPoint", "bizTransactionList", "persistentDisposition", "ex:handling"):
            assert again[key] == original[key], (record["kind"], key)
        assert again["type"] == original["type"]
    by_kind = {r["kind"]: back[r["digest"]] for _, r in made}
    assert by_kind["harvest"]["ilmd"]["ex:variety"] == "黄金苗"
    assert by_kind["processing"]["transformationID"] == processing["transformationID"]
    assert by_kind["shipping"]["destinationList"] == shipping["destinationList"]
    # The registry's own reading of each kind is still there, for its policy and pages.
    assert by_kind["receiving"]["gr:source"] == {"name": "urn:epc:id:pgln:0614141.00001"}
    assert by_kind["receiving"]["sourceList"] == receiving["sourceList"]
    assert by_kind["storage"]["gr:location"] == "urn:epc:id:sgln:0614141.00888.0"

    with demo.session() as session:
        digests = [r["digest"] for _, r in made]
        rows = session.scalars(select(Record).where(Record.digest.in_(digests))).all()
        kept = {row.kind: json.loads(row.payload)["event"] for row in rows}
    assert kept["shipping"]["read_point"] == SGLN and "items" not in kept["shipping"]
    assert json.loads(kept["harvest"]["extensions"]["ex:handling"]) == original["ex:handling"]
    assert kept["harvest"]["namespaces"] == {"ex": "https://example.com/epcis#"}


def test_a_record_made_through_the_api_exports_as_before(demo: Registry):
    """The demo's records were not captured: no event, no gr:capturedFrom, and each event's
    hash is over the event as exported."""
    with demo.session() as session:
        payloads = [json.loads(r.payload) for r in session.scalars(select(Record)).all()]
    assert payloads and not any("event" in p for p in payloads if p.get("kind") == "shipping")
    events = demo.client.get("/api/v1/export/epcis").json()["epcisBody"]["eventList"]
    assert events and not any("gr:capturedFrom" in e for e in events)
