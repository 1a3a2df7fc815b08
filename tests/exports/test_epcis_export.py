"""EPCIS 2.0 export: the whole demo registry, a batch's trace and a time range each validate
against the ratified EPCIS 2.0.1 JSON schema with format checking on, and name their proof."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from registry.catalog import batches as batch_service
from registry.models import Record
from tests.exports.conftest import PROBLEM_JSON, Registry, assert_valid, schema_errors

SUPPLY_KINDS = {
    "harvest",
    "processing",
    "packing",
    "inspection",
    "certificate",
    "storage",
    "shipping",
    "receiving",
    "recall",
    "assignment",
}


@pytest.fixture
def demo(shared_demo: Registry) -> Registry:
    """The tests here only read the demo registry: load it once per module and backend."""
    return shared_demo


def _events(document: dict) -> list[dict]:
    return document["epcisBody"]["eventList"]


def test_format_checking_is_really_on(epcis_validator, vectors):
    """The validator must refuse a bad date-time and a bad URI: without the format checkers
    installed, jsonschema would silently accept both."""
    example = json.loads(
        (vectors / "epcis" / "examples" / "Example_9.6.1-ObjectEvent.jsonld").read_text()
    )
    assert_valid(epcis_validator, example, "the GS1 example")

    bad_time = copy.deepcopy(example)
    bad_time["epcisBody"]["eventList"][0]["eventTime"] = "2005-04-03 20:33:31"
    assert any("date-time" in e for e in schema_errors(epcis_validator, bad_time)), (
        "an eventTime that is not RFC 3339 must fail: format checking is off"
    )
    bad_creation = {**example, "creationDate": "2005-13-45T11:30:47Z"}
    assert schema_errors(epcis_validator, bad_creation), "creationDate month 13 must fail"

    bad_uri = copy.deepcopy(example)
    bad_uri["epcisBody"]["eventList"][0]["readPoint"]["id"] = "not a uri"
    assert any("uri" in e for e in schema_errors(epcis_validator, bad_uri)), (
        "a readPoint id that is not a URI must fail: format checking is off"
    )


def test_whole_registry_export_validates_and_names_its_proof(demo: Registry, epcis_validator):
    response = demo.client.get("/api/v1/export/epcis")
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("application/ld+json")
    document = response.json()
    assert_valid(epcis_validator, document, "the whole demo registry")

    events = _events(document)
    with demo.session() as session:
        records = {
            r.digest: r
            for r in session.scalars(select(Record).where(Record.kind.in_(SUPPLY_KINDS)))
        }
    assert len(events) == len(records), "one event per supply-chain record"
    assert {e["gr:kind"] for e in events} == SUPPLY_KINDS
    context = document["@context"]
    assert context[0] == "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
    assert context[1]["gr"].startswith("https://"), "the registry namespace is declared"

    tree_size = document["gr:log"]["treeSize"]
    assert document["gr:log"]["checkpoint"].splitlines()[1] == str(tree_size)
    for event in events:
        record = records[event["gr:digest"]]
        assert event["gr:logIndex"] == record.log_index < tree_size
        assert event["eventID"].endswith(f"/api/v1/records/{record.digest}")
        payload = json.loads(record.payload)
        assert event["eventTime"] == payload["time"]
    indices = [e["gr:logIndex"] for e in events]
    assert indices == sorted(indices), "events come in log order"

    by_kind = {e["gr:kind"]: e for e in events}
    harvest = by_kind["harvest"]
    assert (harvest["type"], harvest["action"], harvest["bizStep"]) == (
        "ObjectEvent",
        "ADD",
        "commissioning",
    )
    transformation = by_kind["processing"]
    assert transformation["type"] == "TransformationEvent"
    for element in transformation["inputQuantityList"] + transformation["outputQuantityList"]:
        assert isinstance(element["quantity"], int | float), "quantities are JSON numbers"
        assert element["uom"].isupper()
    inspection = by_kind["inspection"]
    assert inspection["bizStep"] == "inspecting"
    assert inspection["bizTransactionList"][0]["type"] == "testres"
    report = inspection["sensorElementList"][0]["sensorReport"][0]
    assert {"chemicalSubstance", "value", "uom"} <= set(report)
    storage = by_kind["storage"]
    assert storage["bizStep"] in ("holding", "sensor_reporting")
    assert storage["sensorElementList"][0]["sensorReport"][0]["type"] == "Temperature"
    assert by_kind["recall"]["disposition"] == "recalled"
    assert by_kind["certificate"]["certificationInfo"][0].endswith("/certificate")
    assert by_kind["shipping"]["bizStep"] == "shipping"
    assert by_kind["receiving"]["bizStep"] == "receiving"
    assignment = by_kind["assignment"]
    assert assignment["bizStep"] == "https://guarantee-registry.org/ns/epcis/assigning"
    assert assignment["destinationList"][0]["type"] == "possessing_party"
    assert assignment["destinationList"][0]["destination"].endswith(assignment["gr:to"]["org"])
    assert assignment["gr:task"] in ("carriage", "inspection")

    classes = {
        e["epcClass"]
        for event in events
        for key in ("quantityList", "inputQuantityList", "outputQuantityList")
        for e in event.get(key, [])
    }
    # Products with a GTIN: GS1 Digital Link; others: the batch page in this registry.
    assert f"https://id.gs1.org/01/{demo.gtin('GF2026-001')}/10/GF2026-001" in classes
    assert f"{demo.ctx.settings.base_url}/b/{demo.code('AH2026-001')}" in classes
    vocabularies = document["epcisHeader"]["epcisMasterData"]["vocabularyList"]
    described = {
        element["id"]
        for vocabulary in vocabularies
        if vocabulary["type"] == "urn:epcglobal:epcis:vtype:EPCClass"
        for element in vocabulary["vocabularyElementList"]
    }
    assert classes <= described, "master data describes every class the events name"


def test_trace_export_holds_exactly_the_trace(demo: Registry, epcis_validator):
    code = demo.code("PY-CAKE-0610")
    document = demo.client.get("/api/v1/export/epcis", params={"batch": code}).json()
    assert_valid(epcis_validator, document, "the trace of PY-CAKE-0610")
    with demo.session() as session:
        batch = batch_service.get_batch(session, code)
        trace = batch_service.ancestor_ids(session, [batch.id]) | batch_service.descendant_ids(
            session, [batch.id]
        )
        from registry.models import Batch

        lots = {b.lot for b in session.scalars(select(Batch).where(Batch.id.in_(trace)))}
    assert lots == {"PY-CAKE-0610", "PY-ROSE-0521", "PY-FL-0601"}
    events = _events(document)
    named = set()
    for event in events:
        for key in ("quantityList", "inputQuantityList", "outputQuantityList"):
            named.update(e["epcClass"] for e in event.get(key, []))
    classes = {
        element["id"]: {a["id"].rsplit("/", 1)[-1]: a["attribute"] for a in element["attributes"]}
        for vocabulary in document["epcisHeader"]["epcisMasterData"]["vocabularyList"]
        if vocabulary["type"] == "urn:epcglobal:epcis:vtype:EPCClass"
        for element in vocabulary["vocabularyElementList"]
    }
    assert {classes[c]["lot"] for c in named} == lots, (
        "the trace names its batches and no other (not the sibling cakes nor the recalled flour)"
    )
    transformations = [e for e in events if e["type"] == "TransformationEvent"]
    assert len(transformations) == 1, "only the transformation that made PY-CAKE-0610"
    kinds = [e["gr:kind"] for e in events]
    assert "recall" not in kinds
    assert kinds.count("harvest") == 2

    unknown = demo.client.get(
        "/api/v1/export/epcis", params={"batch": "0000000000"}, headers={"Accept": "*/*"}
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith(PROBLEM_JSON)


def test_time_range_export(demo: Registry, epcis_validator):
    everything = _events(demo.client.get("/api/v1/export/epcis").json())
    times = sorted(datetime.fromisoformat(e["eventTime"]) for e in everything)
    since, until = times[len(times) // 4], times[len(times) // 2]
    response = demo.client.get(
        "/api/v1/export/epcis", params={"since": since.isoformat(), "until": until.isoformat()}
    )
    document = response.json()
    assert_valid(epcis_validator, document, "a time range")
    inside = [e for e in everything if since <= datetime.fromisoformat(e["eventTime"]) <= until]
    got = _events(document)
    assert 0 < len(got) < len(everything)
    assert [e["gr:digest"] for e in got] == [e["gr:digest"] for e in inside]

    # Dates are whole days (UTC+08:00), both ends inclusive.
    day = since.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+08:00").tzinfo).date()
    by_day = _events(
        demo.client.get(
            "/api/v1/export/epcis", params={"since": str(day), "until": str(day)}
        ).json()
    )
    assert by_day and all(e["eventTime"].startswith(str(day)) for e in by_day)

    # A trace within a time range: both filters apply.
    code = demo.code("GF2026-001")
    both = _events(
        demo.client.get(
            "/api/v1/export/epcis",
            params={"batch": code, "until": (until - timedelta(days=3650)).isoformat()},
        ).json()
    )
    assert both == []

    bad = demo.client.get("/api/v1/export/epcis", params={"since": "yesterday"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM_JSON)
    naive = demo.client.get("/api/v1/export/epcis", params={"until": "2026-01-01T08:00:00"})
    assert naive.status_code == 422, "a time without an offset is ambiguous"


def test_cli_export(demo: Registry, monkeypatch, tmp_path, epcis_validator):
    from app import cli
    from app.cli import base

    monkeypatch.setattr(base, "get_settings", lambda: demo.settings)
    runner = CliRunner()
    out = tmp_path / "trace.jsonld"
    result = runner.invoke(
        cli.app, ["export", "epcis", "--batch", demo.code("SX2026-1101"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert_valid(epcis_validator, document, "the CLI's trace export")
    assert {e["gr:kind"] for e in _events(document)} >= {"harvest", "inspection", "shipping"}

    whole = runner.invoke(cli.app, ["export", "epcis"])
    assert whole.exit_code == 0
    assert_valid(epcis_validator, json.loads(whole.stdout), "the CLI's whole export")

    sheet = tmp_path / "kde.xlsx"
    result = runner.invoke(
        cli.app, ["export", "fsma204", "--out", str(sheet), "--lot", "GF2026-001"]
    )
    assert result.exit_code == 0, result.output
    assert sheet.read_bytes()[:2] == b"PK"
    pdf = tmp_path / "cert.pdf"
    result = runner.invoke(
        cli.app, ["export", "certificate", demo.code("GF2026-001"), "-o", str(pdf)]
    )
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    missing = runner.invoke(cli.app, ["export", "certificate", "0000000000", "-o", str(pdf)])
    assert missing.exit_code == 1
