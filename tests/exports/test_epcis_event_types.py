"""All five EPCIS 2.0 event types are captured: AggregationEvent (packing into cases and
pallets), AssociationEvent (a sensor associated with goods) and TransactionEvent (a
purchase order) become signed records of the kinds aggregation, association and
transaction; instance-level identifiers (Digital Link URIs with lot and serial) name their
batch. Each is on the batch's journey and in its trace, and exports back schema-valid and
equal."""

from __future__ import annotations

from typing import Any

from tests.exports.conftest import (
    PROBLEM_JSON,
    Registry,
    assert_valid,
    epcis_document,
)


def _base(event_type: str, minute: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": event_type,
        "eventTime": f"2026-06-01T08:{minute:02d}:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        **fields,
    }


def _events(demo: Registry) -> list[dict[str, Any]]:
    gtin = demo.gtin("GF2026-001")
    lot = f"https://id.gs1.org/01/{gtin}/10/GF2026-001"
    return [
        _base(
            "AggregationEvent",
            1,
            eventID="urn:uuid:a1111111-1111-4111-8111-111111111111",
            action="ADD",
            parentID="urn:epc:id:sscc:0614141.1234567890",
            childEPCs=[f"{lot}/21/1001", f"{lot}/21/1002"],
            childQuantityList=[{"epcClass": lot, "quantity": 20, "uom": "XBG"}],
            bizStep="packing",
            disposition="in_progress",
            readPoint={"id": "urn:epc:id:sgln:0614141.00777.0"},
            bizTransactionList=[
                {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:PO-1"}
            ],
        ),
        _base(
            "AssociationEvent",
            2,
            action="ADD",
            parentID="urn:epc:id:giai:4000001.logger-7",
            childQuantityList=[{"epcClass": lot}],
            bizStep="assembling",
            bizLocation={"id": "urn:epc:id:sgln:0614141.00777.0"},
            sensorElementList=[
                {"sensorReport": [{"type": "Temperature", "value": 6, "uom": "CEL"}]}
            ],
        ),
        _base(
            "TransactionEvent",
            3,
            action="ADD",
            epcList=[f"{lot}/21/1001"],
            bizTransactionList=[
                {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:PO-1"},
                {"type": "inv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:INV-9"},
            ],
            sourceList=[{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}],
            destinationList=[
                {"type": "owning_party", "destination": "urn:epc:id:pgln:0614141.00002"}
            ],
            persistentDisposition={
                "set": ["completeness_verified"],
                "unset": ["needs_replacement"],
            },
            certificationInfo="https://accreditation.example.com/certificates/42",
        ),
        _base(
            "ObjectEvent",
            4,
            action="OBSERVE",
            bizStep="holding",
            epcList=[f"{lot}/21/1002"],
            bizLocation={"id": "urn:epc:id:sgln:0614141.00777.0"},
        ),
    ]


_STANDARD = ("gr:", "recordTime", "eventID")


def _standard(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if not k.startswith(_STANDARD)}


def test_every_event_type_is_a_signed_record_on_the_journey(demo: Registry, epcis_validator):
    events = _events(demo)
    response = demo.client.post(
        "/api/v1/epcis/capture", json=epcis_document(events), headers=demo.token("mengdong-driver")
    )
    assert response.status_code == 201, response.text[:1500]
    made = response.json()["records"]
    assert [r["kind"] for r in made] == ["aggregation", "association", "transaction", "storage"]

    code = demo.code("GF2026-001")
    journey = demo.client.get(f"/api/v1/batches/{code}/records").json()
    on_journey = {r["digest"]: r for r in journey}
    for made_record in made:
        assert made_record["digest"] in on_journey, f"{made_record['kind']} not on the journey"
        assert on_journey[made_record["digest"]]["envelope"]["signatures"], "signed"
    trace = demo.client.get(f"/api/v1/batches/{code}/trace").json()
    assert {r["digest"] for r in made} <= {r["digest"] for r in trace["records"]}

    aggregation = on_journey[made[0]["digest"]]["record"]["event"]
    assert aggregation["parent"] == "urn:epc:id:sscc:0614141.1234567890"
    assert len(aggregation["items"]) == 2
    stored = on_journey[made[3]["digest"]]["record"]
    assert stored["items"] == events[3]["epcList"]

    exported = demo.client.get("/api/v1/export/epcis", params={"batch": code}).json()
    assert_valid(epcis_validator, exported, "the trace with captured events of every type")
    back = {e["gr:digest"]: e for e in exported["epcisBody"]["eventList"]}
    for original, made_record in zip(events[:3], made[:3], strict=True):
        again = _standard(back[made_record["digest"]])
        assert again == _standard(original), f"{original['type']} is not exported as captured"
    assert back[made[3]["digest"]]["epcList"] == events[3]["epcList"]


def test_an_sgtin_without_its_lot_is_refused_naming_it(demo: Registry):
    event = _base(
        "AggregationEvent",
        5,
        action="ADD",
        parentID="urn:epc:id:sscc:0614141.1234567891",
        childEPCs=["urn:epc:id:sgtin:0614141.107346.2017"],
    )
    response = demo.client.post(
        "/api/v1/epcis/capture", json=epcis_document([event]), headers=demo.token("mengdong-driver")
    )
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM_JSON
    paths = [p["path"] for p in response.json()["errors"][0]["problems"]]
    assert "epcisBody.eventList[0].childEPCs[0]" in paths


def test_a_field_the_record_cannot_hold_is_refused_naming_it(demo: Registry):
    [event] = _events(demo)[:1]
    event["example:colour"] = "blue"
    event["readPoint"] = {"id": "urn:epc:id:sgln:0614141.00777.0", "example:shelf": "3"}
    response = demo.client.post(
        "/api/v1/epcis/capture", json=epcis_document([event]), headers=demo.token("mengdong-driver")
    )
    assert response.status_code == 422, response.text[:500]
    paths = [p["path"] for p in response.json()["errors"][0]["problems"]]
    assert "epcisBody.eventList[0].example:colour" in paths
    assert "epcisBody.eventList[0].readPoint.example:shelf" in paths
