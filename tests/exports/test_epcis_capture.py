"""EPCIS capture: events become records signed by the capturing organization's key, all or
nothing by default, with every refused event named; and an export of registry A captured
into a fresh registry B re-creates the same trace."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from registry.catalog import batches as batch_service
from registry.demo import PEOPLE, demo_id
from registry.exports.loading import trace_record_indices
from registry.models import Batch, BatchInput, Record
from tests.exports.conftest import (
    PROBLEM_JSON,
    Registry,
    assert_valid,
    epcis_document,
    sub_document,
)

_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def _org_usernames() -> dict[str, str]:
    """Demo organization id → the username of its first person (who captures for it)."""
    found: dict[str, str] = {}
    for person in PEOPLE:
        if person.org != "operator":
            found.setdefault(str(demo_id(f"org:{person.org}")), person.username)
    return found


def _capture_runs(b: Registry, document: dict[str, Any]) -> None:
    """Capture ``document`` into B as its parties would: each run of consecutive events of
    one organization by that organization's account, in order."""
    users = _org_usernames()
    tokens: dict[str, dict[str, str]] = {}
    runs: list[tuple[str, list[dict[str, Any]]]] = []
    for event in document["epcisBody"]["eventList"]:
        if runs and runs[-1][0] == event["gr:org"]:
            runs[-1][1].append(event)
        else:
            runs.append((event["gr:org"], [event]))
    for org, events in runs:
        username = users[org]
        headers = tokens.setdefault(username, b.token(username))
        response = b.client.post(
            "/api/v1/epcis/capture", json=sub_document(document, events), headers=headers
        )
        assert response.status_code == 201, (
            f"{username} capturing {[e['gr:kind'] for e in events]}: {response.text[:1500]}"
        )
        body = response.json()
        assert body["captured"] == len(events) and body["errors"] == []


def _normalized(value: Any) -> Any:
    """Decimal strings compare by value: EPCIS carries numbers, so '2.0' comes back as '2'."""
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    if isinstance(value, str) and _DECIMAL.match(value):
        return Decimal(value)
    return value


def _trace(registry: Registry, product: str, lot: str) -> dict[str, Any]:
    """What a trace is made of: batches, lineage edges and the records' content."""
    with registry.session() as session:
        batch = session.scalars(
            select(Batch).where(Batch.product_id == uuid.UUID(product), Batch.lot == lot)
        ).one()
        batch_ids, indices = trace_record_indices(session, batch)
        batches = {
            b.id: (str(b.product_id), b.lot)
            for b in session.scalars(select(Batch).where(Batch.id.in_(batch_ids)))
        }
        rows = session.scalars(select(Batch).where(Batch.id.in_(batch_ids))).all()
        edges = {
            (batches[e.input_batch_id], batches[e.output_batch_id], Decimal(e.quantity))
            for e in session.scalars(
                select(BatchInput).where(
                    BatchInput.input_batch_id.in_(batch_ids),
                    BatchInput.output_batch_id.in_(batch_ids),
                )
            )
        }
        records = []
        for record in session.scalars(
            select(Record).where(Record.log_index.in_(indices)).order_by(Record.log_index)
        ):
            document = json.loads(record.payload)
            document.pop("prev")  # digests of another log
            document.pop("note", None)  # B notes the EPCIS event it came from
            document.pop("epcis", None)  # and names it (eventID, event hash)
            document.pop("sensors", None)  # B keeps A's sensor data whole: compared below
            if document["kind"] not in ("aggregation", "association", "transaction"):
                document.pop("event", None)  # and the event A exported, whole
            records.append(_normalized(document))
        return {
            "batches": sorted(
                (str(b.product_id), b.lot, Decimal(b.quantity), b.unit, str(b.best_before))
                for b in rows
            ),
            "edges": edges,
            "records": records,
            # Each batch's chain, within the trace (A's rose petals also went into the
            # other cake lot, which is not part of this trace).
            "chains": {
                lots: [
                    r.kind
                    for r in batch_service.batch_records(session, batch_id)
                    if r.log_index in indices
                ]
                for batch_id, lots in batches.items()
            },
        }


def test_round_trip_a_to_b(demo: Registry, registry_b: Registry, epcis_validator):
    for lot in ("PY-CAKE-0610", "GF2026-001"):
        code = demo.code(lot)
        exported = demo.client.get("/api/v1/export/epcis", params={"batch": code}).json()
        assert_valid(epcis_validator, exported, f"A's trace of {lot}")
        _capture_runs(registry_b, exported)

        with demo.session() as session:
            product = str(batch_service.get_batch(session, code).product_id)
        in_a, in_b = _trace(demo, product, lot), _trace(registry_b, product, lot)
        assert in_b["batches"] == in_a["batches"], f"{lot}: batches, lots or quantities differ"
        assert in_b["edges"] == in_a["edges"], f"{lot}: lineage edges differ"
        assert in_b["chains"] == in_a["chains"], f"{lot}: the batches' record chains differ"
        assert in_b["records"] == in_a["records"], f"{lot}: record content differs"
        assert len(in_a["records"]) == len(exported["epcisBody"]["eventList"])

        again = registry_b.client.get(
            "/api/v1/export/epcis", params={"batch": registry_b.code(lot)}
        ).json()
        assert_valid(epcis_validator, again, f"B's trace of {lot}")
        assert [e["gr:kind"] for e in again["epcisBody"]["eventList"]] == [
            e["gr:kind"] for e in exported["epcisBody"]["eventList"]
        ]
        sensors_a = json.dumps(
            [e.get("sensorElementList") for e in exported["epcisBody"]["eventList"]]
        ).replace(demo.ctx.settings.base_url, registry_b.ctx.settings.base_url)
        sensors_b = json.dumps(
            [e.get("sensorElementList") for e in again["epcisBody"]["eventList"]]
        )
        assert sensors_b == sensors_a, f"{lot}: sensor data differs after the round trip"


def _event(**fields: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-06-01T08:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        **fields,
    }


def test_capture_is_all_or_nothing_and_names_each_bad_event(demo: Registry, epcis_validator):
    millet = f"{demo.ctx.settings.base_url}/b/{demo.code('AH2026-001')}"
    good = _event(
        eventID="urn:uuid:11111111-1111-4111-8111-111111111111",
        bizStep="holding",
        quantityList=[{"epcClass": millet}],
        bizLocation={"id": "urn:epc:id:sgln:0614141.00777.0"},
        sensorElementList=[
            {
                "sensorMetadata": {"time": "2026-06-01T07:00:00+08:00"},
                "sensorReport": [{"type": "Temperature", "value": 12.5, "uom": "CEL"}],
            }
        ],
    )
    unsupported = _event(
        eventID="urn:uuid:22222222-2222-4222-8222-222222222222",
        bizStep="holding",
        quantityList=[{"epcClass": millet}],
        bizLocation={"id": "urn:epc:id:sgln:0614141.00777.0"},
        # An extension inside sensor data is schema-valid, but no record can hold it.
        sensorElementList=[{"sensorReport": [{"type": "Temperature", "ex:calibration": "x"}]}],
    )
    not_allowed = _event(  # a cooperative may not sign shipping (carriers do)
        eventID="urn:uuid:33333333-3333-4333-8333-333333333333",
        bizStep="shipping",
        quantityList=[{"epcClass": millet}],
        destinationList=[{"type": "location", "destination": "urn:epc:id:sgln:0614141.00777.0"}],
    )
    unknown_gtin = _event(
        eventID="urn:uuid:44444444-4444-4444-8444-444444444444",
        action="ADD",
        bizStep="commissioning",
        quantityList=[
            {
                "epcClass": "https://id.gs1.org/01/09506000134352/10/LOT-1",
                "quantity": 10,
                "uom": "KGM",
            }
        ],
    )
    aggregation = {
        "type": "AggregationEvent",
        "eventTime": "2026-06-01T08:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "ADD",
        "parentID": "urn:epc:id:sscc:0614141.1234567890",
        "childEPCs": ["urn:epc:id:sgtin:0614141.107346.2017"],
    }
    document = epcis_document([good, unsupported, not_allowed, unknown_gtin, aggregation])
    assert_valid(epcis_validator, document, "the capture test document")
    headers = demo.token("aohan-clerk")
    before = demo.log_size()

    refused = demo.client.post("/api/v1/epcis/capture", json=document, headers=headers)
    assert refused.status_code == 422, refused.text[:800]
    assert refused.headers["content-type"].startswith(PROBLEM_JSON)
    problem = refused.json()
    assert demo.log_size() == before, "an all-or-nothing capture with a bad event wrote nothing"
    errors = {e["index"]: e for e in problem["errors"]}
    assert sorted(errors) == [1, 2, 3, 4], problem
    assert errors[1]["event_id"] == unsupported["eventID"]
    assert "cannot be represented" in errors[1]["detail"]
    assert errors[1]["problems"][0]["path"] == (
        "epcisBody.eventList[1].sensorElementList[0].sensorReport[0].ex:calibration"
    )
    assert errors[2]["code"] == "policy-violation" and errors[2]["rule"], errors[2]
    assert "09506000134352" in errors[3]["detail"]
    # An AggregationEvent is captured, but an SGTIN no record listed with its lot names
    # no batch.
    detail = errors[4]["detail"]
    assert errors[4]["event_id"] is None and "has not seen with its lot" in detail
    assert "urn:epc:id:sgtin:0614141.107346.2017" in detail
    assert errors[4]["problems"][0]["path"] == "epcisBody.eventList[4].childEPCs[0]"

    partial = demo.client.post(
        "/api/v1/epcis/capture", params={"atomic": "false"}, json=document, headers=headers
    )
    assert partial.status_code == 201, partial.text[:800]
    body = partial.json()
    assert (body["captured"], body["refused"]) == (1, 4)
    assert body["records"][0]["index"] == 0 and body["records"][0]["kind"] == "storage"
    assert sorted(e["index"] for e in body["errors"]) == [1, 2, 3, 4]
    assert demo.log_size() == before + 2  # the record and the status index after it
    record = demo.client.get(f"/api/v1/records/{body['records'][0]['digest']}").json()
    assert record["index"] == body["records"][0]["log_index"]

    with demo.session() as session:
        stored = session.scalars(
            select(Record).where(Record.digest == body["records"][0]["digest"])
        ).one()
        payload = json.loads(stored.payload)
    assert payload["kind"] == "storage"
    assert payload["org"] == str(demo_id("org:aohan-coop")), "signed for the capturing org"
    assert payload["readings"] == [{"time": "2026-06-01T07:00:00+08:00", "celsius": "12.5"}]
    assert payload["location"] == "urn:epc:id:sgln:0614141.00777.0"
    assert payload["note"].endswith(good["eventID"])

    only_bad = demo.client.post(
        "/api/v1/epcis/capture",
        params={"atomic": "false"},
        json=epcis_document([unsupported]),
        headers=headers,
    )
    assert only_bad.status_code == 422, "nothing captured is a refusal even when not atomic"


def test_capture_refuses_what_is_not_an_epcis_document(demo: Registry):
    headers = demo.token("aohan-clerk")
    for body, why in (
        ({"type": "EPCISQueryDocument", "epcisBody": {}}, "type"),
        ({"type": "EPCISDocument", "epcisBody": {"eventList": "x"}}, "eventList"),
        (epcis_document([]), "no events"),
    ):
        response = demo.client.post("/api/v1/epcis/capture", json=body, headers=headers)
        assert response.status_code == 422, (why, response.text)
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
    anonymous = demo.client.post("/api/v1/epcis/capture", json=epcis_document([]))
    assert anonymous.status_code == 401
    official = demo.client.post(
        "/api/v1/epcis/capture", json=epcis_document([_event()]), headers=demo.token("admin")
    )
    assert official.status_code == 409, "an account without a custodial key cannot capture"


def test_capture_of_standard_gs1_events(demo: Registry):
    """Events as another EPCIS tool writes them (LGTIN URNs, UN/ECE units, no registry
    extensions) are captured: a carrier ships and the mill receives packaged millet."""
    gtin = demo.gtin("GF2026-001")
    assert gtin is not None
    # urn:epc:class:lgtin:{company prefix}.{indicator + item reference}.{lot}
    lgtin = f"urn:epc:class:lgtin:{gtin[1:8]}.{gtin[0]}{gtin[8:13]}.GF2026-001"
    shipped = _event(
        eventID="urn:uuid:55555555-5555-4555-8555-555555555555",
        bizStep="shipping",
        disposition="in_transit",
        quantityList=[{"epcClass": lgtin, "quantity": 100, "uom": "XBG"}],
        destinationList=[{"type": "owning_party", "destination": "urn:epc:id:pgln:0614141.00777"}],
        bizTransactionList=[
            {"type": "bol", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:1152"}
        ],
    )
    response = demo.client.post(
        "/api/v1/epcis/capture",
        json=epcis_document([shipped]),
        headers=demo.token("mengdong-driver"),
    )
    assert response.status_code == 201, response.text[:800]
    digest = response.json()["records"][0]["digest"]
    record = demo.client.get(f"/api/v1/records/{digest}").json()
    payload = record["record"]
    assert record["kind"] == "shipping"
    assert payload["quantity"] == "100" and payload["unit"] == "bag"
    assert payload["to"] == {"name": "urn:epc:id:pgln:0614141.00777"}
    assert payload["waybill"] == "urn:epcglobal:cbv:bt:0614141073467:1152"


def _holding(demo: Registry, **fields: Any) -> dict[str, Any]:
    millet = f"{demo.ctx.settings.base_url}/b/{demo.code('AH2026-001')}"
    return _event(
        bizStep="holding",
        quantityList=[{"epcClass": millet}],
        bizLocation={"id": "urn:epc:id:sgln:0614141.00777.0"},
        sensorElementList=[
            {
                "sensorMetadata": {"time": "2026-06-01T07:00:00+08:00"},
                "sensorReport": [{"type": "Temperature", "value": 12.5, "uom": "CEL"}],
            }
        ],
        **fields,
    )


def test_the_same_event_captured_again_is_not_logged_twice(demo: Registry):
    """By eventID or, without one, by its CBV 2.0 event hash: the second capture answers
    with the record the first made, and the log does not grow."""
    headers = demo.token("aohan-clerk")
    with_id = _holding(demo, eventID="urn:uuid:66666666-6666-4666-8666-666666666666")
    without_id = _holding(demo, eventTime="2026-06-01T09:00:00+08:00")
    first = demo.client.post(
        "/api/v1/epcis/capture", json=epcis_document([with_id, without_id]), headers=headers
    )
    assert first.status_code == 201, first.text[:800]
    made = first.json()["records"]
    assert [r["duplicate"] for r in made] == [False, False]
    record = demo.client.get(f"/api/v1/records/{made[0]['digest']}").json()["record"]
    assert record["epcis"] == {
        "event_id": with_id["eventID"],
        "event_hash": made[0]["event_hash"],
    }
    size = demo.log_size()

    again = demo.client.post(
        "/api/v1/epcis/capture", json=epcis_document([without_id, with_id]), headers=headers
    )
    assert again.status_code == 200, again.text[:800]
    body = again.json()
    assert body["duplicates"] == 2
    assert [(r["log_index"], r["digest"]) for r in body["records"]] == [
        (made[1]["log_index"], made[1]["digest"]),
        (made[0]["log_index"], made[0]["digest"]),
    ]
    assert demo.log_size() == size, "a duplicate must not be logged"

    # The same eventID with other content is not the same event: refused, naming eventID.
    reused = _holding(demo, eventID=with_id["eventID"], eventTime="2026-06-02T08:00:00+08:00")
    refused = demo.client.post(
        "/api/v1/epcis/capture", json=epcis_document([reused]), headers=headers
    )
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM_JSON
    error = refused.json()["errors"][0]
    assert (error["code"], error["rule"]) == ("conflict", "event-id-reused")
    assert error["problems"][0]["path"] == "epcisBody.eventList[0].eventID"
    assert demo.log_size() == size


def test_an_error_declaration_becomes_a_correction(demo: Registry, epcis_validator):
    """EPCIS 2.0 §7.4.1.3: the erroneous event again with errorDeclaration. Its event hash
    (which leaves errorDeclaration out) finds the record; the correction references it by
    digest; a repeat of the declaration is answered with the same correction."""
    headers = demo.token("aohan-clerk")
    wrong = _holding(demo, eventTime="2026-06-03T08:00:00+08:00")
    first = demo.client.post("/api/v1/epcis/capture", json=epcis_document([wrong]), headers=headers)
    assert first.status_code == 201, first.text[:800]
    original = first.json()["records"][0]
    declaration = {
        **wrong,
        "errorDeclaration": {
            "declarationTime": "2026-06-03T10:00:00+08:00",
            "reason": "incorrect_data",
            "correctiveEventIDs": ["urn:uuid:88888888-8888-4888-8888-888888888888"],
        },
    }
    response = demo.client.post(
        "/api/v1/epcis/capture", json=epcis_document([declaration]), headers=headers
    )
    assert response.status_code == 201, response.text[:800]
    made = response.json()["records"][0]
    assert made["kind"] == "correction" and made["event_hash"] == original["event_hash"]
    record = demo.client.get(f"/api/v1/records/{made['digest']}").json()["record"]
    assert record["corrects"] == original["digest"]
    assert record["corrected"]["corrective_event_ids"] == [
        "urn:uuid:88888888-8888-4888-8888-888888888888"
    ]
    size = demo.log_size()
    again = demo.client.post(
        "/api/v1/epcis/capture", json=epcis_document([declaration]), headers=headers
    )
    assert again.status_code == 200 and again.json()["records"][0]["digest"] == made["digest"]
    assert demo.log_size() == size

    exported = demo.client.get(
        "/api/v1/export/epcis", params={"batch": demo.code("AH2026-001")}
    ).json()
    assert_valid(epcis_validator, exported, "an export with a captured error declaration")
    [back] = [e for e in exported["epcisBody"]["eventList"] if e.get("gr:digest") == made["digest"]]
    assert back["errorDeclaration"]["declarationTime"].startswith("2026-06-03T10:00:00")

    unknown = {**declaration, "eventTime": "2020-01-01T00:00:00+08:00"}
    refused = demo.client.post(
        "/api/v1/epcis/capture", json=epcis_document([unknown]), headers=headers
    )
    assert refused.status_code == 422
    paths = [p["path"] for p in refused.json()["errors"][0]["problems"]]
    assert paths == ["epcisBody.eventList[0].errorDeclaration"]


def test_empty_registry_exports_a_valid_empty_document(settings, db, epcis_validator):
    from fastapi.testclient import TestClient

    from app.factory import create_app

    with TestClient(create_app(settings, db)) as client:
        document = client.get("/api/v1/export/epcis").json()
    assert_valid(epcis_validator, document, "an empty registry")
    assert document["epcisBody"]["eventList"] == []


def test_correction_exports_as_an_error_declaration(demo: Registry, epcis_validator):
    """A correction names the wrong record: EPCIS says so with the erroneous event again
    (same eventID) carrying an errorDeclaration, and the correction's own log index."""
    from registry.models import Account
    from registry.records import ingest as record_service

    code = demo.code("AH2026-001")
    storage = next(
        r
        for r in demo.client.get(f"/api/v1/batches/{code}/records").json()
        if r["kind"] == "storage"
    )
    with demo.session() as session:
        clerk = session.scalars(select(Account).where(Account.username == "aohan-clerk")).one()
        accepted = record_service.sign_and_submit(
            session,
            demo.ctx,
            clerk,
            {
                "kind": "correction",
                "batches": storage["record"]["batches"],
                "corrects": storage["digest"],
                "reason": "温度计未校准 The thermometer was not calibrated",
            },
        )
        correction_index = accepted.index
    document = demo.client.get("/api/v1/export/epcis", params={"batch": code}).json()
    assert_valid(epcis_validator, document, "a trace with a correction")
    declared = [e for e in document["epcisBody"]["eventList"] if "errorDeclaration" in e]
    assert len(declared) == 1
    event = declared[0]
    original = next(
        e for e in document["epcisBody"]["eventList"] if e["gr:digest"] == storage["digest"]
    )
    assert event["eventID"] == original["eventID"], "the erroneous event's own eventID"
    assert event["errorDeclaration"]["reason"] == "incorrect_data"
    assert event["gr:corrects"] == storage["digest"]
    assert event["gr:logIndex"] == correction_index
    assert "thermometer" in event["errorDeclaration"]["gr:reason"]
