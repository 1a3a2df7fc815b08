"""The third-party corpus in the EPCIS 2.0 XML binding: GS1's published XML examples and
OpenEPCIS's XML capture test resources (tests/vectors/epcis-thirdparty/gs1-epcis-xml/,
openepcis-xml/), captured as ``application/xml`` / ``text/xml`` like the JSON-LD corpus
(test_epcis_thirdparty): as published and pointed at the demo lot. Nothing may crash;
every refusal is a 4xx problem naming the field. The XML is read into the JSON-LD form
(registry/exports/epcis/xml_binding.py), so an XML file with a JSON-LD twin in the corpus
must give the twin's CBV 2.0 event hashes, and the hashes must be those the reference
implementation computes from the XML itself. The counts are docs/epcis.md's ("XML binding")."""

from __future__ import annotations

import collections
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from epcis_event_hash_generator import hash_generator, xml_to_py
from lxml import etree

from registry.exports.epcis.event_hash import EventHashError, event_hashes
from registry.exports.epcis.xml_binding import (
    XmlDocumentError,
    document_from_xml,
    document_to_xml,
    parse_xml,
)
from tests.exports.conftest import PROBLEM_JSON, Registry, assert_valid
from tests.exports.test_epcis_thirdparty import CORPUS, DOCS, _reason, checked_answer

FILES = sorted(
    p for folder in ("gs1-epcis-xml", "openepcis-xml") for p in (CORPUS / folder).rglob("*.xml")
)
_INSTANCE_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")

# The same examples published in both bindings (GS1 renamed some files in JSON/).
_GS1_TWINS = {
    "Example_9.6.1-ObjectEvent-2020_06_18a.xml": "Example_9.6.1-ObjectEvent.jsonld",
    "Example-TransactionEvent-2020_07_03y.xml": "Example-TransactionEvents-2020_07_03y.jsonld",
    "Example-PersistentDisposition.xml": "PersistentDisposition-example.jsonld",
    "WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.xml": (
        "WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.jsonld"
    ),
    **{
        f"WithFullCombinationOfFields/{kind}_event_all_possible_fields.xml": (
            f"WithFullCombinationOfFields/{kind}_event_all_possible_fields.jsonld"
        )
        for kind in ("object", "aggregation", "association", "transaction", "transformation")
    },
}


def _twin(path: Path) -> Path | None:
    """The JSON-LD document of the corpus that is the same example as an XML file."""
    if path.is_relative_to(CORPUS / "openepcis-xml"):
        twin = CORPUS / "openepcis" / path.relative_to(CORPUS / "openepcis-xml")
        twin = twin.with_suffix(".json")
        return twin if twin.exists() else None
    name = _GS1_TWINS.get(path.relative_to(CORPUS / "gs1-epcis-xml").as_posix())
    return CORPUS / "gs1-epcis" / name if name else None


def _pointed(body: bytes, batch_class: str, name: str) -> bytes:
    """The XML with every class at the demo batch, every instance a serial of it, and
    eventIDs made unique to the file (as test_epcis_thirdparty points the JSON-LD)."""
    try:
        root = parse_xml(body)
    except XmlDocumentError:
        return body  # not XML: sent as it is
    serials = iter(range(1, 1_000_000))
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        parent = element.getparent()
        in_list = parent is not None and etree.QName(parent).localname in _INSTANCE_LISTS
        if local == "epcClass":
            element.text = batch_class
        elif local == "epc" and in_list:
            element.text = f"{batch_class}/21/{next(serials)}"
        elif local == "eventID" and element.text:
            element.text = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name + element.text)}"
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _capture(demo: Registry, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    return checked_answer(demo.client.post("/api/v1/epcis/capture", content=body, headers=headers))


def _reference_hashes(body: bytes) -> list[str]:
    """The event hashes the reference implementation computes from the XML itself."""
    logging.disable(logging.CRITICAL)
    try:
        events = xml_to_py.event_list_from_epcis_document_str(body.decode("utf-8"))
        return list(hash_generator.epcis_hashes_from_events(events))
    finally:
        logging.disable(logging.NOTSET)


def _hashes_or_none(document: Any) -> list[str] | None:
    try:
        return event_hashes(document)
    except EventHashError:
        return None


def test_the_xml_corpus(demo: Registry, epcis_validator: jsonschema.Draft7Validator):
    assert len(FILES) == 87, len(FILES)
    code = demo.code("GF2026-001")
    batch_class = f"https://id.gs1.org/01/{demo.gtin('GF2026-001')}/10/GF2026-001"
    token = demo.token("mengdong-driver")
    counts: collections.Counter[str] = collections.Counter()
    reasons: dict[str, collections.Counter[str]] = {
        "published": collections.Counter(),
        "pointed": collections.Counter(),
    }
    captured = 0
    for path in FILES:
        body = path.read_bytes()
        counts["XML files"] += 1
        try:
            document = document_from_xml(body)
        except XmlDocumentError:
            document = None
            counts["XML not an EPCISDocument"] += 1
        hashes = _hashes_or_none(document) if document is not None else None
        if hashes is not None:
            counts["XML events hashed"] += len(hashes)
            reference = _reference_hashes(body)
            counts["XML events: hash as the reference reads the XML"] += sum(
                a == b for a, b in zip(hashes, reference, strict=False)
            )
        twin = _twin(path)
        if twin is not None and document is not None:
            counts["XML twins"] += 1
            if hashes is not None and hashes == _hashes_or_none(json.loads(twin.read_text())):
                counts["XML twins: same event hashes"] += 1
        for run, media, doc in (
            ("published", "application/xml", body),
            ("pointed", "text/xml", _pointed(body, batch_class, path.name)),
        ):
            status, answer = _capture(demo, doc, {**token, "Content-Type": media})
            if status < 300:
                counts[f"XML {run}: captured"] += 1
                if run == "pointed":
                    converted = document_from_xml(doc)
                    same = event_hashes(converted)
                    for record in answer["records"]:
                        # The capture hashed the converted event, as the JSON path does.
                        assert record["event_hash"] == same[record["index"]], path.name
                    captured += len(answer["records"])
            else:
                reasons[run][_reason(answer)] += 1
    counts["XML round trip: events"] = captured

    exported = demo.client.get("/api/v1/export/epcis", params={"batch": code}).json()
    assert_valid(epcis_validator, exported, "the demo batch after the XML corpus was captured")

    report = "\n".join(
        [f"{k}: {v}" for k, v in sorted(counts.items())]
        + [f"{run} refused — {r}: {n}" for run in reasons for r, n in reasons[run].most_common()]
    )
    print(report)
    documented = DOCS.read_text(encoding="utf-8")
    for key in (
        "XML files",
        "XML not an EPCISDocument",
        "XML published: captured",
        "XML pointed: captured",
        "XML round trip: events",
        "XML events hashed",
        "XML events: hash as the reference reads the XML",
        "XML twins",
        "XML twins: same event hashes",
    ):
        line = f"| {key} | {counts[key]} |"
        assert line in documented, f"docs/epcis.md does not say {line!r}:\n{report}"


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0"
  creationDate="2026-01-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent>
  <eventTime>2026-01-01T00:00:00Z</eventTime><eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
  <epcList><epc>&x;</epc></epcList><action>OBSERVE</action></ObjectEvent></EventList>
  </EPCISBody></epcis:EPCISDocument>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"><EPCISBody><EventList>
<ObjectEvent><action>&d;</action></ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>"""


@pytest.mark.parametrize(
    ("body", "status", "path"),
    [
        (
            b"<epcis:EPCISDocument xmlns:epcis='urn:epcglobal:epcis:xsd:2'><EPCISBody>",
            400,
            "(document)",
        ),
        (b"not xml at all", 400, "(document)"),
        (b"", 400, "(document)"),
        (XXE, 400, "(document)"),
        (LAUGHS, 400, "(document)"),
        # EPCIS 1.2 and another kind of GS1 document: not an EPCIS 2.0 EPCISDocument.
        (b"<e:EPCISDocument xmlns:e='urn:epcglobal:epcis:xsd:1'/>", 422, "type"),
        (b"<e:EPCISQueryDocument xmlns:e='urn:epcglobal:epcis-query:xsd:2'/>", 422, "type"),
    ],
    ids=["truncated", "text", "empty", "xxe", "billion-laughs", "epcis-1.2", "query"],
)
def test_bad_xml_is_a_4xx_naming_where(demo: Registry, body: bytes, status: int, path: str):
    headers = {**demo.token("mengdong-driver"), "Content-Type": "application/xml"}
    response = demo.client.post("/api/v1/epcis/capture", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["errors"][0]["path"] == path, problem
    assert "passwd" not in response.text and "root:" not in response.text


def test_an_xml_event_is_refused_naming_its_json_path(demo: Registry):
    """A refusal of a converted event names the field by the JSON path the event has in
    the JSON-LD form (docs/epcis.md, XML binding)."""
    body = b"""<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"
      schemaVersion="2.0" creationDate="2026-01-01T00:00:00Z"><EPCISBody><EventList>
      <ObjectEvent><eventTime>2026-01-01T00:00:00Z</eventTime>
      <eventTimeZoneOffset>+08:00</eventTimeZoneOffset><epcList/><action>OBSERVE</action>
      <bizStep>urn:epcglobal:cbv:bizstep:arriving</bizStep>
      <readPoint><id>urn:epc:id:sgln:0614141.07346.1234</id></readPoint>
      <quantityList><quantityElement><epcClass>%s</epcClass><quantity>many</quantity>
      <uom>KGM</uom></quantityElement></quantityList></ObjectEvent>
      </EventList></EPCISBody></epcis:EPCISDocument>"""
    batch_class = f"https://id.gs1.org/01/{demo.gtin('GF2026-001')}/10/GF2026-001"
    headers = {**demo.token("mengdong-driver"), "Content-Type": "text/xml; charset=utf-8"}
    response = demo.client.post(
        "/api/v1/epcis/capture", content=body % batch_class.encode(), headers=headers
    )
    assert response.status_code == 422, response.text
    paths = [p["path"] for e in response.json()["errors"] for p in e["problems"]]
    assert any(p.endswith("quantityList[0].quantity") for p in paths), paths


def test_xml_and_json_capture_are_the_same_capture(demo: Registry):
    """The same event sent as XML and then as JSON-LD is one event: the second capture is
    answered with the first one's record (same CBV 2.0 event hash)."""
    batch_class = f"https://id.gs1.org/01/{demo.gtin('GF2026-001')}/10/GF2026-001"
    xml = f"""<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"
      xmlns:ex="https://example.org/ns/" schemaVersion="2.0"
      creationDate="2026-01-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent>
      <eventTime>2026-03-01T08:00:00+08:00</eventTime>
      <eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
      <epcList/><action>OBSERVE</action>
      <bizStep>urn:epcglobal:cbv:bizstep:arriving</bizStep>
      <readPoint><id>urn:epc:id:sgln:0614141.07346.1234</id></readPoint>
      <extension><quantityList><quantityElement><epcClass>{batch_class}</epcClass>
      <quantity>12.5</quantity><uom>KGM</uom></quantityElement></quantityList></extension>
      <ex:note>arrived dry</ex:note>
      </ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>""".encode()
    headers = demo.token("mengdong-driver")
    first = demo.client.post(
        "/api/v1/epcis/capture", content=xml, headers={**headers, "Content-Type": "application/xml"}
    )
    assert first.status_code == 201, first.text
    document = document_from_xml(xml)
    assert document["@context"][1] == {"ex": "https://example.org/ns/"}
    event = document["epcisBody"]["eventList"][0]
    assert event["bizStep"] == "arriving" and event["ex:note"] == "arrived dry"
    assert event["quantityList"] == [{"epcClass": batch_class, "quantity": 12.5, "uom": "KGM"}]
    again = demo.client.post("/api/v1/epcis/capture", json=document, headers=headers)
    assert again.status_code == 200, again.text
    (record,) = again.json()["records"]
    assert record["duplicate"] is True
    assert record["digest"] == first.json()["records"][0]["digest"]
    assert record["event_hash"] == event_hashes(document)[0]


@pytest.mark.parametrize(
    "name",
    [
        "gs1-epcis-xml/AssociationEvent/AssociationEventExamples.xml",
        "gs1-epcis-xml/Example_9.6.1-ObjectEvent-2020_06_18a.xml",
        "gs1-epcis-xml/WithExtension/ObjectEvent.xml",
        "openepcis-xml/Documents/AggregationEvent_with_persistentDisposition.xml",
        "openepcis-xml/Documents/ObjectEvent_with_userExtensions.xml",
        "openepcis-xml/Documents/TransformationEvent_with_errorDeclaration.xml",
        "openepcis-xml/Documents/AssociationEvent_with_sensorData.xml",
    ],
)
def test_the_event_hash_of_xml_is_the_reference_one(name: str):
    """The converted events have the CBV 2.0 event hashes the reference implementation
    computes from the XML itself (extension wrappers, user extensions, sensor data, error
    declarations, persistent dispositions and all five event types among them)."""
    body = (CORPUS / name).read_bytes()
    hashes = event_hashes(document_from_xml(body))
    assert hashes and hashes == _reference_hashes(body)


def test_the_mapping_of_the_xml_binding():
    """One event with the parts that the XML binding writes differently from JSON-LD."""
    body = b"""<?xml version="1.0" encoding="UTF-8"?>
    <epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
        xmlns:ex="https://example.org/ns/" xmlns:cbvmda="urn:epcglobal:cbv:mda"
        xmlns:gs1="https://example.org/not-gs1/"
        schemaVersion="2.0" creationDate="2026-01-01T00:00:00Z">
      <EPCISBody><EventList><extension><TransformationEvent>
        <eventTime>2026-01-01T00:00:00Z</eventTime>
        <eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
        <baseExtension><eventID>urn:uuid:1</eventID>
          <errorDeclaration><declarationTime>2026-01-02T00:00:00Z</declarationTime>
            <reason>urn:epcglobal:cbv:er:incorrect_data</reason>
            <correctiveEventIDs><correctiveEventID>urn:uuid:2</correctiveEventID>
            </correctiveEventIDs></errorDeclaration></baseExtension>
        <inputQuantityList><quantityElement><epcClass>urn:x:1</epcClass>
          <quantity xsi:nil="true"/></quantityElement></inputQuantityList>
        <outputEPCList><epc>urn:x:2</epc><epc>urn:x:3</epc></outputEPCList>
        <bizStep>cbv:BizStep-commissioning</bizStep>
        <disposition>urn:epcglobal:cbv:disp:active</disposition>
        <persistentDisposition><set>urn:epcglobal:cbv:disp:completeness_verified</set>
          <unset>urn:epcglobal:cbv:disp:completeness_inferred</unset></persistentDisposition>
        <readPoint><id>urn:x:rp</id><extension><ex:gate>7</ex:gate></extension></readPoint>
        <bizTransactionList>
          <bizTransaction type="urn:epcglobal:cbv:btt:po">urn:x:po</bizTransaction>
        </bizTransactionList>
        <extension><extension>
          <sourceList>
            <source type="urn:epcglobal:cbv:sdt:owning_party">urn:x:s</source></sourceList>
          <sensorElementList><sensorElement>
            <sensorMetadata time="2026-01-01T00:00:00Z" ex:batch="b1"/>
            <sensorReport type="gs1:Temperature" value="26.5" uom="CEL" booleanValue="true"/>
            <sensorReport type="RelativeHumidity" value="40" uom="A93"/>
          </sensorElement></sensorElementList>
        </extension></extension>
        <ilmd><cbvmda:lotNumber>L1</cbvmda:lotNumber></ilmd>
        <certificationInfo>https://example.org/cert/1</certificationInfo>
        <gs1:note xsi:type="xsd:string">renamed</gs1:note>
        <ex:list><ex:item>a</ex:item><ex:item>b</ex:item><plain>c</plain></ex:list>
      </TransformationEvent></extension></EventList></EPCISBody>
    </epcis:EPCISDocument>"""
    document = document_from_xml(body)
    assert document["@context"] == [
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        {"ex": "https://example.org/ns/", "gs11": "https://example.org/not-gs1/"},
    ]
    (event,) = document["epcisBody"]["eventList"]
    assert event == {
        "type": "TransformationEvent",
        "eventTime": "2026-01-01T00:00:00Z",
        "eventTimeZoneOffset": "+08:00",
        "eventID": "urn:uuid:1",
        "errorDeclaration": {
            "declarationTime": "2026-01-02T00:00:00Z",
            "reason": "incorrect_data",
            "correctiveEventIDs": ["urn:uuid:2"],
        },
        "inputQuantityList": [{"epcClass": "urn:x:1"}],
        "outputEPCList": ["urn:x:2", "urn:x:3"],
        "bizStep": "commissioning",
        "disposition": "active",
        "persistentDisposition": {
            "set": ["completeness_verified"],
            "unset": ["completeness_inferred"],
        },
        "readPoint": {"id": "urn:x:rp", "ex:gate": "7"},
        "bizTransactionList": [{"type": "po", "bizTransaction": "urn:x:po"}],
        "sourceList": [{"type": "owning_party", "source": "urn:x:s"}],
        "sensorElementList": [
            {
                "sensorMetadata": {"time": "2026-01-01T00:00:00Z", "ex:batch": "b1"},
                "sensorReport": [
                    {"type": "Temperature", "value": 26.5, "uom": "CEL", "booleanValue": True},
                    {"type": "RelativeHumidity", "value": 40, "uom": "A93"},
                ],
            }
        ],
        "ilmd": {"cbvmda:lotNumber": "L1"},
        "certificationInfo": "https://example.org/cert/1",
        "gs11:note": "renamed",
        "ex:list": {"ex:item": ["a", "b"], "plain": "c"},
    }
    assert len(event_hashes(document)) == 1


XSD = Path(__file__).parent.parent / "vectors" / "epcis" / "xsd" / "EPCglobal-epcis-2_0.xsd"


def test_the_export_in_the_xml_binding_is_schema_valid(demo: Registry):
    """``Accept: application/xml``: the demo batch's trace in the EPCIS 2.0 XML binding,
    valid against GS1's EPCIS 2.0 XSD, and read back it is the JSON-LD export (same events,
    same event hashes)."""
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    code = demo.code("GF2026-001")
    params = {"batch": code}
    response = demo.client.get(
        "/api/v1/export/epcis", params=params, headers={"Accept": "application/xml"}
    )
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(response.content)
    assert schema.validate(root), schema.error_log
    as_json = demo.client.get("/api/v1/export/epcis", params=params).json()
    events = as_json["epcisBody"]["eventList"]
    assert events, "the demo batch has events"
    back = document_from_xml(response.content)
    assert [e["type"] for e in back["epcisBody"]["eventList"]] == [e["type"] for e in events]
    assert [e["gr:digest"] for e in back["epcisBody"]["eventList"]] == [
        e["gr:digest"] for e in events
    ]


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (CORPUS / "openepcis-xml" / "Documents").glob("*.xml"))
)
def test_xml_read_and_written_again_is_schema_valid(name: str):
    """Every OpenEPCIS XML document, read into JSON-LD and written as XML again, is valid
    against the EPCIS 2.0 XSD and reads back to the same events."""
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    document = document_from_xml((CORPUS / "openepcis-xml" / "Documents" / name).read_bytes())
    written = document_to_xml(document)
    assert schema.validate(etree.fromstring(written)), schema.error_log
    again = document_from_xml(written)
    assert again["epcisBody"] == document["epcisBody"]


def test_a_browser_still_gets_json_ld(demo: Registry):
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for accept in (browser, "*/*", "application/ld+json, application/xml"):
        response = demo.client.get("/api/v1/export/epcis", headers={"Accept": accept})
        assert response.headers["content-type"].startswith("application/ld+json"), accept
    text = demo.client.get("/api/v1/export/epcis", headers={"Accept": "text/xml"})
    assert text.headers["content-type"].startswith("application/xml")
