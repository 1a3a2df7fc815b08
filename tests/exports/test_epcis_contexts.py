"""The ``@context`` of a captured document: the EPCIS 2.0 context under every URL GS1
publishes it at is read offline, with the hash the reference implementation computes for
it; a document's own term definitions are read; a context the registry cannot see, or one
JSON-LD 1.1 forbids, is a 422 naming ``@context``; an event the reference algorithm cannot
read is named as itself, not as the context."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from registry.exports.epcis.event_hash import EventHashError, event_hash, event_hashes
from tests.exports.conftest import PROBLEM_JSON, Registry

RATIFIED = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
ALIASES = [
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
    "https://ref.gs1.org/standards/epcis/2.0.1/epcis-context.jsonld",
    "https://gs1.github.io/EPCIS/epcis-context.jsonld",
]
EVENT: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2026-06-01T08:00:00+08:00",
    "eventTimeZoneOffset": "+08:00",
    "action": "OBSERVE",
    "bizStep": "arriving",
    "disposition": "in_progress",
    "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 2}],
    "sensorElementList": [{"sensorReport": [{"type": "Temperature", "value": 4, "uom": "CEL"}]}],
    "ex:count": 3,
}


@pytest.mark.parametrize("url", ALIASES)
def test_each_url_of_the_epcis_context_gives_the_hash_of_the_ratified_one(url: str):
    own = {"ex": "https://example.com/ns/"}
    assert event_hash(EVENT, [url, own]) == event_hash(EVENT, [RATIFIED, own])
    assert event_hash(EVENT, url) == event_hash(EVENT, RATIFIED)


def test_a_term_definition_of_the_documents_own_context_is_read():
    plain = [RATIFIED, {"ex": "https://example.com/ns/"}]
    defined = [RATIFIED, {"ex": "https://example.com/ns/", "ex:count": {"@type": "xsd:integer"}}]
    # The reference reads namespaces as prefix → IRI pairs; a definition that only types a
    # term names no namespace, so the pre-hash (and the hash) is that of the plain context.
    assert event_hash(EVENT, defined) == event_hash(EVENT, plain)
    renamed = [RATIFIED, {"ex": {"@id": "https://example.com/ns/", "@prefix": True}}]
    assert event_hash(EVENT, renamed) == event_hash(EVENT, plain)
    other = [RATIFIED, {"ex": {"@id": "https://other.example.com/", "@prefix": True}}]
    assert event_hash(EVENT, other) != event_hash(EVENT, plain), "the @id is the namespace"


def _document(context: Any, events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-06-01T08:00:00Z",
        "epcisBody": {"eventList": events},
    }


def test_what_the_registry_cannot_read_is_named():
    with pytest.raises(EventHashError, match="fetches no other") as unknown:
        event_hashes(_document(["https://example.com/my-context.jsonld"], [EVENT]))
    assert unknown.value.path == "@context"
    # JSON-LD 1.1 forbids redefining a term the EPCIS 2.0 context protects.
    protected = [RATIFIED, {"cbvmda": "http://example.com/cbvmda/"}]
    with pytest.raises(EventHashError, match=r"protected term.*cbvmda") as redefined:
        event_hashes(_document(protected, [EVENT]))
    assert redefined.value.path == "@context"
    # A bizTransaction without a type (EPCIS 2.0 allows it) is one the reference cannot
    # read: the event is named, not the context.
    untyped = copy.deepcopy(EVENT)
    untyped["bizTransactionList"] = [{"bizTransaction": "urn:epc:id:gdti:0614141.00001.1"}]
    with pytest.raises(EventHashError) as unreadable:
        event_hashes(_document([RATIFIED, {"ex": "https://example.com/ns/"}], [EVENT, untyped]))
    assert unreadable.value.path == "epcisBody.eventList[1]"


def test_capture_reads_the_aliases_and_refuses_an_unknown_context(demo: Registry):
    lot = f"https://id.gs1.org/01/{demo.gtin('GF2026-001')}/10/GF2026-001"
    event = {**copy.deepcopy(EVENT), "quantityList": [{"epcClass": lot, "quantity": 2}]}
    headers = demo.token("mengdong-driver")
    context = [ALIASES[1], {"ex": "https://example.com/ns/", "ex:count": {"@type": "xsd:integer"}}]
    response = demo.client.post(
        "/api/v1/epcis/capture", json=_document(context, [event]), headers=headers
    )
    assert response.status_code == 201, response.text[:1000]
    [made] = response.json()["records"]
    assert made["event_hash"] == event_hash(event, context)

    size = demo.log_size()
    unknown = [{"ex": "https://example.com/ns/"}, "https://example.com/my-context.jsonld"]
    event["eventTime"] = "2026-06-01T09:00:00+08:00"
    response = demo.client.post(
        "/api/v1/epcis/capture", json=_document(unknown, [event]), headers=headers
    )
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM_JSON
    [error] = response.json()["errors"]
    assert error["path"] == "@context" and "my-context.jsonld" in error["message"]
    assert demo.log_size() == size
